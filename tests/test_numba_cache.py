"""numba's on-disk cache shared by parallel workflow jobs.

numba saves a cache entry by loading the index, picking a data-file number, saving the
index and then the data. Processes that compile *different* signatures of one function at
the same moment pick the same number, and the index can point one signature at another's
machine code: the next process loading it computes garbage or crashes (reproduced here
without the lock in 1 of 5 trials of 6 processes; it segfaulted workflow jobs on a loaded
machine). :mod:`balanced_stdp.numba_cache` serialises entry saves and loads with a lock
file; here processes compile eight signatures at once, then each signature is loaded back
from the cache and must compute the right values.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from conftest import HANG_GUARD_S, REPO

MODULE = "from balanced_stdp.numba_cache import jit\n\n\n@jit\ndef twice(x):\n    return x * 2 + 1\n"
CHILD = """
import os, sys, time
import numpy as np
import balanced_stdp.numba_cache
sys.path.insert(0, sys.argv[1])
import racer
while not os.path.exists(sys.argv[3]):      # start compiling together
    time.sleep(0.001)
y = racer.twice(np.arange(5).astype(sys.argv[2]))
assert list(y.astype(float)) == [1.0, 3.0, 5.0, 7.0, 9.0], (sys.argv[2], y)
"""
TYPES = ["int64", "float64", "float32", "int32", "int16", "uint8", "uint16", "complex128"]
TRIALS = 3


def test_parallel_compiles_of_different_signatures_leave_a_consistent_cache(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    bad = []
    for trial in range(TRIALS):
        directory = tmp_path / f"trial{trial}"
        directory.mkdir()
        (directory / "racer.py").write_text(MODULE)
        go = directory / "go"
        env["NUMBA_CACHE_DIR"] = str(directory / "cache")
        racers = [subprocess.Popen([sys.executable, "-c", CHILD, str(directory), dtype, str(go)],
                                   env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   text=True) for dtype in TYPES]
        time.sleep(2.0)                     # let every process import numba first
        go.write_text("")
        assert all(p.wait(timeout=HANG_GUARD_S) == 0 for p in racers), \
            [p.stderr.read()[-500:] for p in racers]
        for dtype in TYPES:                 # every signature loaded back from the cache
            check = subprocess.run([sys.executable, "-c", CHILD, str(directory), dtype, str(go)],
                                   env=env, capture_output=True, text=True, timeout=HANG_GUARD_S)
            if check.returncode != 0:
                bad.append((trial, dtype, check.returncode, check.stderr[-300:]))
    assert bad == []
