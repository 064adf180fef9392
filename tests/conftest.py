"""Shared fixtures: running the Snakemake workflow on the tiny test config, and the CLI.

The workflow runs in a fresh working directory per fixture (``--directory``), with the
repository's Snakefile, ``config/test.yaml`` and one numba cache shared by the whole
test session, so the kernel is compiled once. The CLI runs in the test's process
(:func:`run_cli`): bad input must end in one line (:func:`one_line_error`) before any
simulation (fixture ``no_simulation``); ``finished_run`` and ``diverged_run`` are small
runs written by the CLI.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import balanced_stdp.simulation
from balanced_stdp.cli import main

REPO = Path(__file__).resolve().parents[1]

# Time limit of every subprocess, wait or poll in the tests: a guard that turns a hang into
# a failure with a message instead of blocking the suite, never a speed requirement.
# Machines differ several-fold in speed and load, so no test outcome may depend on how
# long something takes; speed is measured by the benchmarks (benchmarks/*.py).
HANG_GUARD_S = 3600.0
SNAKEFILE = REPO / "Snakefile"
TEST_CONFIG = REPO / "config" / "test.yaml"


def snakemake_command(workdir: Path, *args: str, configfile: Path | None = TEST_CONFIG) -> list[str]:
    """Command line of ``snakemake`` on this repository's workflow in ``workdir``."""
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE),
               "--directory", str(workdir)]
    if configfile is not None:
        command += ["--configfile", str(configfile)]
    return command + list(args)


def run_snakemake(workdir: Path, *args: str, env: dict | None = None, check: bool = True,
                  timeout: float = HANG_GUARD_S, configfile: Path | None = TEST_CONFIG,
                  ) -> subprocess.CompletedProcess:
    """Run snakemake to completion; with ``check``, fail the test on a non-zero exit."""
    result = subprocess.run(snakemake_command(workdir, *args, configfile=configfile),
                            capture_output=True, text=True, env=env, timeout=timeout,
                            cwd=workdir)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed ({result.returncode}):\n"
                             f"{result.stdout[-4000:]}\n{result.stderr[-6000:]}")
    return result


def job_counts(output: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run."""
    table = output[output.index("Job stats:"):]
    counts = {}
    for line in table.splitlines()[3:]:
        match = re.fullmatch(r"(\w+)\s+(\d+)", line.strip())
        if not match:
            break
        if match.group(1) != "total":
            counts[match.group(1)] = int(match.group(2))
    return counts


def load_test_config() -> dict:
    return yaml.safe_load(TEST_CONFIG.read_text())


@pytest.fixture(scope="session")
def workflow_env(tmp_path_factory) -> dict:
    """Environment of every workflow run: one numba cache for the session, 1 thread."""
    env = os.environ.copy()
    env["NUMBA_CACHE_DIR"] = str(tmp_path_factory.mktemp("numba_cache"))
    env["NUMBA_NUM_THREADS"] = "1"
    return env


@pytest.fixture(scope="session")
def local_study(tmp_path_factory, workflow_env) -> Path:
    """Working directory of one complete, uninterrupted local run of config/test.yaml."""
    workdir = tmp_path_factory.mktemp("local_study")
    run_snakemake(workdir, "--cores", "2", env=workflow_env)
    return workdir


# ----------------------------------------------------------------------------- the CLI
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
