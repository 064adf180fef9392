"""The ``simulate`` and ``theory`` commands on small and extreme runs: groups of one neuron
finish, runs too large for the machine are refused before allocating, the estimates are
printed, a diverged run is a result for ``simulate`` and refused by ``theory
--from-simulation``, which works on a finished run, and ``theory`` prints its summary.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest

from balanced_stdp.cli import main
from balanced_stdp.io import open_dataset
from conftest import EXAMPLE, HANG_GUARD_S, KOHONEN_THEORY, REPO, one_line_error, run_cli


# ----------------------------------------------------------------------------- 1. pair hang
@pytest.mark.parametrize("extra", [
    ["--set", "N=5"],                                              # one I neuron
    ["--set", "N=10", "--set", "optogenetics.enabled=true",        # one E1 neuron
     "--set", "optogenetics.stimulated_fraction=0.125", "--set", "optogenetics.stop_s=0.4"],
], ids=["N5", "one-E1-neuron"])
def test_simulation_with_a_one_neuron_group_finishes(tmp_path, extra):
    out = tmp_path / "run.nc"
    # A subprocess, so that a hang fails the test at the timeout instead of blocking.
    proc = subprocess.run([sys.executable, "-m", "balanced_stdp.cli", "simulate", str(EXAMPLE),
                           "--set", "duration_s=0.4", "--set", "recording.interval_s=0.1",
                           "--set", "recording.covariance_window_s=0.05", *extra, "--quiet",
                           "--out", str(out)],
                          capture_output=True, text=True, timeout=HANG_GUARD_S,
                          env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    assert proc.returncode == 0, proc.stderr
    ds = open_dataset(out).squeeze()
    samples = ds.sampled_spike_count_cov
    one_neuron_pair = "ii" if "N=5" in extra else "e1e1"
    # the one-neuron group has no off-diagonal pair: all NaN; a larger group has values
    assert np.isnan(samples.sel(pair_type=one_neuron_pair)).all()
    assert np.isfinite(samples.sel(pair_type="ee")).sum() > 0


# ----------------------------------------------------------------------------- 5. divergence
def test_a_diverged_run_is_written_and_exits_zero(diverged_run):
    ds = open_dataset(diverged_run)
    assert ds.attrs["status"] == "diverged" and ds.attrs["diverged_at_s"] == pytest.approx(0.1)


def test_theory_from_a_diverged_run_names_the_divergence_time(diverged_run, tmp_path, capsys):
    code, out, err = run_cli(capsys, "theory", "--from-simulation", diverged_run,
                             "--out", tmp_path / "theory.nc")
    line = one_line_error(err)
    assert code == 2 and "the run diverged at t = 0.1 s" in line and str(diverged_run) in line
    assert "nan" not in line.lower() and out == ""
    assert not (tmp_path / "theory.nc").exists()


def test_simulate_help_says_a_diverged_run_exits_zero(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["simulate", "--help"])
    assert exit_.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "divergence guard" in text and "exit code is 0" in text


# ----------------------------------------------------------------------------- 6. summary
def test_theory_prints_the_fixed_point_summary(tmp_path, capsys):
    # spec §9: Kohonen β₀ = 2, τ = 200 ms, j_ei = −100: j* = 3.000 mV, r = (7.50, 18.90) Hz;
    # at the initial j_ee = 25 mV the balanced rates are 15.75 and 33.75 Hz.
    code, out, _ = run_cli(capsys, "theory", EXAMPLE, *KOHONEN_THEORY, "--set", "c=0",
                           "--out", tmp_path / "theory.nc")
    assert code == 0
    lines = out.splitlines()
    assert "balanced rates at the initial weights: E 15.75, I 33.75 Hz" in lines[1]
    assert "fixed point: j_ee* = 3.000 mV; rates E 7.50, I 18.90 Hz" in lines[2]
    assert "stability: stable" in lines[3] and "relaxation time" in lines[3]
    assert lines[-1] == f"wrote {tmp_path / 'theory.nc'}"


# ------------------------------------------------------ size check and aggregate padding
@pytest.mark.parametrize("override", ["N=10000000", "duration_s=10000000", "N=100000"])
def test_runs_too_large_for_this_machine_are_refused_before_allocating(override, tmp_path,
                                                                          capsys):
    """Issue defect 3: N = 10⁷, T = 10⁷ s or N = 10⁵ (> 20 GB) stop at once, naming the
    estimate and the keys to change, instead of an allocation traceback or swapping.
    "Before allocating" is measured as memory, not time: the refusal allocates under
    50 MB (tracemalloc sees numpy's buffers), where the network alone would take GBs."""
    out = tmp_path / "run.nc"
    tracemalloc.start()
    try:
        code, _, err = run_cli(capsys, "simulate", EXAMPLE, "--set", override, "--out", out)
        _, peak_bytes = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    line = one_line_error(err)
    assert code == 2 and "estimated peak memory" in line and "GB available" in line
    assert "reduce N or duration_s" in line
    assert peak_bytes < 50e6 and not out.exists()


def test_progress_header_states_the_estimates(tmp_path, capsys):
    code, _, err = run_cli(capsys, "simulate", EXAMPLE, "--set", "N=200", "--set",
                           "duration_s=0.5", "--out", tmp_path / "run.nc")
    assert code == 0
    assert re.search(r"N = 200, T = 0.5 s: estimated peak memory \d+ MB, run time ~\d+ s", err)
