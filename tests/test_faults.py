"""Faults a cluster run meets: a full disk or quota while writing, SIGTERM at a time limit.

Each ends the job (or command) with one line naming the file and the cause, leaves no
partial or temporary file, and the same command run again resumes. The full disk is a real
one (a 64-KB tmpfs, mounted as root as in CI) and, everywhere, an injected ENOSPC; SIGTERM
is sent to real processes.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from balanced_stdp.io import OutputWriteError, write_atomic
from conftest import EXAMPLE, HANG_GUARD_S, REPO

SMALL = ["--set", "N=100", "--set", "duration_s=1.0", "--set", "recording.sampled_synapses=20",
         "--set", "recording.sampled_pairs=20", "--quiet"]
ENV = {**os.environ, "PYTHONPATH": str(REPO / "src"), "NUMBA_NUM_THREADS": "1"}


def simulate_command(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "balanced_stdp.cli", "simulate", str(EXAMPLE), *SMALL, *extra,
            "--out", str(out)]


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 64-KB tmpfs (root only; CI runs as root)."""
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {result.stderr.strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], check=False)


def test_full_disk_ends_the_run_with_one_line_and_a_rerun_resumes(small_tmpfs):
    out = small_tmpfs / "run.nc"
    failed = subprocess.run(simulate_command(out), capture_output=True, text=True, env=ENV,
                            timeout=HANG_GUARD_S)
    lines = failed.stderr.strip().splitlines()
    assert failed.returncode == 2 and len(lines) == 1, failed.stderr
    assert str(out) in lines[0] and "no space left" in lines[0], lines[0]
    assert os.listdir(small_tmpfs) == []                   # no partial, no temporary file
    subprocess.run(["mount", "-o", "remount,size=16m", str(small_tmpfs)], check=True)
    rerun = subprocess.run(simulate_command(out), capture_output=True, text=True, env=ENV,
                           timeout=HANG_GUARD_S)
    assert rerun.returncode == 0, rerun.stderr
    assert os.listdir(small_tmpfs) == ["run.nc"]


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
def test_disk_full_or_quota_while_writing_is_one_line_without_leftovers(tmp_path, code):
    def write(tmp: Path) -> None:
        tmp.write_bytes(b"half")
        raise OSError(code, os.strerror(code))

    with pytest.raises(OutputWriteError) as failure:
        write_atomic(tmp_path / "out.nc", write)
    message = str(failure.value)
    assert "\n" not in message and str(tmp_path / "out.nc") in message
    assert os.strerror(code) in message and "MB free in" in message
    assert os.listdir(tmp_path) == []


SLOW_WRITE = """
import sys, time
from pathlib import Path
from balanced_stdp.io import write_atomic
from balanced_stdp.job import job_log

def write(tmp):
    with open(tmp, "wb") as handle:
        handle.write(b"x" * 4096)
        handle.flush()
        print("writing", flush=True)
        time.sleep(60)

with job_log(sys.argv[2]):
    print("writing", file=sys.__stdout__, flush=True)
    write_atomic(Path(sys.argv[1]), write)
"""


def test_sigterm_while_a_job_writes_leaves_one_line_and_no_file(tmp_path):
    """SLURM's time limit or preemption: the job's log ends with one line, the temporary
    file is gone, the exit status is 143 (128 + SIGTERM)."""
    out, log = tmp_path / "out" / "result.nc", tmp_path / "job.log"
    job = subprocess.Popen([sys.executable, "-c", SLOW_WRITE, str(out), str(log)],
                           stdout=subprocess.PIPE, text=True, env=ENV)
    assert job.stdout.readline().strip() == "writing"
    deadline = time.monotonic() + HANG_GUARD_S
    while not any(out.parent.glob(".*tmp*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert any(out.parent.glob(".*tmp*")), "the write never started"
    job.send_signal(signal.SIGTERM)
    assert job.wait(timeout=HANG_GUARD_S) == 128 + signal.SIGTERM
    lines = [line for line in log.read_text().splitlines() if line != "writing"]
    assert len(lines) == 1 and "terminated by SIGTERM" in lines[0], lines
    assert os.listdir(out.parent) == []


def test_sigterm_during_a_simulation_is_one_line_and_writes_nothing(tmp_path):
    out = tmp_path / "run.nc"
    command = [sys.executable, "-m", "balanced_stdp.cli", "simulate", str(EXAMPLE),
               "--set", "N=500", "--set", "duration_s=600", "--out", str(out)]
    run = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=ENV)
    progress = ""
    while "t =" not in progress:                  # a progress line: the kernel is running
        progress = run.stderr.readline()
        assert progress, "the simulation ended before it reported progress"
    run.send_signal(signal.SIGTERM)
    assert run.wait(timeout=HANG_GUARD_S) == 128 + signal.SIGTERM
    rest = [line for line in run.stderr.read().splitlines() if "t =" not in line]
    assert len(rest) == 1 and rest[0].startswith("balanced-stdp: error: terminated by SIGTERM")
    assert os.listdir(tmp_path) == []


def test_an_unexpected_error_leaves_its_traceback_in_the_jobs_log(tmp_path):
    """Snakemake points the user at the job's log: the traceback must be there, not only on
    the scheduler's stderr."""
    log = tmp_path / "job.log"
    script = ("import sys\nfrom balanced_stdp.job import job_log\n"
              "with job_log(sys.argv[1]):\n    print('drawing')\n"
              "    raise ValueError('no such panel: Z')\n")
    job = subprocess.run([sys.executable, "-c", script, str(log)], capture_output=True,
                         text=True, env=ENV, timeout=HANG_GUARD_S)
    assert job.returncode == 1
    text = log.read_text()
    assert text.startswith("drawing\nTraceback") and "ValueError: no such panel: Z" in text
