"""Slow, obviously-correct loop references (oracles) for the tests.

Each function is a direct transcription of a textbook formula, one element at a time, with no
vectorisation tricks, so that it can be read against the paper it comes from.
"""

import math

import numpy as np
from scipy.integrate import solve_ivp
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


# ---------------------------------------------------------------------- hemodynamic response
def spm_gpdf(x, h, rate):
    """SPM12's spm_Gpdf(x, h, l), one value: gamma density of shape h and rate l at x.

    spm_Gpdf.m lines 77-101 (github.com/spm/spm12 r7771): 0 for x < 0; Inf at x = 0 if h < 1
    and l if h == 1; otherwise exp((h - 1) log x + h log l - l x - gammaln(h)).
    """
    if x < 0:
        return 0.0
    if x == 0:
        return math.inf if h < 1 else (rate if h == 1 else 0.0)
    return math.exp((h - 1) * math.log(x) + h * math.log(rate) - rate * x - math.lgamma(h))


def spm12_hrf(RT, p=(6, 16, 1, 1, 6, 0, 32), T=16):
    """SPM12's spm_hrf(RT, p, T), line by line (spm_hrf.m lines 59-63, SPM12 r7771).

    dt = RT/T;  u = [0:ceil(p(7)/dt)] - p(6)/dt;
    hrf = spm_Gpdf(u, p(1)/p(3), dt/p(3)) - spm_Gpdf(u, p(2)/p(4), dt/p(4))/p(5);
    hrf = hrf([0:floor(p(7)/RT)]*T + 1);  hrf = hrf'/sum(hrf);
    (MATLAB's 1-based index k*T + 1 is the 0-based index k*T here.)
    """
    dt = RT / T
    micro = []
    for j in range(math.ceil(p[6] / dt) + 1):
        u = j - p[5] / dt
        micro.append(spm_gpdf(u, p[0] / p[2], dt / p[2])
                     - spm_gpdf(u, p[1] / p[3], dt / p[3]) / p[4])
    kept = [micro[k * T] for k in range(math.floor(p[6] / RT) + 1)]
    total = sum(kept)
    return np.array([value / total for value in kept])


def spm_double_gamma(t, dt=1.0):
    """SPM's spm_hrf.m formula with p = [6 16 1 1 6 0 32] at the time t (s), unnormalised.

    spm_Gpdf(u, h, l) is the gamma density of shape h and rate l on the sample index u;
    with u = t / dt, h = p1/p3, l = dt/p3 it is dt times the density of shape 6, scale 1 s.
    """
    u = t / dt
    return spm_gpdf(u, 6.0, dt) - spm_gpdf(u, 16.0, dt) / 6.0


def glover_formula(t, n1=6.0, t1=0.9, n2=12.0, t2=0.9, a2=0.35):
    """Glover (1999) HRF at the time t (s): peak-normalised gamma variates, d_i = n_i t_i."""
    d1, d2 = n1 * t1, n2 * t2
    return ((t / d1) ** n1 * math.exp(-(t - d1) / t1)
            - a2 * (t / d2) ** n2 * math.exp(-(t - d2) / t2))


def boynton_gamma(t, n=3.0, tau=1.25, delta=2.5):
    """Boynton et al. (1996, eq. 3) HRF at the time t (s): n cascaded leaky integrators,
    ((t - delta)/tau)^(n-1) exp(-(t - delta)/tau) / (tau (n-1)!) for t > delta, else 0
    (Gamma(n) for (n-1)! at a non-integer n)."""
    if t <= delta:
        return 0.0
    s = (t - delta) / tau
    return s ** (n - 1) * math.exp(-s) / (tau * math.gamma(n))


# ---------------------------------------------------------------------- Balloon-Windkessel model
# Friston, Mechelli, Turner & Price (2000), NeuroImage 12:466-477 (the hemodynamic model with
# the Balloon of Buxton et al. 1998); Stephan, Weiskopf, Drysdale, Robinson & Friston (2007),
# NeuroImage 38:387-401 (the revised BOLD coefficients, eq. 12). H = (kappa, gamma, tau, alpha,
# rho) as plain floats: kappa, gamma in s^-1, tau in s, alpha and rho (resting oxygen
# extraction E0) dimensionless.

def balloon_rhs(state, z, H):
    """(dx, df, dv, dq)/dt of one region, written as published (plain ``**`` powers):

        dx/dt = z - kappa x - gamma (f - 1)             vasodilatory signal
        df/dt = x                                       inflow
        tau dv/dt = f - v^(1/alpha)                     volume (outflow v^(1/alpha))
        tau dq/dt = f E(f)/rho - v^(1/alpha) q/v        deoxyhemoglobin
        E(f) = 1 - (1 - rho)^(1/f)                      oxygen extraction
    """
    kappa, gamma, tau, alpha, rho = H
    x, f, v, q = state
    outflow = v ** (1.0 / alpha)
    extraction = 1.0 - (1.0 - rho) ** (1.0 / f)
    return [z - kappa * x - gamma * (f - 1.0),
            x,
            (f - outflow) / tau,
            (f * extraction / rho - outflow * q / v) / tau]


def bold_coefficients(observation, rho, nu0=None, r0=None, TE=None, epsilon=None):
    """(k1, k2, k3) of the BOLD equation.

    "classic" (Friston et al. 2000, after Buxton et al. 1998): k1 = 7 rho, k2 = 2,
    k3 = 2 rho - 0.2. "revised" (Stephan et al. 2007, eq. 12): k1 = 4.3 nu0 rho TE,
    k2 = epsilon r0 rho TE, k3 = 1 - epsilon (nu0 in Hz, r0 in s^-1, TE in s).
    """
    if observation == "classic":
        return (7.0 * rho, 2.0, 2.0 * rho - 0.2)
    if observation == "revised":
        return (4.3 * nu0 * rho * TE, epsilon * r0 * rho * TE, 1.0 - epsilon)
    raise ValueError(f"unknown observation {observation!r}")


def balloon_bold(v, q, V0, k):
    """BOLD fraction y = V0 (k1 (1 - q) + k2 (1 - q/v) + k3 (1 - v)), k = (k1, k2, k3)."""
    k1, k2, k3 = k
    return V0 * (k1 * (1.0 - q) + k2 * (1.0 - q / v) + k3 * (1.0 - v))


def balloon_fixed_point(z, H):
    """(x, f, v, q) at rest under a constant input z > -gamma: every derivative set to 0,
    x = 0, f = 1 + z/gamma, v = f^alpha, q = v E(f)/rho."""
    _, gamma, _, alpha, rho = H
    f = 1.0 + z / gamma
    v = f ** alpha
    return 0.0, f, v, v * (1.0 - (1.0 - rho) ** (1.0 / f)) / rho


def balloon_states(pieces, times, H, start=(0.0, 1.0, 1.0, 1.0)):
    """States (4, len(times)) of one region at ``times`` (s, increasing, > 0).

    ``pieces`` lists ``(end, z)``: the input z is held constant from the previous end (0 for
    the first) to ``end``. Each piece is integrated on its own, so no step straddles a jump
    of the input, by ``solve_ivp`` (DOP853, rtol 1e-13, atol 1e-15) of :func:`balloon_rhs`.
    """
    times = np.asarray(times, dtype=float)
    y = np.array(start, dtype=float)
    out, begin = [], 0.0
    for end, z in pieces:
        if end <= begin:
            continue
        inside = times[(times > begin + 1e-12) & (times <= end + 1e-12)]
        sol = solve_ivp(lambda t, state, z=z: balloon_rhs(state, z, H), (begin, end), y,
                        method="DOP853", rtol=1e-13, atol=1e-15, dense_output=True)
        if inside.size:
            out.append(sol.sol(inside))
        y, begin = sol.y[:, -1], end
    return np.concatenate(out, axis=1)


# ---------------------------------------------------------------------- SPM's Balloon model
def spm_log_balloon_rhs(x, z, H):
    """dx/dt of SPM's hemodynamic state equation in log space, for one region.

    x = (s, ln f, ln v, ln q); H = (kappa, gamma, tau, alpha, E0) at the prior means of the
    log-scalings (exp(0) = 1). Transcribed from SPM12 spm_fx_fmri.m lines 176-204 and
    BayespRF spm_prf_fx.m lines 45-76 (the same lines, their H differs):
        ff = (1 - (1 - E0)^(1/f))/E0;  fv = v^(1/alpha)
        ds = z - kappa s - gamma (f - 1);  dln f = s/f;  dln v = (f - fv)/(tau v)
        dln q = (ff f - fv q/v)/(tau q)
    """
    kappa, gamma, tau, alpha, e0 = H
    s = x[0]
    f, v, q = math.exp(x[1]), math.exp(x[2]), math.exp(x[3])
    fv = v ** (1.0 / alpha)
    ff = (1.0 - (1.0 - e0) ** (1.0 / f)) / e0
    return [z - kappa * s - gamma * (f - 1.0),
            s / f,
            (f - fv) / (tau * v),
            (ff * f - fv * q / v) / (tau * q)]


def spm_revised_bold(ln_v, ln_q, V0_percent, E0, nu0, r0, TE, epsilon):
    """SPM's revised BOLD output, in per cent (spm_gx_fmri.m lines 26-59 of SPM12;
    spm_prf_gx.m lines 38-85 of BayespRF): k1 = 4.3 nu0 E0 TE, k2 = ep r0 E0 TE, k3 = 1 - ep,
    y = V0 (k1 (1 - q) + k2 (1 - q/v) + k3 (1 - v))."""
    k1 = 4.3 * nu0 * E0 * TE
    k2 = epsilon * r0 * E0 * TE
    k3 = 1.0 - epsilon
    v, q = math.exp(ln_v), math.exp(ln_q)
    return V0_percent * (k1 * (1.0 - q) + k2 * (1.0 - q / v) + k3 * (1.0 - v))
