"""The numba simulation kernel: forward-Euler EIF network with STDP (spec §2.5).

One jitted function, :func:`run_steps`, advances the network over a range of
time steps. It takes a few typed bundles — :class:`NeuronParameters`,
:class:`NeuronState`, :class:`RecurrentSynapses`, :class:`InputChunk`, the
recorder's :class:`~balanced_stdp.recorder.RecordBuffers` and a
:class:`~balanced_stdp.divergence.DivergenceGuard` — which are named tuples of
arrays and scalars (numba types them as plain heterogeneous tuples: no dicts or
objects inside the jitted code). It draws no random numbers: all set-up and
randomness live in :mod:`balanced_stdp.simulation`, so a run is reproducible
from its seed.

The per-step order is exactly spec §2.5:

1. deliver external spikes with time ≤ t_n;
2. Euler voltage update; 3. spike detection (:mod:`~balanced_stdp.neuron_update`);
4. recurrent currents from this step's spikes (weights before plasticity);
5. plasticity with traces from before this step's spikes: presynaptic-spike
   (column) updates, fused into the delivery pass of step 4 (each weight is
   delivered, then updated), then postsynaptic-spike (row) updates of the blocks in
   the order ee, ei, ie, ii; every synapse sees its column update before its row
   update, as the spec orders; 6. traces += 1 for spikers
   (:mod:`~balanced_stdp.synapse_update`);
7. Euler decay of currents and traces;
8. reset (V = V_th is recorded, then V = V_re) and recording
   (:mod:`~balanced_stdp.recorder`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .divergence import STATUS_RUNNING, divergence_status
from .neuron_update import collect_spikers, euler_voltage, euler_voltage_parallel, finish_decay
from .numba_cache import jit
from .phase_timer import DELIVERY, INPUT, RECORDING, ROWS, VOLTAGE, cycle_counter
from .recorder import close_record_bin, record_bin_currents, record_spikes
from .synapse_update import deliver_constant, deliver_recurrent, rows_and_traces


class NeuronParameters(NamedTuple):
    """EIF membrane (spec §2.3, C_m = 1) and the per-step decay of currents and traces."""

    dt_ms: float
    leak_rate_per_ms: float          # g_L / C_m = 1/τ_m
    leak_reversal_mv: float          # E_L
    threshold_mv: float              # V_T, centre of the exponential spike current
    slope_factor_mv: float           # Δ_T
    spike_mv: float                  # V_th: a spike when V ≥ V_th
    reset_mv: float                  # V_re
    bias_current_mv_per_ms: float
    decay_e: float                   # 1 − dt/τ_e: Euler decay of I^e per step
    decay_i: float                   # 1 − dt/τ_i
    decay_x: float                   # 1 − dt/τ_x
    decay_trace: float               # 1 − dt/τ_STDP
    jump_per_weight_e_per_ms: float  # 1/τ_e: an E spike through J adds J/τ_e to I^e
    jump_per_weight_i_per_ms: float  # 1/τ_i

    @classmethod
    def from_config(cls, config: dict) -> "NeuronParameters":
        """Parameters of a resolved run config."""
        neuron, tau = config["neuron"], config["synaptic_time_constants_ms"]
        dt = config["dt_ms"]
        return cls(float(dt), 1.0 / neuron["membrane_time_constant_ms"],
                   float(neuron["leak_reversal_mv"]), float(neuron["threshold_mv"]),
                   float(neuron["slope_factor_mv"]), float(neuron["spike_mv"]),
                   float(neuron["reset_mv"]), float(neuron["bias_current_mv_per_ms"]),
                   1.0 - dt / tau["e"], 1.0 - dt / tau["i"], 1.0 - dt / tau["x"],
                   1.0 - dt / config["tau_stdp_ms"], 1.0 / tau["e"], 1.0 / tau["i"])


class NeuronState(NamedTuple):
    """Per-neuron dynamic state, updated in place (arrays of length N)."""

    voltage_mv: np.ndarray
    current_e: np.ndarray            # I^e, mV/ms (C_m = 1)
    current_i: np.ndarray            # I^i, mV/ms
    current_x: np.ndarray            # I^x (external layers X and X2), mV/ms
    trace: np.ndarray                # eligibility trace x (spec §4.1), 1

    @classmethod
    def initial(cls, voltage_mv: np.ndarray, dtype=np.float64) -> "NeuronState":
        """V(0) as given; currents and traces start at 0 (spec §2.6).

        ``dtype`` is that of V, the currents and the traces (run-config key
        ``precision``). A float32 trace is exact to 6e-8 relative per step; its rounding
        over a 200-ms STDP time constant (2000 steps) stays below 1e-4 relative, far
        inside the noise of the weight updates it enters (each is computed in float64).
        """
        n = voltage_mv.size
        return cls(voltage_mv.astype(dtype, copy=False), np.zeros(n, dtype), np.zeros(n, dtype),
                   np.zeros(n, dtype), np.zeros(n, dtype))


class RecurrentSynapses(NamedTuple):
    """Recurrent E/I synapses: CSC storage, the row index into it, weights and rules.

    See :class:`balanced_stdp.network.RecurrentConnectivity` for the index arrays.
    """

    column_start: np.ndarray         # int64 (N + 1)
    column_split: np.ndarray         # int64 (N): first inhibitory post of each column
    targets: np.ndarray              # int32 (nnz): postsynaptic neuron of each CSC entry
    row_start: np.ndarray            # int64 (N + 1)
    row_split: np.ndarray            # int64 (N): first inhibitory pre of each row
    row_sources: np.ndarray          # int32 (nnz): presynaptic neuron of each row entry
    row_synapse: np.ndarray          # int (nnz): CSC position of each row entry
    weights: np.ndarray              # float64 or float32 (nnz, run-config precision): J = j/√N
    rule_table: np.ndarray           # (4, fields): plasticity.kernel_rule_table
    n_excitatory: int                # neurons 0 … n_excitatory − 1 are excitatory

    @classmethod
    def from_connectivity(cls, connectivity, weights: np.ndarray, rule_table: np.ndarray,
                          n_excitatory: int) -> "RecurrentSynapses":
        """Bundle a :class:`~balanced_stdp.network.RecurrentConnectivity` with its weights."""
        columns = connectivity.columns
        return cls(columns.column_start, columns.column_split, columns.targets,
                   connectivity.row_start, connectivity.row_split, connectivity.row_sources,
                   connectivity.row_synapse, weights, rule_table, int(n_excitatory))


class InputChunk(NamedTuple):
    """Spikes of the external layer X (→ E, I) and the laser layer X2 (→ E1) for one chunk.

    Spikes are given as (delivery step, source neuron), sorted by step; the
    projections are CSC (E targets before the split, then I targets).
    """

    external_steps: np.ndarray
    external_sources: np.ndarray
    external_column_start: np.ndarray
    external_column_split: np.ndarray
    external_targets: np.ndarray
    jump_ex_mv_per_ms: float         # J_ex/τ_x added to I^x of an E target per X spike
    jump_ix_mv_per_ms: float         # J_ix/τ_x for an I target
    laser_steps: np.ndarray
    laser_sources: np.ndarray
    laser_column_start: np.ndarray
    laser_targets: np.ndarray
    jump_laser_mv_per_ms: float


# One function over 120 lines on purpose: the step loop of spec §2.5 compiles as one loop.
@jit
def run_steps(first_step, last_step, neuron, state, synapses, drive, record, guard,
              parallel=False, phase_ticks=None):
    """Advance the network over steps ``first_step … last_step`` (inclusive, 1-based).

    Parameters
    ----------
    first_step, last_step : int
        Step range of this call (one chunk of the run).
    neuron : NeuronParameters
    state : NeuronState
        Updated in place.
    synapses : RecurrentSynapses
        Weights are updated in place by plasticity.
    drive : InputChunk
        External and laser spikes up to at least ``last_step``.
    record : RecordBuffers
        The recorder's buffers, filled in place.
    guard : DivergenceGuard
    parallel : bool
        Use the multi-threaded variants of the voltage pass (chunks of neurons), the
        delivery (E and I spikers on two threads) and the row updates (spikers) (run-config
        key ``threads`` > 1; numba's thread count is set by the caller).
        Results are identical to the single-thread kernel.
    phase_ticks : ndarray of int64 or None
        ``None`` (production): no timing code is compiled in. Otherwise time-stamp
        counter ticks are added per phase of :data:`balanced_stdp.phase_timer.PHASES`.

    Returns
    -------
    status : int
        ``STATUS_RUNNING`` if the range completed, otherwise a divergence code.
    last_step : int
        The last step simulated (the end of the record bin where divergence was found).
    """
    # Bundles are unpacked once, here: the calls made every step take plain arrays
    # (passing a bundle down to them cost speed, see synapse_update.row_plasticity);
    # only the once-per-record-bin calls take whole bundles.
    v, trace = state.voltage_mv, state.trace
    current_e, current_i, current_x = state.current_e, state.current_i, state.current_x
    column_start, column_split = synapses.column_start, synapses.column_split
    targets, weights, n_exc = synapses.targets, synapses.weights, synapses.n_excitatory
    row_start, row_split = synapses.row_start, synapses.row_split
    row_sources, row_synapse = synapses.row_sources, synapses.row_synapse
    rule_table = synapses.rule_table
    group_bounds, group_current = record.group_bounds, record.group_current
    decay_e, decay_i, decay_x = neuron.decay_e, neuron.decay_i, neuron.decay_x
    decay_trace = neuron.decay_trace
    jump_e, jump_i = neuron.jump_per_weight_e_per_ms, neuron.jump_per_weight_i_per_ms
    half_step = record.half_step
    n_neurons = v.size
    last_group = group_bounds.size - 2     # the I population; E groups come first
    exp_term = np.empty_like(v)
    spiked = np.zeros(n_neurons, np.uint8)
    spikers = np.empty(n_neurons, np.int32)
    inv_delta_t = 1.0 / neuron.slope_factor_mv
    bias, dt_ms, v_spike = neuron.bias_current_mv_per_ms, neuron.dt_ms, neuron.spike_mv
    g_leak, e_leak = neuron.leak_rate_per_ms, neuron.leak_reversal_mv
    v_threshold = neuron.threshold_mv
    spike_gain = neuron.leak_rate_per_ms * neuron.slope_factor_mv
    ext_cursor = 0
    laser_cursor = 0
    # Step 7 (decay) of step n is applied inside step 2 of step n + 1 (fused sweep, see
    # euler_voltage); `pending` says whether one is due. A chunk ends with none pending.
    pending = False
    for n in range(first_step, last_step + 1):
        if phase_ticks is not None:
            tick = cycle_counter()
        # 1. external input (pre-divided by the still pending decay of the previous step)
        x_scale = 1.0 / decay_x if pending else 1.0
        while ext_cursor < drive.external_steps.size and drive.external_steps[ext_cursor] <= n:
            k = drive.external_sources[ext_cursor]
            lo, split = drive.external_column_start[k], drive.external_column_split[k]
            deliver_constant(current_x, drive.external_targets, lo, split,
                             drive.jump_ex_mv_per_ms * x_scale, drive.jump_ex_mv_per_ms,
                             group_bounds, 0, group_current[2])
            deliver_constant(current_x, drive.external_targets, split,
                             drive.external_column_start[k + 1],
                             drive.jump_ix_mv_per_ms * x_scale, drive.jump_ix_mv_per_ms,
                             group_bounds, last_group, group_current[2])
            ext_cursor += 1
        while laser_cursor < drive.laser_steps.size and drive.laser_steps[laser_cursor] <= n:
            k = drive.laser_sources[laser_cursor]
            deliver_constant(current_x, drive.laser_targets, drive.laser_column_start[k],
                             drive.laser_column_start[k + 1],
                             drive.jump_laser_mv_per_ms * x_scale, drive.jump_laser_mv_per_ms,
                             group_bounds, 0, group_current[2])
            laser_cursor += 1
        if phase_ticks is not None:
            tock = cycle_counter()
            phase_ticks[INPUT] += tock - tick
            tick = tock
        # 2. voltage (forward Euler, C_m = 1), after the pending step-7 decay of step n − 1
        if pending:
            d_e, d_i, d_x, d_trace = decay_e, decay_i, decay_x, decay_trace
        else:
            d_e, d_i, d_x, d_trace = 1.0, 1.0, 1.0, 1.0
        accumulate = pending and n - 1 >= half_step
        if parallel:
            euler_voltage_parallel(v, current_e, current_i, current_x, bias, dt_ms, g_leak,
                                   e_leak, v_threshold, inv_delta_t, spike_gain, v_spike,
                                   spiked, exp_term, trace, d_e, d_i, d_x, d_trace, accumulate,
                                   record.neuron_input_sums)
        else:
            euler_voltage(v, current_e, current_i, current_x, bias, dt_ms, g_leak, e_leak,
                          v_threshold, inv_delta_t, spike_gain, v_spike, spiked, exp_term,
                          trace, d_e, d_i, d_x, d_trace, accumulate, record.neuron_input_sums)
        # 3. spike detection (flags set in the voltage pass)
        n_spikers = collect_spikers(spiked, spikers)
        if phase_ticks is not None:
            tock = cycle_counter()
            phase_ticks[VOLTAGE] += tock - tick
            tick = tock
        # 4.–5. recurrent currents (weights from before this step's plasticity), fused with
        # the presynaptic (column) plasticity updates; then the row updates and, 6., traces
        deliver_recurrent(current_e, current_i, targets, weights, column_start, column_split,
                          spikers, n_spikers, n_exc, jump_e, jump_i, group_bounds,
                          group_current, trace, rule_table, parallel)
        if phase_ticks is not None:
            tock = cycle_counter()
            phase_ticks[DELIVERY] += tock - tick
            tick = tock
        rows_and_traces(weights, row_start, row_split, row_sources, row_synapse, trace,
                        rule_table, spikers, n_spikers, n_exc, parallel)
        if phase_ticks is not None:
            phase_ticks[ROWS] += cycle_counter() - tick
        if phase_ticks is not None:
            tick = cycle_counter()
        # 7. decay: per neuron deferred to the next step's sweep (or the chunk's end); the
        # population sums for the record bins decay now
        pending = True
        b = (n - 1) // record.record_steps
        record_bin_currents(group_current, record.bin_current_sums, b, decay_e, decay_i,
                            decay_x)
        # 8. reset and recording
        for s in range(n_spikers):
            v[spikers[s]] = neuron.reset_mv
        record_spikes(group_bounds, half_step, record.covariance_steps, record.bin_spike_counts,
                      record.raster_steps, record.raster_neurons, record.raster_cursor,
                      record.neuron_counts, record.window_counts, record.epoch_first_step,
                      record.epoch_first_row, record.epoch_n_windows, record.epoch_counts, n, b,
                      spikers, n_spikers)
        guard.spike_total[0] += n_spikers
        # end of a record bin: weight snapshots and the divergence guard
        if n % record.record_steps == 0 or n == record.n_steps:
            close_record_bin(record, b, state, decay_e, decay_i, decay_x, synapses)
            status = divergence_status(record, guard, b)
            if status != STATUS_RUNNING:
                finish_decay(current_e, current_i, current_x, trace, decay_e, decay_i,
                             decay_x, decay_trace, n >= half_step, record.neuron_input_sums)
                return status, n
        if phase_ticks is not None:
            phase_ticks[RECORDING] += cycle_counter() - tick
    if pending:
        finish_decay(current_e, current_i, current_x, trace, decay_e, decay_i, decay_x,
                     decay_trace, last_step >= half_step, record.neuron_input_sums)
    return STATUS_RUNNING, last_step
