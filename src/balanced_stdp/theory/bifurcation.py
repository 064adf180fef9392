"""Fixed-point branches and folds of one-weight mean-field models (spec §6.5, Fig 2).

For a rule with one plastic mean weight (Kohonen, soft Hebbian, EI iSTDP alone) the
drift dj̄/dt is a function of j̄ alone, so every fixed point is a sign change of the
drift on a weight grid: :func:`fixed_point_branches` finds all of them (stable and
unstable) along a parameter, and :func:`saddle_node` locates the fold where the
stable and unstable branches meet (Kohonen: β₀ = 2025/252 at j_ei = −100).
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy import optimize

from ..contract import dimension_name
from .dynamics import MeanFieldModel
from .mean_field_network import NoBalancedStateError

def _with_value(config: dict, key: str, value) -> dict:
    from ..config import with_dotted
    return with_dotted(config, key, value)


def drift_on_grid(config: dict, weight_grid: np.ndarray, delta=None) -> np.ndarray:
    """Drift dj̄/dt (mV/ms) of a one-weight model on a grid (NaN where unbalanced)."""
    model = MeanFieldModel(config, delta)
    if model.n_plastic != 1:
        raise ValueError(f"needs exactly one plastic weight, the config has {model.n_plastic}")
    out = np.full(len(weight_grid), np.nan)
    for k, j in enumerate(weight_grid):
        try:
            out[k] = model.drift(np.array([j]))[0]
        except NoBalancedStateError:
            pass
    return out


def saddle_node(config: dict, parameter: str, lower: float, upper: float,
                weight_range: tuple[float, float], delta=None, grid_points: int = 401,
                tolerance: float = 1e-12) -> dict:
    """Saddle-node (fold) of a one-weight model as a config parameter varies.

    Bisects on ``parameter`` (a dotted config key, e.g. ``plasticity.ee.beta0``)
    between ``lower`` (a stable fixed point exists in ``weight_range``) and ``upper``
    (none does), detecting fixed points as sign changes of the drift on a grid; then
    refines (weight, parameter) by solving drift = 0 and ∂drift/∂j = 0 together.

    Returns
    -------
    dict
        ``parameter`` (critical value) and ``weight`` (mV) at the fold.
    """
    grid = np.linspace(*weight_range, grid_points)

    def has_stable_root(value):
        d = drift_on_grid(_with_value(config, parameter, value), grid, delta)
        ok = np.isfinite(d[:-1]) & np.isfinite(d[1:])
        return bool(np.any(ok & (d[:-1] > 0) & (d[1:] <= 0)))

    if not has_stable_root(lower) or has_stable_root(upper):
        raise ValueError(f"{parameter}: need a stable fixed point at {lower} and none at {upper}")
    lo, hi = lower, upper
    while hi - lo > 1e-6 * max(1.0, abs(hi)):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if has_stable_root(mid) else (lo, mid)
    # Just below the fold the stable root (drift + → −) and the unstable one (− → +)
    # straddle the drift's extremum, which becomes the double root: start from it.
    d = drift_on_grid(_with_value(config, parameter, lo), grid, delta)
    ok = np.isfinite(d[:-1]) & np.isfinite(d[1:])
    stable = np.flatnonzero(ok & (d[:-1] > 0) & (d[1:] <= 0))[0]
    unstable = np.flatnonzero(ok & (d[:-1] < 0) & (d[1:] >= 0))
    unstable = unstable[unstable > stable]
    if unstable.size:
        segment = slice(stable, unstable[0] + 2)
        j_guess = grid[segment][np.nanargmin(d[segment])]
    else:
        j_guess = grid[stable]

    def equations(x):
        j, value = x
        cfg = _with_value(config, parameter, value)
        model = MeanFieldModel(cfg, delta)
        eta = model.blocks[0].rule.eta_effective(model.n_neurons)
        h = 1e-5 * max(1.0, abs(j))
        f = model.drift(np.array([j]))[0] / eta
        slope = (model.drift(np.array([j + h]))[0] - model.drift(np.array([j - h]))[0]) / (2 * h)
        return [f * 1e4, slope / eta * 1e4]

    sol = optimize.root(equations, [j_guess, lo], method="hybr", options={"xtol": tolerance})
    if sol.success and lower <= sol.x[1] <= upper:
        return {"parameter": float(sol.x[1]), "weight": float(sol.x[0])}
    return {"parameter": 0.5 * (lo + hi), "weight": float(j_guess)}


def fixed_point_branches(config: dict, parameter: str, values, weight_range: tuple[float, float],
                         delta=None, grid_points: int = 801, max_roots: int = 4) -> xr.Dataset:
    """Every fixed point of a one-weight model, with its stability, along a parameter.

    For each value of ``parameter`` (a dotted config key, e.g. ``plasticity.ee.beta0``)
    the drift is evaluated on ``grid_points`` weights in ``weight_range``; each sign
    change is refined with Brent's method. A root where the drift falls through zero
    (+ → −) is stable, one where it rises (− → +) unstable. Roots are sorted by weight.

    Returns
    -------
    xarray.Dataset
        ``fixed_point_weight`` (parameter, root; mV; NaN where fewer roots exist) and
        ``stable`` (parameter, root; 1, 0, or −1 for no root). The dimension is the
        parameter's name with dots replaced by ``_``.
    """
    grid = np.linspace(*weight_range, grid_points)
    weights = np.full((len(values), max_roots), np.nan)
    stable = np.full((len(values), max_roots), -1, np.int8)
    for row, value in enumerate(values):
        cfg = _with_value(config, parameter, value)
        model = MeanFieldModel(cfg, delta)
        d = drift_on_grid(cfg, grid, delta)
        ok = np.isfinite(d[:-1]) & np.isfinite(d[1:])
        crossings = np.flatnonzero(ok & (np.sign(d[:-1]) != np.sign(d[1:])) & (d[1:] != 0))
        for k, i in enumerate(crossings[:max_roots]):
            root = optimize.brentq(lambda j: model.drift(np.array([j]))[0], grid[i], grid[i + 1],
                                   xtol=1e-12)
            weights[row, k] = root
            stable[row, k] = d[i] > 0
    dim = dimension_name(parameter)
    return xr.Dataset(
        {"fixed_point_weight": ((dim, "root"), weights,
                                {"units": "mV", "long_name": "fixed point of the mean weight"}),
         "stable": ((dim, "root"), stable,
                    {"units": "1", "long_name": "1 stable, 0 unstable, -1 no such root"})},
        coords={dim: (dim, np.asarray(values, dtype=float),
                      {"long_name": f"parameter {parameter}"}),
                "root": ("root", np.arange(max_roots), {"long_name": "root index by weight"})},
        attrs={"parameter": parameter, "weight_range_mv": list(weight_range)})
