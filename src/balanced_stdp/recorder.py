"""The recorder: what a run records while it steps, and the run dataset made from it (spec §5).

A :class:`Recorder` owns every recording buffer of a run — spike counts and
population current sums per record bin, block weight sums and sampled weight
snapshots at the end of each bin, per-neuron spike counts and input sums over the
analysis window (T/2, T], spike counts per covariance window and a raster ring
buffer. It hands them to the kernel as one :class:`RecordBuffers` bundle, which
the jitted functions below fill in steps 7–8 of spec §2.5 (the per-step ones take
the bundle's arrays one by one, for speed), and turns them into
the labelled run dataset of ``docs/data-contract.md`` with
:meth:`Recorder.to_dataset`. Labels, record grid and variable attributes come
from :mod:`balanced_stdp.contract`. (~490 lines: the jitted recording steps and the
dataset assembly belong together — both read the same buffer layout.)

Population input currents are kept as running population sums (every delivered
jump is added to its group's sum, and a sum decays like its terms), so recording
the bin means costs O(groups) per step instead of a sweep over all neurons; the
sums are re-anchored on exact sums at the end of each bin.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import xarray as xr

from .config import config_to_json
from .contract import (RUN_KIND, SOURCES, SYNAPSE_TYPES, RecordGrid, add_swept_dims,
                       coordinates, git_revision, provenance, rule_label, variable)
from .divergence import STATUS_MESSAGES
from .measurements import (block_weight_rate_moments, mean_weight_per_label,
                           spike_count_statistics, weight_rate_covariance)
from .network import synapse_blocks
from .numba_cache import jit

RASTER_CAPACITY_RATE_HZ = 60.0   # ring-buffer size: enough for this mean rate over the window


class RecordBuffers(NamedTuple):
    """The recorder's buffers as the kernel sees them (filled in place).

    G is the number of groups (E, I or E1, E2, I), b the record bin.
    """

    n_steps: int                     # last step of the run (closes the last, maybe short bin)
    record_steps: int                # steps per record bin
    half_step: int                   # the analysis window is steps half_step + 1 …
    covariance_steps: int            # steps per spike-count window
    group_bounds: np.ndarray         # int64 (G + 1): neuron index range of each group
    group_current: np.ndarray        # (3, G): running population sums of I^e, I^i, I^x
    bin_spike_counts: np.ndarray     # int64 (bins, G)
    bin_current_sums: np.ndarray     # (bins, G, 3): Σ over the bin's steps of the group sums
    block_sums: np.ndarray           # (bins, G, G): Σ scaled weights per (post, pre) block
    block_plastic: np.ndarray        # bool (G, G): blocks whose sums change
    block_constant: np.ndarray       # (G, G): block sums of the initial weights
    sampled_synapses: np.ndarray     # int64 (labels, samples): CSC positions, −1 padded
    sampled_weights: np.ndarray      # float32 (labels, samples, bins): unscaled snapshots
    neuron_counts: np.ndarray        # int64 (N): spikes in (T/2, T]
    neuron_input_sums: np.ndarray    # (3, N): Σ of I^e, I^i, I^x over steps ≥ T/2
    window_counts: np.ndarray        # uint16 (windows, N): spikes per covariance window
    epoch_first_step: np.ndarray     # int64 (epochs): windows of epoch e start after this step
    epoch_first_row: np.ndarray      # int64 (epochs): their first row in epoch_counts
    epoch_n_windows: np.ndarray      # int64 (epochs)
    epoch_counts: np.ndarray         # uint16 (Σ windows, N): spikes per epoch window
    raster_steps: np.ndarray         # int64 (capacity): ring buffer of spike steps …
    raster_neurons: np.ndarray       # int32 (capacity): … and neurons
    raster_cursor: np.ndarray        # int64 (1): spikes written to the ring so far


# ----------------------------------------------------------------------------- jitted part
@jit
def sum_range(values, lo, hi):
    """Sum of values[lo:hi] with four partial sums (hides the add latency)."""
    s0 = 0.0
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    j = lo
    while j + 3 < hi:
        s0 += values[j]
        s1 += values[j + 1]
        s2 += values[j + 2]
        s3 += values[j + 3]
        j += 4
    while j < hi:
        s0 += values[j]
        j += 1
    return (s0 + s1) + (s2 + s3)


@jit
def block_weight_sums(weights, column_start, column_split, targets, group_bounds, plastic,
                      out_sum):
    """Sum of scaled weights per (post group, pre group) block, e.g. (E, I) or (E1, I).

    Only blocks flagged in ``plastic`` are summed (others never change, and ``out_sum``
    keeps the constant value it was given).
    """
    n_groups = group_bounds.size - 1
    pre_group = 0
    for g in range(n_groups):
        for h in range(n_groups):
            if plastic[g, h]:
                out_sum[g, h] = 0.0
    any_plastic = np.zeros(n_groups, np.bool_)          # per presynaptic group
    for g in range(n_groups):
        for h in range(n_groups):
            any_plastic[h] = any_plastic[h] or plastic[g, h]
    for k in range(column_start.size - 1):
        while k >= group_bounds[pre_group + 1]:
            pre_group += 1
        if not any_plastic[pre_group]:
            continue          # the column holds no plastic weight: no need to scan it
        # excitatory targets (sorted; one or two E groups), then inhibitory ones
        lo, split = column_start[k], column_split[k]
        for g in range(n_groups - 1):
            if g == n_groups - 2:
                hi = split                  # the last E group ends where the I targets start
            else:
                hi = lo
                while hi < split and targets[hi] < group_bounds[g + 1]:
                    hi += 1
            if plastic[g, pre_group]:
                out_sum[g, pre_group] += sum_range(weights, lo, hi)
            lo = hi
        if plastic[n_groups - 1, pre_group]:
            out_sum[n_groups - 1, pre_group] += sum_range(weights, split, column_start[k + 1])


@jit
def record_bin_currents(group_current, bin_current_sums, b, decay_e, decay_i, decay_x):
    """Step 7 for the population sums, then add them to record bin ``b``."""
    for g in range(group_current.shape[1]):
        group_current[0, g] *= decay_e
        group_current[1, g] *= decay_i
        group_current[2, g] *= decay_x
        for c in range(3):
            bin_current_sums[b, g, c] += group_current[c, g]


@jit
def record_spikes(group_bounds, half_step, covariance_steps, bin_spike_counts, raster_steps,
                  raster_neurons, raster_cursor, neuron_counts, window_counts, epoch_first_step,
                  epoch_first_row, epoch_n_windows, epoch_counts, n, b, spikers, n_spikers):
    """Step 8: count step ``n``'s spikes per group and bin, per neuron, per window (of the
    analysis window and of each stimulation epoch); raster."""
    n_groups = group_bounds.size - 1
    raster_capacity = raster_steps.size
    n_windows = window_counts.shape[0]
    n_epochs = epoch_first_step.size
    for s in range(n_spikers):
        j = spikers[s]
        for g in range(n_groups):
            if j < group_bounds[g + 1]:
                bin_spike_counts[b, g] += 1
                break
        if raster_capacity > 0:
            slot = raster_cursor[0] % raster_capacity
            raster_steps[slot] = n
            raster_neurons[slot] = j
            raster_cursor[0] += 1
        if n > half_step:
            neuron_counts[j] += 1
            w_index = (n - half_step - 1) // covariance_steps
            if w_index < n_windows:
                window_counts[w_index, j] += 1
        for e in range(n_epochs):
            if n > epoch_first_step[e]:
                w_index = (n - epoch_first_step[e] - 1) // covariance_steps
                if w_index < epoch_n_windows[e]:
                    epoch_counts[epoch_first_row[e] + w_index, j] += 1


@jit
def close_record_bin(record, b, state, decay_e, decay_i, decay_x, synapses):
    """End of record bin ``b``: re-anchor the current sums, block sums, weight snapshots.

    The incremental population sums drift by rounding; they are replaced by exact
    sums (the neuron arrays still await this step's decay, hence the factors).
    ``state`` is a NeuronState, ``synapses`` RecurrentSynapses.
    """
    group_bounds, group_current = record.group_bounds, record.group_current
    weights = synapses.weights
    for g in range(group_bounds.size - 1):
        lo, hi = group_bounds[g], group_bounds[g + 1]
        group_current[0, g] = sum_range(state.current_e, lo, hi) * decay_e
        group_current[1, g] = sum_range(state.current_i, lo, hi) * decay_i
        group_current[2, g] = sum_range(state.current_x, lo, hi) * decay_x
    record.block_sums[b] = record.block_constant
    block_weight_sums(weights, synapses.column_start, synapses.column_split, synapses.targets,
                      group_bounds, record.block_plastic, record.block_sums[b])
    sqrt_n = np.sqrt(group_bounds[-1])
    sampled = record.sampled_synapses
    for t in range(sampled.shape[0]):
        for i in range(sampled.shape[1]):
            idx = sampled[t, i]
            if idx >= 0:
                record.sampled_weights[t, i, b] = weights[idx] * sqrt_n


# ----------------------------------------------------------------------------- set-up
def sample_synapses(block_of_synapse, codes, n_sample, rng) -> np.ndarray:
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


class Recorder:
    """Recording buffers of one run and the run dataset built from them.

    Parameters
    ----------
    config : dict
        Resolved run config (``recording``, ``divergence``, weights, plasticity).
    populations : balanced_stdp.network.Populations
        Group layout and sizes.
    connectivity : balanced_stdp.network.RecurrentConnectivity
        Recurrent synapses (for block membership and sampled synapses).
    synapse_rng : numpy.random.Generator
        Draws the sampled synapses (here, at construction).
    pair_rng : numpy.random.Generator
        Draws the sampled neuron pairs of the count covariances (in :meth:`to_dataset`).

    Attributes
    ----------
    buffers : RecordBuffers
        The bundle :func:`balanced_stdp.kernel.run_steps` fills.
    grid : balanced_stdp.contract.RecordGrid
    """

    def __init__(self, config: dict, populations, connectivity, synapse_rng, pair_rng):
        self.config = config
        self.populations = populations
        self.layout = populations.layout
        self.connectivity = connectivity
        self.pair_rng = pair_rng
        self.grid = grid = RecordGrid.from_config(config)
        n = populations.n_neurons
        group_bounds = populations.group_bounds()
        n_groups = self.layout.n_groups
        self.group_sizes = np.diff(group_bounds)
        # block code (post group)·G + (pre group) of every synapse
        columns = connectivity.columns
        self.block_of_synapse = (connectivity.synapse_type if n_groups == 2 else synapse_blocks(
            columns.column_start, columns.targets, group_bounds))
        self.block_counts = np.bincount(self.block_of_synapse,
                                        minlength=n_groups * n_groups).reshape(n_groups, n_groups)
        self.label_codes = {label: [g * n_groups + h for g, h in self.layout.synapse_blocks(label)]
                            for label in self.layout.synapses}

        recording = config["recording"]
        n_sample = recording["sampled_synapses"]
        sampled = np.full((len(self.label_codes), n_sample), -1, np.int64)
        for t, codes in enumerate(self.label_codes.values()):
            chosen = sample_synapses(self.block_of_synapse, codes, n_sample, synapse_rng)
            sampled[t, :chosen.size] = chosen

        # Blocks of plastic synapse types are summed at every record; the others keep the
        # sum of their (constant) initial weights.
        type_of_block = np.array([[2 * (g == n_groups - 1) + (h == n_groups - 1)
                                   for h in range(n_groups)] for g in range(n_groups)])
        plastic_types = [t for t, syn in enumerate(SYNAPSE_TYPES) if syn in config["plasticity"]]
        type_weight = np.array([config["weights"][s] for s in SYNAPSE_TYPES]) / math.sqrt(n)
        n_bins = grid.n_bins
        self.raster_window_steps = round(recording["raster_duration_s"] * 1000.0 / grid.dt_ms)
        raster_capacity = int(n * recording["raster_duration_s"] * RASTER_CAPACITY_RATE_HZ)
        self.epochs = grid.epoch_windows(config)
        epoch_n_windows = np.array([w for _, w in self.epochs.values()], np.int64)
        self.buffers = RecordBuffers(
            n_steps=grid.n_steps, record_steps=grid.record_steps, half_step=grid.half_step,
            covariance_steps=grid.covariance_steps, group_bounds=group_bounds,
            group_current=np.zeros((3, n_groups)),
            bin_spike_counts=np.zeros((n_bins, n_groups), np.int64),
            bin_current_sums=np.zeros((n_bins, n_groups, 3)),
            block_sums=np.zeros((n_bins, n_groups, n_groups)),
            block_plastic=np.isin(type_of_block, plastic_types),
            block_constant=self.block_counts * type_weight[type_of_block],
            sampled_synapses=sampled,
            sampled_weights=np.full((len(self.label_codes), n_sample, n_bins), np.nan,
                                    np.float32),
            neuron_counts=np.zeros(n, np.int64), neuron_input_sums=np.zeros((3, n)),
            window_counts=np.zeros((grid.n_windows, n), np.uint16),
            epoch_first_step=np.array([s for s, _ in self.epochs.values()], np.int64),
            epoch_first_row=np.concatenate([[0], np.cumsum(epoch_n_windows)[:-1]]).astype(
                np.int64),
            epoch_n_windows=epoch_n_windows,
            epoch_counts=np.zeros((int(epoch_n_windows.sum()), n), np.uint16),
            raster_steps=np.zeros(raster_capacity, np.int64),
            raster_neurons=np.zeros(raster_capacity, np.int32),
            raster_cursor=np.zeros(1, np.int64))

    def excitatory_inhibitory_rates_hz(self, first_step: int, last_step: int):
        """Mean E (E1 and E2 pooled) and I rate over steps first_step … last_step."""
        record_steps = self.grid.record_steps
        counts = self.buffers.bin_spike_counts[
            (first_step - 1) // record_steps:-(-last_step // record_steps)].sum(axis=0)
        span_s = (last_step - first_step + 1) * self.grid.dt_ms / 1000.0
        sizes = self.group_sizes
        rates = counts / (sizes * span_s)
        return float(np.average(rates[:-1], weights=sizes[:-1])), float(rates[-1])

    def to_dataset(self, status: int, last_step: int, weights: np.ndarray) -> xr.Dataset:
        """The run dataset of ``docs/data-contract.md`` from the buffers.

        Parameters
        ----------
        status : int
            ``STATUS_*`` code the kernel returned (0: completed).
        last_step : int
            Last simulated step (earlier than ``grid.n_steps`` if the run diverged).
        weights : ndarray
            Final scaled weights J of the recurrent synapses, CSC order.

        Returns
        -------
        xarray.Dataset
            Everything recorded up to ``last_step``, with the swept parameters as
            length-1 dimensions and the run's global attributes (timing excepted).
        """
        config, grid, layout = self.config, self.grid, self.layout
        n = self.populations.n_neurons
        population_rate, mean_input = self._population_series(last_step)
        neuron_rate, neuron_input = self._neuron_window(last_step)
        counts, complete_windows = self._count_statistics(last_step)
        synapses = self._synapse_statistics(last_step, weights, neuron_rate)
        raster_time, raster_neuron = self._raster(last_step)
        diverged = status != 0
        diverged_at_s = last_step * grid.dt_ms / 1000.0 if diverged else np.nan

        def run(name, data, **attrs):
            return variable(RUN_KIND, name, data, **attrs)

        ds = xr.Dataset(
            {
                "population_rate": run("population_rate", population_rate),
                "neuron_rate": run("neuron_rate", neuron_rate),
                **{name: run(name, data) for name, data in synapses.items()},
                "mean_input": run("mean_input", mean_input),
                "neuron_mean_input": run("neuron_mean_input", neuron_input),
                "spike_count_cov": run("spike_count_cov", counts["cov"],
                                       window_s=config["recording"]["covariance_window_s"],
                                       n_windows=complete_windows),
                "spike_count_corr": run("spike_count_corr", counts["corr"]),
                "spike_count_var": run("spike_count_var", counts["var"]),
                "sampled_spike_count_cov": run("sampled_spike_count_cov", counts["sampled_cov"]),
                "sampled_spike_count_corr": run("sampled_spike_count_corr",
                                                counts["sampled_corr"]),
                "raster_time": run("raster_time", raster_time),
                "raster_neuron": run("raster_neuron", raster_neuron),
                "diverged": run("diverged", np.int8(diverged)),
                "diverged_at_s": run("diverged_at_s", diverged_at_s),
            },
            coords=coordinates(
                time=grid.times_s(last_step), population=list(layout.populations),
                synapse=list(layout.synapses), source=list(SOURCES), neuron=np.arange(n),
                neuron_population=self.populations.neuron_labels(),
                sample=np.arange(self.buffers.sampled_synapses.shape[1]),
                pair_type=list(layout.pair_types),
                pair_sample=np.arange(config["recording"]["sampled_pairs"])),
        )
        if self.epochs:
            ds = ds.merge(self._epoch_statistics(last_step))
        ds = add_swept_dims(ds, config)
        ds.attrs = self._attributes(status, last_step, diverged_at_s)
        return ds

    def _population_series(self, last_step: int) -> tuple[np.ndarray, np.ndarray]:
        """``population_rate`` (population, time) and ``mean_input`` (population, source,
        time) per record bin: the groups of a population label (E = E1 ∪ E2) pooled by
        summing their counts and current sums."""
        buf = self.buffers
        bin_end_steps = self.grid.bin_end_steps(last_step)
        n_done_bins = bin_end_steps.size
        steps_in_bin = np.diff(np.concatenate([[0], bin_end_steps]))
        pooled = list(self.layout.populations.values())
        sizes = np.array([self.group_sizes[list(g)].sum() for g in pooled])
        counts = buf.bin_spike_counts[:n_done_bins].astype(np.float64)
        counts = np.stack([counts[:, list(g)].sum(axis=1) for g in pooled], axis=1)
        currents = buf.bin_current_sums[:n_done_bins]
        currents = np.stack([currents[:, list(g)].sum(axis=1) for g in pooled], axis=1)
        bin_s = steps_in_bin * self.grid.dt_ms / 1000.0
        population_rate = counts / (bin_s[:, None] * sizes[None, :])
        mean_input = currents / (steps_in_bin[:, None, None] * sizes[None, :, None])
        mean_input = np.concatenate([mean_input, mean_input.sum(axis=2, keepdims=True)], axis=2)
        return population_rate.T, mean_input.transpose(1, 2, 0)

    def _analysis_steps(self, last_step: int) -> int:
        """Steps of the analysis window (T/2, t_stop]."""
        return last_step - self.grid.half_step

    def _neuron_window(self, last_step: int) -> tuple[np.ndarray, np.ndarray]:
        """Per-neuron rate (Hz) and time-averaged input per source, with the total, over
        the analysis window (T/2, t_stop]; NaN if the run stopped before it."""
        buf, n = self.buffers, self.populations.n_neurons
        analysis_steps = self._analysis_steps(last_step)
        if analysis_steps > 0:
            neuron_rate = buf.neuron_counts / (analysis_steps * self.grid.dt_ms / 1000.0)
            # inputs are accumulated from step T/2 on (spec §2.5 step 8: t_n ≥ T/2)
            neuron_input = buf.neuron_input_sums.T / (analysis_steps + 1)
        else:
            neuron_rate = np.full(n, np.nan)
            neuron_input = np.full((n, 3), np.nan)
        neuron_input = np.concatenate([neuron_input, neuron_input.sum(axis=1, keepdims=True)],
                                      axis=1)
        return neuron_rate, neuron_input

    def _count_statistics(self, last_step: int) -> tuple[dict, int]:
        """Spike-count statistics over the complete covariance windows, and their number."""
        buf = self.buffers
        complete_windows = max(0, min(buf.window_counts.shape[0],
                                      self._analysis_steps(last_step)
                                      // self.grid.covariance_steps))
        stats = spike_count_statistics(buf.window_counts[:complete_windows], self.layout,
                                       buf.group_bounds, self.config["recording"]["sampled_pairs"],
                                       self.pair_rng)
        return stats, complete_windows

    def _synapse_statistics(self, last_step: int, weights: np.ndarray,
                            neuron_rate: np.ndarray) -> dict:
        """Mean and sampled weights per record bin, the sampled synapses' neurons and
        rates, and the weight–rate covariance over all synapses (``final_weight_rate_cov``)."""
        buf, n = self.buffers, self.populations.n_neurons
        n_done_bins = self.grid.bin_end_steps(last_step).size
        sampled = buf.sampled_synapses
        valid = sampled >= 0
        safe = np.where(valid, sampled, 0)
        sampled_pre = np.where(valid, self.connectivity.presynaptic_neuron(safe), -1)
        sampled_post = np.where(valid, self.connectivity.columns.targets[safe], -1)
        moments = block_weight_rate_moments(weights * math.sqrt(n),
                                            self.connectivity.columns.column_start,
                                            self.block_of_synapse, self.layout.n_groups ** 2,
                                            neuron_rate)
        weight_rate_cov = [weight_rate_covariance(moments, codes)
                           for codes in self.label_codes.values()]
        mean_weight = mean_weight_per_label(buf.block_sums, self.block_counts,
                                            self.label_codes.values(), n)
        return {
            "mean_weight": mean_weight[:, :n_done_bins],
            "sampled_weight": buf.sampled_weights[:, :, :n_done_bins],
            "sampled_pre_neuron": sampled_pre.astype(np.int32),
            "sampled_post_neuron": sampled_post.astype(np.int32),
            "sampled_pre_rate": np.where(valid, neuron_rate[sampled_pre], np.nan),
            "sampled_post_rate": np.where(valid, neuron_rate[sampled_post], np.nan),
            "final_weight_rate_cov": np.array(weight_rate_cov),
        }

    def _raster(self, last_step: int) -> tuple[np.ndarray, np.ndarray]:
        """Spike times (s) and neurons of the raster sample: the ring buffer's entries
        within the last raster window, in time order."""
        buf = self.buffers
        stored = min(int(buf.raster_cursor[0]), buf.raster_steps.size)
        steps, neurons = buf.raster_steps[:stored], buf.raster_neurons[:stored]
        keep = steps > last_step - self.raster_window_steps
        order = np.argsort(steps[keep], kind="stable")
        steps, neurons = steps[keep][order], neurons[keep][order]
        return steps * self.grid.dt_ms / 1000.0, neurons.astype(np.int32)

    def _attributes(self, status: int, last_step: int, diverged_at_s: float) -> dict:
        """The run's global attributes: kind, status, config, provenance, conventions."""
        config, grid = self.config, self.grid
        diverged = status != 0
        return {
            "title": "balanced-stdp simulation run",
            "Conventions": "CF-1.10",
            "kind": RUN_KIND,
            "status": "diverged" if diverged else "ok",
            "diverged_at_s": float(diverged_at_s) if diverged else "none",
            "divergence_reason": STATUS_MESSAGES.get(status, "none"),
            "rule": rule_label(config),
            "seed": int(config["seed"]),
            "config": config_to_json(config),
            **provenance(),
            "git_revision": git_revision(),
            "analysis_window_s": f"({grid.half_step * grid.dt_ms / 1000.0}, "
                                 f"{last_step * grid.dt_ms / 1000.0}]",
            "covariance_convention": "off-diagonal block means (spec 5.2 recommendation)",
            "plastic_synapses": ",".join(config["plasticity"]) or "none",
        }

    def _epoch_statistics(self, last_step: int) -> xr.Dataset:
        """Count covariances and correlations of each stimulation epoch (spec §10), over
        its complete windows up to ``last_step``."""
        buf, grid = self.buffers, self.grid
        n_pair_samples = self.config["recording"]["sampled_pairs"]
        cov, corr, sampled_corr = [], [], []
        for e, (first_step, n_windows) in enumerate(self.epochs.values()):
            done = min(n_windows, max(0, (last_step - first_step) // grid.covariance_steps))
            row = buf.epoch_first_row[e]
            stats = spike_count_statistics(buf.epoch_counts[row:row + done], self.layout,
                                           buf.group_bounds, n_pair_samples, self.pair_rng)
            cov.append(stats["cov"])
            corr.append(stats["corr"])
            sampled_corr.append(stats["sampled_corr"])
        window_s = self.config["recording"]["covariance_window_s"]
        return xr.Dataset(
            {"epoch_spike_count_cov": variable(RUN_KIND, "epoch_spike_count_cov", np.array(cov),
                                               window_s=window_s),
             "epoch_spike_count_corr": variable(RUN_KIND, "epoch_spike_count_corr",
                                                np.array(corr)),
             "epoch_sampled_spike_count_corr": variable(RUN_KIND,
                                                        "epoch_sampled_spike_count_corr",
                                                        np.array(sampled_corr))},
            coords=coordinates(epoch=list(self.epochs), pair_type=list(self.layout.pair_types),
                               pair_sample=np.arange(n_pair_samples)))
