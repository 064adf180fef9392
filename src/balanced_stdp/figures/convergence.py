"""Whether the weights a figure shows have converged by the end of the run.

A figure that compares "final" weights with a fixed point must say whether the final
value is the converged one. :func:`weight_convergence` decides it for one grid point from
two measurements, both available to every figure:

* the **finite-size theory** (where computed): its own trajectory at T against its own
  fixed point — the fraction of the initial distance still to go, ``remaining`` =
  |j(T) − j*| / |j(0) − j*| (exp(−T/τ_slow) for a relaxation with the slowest class's
  time τ_slow);
* the **measured drift**: how much the simulated seed mean still moved over the last
  quarter of the run, as a fraction of its whole change since t = 0 (means over the
  record windows at 65–75 % and 90–100 % of T; ≈ exp(−0.7 T/τ) for an exponential
  approach).

The values are converged when each available measure is below :data:`CONVERGED_BELOW`.
Plain NumPy and xarray, no plotting library: captions use the same words.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import xarray as xr

from ..estimators import running_mean
from ..selection import at_point, by_seed, theory_at

CONVERGED_BELOW = 0.05
"""Both the finite-size theory's remaining distance and the measured late drift must be
below this fraction for the values at T to count as converged."""

LATE_WINDOWS = ((0.65, 0.75), (0.9, 1.0))
"""Fractions of T of the two record windows whose means give the measured late drift."""

OFF_TRAJECTORY_HORIZON = 10.0
"""A finite-size fixed point is off its own trajectory when the trajectory, still
:data:`CONVERGED_BELOW` or more of its initial distance away from the point at T, would
not reach it within this many T even at its speed over the last quarter of the run (an
approach only slows down, so that is the least time it needs), or moves away from it.
10 T is the horizon over which the finite-size theory continues its dynamics to find the
fixed point. Such a fixed point is not where the theory's own dynamics goes and is not
drawn; a slow approach (soft-bound Hebbian, Kohonen: low-rate classes relax slowly) is
not off its trajectory."""

STILL_BELOW = 0.02
"""A weight whose whole change is below this fraction of its size (or 0.05 mV) has not
moved: its late drift is not measured (noise over nothing)."""

CRITERION = (f"converged when the finite-size theory's trajectory is within "
             f"{100 * CONVERGED_BELOW:g} % of its own fixed point at T (fraction of the "
             f"initial distance) and the simulated mean moved by less than "
             f"{100 * CONVERGED_BELOW:g} % of its total change over the last quarter of the "
             "run (only the latter where the finite-size theory is not computed)")
"""The rule, in words, for captions."""


@dataclasses.dataclass(frozen=True)
class Convergence:
    """The convergence verdict of one grid point's mean weight.

    Attributes
    ----------
    duration_s : float
        T, the time of the last record of the runs (NaN: no record).
    remaining : float
        Finite-size theory: |j(T) − j*| / |j(0) − j*| (NaN: not computed or no
        movement).
    drift : float
        Measured late drift of the simulated seed mean (NaN: not measurable).
    """

    duration_s: float
    remaining: float = math.nan
    drift: float = math.nan
    off_trajectory: bool = False
    """The finite-size fixed point is off its own trajectory (:data:`OFF_TRAJECTORY`):
    ``remaining`` is then not used."""

    @property
    def measures(self) -> dict[str, float]:
        """The available measures, by name."""
        remaining = math.nan if self.off_trajectory else self.remaining
        return {name: value for name, value in (("finite-size theory", remaining),
                                                ("late drift", self.drift))
                if np.isfinite(value)}

    @property
    def converged(self) -> bool | None:
        """True/False, None when neither measure is available."""
        if not self.measures:
            return None
        return all(value < CONVERGED_BELOW for value in self.measures.values())

    def short(self) -> str:
        """"converged at T = 120 s", "at T = 120 s, not converged" or "at T = 120 s"."""
        when = f"T = {self.duration_s:.3g} s" if np.isfinite(self.duration_s) else "T"
        if self.converged is None:
            return f"at {when}"
        return f"converged at {when}" if self.converged else f"at {when}, not converged"

    def detail(self) -> str:
        """The measures behind the verdict, e.g. "finite-size theory 18 % from j*; late
        drift 9 %" (empty without any)."""
        parts = []
        if self.off_trajectory:
            parts.append("finite-size j* off its own trajectory")
        elif np.isfinite(self.remaining):
            parts.append(f"finite-size theory {100 * self.remaining:.0f} % from j*")
        if np.isfinite(self.drift):
            parts.append(f"late drift {100 * self.drift:.0f} %")
        return "; ".join(parts)

    def text(self) -> str:
        """:meth:`short` with the measures behind it, e.g. "at T = 120 s, not converged
        (finite-size theory 18 % from j*; late drift 9 %)"."""
        detail = self.detail()
        return self.short() + (f" ({detail})" if detail else "")


def late_drift(time_s: np.ndarray, mean: np.ndarray) -> float:
    """Change of ``mean`` between the windows of :data:`LATE_WINDOWS` relative to its
    whole change since the first record (NaN: too few records, or no movement)."""
    time_s, mean = np.asarray(time_s, float), np.asarray(mean, float)
    ok = np.isfinite(time_s) & np.isfinite(mean)
    if ok.sum() < 8:
        return math.nan
    time_s, mean = time_s[ok], mean[ok]
    start, end = time_s[0], time_s[-1]

    def window(low, high):
        inside = (time_s >= start + low * (end - start)) & (time_s <= start + high * (end - start))
        return float(np.mean(mean[inside])) if inside.any() else math.nan

    middle, late = window(*LATE_WINDOWS[0]), window(*LATE_WINDOWS[1])
    total = abs(late - mean[0])
    if not total > max(STILL_BELOW * max(abs(late), abs(mean[0])), 0.05):
        return math.nan
    return abs(late - middle) / total


def theory_remaining(finite_size: xr.Dataset | None, key: dict, synapse: str) -> float:
    """|j(T) − j*| / |j(0) − j*| of the finite-size theory at ``key`` (NaN: no theory,
    no fixed point, or no movement)."""
    trajectory = theory_at(finite_size, "mean_weight", key, synapse=synapse)
    fixed = theory_at(finite_size, "fixed_point_weight", key, synapse=synapse)
    if trajectory is None or fixed is None or "time" not in trajectory.dims:
        return math.nan
    values = trajectory.values.astype(float)
    values = values[np.isfinite(values)]
    fixed = float(fixed)
    if values.size < 2 or not np.isfinite(fixed):
        return math.nan
    initial = abs(values[0] - fixed)
    if not initial > max(STILL_BELOW * max(abs(fixed), abs(values[0])), 0.05):
        return math.nan
    return abs(values[-1] - fixed) / initial


def off_trajectory(finite_size: xr.Dataset | None, key: dict, synapse: str) -> bool:
    """Whether the finite-size fixed point at ``key`` is off its own trajectory
    (:data:`OFF_TRAJECTORY_HORIZON`)."""
    remaining = theory_remaining(finite_size, key, synapse)
    if not np.isfinite(remaining) or remaining < CONVERGED_BELOW:
        return False
    trajectory = theory_at(finite_size, "mean_weight", key, synapse=synapse)
    fixed = float(theory_at(finite_size, "fixed_point_weight", key, synapse=synapse))
    time_s = trajectory["time"].values.astype(float)
    values = trajectory.values.astype(float)
    ok = np.isfinite(time_s) & np.isfinite(values)
    time_s, values = time_s[ok], values[ok]
    start, end = time_s[0], time_s[-1]
    late, last = np.interp([start + 0.75 * (end - start), end], time_s, values)
    speed = (last - late) / (0.25 * (end - start))           # mV/s, towards j* if > 0 …
    towards = speed * np.sign(fixed - last)
    if not towards > 0:
        return True
    return abs(fixed - last) / towards > OFF_TRAJECTORY_HORIZON * (end - start)


def weight_convergence(runs: xr.Dataset | None, finite_size: xr.Dataset | None, key: dict,
                       synapse: str) -> Convergence:
    """Whether the mean ``synapse`` weight at the grid point ``key`` has converged by T.

    Parameters
    ----------
    runs : xarray.Dataset or None
        Runs aggregate (the simulated seed mean gives T and the late drift).
    finite_size : xarray.Dataset or None
        Finite-size theory aggregate (its trajectory and fixed point give the remaining
        distance).
    key : dict
        The grid point (swept values; seeds are averaged).
    synapse : str
        Synapse type or block label.
    """
    duration, drift = math.nan, math.nan
    mean_weight = at_point(runs, "mean_weight", key, synapse=synapse)
    if mean_weight is not None and "time" in mean_weight.dims:
        extra = [d for d in mean_weight.dims if d not in ("seed", "time")]
        if extra:
            mean_weight = mean_weight.mean(extra, skipna=True)
        mean = running_mean(by_seed(mean_weight, "time"))[0]
        time_s = mean_weight["time"].values.astype(float)
        finite = np.isfinite(mean)
        if finite.any():
            duration = float(time_s[finite][-1])
            drift = late_drift(time_s, mean)
    return Convergence(duration, theory_remaining(finite_size, key, synapse), drift,
                       off_trajectory(finite_size, key, synapse))


def summary(verdicts) -> str:
    """One phrase for several grid points: "converged at T = 60 s" when all are, else
    "at T = 60 s, not converged at 2 of 6 points" (verdicts without measures ignored)."""
    verdicts = [v for v in verdicts if v is not None]
    if not verdicts:
        return ""
    durations = sorted({round(v.duration_s, 6) for v in verdicts if np.isfinite(v.duration_s)})
    when = ("T = " + ", ".join(f"{d:.3g}" for d in durations) + " s") if durations else "T"
    known = [v for v in verdicts if v.converged is not None]
    if not known:
        return f"at {when}"
    failing = [v for v in known if not v.converged]
    if not failing:
        return f"converged at {when}"
    if len(known) == 1:
        return f"at {when}, not converged"
    return f"at {when}, not converged at {len(failing)} of {len(known)} points"
