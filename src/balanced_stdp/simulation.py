"""Run one simulation: set-up in NumPy, the numba kernel in chunks, a labelled dataset out.

:func:`simulate` is the single entry point. It resolves the config, draws
everything random (connectivity, V(0), external spikes, synapse samples) from
independent streams spawned from the seed — so connectivity, V(0) and input are
identical across runs that differ only in plastic parameters or initial weights
(spec §2.6) — then advances the kernel in chunks of 10 s of simulated time,
reporting progress, and finally assembles the dataset of ``docs/data-contract.md``.
"""

from __future__ import annotations

import logging
import math
import platform
import subprocess
import sys
import time
from pathlib import Path

import numba
import numpy as np
import xarray as xr

from . import MODEL_VERSION, __version__
from .config import config_to_json, get_dotted, resolve_config, rule_label
from .inputs import BLOCK_MS, CorrelatedPoissonInput, times_to_steps
from .kernel import STATUS_MESSAGES, run_steps
from .measurements import (block_mean_covariance, block_weight_rate_moments, group_variance,
                           sampled_pair_statistics, weight_rate_covariance)
from .network import (Populations, build_external, build_laser, build_recurrent,
                      initial_weights, synapse_blocks)
from .plasticity import build_rule, kernel_rule_table

log = logging.getLogger(__name__)

SOURCES = ("E", "I", "X", "total")
RASTER_CAPACITY_RATE_HZ = 60.0   # ring-buffer size: enough for this mean rate over the window


def _git_revision() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=5, cwd=Path(__file__).resolve().parent)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


class _Progress:
    """tqdm bar on a terminal, periodic log lines otherwise (e.g. Snakemake logs)."""

    def __init__(self, total_s: float, enabled: bool):
        self.enabled = enabled
        self.total_s = total_s
        self.start = time.perf_counter()
        self.bar = None
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm
            self.bar = tqdm(total=round(total_s, 6), unit="sim s", dynamic_ncols=True,
                            desc="simulating", file=sys.stderr)

    def update(self, done_s: float, step_s: float, rate_e: float, rate_i: float):
        if not self.enabled:
            return
        wall = time.perf_counter() - self.start
        if self.bar is not None:
            self.bar.update(round(step_s, 6))
            self.bar.set_postfix(E=f"{rate_e:.2f} Hz", I=f"{rate_i:.2f} Hz")
        else:
            print(f"[balanced-stdp] t = {done_s:8.1f} / {self.total_s:.1f} s simulated | "
                  f"wall {wall:7.1f} s ({wall / max(done_s, 1e-9):.3f} s per sim s) | "
                  f"E {rate_e:6.2f} Hz, I {rate_i:6.2f} Hz", file=sys.stderr, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def simulate(config: dict, progress: bool = True) -> xr.Dataset:
    """Simulate the plastic balanced network described by ``config``.

    Parameters
    ----------
    config : dict
        Run config (partial configs are completed with defaults and validated).
    progress : bool
        Show a progress bar (terminal) or periodic log lines (simulated time, wall
        time and current E/I rates).

    Returns
    -------
    xarray.Dataset
        The run dataset of ``docs/data-contract.md``. A run stopped by the
        divergence guard has ``status = "diverged"`` and holds everything
        recorded until then.
    """
    wall_start = time.perf_counter()
    config = resolve_config(config)
    pops = Populations.from_config(config)
    n = pops.n_neurons
    sqrt_n = math.sqrt(n)
    dt = config["dt_ms"]
    duration_ms = config["duration_s"] * 1000.0
    n_steps = round(duration_ms / dt)
    record_steps = round(config["recording"]["interval_s"] * 1000.0 / dt)
    covariance_steps = round(config["recording"]["covariance_window_s"] * 1000.0 / dt)
    half_step = n_steps // 2
    n_bins = -(-n_steps // record_steps)
    n_windows = (n_steps - half_step) // covariance_steps

    # Independent random streams, all derived from the seed.
    streams = np.random.SeedSequence(config["seed"]).spawn(6)
    rng_connect, rng_voltage, rng_input, rng_laser, rng_sample, rng_pairs = (
        np.random.default_rng(s) for s in streams)

    p = config["connection_probability"]
    recurrent = build_recurrent(pops, p, rng_connect)
    external = build_external(pops, p, rng_connect)
    laser = build_laser(pops, p, rng_connect) if pops.has_subpopulations else None
    weights = initial_weights(recurrent, config["weights"], n)

    rules = {s: build_rule(s, config["plasticity"][s], config["tau_stdp_ms"])
             for s in config["plasticity"]}
    rule_table = kernel_rule_table(rules, n)

    neuron = config["neuron"]
    tau = config["synaptic_time_constants_ms"]
    v = rng_voltage.uniform(neuron["reset_mv"], neuron["threshold_mv"], n)
    current_e, current_i, current_x, trace = (np.zeros(n) for _ in range(4))
    spikers = np.empty(n, np.int32)

    # Reporting groups and synapse labels (ee … ii, plus E1/E2 blocks with optogenetics).
    group_bounds = pops.group_bounds()
    n_groups = group_bounds.size - 1
    labels = synapse_labels(pops)
    block_of_synapse = (recurrent.synapse_type if n_groups == 2 else synapse_blocks(
        recurrent.columns.column_start, recurrent.columns.targets, group_bounds))
    block_counts = np.bincount(block_of_synapse, minlength=n_groups * n_groups).reshape(
        n_groups, n_groups)

    # Sampled existing synapses per label (CSC positions), padded with -1.
    n_sample = config["recording"]["sampled_synapses"]
    sampled = np.full((len(labels), n_sample), -1, np.int64)
    for t, blocks in enumerate(labels.values()):
        chosen = _sample_synapses(block_of_synapse, [g * n_groups + h for g, h in blocks],
                                  n_sample, rng_sample)
        sampled[t, :chosen.size] = chosen

    # Recording buffers.
    group_sizes = np.diff(group_bounds)
    bin_spike_counts = np.zeros((n_bins, n_groups), np.int64)
    bin_current_sums = np.zeros((n_bins, n_groups, 3))
    group_current = np.zeros((3, n_groups))      # running population sums of I^e, I^i, I^x
    block_sums = np.zeros((n_bins, n_groups, n_groups))
    # Blocks of plastic synapse types are summed at every record; the others keep the
    # sum of their (constant) initial weights.
    type_of_block = np.array([[2 * (g == n_groups - 1) + (h == n_groups - 1)
                               for h in range(n_groups)] for g in range(n_groups)])
    plastic_types = [t for t, syn in enumerate(("ee", "ei", "ie", "ii")) if syn in rules]
    block_plastic = np.isin(type_of_block, plastic_types)
    type_weight = np.array([config["weights"][s] for s in ("ee", "ei", "ie", "ii")]) / sqrt_n
    block_constant = block_counts * type_weight[type_of_block]
    sampled_weights = np.full((len(labels), n_sample, n_bins), np.nan, np.float32)
    neuron_counts = np.zeros(n, np.int64)
    neuron_input_sums = np.zeros((3, n))
    window_counts = np.zeros((max(n_windows, 0), n), np.uint16)
    raster_window_steps = round(config["recording"]["raster_duration_s"] * 1000.0 / dt)
    raster_capacity = int(n * config["recording"]["raster_duration_s"] * RASTER_CAPACITY_RATE_HZ)
    raster_steps = np.zeros(raster_capacity, np.int64)
    raster_neurons = np.zeros(raster_capacity, np.int32)
    raster_cursor = np.zeros(1, np.int64)
    spike_total = np.zeros(1, np.int64)
    divergence = config["divergence"]
    interval_s = config["recording"]["interval_s"]
    max_bin_spikes = (divergence["max_bin_rate_hz"] * interval_s * group_sizes).astype(np.float64)
    spike_budget = divergence["max_mean_rate_hz"] / 1000.0 * n * duration_ms

    x_input = CorrelatedPoissonInput(pops.n_external, config["external_rate_hz"], config["c"],
                                     config["jitter_ms"], 0.0, duration_ms, rng_input)
    opto = config["optogenetics"]
    laser_input = CorrelatedPoissonInput(
        pops.n_laser, opto["rate_hz"], config["c"], config["jitter_ms"],
        opto["start_s"] * 1000.0, opto["stop_s"] * 1000.0, rng_laser)
    laser_start = laser.column_start if laser else np.zeros(1, np.int64)
    laser_targets = laser.targets if laser else np.zeros(0, np.int32)

    w = config["weights"]
    j_ex = w["ex"] / sqrt_n / tau["x"]
    j_ix = w["ix"] / sqrt_n / tau["x"]
    j_laser = opto["weight"] / sqrt_n / tau["x"]
    g_leak = 1.0 / neuron["membrane_time_constant_ms"]

    chunk_steps = round(BLOCK_MS / dt)
    setup_time_s = time.perf_counter() - wall_start
    kernel_time_s = 0.0
    kernel_cpu_time_s = 0.0
    bar = _Progress(config["duration_s"], progress)
    status, last_step = 0, 0
    step = 1
    while step <= n_steps:
        last = min(step + chunk_steps - 1, n_steps)
        ext_times, ext_sources = x_input.spikes_until(last * dt)
        las_times, las_sources = laser_input.spikes_until(last * dt)
        bins_before = (step - 1) // record_steps
        kernel_start = time.perf_counter()
        kernel_cpu_start = time.thread_time()
        status, last_step = run_steps(
            step, last, n_steps, dt,
            v, current_e, current_i, current_x, trace, spikers,
            g_leak, neuron["leak_reversal_mv"], neuron["threshold_mv"],
            neuron["slope_factor_mv"], neuron["spike_mv"], neuron["reset_mv"],
            neuron["bias_current_mv_per_ms"],
            1.0 - dt / tau["e"], 1.0 - dt / tau["i"], 1.0 - dt / tau["x"],
            1.0 - dt / config["tau_stdp_ms"], 1.0 / tau["e"], 1.0 / tau["i"], 1.0 / tau["x"],
            pops.n_excitatory,
            recurrent.columns.column_start, recurrent.columns.column_split,
            recurrent.columns.targets, recurrent.row_start, recurrent.row_split,
            recurrent.row_sources, recurrent.row_synapse, weights, rule_table,
            times_to_steps(ext_times, dt), ext_sources, external.column_start,
            external.column_split, external.targets, j_ex, j_ix,
            times_to_steps(las_times, dt), las_sources, laser_start, laser_targets, j_laser,
            record_steps, group_bounds, group_current, bin_spike_counts, bin_current_sums,
            block_sums, block_plastic, block_constant, sampled, sampled_weights,
            half_step, neuron_counts, neuron_input_sums, covariance_steps, window_counts,
            raster_steps, raster_neurons, raster_cursor,
            max_bin_spikes, spike_budget, spike_total,
        )
        kernel_time_s += time.perf_counter() - kernel_start
        kernel_cpu_time_s += time.thread_time() - kernel_cpu_start
        bins_after = -(-last_step // record_steps)
        counts = bin_spike_counts[bins_before:bins_after].sum(axis=0)
        span_s = (last_step - step + 1) * dt / 1000.0
        rates = counts / (group_sizes * span_s)
        bar.update(last_step * dt / 1000.0, span_s, *_excitatory_inhibitory(rates, group_sizes))
        if status != 0:
            log.warning("run diverged at t = %.1f s: %s", last_step * dt / 1000.0,
                        STATUS_MESSAGES[status])
            break
        step = last + 1
    bar.close()

    return _assemble_dataset(
        config, pops, recurrent, block_of_synapse, weights, rules, status, last_step, n_steps,
        record_steps, half_step, covariance_steps, bin_spike_counts, bin_current_sums,
        _mean_weights(block_sums, block_counts, labels, n), sampled,
        sampled_weights, neuron_counts, neuron_input_sums, window_counts, raster_steps,
        raster_neurons, raster_cursor[0], raster_window_steps, rng_pairs,
        {"setup_time_s": setup_time_s, "kernel_time_s": kernel_time_s,
         "kernel_cpu_time_s": kernel_cpu_time_s, "wall_start": wall_start})


def _sample_synapses(block_of_synapse, codes, n_sample, rng) -> np.ndarray:
    """Up to ``n_sample`` distinct synapses (CSC positions, sorted) whose block is in ``codes``.

    Uniform without replacement. Large blocks are sampled by rejection from uniform
    draws over all synapses, so no index array of the block is ever built (memory
    stays O(nnz) bytes at N = 10⁴).
    """
    in_label = np.isin(block_of_synapse, codes)
    count = int(np.count_nonzero(in_label))
    take = min(n_sample, count)
    if take == 0:
        return np.empty(0, np.int64)
    if count <= 20 * take:
        return np.sort(rng.choice(np.flatnonzero(in_label), take, replace=False))
    chosen = np.empty(0, np.int64)
    while chosen.size < take:
        draws = rng.integers(0, in_label.size, 2 * take * in_label.size // count + 16)
        merged = np.concatenate([chosen, draws[in_label[draws]]])
        _, first = np.unique(merged, return_index=True)   # keep first occurrences, in order
        chosen = merged[np.sort(first)]
    return np.sort(chosen[:take])


def synapse_labels(pops: Populations) -> dict[str, list[tuple[int, int]]]:
    """Synapse labels (post, pre) → the (post group, pre group) blocks they pool.

    ``ee``, ``ei``, ``ie``, ``ii`` always; with optogenetics also the E1/E2 blocks
    ``e1e1``, ``e1e2``, ``e2e1``, ``e2e2``, ``e1i``, ``e2i``, ``ie1``, ``ie2``.
    """
    if not pops.has_subpopulations:
        return {"ee": [(0, 0)], "ei": [(0, 1)], "ie": [(1, 0)], "ii": [(1, 1)]}
    e, i = (0, 1), 2
    labels = {"ee": [(g, h) for g in e for h in e], "ei": [(g, i) for g in e],
              "ie": [(i, h) for h in e], "ii": [(i, i)]}
    names = {0: "e1", 1: "e2", 2: "i"}
    for g, h in [(0, 0), (0, 1), (1, 0), (1, 1), (0, 2), (1, 2), (2, 0), (2, 1)]:
        labels[names[g] + names[h]] = [(g, h)]
    return labels


def _mean_weights(block_sums, block_counts, labels, n_neurons) -> np.ndarray:
    """Mean unscaled weight per label and record bin from the kernel's block sums."""
    out = np.full((len(labels), block_sums.shape[0]), np.nan)
    for t, blocks in enumerate(labels.values()):
        count = sum(block_counts[g, h] for g, h in blocks)
        if count:
            total = sum(block_sums[:, g, h] for g, h in blocks)
            out[t] = total / count * math.sqrt(n_neurons)
    return out


def _excitatory_inhibitory(rates: np.ndarray, sizes: np.ndarray) -> tuple[float, float]:
    """Mean E and I rate from per-group rates (E1/E2 pooled when present)."""
    e = float(np.average(rates[:-1], weights=sizes[:-1]))
    return e, float(rates[-1])


def _assemble_dataset(config, pops, recurrent, block_of_synapse, weights, rules, status,
                      last_step, n_steps, record_steps, half_step, covariance_steps,
                      bin_spike_counts,
                      bin_current_sums, mean_weights, sampled, sampled_weights, neuron_counts,
                      neuron_input_sums, window_counts, raster_steps, raster_neurons,
                      raster_written, raster_window_steps, rng_pairs, timing):
    dt = config["dt_ms"]
    n = pops.n_neurons
    sqrt_n = math.sqrt(n)
    n_done_bins = -(-last_step // record_steps)
    bin_end_steps = np.minimum(np.arange(1, n_done_bins + 1) * record_steps, last_step)
    steps_in_bin = np.diff(np.concatenate([[0], bin_end_steps]))
    time_s = bin_end_steps * dt / 1000.0

    names = pops.group_names()
    bounds = pops.group_bounds()
    sizes = np.diff(bounds)
    counts = bin_spike_counts[:n_done_bins].astype(np.float64)
    currents = bin_current_sums[:n_done_bins]
    if pops.has_subpopulations:  # add pooled E = E1 ∪ E2 ahead of the subpopulations
        names = ["E", "I", "E1", "E2"]
        sizes = np.array([sizes[0] + sizes[1], sizes[2], sizes[0], sizes[1]])
        counts = np.stack([counts[:, 0] + counts[:, 1], counts[:, 2], counts[:, 0],
                           counts[:, 1]], axis=1)
        currents = np.stack([currents[:, 0] + currents[:, 1], currents[:, 2], currents[:, 0],
                             currents[:, 1]], axis=1)
    bin_s = steps_in_bin * dt / 1000.0
    population_rate = counts / (bin_s[:, None] * sizes[None, :])
    mean_input = currents / (steps_in_bin[:, None, None] * sizes[None, :, None])
    mean_input = np.concatenate([mean_input, mean_input.sum(axis=2, keepdims=True)], axis=2)

    # Per-neuron quantities over the analysis window (T/2, t_stop].
    analysis_steps = last_step - half_step
    if analysis_steps > 0:
        neuron_rate = neuron_counts / (analysis_steps * dt / 1000.0)
        accumulated = last_step - half_step + 1
        neuron_input = neuron_input_sums.T / accumulated
    else:
        neuron_rate = np.full(n, np.nan)
        neuron_input = np.full((n, 3), np.nan)
    neuron_input = np.concatenate([neuron_input, neuron_input.sum(axis=1, keepdims=True)], axis=1)

    # Spike-count covariances over complete windows.
    complete_windows = max(0, min(window_counts.shape[0], analysis_steps // covariance_steps))
    windows = window_counts[:complete_windows]
    members = {"e": np.arange(0, pops.n_excitatory), "i": np.arange(pops.n_excitatory, n)}
    pair_types = [("ee", "e", "e"), ("ei", "e", "i"), ("ii", "i", "i")]
    if pops.has_subpopulations:
        members["e1"] = np.arange(0, pops.n_stimulated)
        members["e2"] = np.arange(pops.n_stimulated, pops.n_excitatory)
        pair_types += [("e1e1", "e1", "e1"), ("e1e2", "e1", "e2"), ("e2e2", "e2", "e2"),
                       ("e1i", "e1", "i"), ("e2i", "e2", "i")]
    n_pair_samples = config["recording"]["sampled_pairs"]
    cov_mean, corr_mean, cov_samples, corr_samples = [], [], [], []
    for _, a, b in pair_types:
        cov_mean.append(block_mean_covariance(windows, members[a], members[b]))
        corr_mean.append(block_mean_covariance(windows, members[a], members[b], standardize=True))
        cs, rs = sampled_pair_statistics(windows, members[a], members[b], n_pair_samples,
                                         rng_pairs)
        cov_samples.append(cs)
        corr_samples.append(rs)
    variance = {"E": group_variance(windows, members["e"]),
                "I": group_variance(windows, members["i"])}
    if pops.has_subpopulations:
        variance["E1"] = group_variance(windows, members["e1"])
        variance["E2"] = group_variance(windows, members["e2"])

    # Sampled synapses: fill never-plastic types with their constant value (exact).
    sampled_weights = sampled_weights[:, :, :n_done_bins]
    valid = sampled >= 0
    safe = np.where(valid, sampled, 0)
    sampled_pre = np.where(valid, recurrent.presynaptic_neuron(safe), -1)
    sampled_post = np.where(valid, recurrent.columns.targets[safe], -1)
    sampled_pre_rate = np.where(valid, neuron_rate[sampled_pre], np.nan)
    sampled_post_rate = np.where(valid, neuron_rate[sampled_post], np.nan)
    n_groups = pops.group_bounds().size - 1
    moments = block_weight_rate_moments(weights * sqrt_n, recurrent.columns.column_start,
                                        block_of_synapse, n_groups * n_groups, neuron_rate)
    labels = synapse_labels(pops)
    weight_rate_cov = [weight_rate_covariance(moments, [g * n_groups + h for g, h in blocks])
                       for blocks in labels.values()]

    # Raster: the ring buffer's entries within the last raster window.
    stored = min(raster_written, raster_steps.size)
    r_steps, r_neurons = raster_steps[:stored], raster_neurons[:stored]
    keep = r_steps > last_step - raster_window_steps
    order = np.argsort(r_steps[keep], kind="stable")
    r_steps, r_neurons = r_steps[keep][order], r_neurons[keep][order]

    diverged = status != 0
    diverged_at_s = last_step * dt / 1000.0 if diverged else np.nan
    pair_names = [name for name, _, _ in pair_types]
    population_labels = pops.neuron_labels()

    def var(dims, data, units, long_name, **extra):
        return (dims, data, {"units": units, "long_name": long_name, **extra})

    ds = xr.Dataset(
        {
            "population_rate": var(("population", "time"), population_rate.T, "Hz",
                                   "population-mean firing rate per record bin"),
            "neuron_rate": var(("neuron",), neuron_rate, "Hz",
                               "firing rate over the analysis window (T/2, T]"),
            "mean_weight": var(("synapse", "time"), mean_weights[:, :n_done_bins], "mV",
                               "mean unscaled weight j over all existing synapses"),
            "sampled_weight": var(("synapse", "sample", "time"), sampled_weights, "mV",
                                  "unscaled weight of sampled existing synapses (snapshot)"),
            "sampled_pre_neuron": var(("synapse", "sample"), sampled_pre.astype(np.int32), "1",
                                      "presynaptic neuron of each sampled synapse (-1: none)"),
            "sampled_post_neuron": var(("synapse", "sample"), sampled_post.astype(np.int32), "1",
                                       "postsynaptic neuron of each sampled synapse (-1: none)"),
            "sampled_pre_rate": var(("synapse", "sample"), sampled_pre_rate, "Hz",
                                    "presynaptic firing rate of each sampled synapse"),
            "sampled_post_rate": var(("synapse", "sample"), sampled_post_rate, "Hz",
                                     "postsynaptic firing rate of each sampled synapse"),
            "final_weight_rate_cov": var(("synapse",), np.array(weight_rate_cov), "mV Hz",
                                         "covariance of final weight and presynaptic rate over "
                                         "all existing synapses"),
            "mean_input": var(("time", "population", "source"), mean_input, "mV/ms",
                              "population-mean synaptic input current per record bin (C_m = 1)"),
            "neuron_mean_input": var(("neuron", "source"), neuron_input, "mV/ms",
                                     "per-neuron input current time-averaged over [T/2, T]"),
            "spike_count_cov": var(("pair_type",), np.array(cov_mean), "spikes2",
                                   "mean off-diagonal spike-count covariance",
                                   window_s=config["recording"]["covariance_window_s"],
                                   n_windows=complete_windows),
            "spike_count_corr": var(("pair_type",), np.array(corr_mean), "1",
                                    "mean off-diagonal spike-count correlation (silent neurons "
                                    "excluded)"),
            "spike_count_var": var(("population",), np.array([variance.get(p, np.nan)
                                                              for p in names]), "spikes2",
                                   "mean spike-count variance (diagonal)"),
            "sampled_spike_count_cov": var(("pair_type", "pair_sample"), np.array(cov_samples),
                                           "spikes2", "sampled off-diagonal count covariances"),
            "sampled_spike_count_corr": var(("pair_type", "pair_sample"),
                                            np.array(corr_samples), "1",
                                            "sampled off-diagonal count correlations"),
            "raster_time": var(("raster_spike",), r_steps * dt / 1000.0, "s",
                               "spike time (raster sample)"),
            "raster_neuron": var(("raster_spike",), r_neurons.astype(np.int32), "1",
                                 "neuron index (raster sample)"),
            "diverged": var((), np.int8(diverged), "1",
                            "1 if the divergence guard stopped the run"),
            "diverged_at_s": var((), diverged_at_s, "s",
                                 "simulated time at which the run was stopped (NaN: completed)"),
        },
        coords={
            "time": ("time", time_s, {"units": "s", "long_name": "time (end of record bin)"}),
            "population": ("population", names, {"long_name": "neuron population"}),
            "synapse": ("synapse", list(labels),
                        {"long_name": "synapse type (post, pre); e1i etc. are E1/E2 blocks"}),
            "source": ("source", list(SOURCES), {"long_name": "input current source"}),
            "neuron": ("neuron", np.arange(n), {"long_name": "neuron index (E first, then I)"}),
            "neuron_population": ("neuron", population_labels,
                                  {"long_name": "population of each neuron"}),
            "sample": ("sample", np.arange(sampled.shape[1]),
                       {"long_name": "sampled synapse index"}),
            "pair_type": ("pair_type", pair_names, {"long_name": "neuron pair type"}),
            "pair_sample": ("pair_sample", np.arange(n_pair_samples),
                            {"long_name": "sampled neuron pair index"}),
        },
    )
    ds["mean_input"] = ds["mean_input"].transpose("population", "source", "time")

    # Swept parameters as length-1 dimensions, so runs combine with combine_by_coords.
    label = rule_label(config)
    sweep = {"rule": [label], "c": [float(config["c"])], "seed": [int(config["seed"])]}
    for key in config["sweep_dims"]:
        sweep[key.replace(".", "_")] = [get_dotted(config, key)]
    ds = ds.expand_dims(sweep)
    for name in sweep:
        ds[name].attrs["long_name"] = f"swept parameter {name}"
    ds["c"].attrs["units"] = "1"

    analysis_end = last_step * dt / 1000.0
    ds.attrs = {
        "title": "balanced-stdp simulation run",
        "Conventions": "CF-1.10",
        "status": "diverged" if diverged else "ok",
        "diverged_at_s": float(diverged_at_s) if diverged else "none",
        "divergence_reason": STATUS_MESSAGES.get(status, "none"),
        "rule": label,
        "seed": int(config["seed"]),
        "config": config_to_json(config),
        "balanced_stdp_version": __version__,
        "model_version": MODEL_VERSION,
        "git_revision": _git_revision(),
        "numpy_version": np.__version__,
        "numba_version": numba.__version__,
        "xarray_version": xr.__version__,
        "python_version": platform.python_version(),
        "wall_time_s": round(time.perf_counter() - timing["wall_start"], 3),
        "setup_time_s": round(timing["setup_time_s"], 3),
        "kernel_time_s": round(timing["kernel_time_s"], 3),
        "kernel_cpu_time_s": round(timing["kernel_cpu_time_s"], 3),
        "analysis_window_s": f"({half_step * dt / 1000.0}, {analysis_end}]",
        "covariance_convention": "off-diagonal block means (spec 5.2 recommendation)",
        "plastic_synapses": ",".join(rules) or "none",
    }
    return ds
