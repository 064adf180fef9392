"""The synapse update of the kernel: current delivery and plasticity (spec §2.5 steps 1, 4–6).

A spike of presynaptic neuron k walks its CSC column: it delivers current to the
column's targets and, in the same pass, applies the presynaptic half of its block's
rule. A spike of postsynaptic neuron j walks its row (the row index points into the
same weight array) and applies the postsynaptic half. Every rule is one row of the rule table
of :func:`balanced_stdp.plasticity.kernel_rule_table` (general affine form, spec §4.2).

:func:`replay_plasticity` takes the recurrent synapses as one
:class:`balanced_stdp.kernel.RecurrentSynapses` bundle; the per-step functions take
its arrays one by one (see :func:`row_plasticity`).
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

from numba import prange

from .numba_cache import jit, parallel_jit
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


@jit
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


@jit
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


@jit
def deliver_and_learn(current, targets, weights, lo, hi, scale, group_bounds, group,
                      group_sums, trace, rule):
    """:func:`deliver_weighted` fused with the presynaptic (column) half of a rule.

    For each entry the weight before this step's plasticity is delivered, then updated:
    w += η[(a_pre0 + a_pre1 w) + (b_pre0 + b_pre1 w)·x_post] if it lies strictly inside
    the rule's presynaptic gate. This is spec §2.5's order (step 4 reads every weight
    before step 5 writes it) because a synapse belongs to one column and no row update
    runs before all columns are done; one pass instead of two halves the loads.
    """
    eta = rule[_ETA]
    a0, a1, b0, b1 = rule[_A_PRE0], rule[_A_PRE1], rule[_B_PRE0], rule[_B_PRE1]
    lower, upper = rule[_PRE_LO], rule[_PRE_HI]
    bound = group_bounds[group + 1]
    total = 0.0
    for idx in range(lo, hi):
        target = targets[idx]
        w = weights[idx]
        jump = w * scale
        current[target] += jump
        if w > lower and w < upper:
            weights[idx] = w + eta * ((a0 + a1 * w) + (b0 + b1 * w) * trace[target])
        if target >= bound:
            group_sums[group] += total
            total = 0.0
            while target >= group_bounds[group + 1]:
                group += 1
            bound = group_bounds[group + 1]
        total += jump
    group_sums[group] += total


@jit
def deliver_column(current, targets, weights, lo, hi, scale, group_bounds, group, group_sums,
                   trace, rule):
    """One column segment of a spiker: fused delivery and update if its block is plastic."""
    if rule[_ACTIVE] != 0.0:
        deliver_and_learn(current, targets, weights, lo, hi, scale, group_bounds, group,
                          group_sums, trace, rule)
    else:
        deliver_weighted(current, targets, weights, lo, hi, scale, group_bounds, group,
                         group_sums)


@jit
def deliver_spikers(current, targets, weights, column_start, column_split, spikers, n_spikers,
                    excitatory, n_exc, jump, group_bounds, group_sums, trace, rule_to_e,
                    rule_to_i):
    """:func:`deliver_recurrent` for the E spikers only, or the I spikers only."""
    last_group = group_bounds.size - 2          # the I population; E groups come first
    for s in range(n_spikers):
        k = spikers[s]
        if (k < n_exc) != excitatory:
            continue
        lo, split, hi = column_start[k], column_split[k], column_start[k + 1]
        deliver_column(current, targets, weights, lo, split, jump, group_bounds, 0, group_sums,
                       trace, rule_to_e)
        deliver_column(current, targets, weights, split, hi, jump, group_bounds, last_group,
                       group_sums, trace, rule_to_i)


@jit
def deliver_recurrent(current_e, current_i, targets, weights, column_start, column_split,
                      spikers, n_spikers, n_exc, jump_e, jump_i, group_bounds, group_current,
                      trace, rule_table, parallel=False):
    """Steps 4 and the column half of 5 of spec §2.5 for this step's spikers.

    A spiker's column holds E targets (blocks ee or ei) then I targets (ie or ii); each
    segment delivers J/τ per target to I^e (E spiker) or I^i (I spiker), and applies the
    presynaptic update of its block's rule (``rule_table`` rows in order ee, ei, ie, ii)
    when that block is plastic. Population sums of the jumps go to ``group_current``.
    E spikers write only I^e, their own columns and ``group_current[0]``, I spikers only
    I^i, theirs and ``group_current[1]``: the two halves are independent, and with
    ``parallel`` they run on two threads, every sum added in the serial order.
    """
    if parallel:
        deliver_parallel(current_e, current_i, targets, weights, column_start, column_split,
                         spikers, n_spikers, n_exc, jump_e, jump_i, group_bounds, group_current,
                         trace, rule_table)
        return
    deliver_spikers(current_e, targets, weights, column_start, column_split, spikers,
                    n_spikers, True, n_exc, jump_e, group_bounds, group_current[0], trace,
                    rule_table[0], rule_table[2])
    deliver_spikers(current_i, targets, weights, column_start, column_split, spikers,
                    n_spikers, False, n_exc, jump_i, group_bounds, group_current[1], trace,
                    rule_table[1], rule_table[3])


@parallel_jit
def deliver_parallel(current_e, current_i, targets, weights, column_start, column_split,
                     spikers, n_spikers, n_exc, jump_e, jump_i, group_bounds, group_current,
                     trace, rule_table):
    """:func:`deliver_recurrent`'s E and I halves on two threads."""
    for half in prange(2):
        if half == 0:
            deliver_spikers(current_e, targets, weights, column_start, column_split, spikers,
                            n_spikers, True, n_exc, jump_e, group_bounds, group_current[0],
                            trace, rule_table[0], rule_table[2])
        else:
            deliver_spikers(current_i, targets, weights, column_start, column_split, spikers,
                            n_spikers, False, n_exc, jump_i, group_bounds, group_current[1],
                            trace, rule_table[1], rule_table[3])


PREFETCH_DISTANCE = 32
"""Row entries ahead of the update whose weight is prefetched (see :func:`post_spike_update`)."""


@jit
def post_spike_update(weights, row_synapse, row_sources, lo, hi, trace, rule):
    """Row update for one postsynaptic spike over row entries [lo, hi).

    w += η[(a_post0 + a_post1 w) + (b_post0 + b_post1 w)·x_pre^power] inside the
    postsynaptic gate. The row's weights are scattered over the CSC array (mostly
    cache misses), so each iteration prefetches the weight ``PREFETCH_DISTANCE``
    entries ahead: the misses overlap instead of queueing one after another.
    """
    eta = rule[_ETA]
    a0, a1, b0, b1 = rule[_A_POST0], rule[_A_POST1], rule[_B_POST0], rule[_B_POST1]
    lower, upper = rule[_POST_LO], rule[_POST_HI]
    squared = rule[_POWER] == 2.0
    for idx in range(lo, min(hi, lo + PREFETCH_DISTANCE)):
        prefetch(weights, row_synapse[idx])
    for idx in range(lo, hi):
        if idx + PREFETCH_DISTANCE < hi:
            prefetch(weights, row_synapse[idx + PREFETCH_DISTANCE])
        s = row_synapse[idx]
        w = weights[s]
        if w > lower and w < upper:
            x = trace[row_sources[idx]]
            if squared:
                x = x * x
            weights[s] = w + eta * ((a0 + a1 * w) + (b0 + b1 * w) * x)


@jit
def spiker_rows(weights, row_start, row_split, row_sources, row_synapse, trace, rule_table, j,
                n_exc):
    """The row updates of postsynaptic spiker j: its E partners (block ee or ie), then its
    I partners (ei or ii), each if that block is plastic."""
    if j < n_exc:
        from_e, from_i = rule_table[0], rule_table[1]
    else:
        from_e, from_i = rule_table[2], rule_table[3]
    if from_e[_ACTIVE] != 0.0:
        post_spike_update(weights, row_synapse, row_sources, row_start[j], row_split[j], trace,
                          from_e)
    if from_i[_ACTIVE] != 0.0:
        post_spike_update(weights, row_synapse, row_sources, row_split[j], row_start[j + 1],
                          trace, from_i)


@jit
def row_plasticity(weights, row_start, row_split, row_sources, row_synapse, trace, rule_table,
                   spikers, n_spikers, n_exc, parallel=False):
    """The postsynaptic (row) half of step 5 of spec §2.5 for this step's spikers.

    The column halves were applied during delivery (:func:`deliver_recurrent`), so
    every synapse still sees its presynaptic update first, as the spec orders; a
    synapse belongs to one block and one row, so the order of spikers and blocks here
    does not change any result. The arrays are the fields of a
    :class:`balanced_stdp.kernel.RecurrentSynapses`, passed one by one: handing the
    bundle itself to this per-step call chain made the EE-plastic kernel 3–10 % slower
    (lock-step A/B runs at N = 5000), so :func:`~balanced_stdp.kernel.run_steps`
    unpacks it once.
    """
    if parallel:
        rows_parallel(weights, row_start, row_split, row_sources, row_synapse, trace,
                      rule_table, spikers, n_spikers, n_exc)
        return
    for s in range(n_spikers):
        spiker_rows(weights, row_start, row_split, row_sources, row_synapse, trace, rule_table,
                    spikers[s], n_exc)


@parallel_jit
def rows_parallel(weights, row_start, row_split, row_sources, row_synapse, trace, rule_table,
                  spikers, n_spikers, n_exc):
    """:func:`row_plasticity` with the spikers spread over threads.

    A synapse has one postsynaptic neuron, so distinct spikers' rows never share a
    weight: each is written by one thread, and the result is that of the serial loop.
    """
    for s in prange(n_spikers):
        spiker_rows(weights, row_start, row_split, row_sources, row_synapse, trace, rule_table,
                    spikers[s], n_exc)


@jit
def rows_and_traces(weights, row_start, row_split, row_sources, row_synapse, trace, rule_table,
                    spikers, n_spikers, n_exc, parallel=False):
    """Steps 5 (row half) and 6 of spec §2.5: row updates with traces from before this
    step's spikes, then x += 1 for every spiker."""
    if n_spikers > 0:
        row_plasticity(weights, row_start, row_split, row_sources, row_synapse, trace,
                       rule_table, spikers, n_spikers, n_exc, parallel)
    for s in range(n_spikers):
        trace[spikers[s]] += 1.0


@jit
def replay_plasticity(spike_steps, spike_neurons, n_steps, synapses, decay_trace):
    """Steps 5–7 of spec §2.5 (plasticity, traces, decay) for prescribed spikes.

    Drives the very update code of :func:`balanced_stdp.kernel.run_steps` with given
    spike times, so tests can check learning windows against spec §4 exactly.

    Parameters
    ----------
    spike_steps : ndarray of int64
        Step of each spike (1-based), sorted.
    spike_neurons : ndarray of int32
        Neuron of each spike.
    n_steps : int
        Number of steps to replay.
    synapses : RecurrentSynapses
        The synapses; their weights are updated in place.
    decay_trace : float
        Per-step trace decay factor 1 − dt/τ_STDP.

    Returns
    -------
    ndarray
        The final traces.
    """
    n_neurons = synapses.row_start.size - 1
    trace = np.zeros(n_neurons)
    spikers = np.empty(n_neurons, np.int32)
    scratch_current = np.zeros(n_neurons)
    scratch_bounds = np.array([0, synapses.n_excitatory, n_neurons], np.int64)
    scratch_sums = np.zeros((2, 2))
    cursor = 0
    for n in range(1, n_steps + 1):
        n_spikers = 0
        while cursor < spike_steps.size and spike_steps[cursor] == n:
            spikers[n_spikers] = spike_neurons[cursor]
            n_spikers += 1
            cursor += 1
        # the kernel's own step-4/5/6 code; the delivered currents are discarded
        deliver_recurrent(scratch_current, scratch_current, synapses.targets, synapses.weights,
                          synapses.column_start, synapses.column_split, spikers, n_spikers,
                          synapses.n_excitatory, 0.0, 0.0, scratch_bounds, scratch_sums,
                          trace, synapses.rule_table)
        rows_and_traces(synapses.weights, synapses.row_start, synapses.row_split,
                        synapses.row_sources, synapses.row_synapse, trace, synapses.rule_table,
                        spikers, n_spikers, synapses.n_excitatory)
        for j in range(n_neurons):
            trace[j] *= decay_trace
    return trace
