"""Pass 1 of the ``"split"`` method's Numba kernel (:mod:`._split_kernels`): x, f and the
sums of the forcing over the samples of one hemodynamic step, and the forcing integrals read
off them where they are needed (:mod:`.forcing`).

Every per-region value the pass touches sits in one work array W (groups, rows, LANES)
whose last two extents are constants: LLVM then sees that the rows of W do not overlap and
vectorises the loop over a group's lanes with no run-time alias checks (with a separate buffer
per quantity it needs dozens of checks per sample and gives up). Functions marked
``inline="always"`` are inlined into the kernel where W is allocated, which is what lets the
compiler see its layout.
"""

from __future__ import annotations

import numpy as np

from .._numba import fwdmodels_dependencies, invalidate_stale_cache, njit
from . import forcing, split
from .equations import INV_TAU
from .forcing import RADIUS
from ._kernels import _KERNEL_OPTIONS, _compiled

invalidate_stale_cache(__file__, fwdmodels_dependencies(__name__))


_forcing = _compiled(forcing.forcing)
_centre = _compiled(forcing.centre)
_taylor = _compiled(forcing.taylor_coefficients, inline="never")
_deviation = _compiled(forcing.deviation)
_slope = _compiled(forcing.slope)
_exact_deviation = _compiled(forcing.exact_deviation, forcing=_forcing)
_integral = _compiled(forcing.integral)
_part_sample = _compiled(split._part_sample)

# Rows of W:
_X, _U, _UC, _SD, _RD, _SE, _RE, _REACH, _Z = range(9)
_C = 9                  # 6 rows: hold coefficients over one sample
_BETA = 15              # 8 rows: beta_0 .. beta_7 of the forcing of q about the centre
_BOUND, _EXACT, _X0, _U0 = 23, 24, 25, 26
_P = 27                 # 10 rows: the packed parameters
_K = 37                 # 4 rows: A, B, IA, IB at a sample whose output is wanted
_E0, _G0 = 41, 42       # deviation and slope of the forcing of q at the step's start
# Rows for the output inside a step (:mod:`._split_kernels`):
_COEF = 43              # 15 rows: the interpolant's coefficients
_NODE = 58              # 4 rows: A, B at the step's middle, then at its end
_OUT = 62               # 3 rows: BOLD, v, q at an output sample
# Rows for the step on the remainder (:mod:`._split_kernels`):
_V, _Q, _V0, _Q0, _ERR = 65, 66, 67, 68, 69
_NODES = 70             # 12 rows: A, B at r/4; A, B, IA, IB at r/2; A, B at 3r/4; A, B, IA, IB
#                         at the step's end
_ROWS = 82
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
    separate loop from :func:`_sample_exact_read`: a branch inside would stop it
    vectorising."""
    for i in range(LANES):
        x1, u1, d = _hold(W, g, i)
        _add(W, g, i, x1, u1, d, _expanded(W, g, i, d))


@njit(inline="always", **_KERNEL_OPTIONS)
def _read_off(W, g, i, k, h, x1, d, e, gq):
    """The integrals ``A, B, IA, IB`` of lane ``i`` after ``k`` samples into its rows ``_K``
    (the sums already hold the sample: call after :func:`_add`)."""
    a, ia = _integral(k, h, W[g, _UC, i], W[g, _SD, i], W[g, _RD, i],
                      W[g, _U0, i] - W[g, _UC, i], d, W[g, _X0, i], x1)
    b, ib = _integral(k, h, W[g, _BETA, i], W[g, _SE, i], W[g, _RE, i], W[g, _E0, i], e,
                      W[g, _G0, i], gq)
    inv_tau = W[g, _P + INV_TAU, i]
    W[g, _K, i], W[g, _K + 1, i] = a * inv_tau, b
    W[g, _K + 2, i], W[g, _K + 3, i] = ia * inv_tau, ib


@njit(inline="always", **_KERNEL_OPTIONS)
def _sample_read(W, g, k, h):
    """:func:`_sample`, then the integrals after the ``k`` samples (an output sample)."""
    for i in range(LANES):
        x1, u1, d = _hold(W, g, i)
        e = _expanded(W, g, i, d)
        _add(W, g, i, x1, u1, d, e)
        c1, c2, c3, c4, c5, c6, c7 = _wbeta(W, g, i)
        _read_off(W, g, i, k, h, x1, d, e, _slope(d, c1, c2, c3, c4, c5, c6, c7) * x1)


@njit(inline="always", **_KERNEL_OPTIONS)
def _sample_exact_read(W, g, k, h):
    """One sample for the lanes of group ``g``, the forcing of q as written where the lane's
    flag is set, then the integrals after the ``k`` samples (read off at every sample of this
    rare pass, needed or not: one variant of the loop fewer to compile). Returns how many
    lanes left the domain."""
    bad = 0
    for i in range(LANES):
        x1, u1, d = _hold(W, g, i)
        ee, ge = _exact_deviation(x1, u1, W[g, _BETA, i], _wparams(W, g, i))
        c1, c2, c3, c4, c5, c6, c7 = _wbeta(W, g, i)
        flagged = W[g, _EXACT, i] != 0.0
        e = ee if flagged else _deviation(d, c1, c2, c3, c4, c5, c6, c7)
        gq = ge if flagged else _slope(d, c1, c2, c3, c4, c5, c6, c7) * x1
        _add(W, g, i, x1, u1, d, e)
        _read_off(W, g, i, k, h, x1, d, e, gq)
        f1 = 1.0 + u1
        bad += 0 if (f1 > 0.0) & (x1 - x1 == 0.0) & (f1 - f1 == 0.0) else 1
    return bad


@njit(**_KERNEL_OPTIONS)
def _begin(W, G, H, start):
    """Start a step: the centre and coefficients of each lane, the sums at zero, and in
    ``start`` (4, m) the deviation and slope of the forcing of q at the step's start by the
    expansion (rows 0, 1; rows 2, 3 as written come from :func:`_restart`)."""
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
            e0 = _deviation(d0, c1, c2, c3, c4, c5, c6, c7)
            g0 = _slope(d0, c1, c2, c3, c4, c5, c6, c7) * x0
            start[0, j], start[1, j] = e0, g0
            W[g, _E0, i], W[g, _G0, i] = e0, g0
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
def _restart(W, G, start):
    """Every lane back to the step's start, for the pass with the forcing as written where
    flagged; the forcing's deviation and slope at the start as written into ``start``."""
    for g in range(G):
        for i in range(LANES):
            j = g * LANES + i
            e0, g0 = _exact_deviation(W[g, _X0, i], W[g, _U0, i], W[g, _BETA, i],
                                      _wparams(W, g, i))
            start[2, j], start[3, j] = e0, g0
            if W[g, _EXACT, i] != 0.0:
                W[g, _E0, i], W[g, _G0, i] = e0, g0
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


@njit(**_KERNEL_OPTIONS)
def _tile(z, t, r, i0, n, zt):
    """The step's input for this block's regions, copied from ``z`` in one tight loop: rows
    of a block are only part of z's rows, which streams poorly when read between the
    arithmetic of each sample."""
    for s in range(r):
        for j in range(n):
            zt[s, j] = z[t + s, i0 + j]


@njit(inline="always", **_KERNEL_OPTIONS)
def _pass(zt, t, r, n, dt, W, G, C, nodes_at, raw_nodes, cap, out_every, out_mean,
          exact):
    """Pass 1 over the ``r`` samples of the step starting at ``t`` (their input in ``zt``,
    from :func:`_tile`): x, u and the sums of every lane, with the raw values captured at the
    quarter nodes (``raw_nodes``) and at the samples whose output is wanted inside the step
    (``cap``: the integrals, x and f there, read off inside the loop so that they vectorise
    with it). Returns -1, or with ``exact`` the sample at which a lane left the domain."""
    n_cap = 0
    for s in range(r):
        row = t + s
        for g in range(G):
            base = g * LANES
            for i in range(min(LANES, n - base)):
                W[g, _Z, i] = zt[s, base + i]
        for k in range(3):
            if nodes_at[k, 0] == s and nodes_at[k, 1] > 0:
                _capture(W, G, raw_nodes[k], C[nodes_at[k, 1]])
        read = s + 1 < r and (out_mean or (row + 1) % out_every == 0)
        if exact:
            bad = 0
            for g in range(G):
                bad += _sample_exact_read(W, g, s + 1, dt)
            if bad:
                return s
        elif read:
            for g in range(G):
                _sample_read(W, g, s + 1, dt)
        else:
            for g in range(G):
                _sample(W, g)
        for k in range(3):
            if nodes_at[k, 0] == s + 1 and nodes_at[k, 1] == 0:
                _capture(W, G, raw_nodes[k, :6], C[0])
        if read:
            _keep(W, G, cap[n_cap])
            n_cap += 1
    return -1


@njit(inline="always", **_KERNEL_OPTIONS)
def _keep(W, G, out):
    """The integrals read off at an output sample, and x, f, into ``out`` (6, m)."""
    for g in range(G):
        base = g * LANES
        for k in range(4):
            for i in range(LANES):
                out[k, base + i] = W[g, _K + k, i]
        for i in range(LANES):
            out[4, base + i] = W[g, _X, i]
            out[5, base + i] = 1.0 + W[g, _U, i]


