"""The numba cache location and the one ``jit`` decorator of the simulation kernels.

Every jitted kernel module (:mod:`~balanced_stdp.neuron_update`,
:mod:`~balanced_stdp.synapse_update`, :mod:`~balanced_stdp.kernel`) decorates with
:data:`jit`, so they share compile options, and importing this module first makes
sure the cache directory is settled before any ``cache=True`` function is defined
(numba picks a function's cache location when it is decorated).
"""

from __future__ import annotations

import os

import numba


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


def _configure_cache() -> None:
    """Apply :func:`fallback_cache_dir` before the jitted functions are defined."""
    fallback = fallback_cache_dir(os.path.dirname(os.path.abspath(__file__)), os.environ)
    if fallback is not None:
        os.makedirs(fallback, exist_ok=True)
        os.environ["NUMBA_CACHE_DIR"] = fallback
        numba.config.CACHE_DIR = fallback


_configure_cache()

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
