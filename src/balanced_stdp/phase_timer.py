"""Cycle-counter reads for the optional per-phase profile of the kernel.

:func:`~balanced_stdp.kernel.run_steps` takes a ``phase_ticks`` argument: ``None`` in
production runs, in which case numba prunes every timing branch at compile time (the
production machine code has no timer reads), or an int64 array of length
``len(PHASES)`` that the kernel adds CPU time-stamp-counter ticks to, per phase of
spec §2.5. The benchmark converts the ticks into a split of the measured kernel time.
"""

from __future__ import annotations

from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

PHASES = ("input", "voltage", "delivery", "rows", "recording")
"""Phase names, the index order of ``phase_ticks``: external/laser input delivery, the
EIF voltage pass and spike collection (steps 1–3), recurrent current delivery with the
presynaptic (column) plasticity updates fused in (steps 4–5), postsynaptic (row)
plasticity updates with the trace increments (steps 5–6), and decay bookkeeping,
resets, recording and the guard (steps 7–8)."""

INPUT, VOLTAGE, DELIVERY, ROWS, RECORDING = range(len(PHASES))


@intrinsic
def cycle_counter(typingctx):
    """The CPU's time-stamp counter (LLVM ``llvm.readcyclecounter``), as int64."""
    signature = types.int64()

    def codegen(context, builder, sig, args):
        i64 = ir.IntType(64)
        fnty = ir.FunctionType(i64, [])
        name = "llvm.readcyclecounter"
        function = builder.module.globals.get(name) or ir.Function(builder.module, fnty, name)
        return builder.call(function, [])

    return signature, codegen
