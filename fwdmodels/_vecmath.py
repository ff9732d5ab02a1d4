"""``exp`` and ``log`` written in plain arithmetic, so that Numba's compiler can vectorise loops
that call them.

A call to the C library's ``exp`` or ``log`` inside a loop stops LLVM from vectorising it
(Numba's LLVM has no vector math library), and the hemodynamic kernels spend most of their
time in these two functions. Written as range reduction plus a polynomial, with the exponent
handled by reinterpreting the bits of a float64, they compile to SIMD code.

Both are compiled with the ``contract`` fastmath flag, as the kernels that inline them are:
a product and a sum may be fused into one multiply-add (in the polynomials, and in the
reduction ``x - k ln2_hi``, exact either way). Accuracy, as compiled (checked in
``tests/test_vecmath.py`` against long double): ``exp`` within 1.1 ulp of the exact value on
its whole finite range, subnormal results included (the worst found, 1.054 ulp, where the
reduced result is just above sqrt(1/2) and ``1 + (...)`` rounds at half the result's
spacing; a few inputs in 10^5 there exceed 1 ulp), and ``log`` within 1 ulp on every
positive float, subnormal arguments included (the worst found 0.87). Special values behave
as in NumPy: ``exp(nan) = nan``, ``exp(x > 709.78) = inf``, ``exp(-inf) = 0``;
``log(x <= 0) = nan`` (NumPy gives -inf at 0), ``log(inf) = inf``, ``log(nan) = nan``.
``exp(0.0) == 1.0`` and ``log(1.0) == 0.0`` exactly, which keeps the model's rest state
exact. ``exp`` has no select for its special values beyond clamping its argument (the
selects cost a quarter of its time in a vector loop): NaN, overflow and underflow come out
right through the arithmetic itself.

Method: ``exp(x) = 2**k * exp(r)`` with ``k = round(x / ln 2)``, ``r = x - k ln 2`` computed
with ln 2 split in two parts (Cody & Waite 1980), and ``exp(r)`` by a polynomial of degree
11 (``|r| <= ln(2)/2``, relative error below 5.9e-18; the Taylor series needs degree 13), its
terms paired by Estrin's scheme (the powers ``r^2, r^4`` multiply pairs evaluated side by
side, so the chain of dependent operations is short; Horner's rule makes it 22 long and the
loops wait on it) with the leading 1 added last; ``2**k`` is applied as two powers of two,
so that every ``k`` from gradual underflow to overflow needs no special case.
``log(v) = e ln 2 + log(m)`` with ``v = m 2**e``, ``m`` in [sqrt(1/2), sqrt(2)), and
``log(m) = 2 atanh(s)``, ``s = f/(2 + f)``, ``f = m - 1``, ``|s| <= 0.1716``:
``2 atanh(s) = 2 s + s R(s^2)`` with fdlibm's minimax polynomial ``R`` of degree 7 in
``s^2`` (the odd Taylor series needs degree 11 for the same accuracy), evaluated by Estrin's
scheme, and summed as fdlibm does, ``f - (f^2/2 - s (f^2/2 + R))``, which keeps the rounding
of ``s`` out of the leading terms.

References: W. J. Cody and W. Waite (1980), Software Manual for the Elementary Functions;
fdlibm 5.3, ``e_log.c`` (Sun Microsystems, 1993), for ``R``'s coefficients and the order of
the final sum.
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
_EXP_HIGH = 710.0                   # exp of anything above overflows (log of the largest float
#                                     is 709.78); exp(710) still has k = 1024
_EXP_LOW = -746.0                   # exp of anything below rounds to 0 (log of half the smallest
#                                     subnormal is -745.13)
_SQRT2 = 1.4142135623730951
_SMALLEST_NORMAL = 2.2250738585072014e-308
_TWO54 = 18014398509481984.0        # 2**54, scales a subnormal argument of log to normal
_MANTISSA = 0x000FFFFFFFFFFFFF
_ONE_BITS = 0x3FF0000000000000

# exp: exp(r) = 1 + r + r^2 (_E2 + _E3 r + ... + _E11 r^9) on |r| <= ln(2)/2, with relative
# error below 5.9e-18 (0.05 ulp) as these float64 values give it (the Taylor series needs
# degree 13 for as much). _E2 = 1/2 exactly (a rounded _E2 alone would cost 1e-17); the others
# minimise the largest relative error of exp, found by weighted least squares on 300 Chebyshev
# points iterated to the minimax weights (Lawson's algorithm) in 50-digit arithmetic, and the
# error was checked with them rounded, on 40,001 points
(_E2, _E3, _E4, _E5, _E6, _E7, _E8, _E9, _E10, _E11) = (
    0.5, 0.16666666666666433, 0.04166666666660399, 0.008333333333499927, 0.0013888888926780044,
    0.0001984126946641069, 2.4801508705163346e-05, 2.7557640750843303e-06,
    2.762517703523413e-07, 2.497839604209861e-08)
# log: (2 atanh(s) - 2 s) / s = s^2 (_LG1 + _LG2 s^2 + ... + _LG7 s^12) on |s| <= 0.1716, the
# minimax coefficients of fdlibm's e_log.c (Sun Microsystems 1993), error below 2**-58.45
(_LG1, _LG2, _LG3, _LG4, _LG5, _LG6, _LG7) = (
    6.666666666666735130e-01, 3.999999999940941908e-01, 2.857142874366239149e-01,
    2.222219843214978396e-01, 1.818357216161805012e-01, 1.531383769920937332e-01,
    1.479819860511658591e-01)


@njit(inline="always", error_model="numpy", fastmath={"contract"})
def exp(x):
    """e**x for a float64 (see the module documentation for accuracy and special values)."""
    # clamped to where the result is certainly inf (x > 709.79) or 0 (x < -745.14); a NaN
    # passes both comparisons unchanged and makes every later result NaN. float(x) is nothing
    # when compiled; run as Python, it makes a NumPy scalar a float, whose overflow to inf
    # raises no NumPy warning
    x = float(x)
    xc = _EXP_HIGH if x > _EXP_HIGH else x
    xc = _EXP_LOW if xc < _EXP_LOW else xc
    shifted = xc * _LOG2E + _ROUND
    k = shifted - _ROUND
    r = (xc - k * _LN2_HI) - k * _LN2_LO
    # exp(r) = 1 + (r + r^2 t(r)) with t's terms paired (Estrin's scheme): short dependency
    # chains instead of Horner's 11 in a row; 1 is added last, so that it rounds once
    r2 = r * r
    r4 = r2 * r2
    t = ((_E2 + r * _E3) + r2 * (_E4 + r * _E5)) + r4 * (
        ((_E6 + r * _E7) + r2 * (_E8 + r * _E9)) + r4 * (_E10 + r * _E11))
    p = 1.0 + (r + r2 * t)
    # 2**k as 2**h * 2**(k - h), h = round(k / 2): both are normal floats for every k of the
    # clamped range (-1076 ... 1024), p * 2**h is exact, and the last product rounds once,
    # to inf above the largest float and to a subnormal or 0 below the smallest normal one
    half = _float_to_bits(k * 0.5 + _ROUND) - _ROUND_BITS
    ki = _float_to_bits(shifted) - _ROUND_BITS
    return (p * _bits_to_float((half + 1023) << 52)) * _bits_to_float((ki - half + 1023) << 52)


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
    f = m - 1.0                                                   # exact
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    tail = z * ((_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7))) + z * (_LG2 + w * (_LG4 + w * _LG6)))
    fe = _bits_to_float(_ROUND_BITS + e) - _ROUND    # float(e), exact for |e| < 2**51, without
    # a conversion instruction that AVX2 lacks for int64 vectors
    # log(m) = f - f^2/2 + s (f^2/2 + tail), summed in fdlibm's order: the rounding error of s
    # is scaled by the small correction, not by the result, which stays within 1 ulp where
    # e ln 2 and log(m) cancel (v just below sqrt(1/2))
    half_f2 = 0.5 * f * f
    y = fe * _LN2_HI - ((half_f2 - (s * (half_f2 + tail) + fe * _LN2_LO)) - f)
    y = math.nan if not v > 0.0 else y
    return math.inf if v == math.inf else y


@njit(inline="always", error_model="numpy", fastmath={"contract"})
def maximum(a, b):
    """``np.maximum`` of two floats: NaN if either is NaN, written as a select, which
    vectorises."""
    return a if (a >= b) | (a != a) else b
