"""Numba loops of the ``"split"`` method (see :mod:`fwdmodels.hemodynamics.split`).

The same arithmetic as ``split.integrate_split_numpy``. Regions are split into blocks (one
thread each for large inputs). Each step makes one pass over its samples in which a region
costs the hold recursion, the expansion of the forcing of q (:mod:`.forcing`) and four
additions to running sums, all in one work array laid out so that the loop over a group of
lanes compiles to vector code; a region whose f leaves the expansion's radius takes the step
again with the forcing as written (a second pass, selecting per lane). The integrals at the
quarter nodes, the Richardson step on the remainder and the dense output then run once per
step. The formulas themselves are compiled from their Python source with the vectorisable
``exp`` and ``log`` of :mod:`fwdmodels._vecmath`.
"""

from __future__ import annotations

import types

import numpy as np

from .. import _vecmath
from .._numba import get_num_threads, invalidate_stale_cache, njit, prange
from . import equations, forcing, split
from .equations import INV_TAU
from .forcing import RADIUS
from ._kernels import MIN_BLOCK, PARALLEL_THRESHOLD, _KERNEL_OPTIONS, \
    _padded_params, _with_vector_math

invalidate_stale_cache(__file__, [equations.__file__, forcing.__file__, split.__file__,
                                  _vecmath.__file__])



def _compiled(func, inline="always", **bindings):
    """``func`` compiled with vector exp/log and other compiled helpers bound; inlined into
    the loops (at Numba's level) unless ``inline="never"`` (left to LLVM: faster to compile)."""
    plain = _with_vector_math(func)
    if bindings:
        plain = types.FunctionType(plain.__code__, {**plain.__globals__, **bindings},
                                   plain.__name__, plain.__defaults__, plain.__closure__)
    return njit(inline=inline, **_KERNEL_OPTIONS)(plain)


_observe = _compiled(equations.observe)
_forcing = _compiled(forcing.forcing)
_centre = _compiled(forcing.centre)
_taylor = _compiled(forcing.taylor_coefficients)
_deviation = _compiled(forcing.deviation)
_slope = _compiled(forcing.slope)
_exact_deviation = _compiled(forcing.exact_deviation, forcing=_forcing)
_integral = _compiled(forcing.integral)
_part_sample = _compiled(split._part_sample)
_decay = _compiled(split.decay)
_jacobian = _compiled(split.decay_jacobian)
_remainder = _compiled(split.remainder_rk4, decay=_decay, decay_jacobian=_jacobian)
_hermite = _compiled(split.hermite_weights)
_quad = _compiled(split.quadratic_integral_weights)


@njit(inline="always", **_KERNEL_OPTIONS)
def _params(P, i):
    return (P[0, i], P[1, i], P[2, i], P[3, i], P[4, i], P[5, i], P[6, i], P[7, i], P[8, i],
            P[9, i])


# Pass 1 (x, f and the sums of the forcing, sample by sample) keeps every per-region value it
# touches in one work array W (groups, rows, LANES) whose last two extents are constants:
# LLVM then sees that the rows of W do not overlap and vectorises the loop over a group's
# lanes with no run-time alias checks (with a separate buffer per quantity it needs dozens of
# checks per sample and gives up). Rows of W:
_X, _U, _UC, _SD, _RD, _SE, _RE, _REACH, _Z = range(9)
_C = 9                  # 6 rows: hold coefficients over one sample
_BETA = 15              # 8 rows: beta_0 .. beta_7 of the forcing of q about the centre
_BOUND, _EXACT, _X0, _U0 = 23, 24, 25, 26
_P = 27                 # 10 rows: the packed parameters
_ROWS = 37
LANES = 16


@njit(inline="always", **_KERNEL_OPTIONS)
def _wparams(W, g, i):
    return (W[g, _P, i], W[g, _P + 1, i], W[g, _P + 2, i], W[g, _P + 3, i], W[g, _P + 4, i],
            W[g, _P + 5, i], W[g, _P + 6, i], W[g, _P + 7, i], W[g, _P + 8, i],
            W[g, _P + 9, i])


@njit(inline="always", **_KERNEL_OPTIONS)
def _wbeta(W, g, i):
    return (W[g, _BETA + 1, i], W[g, _BETA + 2, i], W[g, _BETA + 3, i], W[g, _BETA + 4, i],
            W[g, _BETA + 5, i], W[g, _BETA + 6, i], W[g, _BETA + 7, i])


@njit(inline="always", **_KERNEL_OPTIONS)
def _hold(W, g, i):
    """Lane ``i`` of group ``g``: x, u at the next sample and ``d = u - u_c``."""
    x, u, zi = W[g, _X, i], W[g, _U, i], W[g, _Z, i]
    x1 = W[g, _C, i] * x + W[g, _C + 1, i] * u + W[g, _C + 4, i] * zi
    u1 = W[g, _C + 2, i] * x + W[g, _C + 3, i] * u + W[g, _C + 5, i] * zi
    return x1, u1, u1 - W[g, _UC, i]


@njit(inline="always", **_KERNEL_OPTIONS)
def _add(W, g, i, x1, u1, d, dev):
    """Store the lane's new x, u and add ``d`` and the forcing's deviation to the sums."""
    W[g, _X, i], W[g, _U, i] = x1, u1
    sd = W[g, _SD, i] + d
    se = W[g, _SE, i] + dev
    W[g, _SD, i], W[g, _SE, i] = sd, se
    W[g, _RD, i] += sd
    W[g, _RE, i] += se
    reach, ad = W[g, _REACH, i], abs(d)
    W[g, _REACH, i] = reach if ad <= reach else ad


@njit(inline="always", **_KERNEL_OPTIONS)
def _expanded(W, g, i, d):
    c1, c2, c3, c4, c5, c6, c7 = _wbeta(W, g, i)
    return _deviation(d, c1, c2, c3, c4, c5, c6, c7)


@njit(inline="always", **_KERNEL_OPTIONS)
def _sample(W, g):
    """One sample for the lanes of group ``g``, the forcing of q from its expansion. A
    separate loop from :func:`_sample_exact`: a branch inside would stop it vectorising."""
    for i in range(LANES):
        x1, u1, d = _hold(W, g, i)
        _add(W, g, i, x1, u1, d, _expanded(W, g, i, d))


@njit(inline="always", **_KERNEL_OPTIONS)
def _sample_exact(W, g):
    """One sample for the lanes of group ``g``, the forcing of q as written where the lane's
    flag is set. Returns how many lanes left the domain."""
    bad = 0
    for i in range(LANES):
        x1, u1, d = _hold(W, g, i)
        ee, _ = _exact_deviation(x1, u1, W[g, _BETA, i], _wparams(W, g, i))
        _add(W, g, i, x1, u1, d, ee if W[g, _EXACT, i] != 0.0 else _expanded(W, g, i, d))
        f1 = 1.0 + u1
        bad += 0 if (f1 > 0.0) & (x1 - x1 == 0.0) & (f1 - f1 == 0.0) else 1
    return bad


@njit(**_KERNEL_OPTIONS)
def _begin(W, G, H, start):
    """Start a step: the centre and coefficients of each lane, the sums at zero, and in
    ``start`` (5, m) the deviation and slope of the forcing of q at the step's start by the
    expansion (rows 0, 1) and as written (rows 2, 3)."""
    for g in range(G):
        for i in range(LANES):
            p = _wparams(W, g, i)
            x0, u0 = W[g, _X, i], W[g, _U, i]
            uc = _centre(x0, u0, H)
            b0, c1, c2, c3, c4, c5, c6, c7 = _taylor(uc, p)
            W[g, _UC, i], W[g, _BOUND, i] = uc, RADIUS * (1.0 + uc)
            W[g, _BETA, i], W[g, _BETA + 1, i], W[g, _BETA + 2, i] = b0, c1, c2
            W[g, _BETA + 3, i], W[g, _BETA + 4, i], W[g, _BETA + 5, i] = c3, c4, c5
            W[g, _BETA + 6, i], W[g, _BETA + 7, i] = c6, c7
            W[g, _X0, i], W[g, _U0, i] = x0, u0
            d0 = u0 - uc
            j = g * LANES + i
            start[0, j] = _deviation(d0, c1, c2, c3, c4, c5, c6, c7)
            start[1, j] = _slope(d0, c1, c2, c3, c4, c5, c6, c7) * x0
            start[2, j], start[3, j] = _exact_deviation(x0, u0, b0, p)
            _reset(W, g, i, abs(d0))


@njit(inline="always", **_KERNEL_OPTIONS)
def _reset(W, g, i, reach):
    W[g, _X, i], W[g, _U, i] = W[g, _X0, i], W[g, _U0, i]
    W[g, _SD, i], W[g, _RD, i], W[g, _SE, i], W[g, _RE, i] = 0.0, 0.0, 0.0, 0.0
    W[g, _REACH, i] = reach


@njit(**_KERNEL_OPTIONS)
def _flag(W, G, start):
    """Set each lane's flag where the expansion did not hold over the step (f went beyond
    its radius, or a sum is not finite); returns how many lanes are flagged."""
    count = 0
    for g in range(G):
        for i in range(LANES):
            total = W[g, _RD, i] + W[g, _RE, i] + start[0, g * LANES + i]
            ok = (W[g, _REACH, i] <= W[g, _BOUND, i]) & (total - total == 0.0)
            W[g, _EXACT, i] = 0.0 if ok else 1.0
            count += 0 if ok else 1
    return count


@njit(**_KERNEL_OPTIONS)
def _restart(W, G):
    for g in range(G):
        for i in range(LANES):
            _reset(W, g, i, 0.0)


@njit(**_KERNEL_OPTIONS)
def _capture(W, G, out, C):
    """Copy the lanes' x, u and sums into ``out`` (6 or 8, m); with 8 rows also (x, u) part
    of the way into the sample whose input is in W (hold coefficients ``C`` for that part)."""
    for g in range(G):
        for i in range(LANES):
            j = g * LANES + i
            x, u = W[g, _X, i], W[g, _U, i]
            out[0, j], out[1, j] = x, u
            out[2, j], out[3, j] = W[g, _SD, i], W[g, _RD, i]
            out[4, j], out[5, j] = W[g, _SE, i], W[g, _RE, i]
            if out.shape[0] > 6:
                zi = W[g, _Z, i]
                xt = C[0, j] * x + C[1, j] * u + C[4, j] * zi
                ut = C[2, j] * x + C[3, j] * u + C[5, j] * zi
                out[6, j], out[7, j] = xt, ut
                reach, ad = W[g, _REACH, i], abs(ut - W[g, _UC, i])
                W[g, _REACH, i] = reach if ad <= reach else ad


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
def _integrals(cap, k, h, part, W, G, start, any_exact, out):
    """The forcing integrals ``(A, B, IA, IB)`` (and x, f when ``out`` has six rows) into
    ``out`` from the sums captured after ``k`` samples (``cap``, see :func:`_capture`), and
    ``part`` seconds further into the next sample when ``part > 0``. ``out`` may be ``cap``."""
    for g in range(G):
        for i in range(LANES):
            j = g * LANES + i
            p = _wparams(W, g, i)
            uc, b0 = W[g, _UC, i], W[g, _BETA, i]
            c1, c2, c3, c4, c5, c6, c7 = _wbeta(W, g, i)
            x, u, sd, rd, se, re = cap[0, j], cap[1, j], cap[2, j], cap[3, j], cap[4, j], \
                cap[5, j]
            d = u - uc
            e, gq = _deviation(d, c1, c2, c3, c4, c5, c6, c7), \
                _slope(d, c1, c2, c3, c4, c5, c6, c7) * x
            e0, g0 = start[0, j], start[1, j]
            flagged = any_exact and W[g, _EXACT, i] != 0.0
            if flagged:
                e, gq = _exact_deviation(x, u, b0, p)
                e0, g0 = start[2, j], start[3, j]
            a, ia = _integral(k, h, uc, sd, rd, W[g, _U0, i] - uc, d, W[g, _X0, i], x)
            b, ib = _integral(k, h, b0, se, re, e0, e, g0, gq)
            a, ia = a * p[INV_TAU], ia * p[INV_TAU]
            if part > 0.0:
                xt, ut = cap[6, j], cap[7, j]
                dt_ = ut - uc
                et = _deviation(dt_, c1, c2, c3, c4, c5, c6, c7)
                gt = _slope(dt_, c1, c2, c3, c4, c5, c6, c7) * xt
                if flagged:
                    et, gt = _exact_deviation(xt, ut, b0, p)
                a, b, ia, ib = _part_sample(part, (a, b, ia, ib),
                                            (u * p[INV_TAU], x * p[INV_TAU], b0 + e, gq),
                                            (ut * p[INV_TAU], xt * p[INV_TAU], b0 + et, gt))
            out[0, j], out[1, j], out[2, j], out[3, j] = a, b, ia, ib
            if out.shape[0] > 4:
                out[4, j], out[5, j] = x, 1.0 + u


@njit(**_KERNEL_OPTIONS)
def _first_bad(W, G, n):
    """Index of the first of the ``n`` lanes whose x, f left the domain."""
    for j in range(n):
        g, i = divmod(j, LANES)
        x, f = W[g, _X, i], 1.0 + W[g, _U, i]
        if not ((f > 0.0) and np.isfinite(x) and np.isfinite(f)):
            return j
    return 0


@njit(inline="always", **_KERNEL_OPTIONS)
def _pass(z, t, r, i0, n, W, G, C, nodes_at, raw_nodes, cap, out_every, out_mean, exact):
    """Pass 1 over the ``r`` samples of the step starting at ``t``: x, u and the sums of
    every lane, with the raw values captured at the quarter nodes (``raw_nodes``) and at the
    samples whose output is wanted inside the step (``cap``). Returns -1, or with ``exact``
    the sample at which a lane left the domain."""
    n_cap = 0
    for s in range(r):
        row = t + s
        for g in range(G):
            base = g * LANES
            for i in range(min(LANES, n - base)):
                W[g, _Z, i] = z[row, i0 + base + i]
        for k in range(3):
            if nodes_at[k, 0] == s and nodes_at[k, 1] > 0:
                _capture(W, G, raw_nodes[k], C[nodes_at[k, 1]])
        if exact:
            bad = 0
            for g in range(G):
                bad += _sample_exact(W, g)
            if bad:
                return s
        else:
            for g in range(G):
                _sample(W, g)
        for k in range(3):
            if nodes_at[k, 0] == s + 1 and nodes_at[k, 1] == 0:
                _capture(W, G, raw_nodes[k, :6], C[0])
        if s + 1 < r and (out_mean or (row + 1) % out_every == 0):
            _capture(W, G, cap[n_cap], C[0])
            n_cap += 1
    return -1


@njit(**_KERNEL_OPTIONS)
def _run_block(z, dt, p, hold, state, r_step, out_every, out_mean, store, bold_out, states_out,
               err_out, i0, i1):
    """Regions ``i0:i1`` over every sample; returns ``t * N + i`` of the first failure or
    ``T * N``."""
    T, N = z.shape
    n = i1 - i0
    G = -(-n // LANES)
    m = G * LANES
    P = _padded_params(p, i0, i1, m)
    C = np.empty((hold.shape[0], hold.shape[1], m))
    for j in range(hold.shape[0]):
        C[j] = _padded_params(hold[j], i0, i1, m)
    W = np.zeros((G, _ROWS, LANES))
    for j in range(m):
        g, i = divmod(j, LANES)
        for k in range(6):
            W[g, _C + k, i] = C[0, k, j]
        for k in range(P.shape[0]):
            W[g, _P + k, i] = P[k, j]
        if j < n:
            W[g, _X, i], W[g, _U, i] = state[0, i0 + j], state[1, i0 + j] - 1.0
    v = np.ones(m)
    q = np.ones(m)
    v[:n] = state[2, i0:i1]
    q[:n] = state[3, i0:i1]
    start = np.zeros((4, m))
    nodes = np.zeros((3, 8, m))
    ends = np.zeros((6, m))
    nodes_at = np.zeros((3, 2), dtype=np.int64)
    coef = np.zeros((15, m))
    v0 = np.zeros(m)
    q0 = np.zeros(m)
    err = np.zeros(m)
    out = np.zeros((3, m))
    acc = np.zeros((5, m))
    # the sums (then the integrals, x, f) captured at the samples whose output is wanted
    per_step = min(r_step, T) if out_mean else min(r_step, T) // out_every + 1
    cap = np.zeros((per_step, 6, m))
    result = T * N
    t = 0
    while t < T and result == T * N:
        r = min(r_step, T - t)
        H = r * dt
        for k in range(3):
            nodes_at[k, 0], nodes_at[k, 1] = divmod((k + 1) * r, 4)
        for j in range(m if t else 0):          # from f as stored, as a piece would start
            g, i = divmod(j, LANES)
            W[g, _U, i] = (1.0 + W[g, _U, i]) - 1.0
        _begin(W, G, H, start)
        _pass(z, t, r, i0, n, W, G, C, nodes_at, nodes, cap, out_every, out_mean, False)
        any_exact = _flag(W, G, start) > 0
        if any_exact:                 # the flagged lanes take the step with b as written
            _restart(W, G)
            s = _pass(z, t, r, i0, n, W, G, C, nodes_at, nodes, cap, out_every, out_mean, True)
            if s >= 0:
                result = (t + s) * N + i0 + _first_bad(W, G, n)
                break
        for k in range(3):
            part = nodes_at[k, 1] * dt / 4.0
            _integrals(nodes[k], nodes_at[k, 0], dt, part, W, G, start, any_exact, nodes[k])
        _capture(W, G, ends, C[0])
        _integrals(ends, r, dt, 0.0, W, G, start, any_exact, ends)
        A, B, IA, IB, xe, fe = ends[0], ends[1], ends[2], ends[3], ends[4], ends[5]
        if _step(H, P, v, q, nodes, A, B, IA, IB, v0, q0, err):
            result = (t + r - 1) * N + i0 + _first_invalid(v[:n], q[:n], True)
            break
        n_cap = 0
        for s in range(1, r):
            if out_mean or (t + s) % out_every == 0:
                _integrals(cap[n_cap], s, dt, 0.0, W, G, start, any_exact, cap[n_cap])
                n_cap += 1
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
                xs, fs = xe, fe
            else:
                _dense(s / r, H, P, coef, nodes, A, B, cap[n_cap], out)
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
    for j in range(n):
        g, i = divmod(j, LANES)
        state[0, i0 + j], state[1, i0 + j] = W[g, _X, i], 1.0 + W[g, _U, i]
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
