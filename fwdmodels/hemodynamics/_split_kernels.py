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

import numpy as np

from .._numba import fwdmodels_dependencies, get_num_threads, invalidate_stale_cache, njit, \
    prange
from . import split
from ._kernels import MIN_BLOCK, PARALLEL_THRESHOLD, _KERNEL_OPTIONS, _compiled, _get, \
    _observe, _padded_params, _put
from ._split_pass import _C, _COEF, _ERR, _NODE, _NODES, _OUT, _P, _Q, _Q0, _ROWS, _U, _V, _V0, \
    _X, LANES, _begin, _capture, _first_bad, _flag, _integrals, _pass, _restart, _tile, _wparams

invalidate_stale_cache(__file__, fwdmodels_dependencies(__name__))

_decay = _compiled(split.decay, inline="never")
_jacobian = _compiled(split.decay_jacobian, inline="never")
_remainder = _compiled(split.remainder_rk4, inline="never", decay=_decay,
                       decay_jacobian=_jacobian)
_hermite = _compiled(split.hermite_weights)
_quad = _compiled(split.quadratic_integral_weights)


@njit(inline="always", **_KERNEL_OPTIONS)
def _params(P, i):
    return (P[0, i], P[1, i], P[2, i], P[3, i], P[4, i], P[5, i], P[6, i], P[7, i], P[8, i],
            P[9, i])


@njit(inline="always", **_KERNEL_OPTIONS)   # where W is allocated: its loops vectorise
def _step(H, W, G, nodes, ends, v, q):
    """RK4 on the remainder (a step and two half steps) and Richardson for every lane: (v, q)
    advanced in place, their values at the step's start kept in W's rows ``_V0, _Q0``, the
    largest error estimate in W's row ``_ERR``. Returns how many lanes left the domain. The
    lanes' values are moved into rows of W first, so that the loop over lanes vectorises."""
    for g in range(G):
        base = g * LANES
        for i in range(LANES):
            j = base + i
            W[g, _V, i], W[g, _Q, i] = v[j], q[j]
            W[g, _NODES, i], W[g, _NODES + 1, i] = nodes[0, 0, j], nodes[0, 1, j]
            for k in range(4):
                W[g, _NODES + 2 + k, i] = nodes[1, k, j]
                W[g, _NODES + 8 + k, i] = ends[k, j]
            W[g, _NODES + 6, i], W[g, _NODES + 7, i] = nodes[2, 0, j], nodes[2, 1, j]
    bad = 0
    for g in range(G):
        bad += _step_lanes(H, W, g)
    for g in range(G):
        base = g * LANES
        for i in range(LANES):
            v[base + i], q[base + i] = W[g, _V, i], W[g, _Q, i]
    return bad


@njit(inline="always", **_KERNEL_OPTIONS)
def _step_lanes(H, W, g):
    bad = 0
    for i in range(LANES):
        p = _wparams(W, g, i)
        aq, bq = W[g, _NODES, i], W[g, _NODES + 1, i]
        am, bm, iam, ibm = W[g, _NODES + 2, i], W[g, _NODES + 3, i], W[g, _NODES + 4, i], \
            W[g, _NODES + 5, i]
        a3, b3 = W[g, _NODES + 6, i], W[g, _NODES + 7, i]
        a1, b1, ia1, ib1 = W[g, _NODES + 8, i], W[g, _NODES + 9, i], W[g, _NODES + 10, i], \
            W[g, _NODES + 11, i]
        vs, qs = W[g, _V, i], W[g, _Q, i]
        vf, qf = _remainder(vs, qs, 0.0, am, a1, 0.0, bm, b1, 0.0, ia1, 0.0, ib1, H, p)
        vh, qh = _remainder(vs, qs, 0.0, aq, am, 0.0, bq, bm, 0.0, iam, 0.0, ibm, 0.5 * H, p)
        vh, qh = _remainder(vh, qh, am, a3, a1, bm, b3, b1, iam, ia1, ibm, ib1, 0.5 * H, p)
        v1 = (16.0 * vh - vf) / 15.0
        q1 = (16.0 * qh - qf) / 15.0
        W[g, _ERR, i] = max(W[g, _ERR, i], abs(_observe(vh, qh, p) - _observe(vf, qf, p)) / 15.0)
        W[g, _V0, i], W[g, _Q0, i] = vs, qs
        W[g, _V, i], W[g, _Q, i] = v1, q1
        bad += 0 if (v1 > 0.0) & (v1 - v1 == 0.0) & (q1 - q1 == 0.0) else 1
    return bad


@njit(**_KERNEL_OPTIONS)
def _interpolant(H, P, v, q, nodes, A, B, IA, IB, W, G):
    """The coefficients of the interpolant inside the step just taken into W's rows
    ``_COEF`` and ``_NODE`` (only needed when an output row falls inside it): value change,
    slopes and curvatures of w's smooth part at both ends, and the Jacobian at the middle."""
    cm, c1 = _quad(1.0)
    for j in range(v.size):
        g, i = divmod(j, LANES)
        p = _params(P, j)
        a1, b1, ia1, ib1 = A[j], B[j], IA[j], IB[j]
        am, bm = nodes[1, 0, j], nodes[1, 1, j]
        vs, qs, v1, q1 = W[g, _V0, i], W[g, _Q0, i], v[j], q[j]
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
        coef = (vs, -d0v, -j0v * (pa0 - d0v),
                (v1 - a1 + jv * da) - vs,       # the change of w over the step
                -d1v, -j1v * (pa1 - d1v),
                qs, -d0q, -(j0qv * (pa0 - d0v) + j0qq * (pb0 - d0q)),
                (q1 - b1 + (jqv * da + jqq * db)) - qs,
                -d1q, -(j1qv * (pa1 - d1v) + j1qq * (pb1 - d1q)),
                jv, jqv, jqq)
        for k in range(15):
            W[g, _COEF + k, i] = coef[k]
        W[g, _NODE, i], W[g, _NODE + 1, i], W[g, _NODE + 2, i], W[g, _NODE + 3, i] = \
            am, bm, a1, b1


@njit(inline="always", **_KERNEL_OPTIONS)
def _dense(s, H, W, G, cap):
    """BOLD, v and q at fraction ``s`` of the step into W's rows ``_OUT``, from the integrals
    read off at that sample (``cap``, see :func:`._split_pass._keep`) and the interpolant.
    Inlined where W is allocated, so that the loop over lanes vectorises."""
    _, w1, w2, w3, w4, w5 = _hermite(s)
    cm, c1 = _quad(s)
    HH = H * H
    for g in range(G):
        base = g * LANES
        for i in range(LANES):
            am, bm, a1, b1 = W[g, _NODE, i], W[g, _NODE + 1, i], W[g, _NODE + 2, i], \
                W[g, _NODE + 3, i]
            da = cap[2, base + i] - H * (cm * am + c1 * a1)
            db = cap[3, base + i] - H * (cm * bm + c1 * b1)
            # written from the start value (w0 = 1 - w3), so a lane at rest stays exactly there
            v = W[g, _COEF, i] + (w3 * W[g, _COEF + 3, i] + w1 * H * W[g, _COEF + 1, i] +
                                  w2 * HH * W[g, _COEF + 2, i] + w4 * H * W[g, _COEF + 4, i] +
                                  w5 * HH * W[g, _COEF + 5, i]) - \
                W[g, _COEF + 12, i] * da + cap[0, base + i]
            q = W[g, _COEF + 6, i] + (w3 * W[g, _COEF + 9, i] + w1 * H * W[g, _COEF + 7, i] +
                                      w2 * HH * W[g, _COEF + 8, i] +
                                      w4 * H * W[g, _COEF + 10, i] +
                                      w5 * HH * W[g, _COEF + 11, i]) - \
                (W[g, _COEF + 13, i] * da + W[g, _COEF + 14, i] * db) + cap[1, base + i]
            W[g, _OUT, i] = _observe(v, q, _wparams(W, g, i))
            W[g, _OUT + 1, i] = v
            W[g, _OUT + 2, i] = q


@njit(inline="always", **_KERNEL_OPTIONS)
def _at_end(W, G, v, q):
    """BOLD, v and q at the step's end (the state carried on) into W's rows ``_OUT``."""
    for g in range(G):
        for i in range(LANES):
            vi, qi = v[g * LANES + i], q[g * LANES + i]
            W[g, _OUT, i] = _observe(vi, qi, _wparams(W, g, i))
            W[g, _OUT + 1, i] = vi
            W[g, _OUT + 2, i] = qi


@njit(inline="always", **_KERNEL_OPTIONS)
def _put_lanes(dst, row, i0, W, G, k, n):
    """``dst[row, i0:i0 + n]`` from W's row ``k`` (lanes beyond ``n`` are padding)."""
    for g in range(G):
        base = g * LANES
        for i in range(min(LANES, n - base)):
            dst[row, i0 + base + i] = W[g, k, i]


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
    _get(state, 2, i0, v, n)
    _get(state, 3, i0, q, n)
    start = np.zeros((4, m))
    nodes = np.zeros((3, 8, m))
    ends = np.zeros((6, m))
    nodes_at = np.zeros((3, 2), dtype=np.int64)
    acc = np.zeros((5, m))
    # the sums (then the integrals, x, f) captured at the samples whose output is wanted
    per_step = min(r_step, T) if out_mean else min(r_step, T) // out_every + 1
    cap = np.zeros((per_step, 6, m))
    zt = np.zeros((min(r_step, T), m))
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
        _tile(z, t, r, i0, n, zt)
        any_exact = False
        for attempt in range(2):      # one call site: the pass is compiled once, not twice
            if attempt == 1:
                any_exact = _flag(W, G, start) > 0
                if not any_exact:
                    break
                _restart(W, G, start)   # the flagged lanes take the step with b as written
            s = _pass(zt, t, r, n, dt, W, G, C, nodes_at, nodes, cap, out_every, out_mean,
                      attempt == 1)
            if s >= 0:
                result = (t + s) * N + i0 + _first_bad(W, G, n)
                break
        if result != T * N:
            break
        for k in range(3):
            part = nodes_at[k, 1] * dt / 4.0
            _integrals(nodes[k], nodes_at[k, 0], dt, part, W, G, start, any_exact, nodes[k])
        _capture(W, G, ends, C[0])
        _integrals(ends, r, dt, 0.0, W, G, start, any_exact, ends)
        A, B, IA, IB, xe, fe = ends[0], ends[1], ends[2], ends[3], ends[4], ends[5]
        if _step(H, W, G, nodes, ends, v, q):
            result = (t + r - 1) * N + i0 + _first_invalid(v[:n], q[:n], True)
            break
        inside = False
        for s in range(1, r):
            inside = inside or out_mean or (t + s) % out_every == 0
        if inside:                      # an output row inside the step: interpolate
            _interpolant(H, P, v, q, nodes, A, B, IA, IB, W, G)
        n_cap = 0
        for s in range(1, r + 1):
            done = t + s
            last = done % out_every == 0
            if not (out_mean or last):
                continue
            if s == r:
                _at_end(W, G, v, q)
                xs, fs = xe, fe
            else:
                _dense(s / r, H, W, G, cap[n_cap])
                xs, fs = cap[n_cap, 4], cap[n_cap, 5]
                n_cap += 1
            if out_mean:
                for j in range(m):
                    g, i = divmod(j, LANES)
                    acc[0, j] += W[g, _OUT, i]
                    acc[3, j] += W[g, _OUT + 1, i]
                    acc[4, j] += W[g, _OUT + 2, i]
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
                    _put(bold_out, row, i0, acc[0], n)
                    if store:
                        for k in range(4):
                            _put(states_out[k], row, i0, acc[k + 1], n)
                    acc[:, :] = 0.0
                else:
                    _put_lanes(bold_out, row, i0, W, G, _OUT, n)
                    if store:
                        _put(states_out[0], row, i0, xs, n)
                        _put(states_out[1], row, i0, fs, n)
                        _put_lanes(states_out[2], row, i0, W, G, _OUT + 1, n)
                        _put_lanes(states_out[3], row, i0, W, G, _OUT + 2, n)
        t += r
    for j in range(n):
        g, i = divmod(j, LANES)
        state[0, i0 + j], state[1, i0 + j] = W[g, _X, i], 1.0 + W[g, _U, i]
    _put(state, 2, i0, v, n)
    _put(state, 3, i0, q, n)
    for j in range(n):
        g, i = divmod(j, LANES)
        err_out[i0 + j] = max(err_out[i0 + j], W[g, _ERR, i])
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
