"""Numba loops of the ``"split"`` method (see :mod:`fwdmodels.hemodynamics.split`).

The same arithmetic as ``split.integrate_split_numpy``, in the layout of ``_kernels``: regions
split into blocks (one thread each for large inputs), each block's state, parameters and
forcing integrals in contiguous buffers padded to the SIMD width, and the innermost loops over
the regions of one sample, so that they compile to vector code. The formulas themselves
(``split.forcing``, ``split.decay``, ``split.remainder_rk4``, ...) are compiled from their
Python source with the vectorisable ``exp`` and ``log`` of :mod:`fwdmodels._vecmath`.
"""

from __future__ import annotations

import types

import numpy as np

from .. import _vecmath
from .._numba import get_num_threads, invalidate_stale_cache, njit, prange
from . import equations, split
from .equations import INV_TAU
from ._kernels import MIN_BLOCK, PARALLEL_THRESHOLD, SIMD_PAD, _KERNEL_OPTIONS, \
    _padded_params, _with_vector_math

invalidate_stale_cache(__file__, [equations.__file__, split.__file__, _vecmath.__file__])



def _compiled(func, inline="always", **bindings):
    """``func`` compiled with vector exp/log and other compiled helpers bound; inlined into
    the loops (at Numba's level) unless ``inline="never"`` (left to LLVM: faster to compile)."""
    plain = _with_vector_math(func)
    if bindings:
        plain = types.FunctionType(plain.__code__, {**plain.__globals__, **bindings},
                                   plain.__name__, plain.__defaults__, plain.__closure__)
    return njit(inline=inline, **_KERNEL_OPTIONS)(plain)


_observe = _compiled(equations.observe)
_forcing = _compiled(split.forcing)
_decay = _compiled(split.decay)
_jacobian = _compiled(split.decay_jacobian)
_remainder = _compiled(split.remainder_rk4, decay=_decay, decay_jacobian=_jacobian)
_hermite = _compiled(split.hermite_weights)
_quad = _compiled(split.quadratic_integral_weights)


@njit(inline="always", **_KERNEL_OPTIONS)
def _params(P, i):
    return (P[0, i], P[1, i], P[2, i], P[3, i], P[4, i], P[5, i], P[6, i], P[7, i], P[8, i],
            P[9, i])


# The lanes of a block (m regions) keep their state in 1-D buffers: x, f, the forcing of q
# and its derivative (gb, dgb) at the current sample, and the integrals A, B, int A, int B
# from the step's start. The loop over one sample's lanes reads and writes only these and
# reads the parameters, which lets the compiler vectorise it; a loop that also wrote rows of
# 2-D buffers was refused ("too many memory checks"). Keep it so. The per-sample loops are
# inlined into the block loop: a call per sample would pay reference counting on each buffer.

@njit(inline="always", **_KERNEL_OPTIONS)
def _held(z, h, p, C, i, x0, f0, b0, db0, A0, B0, IA0, IB0):
    """One lane ``h`` seconds on from a sample's start (``C`` the hold coefficients for
    ``h``): the exact x, f there, the forcing of q and its slope there, and the integrals
    from the step's start by the Hermite rule ``h/2 (g0 + g1) - h^2/12 (g1' - g0')``."""
    c = h * h / 12.0
    u = f0 - 1.0
    x = C[0, i] * x0 + C[1, i] * u + C[4, i] * z
    f = 1.0 + (C[2, i] * x0 + C[3, i] * u + C[5, i] * z)
    a, da, b, db = _forcing(x, f, p)
    a0, da0 = u * p[INV_TAU], x0 * p[INV_TAU]              # the forcing of v at the start
    A1 = A0 + 0.5 * h * (a0 + a) - c * (da - da0)
    B1 = B0 + 0.5 * h * (b0 + b) - c * (db - db0)
    return (x, f, b, db, A1, B1, IA0 + 0.5 * h * (A0 + A1) - c * (a - a0),
            IB0 + 0.5 * h * (B0 + B1) - c * (b - b0))


@njit(inline="always", **_KERNEL_OPTIONS)
def _advance(zb, h, P, C, x, f, gb, dgb, A, B, IA, IB):
    """Advance every lane one sample with input ``zb``. Returns how many lanes left the
    domain (f <= 0 or x, f not finite)."""
    bad = 0
    for i in range(zb.size):
        xi, fi, b, db, A1, B1, IA1, IB1 = _held(zb[i], h, _params(P, i), C, i, x[i], f[i],
                                                gb[i], dgb[i], A[i], B[i], IA[i], IB[i])
        A[i], B[i], IA[i], IB[i] = A1, B1, IA1, IB1
        gb[i], dgb[i] = b, db
        x[i], f[i] = xi, fi
        bad += 0 if (fi > 0.0) & (xi - xi == 0.0) & (fi - fi == 0.0) else 1
    return bad


@njit(**_KERNEL_OPTIONS)
def _start(P, x, f, gb, dgb, A, B, IA, IB):
    """Start a step: the forcing of q at its first sample, the integrals at zero."""
    for i in range(x.size):
        _, _, b, db = _forcing(x[i], f[i], _params(P, i))
        gb[i], dgb[i] = b, db
        A[i], B[i], IA[i], IB[i] = 0.0, 0.0, 0.0, 0.0


@njit(**_KERNEL_OPTIONS)
def _node(zb, h, P, C, x, f, gb, dgb, A, B, IA, IB, out):
    """The integrals ``h`` seconds into the current sample (exact x, f there) into ``out``."""
    for i in range(zb.size):
        _, _, _, _, a, b, ia, ib = _held(zb[i], h, _params(P, i), C, i, x[i], f[i], gb[i],
                                         dgb[i], A[i], B[i], IA[i], IB[i])
        out[0, i] = a
        out[1, i] = b
        out[2, i] = ia
        out[3, i] = ib


@njit(**_KERNEL_OPTIONS)
def _capture(out, A, B, IA, IB, x, f):
    """Copy the lanes' integrals (and x, f when ``out`` has six rows) into ``out``."""
    out[0] = A
    out[1] = B
    out[2] = IA
    out[3] = IB
    if out.shape[0] > 4:
        out[4] = x
        out[5] = f


@njit(**_KERNEL_OPTIONS)
def _step(H, P, v, q, nodes, A, B, IA, IB, v0, q0, err):
    """RK4 on the remainder (a step and two half steps) and Richardson for every lane: (v, q)
    advanced in place, their values at the step's start kept in ``v0, q0``, the largest error
    estimate in ``err``. Returns how many lanes left the domain. Few buffers, so that the
    lanes vectorise."""
    bad = 0
    for i in range(v.size):
        p = _params(P, i)
        a1, b1, ia1, ib1 = A[i], B[i], IA[i], IB[i]
        aq, bq = nodes[0, 0, i], nodes[0, 1, i]
        am, bm, iam, ibm = nodes[1, 0, i], nodes[1, 1, i], nodes[1, 2, i], nodes[1, 3, i]
        a3, b3 = nodes[2, 0, i], nodes[2, 1, i]
        vs, qs = v[i], q[i]
        vf, qf = _remainder(vs, qs, 0.0, am, a1, 0.0, bm, b1, 0.0, ia1, 0.0, ib1, H, p)
        vh, qh = _remainder(vs, qs, 0.0, aq, am, 0.0, bq, bm, 0.0, iam, 0.0, ibm, 0.5 * H, p)
        vh, qh = _remainder(vh, qh, am, a3, a1, bm, b3, b1, iam, ia1, ibm, ib1, 0.5 * H, p)
        v1 = (16.0 * vh - vf) / 15.0
        q1 = (16.0 * qh - qf) / 15.0
        err[i] = max(err[i], abs(_observe(vh, qh, p) - _observe(vf, qf, p)) / 15.0)
        v0[i], q0[i] = vs, qs
        v[i], q[i] = v1, q1
        bad += 0 if (v1 > 0.0) & (v1 - v1 == 0.0) & (q1 - q1 == 0.0) else 1
    return bad


@njit(**_KERNEL_OPTIONS)
def _interpolant(H, P, v0, q0, v, q, nodes, A, B, IA, IB, coef):
    """The coefficients ``coef`` (15, m) of the interpolant inside the step just taken (only
    needed when an output row falls inside it): value change, slopes and curvatures of w's
    smooth part at both ends, and the Jacobian at the middle."""
    cm, c1 = _quad(1.0)
    for i in range(v.size):
        p = _params(P, i)
        a1, b1, ia1, ib1 = A[i], B[i], IA[i], IB[i]
        am, bm = nodes[1, 0, i], nodes[1, 1, i]
        vs, qs, v1, q1 = v0[i], q0[i], v[i], q[i]
        d0v, d0q = _decay(vs, qs, p)
        d1v, d1q = _decay(v1, q1, p)
        jv, jqv, jqq = _jacobian(0.5 * (vs + v1), 0.5 * (qs + q1), p)
        j0v, j0qv, j0qq = _jacobian(vs, qs, p)
        j1v, j1qv, j1qq = _jacobian(v1, q1, p)
        pa0 = (4.0 * am - a1) / H
        pa1 = (3.0 * a1 - 4.0 * am) / H
        pb0 = (4.0 * bm - b1) / H
        pb1 = (3.0 * b1 - 4.0 * bm) / H
        da = ia1 - H * (cm * am + c1 * a1)
        db = ib1 - H * (cm * bm + c1 * b1)
        coef[0, i] = vs
        coef[1, i] = -d0v
        coef[2, i] = -j0v * (pa0 - d0v)
        coef[3, i] = (v1 - a1 + jv * da) - vs       # the change of w over the step
        coef[4, i] = -d1v
        coef[5, i] = -j1v * (pa1 - d1v)
        coef[6, i] = qs
        coef[7, i] = -d0q
        coef[8, i] = -(j0qv * (pa0 - d0v) + j0qq * (pb0 - d0q))
        coef[9, i] = (q1 - b1 + (jqv * da + jqq * db)) - qs
        coef[10, i] = -d1q
        coef[11, i] = -(j1qv * (pa1 - d1v) + j1qq * (pb1 - d1q))
        coef[12, i], coef[13, i], coef[14, i] = jv, jqv, jqq


@njit(inline="always", **_KERNEL_OPTIONS)
def _dense(s, H, P, coef, nodes, A, B, cap, out):
    """BOLD, v and q at fraction ``s`` of the step into ``out`` (3, m), from the integrals
    captured at that sample (``cap``) and their values at the step's end (``A``, ``B``)."""
    _, w1, w2, w3, w4, w5 = _hermite(s)
    cm, c1 = _quad(s)
    HH = H * H
    for i in range(out.shape[1]):
        am, bm = nodes[1, 0, i], nodes[1, 1, i]
        da = cap[2, i] - H * (cm * am + c1 * A[i])
        db = cap[3, i] - H * (cm * bm + c1 * B[i])
        # written from the start value (w0 = 1 - w3), so a lane at rest stays exactly there
        v = coef[0, i] + (w3 * coef[3, i] + w1 * H * coef[1, i] + w2 * HH * coef[2, i] +
                          w4 * H * coef[4, i] + w5 * HH * coef[5, i]) - coef[12, i] * da + \
            cap[0, i]
        q = coef[6, i] + (w3 * coef[9, i] + w1 * H * coef[7, i] + w2 * HH * coef[8, i] +
                          w4 * H * coef[10, i] + w5 * HH * coef[11, i]) - \
            (coef[13, i] * da + coef[14, i] * db) + cap[1, i]
        out[0, i] = _observe(v, q, _params(P, i))
        out[1, i] = v
        out[2, i] = q


@njit(**_KERNEL_OPTIONS)
def _first_invalid(a, b, positive_a):
    for i in range(a.size):
        if not ((a[i] > 0.0 or not positive_a) and np.isfinite(a[i]) and np.isfinite(b[i])):
            return i
    return 0


@njit(**_KERNEL_OPTIONS)
def _run_block(z, dt, p, hold, state, r_step, out_every, out_mean, store, bold_out, states_out,
               err_out, i0, i1):
    """Regions ``i0:i1`` over every sample; returns ``t * N + i`` of the first failure or
    ``T * N``."""
    T, N = z.shape
    n = i1 - i0
    m = -(-n // SIMD_PAD) * SIMD_PAD
    P = _padded_params(p, i0, i1, m)
    C = np.empty((hold.shape[0], hold.shape[1], m))
    for j in range(hold.shape[0]):
        C[j] = _padded_params(hold[j], i0, i1, m)
    x = np.zeros(m)
    f = np.ones(m)
    v = np.ones(m)
    q = np.ones(m)
    x[:n] = state[0, i0:i1]
    f[:n] = state[1, i0:i1]
    v[:n] = state[2, i0:i1]
    q[:n] = state[3, i0:i1]
    gb = np.zeros(m)
    dgb = np.zeros(m)
    A = np.zeros(m)
    B = np.zeros(m)
    IA = np.zeros(m)
    IB = np.zeros(m)
    zb = np.zeros(m)
    nodes = np.zeros((3, 4, m))
    coef = np.zeros((15, m))
    v0 = np.zeros(m)
    q0 = np.zeros(m)
    err = np.zeros(m)
    out = np.zeros((3, m))
    acc = np.zeros((5, m))
    # the integrals (and x, f) captured at the samples whose output is wanted in this step
    per_step = min(r_step, T) if out_mean else min(r_step, T) // out_every + 1
    cap = np.zeros((per_step, 6 if store else 4, m))
    result = T * N
    t = 0
    while t < T and result == T * N:
        r = min(r_step, T - t)
        H = r * dt
        k1, f1 = divmod(r, 4)
        k2, f2 = divmod(2 * r, 4)
        k3, f3 = divmod(3 * r, 4)
        _start(P, x, f, gb, dgb, A, B, IA, IB)
        n_cap = 0
        for s in range(r):
            zb[:n] = z[t + s, i0:i1]
            if f1 and k1 == s:
                _node(zb, f1 * dt / 4.0, P, C[f1], x, f, gb, dgb, A, B, IA, IB, nodes[0])
            if f2 and k2 == s:
                _node(zb, f2 * dt / 4.0, P, C[f2], x, f, gb, dgb, A, B, IA, IB, nodes[1])
            if f3 and k3 == s:
                _node(zb, f3 * dt / 4.0, P, C[f3], x, f, gb, dgb, A, B, IA, IB, nodes[2])
            if _advance(zb, dt, P, C[0], x, f, gb, dgb, A, B, IA, IB):
                result = (t + s) * N + i0 + _first_invalid(f[:n], x[:n], True)
                break
            if not f1 and k1 == s + 1:
                _capture(nodes[0], A, B, IA, IB, x, f)
            if not f2 and k2 == s + 1:
                _capture(nodes[1], A, B, IA, IB, x, f)
            if not f3 and k3 == s + 1:
                _capture(nodes[2], A, B, IA, IB, x, f)
            if s + 1 < r and (out_mean or (t + s + 1) % out_every == 0):
                _capture(cap[n_cap], A, B, IA, IB, x, f)
                n_cap += 1
        if result != T * N:
            break
        if _step(H, P, v, q, nodes, A, B, IA, IB, v0, q0, err):
            result = (t + r - 1) * N + i0 + _first_invalid(v[:n], q[:n], True)
            break
        if n_cap:                       # an output row inside the step: interpolate
            _interpolant(H, P, v0, q0, v, q, nodes, A, B, IA, IB, coef)
        n_cap = 0
        for s in range(1, r + 1):
            done = t + s
            last = done % out_every == 0
            if not (out_mean or last):
                continue
            if s == r:
                for i in range(m):
                    out[0, i] = _observe(v[i], q[i], _params(P, i))
                    out[1, i] = v[i]
                    out[2, i] = q[i]
                xs, fs = x, f
            else:
                _dense(s / r, H, P, coef, nodes, A, B, cap[n_cap], out)
                if store:
                    xs, fs = cap[n_cap, 4], cap[n_cap, 5]
                n_cap += 1
            if out_mean:
                for i in range(m):
                    acc[0, i] += out[0, i]
                    acc[3, i] += out[1, i]
                    acc[4, i] += out[2, i]
                if store:
                    for i in range(m):
                        acc[1, i] += xs[i]
                        acc[2, i] += fs[i]
            if last:
                row = done // out_every - 1
                if out_mean:
                    for k in range(5):
                        for i in range(m):
                            acc[k, i] /= out_every
                    bold_out[row, i0:i1] = acc[0, :n]
                    if store:
                        for k in range(4):
                            states_out[k, row, i0:i1] = acc[k + 1, :n]
                    acc[:, :] = 0.0
                else:
                    bold_out[row, i0:i1] = out[0, :n]
                    if store:
                        states_out[0, row, i0:i1] = xs[:n]
                        states_out[1, row, i0:i1] = fs[:n]
                        states_out[2, row, i0:i1] = out[1, :n]
                        states_out[3, row, i0:i1] = out[2, :n]
        t += r
    state[0, i0:i1] = x[:n]
    state[1, i0:i1] = f[:n]
    state[2, i0:i1] = v[:n]
    state[3, i0:i1] = q[:n]
    for i in range(n):
        err_out[i0 + i] = max(err_out[i0 + i], err[i])
    return result


@njit(parallel=True, **_KERNEL_OPTIONS)
def _integrate_parallel(z, dt, p, hold, state, r_step, out_every, out_mean, store, bold_out,
                        states_out, err_out, n_blocks):
    T, N = z.shape
    failures = np.full(n_blocks, T * N, dtype=np.int64)
    for b in prange(n_blocks):
        failures[b] = _run_block(z, dt, p, hold, state, r_step, out_every, out_mean, store,
                                 bold_out, states_out, err_out, b * N // n_blocks,
                                 (b + 1) * N // n_blocks)
    first = failures.min()
    return -1 if first == T * N else first


def integrate(z, dt, p, hold, state, r_step, out_every, out_mean, bold_out, states_out, err_out):
    """The split method over ``z`` (T, N) from ``state`` (4, N), advanced in place.

    ``p`` (N_PARAMS, N) from ``pack_params``; ``hold`` (4, 6, N) from
    ``split.hold_coefficients``; ``r_step`` samples per hemodynamic step; one output row every
    ``out_every`` samples (their mean with ``out_mean``) into ``bold_out`` (T // out_every, N)
    and, when ``states_out`` has as many rows, the states x, f, v, q (4, rows, N); ``err_out``
    (N) receives the largest error estimate. Returns -1 or ``t * N + i`` of the first failure.
    """
    T, N = z.shape
    n_blocks = 1
    if T * N >= PARALLEL_THRESHOLD:
        n_blocks = max(1, min(get_num_threads(), N // MIN_BLOCK))
    store = states_out.shape[1] == bold_out.shape[0] and bold_out.shape[0] > 0
    return _integrate_parallel(z, float(dt), p, hold, state, int(r_step), int(out_every),
                               bool(out_mean), store, bold_out, states_out, err_out, n_blocks)
