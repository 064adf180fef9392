"""Shared fixtures: running the Snakemake workflow on the tiny test config.

The workflow runs in a fresh working directory per fixture (``--directory``), with the
repository's Snakefile, ``config/test.yaml`` and one numba cache shared by the whole
test session, so the kernel is compiled once.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

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
