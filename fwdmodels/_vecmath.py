"""``exp`` and ``log`` written in plain arithmetic, so that Numba's compiler can vectorise loops
that call them.

A call to the C library's ``exp`` or ``log`` inside a loop stops LLVM from vectorising it
(Numba's LLVM has no vector math library), and the hemodynamic kernels spend most of their
time in these two functions. Written as range reduction plus a polynomial, with the exponent
handled by reinterpreting the bits of a float64, they compile to SIMD code.

Both are compiled with the ``contract`` fastmath flag, as the kernels that inline them are:
a product and a sum may be fused into one multiply-add (in the polynomials, and in the
reduction ``x - k ln2_hi``, exact either way). Accuracy, as compiled (checked in
``tests/test_vecmath.py`` against NumPy): ``exp`` within 2 ulp on
[-708, 709.7] and ``log`` within 2 ulp on every positive normal float. Special values behave
as in NumPy: ``exp(nan) = nan``, ``exp(x > 709.78) = inf``, ``exp(-inf) = 0`` (results below
the smallest normal float, for x < -708.39, are flushed to 0); ``log(x <= 0) = nan`` (NumPy
gives -inf at 0), ``log(inf) = inf``, ``log(nan) = nan``; subnormal arguments are handled.
``exp(0.0) == 1.0`` and ``log(1.0) == 0.0`` exactly, which keeps the model's rest state exact.

Method: ``exp(x) = 2**k * exp(r)`` with ``k = round(x / ln 2)``, ``r = x - k ln 2`` computed
with ln 2 split in two parts (Cody & Waite 1980), and ``exp(r)`` by its Taylor series to
degree 13 (``|r| <= ln(2)/2``, truncation below 2e-17), its terms paired by Estrin's scheme
(the powers ``r^2, r^4`` multiply pairs evaluated side by side, so the chain of dependent
operations is short; Horner's rule makes it 26 long and the loops wait on it) with the
leading 1 added last. ``log(v) = e ln 2 + log(m)`` with
``v = m 2**e``, ``m`` in [sqrt(1/2), sqrt(2)), and ``log(m) = 2 atanh(s)``,
``s = (m - 1)/(m + 1)``, by its odd series to degree 23 (``|s| <= 0.1716``).

Reference: W. J. Cody and W. Waite (1980), Software Manual for the Elementary Functions.
"""

from __future__ import annotations

import math

import numpy as np

from ._numba import JIT_ENABLED, fwdmodels_dependencies, invalidate_stale_cache, njit

invalidate_stale_cache(__file__, fwdmodels_dependencies(__name__))

__all__ = ["exp", "log", "maximum"]

if JIT_ENABLED:
    from llvmlite import ir
    from numba import types
    from numba.extending import intrinsic

    @intrinsic
    def _bits_to_float(typingctx, bits):
        """Reinterpret an int64 as the float64 with the same bits (no conversion)."""
        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], ir.DoubleType())
        return types.float64(types.int64), codegen

    @intrinsic
    def _float_to_bits(typingctx, value):
        """Reinterpret a float64 as the int64 with the same bits (no conversion)."""
        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], ir.IntType(64))
        return types.int64(types.float64), codegen
else:  # the same functions for the pure-Python path (numba absent or NUMBA_DISABLE_JIT=1)
    def _bits_to_float(bits):
        return float(np.array(bits & 0xFFFFFFFFFFFFFFFF, dtype=np.uint64).view(np.float64))

    def _float_to_bits(value):
        return int(np.float64(value).view(np.int64))


_LOG2E = 1.4426950408889634
_LN2_HI = 0.6931471803691238        # ln 2 rounded to 32 significant bits: k * _LN2_HI is exact
_LN2_LO = 1.9082149292705877e-10    # ln 2 - _LN2_HI
_ROUND = 6755399441055744.0         # 1.5 * 2**52: x + _ROUND - _ROUND rounds x to an integer
_ROUND_BITS = 0x4338000000000000    # bits of _ROUND; the low bits of x + _ROUND hold round(x)
_EXP_MAX = 709.782712893384         # log(largest float64)
_EXP_MIN = -708.3964185322641       # log(smallest normal float64)
_SQRT2 = 1.4142135623730951
_SMALLEST_NORMAL = 2.2250738585072014e-308
_TWO54 = 18014398509481984.0        # 2**54, scales a subnormal argument of log to normal
_MANTISSA = 0x000FFFFFFFFFFFFF
_ONE_BITS = 0x3FF0000000000000

# 1/n! for n = 2..13, and 1/(2n+1) for n = 1..11
(_E2, _E3, _E4, _E5, _E6, _E7, _E8, _E9, _E10, _E11, _E12, _E13) = (
    1.0 / math.factorial(n) for n in range(2, 14))
(_L3, _L5, _L7, _L9, _L11, _L13, _L15, _L17, _L19, _L21, _L23) = (
    1.0 / n for n in range(3, 24, 2))


@njit(inline="always", error_model="numpy", fastmath={"contract"})
def exp(x):
    """e**x for a float64 (see the module documentation for accuracy and special values)."""
    xc = min(max(x, _EXP_MIN), _EXP_MAX)
    shifted = xc * _LOG2E + _ROUND
    k = shifted - _ROUND
    r = (xc - k * _LN2_HI) - k * _LN2_LO
    # exp(r) = 1 + (r + r^2 t(r)) with t's terms paired (Estrin's scheme): short dependency
    # chains instead of Horner's 13 in a row; 1 is added last, so that it rounds once
    r2 = r * r
    r4 = r2 * r2
    t = ((_E2 + r * _E3) + r2 * (_E4 + r * _E5)) + r4 * (
        ((_E6 + r * _E7) + r2 * (_E8 + r * _E9)) +
        r4 * ((_E10 + r * _E11) + r2 * (_E12 + r * _E13)))
    p = 1.0 + (r + r2 * t)
    ki = _float_to_bits(shifted) - _ROUND_BITS
    top = ki > 1000                      # 2**1024 is not a float: scale by 2**(k-1), then 2
    y = p * _bits_to_float((ki + (1022 if top else 1023)) << 52)
    y = y * 2.0 if top else y
    y = math.inf if x > _EXP_MAX else y
    y = 0.0 if x < _EXP_MIN else y
    return x if x != x else y


@njit(inline="always", error_model="numpy", fastmath={"contract"})
def log(v):
    """Natural logarithm of a float64 (see the module documentation)."""
    tiny = v < _SMALLEST_NORMAL
    scaled = v * _TWO54 if tiny else v
    bits = _float_to_bits(scaled)
    e = ((bits >> 52) & 0x7FF) - 1023 - (54 if tiny else 0)      # the sign bit is 0 for v > 0
    m = _bits_to_float((bits & _MANTISSA) | _ONE_BITS)          # in [1, 2)
    big = m > _SQRT2
    m = m * 0.5 if big else m
    e = e + 1 if big else e
    s = (m - 1.0) / (m + 1.0)
    s2 = s * s
    p = _L23
    p = p * s2 + _L21
    p = p * s2 + _L19
    p = p * s2 + _L17
    p = p * s2 + _L15
    p = p * s2 + _L13
    p = p * s2 + _L11
    p = p * s2 + _L9
    p = p * s2 + _L7
    p = p * s2 + _L5
    p = p * s2 + _L3
    p = p * s2 + 1.0
    fe = _bits_to_float(_ROUND_BITS + e) - _ROUND    # float(e), exact for |e| < 2**51, without
    # a conversion instruction that AVX2 lacks for int64 vectors
    y = (fe * _LN2_LO + 2.0 * s * p) + fe * _LN2_HI
    y = math.nan if not v > 0.0 else y
    return math.inf if v == math.inf else y


@njit(inline="always", error_model="numpy", fastmath={"contract"})
def maximum(a, b):
    """``np.maximum`` of two floats: NaN if either is NaN, written as a select, which
    vectorises."""
    return a if (a >= b) | (a != a) else b
