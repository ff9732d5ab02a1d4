"""The ``"split"`` method: the linear part solved exactly, the rest by RK4 at a long step.

The neural drive ``z`` enters the Balloon-Windkessel model only through the linear subsystem
with constant coefficients::

    dx/dt = z - kappa x - gamma (f - 1),     df/dt = x

For an input held constant over each sample of length ``dt`` (the library's time convention),
its exact solution is a two-state recursion, the zero-order-hold discretisation::

    (x, f - 1)[n+1] = Phi (x, f - 1)[n] + Gamma z[n],
    Phi = exp(M dt),  Gamma = int_0^dt exp(M s) ds e1,  M = [[-kappa, -gamma], [1, 0]]

so x and f are exact at every sample, whatever the input does between samples. Volume and
deoxyhemoglobin see the input only through f::

    dv/dt = a(f) - G_v(v),        a(f) = f / tau,               G_v = v**(1/alpha) / tau
    dq/dt = b(f) - G_q(v, q),     b(f) = f E(f) / (rho tau),    G_q = v**(1/alpha) q / (v tau)

(computed with ``1/tau``, their common value at rest, taken from both forcing and decay, so
that at rest every term is exactly zero)

The forcing ``a(f), b(f)`` depends on f alone, which is rough (a kink at every input sample, an
oscillation for an oscillating input). It is integrated at the input rate: over each sample
with the trapezoid rule plus its end correction (the two-point Hermite rule
``h/2 (g0 + g1) - h^2/12 (g1' - g0')``, exact for cubics, with ``g' = a'(f) x`` known exactly
at the samples). The forcing of q is evaluated from its expansion about a centre chosen per
region and step, and the integrals are read off two running sums per forcing
(:mod:`.forcing`), so that a sample costs a few multiply-adds and no ``exp``. Over a
hemodynamic step of ``H`` (a whole number of samples) with
``A(t) = int_t0^t a``, ``B(t) = int_t0^t b``, the remainder ``w = (v - A, q - B)`` obeys::

    dw/dt = -G(w + (A(t), B(t)))

which no longer holds the forcing and is smoother than (v, q) by one order. It takes one
classical RK4 step of ``H`` and two of ``H/2`` (the forcing integrals are read at the quarter
nodes of the step, between samples where needed), combined by Richardson extrapolation
``(16 w_half - w_full) / 15``; ``|w_half - w_full| / 15``, seen through the BOLD equation, is
the error estimate the method reports.

Two corrections keep an oscillation of the forcing from aliasing at the nodes (a 100-Hz input
with nodes every 5 ms sees the same phase at every node). RK4 weighs the forcing at its nodes
like Simpson's rule; the remainder ``D = A - P`` between A and the quadratic P through its node
values is what it misses. To first order in D (``J`` the Jacobian of G at the step's middle)::

    w(H) += -J int_0^H D dt,      int_0^H D dt = int_0^H A dt - H/6 (A(0) + 4 A(H/2) + A(H))

with ``int A dt`` accumulated at the input rate like A. Between the step's ends, the output at
every input sample comes from a quintic Hermite interpolant of the smooth part of w (its value,
slope ``-G`` and curvature ``-J (P' - G)`` at both ends) plus the same first-order term
``-J int_0^t D``, and ``A(t), B(t)`` exact at the sample. The state carried to the next step is
the extrapolated one, so the output at a step's end is that state.

Accuracy (``tests/test_split.py``): against RK4 at the input step, on 0.1-ms inputs of every
kind that breaks a long step (block designs, sinusoids and bursts from 1 to 500 Hz in any phase
relation to the step, bursts on step boundaries, zero-mean input of amplitude 2000, white
noise, drives near the domain's edge), the largest BOLD error is below 1e-6 of the signal's
range for ``hemo_dt`` up to 50 ms, and below 1e-7 at the default of 20 ms or less.

Pieces of a series give the same numbers as the whole, bit for bit, when every piece but the
last holds a whole number of steps (the steps restart with each call).
"""

from __future__ import annotations

import numpy as np

from .equations import INV_ALPHA, INV_TAU, observe
from .forcing import RADIUS, centre, deviation, exact_deviation, integral, slope, \
    taylor_coefficients

__all__ = ["DEFAULT_HEMO_DT", "MAX_HEMO_DT", "hold_coefficients", "integrate_split_numpy",
           "decay", "remainder_rk4", "quarter_nodes"]

#: Default hemodynamic step of the split method, in seconds (rounded down to whole samples).
DEFAULT_HEMO_DT = 0.02
#: Longest step accepted, in seconds: the accuracy promise is tested up to 50 ms.
MAX_HEMO_DT = 0.05

#: Fractions of a sample at which the forcing may be read: the sample's end, then the quarter
#: nodes that fall between samples (a step of r samples has nodes at r/4, r/2 and 3r/4).
FRACTIONS = (1.0, 0.25, 0.5, 0.75)


def hold_coefficients(kappa, gamma, dt: float) -> np.ndarray:
    """Zero-order-hold coefficients of ``(x, f - 1)`` over ``theta dt`` for each fraction
    ``theta`` of :data:`FRACTIONS`: an array ``(4, 6, N)`` of ``Phi00, Phi01, Phi10, Phi11,
    Gamma0, Gamma1`` per region.

    Computed from the Taylor series of the augmented exponential ``exp([[M, e1], [0, 0]] h)``
    after scaling ``h`` down until ``|M| h <= 1/32``, then squared back (``Phi(2h) = Phi(h)^2``,
    ``Gamma(2h) = Phi(h) Gamma(h) + Gamma(h)``): every entry keeps its relative accuracy, the
    small ``Gamma1 ~ dt^2/2`` included.
    """
    kappa = np.atleast_1d(np.asarray(kappa, dtype=np.float64))
    gamma = np.atleast_1d(np.asarray(gamma, dtype=np.float64))
    kappa, gamma = np.broadcast_arrays(kappa, gamma)
    out = np.empty((len(FRACTIONS), 6, kappa.size))
    for j, theta in enumerate(FRACTIONS):
        out[j] = _hold(kappa, gamma, theta * dt)
    return out


def _hold(kappa, gamma, h):
    norm = np.max(kappa + gamma + 1.0) * h
    squarings = max(0, int(np.ceil(np.log2(norm * 32.0)))) if norm > 0 else 0
    hs = h / 2.0 ** squarings
    M = np.zeros(kappa.shape + (2, 2))
    M[..., 0, 0], M[..., 0, 1], M[..., 1, 0] = -kappa, -gamma, 1.0
    eye = np.broadcast_to(np.eye(2), M.shape)
    # Phi = sum (M hs)^k / k!,  Gamma = hs sum (M hs)^k / (k+1)! e1
    term = eye.copy()
    phi = eye.copy()
    psi = eye.copy()                       # sum (M hs)^k / (k+1)!
    for k in range(1, 30):
        term = term @ M * (hs / k)
        phi = phi + term
        psi = psi + term / (k + 1)
    gam = hs * psi[..., :, 0]
    for _ in range(squarings):
        gam = np.einsum("...ij,...j->...i", phi, gam) + gam
        phi = phi @ phi
    return np.stack([phi[..., 0, 0], phi[..., 0, 1], phi[..., 1, 0], phi[..., 1, 1],
                     gam[..., 0], gam[..., 1]])


def quarter_nodes(r: int) -> tuple[tuple[int, int], ...]:
    """``(sample, quarter)`` of the nodes at ``r/4, r/2, 3r/4`` of a step of ``r`` samples:
    the node lies ``quarter/4`` of the way through sample ``sample`` (0 = on its start)."""
    return tuple(divmod(k * r, 4) for k in (1, 2, 3))


# --------------------------------------------------------------------------- shared formulas
# Written once, used on arrays by the NumPy path and on scalars inside the Numba kernel.

def decay(v, q, p):
    """The f-free part of dv/dt and dq/dt with its sign, counted from rest like
    :func:`forcing`: ``(G_v, G_q) = (v**(1/alpha) - 1, v**(1/alpha) q/v - 1) / tau``, s^-1."""
    outflow = np.exp(np.log(v) * p[INV_ALPHA])                  # v**(1/alpha)
    return (outflow - 1.0) * p[INV_TAU], (outflow * q / v - 1.0) * p[INV_TAU]


def decay_jacobian(v, q, p):
    """``dG_v/dv, dG_q/dv, dG_q/dq`` (``dG_v/dq = 0``), in s^-1."""
    g = np.exp(np.log(v) * (p[INV_ALPHA] - 1.0)) * p[INV_TAU]   # v**(1/alpha - 1) / tau
    return p[INV_ALPHA] * g, (p[INV_ALPHA] - 1.0) * g * q / v, g


def remainder_rk4(v0, q0, a0, am, a1, b0, bm, b1, ia0, ia1, ib0, ib1, h, p):
    """One RK4 step of ``h`` seconds of the remainder w from ``(v0, q0)``, with the forcing
    integrals ``A, B`` (counted from the hemodynamic step's start) at the sub-step's start,
    middle and end and ``int A, int B`` at its ends; returns ``(v, q)`` at its end, with the
    first-order correction for the forcing's part that the nodes miss."""
    am, a1, bm, b1 = am - a0, a1 - a0, bm - b0, b1 - b0
    k1v, k1q = decay(v0, q0, p)
    k2v, k2q = decay(v0 - 0.5 * h * k1v + am, q0 - 0.5 * h * k1q + bm, p)
    k3v, k3q = decay(v0 - 0.5 * h * k2v + am, q0 - 0.5 * h * k2q + bm, p)
    k4v, k4q = decay(v0 - h * k3v + a1, q0 - h * k3q + b1, p)
    wv = v0 - h / 6.0 * (k1v + 2.0 * k2v + 2.0 * k3v + k4v)
    wq = q0 - h / 6.0 * (k1q + 2.0 * k2q + 2.0 * k3q + k4q)
    missed_a = (ia1 - ia0 - h * a0) - h / 6.0 * (4.0 * am + a1)
    missed_b = (ib1 - ib0 - h * b0) - h / 6.0 * (4.0 * bm + b1)
    jvv, jqv, jqq = decay_jacobian(0.5 * (v0 + wv) + am, 0.5 * (q0 + wq) + bm, p)
    return (wv - jvv * missed_a + a1, wq - (jqv * missed_a + jqq * missed_b) + b1)


def hermite_weights(s):
    """Quintic Hermite basis at ``s`` in [0, 1]: weights of the value, slope (times H) and
    curvature (times H^2) at the start, then the same three at the end."""
    s2 = s * s
    s3 = s2 * s
    s4 = s3 * s
    s5 = s4 * s
    return (1.0 - 10.0 * s3 + 15.0 * s4 - 6.0 * s5, s - 6.0 * s3 + 8.0 * s4 - 3.0 * s5,
            0.5 * (s2 - 3.0 * s3 + 3.0 * s4 - s5), 10.0 * s3 - 15.0 * s4 + 6.0 * s5,
            -4.0 * s3 + 7.0 * s4 - 3.0 * s5, 0.5 * (s3 - 2.0 * s4 + s5))


def quadratic_integral_weights(s):
    """``int_0^s P / H`` for the quadratic P through ``(0, 0), (1/2, P_m), (1, P_1)`` (in units
    of the step): the weights of ``P_m`` and ``P_1``."""
    s2 = s * s
    s3 = s2 * s
    return 2.0 * s2 - 4.0 * s3 / 3.0, 2.0 * s3 / 3.0 - 0.5 * s2


# --------------------------------------------------------------------------- NumPy path

def integrate_split_numpy(z, dt, p, hold, state, r_step, out_every=1, out_mean=False,
                          store_states=False):
    """The split method on NumPy arrays (regions vectorised, samples in a loop).

    Arguments as :func:`fwdmodels.hemodynamics._split_kernels.integrate`; returns
    ``(bold, states, error, failure)`` with ``failure`` None or ``(t, i)``.
    """
    T, N = z.shape
    n_out = T // out_every
    out = _Rows(np.empty((n_out, N)), np.empty((4, n_out, N)) if store_states else None,
                out_every, out_mean)
    error = np.zeros(N)
    x, f, v, q = (state[k].copy() for k in range(4))
    with np.errstate(all="ignore"):
        t = 0
        while t < T:
            r = min(r_step, T - t)
            H = r * dt
            X, F, (A, B, IA, IB), node, failed = _linear_pass(z[t:t + r], dt, hold, x, f, p, H)
            if failed is not None:
                state[0], state[1], state[2], state[3] = X[failed[0] + 1], F[failed[0] + 1], v, q
                return out.bold, out.states, error, (t + failed[0], failed[1])
            x, f = X[r], F[r]
            ends = (A[r], B[r], IA[r], IB[r])
            v1, q1, estimate = _richardson(v, q, ends, node, H, p)
            ok = (v1 > 0) & np.isfinite(v1) & np.isfinite(q1)
            if not np.all(ok):
                state[0], state[1], state[2], state[3] = x, f, v1, q1   # for the message
                return out.bold, out.states, error, (t + r - 1, int(np.argmin(ok)))
            error = np.maximum(error, estimate)
            interp = _Interpolant(v, q, v1, q1, H, (node[1][0], node[1][1], A[r], B[r]),
                                  (IA[r], IB[r]), p)
            for n in range(1, r + 1):
                if not out.wanted(t + n):
                    continue
                vn, qn = (v1, q1) if n == r else interp(n / r, A[n], B[n], IA[n], IB[n])
                out.add(t + n, (observe(vn, qn, p), X[n], F[n], vn, qn))
            v, q = v1, q1
            t += r
    state[0], state[1], state[2], state[3] = x, f, v, q
    return out.bold, out.states, error, None


def _linear_pass(z, dt, hold, x, f, p, H):
    """x and f over the samples of one step (exact hold recursion) and the forcing integrals
    A, B, int A, int B at each sample from the step's start (:mod:`.forcing`), and at the
    step's quarter nodes. Returns ``(X, F, integrals, nodes, failure)``: X, F and each
    integral (r + 1, N); ``failure`` None or ``(sample, region)`` of the first sample that
    left the domain."""
    r, N = z.shape
    phi = hold[0]
    X, U = np.empty((r + 1, N)), np.empty((r + 1, N))
    X[0], U[0] = x, f - 1.0
    for n in range(r):
        X[n + 1] = phi[0] * X[n] + phi[1] * U[n] + phi[4] * z[n]
        U[n + 1] = phi[2] * X[n] + phi[3] * U[n] + phi[5] * z[n]
    uc = centre(X[0], U[0], H)
    beta = taylor_coefficients(uc, p)
    points = [(n, q, *_between(X[n], U[n], z[n], hold[q])) for n, q in quarter_nodes(r) if q]
    D = U - uc
    reach = np.abs(D).max(axis=0)
    for _, _, _, ut in points:
        reach = np.maximum(reach, np.abs(ut - uc))
    E = deviation(D, *beta[1:])
    G = slope(D, *beta[1:]) * X
    SD, RD = _sums(D)
    SE, RE = _sums(E)
    exact = ~((reach <= RADIUS * (1.0 + uc)) & np.isfinite(RD[-1] + RE[-1] + E[0]))
    if exact.any():                      # these regions take the step with b as written
        Ee, Ge = exact_deviation(X, U, beta[0], p)
        E, G = np.where(exact, Ee, E), np.where(exact, Ge, G)
        SE, RE = _sums(E)
    F = 1.0 + U
    bad = ~((F[1:] > 0) & np.isfinite(X[1:]) & np.isfinite(F[1:]))
    if bad.any():
        n = int(np.argmax(bad.any(axis=1)))
        return X, F, (None,) * 4, None, (n, int(np.argmax(bad[n])))
    k = np.arange(r + 1.0)[:, None]
    A, IA = integral(k, dt, uc, SD, RD, D[0], D, X[0], X)
    B, IB = integral(k, dt, beta[0], SE, RE, E[0], E, G[0], G)
    A, IA = A * p[INV_TAU], IA * p[INV_TAU]
    nodes = {}
    for n, q, xt, ut in points:
        et, gt = deviation(ut - uc, *beta[1:]), slope(ut - uc, *beta[1:]) * xt
        if exact.any():
            ee, ge = exact_deviation(xt, ut, beta[0], p)
            et, gt = np.where(exact, ee, et), np.where(exact, ge, gt)
        nodes[n, q] = _part_sample(q * dt / 4.0, (A[n], B[n], IA[n], IB[n]),
                                   (U[n] * p[INV_TAU], X[n] * p[INV_TAU], beta[0] + E[n], G[n]),
                                   (ut * p[INV_TAU], xt * p[INV_TAU], beta[0] + et, gt))
    node = [nodes[s, q] if q else (A[s], B[s], IA[s], IB[s]) for s, q in quarter_nodes(r)]
    return X, F, (A, B, IA, IB), node, None


def _sums(e):
    """``S_k = sum_{j=1..k} e_j`` and ``R_k = sum_{m=1..k} S_m`` for every k (rows)."""
    s = np.zeros_like(e)
    np.cumsum(e[1:], axis=0, out=s[1:])
    r = np.zeros_like(e)
    np.cumsum(s[1:], axis=0, out=r[1:])
    return s, r


def _between(x, u, z, hold):
    """The exact (x, u) part of the way through a sample (``hold`` for that part)."""
    return (hold[0] * x + hold[1] * u + hold[4] * z, hold[2] * x + hold[3] * u + hold[5] * z)


def _part_sample(h, start, at_start, at_end):
    """The integrals ``(A, B, IA, IB)`` ``h`` seconds into a sample from their values at its
    start, by the two-point Hermite rule on the forcing of v and q (``a, a', b, b'`` at the
    part's two ends)."""
    a0, b0, ia0, ib0 = start
    u0, x0, e0, g0 = at_start
    u1, x1, e1, g1 = at_end
    c = h * h / 12.0
    a1 = a0 + 0.5 * h * (u0 + u1) - c * (x1 - x0)
    b1 = b0 + 0.5 * h * (e0 + e1) - c * (g1 - g0)
    return (a1, b1, ia0 + 0.5 * h * (a0 + a1) - c * (u1 - u0),
            ib0 + 0.5 * h * (b0 + b1) - c * (e1 - e0))


def _richardson(v, q, ends, node, H, p):
    """RK4 on the remainder over the step: one step and two half steps, combined by
    Richardson extrapolation. Returns ``(v1, q1, error estimate of the BOLD signal)``."""
    (a1, b1, ia1, ib1), (am, bm, iam, ibm) = ends, node[1]
    vf, qf = remainder_rk4(v, q, 0.0, am, a1, 0.0, bm, b1, 0.0, ia1, 0.0, ib1, H, p)
    vh, qh = remainder_rk4(v, q, 0.0, node[0][0], am, 0.0, node[0][1], bm,
                           0.0, iam, 0.0, ibm, 0.5 * H, p)
    vh, qh = remainder_rk4(vh, qh, am, node[2][0], a1, bm, node[2][1], b1,
                           iam, ia1, ibm, ib1, 0.5 * H, p)
    v1 = (16.0 * vh - vf) / 15.0
    q1 = (16.0 * qh - qf) / 15.0
    return v1, q1, np.abs(observe(vh, qh, p) - observe(vf, qf, p)) / 15.0


class _Rows:
    """The output rows: one every ``every`` samples, that sample's values or (``mean``) the
    mean of the window's; ``add(done, values)`` takes (BOLD, x, f, v, q) after sample
    ``done``."""

    def __init__(self, bold, states, every, mean):
        self.bold, self.states, self.every, self.mean = bold, states, every, mean
        self.acc = 0.0

    def wanted(self, done: int) -> bool:
        return self.mean or done % self.every == 0

    def add(self, done: int, values) -> None:
        if self.mean:
            self.acc = self.acc + np.array(values)
        if done % self.every:
            return
        if self.mean:
            values, self.acc = self.acc / self.every, 0.0
        row = done // self.every - 1
        self.bold[row] = values[0]
        if self.states is not None:
            self.states[:, row] = values[1:]


class _Interpolant:
    """(v, q) inside a step: quintic Hermite of w's smooth part plus the first-order term."""

    def __init__(self, v0, q0, v1, q1, H, nodes, ends, p):
        am, bm, a1, b1 = nodes
        self.H, self.p, self.nodes = H, p, nodes
        d0 = decay(v0, q0, p)
        d1 = decay(v1, q1, p)
        self.jac = decay_jacobian(0.5 * (v0 + v1), 0.5 * (q0 + q1), p)
        j0, j1 = decay_jacobian(v0, q0, p), decay_jacobian(v1, q1, p)
        # slopes of the quadratic through the node values of A (and B) at the ends
        pa0, pa1 = (4.0 * am - a1) / H, (3.0 * a1 - 4.0 * am) / H
        pb0, pb1 = (4.0 * bm - b1) / H, (3.0 * b1 - 4.0 * bm) / H
        missed = self._missed(ends[0], ends[1], 1.0)
        # the change of w's smooth part over the step, then slopes and curvatures
        change = ((v1 - a1 - missed[0]) - v0, (q1 - b1 - missed[1]) - q0)
        self.start = (v0, q0)
        self.v = (change[0], -d0[0], -j0[0] * (pa0 - d0[0]), -d1[0], -j1[0] * (pa1 - d1[0]))
        self.q = (change[1], -d0[1], -(j0[1] * (pa0 - d0[0]) + j0[2] * (pb0 - d0[1])),
                  -d1[1], -(j1[1] * (pa1 - d1[0]) + j1[2] * (pb1 - d1[1])))

    def _missed(self, ia, ib, s):
        am, bm, a1, b1 = self.nodes
        cm, c1 = quadratic_integral_weights(s)
        da = ia - self.H * (cm * am + c1 * a1)
        db = ib - self.H * (cm * bm + c1 * b1)
        jvv, jqv, jqq = self.jac
        return -jvv * da, -(jqv * da + jqq * db)

    def __call__(self, s, a, b, ia, ib):
        _, w1, w2, w3, w4, w5 = hermite_weights(s)
        H = self.H
        cv, cq = self._missed(ia, ib, s)
        dv, sv0, cv0, sv1, cv1 = self.v
        dq, sq0, cq0, sq1, cq1 = self.q
        # from the start value (the start's weight is 1 - w3): a region at rest stays there
        v = self.start[0] + (w3 * dv + w1 * H * sv0 + w2 * H * H * cv0 + w4 * H * sv1 +
                             w5 * H * H * cv1) + cv + a
        q = self.start[1] + (w3 * dq + w1 * H * sq0 + w2 * H * H * cq0 + w4 * H * sq1 +
                             w5 * H * H * cq1) + cq + b
        return v, q
