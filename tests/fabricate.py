"""Fabricated run and theory datasets with known values, laid out as the data contract says.

The figure and agreement tests draw from small synthetic aggregates whose values they
know. :func:`run` and :func:`theory` build one grid point's dataset from the values a test
gives — dimensions and units from :mod:`balanced_stdp.contract`, the swept parameters of
the run config as length-1 dimensions — so every test fabricates the same way and only
its values differ. A run stopped by the divergence guard (``diverged_at_s``) is NaN after
the stop and, like the simulator's output, its time axis ends there (the aggregation
pads it back to the full grid).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from balanced_stdp import aggregate
from balanced_stdp.config import config_to_json
from balanced_stdp.contract import (RUN_VARIABLES, SOURCES, SYNAPSE_TYPES, THEORY_VARIABLES,
                                    rule_label, swept_values)

POPULATIONS = ("E", "I")
PAIR_TYPES = ("ee", "ei", "ii")
COORDINATES = {"population": list(POPULATIONS), "synapse": list(SYNAPSE_TYPES),
               "source": list(SOURCES), "pair_type": list(PAIR_TYPES)}
"""Labels of a two-population network (the coordinates every fabricated dataset has)."""


def _dataset(table: dict, values: dict, coords: dict) -> xr.Dataset:
    """Variables of ``values`` with the contract's dimensions and units; coordinates of
    the labelled dimensions they use, and index coordinates of sized ones (sample …)."""
    variables, used = {}, set()
    for name, data in values.items():
        if isinstance(data, tuple):                  # (dims, data): not a contract variable
            dims, data = data
            attrs = {}
        else:
            spec = table[name]
            dims, attrs = spec.dims, ({"units": spec.units} if spec.units else {})
        variables[name] = (dims, data, attrs)
        used.update(dims)
    labelled = {dim: labels for dim, labels in COORDINATES.items() if dim in used}
    return xr.Dataset(variables, coords={**labelled, **coords})


def _swept(config: dict, swept: dict | None) -> dict:
    """Length-1 swept dimensions: the run config's (:func:`contract.swept_values`), or the
    test's own values (e.g. floats where the config has integers)."""
    return {dim: list(values) for dim, values in (swept or swept_values(config)).items()}


def run(config: dict, values: dict, *, time_s: np.ndarray | None = None,
        swept: dict | None = None, diverged_at_s: float | None = None,
        coords: dict | None = None) -> xr.Dataset:
    """One run dataset of the resolved ``config`` holding ``values``.

    Parameters
    ----------
    config : dict
        Resolved run config: stored as the ``config`` attribute; its rule label, c, seed
        and ``sweep_dims`` are the swept dimensions unless ``swept`` gives them.
    values : dict
        Variable name → data with the contract's dimensions (docs/data-contract.md),
        or → (dims, data) for anything else.
    time_s : ndarray, optional
        The ``time`` coordinate (end of each record bin).
    diverged_at_s : float, optional
        The divergence guard stopped the run then: values over ``time`` are NaN after it
        and the time axis ends there; ``diverged`` and ``diverged_at_s`` say so.
    coords : dict, optional
        Further coordinates (``neuron``, ``neuron_population``, ``sample`` …).
    """
    values = dict(values)
    if diverged_at_s is not None and time_s is not None:
        stopped = time_s > diverged_at_s
        for name, data in values.items():
            dims = data[0] if isinstance(data, tuple) else RUN_VARIABLES[name].dims
            if "time" in dims:
                data = np.array(data[1] if isinstance(data, tuple) else data, dtype=float)
                data[..., stopped] = np.nan
                values[name] = (dims, data) if isinstance(values[name], tuple) else data
    values.setdefault("diverged", np.int8(diverged_at_s is not None))
    values.setdefault("diverged_at_s", np.nan if diverged_at_s is None else diverged_at_s)
    coords = {**({} if time_s is None else {"time": ("time", time_s, {"units": "s"})}),
              **(coords or {})}
    ds = _dataset(RUN_VARIABLES, values, coords).expand_dims(_swept(config, swept))
    if diverged_at_s is not None and time_s is not None:
        ds = ds.sel(time=ds["time"] <= diverged_at_s)
    ds.attrs = {"config": config_to_json(config), "rule": rule_label(config),
                "seed": int(config["seed"]), "status": "diverged" if diverged_at_s else "ok"}
    return ds


def theory(config: dict, values: dict, *, time_s: np.ndarray | None = None,
           swept: dict | None = None, coords: dict | None = None) -> xr.Dataset:
    """One grid point's theory dataset holding ``values`` (see :func:`run`)."""
    coords = {**({} if time_s is None else {"time": time_s}), **(coords or {})}
    return _dataset(THEORY_VARIABLES, values, coords).expand_dims(_swept(config, swept))


def combine(datasets) -> xr.Dataset:
    """The workflow's aggregation (per-run ``config`` kept as a variable, outer join)."""
    return aggregate.combine(list(datasets))


# ----------------------------------------------------------------------------- rule runs
N_NEURONS = 50
INTERVAL_S = 0.5
N_TIME = 30                       # T = 15 s
N_SAMPLE = 40
TIME_S = INTERVAL_S * np.arange(1, N_TIME + 1)
RULE_SYNAPSE = {"kohonen": "ee", "istdp": "ei", "classical_hebbian": "ee", "soft_hebbian": "ee"}
RULE_SETTINGS = {"kohonen": {"rule": "kohonen", "eta": 0.01, "beta0": 2.0},
                 "istdp": {"rule": "istdp", "eta": 2e-4},
                 "classical_hebbian": {"rule": "classical_hebbian", "eta": 5e-3},
                 "soft_hebbian": {"rule": "soft_hebbian", "eta": 5e-3}}


def rule_config(rule: str, c: float, seed: int, weights_ei: float | None = None) -> dict:
    """The resolved config of a :func:`rule_run` (N = 50, T = 15 s, one plastic type)."""
    from balanced_stdp.config import resolve_config

    user = {"N": N_NEURONS, "duration_s": N_TIME * INTERVAL_S, "c": c, "seed": seed,
            "plasticity": {RULE_SYNAPSE[rule]: RULE_SETTINGS[rule]}}
    if weights_ei is not None:
        user["weights"] = {"ei": weights_ei}
        user["sweep_dims"] = ["weights.ei"]
    return resolve_config(user)


def rule_run(rule: str, c: float, seed: int, *, weights_ei: float | None = None,
             diverged_at_s: float | None = None) -> xr.Dataset:
    """A run of one rule whose weights relax from ``weights_ei`` (or 5 mV) towards
    start/2 + 3c + 0.2 seed (+10 mV per synapse type), with seeded noise, sampled weights
    spread ∝ presynaptic rate, balanced inputs and rates; the rates run away just before
    ``diverged_at_s``, and a stopped run has no analysis window (no presynaptic rates)."""
    rng = np.random.default_rng([seed, int(round(c * 1000)), len(rule),
                                 int(abs(weights_ei or 0))])
    n_time = TIME_S.size
    start = weights_ei if weights_ei is not None else 5.0
    target = start / 2 + 3.0 * c + 0.2 * seed
    relax = 1.0 - np.exp(-TIME_S / 3.0)
    mean_weight = np.empty((4, n_time))
    for k, _ in enumerate(SYNAPSE_TYPES):
        mean_weight[k] = start + (target - start) * relax + 0.05 * rng.standard_normal(n_time) \
            + 10 * k
    pre_rate = rng.uniform(2.0, 30.0, (4, N_SAMPLE))
    final = 0.1 * pre_rate + rng.standard_normal((4, N_SAMPLE))
    sampled_weight = (mean_weight[:, None, :] + (final - final.mean(1, keepdims=True))[:, :, None]
                      * relax[None, None, :])
    mean_input = np.empty((2, 4, n_time))
    for p, scale in enumerate((1.0, 1.5)):
        e = scale * (10.0 + 0.3 * rng.standard_normal(n_time))
        x = scale * (5.0 + 0.3 * rng.standard_normal(n_time))
        i = -scale * (14.5 + 0.3 * rng.standard_normal(n_time))
        mean_input[p] = [e, i, x, e + i + x]
    population_rate = np.stack([6.0 + seed + rng.standard_normal(n_time),
                                15.0 + rng.standard_normal(n_time)])
    if diverged_at_s is not None:
        last = np.flatnonzero(TIME_S <= diverged_at_s)[-1]
        population_rate[:, last - 2:last + 1] *= 20.0      # runaway before the guard fires
        pre_rate[:] = np.nan                     # no analysis window (T/2, T] was reached
    return run(rule_config(rule, c, seed, weights_ei), {
        "population_rate": population_rate,
        "neuron_rate": rng.uniform(0, 20, N_NEURONS),
        "mean_weight": mean_weight,
        "sampled_weight": sampled_weight,
        "sampled_pre_rate": pre_rate,
        "sampled_post_rate": rng.uniform(2, 30, (4, N_SAMPLE)),
        "mean_input": mean_input,
    }, time_s=TIME_S, diverged_at_s=diverged_at_s,
        coords={"neuron": np.arange(N_NEURONS), "sample": np.arange(N_SAMPLE)})


def rule_theory(rule: str, c: float, seed: int, *, weights_ei: float | None = None
                ) -> xr.Dataset:
    """Theory of a :func:`rule_run`'s grid point: an ODE relaxing to start/2 + 3c + 1 (+10 mV
    per synapse type; deliberately not the seed mean) on its own time grid."""
    time_s = np.linspace(0.0, N_TIME * INTERVAL_S, 61)
    start = weights_ei if weights_ei is not None else 5.0
    fixed = start / 2 + 3.0 * c + 1.0
    trajectory = np.stack([start + (fixed - start) * (1 - np.exp(-time_s / 2.5)) + 10 * k
                           for k in range(4)])
    return theory(rule_config(rule, c, seed, weights_ei), {
        "mean_weight": trajectory,
        "fixed_point_weight": fixed + 10.0 * np.arange(4),
        "fixed_point_rate": np.array([10.0 + c, 23.4 - c]),
        "balanced_rate": np.array([5.8, 15.9]),
    }, time_s=time_s)


def with_curves(theory_aggregate: xr.Dataset | None, runs: xr.Dataset,
                requests) -> xr.Dataset:
    """A theory aggregate with the theory curves ``requests`` of the runs' configs, as the
    experiment's theory job adds them (:func:`balanced_stdp.theory.curves.theory_curves`)."""
    from balanced_stdp.selection import run_configs
    from balanced_stdp.theory.curves import theory_curves

    curves = theory_curves(run_configs(runs), requests)
    if theory_aggregate is None:
        return curves
    return xr.merge([theory_aggregate, curves], combine_attrs="override")


# ----------------------------------------------------------------------------- sweeps
SWEEP_INTERVAL_S = 0.5
SWEEP_N_TIME = 20
SWEEP_N_SAMPLE = 60


def sweep_config(user: dict, sweep: dict) -> dict:
    """The resolved config of ``user`` at one grid point ``{dotted key: value}``, the
    swept keys (besides c and seed) as its ``sweep_dims``."""
    from balanced_stdp.config import resolve_config, with_dotted

    config = dict(user)
    for key, value in sweep.items():
        config = with_dotted(resolve_config(config), key, value)
    config["sweep_dims"] = [k for k in sweep if k not in ("c", "seed")]
    return resolve_config(config)


def sweep_run(user: dict, sweep: dict, *, cov=None, rates=(5.0, 15.0), mean_weight=None,
              sampled_weight=None, diverged_at_s: float | None = None) -> xr.Dataset:
    """A run at one grid point of a sweep (:func:`sweep_config`) with known statistics:
    constant rates, count covariances ``cov`` (correlations cov/5, variances 2 and 8),
    inputs E 10, I −14, X 5 (total 1) mV/ms, weights zero unless given. A stopped run
    has no covariance (its correlations are kept)."""
    time_s = SWEEP_INTERVAL_S * np.arange(1, SWEEP_N_TIME + 1)
    cov = np.array([0.1, 0.2, 0.5]) if cov is None else np.asarray(cov, float)
    mean_input = np.zeros((2, 4, SWEEP_N_TIME))
    mean_input[:, 0], mean_input[:, 1], mean_input[:, 2] = 10.0, -14.0, 5.0
    mean_input[:, 3] = 1.0
    corr = cov / 5.0
    if diverged_at_s is not None:
        cov = cov * np.nan
    return run(sweep_config(user, sweep), {
        "population_rate": np.array(rates, float)[:, None] * np.ones(SWEEP_N_TIME),
        "mean_weight": np.zeros((4, SWEEP_N_TIME)) if mean_weight is None else mean_weight,
        "sampled_weight": (np.zeros((4, SWEEP_N_SAMPLE, SWEEP_N_TIME))
                           if sampled_weight is None else sampled_weight),
        "mean_input": mean_input,
        "spike_count_cov": cov,
        "spike_count_corr": corr,
        "spike_count_var": np.array([2.0, 8.0])},
        time_s=time_s, diverged_at_s=diverged_at_s,
        coords={"sample": np.arange(SWEEP_N_SAMPLE)})
