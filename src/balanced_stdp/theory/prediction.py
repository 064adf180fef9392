"""Theory predictions as xarray datasets aligned with the simulator's (docs/data-contract.md).

:func:`predict` turns a run config into the mean-field predictions of spec §6 —
trajectory, balanced and fixed-point rates and weights, stability, count covariances —
with the simulator's variable names, units and coordinates, including the same
length-1 swept dimensions (``rule``, ``c``, ``seed`` and every ``sweep_dims`` key),
so theory and simulation datasets line up with ``xr.align`` / ``combine_by_coords``.
:func:`predict_from_simulation` does the same with the finite-size Δ measured from a
finished run (spec §6.6) and adds the rate–weight covariance terms of §6.7.
:func:`parameter_sweep` gives fixed points along any config key (c, β₀, η, …).

Reported units: time s, rates Hz, weights mV, eigenvalues s⁻¹, K in Hz
(internally ms and kHz).
"""

from __future__ import annotations

import copy

import numpy as np
import xarray as xr

from ..config import config_to_json, resolve_config, with_dotted
from ..contract import (SYNAPSE_TYPES, THEORY_KIND, RecordGrid, add_swept_dims, coordinates,
                        dimension_name, provenance, rule_label, squeeze_swept, swept_values,
                        variable)
from . import measured_corrections
from .covariance import count_covariance, network_kernel_integrals
from .dynamics import FixedPoint, MeanFieldModel
from .mean_field_network import Network, NoBalancedStateError

# ------------------------------------------------------------------ layout helpers
# Dataset labels and the pooling of the network's groups into them come from the data
# contract (balanced_stdp.contract.Layout), the same layout the simulator records with.
def _synapse_values(network: Network, block_weights: np.ndarray) -> np.ndarray:
    """Per-``synapse`` values (pooled types, then E1/E2 blocks) of group block values."""
    return network.layout.pool_synapses(block_weights)


def _population_values(network: Network, values: np.ndarray) -> np.ndarray:
    """Per-``population`` values (E, I [+ E1, E2]) of per-group values."""
    return network.layout.pool_populations(values)


def _var(name: str, data, context: str = "", **attrs) -> tuple:
    return variable(THEORY_KIND, name, data, context, **attrs)


# ------------------------------------------------------------------ main entry points
def _fixed_point_variables(model: MeanFieldModel, fp: FixedPoint, suffix: str = "",
                           context: str = "") -> dict:
    net = model.network
    modes = max(model.n_plastic, 1)
    eig = np.full(modes, np.nan + 0j)
    eig[:fp.eigenvalues_per_ms.size] = fp.eigenvalues_per_ms
    eig_per_s = 1000.0 * eig
    out = {
        "fixed_point_weight" + suffix: _var(
            "fixed_point_weight", _synapse_values(net, fp.block_weights), context),
        "fixed_point_rate" + suffix: _var(
            "fixed_point_rate", 1000.0 * _population_values(net, fp.rates_khz), context),
        "stable" + suffix: _var("stable", np.int8(fp.stable), context),
        "stability" + suffix: _var("stability", fp.label, context),
    }
    if not suffix:
        re = eig_per_s.real
        relaxation = (1.0 / abs(np.nanmax(re)) if fp.label.startswith("stable") else np.nan)
        out.update({
            "jacobian_eigenvalue_real": _var("jacobian_eigenvalue_real", eig_per_s.real),
            "jacobian_eigenvalue_imag": _var("jacobian_eigenvalue_imag", eig_per_s.imag),
            "relaxation_time_s": _var("relaxation_time_s", relaxation),
        })
    return out


def predict(config: dict, delta=None, excitatory_gain_khz_per_mv_ms: float | None = None,
            shared_input_kernels: bool = False) -> xr.Dataset:
    """Mean-field predictions of spec §6 for one run config.

    Parameters
    ----------
    config : dict
        Run config (the one the simulator reads; partial configs are resolved).
    delta : array_like, optional
        Finite-size correction Δ (mV/ms) per network population (E, I or E1, E2, I);
        zero (leading order) by default. See :func:`predict_from_simulation`.
    excitatory_gain_khz_per_mv_ms : float, optional
        E f–I gain regularising the three-population E1−E2 mode (see
        :mod:`balanced_stdp.theory.mean_field_network`); ignored for two populations.
    shared_input_kernels : bool
        Include the O(1/N) shared-input term in K (off: the authors' convention).

    Returns
    -------
    xarray.Dataset
        ``mean_weight`` (synapse, time) and ``population_rate`` (population, time):
        ODE trajectory on the simulator's record grid in real time (NaN after
        ``balance_lost_at_s``); ``balanced_rate`` (population) at the initial weights;
        ``fixed_point_weight`` (synapse), ``fixed_point_rate`` (population),
        ``stable``, ``stability``, ``jacobian_eigenvalue_real``/``_imag`` (mode),
        ``relaxation_time_s``; ``spike_count_cov`` and ``spike_count_corr``
        (pair_type, T_win = ``recording.covariance_window_s``) and ``kernel_k``,
        ``kernel_k_plus``, ``kernel_k_minus`` (synapse) at the final state of the
        trajectory; with optogenetics also ``fixed_point_weight_laser_on`` etc. All
        variables carry the length-1 swept dims and CF ``units``/``long_name``; the
        config is the JSON attribute ``config``.

    Raises
    ------
    Notes
    -----
    If the initial weights admit no positive balanced state (spec §6.1),
    ``balanced_rate`` is NaN, the trajectory is NaN from ``balance_lost_at_s`` = 0, and
    the fixed point is still searched from the default guesses.
    """
    config = resolve_config(copy.deepcopy(config))
    model = MeanFieldModel(config, delta, excitatory_gain_khz_per_mv_ms, shared_input_kernels)
    net = model.network
    times_s = RecordGrid.from_config(config).times_s()
    laser_at_start = net.laser_on_at(0.0)
    try:
        initial_rates = net.balanced_rates(net.initial_weights, model.delta, laser_at_start)
    except NoBalancedStateError:
        # e.g. weak initial inhibition in the iSTDP sweep (j_ei(0) = −55): no balanced state
        # at the start, but the plastic weights can still have a balanced fixed point.
        initial_rates = np.full(net.n_populations, np.nan)

    trajectory = model.trajectory(1000.0 * times_s)
    end_state = np.array([trajectory.block_weights[-1][b.post, b.pre] for b in model.blocks])
    fp = model.fixed_point([end_state])

    # Covariances and kernels at the final state of the trajectory (the simulator measures
    # them over (T/2, T] with its current weights).
    final_weights = trajectory.block_weights[-1]
    laser_at_end = net.laser_on_at(1000.0 * times_s[-1] - 1e-9)
    window_ms = 1000.0 * config["recording"]["covariance_window_s"]
    if np.all(np.isfinite(final_weights)):
        cov = count_covariance(net, final_weights, window_ms, laser_at_end)
        k_total, k_plus, k_minus = network_kernel_integrals(net, final_weights, laser_at_end,
                                                            shared_input_kernels)
        final_rates = trajectory.rates_khz[-1]
    else:
        n = net.n_populations
        cov = k_total = k_plus = k_minus = np.full((n, n), np.nan)
        final_rates = np.full(n, np.nan)
    layout = net.layout
    cov_values = layout.pool_pairs(cov)
    variance = window_ms * final_rates          # Poisson count variance (Fano factor 1)
    var_product = layout.pool_pairs(np.sqrt(np.outer(variance, variance)))
    delta_values = np.zeros(net.n_populations) if model.delta is None else model.delta

    data = {
        "mean_weight": _var("mean_weight", _synapse_values(net, trajectory.block_weights)),
        "population_rate": _var("population_rate",
                                1000.0 * _population_values(net, trajectory.rates_khz).T),
        "initial_weight": _var("initial_weight", _synapse_values(net, net.initial_weights)),
        "balanced_rate": _var("balanced_rate", 1000.0 * _population_values(net, initial_rates)),
        **_fixed_point_variables(model, fp),
        "spike_count_cov": _var("spike_count_cov", cov_values,
                                window_s=config["recording"]["covariance_window_s"]),
        "spike_count_corr": _var("spike_count_corr", cov_values / var_product),
        "kernel_k": _var("kernel_k", 1000.0 * _synapse_values(net, k_total)),
        "kernel_k_plus": _var("kernel_k_plus", 1000.0 * _synapse_values(net, k_plus)),
        "kernel_k_minus": _var("kernel_k_minus", 1000.0 * _synapse_values(net, k_minus)),
        "balance_lost_at_s": _var("balance_lost_at_s", trajectory.balance_lost_ms / 1000.0),
        "finite_size_delta": _var("finite_size_delta", delta_values),
    }
    if net.laser_window_ms is not None:
        guess = np.array([fp.block_weights[b.post, b.pre] for b in model.blocks])
        fp_on = model.fixed_point([guess], laser_on=True)
        data.update(_fixed_point_variables(model, fp_on, "_laser_on", " while X2 is on"))
    coords = coordinates(time=times_s, population=list(layout.populations),
                         network_population=list(layout.groups), synapse=list(layout.synapses),
                         pair_type=list(layout.pair_types),
                         mode=np.arange(max(model.n_plastic, 1)))
    ds = add_swept_dims(xr.Dataset(data, coords=coords), config)
    ds.attrs = {
        "title": "balanced-stdp mean-field theory prediction",
        "kind": THEORY_KIND,
        "Conventions": "CF-1.10",
        "config": config_to_json(config),
        "rule": rule_label(config),
        "seed": int(config["seed"]),
        **provenance(),
        "theory_order": "leading order" if model.delta is None else "Delta-corrected (spec 6.6)",
        "plastic_blocks": ",".join(b.label for b in model.blocks) or "none",
        "covariance_convention": ("count covariance: correlated term for c > 0, shared-input "
                                  "O(1/N) term at c = 0; K from the correlated term"
                                  + (" plus shared-input term" if shared_input_kernels else "")),
        "excitatory_gain_khz_per_mv_ms": net.excitatory_gain_khz_per_mv_ms,
    }
    return ds


class DivergedRunError(ValueError):
    """A Δ-corrected prediction was asked of a run the divergence guard stopped."""


def diverged_at_s(run: xr.Dataset) -> float | None:
    """Simulated time (s) at which the divergence guard stopped ``run``; None if it did not
    (NaN if the time is unknown)."""
    diverged = run.attrs.get("status") == "diverged" or (
        "diverged" in run and bool(np.asarray(run["diverged"]).any()))
    if not diverged:
        return None
    at_s = run.attrs.get("diverged_at_s")
    if not isinstance(at_s, (int, float)) and "diverged_at_s" in run:
        at_s = float(np.asarray(run["diverged_at_s"]).ravel()[0])
    return float(at_s) if isinstance(at_s, (int, float)) else float("nan")


def check_converged(run: xr.Dataset) -> None:
    """Raise :class:`DivergedRunError` if the divergence guard stopped ``run``."""
    at_s = diverged_at_s(run)
    if at_s is not None:
        reason = run.attrs.get("divergence_reason", "divergence guard")
        raise DivergedRunError(f"the run diverged at t = {at_s:g} s ({reason}); a Δ-corrected "
                               "prediction needs a run that reached its steady state")


def check_ever_balanced(config: dict, prediction: xr.Dataset) -> None:
    """Refuse a leading-order ``prediction`` that is balanced nowhere.

    :func:`predict` accepts initial weights without a positive balanced state (the
    plastic weights may still reach a balanced fixed point, as in the iSTDP sweep from
    j_ei(0) = −55). If there is also no fixed point, the parameter set has no balanced
    state the theory could describe: a user asking for its theory gets the reason.

    Raises
    ------
    NoBalancedStateError
        Naming the failing condition at the initial weights (spec §6.1).
    """
    if np.isfinite(prediction["balanced_rate"].values).any() or \
            np.isfinite(prediction["fixed_point_weight"].values).any():
        return
    network = MeanFieldModel(resolve_config(copy.deepcopy(config))).network
    raise NoBalancedStateError(network.balance_problem(network.initial_weights)
                               or "no balanced state at the initial weights or a fixed point")


def predict_point(config: dict, run: xr.Dataset | None = None) -> xr.Dataset:
    """The theory of one grid point, as the workflow records it.

    Δ-corrected from ``run`` when one is given (:func:`predict_from_simulation`), else
    leading order (:func:`predict`). A point whose run diverged, or whose Δ-corrected
    network has no balanced state, does not fail its experiment: it gets the
    leading-order prediction, and the variable ``theory_status`` says why
    (``"ok"`` otherwise), so figures draw every other point.
    """
    status = "ok"
    if run is not None:
        try:
            check_converged(run)
            ds = predict_from_simulation(run)
        except (DivergedRunError, NoBalancedStateError) as error:
            status = f"no Δ correction: {error}"
            run = None
    if run is None:
        ds = predict(config)
    dims, data, attrs = _var("theory_status", status)
    ds["theory_status"] = xr.DataArray(data, dims=dims, attrs=attrs).expand_dims(
        {d: ds[d].values for d in swept_values(resolve_config(copy.deepcopy(config)))})
    return ds


def predict_from_simulation(run: xr.Dataset, shared_input_kernels: bool = False,
                            net_input: bool = False) -> xr.Dataset:
    """Δ-corrected predictions for a finished run (spec §6.6–§6.7).

    Reads the config from ``run.attrs['config']``, measures Δ (and, for three
    populations, the E f–I gain) from the run, and returns :func:`predict` with that
    Δ plus:

    * ``leading_order_fixed_point_weight`` / ``_rate``: the uncorrected fixed point;
    * ``measured_mean_input`` (R_sims), ``mean_field_input`` (R_mean) and their
      difference ``input_difference`` (population), mV/ms;
    * ``rate_weight_cov_input`` (population): √N Σ_b p q_b Cov(j_ab, r_b), mV/ms;
    * ``manifold_weight`` (synapse): j*_0 − Cov(j_ab, r_b)/r_b* for plastic types
      (the iSTDP manifold relation, spec §6.7).

    The Δ-corrected ``fixed_point_weight`` is what figures overlay for iSTDP.

    Parameters
    ----------
    run : xarray.Dataset
        A finished run (docs/data-contract.md).
    shared_input_kernels : bool
        Include the O(1/N) shared-input term in K.
    net_input : bool
        Use the net-input variant of Δ ([derived here], see
        :mod:`balanced_stdp.theory.measured_corrections`); default: the spec's Δ.

    Raises
    ------
    DivergedRunError
        If the divergence guard stopped the run (it has no steady state to measure).
    """
    check_converged(run)
    config = measured_corrections.run_config(run)
    measurement = measured_corrections.measure(run, net_input=net_input)
    network = Network.from_config(config)
    gain = measured_corrections.excitatory_gain(run) if network.n_populations == 3 else None
    if gain is not None and not gain > 0:
        gain = None
    ds = predict(config, measurement.delta, gain, shared_input_kernels)
    leading_model = MeanFieldModel(config, None, gain, shared_input_kernels)
    leading = leading_model.fixed_point()
    net = leading_model.network
    sweep_dims = list(swept_values(config))

    def add(name, values):
        dims, data, attrs = _var(name, values)
        ds[name] = xr.DataArray(data, dims=dims, attrs=attrs).expand_dims(
            {d: ds[d].values for d in sweep_dims})

    add("leading_order_fixed_point_weight", _synapse_values(net, leading.block_weights))
    add("leading_order_fixed_point_rate", 1000.0 * _population_values(net, leading.rates_khz))
    measured = _population_values(net, measurement.measured_input) if net.n_populations == 2 \
        else _three_population_inputs(run, net, measurement)
    mean_field = _population_values(net, measurement.mean_field_input) if net.n_populations == 2 \
        else _three_population_inputs(run, net, measurement, mean_field=True)
    add("measured_mean_input", measured)
    add("mean_field_input", mean_field)
    add("input_difference", measured - mean_field)
    cov_input = measured_corrections.rate_weight_covariance_input(run)
    add("rate_weight_cov_input", np.array([cov_input.get(p, np.nan)
                                           for p in ds["population"].values]))
    manifold = np.full(ds.sizes["synapse"], np.nan)
    squeezed = squeeze_swept(run)
    if not net.layout.is_split:
        for k, synapse in enumerate(SYNAPSE_TYPES):
            if synapse in config["plasticity"] and leading.label != "none":
                (post,), (pre,) = net.layout.synapses[synapse]
                cov = float(squeezed["final_weight_rate_cov"].sel(synapse=synapse))
                manifold[k] = measured_corrections.manifold_weight(
                    leading.block_weights[post, pre], cov, 1000.0 * leading.rates_khz[pre])
    add("manifold_weight", manifold)
    ds.attrs["delta_source"] = ("measured from the simulation run: " + (
        "net-input variant -R_mean/sqrt(N) (derived here)" if net_input
        else "(R_sims - R_mean)/sqrt(N) (spec 6.6)"))
    ds.attrs["simulation_wall_time_s"] = run.attrs.get("wall_time_s", "unknown")
    return ds


def _three_population_inputs(run, network, measurement, mean_field=False):
    """E (pooled), I, E1, E2 values of R_sims or R_mean for a three-population run."""
    values = measurement.mean_field_input if mean_field else measurement.measured_input
    if not mean_field:
        run = squeeze_swept(run)
        labels = run["neuron_population"].values.astype(str)
        total = run["neuron_mean_input"].sel(source="total").values
        pooled = np.nanmean(total[np.char.startswith(labels, "E")])
        return np.array([pooled, values[2], values[0], values[1]])
    return _population_values(network, values)


# ------------------------------------------------------------------ parameter sweeps
def parameter_sweep(config: dict, key: str, values, delta=None,
                    excitatory_gain_khz_per_mv_ms: float | None = None) -> xr.Dataset:
    """Fixed points and their stability along one config key (e.g. ``c``, β₀, η).

    Each value continues from the previous fixed point (so a branch is followed until
    it disappears, e.g. at the Kohonen saddle-node).

    Returns
    -------
    xarray.Dataset
        ``fixed_point_weight`` (key, synapse), ``fixed_point_rate`` (key, population),
        ``stable``, ``jacobian_eigenvalue_real``/``_imag`` (key, mode); the dimension is
        ``key`` with dots replaced by ``_``.
    """
    config = resolve_config(copy.deepcopy(config))
    dim = dimension_name(key)
    pieces = []
    guess = None
    for value in values:
        cfg = resolve_config(with_dotted(config, key, value))
        model = MeanFieldModel(cfg, delta, excitatory_gain_khz_per_mv_ms)
        try:
            fp = model.fixed_point([guess] if guess is not None else ())
        except NoBalancedStateError:
            fp = FixedPoint(np.full_like(model.network.initial_weights, np.nan),
                            np.full(model.network.n_populations, np.nan),
                            np.full(model.n_plastic, np.nan + 0j), "none")
        if fp.label != "none":
            guess = np.array([fp.block_weights[b.post, b.pre] for b in model.blocks])
        layout = model.network.layout
        ds = xr.Dataset(_fixed_point_variables(model, fp), coords=coordinates(
            synapse=list(layout.synapses), population=list(layout.populations),
            mode=np.arange(max(model.n_plastic, 1))))
        pieces.append(ds.expand_dims({dim: [value]}))
    out = xr.concat(pieces, dim=dim)
    out.attrs = {"config": config_to_json(config), "swept_key": key,
                 "title": "balanced-stdp mean-field fixed points along a parameter"}
    return out
