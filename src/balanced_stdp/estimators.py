"""Estimators applied alike to simulated and theoretical datasets.

Statistics over an aggregate's seeds — a time course is averaged over the runs *still
running* at each time (a run stopped by the divergence guard is NaN after its stop and
leaves the average); spreads are sample standard deviations (ddof = 1) over two or more
runs; a run's final value is its last recorded one, and diverged runs have none — and the
relaxation time of a weight trajectory, which the agreement tables and the finite-size
theory measure the same way on simulation and theory.
"""

from __future__ import annotations

import numpy as np

RELAXATION_LEVEL = float(np.exp(-1.0))
"""Fraction of the initial distance to the final value at which the weight is relaxed."""

FINAL_FRACTION = 0.1
"""Fraction of the trajectory's samples (the last ones, at least one) whose mean is its
final value for :func:`relaxation_time`."""

MIN_RELATIVE_CHANGE = 0.02
"""A trajectory whose initial distance to its final value is below this fraction of
max(|initial|, |final|) does not move meaningfully: its relaxation time is NaN."""


def last_finite_index(values: np.ndarray) -> np.ndarray:
    """Index of the last finite entry along the last axis (−1 where there is none).

    Parameters
    ----------
    values : numpy.ndarray
        Any array; the last axis is time.

    Returns
    -------
    numpy.ndarray
        Integer indices with the shape of ``values`` without its last axis.
    """
    finite = np.isfinite(values)
    n = values.shape[-1]
    last = n - 1 - np.argmax(finite[..., ::-1], axis=-1)
    return np.where(finite.any(axis=-1), last, -1)


def running_mean(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and s.d. over runs (axis 0) of time courses, over the runs still running.

    Parameters
    ----------
    values : numpy.ndarray
        (run, time) values; a run is running up to its last finite value.

    Returns
    -------
    mean, sd, n_running : numpy.ndarray
        Per time: the mean and sample s.d. (ddof = 1; NaN with fewer than two runs)
        over the running runs, and their number. Both are NaN at a time at which a
        running run has no value (off-grid point) or no run is running.
    """
    values = np.asarray(values, dtype=float)
    finite = np.isfinite(values)
    last = last_finite_index(values)
    running = np.arange(values.shape[1])[None, :] <= last[:, None]
    n_running = running.sum(axis=0)
    valid = (n_running > 0) & ~(running & ~finite).any(axis=0)
    filled = np.where(finite & running, values, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = filled.sum(axis=0) / n_running
        squares = np.where(finite & running, (values - mean) ** 2, 0.0).sum(axis=0)
        sd = np.sqrt(squares / (n_running - 1))
    mean = np.where(valid, mean, np.nan)
    sd = np.where(valid & (n_running >= 2), sd, np.nan)
    return mean, sd, n_running


def final_values(values: np.ndarray, diverged: np.ndarray) -> np.ndarray:
    """Last finite value of each run along the last axis; NaN for diverged runs.

    Parameters
    ----------
    values : numpy.ndarray
        (run, …, time) values.
    diverged : array_like of bool
        Per run (broadcast against ``values`` without its last axis): stopped by the
        divergence guard.

    Returns
    -------
    numpy.ndarray
        ``values`` without its last axis.
    """
    values = np.asarray(values, dtype=float)
    last = last_finite_index(values)
    picked = np.take_along_axis(values, np.maximum(last, 0)[..., None], axis=-1)[..., 0]
    picked = np.where(last >= 0, picked, np.nan)
    return np.where(np.asarray(diverged, dtype=bool), np.nan, picked)


def seed_statistics(values) -> tuple[float, float, int]:
    """Mean, sample s.d. and count of the finite values (one per seed).

    Parameters
    ----------
    values : array_like
        Per-seed values; NaN (missing or diverged runs) are left out.

    Returns
    -------
    mean, sd : float
        NaN without finite values; ``sd`` (ddof = 1) is NaN for fewer than two.
    count : int
        Number of finite values.
    """
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return np.nan, np.nan, 0
    sd = float(np.std(finite, ddof=1)) if finite.size >= 2 else np.nan
    return float(np.mean(finite)), sd, int(finite.size)


def relaxation_time(time_s, values) -> float:
    """Time for a trajectory to come within 1/e of its initial distance to its final value.

    The initial value is the first sample ``w(t₀)``, the final value ``w_f`` the mean of
    the last :data:`FINAL_FRACTION` of the samples (at least one). The estimate is
    ``t* − t₀``, where ``t*`` is the first time at which ``|w(t) − w_f|`` falls to
    ``|w(t₀) − w_f|/e``, linearly interpolated between the samples around it; for
    ``w(t) = w_f + A e^{−t/τ}`` sampled long enough (T ≫ τ) it is τ.

    Parameters
    ----------
    time_s : array_like
        Sample times (s), increasing.
    values : array_like
        The trajectory at those times.

    Returns
    -------
    float
        Relaxation time (s); NaN if the trajectory has fewer than three finite samples, is
        not finite up to its last sample (stopped or lost balance), moves by less than
        :data:`MIN_RELATIVE_CHANGE` of its size, or comes within 1/e only among the
        samples that define its final value (not settled before T). A weight still
        drifting at T (e.g. unbounded Hebbian growth) gets a finite value: the time scale
        of its change over the run.
    """
    time_s = np.asarray(time_s, dtype=float)
    values = np.asarray(values, dtype=float)
    finite = np.isfinite(values) & np.isfinite(time_s)
    if finite.sum() < 3 or not finite[-1]:
        return np.nan
    first = int(np.argmax(finite))
    t, w = time_s[first:], values[first:]
    if not np.isfinite(w).all():
        return np.nan
    n_final = max(1, int(round(FINAL_FRACTION * w.size)))
    final = float(np.mean(w[-n_final:]))
    distance = np.abs(w - final)
    initial = distance[0]
    if not initial > MIN_RELATIVE_CHANGE * max(abs(w[0]), abs(final), 1e-12):
        return np.nan
    target = RELAXATION_LEVEL * initial
    below = np.flatnonzero(distance <= target)
    if below.size == 0 or below[0] >= w.size - n_final:
        return np.nan                 # not within 1/e before the samples of its final value
    k = int(below[0])
    d0, d1 = distance[k - 1], distance[k]
    t_cross = t[k - 1] + (d0 - target) / (d0 - d1) * (t[k] - t[k - 1])
    return float(t_cross - t[0])
