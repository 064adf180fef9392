"""The neuron update of the kernel: EIF voltage step, spike flags, current and trace decay.

Steps 2, 3 and 7 of spec §2.5 for all neurons at once. The exponential of the EIF
spike current is computed in SIMD-friendly passes of plain arithmetic rather than
by ``math.exp`` (which numba lowers to a libm call per neuron, and which dominated
the step time); :func:`exp_array` exposes it so the tests can check its accuracy.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

from numba import prange

from .numba_cache import inline_jit, jit, parallel_jit

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


@intrinsic
def float_bits(typingctx, value):
    """The IEEE-754 bits of a float64 as int64 (an LLVM bitcast: free, and vectorisable,
    unlike the array views an earlier version went through, which cost two extra passes)."""
    signature = types.int64(types.float64)

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return signature, codegen


@intrinsic
def bits_float(typingctx, value):
    """The float64 whose IEEE-754 bits are the given int64 (inverse of :func:`float_bits`)."""
    signature = types.float64(types.int64)

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return signature, codegen


@inline_jit
def exp_clamped(a):
    """exp(a) for |a| ≤ 700 (a is clamped there) in plain, vectorisable arithmetic.

    Cody–Waite reduction a = k·ln2 + r, a degree-11 polynomial for e^r (|r| ≤ ln2/2)
    evaluated by Estrin's scheme (a shallower dependency chain than Horner's, ≈ 12 %
    faster here), and 2^k assembled from exponent bits.
    """
    a = a if a > -700.0 else -700.0
    a = a if a < 700.0 else 700.0
    t = a * _INV_LN2 + _ROUND_MAGIC       # t's low mantissa bits hold round(a/ln2)
    k = t - _ROUND_MAGIC
    r = (a - k * _LN2_HI) - k * _LN2_LO
    r2 = r * r
    r4 = r2 * r2
    low = (1.0 + r) + (_P2 + _P3 * r) * r2
    mid = (_P4 + _P5 * r) + (_P6 + _P7 * r) * r2
    high = (_P8 + _P9 * r) + (_P10 + _P11 * r) * r2
    exp_r = low + (mid + high * r4) * r4
    return exp_r * bits_float((float_bits(t) - _ROUND_MAGIC_BITS + 1023) << 52)


@jit
def euler_voltage(v, current_e, current_i, current_x, bias, dt, g_leak, e_leak, v_threshold,
                  inv_delta_t, spike_gain, v_spike, spiked, exp_term, trace, decay_e, decay_i,
                  decay_x, decay_trace, accumulate, input_sums):
    """Step 2 of spec §2.5: V += dt·[I + g_L(E_L − V) + g_L Δ_T exp((V − V_T)/Δ_T)].

    The exponential is :func:`exp_clamped`, in its own pass (a loop over two arrays,
    which LLVM vectorises; fused into the update loop below it stayed scalar and the
    kernel was 30 % slower). Step 3's test V ≥ V_th is folded into the update pass:
    ``spiked[j]`` is set to 1/0. ``exp_term`` is float64 scratch of length N.

    The update pass first applies step 7 (Euler decay of currents and traces) of the
    *previous* step — pass decay factors of 1 when there is none pending — and, if
    ``accumulate``, adds the decayed currents to ``input_sums`` (the [T/2, T] averages).
    Fusing saves one sweep over the neuron arrays per step; the caller delivers the
    external spikes of this step pre-divided by the pending decay, so the result is the
    spec's order (decay, then input) up to rounding.

    The state arrays may be float64 or float32 (run-config key ``precision``); the
    arithmetic is float64 either way and each result is rounded once when stored.
    """
    n = v.size
    for j in range(n):
        exp_term[j] = exp_clamped((v[j] - v_threshold) * inv_delta_t)
    for j in range(n):
        vj = v[j]
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
        v_new = vj + dt * (i_e + i_i + i_x + bias
                           + g_leak * (e_leak - vj) + spike_gain * exp_term[j])
        v[j] = v_new
        spiked[j] = v_new >= v_spike


VOLTAGE_CHUNK = 1024
"""Neurons per work item of :func:`euler_voltage_parallel` (a multiple of the SIMD width)."""


@parallel_jit
def euler_voltage_parallel(v, current_e, current_i, current_x, bias, dt, g_leak, e_leak,
                           v_threshold, inv_delta_t, spike_gain, v_spike, spiked, exp_term,
                           trace, decay_e, decay_i, decay_x, decay_trace, accumulate,
                           input_sums):
    """:func:`euler_voltage` over chunks of neurons (array views) in parallel threads.

    Every neuron is updated by exactly one thread with the same arithmetic, so the
    result is identical to the single-thread pass for any number of threads.
    """
    n = v.size
    n_chunks = (n + VOLTAGE_CHUNK - 1) // VOLTAGE_CHUNK
    for c in prange(n_chunks):
        lo, hi = c * VOLTAGE_CHUNK, min(n, (c + 1) * VOLTAGE_CHUNK)
        euler_voltage(v[lo:hi], current_e[lo:hi], current_i[lo:hi], current_x[lo:hi], bias, dt,
                      g_leak, e_leak, v_threshold, inv_delta_t, spike_gain, v_spike,
                      spiked[lo:hi], exp_term[lo:hi], trace[lo:hi], decay_e, decay_i, decay_x,
                      decay_trace, accumulate, input_sums[:, lo:hi])


@jit
def exp_array(x):
    """exp(x) computed by :func:`euler_voltage`'s exponential (to test its accuracy)."""
    out = np.empty(x.size)
    for j in range(x.size):
        out[j] = exp_clamped(x[j])
    return out


@jit
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


@jit
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
