"""Finite-size theory as datasets: the workflow's third theory, beside the leading order's.

:func:`predict_finite_size` runs the class-resolved model of :mod:`.finite_size_model`
for one run config and returns a dataset with the variables and coordinates of the
leading-order prediction (:func:`.prediction.predict`) plus the rate and weight
distributions; :func:`predict_finite_size_point` and :func:`predict_finite_size_points`
are what the workflow records per grid point (``theory_status`` says where the theory
does not apply). Nothing is fitted to the simulations it is compared with.
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
from .finite_size_model import (DEFAULT_CLASSES, QUANTILES, ClassState, FiniteSizeModel,
                                FiniteSizeUnsupported)
from .mean_field_network import NoBalancedStateError
from .prediction import predict

FIXED_POINT_SEARCH_IN_T = 10.0
"""The dynamics continue from the trajectory's end for at most this many run durations
before the fixed-point sweeps (iSTDP: until its manifold is reached)."""


def _theory_variable(name: str, data) -> tuple:
    return variable(THEORY_KIND, name, data)


def _class_quantiles(values: np.ndarray, quantiles=QUANTILES) -> np.ndarray:
    """Quantiles of equally weighted class values (each class a 1/n probability mass)."""
    flat = np.sort(np.ravel(values))
    positions = (np.arange(flat.size) + 0.5) / flat.size
    return np.interp(quantiles, positions, flat)


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
        of ``mean_weight``, ``population_rate`` (trajectory), ``balanced_rate`` (at the
        initial weights), ``fixed_point_weight``/``fixed_point_rate`` (the dynamics
        continued from the trajectory's end until the class weights stop moving, at most
        10 T, then Newton sweeps for rules with a restoring root; for iSTDP the point of
        its manifold reached), ``relaxation_time_s`` (1/e time of
        the mean-weight trajectory, :func:`balanced_stdp.estimators.relaxation_time`),
        ``spike_count_cov`` and
        ``spike_count_corr`` (spec §6.2 closed forms at the finite-size rates), plus
        ``rate_quantile``, ``rate_sd``, ``final_weight_quantile``, ``net_input`` and
        ``quenched_input_sd``. Stability labels are the leading order's (attribute
        ``stability_source``). Attribute ``theory_order = "finite_size"``.

    Raises
    ------
    FiniteSizeUnsupported
        For the three-population (optogenetic) network.
    """
    config = resolve_config(copy.deepcopy(config))
    model = FiniteSizeModel(config, n_classes)
    times_s = RecordGrid.from_config(config).times_s()
    initial_state = model.solve_rates(model.initial_class_weights())
    run = model.trajectory(1000.0 * times_s)
    fixed, fixed_state, converged = _fixed_point(model, run, times_s[-1])
    values, distributions = _finite_size_values(model, run, times_s, initial_state, fixed,
                                                fixed_state)
    ds = _on_leading_order_template(predict(config), config, values)
    ds = _with_distributions(ds, config, distributions)
    ds = ds.transpose(*swept_values(config), ...)
    ds.attrs.update({
        "theory_order": "finite_size",
        "stability_source": "leading order (spec 6.5); the finite-size fixed point "
                            + ("converged" if converged else "is the end of the trajectory"),
        "finite_size_classes": int(n_classes),
        "finite_size_method": "EIF transfer function measured on Poisson-driven model "
                              "neurons; quenched input heterogeneity; class-resolved weights "
                              "(balanced_stdp.theory.finite_size_model)",
        "transfer_function_measurements": int(model.transfer_measurements),
    })
    return ds


def _fixed_point(model: FiniteSizeModel, run: dict, duration_s: float,
                 ) -> tuple[list, ClassState, bool]:
    """Class weights and state at the finite-size fixed point, and whether the Newton
    sweeps converged: the dynamics continued from the trajectory's end, then
    :meth:`FiniteSizeModel.fixed_point`; NaN weights where there is no finite-size state."""
    lost = run["balance_lost_ms"]
    end_weights, end_state = run["class_weights"], run["state"]
    if math.isfinite(lost):               # no finite-size state to continue from
        return [np.full_like(w, np.nan) for w in end_weights], end_state, False
    if not model.blocks:
        return end_weights, end_state, False
    try:
        settled, settled_state = model.settle(end_weights, end_state,
                                              FIXED_POINT_SEARCH_IN_T * 1000.0 * duration_s)
        return model.fixed_point(settled, settled_state)
    except NoBalancedStateError:
        return [np.full_like(w, np.nan) for w in end_weights], end_state, False


def _finite_size_values(model: FiniteSizeModel, run: dict, times_s: np.ndarray,
                        initial_state: ClassState, fixed: list, fixed_state: ClassState,
                        ) -> tuple[dict, dict]:
    """The leading-order variables' finite-size values, and the distributions (rate and
    weight quantiles, rate s.d., net input and quenched input s.d.) at the trajectory's
    end, pooled into the dataset's labels."""
    net, layout = model.network, model.network.layout
    lost = run["balance_lost_ms"]
    end_weights, end_state = run["class_weights"], run["state"]
    block_traj = np.repeat(net.initial_weights[None], times_s.size, axis=0)
    for k, blk in enumerate(model.blocks):
        block_traj[:, blk.post, blk.pre] = run["weights"][:, k]
    if math.isfinite(lost):
        block_traj[times_s * 1000.0 > lost] = np.nan
    fp_block = net.initial_weights.copy()
    for w, blk in zip(fixed, model.blocks):
        fp_block[blk.post, blk.pre] = w.mean()
    final_rates = end_state.mean_rates if not math.isfinite(lost) else np.full(2, np.nan)
    window_ms = 1000.0 * model.config["recording"]["covariance_window_s"]
    cov = count_covariance_closed_form(
        final_rates, net.correlation, float(net.external_rates()[0]), window_ms,
        net.n_neurons, float(net.layer_fractions[0]))
    cov_values = layout.pool_pairs(cov)
    variance = window_ms * final_rates
    quantile_rates = np.stack([_class_quantiles(end_state.class_rates[a])
                               for a in range(2)]) * 1000.0
    weight_quantiles = np.empty((len(layout.synapses), len(QUANTILES)))
    for s_index, value in enumerate(layout.pool_synapses(net.initial_weights)):
        weight_quantiles[s_index] = value
    for w, blk in zip(end_weights, model.blocks):
        weight_quantiles[list(layout.synapses).index(blk.label)] = _class_quantiles(w)
    if math.isfinite(lost):
        weight_quantiles[:] = np.nan
        quantile_rates[:] = np.nan
    values = {
        "mean_weight": layout.pool_synapses(block_traj),
        "population_rate": 1000.0 * layout.pool_populations(run["rates"]).T,
        "balanced_rate": 1000.0 * layout.pool_populations(initial_state.mean_rates),
        "fixed_point_weight": layout.pool_synapses(fp_block),
        "fixed_point_rate": 1000.0 * layout.pool_populations(fixed_state.mean_rates),
        # the agreement tables' estimator, so theory and simulation are measured alike
        "relaxation_time_s": (relaxation_time(times_s, run["weights"][:, 0]) if model.blocks
                              else math.nan),
        "spike_count_cov": cov_values,
        "spike_count_corr": cov_values / layout.pool_pairs(np.sqrt(np.outer(variance,
                                                                            variance))),
        "balance_lost_at_s": lost / 1000.0,
    }
    distributions = {
        "rate_quantile": quantile_rates,
        "rate_sd": 1000.0 * end_state.rate_sd,
        "final_weight_quantile": weight_quantiles,
        "net_input": end_state.mean_input,
        "quenched_input_sd": end_state.quenched_sd,
    }
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
    compared with); it is accepted so the workflow can call both theories alike. Where
    the finite-size theory does not apply (three populations) or the balanced state has
    no finite-size solution at the initial weights, the point gets the leading-order
    prediction and ``theory_status`` says why.
    """
    config = resolve_config(copy.deepcopy(config))
    status = "ok"
    try:
        ds = predict_finite_size(config)
    except (FiniteSizeUnsupported, NoBalancedStateError) as error:
        status = f"leading order only: {error}"
        ds = _with_distributions(predict(config), config, None)
        ds.attrs["theory_order"] = "finite_size"
    dims, data, attrs = _theory_variable("theory_status", status)
    ds["theory_status"] = xr.DataArray(data, dims=dims, attrs=attrs).expand_dims(
        {d: ds[d].values for d in swept_values(config)})
    return ds


def predict_finite_size_points(configs) -> list[xr.Dataset]:
    """:func:`predict_finite_size_point` for many grid points, computed once per seed.

    The finite-size theory does not depend on the seed (its transfer functions use their
    own fixed seed), so points that differ only in ``seed`` share one computation and
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
