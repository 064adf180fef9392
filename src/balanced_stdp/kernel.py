"""The numba simulation kernel: forward-Euler EIF network with STDP (spec §2.5).

One jitted function, :func:`run_steps`, advances the network over a range of
time steps. It takes an explicit, typed argument list (arrays and scalars only —
no dicts or objects) and draws no random numbers: all set-up and randomness
live in :mod:`balanced_stdp.simulation`, so a run is reproducible from its seed.

The per-step order is exactly spec §2.5:

1. deliver external spikes with time ≤ t_n;
2. Euler voltage update; 3. spike detection;
4. recurrent currents from this step's spikes (weights before plasticity);
5. plasticity blocks in the order ee, ei, ie, ii — in each, presynaptic-spike
   (column) updates first, then postsynaptic-spike (row) updates — with traces
   from before this step's spikes;
6. traces += 1 for spikers; 7. Euler decay of currents and traces;
8. reset (V = V_th is recorded, then V = V_re) and recording.

Plasticity reads each rule from one row of the rule table built by
:func:`balanced_stdp.plasticity.kernel_rule_table` (general affine form, spec §4.2).
"""

from __future__ import annotations

import math
import os

import numba
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

from .plasticity import KERNEL_INDEX

_ACTIVE = KERNEL_INDEX["active"]
_ETA = KERNEL_INDEX["eta_eff"]
_A_PRE0, _A_PRE1 = KERNEL_INDEX["a_pre0"], KERNEL_INDEX["a_pre1"]
_B_PRE0, _B_PRE1 = KERNEL_INDEX["b_pre0"], KERNEL_INDEX["b_pre1"]
_A_POST0, _A_POST1 = KERNEL_INDEX["a_post0"], KERNEL_INDEX["a_post1"]
_B_POST0, _B_POST1 = KERNEL_INDEX["b_post0"], KERNEL_INDEX["b_post1"]
_PRE_LO, _PRE_HI = KERNEL_INDEX["pre_lower"], KERNEL_INDEX["pre_upper"]
_POST_LO, _POST_HI = KERNEL_INDEX["post_lower"], KERNEL_INDEX["post_upper"]
_POWER = KERNEL_INDEX["post_trace_power"]

# Status codes returned by run_steps.
STATUS_RUNNING = 0
STATUS_BIN_RATE = 1       # a population's rate in one record bin exceeded the cap
STATUS_SPIKE_BUDGET = 2   # total spikes exceeded max_mean_rate · N · T (authors' buffer)
STATUS_NONFINITE = 3      # a weight or current became non-finite
STATUS_MESSAGES = {
    STATUS_BIN_RATE: "population rate above divergence.max_bin_rate_hz",
    STATUS_SPIKE_BUDGET: "total spike count above divergence.max_mean_rate_hz x N x T",
    STATUS_NONFINITE: "non-finite weight or current",
}


def fallback_cache_dir(package_dir: str, environ) -> str | None:
    """Cache directory numba should use, or None to keep its default.

    numba writes ``cache=True`` files next to the source. If that directory is not
    writable (a read-only install or container image) and NUMBA_CACHE_DIR is unset,
    numba fails at import; use a per-user cache directory instead.
    """
    if environ.get("NUMBA_CACHE_DIR"):
        return None
    probe = os.path.join(package_dir, "__pycache__")
    try:
        os.makedirs(probe, exist_ok=True)
        writable = os.access(probe, os.W_OK)
    except OSError:
        writable = False
    if writable:
        return None
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "balanced_stdp", "numba")


def _configure_cache() -> None:
    """Apply :func:`fallback_cache_dir` before the jitted functions are defined."""
    fallback = fallback_cache_dir(os.path.dirname(os.path.abspath(__file__)), os.environ)
    if fallback is not None:
        os.makedirs(fallback, exist_ok=True)
        os.environ["NUMBA_CACHE_DIR"] = fallback
        numba.config.CACHE_DIR = fallback


_configure_cache()

# 'contract' lets LLVM fuse multiply-adds (FMA); no flag that changes NaN/inf
# semantics is used, so the divergence guard's finiteness checks stay valid.
_jit = numba.njit(cache=True, fastmath={"contract"}, nogil=True, error_model="numpy")

_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e00
_ROUND_MAGIC = 6755399441055744.0          # 1.5·2^52: adding it rounds to an integer
_ROUND_MAGIC_BITS = np.int64(0x4338000000000000)
# Degree-11 polynomial for e^r on |r| ≤ ln2/2 (c0 = c1 = 1 fixed, the rest a least-squares
# fit on Chebyshev nodes in extended precision): max relative error 2.3e-16, the same as
# the degree-13 Taylor series, with two fewer multiply-adds.
_P2, _P3, _P4 = 0.5000000000000018, 0.16666666666666774, 0.04166666666650033
_P5, _P6, _P7 = 0.008333333333236275, 0.001388888895184388, 0.00019841270097598364
_P8, _P9 = 2.4801484546174528e-05, 2.7557031523401995e-06
_P10, _P11 = 2.7633280440857925e-07, 2.5183861076944398e-08


@_jit
def euler_voltage(v, current_e, current_i, current_x, bias, dt, g_leak, e_leak, v_threshold,
                  inv_delta_t, spike_gain, v_spike, spiked, exp_term, scratch_float, scratch_int,
                  trace, decay_e, decay_i, decay_x, decay_trace, accumulate, input_sums):
    """Step 2 of spec §2.5: V += dt·[I + g_L(E_L − V) + g_L Δ_T exp((V − V_T)/Δ_T)].

    The exponential is computed in SIMD-friendly passes (numba's scalar
    ``math.exp`` calls libm per neuron and dominated the step time): a Cody–Waite
    reduction x = k·ln2 + r, a degree-11 polynomial for e^r (|r| ≤ ln2/2) and 2^k
    assembled from exponent bits. Relative error ≤ 2.3e-16 for |x| ≤ 700 (checked
    against NumPy in the tests); x is clamped to ±700, far outside anything a
    membrane potential reaches.
    Step 3's test V ≥ V_th is folded into the last pass: ``spiked[j]`` is set to 1/0.

    The same pass first applies step 7 (Euler decay of currents and traces) of the
    *previous* step — pass decay factors of 1 when there is none pending — and, if
    ``accumulate``, adds the decayed currents to ``input_sums`` (the [T/2, T] averages).
    Fusing saves one sweep over the neuron arrays per step; the caller delivers the
    external spikes of this step pre-divided by the pending decay, so the result is the
    spec's order (decay, then input) up to rounding.
    """
    n = v.size
    for j in range(n):
        a = (v[j] - v_threshold) * inv_delta_t
        a = a if a > -700.0 else -700.0
        a = a if a < 700.0 else 700.0
        t = a * _INV_LN2 + _ROUND_MAGIC       # t's low mantissa bits hold round(a/ln2)
        k = t - _ROUND_MAGIC
        r = (a - k * _LN2_HI) - k * _LN2_LO
        # Estrin's scheme: a shallower dependency chain than Horner's (≈ 12 % faster here)
        r2 = r * r
        r4 = r2 * r2
        low = (1.0 + r) + (_P2 + _P3 * r) * r2
        mid = (_P4 + _P5 * r) + (_P6 + _P7 * r) * r2
        high = (_P8 + _P9 * r) + (_P10 + _P11 * r) * r2
        exp_term[j] = low + (mid + high * r4) * r4
        scratch_float[j] = t
    as_int = scratch_float.view(np.int64)
    for j in range(n):
        scratch_int[j] = (as_int[j] - _ROUND_MAGIC_BITS + 1023) << 52
    powers_of_two = scratch_int.view(np.float64)
    for j in range(n):
        i_e = current_e[j] * decay_e
        i_i = current_i[j] * decay_i
        i_x = current_x[j] * decay_x
        current_e[j] = i_e
        current_i[j] = i_i
        current_x[j] = i_x
        trace[j] *= decay_trace
        if accumulate:
            input_sums[0, j] += i_e
            input_sums[1, j] += i_i
            input_sums[2, j] += i_x
        vj = v[j]
        v_new = vj + dt * (i_e + i_i + i_x + bias
                           + g_leak * (e_leak - vj) + spike_gain * (exp_term[j] * powers_of_two[j]))
        v[j] = v_new
        spiked[j] = v_new >= v_spike


@_jit
def exp_array(x):
    """exp(x) computed by :func:`euler_voltage`'s SIMD exponential (to test its accuracy)."""
    n = x.size
    v = x.copy()
    zeros = np.zeros(n)
    exp_term, scratch_float, scratch_int = np.empty(n), np.empty(n), np.empty(n, np.int64)
    spiked = np.zeros(n, np.uint8)
    # with dt = 1, g_L = 0, V_T = 0, Δ_T = 1 and no current: V_new − V = exp(V)
    euler_voltage(v, zeros, zeros, zeros, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, np.inf, spiked,
                  exp_term, scratch_float, scratch_int, zeros.copy(), 1.0, 1.0, 1.0, 1.0, False,
                  np.zeros((3, n)))
    return exp_term * scratch_int.view(np.float64)


@_jit
def finish_decay(current_e, current_i, current_x, trace, decay_e, decay_i, decay_x,
                 decay_trace, accumulate, input_sums):
    """Step 7 of spec §2.5 for the last step of a chunk (otherwise fused into step 2)."""
    for j in range(current_e.size):
        current_e[j] *= decay_e
        current_i[j] *= decay_i
        current_x[j] *= decay_x
        trace[j] *= decay_trace
        if accumulate:
            input_sums[0, j] += current_e[j]
            input_sums[1, j] += current_i[j]
            input_sums[2, j] += current_x[j]


@_jit
def deliver_weighted(current, targets, weights, lo, hi, scale, group_bounds, group, group_sums):
    """current[targets[i]] += weights[i]·scale for i in [lo, hi); add the jumps to group sums.

    Targets of a column segment are sorted, so the group changes monotonically; the sums
    are kept in a register and flushed when the group changes (no per-target memory
    dependency on the small group array).
    """
    bound = group_bounds[group + 1]
    total = 0.0
    for idx in range(lo, hi):
        target = targets[idx]
        jump = weights[idx] * scale
        current[target] += jump
        if target >= bound:
            group_sums[group] += total
            total = 0.0
            while target >= group_bounds[group + 1]:
                group += 1
            bound = group_bounds[group + 1]
        total += jump
    group_sums[group] += total


@_jit
def deliver_constant(current, targets, lo, hi, jump, group_jump, group_bounds, group,
                     group_sums):
    """current[targets[i]] += jump for i in [lo, hi); add ``group_jump`` per target to the
    group sums (they differ while a decay is pending, see :func:`euler_voltage`)."""
    bound = group_bounds[group + 1]
    count = 0
    for idx in range(lo, hi):
        target = targets[idx]
        current[target] += jump
        if target >= bound:
            group_sums[group] += count * group_jump
            count = 0
            while target >= group_bounds[group + 1]:
                group += 1
            bound = group_bounds[group + 1]
        count += 1
    group_sums[group] += count * group_jump


@_jit
def collect_spikers(spiked, spikers):
    """Indices j with spiked[j] = 1, in increasing order; scans 8 flags per word."""
    n = spiked.size
    n_spikers = 0
    words = n // 8
    packed = spiked[:words * 8].view(np.uint64)
    for w in range(words):
        if packed[w] != 0:
            for j in range(8 * w, 8 * w + 8):
                if spiked[j]:
                    spikers[n_spikers] = j
                    n_spikers += 1
    for j in range(words * 8, n):
        if spiked[j]:
            spikers[n_spikers] = j
            n_spikers += 1
    return n_spikers


@_jit
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


@intrinsic
def prefetch(typingctx, array, index):
    """Hint the CPU to fetch ``array[index]`` into cache (LLVM ``llvm.prefetch``).

    Row updates touch weights scattered over the CSC array; issuing all their loads
    ahead lets the memory system overlap the cache misses.
    """
    signature = types.void(array, index)

    def codegen(context, builder, sig, args):
        data = context.make_array(sig.args[0])(context, builder, args[0]).data
        address = builder.bitcast(builder.gep(data, [args[1]]), ir.IntType(8).as_pointer())
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [ir.IntType(8).as_pointer(), i32, i32, i32])
        name = "llvm.prefetch.p0i8"
        function = builder.module.globals.get(name) or ir.Function(builder.module, fnty, name)
        # read access, high temporal locality, data cache
        builder.call(function, [address, ir.Constant(i32, 0), ir.Constant(i32, 3),
                                ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return signature, codegen


@_jit
def pre_spike_update(weights, targets, lo, hi, trace, rule):
    """Column update for one presynaptic spike over CSC entries [lo, hi)."""
    eta = rule[_ETA]
    a0, a1, b0, b1 = rule[_A_PRE0], rule[_A_PRE1], rule[_B_PRE0], rule[_B_PRE1]
    lower, upper = rule[_PRE_LO], rule[_PRE_HI]
    for idx in range(lo, hi):
        w = weights[idx]
        if w > lower and w < upper:
            weights[idx] = w + eta * ((a0 + a1 * w) + (b0 + b1 * w) * trace[targets[idx]])


@_jit
def post_spike_update(weights, row_synapse, row_sources, lo, hi, trace, rule):
    """Row update for one postsynaptic spike over row entries [lo, hi)."""
    eta = rule[_ETA]
    a0, a1, b0, b1 = rule[_A_POST0], rule[_A_POST1], rule[_B_POST0], rule[_B_POST1]
    lower, upper = rule[_POST_LO], rule[_POST_HI]
    squared = rule[_POWER] == 2.0
    for idx in range(lo, hi):
        prefetch(weights, row_synapse[idx])
    for idx in range(lo, hi):
        s = row_synapse[idx]
        w = weights[s]
        if w > lower and w < upper:
            x = trace[row_sources[idx]]
            if squared:
                x = x * x
            weights[s] = w + eta * ((a0 + a1 * w) + (b0 + b1 * w) * x)


@_jit
def apply_plasticity(weights, column_start, column_split, targets, row_start, row_split,
                     row_sources, row_synapse, trace, rule_table, spikers, n_spikers, n_exc):
    """Step 5 of spec §2.5: all rule blocks for this step's spikers."""
    for block in range(4):                     # ee, ei, ie, ii
        rule = rule_table[block]
        if rule[_ACTIVE] == 0.0:
            continue
        post_exc = block < 2
        pre_exc = block == 0 or block == 2
        for s in range(n_spikers):             # presynaptic spikes: columns
            k = spikers[s]
            if (k < n_exc) != pre_exc:
                continue
            if post_exc:
                pre_spike_update(weights, targets, column_start[k], column_split[k], trace, rule)
            else:
                pre_spike_update(weights, targets, column_split[k], column_start[k + 1], trace,
                                 rule)
        for s in range(n_spikers):             # postsynaptic spikes: rows
            j = spikers[s]
            if (j < n_exc) != post_exc:
                continue
            if pre_exc:
                post_spike_update(weights, row_synapse, row_sources, row_start[j], row_split[j],
                                  trace, rule)
            else:
                post_spike_update(weights, row_synapse, row_sources, row_split[j],
                                  row_start[j + 1], trace, rule)


@_jit
def plasticity_and_traces(weights, column_start, column_split, targets, row_start, row_split,
                          row_sources, row_synapse, trace, rule_table, spikers, n_spikers,
                          n_exc):
    """Steps 5–6 of spec §2.5: plasticity (traces from before this step), then x += 1."""
    if n_spikers > 0:
        apply_plasticity(weights, column_start, column_split, targets, row_start, row_split,
                         row_sources, row_synapse, trace, rule_table, spikers, n_spikers, n_exc)
    for s in range(n_spikers):
        trace[spikers[s]] += 1.0


@_jit
def replay_plasticity(spike_steps, spike_neurons, n_steps, weights, column_start, column_split,
                      targets, row_start, row_split, row_sources, row_synapse, rule_table,
                      n_exc, n_neurons, decay_trace):
    """Steps 5–7 of spec §2.5 (plasticity, traces, decay) for prescribed spikes.

    Drives the very update code of :func:`run_steps` with given spike times, so
    tests can check learning windows against spec §4 exactly.
    ``spike_steps`` must be sorted; returns the final traces.
    """
    trace = np.zeros(n_neurons)
    spikers = np.empty(n_neurons, np.int32)
    cursor = 0
    for n in range(1, n_steps + 1):
        n_spikers = 0
        while cursor < spike_steps.size and spike_steps[cursor] == n:
            spikers[n_spikers] = spike_neurons[cursor]
            n_spikers += 1
            cursor += 1
        plasticity_and_traces(weights, column_start, column_split, targets, row_start,
                              row_split, row_sources, row_synapse, trace, rule_table, spikers,
                              n_spikers, n_exc)
        for j in range(n_neurons):
            trace[j] *= decay_trace
    return trace


@_jit
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
    for k in range(column_start.size - 1):
        while k >= group_bounds[pre_group + 1]:
            pre_group += 1
        # excitatory targets (sorted; one or two E groups), then inhibitory ones
        lo, split = column_start[k], column_split[k]
        for g in range(n_groups - 1):
            hi = lo
            while hi < split and targets[hi] < group_bounds[g + 1]:
                hi += 1
            if plastic[g, pre_group]:
                out_sum[g, pre_group] += sum_range(weights, lo, hi)
            lo = hi
        if plastic[n_groups - 1, pre_group]:
            out_sum[n_groups - 1, pre_group] += sum_range(weights, split, column_start[k + 1])


@_jit
def run_steps(
    step_first, step_last, n_total_steps, dt,
    # neuron state and parameters
    v, current_e, current_i, current_x, trace, spikers,
    g_leak, e_leak, v_threshold, delta_t, v_spike, v_reset, bias_current,
    decay_e, decay_i, decay_x, decay_trace, inv_tau_e, inv_tau_i, inv_tau_x, n_exc,
    # recurrent synapses
    column_start, column_split, targets, row_start, row_split, row_sources, row_synapse, weights,
    rule_table,
    # external layer X (chunk of spikes, delivery step and source)
    ext_steps, ext_sources, ext_column_start, ext_column_split, ext_targets, j_ex, j_ix,
    # optogenetic layer X2 -> E1
    laser_steps, laser_sources, laser_column_start, laser_targets, j_laser,
    # recording
    record_steps, group_bounds, group_current, bin_spike_counts, bin_current_sums,
    block_sums, block_plastic, block_constant, sampled_synapses, sampled_weights,
    half_step, neuron_counts, neuron_input_sums,
    covariance_steps, window_counts,
    raster_steps, raster_neurons, raster_cursor,
    # divergence guard
    max_bin_spikes, spike_budget, spike_total,
):
    """Advance the network over steps ``step_first … step_last`` (inclusive, 1-based).

    Returns
    -------
    status : int
        0 if the range completed, otherwise a divergence code (``STATUS_*``).
    last_step : int
        The last step simulated (the end of the record bin where divergence was found).
    """
    n_neurons = v.size
    n_groups = group_bounds.size - 1
    exp_term = np.empty(n_neurons)
    spiked = np.zeros(n_neurons, np.uint8)
    last_group = n_groups - 1          # the I population; E groups come first
    scratch_float = np.empty(n_neurons)
    scratch_int = np.empty(n_neurons, np.int64)
    inv_delta_t = 1.0 / delta_t
    spike_gain = g_leak * delta_t
    sqrt_n = math.sqrt(n_neurons)
    ext_cursor = 0
    laser_cursor = 0
    raster_capacity = raster_steps.size
    # Step 7 (decay) of step n is applied inside step 2 of step n + 1 (fused sweep, see
    # euler_voltage); `pending` says whether one is due. A chunk ends with none pending.
    pending = False
    for n in range(step_first, step_last + 1):
        # 1. external input (pre-divided by the still pending decay of the previous step)
        x_scale = 1.0 / decay_x if pending else 1.0
        while ext_cursor < ext_steps.size and ext_steps[ext_cursor] <= n:
            k = ext_sources[ext_cursor]
            deliver_constant(current_x, ext_targets, ext_column_start[k], ext_column_split[k],
                             j_ex * x_scale, j_ex, group_bounds, 0, group_current[2])
            deliver_constant(current_x, ext_targets, ext_column_split[k], ext_column_start[k + 1],
                             j_ix * x_scale, j_ix, group_bounds, last_group, group_current[2])
            ext_cursor += 1
        while laser_cursor < laser_steps.size and laser_steps[laser_cursor] <= n:
            k = laser_sources[laser_cursor]
            deliver_constant(current_x, laser_targets, laser_column_start[k],
                             laser_column_start[k + 1], j_laser * x_scale, j_laser, group_bounds,
                             0, group_current[2])
            laser_cursor += 1
        # 2. voltage (forward Euler, C_m = 1), after the pending step-7 decay of step n − 1
        if pending:
            d_e, d_i, d_x, d_trace = decay_e, decay_i, decay_x, decay_trace
        else:
            d_e, d_i, d_x, d_trace = 1.0, 1.0, 1.0, 1.0
        euler_voltage(v, current_e, current_i, current_x, bias_current, dt, g_leak, e_leak,
                      v_threshold, inv_delta_t, spike_gain, v_spike, spiked, exp_term,
                      scratch_float, scratch_int, trace, d_e, d_i, d_x, d_trace,
                      pending and n - 1 >= half_step, neuron_input_sums)
        # 3. spike detection (flags set in the voltage pass)
        n_spikers = collect_spikers(spiked, spikers)
        # 4. recurrent currents (weights from before this step's plasticity)
        for s in range(n_spikers):
            k = spikers[s]
            if k < n_exc:
                deliver_weighted(current_e, targets, weights, column_start[k], column_split[k],
                                 inv_tau_e, group_bounds, 0, group_current[0])
                deliver_weighted(current_e, targets, weights, column_split[k],
                                 column_start[k + 1], inv_tau_e, group_bounds, last_group,
                                 group_current[0])
            else:
                deliver_weighted(current_i, targets, weights, column_start[k], column_split[k],
                                 inv_tau_i, group_bounds, 0, group_current[1])
                deliver_weighted(current_i, targets, weights, column_split[k],
                                 column_start[k + 1], inv_tau_i, group_bounds, last_group,
                                 group_current[1])
        # 5.–6. plasticity with traces from before this step's spikes, then the traces
        plasticity_and_traces(weights, column_start, column_split, targets, row_start,
                              row_split, row_sources, row_synapse, trace, rule_table, spikers,
                              n_spikers, n_exc)
        # 7. decay: per neuron deferred to the next step's sweep (or the chunk's end).
        # Population current sums are kept incrementally (every jump above was added to
        # its group's sum, and a sum decays like its terms), so recording the bin means
        # costs O(groups) per step instead of a sweep over all neurons.
        pending = True
        b = (n - 1) // record_steps
        for g in range(n_groups):
            group_current[0, g] *= decay_e
            group_current[1, g] *= decay_i
            group_current[2, g] *= decay_x
            for c in range(3):
                bin_current_sums[b, g, c] += group_current[c, g]
        # 8. reset and recording
        for s in range(n_spikers):
            j = spikers[s]
            v[j] = v_reset
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
                if w_index < window_counts.shape[0]:
                    window_counts[w_index, j] += 1
        spike_total[0] += n_spikers
        # end of a record bin: weight snapshots and the divergence guard
        if n % record_steps == 0 or n == n_total_steps:
            # re-anchor the incremental sums on exact ones (bounds rounding drift); the
            # neuron arrays still await this step's decay
            for g in range(n_groups):
                lo, hi = group_bounds[g], group_bounds[g + 1]
                group_current[0, g] = sum_range(current_e, lo, hi) * decay_e
                group_current[1, g] = sum_range(current_i, lo, hi) * decay_i
                group_current[2, g] = sum_range(current_x, lo, hi) * decay_x
            block_sums[b] = block_constant
            block_weight_sums(weights, column_start, column_split, targets, group_bounds,
                              block_plastic, block_sums[b])
            for t in range(sampled_synapses.shape[0]):
                for i in range(sampled_synapses.shape[1]):
                    idx = sampled_synapses[t, i]
                    if idx >= 0:
                        sampled_weights[t, i, b] = weights[idx] * sqrt_n
            status = 0
            for g in range(n_groups):
                for h in range(n_groups):
                    if not math.isfinite(block_sums[b, g, h]):
                        status = 3
            for g in range(n_groups):
                for c in range(3):
                    if not math.isfinite(bin_current_sums[b, g, c]):
                        status = 3
                if bin_spike_counts[b, g] > max_bin_spikes[g]:
                    status = 1 if status == 0 else status
            if spike_total[0] > spike_budget and status == 0:
                status = 2
            if status != 0:
                finish_decay(current_e, current_i, current_x, trace, decay_e, decay_i,
                             decay_x, decay_trace, n >= half_step, neuron_input_sums)
                return status, n
    if pending:
        finish_decay(current_e, current_i, current_x, trace, decay_e, decay_i, decay_x,
                     decay_trace, step_last >= half_step, neuron_input_sums)
    return 0, step_last
