"""Slow, obviously-correct loop references (oracles) for the tests.

Each function is a direct transcription of a textbook formula, one element at a time, with no
vectorisation tricks, so that it can be read against the paper it comes from.
"""

import math

import numpy as np
from scipy.special import lpmv


def matmul(s, L):
    """y[t, m] = sum_r s[t, r] L[r, m] by three loops."""
    s = np.atleast_2d(s)
    T, R = s.shape
    M = L.shape[1]
    y = np.zeros((T, M))
    for t in range(T):
        for m in range(M):
            acc = 0.0
            for r in range(R):
                acc += s[t, r] * L[r, m]
            y[t, m] = acc
    return y


def sarvas_field(r0, q, r, e, mu0_4pi=1e-7):
    """B(r)·e of dipole q at r0 in a sphere centred at 0 (Sarvas 1987, eq. 25), one pair."""
    r0, q, r, e = (np.asarray(v, float) for v in (r0, q, r, e))
    a_vec = r - r0
    a = math.sqrt(a_vec @ a_vec)
    rn = math.sqrt(r @ r)
    F = a * (rn * a + rn * rn - r0 @ r)
    gradF = (a * a / rn + (a_vec @ r) / a + 2 * a + 2 * rn) * r \
        - (a + 2 * rn + (a_vec @ r) / a) * r0
    qxr0 = np.cross(q, r0)
    B = mu0_4pi / F ** 2 * (F * qxr0 - (qxr0 @ r) * gradF)
    return B @ e


def zhang_fn(n, radii, sigmas):
    """f_n of Zhang (1995) by the plain 2x2 matrix product (moderate n only)."""
    R = radii[-1]
    m = np.eye(2)
    for k in range(len(radii) - 1):
        s = sigmas[k] / sigmas[k + 1]
        rho = (radii[k] / R) ** (2 * n + 1)
        a = np.array([[n + (n + 1) * s, (n + 1) * (s - 1) / rho],
                      [n * (s - 1) * rho, (n + 1) + n * s]]) / (2 * n + 1)
        m = m @ a
    return n / (n * m[1, 1] + (n + 1) * m[1, 0])


def multishell_potential(r0, q, elec, radii, sigmas, n_terms=400):
    """Scalp potential of dipole q at r0 (centre 0) at electrode elec (on the outer sphere).

    V = 1/(4 pi sigma_K R^2) sum_n (2n+1)/n (b/R)^(n-1) f_n [n q_r P_n(cos g) + q_t P_n^1(cos g)]
    with q_r along r0, q_t along the tangent at r0 towards the electrode, and
    P_n^1 = sin(g) dP_n/dx (scipy's lpmv carries the Condon-Shortley sign, removed here).
    """
    r0, q, elec = (np.asarray(v, float) for v in (r0, q, elec))
    R = radii[-1]
    b = math.sqrt(r0 @ r0)
    rhat0 = r0 / b
    ehat = elec / math.sqrt(elec @ elec)
    x = float(np.clip(rhat0 @ ehat, -1, 1))
    tang = ehat - x * rhat0
    nt = math.sqrt(tang @ tang)
    that = tang / nt if nt > 0 else np.zeros(3)
    q_r, q_t = q @ rhat0, q @ that
    total = 0.0
    for n in range(1, n_terms + 1):
        w = (2 * n + 1) / n * (b / R) ** (n - 1) * zhang_fn(n, radii, sigmas)
        p1 = -lpmv(1, n, x)  # remove the Condon-Shortley phase
        total += w * (n * q_r * lpmv(0, n, x) + q_t * p1)
    return total / (4 * math.pi * sigmas[-1] * R * R)


def infinite_medium_potential(r0, q, r, sigma):
    """Potential of a dipole in an infinite homogeneous medium: q·(r − r0)/(4πσ|r − r0|³)."""
    d = np.asarray(r, float) - np.asarray(r0, float)
    return float(np.asarray(q, float) @ d) / (4 * math.pi * sigma * math.sqrt(d @ d) ** 3)


def sample_covariance(e):
    """Sample covariance of rows of e (zero mean known), by loops over channel pairs."""
    n, m = e.shape
    c = np.zeros((m, m))
    for i in range(m):
        for j in range(m):
            c[i, j] = sum(e[k, i] * e[k, j] for k in range(n)) / n
    return c
