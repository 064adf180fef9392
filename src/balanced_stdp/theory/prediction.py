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

from .. import __version__
from ..config import with_dotted, config_to_json, get_dotted, resolve_config, rule_label
from ..plasticity import SYNAPSE_TYPES
from . import finite_size
from .covariance import count_covariance, network_kernel_integrals
from .dynamics import FixedPoint, MeanFieldModel
from .network import Network, NoBalancedStateError, synapse_block_weights

SPLIT_SYNAPSES = ("e1e1", "e1e2", "e2e1", "e2e2", "e1i", "e2i", "ie1", "ie2")
SPLIT_PAIRS = ("e1e1", "e1e2", "e2e2", "e1i", "e2i")


# ------------------------------------------------------------------ layout helpers
def _synapse_labels(network: Network) -> list[str]:
    labels = list(SYNAPSE_TYPES)
    if network.n_populations == 3:
        labels += list(SPLIT_SYNAPSES)
    return labels


def _synapse_values(network: Network, block_weights: np.ndarray) -> np.ndarray:
    """Per-synapse-label values (pooled types, then E1/E2 blocks) of block weights."""
    pooled = synapse_block_weights(network, block_weights)
    values = [pooled[s] for s in SYNAPSE_TYPES]
    if network.n_populations == 3:
        index = {"e1": 0, "e2": 1, "i": 2}
        for label in SPLIT_SYNAPSES:
            post, pre = (label[:2], label[2:]) if label[:2] in index else (label[:1], label[1:])
            values.append(block_weights[..., index[post], index[pre]])
    return np.array(values)


def _population_values(network: Network, rates: np.ndarray) -> np.ndarray:
    """E, I (+ E1, E2) values from per-network-population values (E pooled by size)."""
    rates = np.asarray(rates, dtype=float)
    if network.n_populations == 2:
        return rates
    q = network.fractions
    pooled = (q[0] * rates[..., 0] + q[1] * rates[..., 1]) / (q[0] + q[1])
    return np.stack([pooled, rates[..., 2], rates[..., 0], rates[..., 1]], axis=-1)


def _pair_values(network: Network, matrix: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Pair-type values (ee, ei, ii [+ split]) of a population matrix (pooled by size)."""
    if network.n_populations == 2:
        return ["ee", "ei", "ii"], np.array([matrix[0, 0], matrix[0, 1], matrix[1, 1]])
    q = network.fractions
    qe = q[0] + q[1]
    ee = (q[0] ** 2 * matrix[0, 0] + q[0] * q[1] * (matrix[0, 1] + matrix[1, 0])
          + q[1] ** 2 * matrix[1, 1]) / qe ** 2
    ei = (q[0] * matrix[0, 2] + q[1] * matrix[1, 2]) / qe
    values = [ee, ei, matrix[2, 2], matrix[0, 0], matrix[0, 1], matrix[1, 1], matrix[0, 2],
              matrix[1, 2]]
    return ["ee", "ei", "ii", *SPLIT_PAIRS], np.array(values)


def record_times_s(config: dict) -> np.ndarray:
    """The simulator's record grid (s): end of each record bin, the last one capped at T.

    Computed exactly as the simulator does (integer step counts × dt), so the time
    coordinates of theory and simulation datasets compare equal.
    """
    dt = config["dt_ms"]
    n_steps = round(config["duration_s"] * 1000.0 / dt)
    record_steps = round(config["recording"]["interval_s"] * 1000.0 / dt)
    n_bins = -(-n_steps // record_steps)
    bin_end_steps = np.minimum(np.arange(1, n_bins + 1) * record_steps, n_steps)
    return bin_end_steps * dt / 1000.0


def swept_dimensions(config: dict) -> dict[str, list]:
    """Length-1 swept dimensions of the simulator: rule, c, seed and ``sweep_dims`` keys."""
    sweep = {"rule": [rule_label(config)], "c": [float(config["c"])],
             "seed": [int(config["seed"])]}
    for key in config["sweep_dims"]:
        sweep[key.replace(".", "_")] = [get_dotted(config, key)]
    return sweep


def _var(dims, data, units, long_name, **extra):
    return (dims, data, {"units": units, "long_name": long_name, **extra})


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
            ("synapse",), _synapse_values(net, fp.block_weights), "mV",
            f"mean-field fixed point of the mean unscaled weights{context}"),
        "fixed_point_rate" + suffix: _var(
            ("population",), 1000.0 * _population_values(net, fp.rates_khz), "Hz",
            f"balanced rates at the weight fixed point{context}"),
        "stable" + suffix: _var((), np.int8(fp.stable), "1",
                                f"1 if the weight fixed point is linearly stable{context}"),
        "stability" + suffix: ((), fp.label, {"long_name": f"stability label{context}"}),
    }
    if not suffix:
        re = eig_per_s.real
        relaxation = (1.0 / abs(np.nanmax(re)) if fp.label.startswith("stable") else np.nan)
        out.update({
            "jacobian_eigenvalue_real": _var(("mode",), eig_per_s.real, "s-1",
                                             "real part of the Jacobian eigenvalues of the "
                                             "mean-weight dynamics at the fixed point"),
            "jacobian_eigenvalue_imag": _var(("mode",), eig_per_s.imag, "s-1",
                                             "imaginary part of the Jacobian eigenvalues"),
            "relaxation_time_s": _var((), relaxation, "s",
                                      "1/|slowest eigenvalue real part| at a stable fixed point"),
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
        :mod:`balanced_stdp.theory.network`); ignored for two populations.
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
    times_s = record_times_s(config)
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
    pair_labels, cov_values = _pair_values(net, cov)
    variance = window_ms * final_rates          # Poisson count variance (Fano factor 1)
    _, var_product = _pair_values(net, np.sqrt(np.outer(variance, variance)))
    populations = finite_size.population_order(net)
    delta_values = np.zeros(net.n_populations) if model.delta is None else model.delta

    data = {
        "mean_weight": _var(("synapse", "time"), _synapse_values(net, trajectory.block_weights),
                            "mV", "mean unscaled weight j (mean-field ODE)"),
        "population_rate": _var(("population", "time"),
                                1000.0 * _population_values(net, trajectory.rates_khz).T, "Hz",
                                "balanced population rate along the mean-field trajectory"),
        "initial_weight": _var(("synapse",), _synapse_values(net, net.initial_weights), "mV",
                               "initial mean unscaled weight"),
        "balanced_rate": _var(("population",), 1000.0 * _population_values(net, initial_rates),
                              "Hz", "balanced rate at the initial weights (spec 6.1)"),
        **_fixed_point_variables(model, fp),
        "spike_count_cov": _var(("pair_type",), cov_values, "spikes2",
                                "leading-order population spike-count covariance (spec 6.2)",
                                window_s=config["recording"]["covariance_window_s"]),
        "spike_count_corr": _var(("pair_type",), cov_values / var_product, "1",
                                 "spike-count correlation, count variance r T_win assumed"),
        "kernel_k": _var(("synapse",), 1000.0 * _synapse_values(net, k_total), "Hz",
                         "K = integral of exp(-|u|/tau) C(u) du (spec 6.3)"),
        "kernel_k_plus": _var(("synapse",), 1000.0 * _synapse_values(net, k_plus), "Hz",
                              "K+ (presynaptic spike first, u > 0)"),
        "kernel_k_minus": _var(("synapse",), 1000.0 * _synapse_values(net, k_minus), "Hz",
                               "K- (postsynaptic spike first, u < 0)"),
        "balance_lost_at_s": _var((), trajectory.balance_lost_ms / 1000.0, "s",
                                  "time at which the mean-field trajectory lost the balanced "
                                  "state (NaN: never)"),
        "finite_size_delta": _var(("network_population",), delta_values, "mV/ms",
                                  "finite-size correction Delta used (spec 6.6; 0 = leading "
                                  "order)"),
    }
    if net.laser_window_ms is not None:
        guess = np.array([fp.block_weights[b.post, b.pre] for b in model.blocks])
        fp_on = model.fixed_point([guess], laser_on=True)
        data.update(_fixed_point_variables(model, fp_on, "_laser_on", " while X2 is on"))
    coords = {
        "time": ("time", times_s, {"units": "s", "long_name": "time (end of record bin)"}),
        "population": ("population", populations, {"long_name": "neuron population"}),
        "network_population": ("network_population", list(net.populations),
                               {"long_name": "population of the mean-field network"}),
        "synapse": ("synapse", _synapse_labels(net),
                    {"long_name": "synapse type (post, pre); e1i etc. are E1/E2 blocks"}),
        "pair_type": ("pair_type", pair_labels, {"long_name": "neuron pair type"}),
        "mode": ("mode", np.arange(max(model.n_plastic, 1)),
                 {"long_name": "Jacobian eigenvalue index"}),
    }
    ds = xr.Dataset(data, coords=coords)
    ds = _add_swept_dimensions(ds, config)
    ds.attrs = {
        "title": "balanced-stdp mean-field theory prediction",
        "Conventions": "CF-1.10",
        "config": config_to_json(config),
        "rule": rule_label(config),
        "seed": int(config["seed"]),
        "balanced_stdp_version": __version__,
        "theory_order": "leading order" if model.delta is None else "Delta-corrected (spec 6.6)",
        "plastic_blocks": ",".join(b.label for b in model.blocks) or "none",
        "covariance_convention": ("count covariance: correlated term for c > 0, shared-input "
                                  "O(1/N) term at c = 0; K from the correlated term"
                                  + (" plus shared-input term" if shared_input_kernels else "")),
        "excitatory_gain_khz_per_mv_ms": net.excitatory_gain_khz_per_mv_ms,
    }
    return ds


def _add_swept_dimensions(ds: xr.Dataset, config: dict) -> xr.Dataset:
    sweep = swept_dimensions(config)
    ds = ds.expand_dims(sweep)
    for name in sweep:
        ds[name].attrs["long_name"] = f"swept parameter {name}"
    ds["c"].attrs["units"] = "1"
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
        :mod:`balanced_stdp.theory.finite_size`); default: the spec's Δ.
    """
    config = finite_size.run_config(run)
    measurement = finite_size.measure(run, net_input=net_input)
    network = Network.from_config(config)
    gain = finite_size.excitatory_gain(run) if network.n_populations == 3 else None
    if gain is not None and not gain > 0:
        gain = None
    ds = predict(config, measurement.delta, gain, shared_input_kernels)
    leading_model = MeanFieldModel(config, None, gain, shared_input_kernels)
    leading = leading_model.fixed_point()
    net = leading_model.network
    sweep_dims = list(swept_dimensions(config))

    def add(name, dims, values, units, long_name):
        ds[name] = xr.DataArray(values, dims=dims, attrs={"units": units,
                                                          "long_name": long_name})
        ds[name] = ds[name].expand_dims({d: ds[d].values for d in sweep_dims})

    add("leading_order_fixed_point_weight", ("synapse",),
        _synapse_values(net, leading.block_weights), "mV", "leading-order fixed point weight")
    add("leading_order_fixed_point_rate", ("population",),
        1000.0 * _population_values(net, leading.rates_khz), "Hz",
        "leading-order fixed point rate")
    measured = _population_values(net, measurement.measured_input) if net.n_populations == 2 \
        else _three_population_inputs(run, net, measurement)
    mean_field = _population_values(net, measurement.mean_field_input) if net.n_populations == 2 \
        else _three_population_inputs(run, net, measurement, mean_field=True)
    add("measured_mean_input", ("population",), measured, "mV/ms",
        "R_sims: mean over neurons of the time-averaged total input over (T/2, T]")
    add("mean_field_input", ("population",), mean_field, "mV/ms",
        "R_mean: sqrt(N)(sum_b w_ab r_b + W_x r_x) from measured mean weights and rates")
    add("input_difference", ("population",), measured - mean_field, "mV/ms",
        "R_sims - R_mean (rate-weight covariance plus finite-size terms)")
    cov_input = finite_size.rate_weight_covariance_input(run)
    add("rate_weight_cov_input", ("population",),
        np.array([cov_input.get(p, np.nan) for p in ds["population"].values]), "mV/ms",
        "sqrt(N) sum_b p q_b Cov(j_ab, r_b) from final_weight_rate_cov")
    manifold = np.full(ds.sizes["synapse"], np.nan)
    squeezed = finite_size._squeeze(run)
    if net.n_populations == 2:
        for k, synapse in enumerate(SYNAPSE_TYPES):
            if synapse in config["plasticity"] and leading.label != "none":
                pre = 0 if synapse[1] == "e" else 1
                cov = float(squeezed["final_weight_rate_cov"].sel(synapse=synapse))
                manifold[k] = finite_size.manifold_weight(
                    leading.block_weights[0 if synapse[0] == "e" else 1, pre], cov,
                    1000.0 * leading.rates_khz[pre])
    add("manifold_weight", ("synapse",), manifold, "mV",
        "j*_0 - Cov(j_ab, r_b)/r_b* (iSTDP manifold relation, spec 6.7)")
    ds.attrs["delta_source"] = ("measured from the simulation run: " + (
        "net-input variant -R_mean/sqrt(N) (derived here)" if net_input
        else "(R_sims - R_mean)/sqrt(N) (spec 6.6)"))
    ds.attrs["simulation_wall_time_s"] = run.attrs.get("wall_time_s", "unknown")
    return ds


def _three_population_inputs(run, network, measurement, mean_field=False):
    """E (pooled), I, E1, E2 values of R_sims or R_mean for a three-population run."""
    values = measurement.mean_field_input if mean_field else measurement.measured_input
    if not mean_field:
        run = finite_size._squeeze(run)
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
    dim = key.replace(".", "_")
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
        ds = xr.Dataset(_fixed_point_variables(model, fp), coords={
            "synapse": _synapse_labels(model.network),
            "population": finite_size.population_order(model.network),
            "mode": np.arange(max(model.n_plastic, 1))})
        pieces.append(ds.expand_dims({dim: [value]}))
    out = xr.concat(pieces, dim=dim)
    out.attrs = {"config": config_to_json(config), "swept_key": key,
                 "title": "balanced-stdp mean-field fixed points along a parameter"}
    return out
