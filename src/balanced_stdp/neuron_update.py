"""The neuron update of the kernel: EIF voltage step, spike flags, current and trace decay.

Steps 2, 3 and 7 of spec §2.5 for all neurons at once. The exponential of the EIF
spike current is computed in SIMD-friendly passes of plain arithmetic rather than
by ``math.exp`` (which numba lowers to a libm call per neuron, and which dominated
the step time); :func:`exp_array` exposes it so the tests can check its accuracy.

The pass computes in the precision of the state arrays (run-config key ``precision``):
float64, or float32 — twice the SIMD width and half the memory traffic, with a
float32 exponential (:func:`exp_clamped_float32`). The per-neuron input sums stay
float64 in both.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic, overload

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


@intrinsic
def float32_bits(typingctx, value):
    """The IEEE-754 bits of a float32 as int32 (an LLVM bitcast)."""
    signature = types.int32(types.float32)

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.IntType(32))

    return signature, codegen


@intrinsic
def bits_float32(typingctx, value):
    """The float32 whose IEEE-754 bits are the given int32."""
    signature = types.float32(types.int32)

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.FloatType())

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


_F32_ROUND_MAGIC = 12582912.0               # 1.5·2^23
_F32_ROUND_MAGIC_BITS = np.int32(0x4B400000)
_F32_LN2_HI, _F32_LN2_LO = 0.693359375, -2.12194440e-4   # ln2_hi exact in 9 bits


@inline_jit
def exp_clamped_float32(a):
    """exp(a) in float32 arithmetic for |a| ≤ 87 (a is clamped there).

    As :func:`exp_clamped`: a = k·ln2 + r, a degree-7 Taylor polynomial for e^r on
    |r| ≤ ln2/2 (truncation error 5e-9, below float32's 6e-8 rounding) and 2^k from
    exponent bits; eight lanes per AVX2 instruction instead of four.
    """
    f = np.float32
    a = a if a > f(-87.0) else f(-87.0)
    a = a if a < f(87.0) else f(87.0)
    t = a * f(_INV_LN2) + f(_F32_ROUND_MAGIC)
    k = t - f(_F32_ROUND_MAGIC)
    r = (a - k * f(_F32_LN2_HI)) - k * f(_F32_LN2_LO)
    r2 = r * r
    r4 = r2 * r2
    low = (f(1.0) + r) + (f(0.5) + f(1.0 / 6.0) * r) * r2
    high = (f(1.0 / 24.0) + f(1.0 / 120.0) * r) + (f(1.0 / 720.0) + f(1.0 / 5040.0) * r) * r2
    exp_r = low + high * r4
    return exp_r * bits_float32((float32_bits(t) - _F32_ROUND_MAGIC_BITS + np.int32(127)) << 23)


def fast_exp(a):
    """exp(a) in the precision of ``a``: :func:`exp_clamped` or :func:`exp_clamped_float32`."""
    raise NotImplementedError("fast_exp is only callable from jitted code")


@overload(fast_exp, inline="always")
def _fast_exp(a):
    if isinstance(a, types.Float) and a.bitwidth == 32:
        return lambda a: exp_clamped_float32(a)
    return lambda a: exp_clamped(a)


def as_dtype_of(value, array):
    """``value`` converted to the element type of ``array`` (jitted code only)."""
    raise NotImplementedError("as_dtype_of is only callable from jitted code")


@overload(as_dtype_of, inline="always")
def _as_dtype_of(value, array):
    dtype = array.dtype
    return lambda value, array: dtype(value)


@jit
def euler_voltage(v, current_e, current_i, current_x, bias, dt, g_leak, e_leak, v_threshold,
                  inv_delta_t, spike_gain, v_spike, spiked, exp_term, trace, decay_e, decay_i,
                  decay_x, decay_trace, accumulate, input_sums):
    """Step 2 of spec §2.5: V += dt·[I + g_L(E_L − V) + g_L Δ_T exp((V − V_T)/Δ_T)].

    The exponential is :func:`exp_clamped`, in its own pass (a loop over two arrays,
    which LLVM vectorises; fused into the update loop below it stayed scalar and the
    kernel was 30 % slower). Step 3's test V ≥ V_th is folded into the update pass:
    ``spiked[j]`` is set to 1/0. ``exp_term`` is scratch of length N.

    The update pass first applies step 7 (Euler decay of currents and traces) of the
    *previous* step — pass decay factors of 1 when there is none pending — and, if
    ``accumulate``, adds the decayed currents to ``input_sums`` (the [T/2, T] averages).
    Fusing saves one sweep over the neuron arrays per step; the caller delivers the
    external spikes of this step pre-divided by the pending decay, so the result is the
    spec's order (decay, then input) up to rounding.

    The state arrays and ``exp_term`` may be float64 or float32 (run-config key
    ``precision``); the arithmetic is done in their precision (the scalars are converted
    once, here), the input sums are float64.
    """
    n = v.size
    bias, dt, g_leak = as_dtype_of(bias, v), as_dtype_of(dt, v), as_dtype_of(g_leak, v)
    e_leak, v_threshold = as_dtype_of(e_leak, v), as_dtype_of(v_threshold, v)
    inv_delta_t, spike_gain = as_dtype_of(inv_delta_t, v), as_dtype_of(spike_gain, v)
    v_spike = as_dtype_of(v_spike, v)
    decay_e, decay_i = as_dtype_of(decay_e, v), as_dtype_of(decay_i, v)
    decay_x, decay_trace = as_dtype_of(decay_x, v), as_dtype_of(decay_trace, v)
    for j in range(n):
        exp_term[j] = fast_exp((v[j] - v_threshold) * inv_delta_t)
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
    """exp(x) computed by :func:`euler_voltage`'s exponential in the precision of ``x``
    (to test its accuracy)."""
    out = np.empty_like(x)
    for j in range(x.size):
        out[j] = fast_exp(x[j])
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
