"""Regression tests of the "hardening" issue: bad input fails early, with one line naming
the key or file; nothing computed is lost; corrupt or unsuitable files are refused; a
diverged run is a result for ``simulate`` and refused by ``theory --from-simulation``."""

from __future__ import annotations

import copy
import itertools
import os
import re
import subprocess
import sys
import time
import warnings
from pathlib import Path

import netCDF4
import numpy as np
import pytest
import xarray as xr
import yaml

import balanced_stdp.simulation
from balanced_stdp.simulation import simulate
from balanced_stdp.cli import COMPILE_CONFIG, main
from balanced_stdp.config import (ConfigAdjustedWarning, ConfigError, apply_overrides,
                                  resolve_config)
from balanced_stdp.io import (IncompleteRunError, is_complete, open_dataset,
                              write_dataset_atomic)

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "kohonen_istdp.yaml"
# A small, fast run: two covariance windows in (T/2, T], few samples.
SMALL_RUN = ["--set", "N=100", "--set", "duration_s=1.0", "--set", "seed=3",
             "--set", "recording.sampled_synapses=20", "--set", "recording.sampled_pairs=20",
             "--set", "recording.raster_duration_s=0.2", "--quiet"]
KOHONEN_THEORY = ["--set", "weights.ei=-100", "--set", "plasticity.ee.rule=kohonen",
                  "--set", "plasticity.ee.beta0=2", "--set", "plasticity.ei=null"]


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    """``balanced-stdp argv`` in this process: (exit code, stdout, stderr)."""
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err.strip()


def one_line_error(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("balanced-stdp: error: "), err
    return lines[0]


@pytest.fixture
def no_simulation(monkeypatch):
    """Make any simulation attempt fail the test: errors must come before it."""
    def refuse(*args, **kwargs):
        raise AssertionError("the simulation started although the input was bad")
    monkeypatch.setattr(balanced_stdp.simulation, "simulate", refuse)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    """A small finished Kohonen + iSTDP run written by the CLI."""
    out = tmp_path_factory.mktemp("run") / "run.nc"
    assert main(["simulate", str(EXAMPLE), *SMALL_RUN, "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def diverged_run(tmp_path_factory) -> Path:
    """A run stopped by the divergence guard in its first record bin."""
    out = tmp_path_factory.mktemp("diverged") / "run.nc"
    code = main(["simulate", str(EXAMPLE), *SMALL_RUN,
                 "--set", "divergence.max_bin_rate_hz=0.5", "--out", str(out)])
    assert code == 0          # a diverged run is a result, not an error
    return out


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
                          capture_output=True, text=True, timeout=240,
                          env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    assert proc.returncode == 0, proc.stderr
    ds = open_dataset(out).squeeze()
    samples = ds.sampled_spike_count_cov
    one_neuron_pair = "ii" if "N=5" in extra else "e1e1"
    # the one-neuron group has no off-diagonal pair: all NaN; a larger group has values
    assert np.isnan(samples.sel(pair_type=one_neuron_pair)).all()
    assert np.isfinite(samples.sel(pair_type="ee")).sum() > 0


# ----------------------------------------------------------------------------- 2. config
IMPOSSIBLE = [
    ("neuron.reset_mv=-50", "neuron.reset_mv: must be < neuron.threshold_mv (-55.0), got -50.0"),
    ("neuron.reset_mv=-55", "neuron.reset_mv: must be < neuron.threshold_mv"),
    ("neuron.spike_mv=-55", "neuron.spike_mv: must be > neuron.threshold_mv (-55.0), got -55.0"),
    ("neuron.spike_mv=-60", "neuron.spike_mv: must be > neuron.threshold_mv"),
    ("weights.ei=50", "weights.ei: must be <= 0 (inhibitory presynaptic neurons, Dale's law)"),
    ("weights.ii=1", "weights.ii: must be <= 0"),
    ("weights.ee=-1", "weights.ee: must be >= 0 (excitatory presynaptic neurons, Dale's law)"),
    ("weights.ie=-112.5", "weights.ie: must be >= 0"),
    ("weights.ex=-180", "weights.ex: must be >= 0"),
    ("weights.ix=-1", "weights.ix: must be >= 0"),
    ("optogenetics.weight=-180", "optogenetics.weight: must be >= 0"),
    ("plasticity.ee.beta0=-1", "plasticity.ee.beta0: must be >= 0, got -1.0"),
    ("recording.covariance_window_s=6", "recording.covariance_window_s: 6.0 s is longer than "
                                        "the measured half of the run (duration_s/2 = 5.0 s)"),
]


@pytest.mark.parametrize("override,message", IMPOSSIBLE, ids=[o for o, _ in IMPOSSIBLE])
def test_physically_impossible_values_refused_alike_by_simulate_and_theory(
        tmp_path, capsys, no_simulation, override, message):
    # EXAMPLE has a Kohonen EE rule (for beta0); T = 10 s so the window check has room.
    args = [str(EXAMPLE), "--set", "duration_s=10", "--set", override]
    code, _, err = run_cli(capsys, "simulate", *args, "--out", tmp_path / "run.nc")
    line = one_line_error(err)
    assert code == 2 and message in line
    code, out, err = run_cli(capsys, "theory", *args, "--out", tmp_path / "theory.nc")
    assert code == 2 and one_line_error(err) == line      # the same message
    assert out == "" and not list(tmp_path.iterdir())     # nothing written


def test_negative_beta0_of_oja_refused():
    with pytest.raises(ConfigError, match=r"plasticity\.ee\.beta0: must be >= 0"):
        resolve_config({"plasticity": {"ee": {"rule": "oja", "beta0": -25}}})


def test_zero_weights_stay_allowed_for_decoupled_neurons():
    # Dale's law is about the sign; zero means "no synapse" (tests/test_neuron.py).
    config = resolve_config({"N": 10, "weights": {s: 0 for s in
                                                  ("ee", "ei", "ie", "ii", "ex", "ix")},
                             "optogenetics": {"weight": 0},
                             "recording": {"sampled_synapses": 5, "sampled_pairs": 5}})
    assert config["weights"]["ei"] == 0.0


def test_sample_counts_beyond_what_exists_are_clipped_with_a_warning():
    # N = 100: 80 E, 20 I → at most 80·79 = 6320 off-diagonal pairs (EE) and 80² = 6400
    # synapses (EE, self-connections allowed) per type.
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        config = resolve_config({"N": 100, "recording": {"sampled_pairs": 100_000,
                                                         "sampled_synapses": 10**7}})
    assert [(w.category, str(w.message)) for w in record] == [
        (ConfigAdjustedWarning, "recording.sampled_pairs: 100000 is more than the 6320 "
                                "off-diagonal neuron pairs of the largest type at N = 100; "
                                "using 6320"),
        (ConfigAdjustedWarning, "recording.sampled_synapses: 10000000 is more than the 6400 "
                                "possible synapses of the largest type at N = 100; using 6400")]
    assert config["recording"]["sampled_pairs"] == 6320
    assert config["recording"]["sampled_synapses"] == 6400
    with warnings.catch_warnings():
        warnings.simplefilter("error")                       # the stored config is stable
        assert resolve_config(config) == config
        resolve_config({"N": 10, "recording": {"sampled_synapses": 5, "sampled_pairs": 5}})


def test_a_single_covariance_window_warns_that_covariances_will_be_nan():
    with pytest.warns(ConfigAdjustedWarning, match="only one 0.25 s window"):
        resolve_config({"duration_s": 0.5})


def test_cli_prints_a_clip_warning_as_one_line(tmp_path, capsys):
    code, _, err = run_cli(capsys, "theory", EXAMPLE, "--set", "N=100", "--set",
                           "recording.sampled_pairs=100000", "--out", tmp_path / "t.nc")
    assert code == 0
    assert ("[balanced-stdp] WARNING: recording.sampled_pairs: 100000 is more than the 6320 "
            "off-diagonal neuron pairs") in err.splitlines()[0]


def _merge(base: dict, update: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in (update or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


@pytest.mark.parametrize("study", ["config.yaml", "paper.yaml", "test.yaml"])
def test_every_study_run_config_stays_valid_without_warnings(study):
    spec = yaml.safe_load((REPO / "config" / study).read_text())
    count = 0
    for name, experiment in spec["experiments"].items():
        base = _merge(spec.get("defaults") or {}, experiment.get("run") or {})
        grid = experiment.get("grid") or {}
        for values in itertools.product(*grid.values()):
            config = apply_overrides(base, [f"{k}={v}" for k, v in zip(grid, values)])
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                resolve_config(config)
            count += 1
    assert count >= len(spec["experiments"])


def test_compile_config_stays_valid():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        resolve_config(COMPILE_CONFIG)


# ----------------------------------------------------------------------------- 3. output path
def _unwritable_paths(tmp_path: Path) -> dict[str, Path]:
    a_file = tmp_path / "a_file"
    a_file.write_text("not a directory")
    a_directory = tmp_path / "a_directory"
    a_directory.mkdir()
    return {"parent is a file": a_file / "run.nc",
            "name too long": tmp_path / ("x" * 300 + ".nc"),
            "is a directory": a_directory,
            "read-only filesystem": Path("/proc/balanced-stdp-test/run.nc")}


@pytest.mark.parametrize("case", ["parent is a file", "name too long", "is a directory",
                                  "read-only filesystem"])
def test_unwritable_output_refused_before_simulating(tmp_path, capsys, no_simulation, case):
    out = _unwritable_paths(tmp_path)[case]
    code, _, err = run_cli(capsys, "simulate", EXAMPLE, "--set", "N=100", "--out", out,
                           "--overwrite")
    line = one_line_error(err)
    assert code == 2 and str(out) in line
    assert "is a directory" in line if case == "is a directory" else "cannot write" in line


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_output_in_a_read_only_directory_refused_before_simulating(tmp_path, capsys,
                                                                   no_simulation):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    code, _, err = run_cli(capsys, "simulate", EXAMPLE, "--out", locked / "run.nc")
    assert code == 2 and str(locked / "run.nc") in one_line_error(err)


def test_theory_refuses_an_unwritable_output_before_computing(tmp_path, capsys, monkeypatch):
    import balanced_stdp.theory as theory

    monkeypatch.setattr(theory, "predict", lambda *a, **k: pytest.fail("theory computed"))
    out = _unwritable_paths(tmp_path)["parent is a file"]
    code, _, err = run_cli(capsys, "theory", EXAMPLE, "--out", out)
    assert code == 2 and str(out) in one_line_error(err)


def dead_pid() -> int:
    """A process id that belongs to no running process (a finished child's)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_stale_temporary_beside_the_output_is_removed_when_it_is_written(tmp_path, capsys):
    out = tmp_path / "theory.nc"
    stale = tmp_path / f".theory.nc.tmp-{dead_pid()}-0bad"       # left by a killed job
    stale.write_bytes(b"half a file")
    alive = tmp_path / f".theory.nc.tmp-{os.getpid()}-0a1e"      # a running writer's: kept
    alive.write_bytes(b"being written")
    code, _, _ = run_cli(capsys, "theory", EXAMPLE, *KOHONEN_THEORY, "--out", out)
    assert code == 0 and open_dataset(out, kind="theory")
    assert not stale.exists() and alive.exists()


# ----------------------------------------------------------------------------- 4. corruption
def _flip(path: Path, start: int, length: int = 2000) -> None:
    data = bytearray(path.read_bytes())
    for i in range(start, start + length):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def test_a_flipped_block_fails_the_checksum_on_read(tmp_path):
    # An uncompressed variable (≤ 1000 values) in a run-like dataset: without a checksum
    # its damaged bytes read back as plausible wrong numbers.
    rng = np.random.default_rng(4)
    rate = rng.random((1, 1000))
    ds = xr.Dataset({"neuron_rate": (("seed", "neuron"), rate),
                     "mean_weight": (("seed", "time"), rng.random((1, 5)))},
                    coords={"seed": [1]}, attrs={"kind": "run"})
    path = write_dataset_atomic(ds, tmp_path / "run.nc")
    offset = path.read_bytes().find(rate.tobytes())
    assert offset > 0
    _flip(path, offset + 3000)                  # 2000 bytes inside the data, mid-file
    assert is_complete(path)                    # the marker is intact
    with pytest.raises(IncompleteRunError, match=r"run\.nc: corrupt netCDF.*checksum"):
        open_dataset(path)


def test_every_variable_of_a_run_carries_a_checksum(finished_run):
    with netCDF4.Dataset(finished_run) as handle:
        unprotected = [name for name, var in handle.variables.items()
                       if not var.filters()["fletcher32"]]
    assert unprotected == []


def test_every_variable_of_a_theory_dataset_carries_a_checksum(tmp_path, capsys):
    out = tmp_path / "theory.nc"
    assert run_cli(capsys, "theory", EXAMPLE, *KOHONEN_THEORY, "--out", out)[0] == 0
    with netCDF4.Dataset(out) as handle:
        assert "stability" in handle.variables           # a string variable
        unprotected = [name for name, var in handle.variables.items()
                       if not var.filters()["fletcher32"]]
    assert unprotected == []


def test_a_damaged_real_run_is_refused(finished_run, tmp_path):
    # Flip 2000 bytes of stored content: neuron_mean_input is stored uncompressed, so
    # only the checksum can notice. (Bytes in the file's unused space carry nothing: a
    # flip there reads back the same data and is rightly not an error.)
    damaged = tmp_path / "run.nc"
    damaged.write_bytes(finished_run.read_bytes())
    stored = open_dataset(finished_run)["neuron_mean_input"].values.tobytes()
    offset = damaged.read_bytes().find(stored)
    assert offset > 0 and len(stored) > 2000
    _flip(damaged, offset + (len(stored) - 2000) // 2)
    assert is_complete(damaged)
    with pytest.raises(IncompleteRunError, match=r"run\.nc: corrupt netCDF"):
        open_dataset(damaged)


def test_open_run_checks_kind_and_required_variables(tmp_path):
    data = {"mean_weight": (("seed", "time"), np.ones((1, 3)))}
    run = write_dataset_atomic(xr.Dataset(data, attrs={"kind": "run"}), tmp_path / "run.nc")
    legacy = write_dataset_atomic(xr.Dataset(data, attrs={
        "title": "balanced-stdp mean-field theory prediction"}), tmp_path / "legacy.nc")
    assert open_dataset(run, kind="run", require=("mean_weight",)).mean_weight.sum() == 3
    assert open_dataset(legacy, kind="theory")
    with pytest.raises(IncompleteRunError, match=r"legacy\.nc: expected a run dataset, found "
                                                 r"theory \(kind = None, title = 'balanced-stdp "
                                                 r"mean-field theory prediction'\)"):
        open_dataset(legacy, kind="run")
    with pytest.raises(IncompleteRunError, match=r"run\.nc: lacks the variable\(s\) "
                                                 r"neuron_rate that are needed here; data "
                                                 r"variables found: mean_weight"):
        open_dataset(run, require=("mean_weight", "neuron_rate"))


def test_theory_from_a_run_without_mean_weight_is_refused(finished_run, tmp_path, capsys):
    stripped = tmp_path / "stripped.nc"
    write_dataset_atomic(open_dataset(finished_run).drop_vars("mean_weight"), stripped)
    code, _, err = run_cli(capsys, "theory", "--from-simulation", stripped,
                           "--out", tmp_path / "theory.nc")
    line = one_line_error(err)
    assert code == 2 and str(stripped) in line and "mean_weight" in line
    assert not (tmp_path / "theory.nc").exists()


def test_theory_from_a_theory_file_is_refused(tmp_path, capsys):
    theory_file = tmp_path / "theory.nc"
    assert run_cli(capsys, "theory", EXAMPLE, *KOHONEN_THEORY, "--out", theory_file)[0] == 0
    code, _, err = run_cli(capsys, "theory", "--from-simulation", theory_file,
                           "--out", tmp_path / "again.nc")
    assert code == 2 and "expected a run dataset, found theory" in one_line_error(err)


def test_theory_from_simulation_works_on_a_finished_run(finished_run, tmp_path, capsys):
    code, out, _ = run_cli(capsys, "theory", "--from-simulation", finished_run,
                           "--out", tmp_path / "theory.nc")
    assert code == 0 and "Delta-corrected" in out
    assert "leading_order_fixed_point_weight" in open_dataset(tmp_path / "theory.nc")


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
    estimate and the keys to change, instead of an allocation traceback or swapping."""
    out = tmp_path / "run.nc"
    started = time.perf_counter()
    code, _, err = run_cli(capsys, "simulate", EXAMPLE, "--set", override, "--out", out)
    line = one_line_error(err)
    assert code == 2 and "estimated peak memory" in line and "GB available" in line
    assert "reduce N or duration_s" in line
    assert time.perf_counter() - started < 10 and not out.exists()


def test_progress_header_states_the_estimates(tmp_path, capsys):
    code, _, err = run_cli(capsys, "simulate", EXAMPLE, "--set", "N=200", "--set",
                           "duration_s=0.5", "--out", tmp_path / "run.nc")
    assert code == 0
    assert re.search(r"N = 200, T = 0.5 s: estimated peak memory \d+ MB, run time ~\d+ s", err)


def test_aggregated_rasters_keep_padding_missing(tmp_path):
    """Issue defect 2: runs with rasters of different lengths are outer-joined; the padding
    of the integer raster_neuron must read back as missing, never as -2147483648."""
    from balanced_stdp.aggregate import aggregate_files
    paths = []
    for seed in (1, 2):
        ds = simulate({"N": 200, "duration_s": 1.0, "seed": seed,
                       "recording": {"raster_duration_s": 0.5, "covariance_window_s": 0.1}},
                      progress=False)
        paths.append(write_dataset_atomic(ds, tmp_path / f"run{seed}.nc"))
    lengths = [open_dataset(p).sizes["raster_spike"] for p in paths]
    assert lengths[0] != lengths[1]
    aggregate_files(paths, tmp_path / "aggregate.nc", kind="run")
    combined = open_dataset(tmp_path / "aggregate.nc")
    neurons = combined["raster_neuron"].values
    assert not (neurons == np.iinfo(np.int32).min).any()
    assert int(np.isnan(neurons).sum()) == abs(lengths[0] - lengths[1])
    for seed, path, length in zip((1, 2), paths, lengths):
        single = open_dataset(path)["raster_neuron"].values.ravel()
        joined = combined["raster_neuron"].sel(seed=seed).values.ravel()
        np.testing.assert_array_equal(joined[:length], single)
