"""Numba loops over (T, N) arrays for the fixed-step methods.

Imported only when the Numba path is first used. The kernels know nothing of units, files or
parameter objects: plain float64 arrays in, plain arrays out, and an integer status back.
Each step is written out for the three methods (the same arithmetic as
``integrators.rk_step`` applied to the tableaux), so the two paths agree to rounding.

Parameters arrive as the ``(N_PARAMS, N)`` array of ``equations.pack_params``, one column per
region, so per-region (and batched) parameter sets cost the same as shared scalars: each
block of regions copies its columns into a contiguous buffer next to its state.

Speed comes from four choices, each measured by ``benchmarks/run.py``:

* the right-hand side is ``equations.rhs`` itself, compiled with ``exp`` and ``log`` taken
  from :mod:`fwdmodels._vecmath` (arithmetic that LLVM vectorises) instead of the C library;
* the innermost loop runs over a contiguous block of regions for one time step, with the
  state in contiguous 1-D buffers and ``error_model="numpy"`` (division by zero gives inf or
  NaN as in NumPy instead of raising), so it compiles to SIMD code;
* regions are independent, so large problems are split into blocks of regions that run the
  whole time loop on separate threads;
* the kernels allow one fastmath flag only, ``contract``: a product and a sum may be fused
  into one multiply-add, rounded once instead of twice (11 % off Heun, 16 % off RK4 and 13 to
  20 % off the split method on a 2-core AVX2 machine). Nothing else of strict IEEE arithmetic
  is given up: NaN, inf and signed zeros behave as without the flag, and the results differ
  from the NumPy path's by rounding only (the tests hold the two within 1e-12 of the signal's
  range). The observation is exempt (below).
"""

from __future__ import annotations

import types

import numpy as np

from .. import _vecmath
from .._numba import fwdmodels_dependencies, get_num_threads, invalidate_stale_cache, njit, \
    prange
from . import equations
from .equations import N_PARAMS

invalidate_stale_cache(__file__, fwdmodels_dependencies(__name__))

_KERNEL_OPTIONS = dict(error_model="numpy", fastmath={"contract"})
#: Region buffers are padded to a multiple of this (8 float64 lanes: AVX-512; 2 x AVX2).
SIMD_PAD = 8


def _with_vector_math(func):
    """``func`` with ``np.exp``, ``np.log`` and ``np.maximum`` bound to the vectorisable
    versions."""
    namespace = types.ModuleType("vector_math")
    namespace.exp = _vecmath.exp
    namespace.log = _vecmath.log
    namespace.maximum = _vecmath.maximum
    return types.FunctionType(func.__code__, {**func.__globals__, "np": namespace},
                              func.__name__, func.__defaults__, func.__closure__)


def _compiled(func, inline="always", **bindings):
    """``func`` compiled with vector exp/log and other compiled helpers bound, and always
    inlined into the loops that call it: at Numba's level, or with ``inline="never"`` by LLVM
    (``forceinline``). The second compiles in a fraction of the time for the long formulas
    with exp and log; left to LLVM's own judgement they stay calls, and the loops around
    them stop vectorising.

    Not cached on its own (``cache=False``): Numba would file it under the module its code
    comes from (``forcing.py``, ``split.py``, ``equations.py``), where no check of this
    module's options or helpers reaches it, and a kernel compiled later would link the old
    code. The kernels that call it are cached, with its code inside them."""
    plain = _with_vector_math(func)
    if bindings:
        plain = types.FunctionType(plain.__code__, {**plain.__globals__, **bindings},
                                   plain.__name__, plain.__defaults__, plain.__closure__)
    return njit(inline=inline, forceinline=inline == "never", cache=False,
                **_KERNEL_OPTIONS)(plain)


# Inlined into the loops; the parameters reach them as a tuple of scalars.
_rhs = njit(inline="always", cache=False, **_KERNEL_OPTIONS)(_with_vector_math(equations.rhs))
# The observation is compiled apart and without contraction (stated: a callee inherits its
# caller's fastmath flags otherwise); LLVM inlines it and keeps its rounding, so the BOLD a
# kernel writes is observe() of the states to the bit, as the step API computes it in NumPy.
# forceinline: inlined by LLVM, so the loops that call it still vectorise.
_observe = njit(inline="never", forceinline=True, error_model="numpy", fastmath=False,
                cache=False)(equations.observe)


@njit(inline="always", **_KERNEL_OPTIONS)
def _column(P, i):
    # region i's parameters as a tuple of scalars (rows of equations.pack_params)
    return (P[0, i], P[1, i], P[2, i], P[3, i], P[4, i], P[5, i], P[6, i], P[7, i], P[8, i],
            P[9, i])


@njit(**_KERNEL_OPTIONS)
def _padded_params(p, i0, i1, m):
    """Columns ``i0:i1`` of the packed parameters in a contiguous ``(N_PARAMS, m)`` buffer; the
    padding columns repeat column ``i0`` (regions at rest stay at rest for any valid values)."""
    P = np.empty((p.shape[0], m))
    n = i1 - i0
    for k in range(p.shape[0]):
        for j in range(m):
            P[k, j] = p[k, i0 + j] if j < n else p[k, i0]
    return P


@njit(inline="always", **_KERNEL_OPTIONS)
def _put(dst, row, i0, src, n):
    """``dst[row, i0:i0 + n] = src[:n]`` as a plain loop: a slice assignment costs about a
    microsecond in compiled code (it checks the operands for overlap), which per output row
    of a thread's block is more than the row's arithmetic."""
    for i in range(n):
        dst[row, i0 + i] = src[i]


@njit(inline="always", **_KERNEL_OPTIONS)
def _get(src, row, i0, dst, n):
    """``dst[:n] = src[row, i0:i0 + n]`` as a plain loop (see :func:`_put`)."""
    for i in range(n):
        dst[i] = src[row, i0 + i]


@njit(inline="always", **_KERNEL_OPTIONS)
def _valid(x, f, v, q):
    # v - v == 0 is False for inf and NaN, like isfinite, and vectorises
    return (v > 0.0) & (f > 0.0) & (x - x == 0.0) & (f - f == 0.0) & (v - v == 0.0) & \
        (q - q == 0.0)


# One step of one method for a block of regions in contiguous buffers (sx, sf, sv, sq advanced
# in place, BOLD into bt); each returns how many regions left the domain. These are the loops
# the compiler vectorises: keep their bodies straight-line arithmetic.

@njit(**_KERNEL_OPTIONS)
def _euler_row(zt, dt, P, sx, sf, sv, sq, bt):
    bad = 0
    for i in range(zt.size):
        x, f, v, q, z = sx[i], sf[i], sv[i], sq[i], zt[i]
        p = _column(P, i)
        ax, af, av, aq = _rhs(x, f, v, q, z, p)
        x, f, v, q = x + dt * ax, f + dt * af, v + dt * av, q + dt * aq
        sx[i], sf[i], sv[i], sq[i] = x, f, v, q
        bt[i] = _observe(v, q, p)
        bad += 0 if _valid(x, f, v, q) else 1
    return bad


@njit(**_KERNEL_OPTIONS)
def _heun_row(zt, dt, P, sx, sf, sv, sq, bt):
    # k1 = F(y), k2 = F(y + dt k1), y + dt/2 (k1 + k2)
    h = 0.5 * dt
    bad = 0
    for i in range(zt.size):
        x, f, v, q, z = sx[i], sf[i], sv[i], sq[i], zt[i]
        p = _column(P, i)
        ax, af, av, aq = _rhs(x, f, v, q, z, p)
        bx, bf, bv, bq = _rhs(x + dt * ax, f + dt * af, v + dt * av, q + dt * aq, z, p)
        x, f, v, q = x + h * (ax + bx), f + h * (af + bf), v + h * (av + bv), q + h * (aq + bq)
        sx[i], sf[i], sv[i], sq[i] = x, f, v, q
        bt[i] = _observe(v, q, p)
        bad += 0 if _valid(x, f, v, q) else 1
    return bad


@njit(**_KERNEL_OPTIONS)
def _rk4_row(zt, dt, P, sx, sf, sv, sq, bt):
    h = 0.5 * dt
    s = dt / 6.0
    bad = 0
    for i in range(zt.size):
        x, f, v, q, z = sx[i], sf[i], sv[i], sq[i], zt[i]
        p = _column(P, i)
        ax, af, av, aq = _rhs(x, f, v, q, z, p)
        bx, bf, bv, bq = _rhs(x + h * ax, f + h * af, v + h * av, q + h * aq, z, p)
        cx, cf, cv, cq = _rhs(x + h * bx, f + h * bf, v + h * bv, q + h * bq, z, p)
        ex, ef, ev, eq = _rhs(x + dt * cx, f + dt * cf, v + dt * cv, q + dt * cq, z, p)
        x = x + s * (ax + 2.0 * bx + 2.0 * cx + ex)
        f = f + s * (af + 2.0 * bf + 2.0 * cf + ef)
        v = v + s * (av + 2.0 * bv + 2.0 * cv + ev)
        q = q + s * (aq + 2.0 * bq + 2.0 * cq + eq)
        sx[i], sf[i], sv[i], sq[i] = x, f, v, q
        bt[i] = _observe(v, q, p)
        bad += 0 if _valid(x, f, v, q) else 1
    return bad


@njit(**_KERNEL_OPTIONS)
def _run_block(z, dt, p, state, bold_out, states_out, method, i0, i1):
    """Advance regions ``i0:i1`` over every step; return ``t * N + i`` of the first failure
    (a new state with v <= 0, f <= 0 or a non-finite value), or ``T * N``."""
    T, N = z.shape
    n = i1 - i0
    store = states_out.shape[1] == T
    # Contiguous buffers padded to a multiple of the SIMD width with regions at rest under no
    # input (they stay exactly at rest), so the vector loop has no scalar remainder.
    m = -(-n // SIMD_PAD) * SIMD_PAD
    sx = np.zeros(m)
    sf = np.ones(m)
    sv = np.ones(m)
    sq = np.ones(m)
    zt = np.zeros(m)
    bt = np.empty(m)
    _get(state, 0, i0, sx, n)
    _get(state, 1, i0, sf, n)
    _get(state, 2, i0, sv, n)
    _get(state, 3, i0, sq, n)
    P = _padded_params(p, i0, i1, m)
    result = T * N
    for t in range(T):
        _get(z, t, i0, zt, n)
        if method == 0:
            bad = _euler_row(zt, dt, P, sx, sf, sv, sq, bt)
        elif method == 1:
            bad = _heun_row(zt, dt, P, sx, sf, sv, sq, bt)
        else:
            bad = _rk4_row(zt, dt, P, sx, sf, sv, sq, bt)
        _put(bold_out, t, i0, bt, n)
        if store:
            _put(states_out[0], t, i0, sx, n)
            _put(states_out[1], t, i0, sf, n)
            _put(states_out[2], t, i0, sv, n)
            _put(states_out[3], t, i0, sq, n)
        if bad:
            for i in range(n):
                if not _valid(sx[i], sf[i], sv[i], sq[i]):
                    result = t * N + i0 + i
                    break
            break
    _put(state, 0, i0, sx, n)
    _put(state, 1, i0, sf, n)
    _put(state, 2, i0, sv, n)
    _put(state, 3, i0, sq, n)
    return result


@njit(parallel=True, **_KERNEL_OPTIONS)
def _integrate_parallel(z, dt, p, state, bold_out, states_out, method, n_blocks):
    """Regions split into ``n_blocks`` contiguous blocks, each running the whole time loop
    on its own thread. Returns the first failure ``t * N + i`` over all blocks, or -1."""
    T, N = z.shape
    failures = np.full(n_blocks, T * N, dtype=np.int64)
    for b in prange(n_blocks):
        failures[b] = _run_block(z, dt, p, state, bold_out, states_out, method,
                                 b * N // n_blocks, (b + 1) * N // n_blocks)
    first = failures.min()
    return -1 if first == T * N else first


#: Below this many region-steps a call runs as one block (thread start-up costs more).
PARALLEL_THRESHOLD = 200_000
#: Fewest regions per block: shorter blocks waste the SIMD lanes.
MIN_BLOCK = 32


def integrate(z, dt, p, state, bold_out, states_out, method):
    """Integrate ``z`` (T, N) from ``state`` (4, N), advanced in place, writing BOLD (T, N)
    and, when ``states_out`` has T rows, the states (4, T, N); on all threads for large inputs.

    Returns -1, or ``t * N + i`` for the first step ``t`` and then the first region ``i``
    whose new state left the domain; the caller then discards ``state``.
    """
    T, N = z.shape
    n_blocks = 1
    if T * N >= PARALLEL_THRESHOLD:
        n_blocks = max(1, min(get_num_threads(), N // MIN_BLOCK))
    return _integrate_parallel(z, dt, p, state, bold_out, states_out, method, n_blocks)


def warm_up():
    """Compile (or load from the cache) the kernels for float64 arrays."""
    z = np.zeros((1, 1))
    state = np.array([[0.0], [1.0], [1.0], [1.0]])
    p = np.ones((N_PARAMS, 1))
    integrate(z, 0.001, p, state, np.empty((1, 1)), np.empty((4, 0, 1)), 2)
