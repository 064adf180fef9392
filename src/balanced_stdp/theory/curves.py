"""Theory curves: leading-order theory dense in one config key, for an experiment's figures.

The per-point theory (:func:`.prediction.predict_point`) is computed at the simulated grid
points only; a figure that draws the theory as a continuous curve, or analyses the
fixed points of a one-weight model, needs it on a dense grid. An experiment's theory job
computes the curves its figures ask for (:attr:`balanced_stdp.figures.registry.FigureSpec
.theory_curves`) into its theory dataset, beside the per-point predictions, so figures
draw them and agreement tables can read them. Requests (:data:`CURVES`):

* ``"kohonen_stability"`` — every fixed point of the mean EE weight along β₀ with its
  stability (:func:`.bifurcation.fixed_point_branches`), the saddle-node where the
  stable and unstable branches meet, and the drift per learning rate on a weight grid at
  the β₀ of the paper's phase plot (spec §6.5, Fig 2);
* ``"fixed_points:<key>"`` — the leading-order fixed point (weights, rates) along a config
  key (:func:`.prediction.parameter_sweep`), and the count covariances of spec §6.2 at its
  rates, at each combination of the experiment's other swept keys (``N`` for a sweep of
  ``c`` over several network sizes);
* ``"count_statistics:<key>"`` — balanced rates, count covariances and correlations at
  the initial weights along a key (:func:`.count_sweep.count_statistics_along`; a
  non-plastic network stays there);
* ``"runaway_threshold:<key>"`` — along a key (N), the finite-size theory's Kohonen
  runaway threshold β₀_c (:func:`.finite_size_threshold.runaway_threshold`: the smallest
  β₀ at which balance is lost within the run's duration) and the leading-order
  saddle-node, at the simulated values of the key and the geometric midpoints between
  them (each costs a bisection of finite-size trajectories, ≈ 10 s).

The dense grid of a key is :func:`dense_values`. Variables and dimensions are those of
``docs/data-contract.md`` (``along``: the dense key, named in its ``key`` attribute).
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np
import xarray as xr

from ..config import with_dotted
from ..contract import THEORY_KIND, coordinates, dimension_name, get_dotted, variable
from .bifurcation import drift_on_grid, fixed_point_branches, saddle_node
from .count_sweep import count_statistics_along
from .covariance import count_covariance_closed_form
from .dynamics import MeanFieldModel
from .finite_size_threshold import runaway_threshold
from .prediction import parameter_sweep

BETA_KEY = "plasticity.ee.beta0"
"""The parameter of the Kohonen stability analysis."""

BRANCH_BETAS = np.linspace(0.25, 10.0, 79)
"""β₀ of the fixed-point branches: past the saddle-node (β₀ ≈ 8 at j_ei = −100)."""

BRANCH_WEIGHT_RANGE_MV = (0.0, 44.9)
"""Weights searched for fixed points: balance needs j_ee < 45 mV at j_ei = −100."""

BRANCH_GRID_POINTS = 241
"""Weights on which the drift's sign changes locate the branches."""

SADDLE_NODE_BETAS = (2.0, 10.0)
"""β₀ bracketing the saddle-node: a stable fixed point at the first, none at the second."""

DRIFT_BETAS = (3.0, 5.0, 8.0, 10.0)
"""β₀ of the phase plot (spec §8 Fig 2), below and above the saddle-node."""

DRIFT_WEIGHTS_MV = np.linspace(0.0, 44.0, 441)
"""Weights of the phase plot (mV)."""

C_POINTS = 41
"""Points of a curve along the input correlation c, over all of [0, 1]."""

N_POINTS = 25
"""Network sizes of a curve along N (log-spaced between the simulated extremes)."""

N_MULTIPLE = 5
"""Sizes along N are multiples of this (0.2 N and 0.8 N must be whole neurons)."""

DENSE_POINTS = 200
"""Points of a curve along any other key, between its simulated extremes."""

PAIR_TYPES = ("ee", "ei", "ii")
"""Pair types of the closed-form covariances at the fixed point (two populations)."""


def dense_values(key: str, simulated) -> np.ndarray | list[int]:
    """The dense grid of a curve along ``key`` spanning its simulated values.

    ``c``: :data:`C_POINTS` values over [0, 1]; ``N``: :data:`N_POINTS` log-spaced sizes,
    rounded to multiples of :data:`N_MULTIPLE`; any other key: :data:`DENSE_POINTS`
    values from the smallest to the largest simulated value.
    """
    simulated = np.asarray(simulated, dtype=float)
    if key == "c":
        return np.linspace(0.0, 1.0, C_POINTS)
    if key == "N":       # Python ints: the config's N is validated as an int
        geometric = np.geomspace(simulated.min(), simulated.max(), N_POINTS)
        return sorted({int(N_MULTIPLE * round(v / N_MULTIPLE)) for v in geometric})
    return np.linspace(simulated.min(), simulated.max(), DENSE_POINTS)


def _theory(name: str, data, context: str = "", **attrs) -> tuple:
    return variable(THEORY_KIND, name, data, context, **attrs)


# ----------------------------------------------------------------------------- Kohonen
def drift_per_eta(config: dict, beta0: float, weights_mv: np.ndarray) -> np.ndarray:
    """Leading-order dj̄_ee/dt / η_eff (mV/ms) at β₀ on a weight grid (NaN: unbalanced)."""
    cfg = with_dotted(config, BETA_KEY, beta0)
    model = MeanFieldModel(cfg)
    eta = model.blocks[0].rule.eta_effective(model.n_neurons)
    return drift_on_grid(cfg, weights_mv) / eta


def kohonen_stability(config: dict) -> xr.Dataset:
    """Fixed-point branches, saddle-node and phase-plot drift of Kohonen's rule along β₀.

    Parameters
    ----------
    config : dict
        A resolved run config with Kohonen's rule on EE (its β₀ is replaced).

    Returns
    -------
    xarray.Dataset
        ``branch_weight`` and ``branch_stable`` (branch_parameter, root),
        ``saddle_node_parameter`` and ``saddle_node_weight``, ``drift_per_eta``
        (drift_parameter, drift_weight); the parameter is β₀ (attribute ``parameter``).
    """
    branches = fixed_point_branches(config, BETA_KEY, BRANCH_BETAS, BRANCH_WEIGHT_RANGE_MV,
                                    grid_points=BRANCH_GRID_POINTS)
    fold = saddle_node(config, BETA_KEY, *SADDLE_NODE_BETAS, BRANCH_WEIGHT_RANGE_MV)
    drift = np.array([drift_per_eta(config, beta0, DRIFT_WEIGHTS_MV) for beta0 in DRIFT_BETAS])
    dim = dimension_name(BETA_KEY)
    return xr.Dataset(
        {"branch_weight": _theory("branch_weight", branches["fixed_point_weight"].values),
         "branch_stable": _theory("branch_stable", branches["stable"].values),
         "saddle_node_parameter": _theory("saddle_node_parameter", fold["parameter"],
                                          key=BETA_KEY),
         "saddle_node_weight": _theory("saddle_node_weight", fold["weight"]),
         "drift_per_eta": _theory("drift_per_eta", drift)},
        coords=_keyed(coordinates(branch_parameter=branches[dim].values,
                                  root=branches["root"].values,
                                  drift_parameter=np.array(DRIFT_BETAS),
                                  drift_weight=DRIFT_WEIGHTS_MV),
                      BETA_KEY, "branch_parameter", "drift_parameter"))


# ----------------------------------------------------------------------------- along a key
def _keyed(coords: dict, key: str, *names: str) -> dict:
    """``coords`` with the config key their values are of (attribute ``key``) on ``names``."""
    for name in names:
        dim, data, attrs = coords[name]
        coords[name] = (dim, data, {**attrs, "key": key})
    return coords


def _along(values, key: str, **other) -> dict:
    return _keyed(coordinates(along=np.asarray(values), **other), key, "along")


def fixed_points_along(config: dict, key: str, values) -> xr.Dataset:
    """Leading-order fixed point along ``key`` and the §6.2 covariances at its rates.

    Returns
    -------
    xarray.Dataset
        ``fixed_point_weight_along`` (along, synapse), ``fixed_point_rate_along`` (along,
        population) and ``fixed_point_count_cov_along`` (along, pair_type): the closed
        form T_win c r_a r_b / r_x (c > 0) or its shared-input term (c = 0) at the fixed
        point's E and I rates, with each point's c and N.
    """
    sweep = parameter_sweep(config, key, values)
    dim = dimension_name(key)
    window_ms = 1000.0 * config["recording"]["covariance_window_s"]
    covariances = []
    for value, rates_hz in zip(values, sweep["fixed_point_rate"].sel(population=["E", "I"]).values):
        cfg = with_dotted(config, key, value.item() if hasattr(value, "item") else value)
        matrix = count_covariance_closed_form(rates_hz / 1000.0, cfg["c"],
                                              cfg["external_rate_hz"] / 1000.0, window_ms,
                                              cfg["N"], cfg["external_fraction"])
        covariances.append([matrix[0, 0], matrix[0, 1], matrix[1, 1]])
    context = f" ({key})"
    return xr.Dataset(
        {"fixed_point_weight_along": _theory(
            "fixed_point_weight_along",
            sweep["fixed_point_weight"].transpose(dim, "synapse").values, context),
         "fixed_point_rate_along": _theory(
             "fixed_point_rate_along",
             sweep["fixed_point_rate"].transpose(dim, "population").values, context),
         "fixed_point_count_cov_along": _theory(
             "fixed_point_count_cov_along", np.array(covariances), context,
             window_s=config["recording"]["covariance_window_s"])},
        coords=_along(values, key, synapse=sweep["synapse"].values,
                      population=sweep["population"].values, pair_type=list(PAIR_TYPES)))


def count_statistics_curve(config: dict, key: str, values) -> xr.Dataset:
    """Balanced rates and count statistics at the initial weights along ``key``.

    Returns
    -------
    xarray.Dataset
        ``balanced_rate_along`` (along, population), ``spike_count_cov_along`` and
        ``spike_count_corr_along`` (along, pair_type).
    """
    stats = count_statistics_along(config, key, values)
    dim = dimension_name(key)
    context = f" ({key})"
    return xr.Dataset(
        {f"{name}_along": _theory(f"{name}_along", stats[name].transpose(dim, other).values,
                                  context)
         for name, other in (("balanced_rate", "population"), ("spike_count_cov", "pair_type"),
                             ("spike_count_corr", "pair_type"))},
        coords=_along(values, key, population=stats["population"].values,
                      pair_type=stats["pair_type"].values))


def threshold_values(key: str, simulated) -> list:
    """The simulated values of ``key`` and the geometric midpoints between neighbours
    (``N`` rounded to multiples of :data:`N_MULTIPLE`)."""
    values = sorted({float(v) for v in simulated})
    out = list(values)
    for a, b in zip(values[:-1], values[1:]):
        out.append(math.sqrt(a * b) if a > 0 else 0.5 * (a + b))
    if key == "N":
        return sorted({int(N_MULTIPLE * round(v / N_MULTIPLE)) for v in out})
    return sorted(set(out))


def runaway_threshold_curve(config: dict, key: str, values) -> xr.Dataset:
    """The finite-size runaway threshold of β₀ and the leading-order saddle-node along
    ``key`` (each point: the config with ``key`` set, β₀ bisected).

    Returns
    -------
    xarray.Dataset
        ``finite_size_runaway_threshold_along`` and ``leading_order_saddle_node_along``
        (along).
    """
    thresholds, folds = [], []
    for value in values:
        cfg = with_dotted(config, key, value.item() if hasattr(value, "item") else value)
        thresholds.append(runaway_threshold(cfg, BETA_KEY))
        folds.append(saddle_node(cfg, BETA_KEY, *SADDLE_NODE_BETAS,
                                 BRANCH_WEIGHT_RANGE_MV)["parameter"])
    context = f" ({key})"
    return xr.Dataset(
        {"finite_size_runaway_threshold_along": _theory(
            "finite_size_runaway_threshold_along", np.array(thresholds, dtype=float), context,
            parameter=BETA_KEY, duration_s=config["duration_s"]),
         "leading_order_saddle_node_along": _theory(
             "leading_order_saddle_node_along", np.array(folds, dtype=float), context,
             parameter=BETA_KEY)},
        coords=_along(values, key))


CURVES = {"kohonen_stability": None, "fixed_points": fixed_points_along,
          "count_statistics": count_statistics_curve,
          "runaway_threshold": runaway_threshold_curve}
"""Kinds of curve a request may name (``kind`` or ``kind:key``)."""


# ----------------------------------------------------------------------------- requests
def _groups(configs: list[dict], key: str, also=()) -> dict[tuple, dict]:
    """The first config of each combination of the swept keys other than ``key`` (and
    ``also``)."""
    out: dict[tuple, dict] = {}
    for config in configs:
        others = tuple((k, get_dotted(config, k)) for k in config.get("sweep_dims", [])
                       if k != key and k not in also)
        out.setdefault(others, config)
    return out


def _curve_along(kind: str, key: str, configs: list[dict]) -> xr.Dataset:
    simulated = [get_dotted(config, key) for config in configs]
    if kind == "runaway_threshold":        # β₀ is what the curve finds, not a curve dim
        values, groups = threshold_values(key, simulated), _groups(configs, key, (BETA_KEY,))
    else:
        values, groups = dense_values(key, simulated), _groups(configs, key)
    pieces = [CURVES[kind](config, key, values) for config in groups.values()]
    others = [k for k, _ in next(iter(groups))]
    if not others:
        return pieces[0]
    # one curve per combination of the other swept keys: they become its dimensions
    combined = [piece.expand_dims({dimension_name(k): [v] for k, v in group})
                for piece, group in zip(pieces, groups)]
    return xr.combine_by_coords(combined, combine_attrs="override")


def theory_curves(configs: Iterable[dict], requests: Iterable[str]) -> xr.Dataset:
    """The curves ``requests`` name, for an experiment of these run configs.

    Parameters
    ----------
    configs : iterable of dict
        The experiment's resolved run configs, in the order of its aggregate
        (:func:`balanced_stdp.selection.run_configs`); curves are computed from the first
        one of each combination of the swept keys they are not along.
    requests : iterable of str
        ``"kohonen_stability"``, ``"fixed_points:<key>"``, ``"count_statistics:<key>"`` or
        ``"runaway_threshold:<key>"`` (:data:`CURVES`).

    Returns
    -------
    xarray.Dataset
        The curves' variables (empty without requests).

    Raises
    ------
    ValueError
        For an unknown kind of curve, or two curves along different keys (one ``along``
        dimension per dataset).
    """
    configs = list(configs)
    out = xr.Dataset()
    along = None
    for request in sorted(set(requests)):
        kind, _, key = request.partition(":")
        if kind not in CURVES or (kind == "kohonen_stability") == bool(key):
            raise ValueError(f"unknown theory curve {request!r}; known: kohonen_stability, "
                             "fixed_points:<key>, count_statistics:<key>, "
                             "runaway_threshold:<key>")
        if kind == "kohonen_stability":
            out = out.merge(kohonen_stability(configs[0]))
            continue
        if along not in (None, key):
            raise ValueError(f"theory curves along {along} and {key}: one key per experiment")
        along = key
        out = out.merge(_curve_along(kind, key, configs))
    return out
