"""Finite-size theory as datasets: the workflow's third theory, beside the leading order's.

:func:`predict_finite_size` runs the class-resolved model of :mod:`.finite_size_model`
for one run config and returns a dataset with the variables and coordinates of the
leading-order prediction (:func:`.prediction.predict`) plus the rate and weight
distributions; :func:`predict_finite_size_point` and :func:`predict_finite_size_points`
are what the workflow records per grid point, with ``theory_status`` giving the
stability verdict (``ok``; ``runaway at t = … s: …`` or ``balance lost at t = … s: …``
with the classes that leave; ``no finite-size fixed point: …``; ``leading order only:
…``). Nothing is fitted to the simulations it is compared with.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import xarray as xr

from ..config import config_to_json, resolve_config
from ..contract import THEORY_KIND, RecordGrid, swept_values, variable
from ..estimators import relaxation_time
from .covariance import count_covariance_closed_form
from .finite_size_model import (DEFAULT_CLASSES, QUANTILES, FiniteSizeModel,
                                FiniteSizeUnsupported, LossReport, solve_initial)
from .mean_field_network import NoBalancedStateError
from .prediction import predict

FIXED_POINT_SEARCH_IN_T = 10.0
"""The dynamics continue from the trajectory's end for at most this many run durations
before the fixed-point sweeps (iSTDP: until its manifold is reached)."""

RUNAWAY_GROWTH = 1.5
"""A loss of balance is called a runaway when a population's mean rate at the last
balanced state is this many times its initial one (else: balance lost)."""


def _theory_variable(name: str, data) -> tuple:
    return variable(THEORY_KIND, name, data)


def _weighted_quantiles(values, weights, quantiles=QUANTILES) -> np.ndarray:
    """Quantiles of values with probability masses ``weights`` (midpoint rule)."""
    values, weights = np.ravel(values), np.ravel(weights)
    order = np.argsort(values, kind="stable")
    values, weights = values[order], weights[order] / weights.sum()
    positions = np.cumsum(weights) - 0.5 * weights
    return np.interp(quantiles, positions, values)


def verdict(model: FiniteSizeModel, initial_rates: np.ndarray, loss: LossReport,
            after_s: float | None = None) -> str:
    """The ``theory_status`` text of a loss of balance (module docstring)."""
    end_rates = model.last_state.mean_rates if model.last_state is not None else initial_rates
    runaway = bool(np.any(end_rates > RUNAWAY_GROWTH * initial_rates))
    kind = "runaway" if runaway else "balance lost"
    at = loss.time_ms / 1000.0 + (after_s or 0.0)
    text = f"{kind} at t = {at:.4g} s"
    classes = loss.describe_classes(model.n_classes)
    if classes:
        text += f" ({'rising' if runaway else 'leaving'}: {classes})"
    if after_s is not None:
        text = f"no finite-size fixed point: balanced over the run, {text} when continued"
    return text


def predict_finite_size(config: dict, n_classes: int = DEFAULT_CLASSES) -> xr.Dataset:
    """Finite-size theory of one run config, as a dataset aligned with the leading order's.

    Parameters
    ----------
    config : dict
        Run config (resolved here). Nothing is read from simulations.
    n_classes : int
        Neuron classes per population.

    Returns
    -------
    xarray.Dataset
        The variables of :func:`balanced_stdp.theory.predict` with the finite-size values
        of ``mean_weight``, ``population_rate`` (trajectory; NaN after
        ``balance_lost_at_s``), ``balanced_rate`` (at the initial weights),
        ``fixed_point_weight``/``fixed_point_rate`` (the dynamics continued from the
        trajectory's end until the class weights stop moving, at most 10 T, then Newton
        sweeps for rules with a restoring root; NaN where the balanced state is lost on
        the way or the drift has no fixed point; with optogenetics also ``_laser_on``),
        ``relaxation_time_s``, ``spike_count_cov``/``spike_count_corr`` (spec §6.2 closed
        forms at the finite-size rates), plus ``rate_quantile``, ``rate_sd``,
        ``final_weight_quantile``, ``net_input`` and ``quenched_input_sd``. Attributes
        ``theory_order = "finite_size"`` and ``finite_size_status`` (the verdict).

    Raises
    ------
    NoBalancedStateError
        When the initial weights have no finite-size balanced state.
    """
    config = resolve_config(copy.deepcopy(config))
    model = FiniteSizeModel(config, n_classes)
    times_s = RecordGrid.from_config(config).times_s()
    initial_state = solve_initial(model)
    run = model.trajectory(1000.0 * times_s)
    status = "ok"
    if run["loss"].lost:
        status = verdict(model, initial_state.mean_rates, run["loss"])
    fixed, fixed_state, converged, fixed_status = _fixed_point(model, run, times_s[-1],
                                                               initial_state)
    status = fixed_status if status == "ok" else status
    values, distributions = _finite_size_values(model, run, times_s, initial_state, fixed,
                                                fixed_state)
    if model.network.laser_window_ms is not None:
        values.update(_laser_on_fixed_point(model, run, times_s[-1]))
    ds = _on_leading_order_template(predict(config), config, values)
    ds = _with_distributions(ds, config, distributions)
    ds = ds.transpose(*swept_values(config), ...)
    ds.attrs.update({
        "theory_order": "finite_size",
        "finite_size_status": status,
        "stability_source": "leading order (spec 6.5); the finite-size fixed point "
                            + ("converged" if converged else "is the end of the settled "
                               "dynamics (or NaN: none)"),
        "finite_size_classes": int(n_classes),
        "finite_size_method": "EIF transfer function tabulated for Gaussian input over "
                              "(u, sigma_V, tau) and corrected for the shot noise; quenched "
                              "input heterogeneity; class-resolved weights "
                              "(balanced_stdp.theory.finite_size_model)",
        "transfer_function_measurements": int(model.calibrations),
    })
    return ds


def _fixed_point(model: FiniteSizeModel, run: dict, duration_s: float, initial_state):
    """Class weights, state, convergence and status of the finite-size fixed point: the
    dynamics continued from the trajectory's end, then :meth:`FiniteSizeModel.fixed_point`;
    NaN weights where the balanced state is lost or the drift has no fixed point."""
    end_weights, end_state = run["class_weights"], run["state"]
    nan = [np.full_like(w, np.nan) for w in end_weights]
    if run["loss"].lost:                 # no finite-size state to continue from
        return nan, end_state, False, "ok"
    if not model.blocks:
        return end_weights, end_state, False, "ok"
    if not model.has_restoring_drift(end_state):
        return nan, end_state, False, ("ok; no finite-size fixed point: the mean drift "
                                       "vanishes (weights only diffuse)")
    model.laser_on = model.network.laser_on_at(1000.0 * duration_s - 1e-9)
    settled, settled_state, loss = model.settle(end_weights, end_state,
                                                FIXED_POINT_SEARCH_IN_T * 1000.0 * duration_s)
    if loss.lost:
        return nan, end_state, False, verdict(model, initial_state.mean_rates, loss,
                                              after_s=duration_s)
    try:
        weights, state, converged = model.fixed_point(settled, settled_state)
    except NoBalancedStateError as error:
        return nan, end_state, False, f"no finite-size fixed point: {error}"
    return weights, state, converged, "ok"


def _laser_on_fixed_point(model: FiniteSizeModel, run: dict, duration_s: float) -> dict:
    """The fixed point with the optogenetic layer on (settled from the trajectory's end)."""
    layout = model.network.layout
    weights = model.network.initial_weights.copy()
    rates = np.full(model.n_pop, np.nan)
    if not run["loss"].lost and model.blocks:
        try:
            model.laser_on = True
            state = model.solve_rates(run["class_weights"], run["state"])
            settled, state, loss = model.settle(run["class_weights"], state,
                                                FIXED_POINT_SEARCH_IN_T * 1000.0 * duration_s)
            if not loss.lost:
                for w, blk in zip(settled, model.blocks):
                    weights[blk.post, blk.pre] = w.mean()
                rates = state.mean_rates
            else:
                weights[:] = np.nan
        except NoBalancedStateError:
            weights[:] = np.nan
    return {"fixed_point_weight_laser_on": layout.pool_synapses(weights),
            "fixed_point_rate_laser_on": 1000.0 * layout.pool_populations(rates)}


def _pooled_distributions(model: FiniteSizeModel, weights, state) -> dict:
    """Rate and weight quantiles, rate s.d., net input and quenched s.d. per dataset label
    (pooled labels — E = E1 ∪ E2 — mix their groups' classes by neuron counts)."""
    layout = model.network.layout
    q = np.asarray(layout.fractions)
    k = model.n_classes
    rate_q, rate_sd = [], []
    for groups in layout.populations.values():
        rates = state.class_rates[list(groups)]
        mass = np.repeat(q[list(groups)][:, None], k, axis=1)
        rate_q.append(_weighted_quantiles(rates, mass))
        mean = np.sum(mass * rates) / mass.sum()
        rate_sd.append(math.sqrt(np.sum(mass * (rates - mean) ** 2) / mass.sum()))
    block = {(blk.post, blk.pre): w for w, blk in zip(weights, model.blocks)}
    initial = model.network.initial_weights
    weight_q = []
    for label in layout.synapses:
        values, masses = [], []
        for a, b in layout.synapse_blocks(label):
            w = block.get((a, b), np.full((k, k), initial[a, b]))
            values.append(w.ravel())
            masses.append(np.full(w.size, q[a] * q[b]))
        weight_q.append(_weighted_quantiles(np.concatenate(values), np.concatenate(masses)))
    return {"rate_quantile": 1000.0 * np.array(rate_q), "rate_sd": 1000.0 * np.array(rate_sd),
            "final_weight_quantile": np.array(weight_q),
            "net_input": layout.pool_populations(state.mean_input),
            "quenched_input_sd": layout.pool_populations(state.quenched_sd)}


def _finite_size_values(model: FiniteSizeModel, run: dict, times_s: np.ndarray,
                        initial_state, fixed: list, fixed_state) -> tuple[dict, dict]:
    """The leading-order variables' finite-size values, and the distributions at the
    trajectory's end, pooled into the dataset's labels."""
    net, layout = model.network, model.network.layout
    lost = run["loss"].lost
    block_traj = np.repeat(net.initial_weights[None], times_s.size, axis=0)
    for k, blk in enumerate(model.blocks):
        block_traj[:, blk.post, blk.pre] = run["weights"][:, k]
    if lost:
        block_traj[times_s * 1000.0 > run["loss"].time_ms] = np.nan
    fp_block = net.initial_weights.copy()
    for w, blk in zip(fixed, model.blocks):
        fp_block[blk.post, blk.pre] = w.mean()
    fp_rates = fixed_state.mean_rates if np.all(np.isfinite(fp_block)) \
        else np.full(model.n_pop, np.nan)
    final_rates = run["rates"][-1]
    window_ms = 1000.0 * model.config["recording"]["covariance_window_s"]
    cov = count_covariance_closed_form(
        final_rates, net.correlation, float(net.external_rates()[0]), window_ms,
        net.n_neurons, float(net.layer_fractions[0]))
    cov_values = layout.pool_pairs(cov)
    variance = window_ms * final_rates
    values = {
        "mean_weight": layout.pool_synapses(block_traj),
        "population_rate": 1000.0 * layout.pool_populations(run["rates"]).T,
        "balanced_rate": 1000.0 * layout.pool_populations(initial_state.mean_rates),
        "fixed_point_weight": layout.pool_synapses(fp_block),
        "fixed_point_rate": 1000.0 * layout.pool_populations(fp_rates),
        # the agreement tables' estimator, so theory and simulation are measured alike
        "relaxation_time_s": (relaxation_time(times_s, run["weights"][:, 0]) if model.blocks
                              else math.nan),
        "spike_count_cov": cov_values,
        "spike_count_corr": cov_values / layout.pool_pairs(np.sqrt(np.outer(variance,
                                                                            variance))),
        "balance_lost_at_s": run["loss"].time_ms / 1000.0,
    }
    distributions = _pooled_distributions(model, run["class_weights"], run["state"])
    if lost:
        for name in ("rate_quantile", "rate_sd", "final_weight_quantile", "net_input",
                     "quenched_input_sd"):
            distributions[name] = np.full_like(distributions[name], np.nan)
    return values, distributions


def _on_leading_order_template(leading: xr.Dataset, config: dict, values: dict) -> xr.Dataset:
    """The leading-order prediction with ``values`` in place of its variables' data
    (same dimensions, coordinates and attributes)."""
    ds = leading.copy()
    swept = {d: ds[d].values for d in swept_values(config)}
    for name, data in values.items():
        template = ds[name].transpose(*swept, ...)
        core = template.shape[len(swept):]
        ds[name] = template.copy(data=np.asarray(data, dtype=float).reshape(
            (1,) * len(swept) + core))
    return ds


def _with_distributions(ds: xr.Dataset, config: dict, values: dict | None) -> xr.Dataset:
    """Add the finite-size theory's own variables (NaN where ``values`` is None, so every
    finite-size dataset has the same variables and combines with the others)."""
    swept = {d: ds[d].values for d in swept_values(config)}
    shapes = {"rate_quantile": ("population", "quantile"), "rate_sd": ("population",),
              "final_weight_quantile": ("synapse", "quantile"), "net_input": ("population",),
              "quenched_input_sd": ("population",)}
    for name, dims in shapes.items():
        shape = tuple(len(QUANTILES) if d == "quantile" else ds.sizes[d] for d in dims)
        data = np.full(shape, np.nan) if values is None else np.asarray(values[name], float)
        var_dims, var_data, attrs = _theory_variable(name, data)
        ds[name] = xr.DataArray(var_data, dims=var_dims, attrs=attrs,
                                coords={"quantile": list(QUANTILES)} if "quantile" in dims
                                else None).expand_dims(swept)
    return ds


def predict_finite_size_point(config: dict, run: xr.Dataset | None = None) -> xr.Dataset:
    """The finite-size theory of one grid point, as the workflow records it.

    ``run`` is not used for the prediction (nothing is fitted to the simulation it is
    compared with); it is accepted so the workflow can call both theories alike. The
    variable ``theory_status`` is the verdict (module docstring); where the balanced
    state has no finite-size solution at the initial weights, the point gets the
    leading-order prediction and the status says why.
    """
    config = resolve_config(copy.deepcopy(config))
    try:
        ds = predict_finite_size(config)
        status = ds.attrs["finite_size_status"]
    except (FiniteSizeUnsupported, NoBalancedStateError) as error:
        status = f"leading order only: {error}"
        ds = _with_distributions(predict(config), config, None)
        ds.attrs["theory_order"] = "finite_size"
        ds.attrs["finite_size_status"] = status
    dims, data, attrs = _theory_variable("theory_status", status)
    ds["theory_status"] = xr.DataArray(data, dims=dims, attrs=attrs).expand_dims(
        {d: ds[d].values for d in swept_values(config)})
    return ds


def predict_finite_size_points(configs) -> list[xr.Dataset]:
    """:func:`predict_finite_size_point` for many grid points, computed once per seed.

    The finite-size theory does not depend on the seed (its transfer functions use their
    own fixed seeds), so points that differ only in ``seed`` share one computation and
    get their own ``seed`` coordinate and ``config`` attribute.
    """
    computed: dict[str, xr.Dataset] = {}
    out = []
    for config in configs:
        config = resolve_config(copy.deepcopy(config))
        key = config_to_json({**config, "seed": 0})
        if key not in computed:
            computed[key] = predict_finite_size_point(config)
        ds = computed[key].assign_coords(seed=[int(config["seed"])])
        ds.attrs = {**ds.attrs, "seed": int(config["seed"]), "config": config_to_json(config)}
        out.append(ds)
    return out
