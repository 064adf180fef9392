"""Finite-size Δ correction and rate–weight covariances from a simulation run (spec §6.6–§6.7).

From a run dataset (``docs/data-contract.md``), for each population a:

* R_sims,a — population mean of the per-neuron total input time-averaged over
  (T/2, T] (``neuron_mean_input``, source ``total``), mV/ms;
* R_mean,a = √N (Σ_b w̄_ab r̄_b + Σ_layers w_a,layer r_layer), built from the
  measured mean weights (``mean_weight`` averaged over the snapshots in (T/2, T])
  and mean rates (``neuron_rate``), mV/ms;
* Δ_a = (R_sims,a − R_mean,a)/√N, held fixed in r(W) = −W⁻¹(W_x r_x + Δ).

R_sims − R_mean contains √N Σ_b p q_b Cov(j_ab, r_b) — the rate–weight covariance
that the mean-field closure ⟨j r⟩ = j̄ r̄ misses — plus O(1) finite-size terms of the
connectivity realisation. The covariance part alone is computed from the run's
``final_weight_rate_cov`` (:func:`rate_weight_covariance_input`).

Net-input variant [derived here]. The spec's Δ makes the *total* mean input vanish at
the corrected balance, but neurons firing at r need an O(1) net input μ_a ≈ R_sims,a
(≈ 0.5–0.8 mV/ms for these EIF neurons at 5–10 Hz). Neglecting it shifts the predicted
fixed points by O(μ/√N): for EI iSTDP at N = 2000 the spec-Δ fixed point is ~25 mV
more negative than the simulated mean weight, shrinking like 1/√N (~15 mV at
N = 5000). ``measure(run, net_input=True)`` returns Δ − μ/√N with μ = R_sims, i.e.
Δ = −R_mean/√N, so that the measured (weights, rates) solve the corrected balance
exactly. This is the appropriate finite-N rate model for testing a rule whose fixed
point does not pin the rates (Kohonen: j = β₀τ r_e(j)); for iSTDP it is circular (its
fixed point reproduces the measured weights whenever the measured r_e equals ρ_e).

Three populations: the simulator's ``mean_weight`` pools E1 and E2 (synapse types
ee, ei, ie, ii only). Block means j_E1I, j_E2I, … are read from ``mean_weight`` if the
run provides synapse labels such as ``e1i``; otherwise they are estimated from the
sampled synapses (``sampled_weight`` with ``sampled_post_neuron`` /
``sampled_pre_neuron``), split by population.
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import xarray as xr

from ..config import resolve_config
from ..contract import squeeze_swept
from .mean_field_network import Network


@dataclasses.dataclass
class FiniteSizeMeasurement:
    """Quantities measured from one run, per population of the mean-field network.

    Attributes
    ----------
    populations : tuple of str
        Network populations (``E, I`` or ``E1, E2, I``).
    delta : ndarray
        Δ_a (mV/ms per √N), i.e. (R_sims − R_mean)/√N.
    measured_input, mean_field_input : ndarray
        R_sims,a and R_mean,a (mV/ms).
    rates_khz : ndarray
        Population mean rates r̄_a over (T/2, T] (kHz).
    block_weights : ndarray (n_pop, n_pop)
        Time-averaged mean block weights over (T/2, T] (mV).
    """

    populations: tuple
    delta: np.ndarray
    measured_input: np.ndarray
    mean_field_input: np.ndarray
    rates_khz: np.ndarray
    block_weights: np.ndarray


def run_config(run: xr.Dataset) -> dict:
    """The resolved config stored in a run's ``config`` attribute."""
    return resolve_config(json.loads(run.attrs["config"]))


def _analysis_window(run: xr.Dataset, config: dict) -> tuple[float, float]:
    """(T/2, t_end] in s: the window of neuron_rate and neuron_mean_input."""
    half = 0.5 * config["duration_s"]
    end = float(run["time"].max()) if "time" in run.coords and run.sizes.get("time", 0) else \
        config["duration_s"]
    return half, end


def measured_block_weights(run: xr.Dataset, network: Network, config: dict) -> np.ndarray:
    """Mean block weights j̄_ab (mV) time-averaged over the snapshots in (T/2, T]."""
    run = squeeze_swept(run)
    half, _ = _analysis_window(run, config)
    late = run["mean_weight"].where(run["time"] > half, drop=True)
    if late.sizes["time"] == 0:
        late = run["mean_weight"].isel(time=[-1])
    by_type = late.mean("time")
    labels = [str(s) for s in run["synapse"].values]
    weights = network.initial_weights.copy()
    pops = network.populations
    for a, post in enumerate(pops):
        for b, pre in enumerate(pops):
            synapse = network.kinds[a] + network.kinds[b]
            block = (post + pre).lower()
            if block in labels:
                weights[a, b] = float(by_type.sel(synapse=block))
            elif network.n_populations == 2 or synapse not in config["plasticity"]:
                weights[a, b] = float(by_type.sel(synapse=synapse))
            else:
                weights[a, b] = _sampled_block_mean(run, synapse, post, pre, half)
    return weights


def _sampled_block_mean(run: xr.Dataset, synapse: str, post: str, pre: str,
                        half_s: float) -> float:
    """Block mean from sampled synapses whose post/pre neurons are in ``post``/``pre``."""
    labels = run["neuron_population"].values.astype(str)
    pre_idx = run["sampled_pre_neuron"].sel(synapse=synapse).values
    post_idx = run["sampled_post_neuron"].sel(synapse=synapse).values
    valid = (pre_idx >= 0) & (post_idx >= 0)
    keep = valid.copy()
    keep[valid] = (labels[post_idx[valid]] == post) & (labels[pre_idx[valid]] == pre)
    samples = run["sampled_weight"].sel(synapse=synapse).isel(sample=np.flatnonzero(keep))
    late = samples.where(run["time"] > half_s, drop=True)
    if late.sizes["time"] == 0:
        late = samples.isel(time=[-1])
    return float(late.mean())


def _population_members(run: xr.Dataset, network: Network) -> dict[str, np.ndarray]:
    labels = run["neuron_population"].values.astype(str)
    groups = network.layout.groups
    return {population: np.isin(labels, [groups[g] for g in members])
            for population, members in network.layout.populations.items()}


def _laser_fraction(network: Network, window_s: tuple[float, float]) -> float:
    """Fraction of the analysis window during which X2 was on."""
    if network.laser_window_ms is None:
        return 0.0
    start, stop = (t / 1000.0 for t in network.laser_window_ms)
    lo, hi = window_s
    overlap = max(0.0, min(hi, stop) - max(lo, start))
    return overlap / (hi - lo) if hi > lo else 0.0


def measure(run: xr.Dataset, net_input: bool = False) -> FiniteSizeMeasurement:
    """Measure R_sims, R_mean and Δ for every population of a run (spec §6.6).

    Parameters
    ----------
    run : xarray.Dataset
        A run dataset (docs/data-contract.md) with the config in ``attrs['config']``.
    net_input : bool
        If true, Δ also absorbs the measured net input: Δ = (R_sims − R_mean − R_sims)/√N
        (see the module docstring); default: the spec's Δ = (R_sims − R_mean)/√N.
    """
    config = run_config(run)
    network = Network.from_config(config)
    run = squeeze_swept(run)
    window = _analysis_window(run, config)
    members = _population_members(run, network)
    rate_hz = run["neuron_rate"].values
    total_input = run["neuron_mean_input"].sel(source="total").values
    rates = np.array([np.nanmean(rate_hz[members[p]]) for p in network.populations]) / 1000.0
    measured = np.array([np.nanmean(total_input[members[p]]) for p in network.populations])
    weights = measured_block_weights(run, network, config)
    layer_rates = network.external_rates(False)
    if len(network.layers) > 1:
        layer_rates[1] = network.layer_rates_khz[1] * _laser_fraction(network, window)
    sqrt_n = math.sqrt(network.n_neurons)
    mean_field = sqrt_n * (network.recurrent_matrix(weights) @ rates
                           + network.external_matrix() @ layer_rates)
    delta = ((0.0 if net_input else measured) - mean_field) / sqrt_n
    return FiniteSizeMeasurement(network.populations, delta, measured, mean_field, rates, weights)


def excitatory_gain(run: xr.Dataset) -> float:
    """E-neuron f–I gain (kHz per mV/ms): slope of rate against mean total input.

    Least-squares slope of ``neuron_rate`` on ``neuron_mean_input`` (total) across the
    E neurons of the run; used to regularise the E1−E2 difference mode of the
    three-population model (:mod:`.network`).
    """
    run = squeeze_swept(run)
    labels = run["neuron_population"].values.astype(str)
    excitatory = np.char.startswith(labels, "E")
    x = run["neuron_mean_input"].sel(source="total").values[excitatory]
    y = run["neuron_rate"].values[excitatory] / 1000.0
    ok = np.isfinite(x) & np.isfinite(y)
    slope = np.polyfit(x[ok], y[ok], 1)[0]
    return float(slope)


def rate_weight_covariance_input(run: xr.Dataset) -> dict[str, float]:
    """√N Σ_b p q_b Cov(j_ab, r_b) (mV/ms) per population E and I (spec §6.7).

    The part of R_sims − R_mean due to the correlation between a synapse's weight and
    its presynaptic rate, from the run's ``final_weight_rate_cov`` (mV·Hz; final
    weights, rates over (T/2, T]). Pools E1 and E2 (the simulator reports pooled types).
    """
    config = run_config(run)
    run = squeeze_swept(run)
    cov = run["final_weight_rate_cov"]
    p = config["connection_probability"]
    q = {"e": config["excitatory_fraction"], "i": 1.0 - config["excitatory_fraction"]}
    sqrt_n = math.sqrt(config["N"])
    out = {}
    for post in ("e", "i"):
        total = 0.0
        for pre in ("e", "i"):
            value = float(cov.sel(synapse=post + pre))
            total += p * q[pre] * (value if np.isfinite(value) else 0.0) / 1000.0
        out[post.upper()] = sqrt_n * total
    return out


def manifold_weight(fixed_point_weight_mv: float, weight_rate_cov_mv_hz: float,
                    presynaptic_rate_hz: float) -> float:
    """iSTDP manifold relation j̄_final = j*_0 − Cov(j_ab, r_b)/r_b* (spec §6.7).

    Valid where the rule pins the rates (iSTDP: r_e = ρ_e fixes r_i = r_i*): the true
    mean input p q_b (j̄ r̄_b + Cov) must equal the mean-field one p q_b j*_0 r_b*.
    """
    return fixed_point_weight_mv - weight_rate_cov_mv_hz / presynaptic_rate_hz


__all__ = ["FiniteSizeMeasurement", "measure", "excitatory_gain", "rate_weight_covariance_input",
           "manifold_weight", "measured_block_weights", "run_config"]
