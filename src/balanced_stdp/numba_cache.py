"""The numba cache location and the one ``jit`` decorator of the simulation kernels.

Every jitted kernel module (:mod:`~balanced_stdp.neuron_update`,
:mod:`~balanced_stdp.synapse_update`, :mod:`~balanced_stdp.kernel`) decorates with
:data:`jit`, so they share compile options, and importing this module first makes
sure the cache directory is settled before any ``cache=True`` function is defined
(numba picks a function's cache location when it is decorated).

The cache directory is named after a digest of the package's source files. numba
invalidates a cached function when *its own* file changes, not when a function it calls
(and has compiled into its machine code) changes in another file: after an edit of
``synapse_update.py`` alone, the cached ``kernel.run_steps`` would still run the old
synapse code — wrong results, or a segmentation fault where data layouts changed (both
seen during development). With the digest in the path, any change of the sources
selects a fresh cache directory, so stale machine code is never loaded.

Reading and writing a cache entry is serialised across processes with a lock file in its
directory (:func:`_serialise_cache_entries`). numba saves an entry as load-the-index, pick a
data-file number, save the index, save the data: two workflow jobs compiling *different*
signatures of one function at once both pick ``.1.nbc``, and the index can end up pointing
one signature at the other's machine code — a later job loading it crashed with a
segmentation fault (seen with jobs compiling in parallel on a loaded machine).
"""

from __future__ import annotations

import contextlib
import fcntl
import os

import numba
from numba.core import caching

from .contract import source_digest


def fallback_cache_dir(package_dir: str, environ) -> str | None:
    """Cache directory numba should use, or None to keep its default.

    numba writes ``cache=True`` files next to the source. If that directory is not
    writable (a read-only install or container image) and NUMBA_CACHE_DIR is unset,
    numba fails at import; use a per-user cache directory instead.
    """
    if environ.get("NUMBA_CACHE_DIR"):
        return None
    probe = os.path.join(package_dir, "__pycache__")
    try:
        os.makedirs(probe, exist_ok=True)
        writable = os.access(probe, os.W_OK)
    except OSError:
        writable = False
    if writable:
        return None
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "balanced_stdp", "numba")


def cache_dir(package_dir: str, environ) -> str:
    """The numba cache directory of this version of the sources.

    Below NUMBA_CACHE_DIR when set, else below :func:`fallback_cache_dir` when the
    package directory is read-only, else below the package's ``__pycache__``; in each
    case a subdirectory ``source-<digest>`` (:func:`source_digest`).
    """
    base = (environ.get("NUMBA_CACHE_DIR") or fallback_cache_dir(package_dir, environ)
            or os.path.join(package_dir, "__pycache__", "numba"))
    return os.path.join(base, "source-" + source_digest(package_dir)[:16])


def _configure_cache() -> None:
    """Point numba at :func:`cache_dir` before the jitted functions are defined."""
    package_dir = os.path.dirname(os.path.abspath(__file__))
    fallback = fallback_cache_dir(package_dir, os.environ)
    if fallback is not None:
        # subprocesses (workflow jobs) then find the same base and the same subdirectory
        os.environ["NUMBA_CACHE_DIR"] = fallback
    directory = cache_dir(package_dir, os.environ)
    os.makedirs(directory, exist_ok=True)
    numba.config.CACHE_DIR = directory


_configure_cache()


@contextlib.contextmanager
def _directory_lock(directory: str):
    """An exclusive ``flock`` on ``<directory>/.lock`` (blocks until it is free)."""
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _serialise_cache_entries() -> None:
    """Wrap numba's cache-entry save and load in :func:`_directory_lock`, so an index and
    its data file are always written, and read, as one consistent pair."""
    cache_file = caching.IndexDataCacheFile
    if getattr(cache_file, "_balanced_stdp_locked", False):
        return
    save, load = cache_file.save, cache_file.load

    def locked_save(self, key, data):
        with _directory_lock(self._cache_path):
            return save(self, key, data)

    def locked_load(self, key):
        with _directory_lock(self._cache_path):
            return load(self, key)

    cache_file.save, cache_file.load = locked_save, locked_load
    cache_file._balanced_stdp_locked = True
    cache_file._balanced_stdp_unlocked = (save, load)      # for the test of the race


_serialise_cache_entries()

# 'contract' lets LLVM fuse multiply-adds (FMA); no flag that changes NaN/inf
# semantics is used, so the divergence guard's finiteness checks stay valid.
jit = numba.njit(cache=True, fastmath={"contract"}, nogil=True, error_model="numpy")
"""Decorator of every simulation kernel function."""

parallel_jit = numba.njit(cache=True, parallel=True, fastmath={"contract"}, nogil=True,
                          error_model="numpy")
"""Decorator of the multi-threaded variants (run-config key ``threads`` > 1). They are
separate functions, so the single-thread kernel carries no threading code."""

inline_jit = numba.njit(inline="always", fastmath={"contract"}, error_model="numpy")
"""Decorator of small scalar helpers inlined into the kernels at numba-IR level (not
cached on their own: they become part of each caller's cached machine code)."""
