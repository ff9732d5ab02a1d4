"""Numba loops over (T, N) arrays for the fixed-step methods.

Imported only when the Numba path is first used. The kernels know nothing of units, files or
parameter objects: plain float64 arrays in, plain arrays out, and an integer status back.
Each step of each region is written out for the three methods (the same arithmetic as
``integrators.rk_step`` applied to the tableaux), so the two paths agree to rounding.
"""

from __future__ import annotations

import math

import numpy as np

from .._numba import njit
from .equations import N_PARAMS, observe, rhs

_rhs = njit(rhs)
_observe = njit(observe)


@njit
def _step(x, f, v, q, z, dt, p, method):
    if method == 0:  # euler
        dx, df, dv, dq = _rhs(x, f, v, q, z, p)
        return x + dt * dx, f + dt * df, v + dt * dv, q + dt * dq
    if method == 1:  # heun: k1 = F(y), k2 = F(y + dt k1), y + dt/2 (k1 + k2)
        ax, af, av, aq = _rhs(x, f, v, q, z, p)
        bx, bf, bv, bq = _rhs(x + dt * ax, f + dt * af, v + dt * av, q + dt * aq, z, p)
        h = 0.5 * dt
        return x + h * (ax + bx), f + h * (af + bf), v + h * (av + bv), q + h * (aq + bq)
    # rk4
    h = 0.5 * dt
    ax, af, av, aq = _rhs(x, f, v, q, z, p)
    bx, bf, bv, bq = _rhs(x + h * ax, f + h * af, v + h * av, q + h * aq, z, p)
    cx, cf, cv, cq = _rhs(x + h * bx, f + h * bf, v + h * bv, q + h * bq, z, p)
    ex, ef, ev, eq = _rhs(x + dt * cx, f + dt * cf, v + dt * cv, q + dt * cq, z, p)
    s = dt / 6.0
    return (x + s * (ax + 2.0 * bx + 2.0 * cx + ex), f + s * (af + 2.0 * bf + 2.0 * cf + ef),
            v + s * (av + 2.0 * bv + 2.0 * cv + ev), q + s * (aq + 2.0 * bq + 2.0 * cq + eq))


@njit
def integrate(z, dt, p, state, bold_out, states_out, method):
    """Integrate ``z`` (T, N) from ``state`` (4, N), writing BOLD (T, N) and, when
    ``states_out`` has T rows, the states (4, T, N).

    ``state`` is advanced in place. Returns -1, or ``t * N + i`` for the first step ``t`` and
    region ``i`` whose new state left the domain (v <= 0, f <= 0 or non-finite); the state
    is then left at the last valid step for that region.
    """
    T, N = z.shape
    store = states_out.shape[1] == T
    for t in range(T):
        for i in range(N):
            x, f, v, q = _step(state[0, i], state[1, i], state[2, i], state[3, i], z[t, i], dt,
                               p, method)
            if not (v > 0.0 and f > 0.0 and math.isfinite(v) and math.isfinite(f)
                    and math.isfinite(x) and math.isfinite(q)):
                return t * N + i
            state[0, i] = x
            state[1, i] = f
            state[2, i] = v
            state[3, i] = q
            bold_out[t, i] = _observe(v, q, p)
            if store:
                states_out[0, t, i] = x
                states_out[1, t, i] = f
                states_out[2, t, i] = v
                states_out[3, t, i] = q
    return -1


def warm_up():
    """Compile (or load from the cache) the kernels for float64 arrays."""
    z = np.zeros((1, 1))
    state = np.array([[0.0], [1.0], [1.0], [1.0]])
    p = np.ones(N_PARAMS)
    integrate(z, 0.001, p, state, np.empty((1, 1)), np.empty((4, 0, 1)), 2)
