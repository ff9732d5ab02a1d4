"""The forcing of volume and deoxyhemoglobin in the ``"split"`` method, and its integrals.

The forcing of q, ``b(f) = (f E(f)/rho - 1)/tau`` with ``E(f) = 1 - (1-rho)**(1/f)``, is
integrated at the input rate (see :mod:`.split`). Evaluated as written it costs an ``exp`` and
a division per region and sample, more than everything else in the pass. Within one
hemodynamic step f moves little, so b is expanded instead about a centre ``f_c`` chosen per
region at the step's start (``f`` there plus half the step times its slope ``x``)::

    b(f_c + d) = beta_0 + d (beta_1 + d (beta_2 + ... + d beta_7))

``beta_0 = b(f_c)`` is computed as written. With ``L = ln(1-rho)`` and
``f E/rho = f/rho - (1-rho)/rho f exp(L (1/f - 1))``, the factor
``exp(L/(f_c + d) - L/f_c) = sum_k s_k d^k`` follows from the series of its exponent,
``h_j = L (-1)^j / f_c^(j+1)``, by the recurrence of the exponential of a power series
``k s_k = sum_{j=1..k} j h_j s_(k-j)``, ``s_0 = 1``; then
``beta_k = [k = 1]/(rho tau) - (1-rho)/rho e_c (f_c s_k + s_(k-1)) / tau``.

The series of b about ``f_c`` converges for ``|d| < f_c`` (b has an essential singularity at
f = 0). Truncated after degree 7 and used only where ``|d| <= RADIUS f_c`` at every sample of
the step, its relative error is below 3e-12 for rho in [0.05, 0.95] and f_c from 0.02 to 10
(checked against 40-digit arithmetic in ``tests/test_forcing.py``). A region whose f leaves
that interval within a step, or whose state is not finite, takes the step again with b as
written, sample by sample; the choice is made per region from that region's values alone, so
a region's numbers do not depend on the regions run beside it.

Integrals from sums. Over the samples ``j = 0..k`` of a step (sample length ``h``), a
forcing ``y_j = Y_0 + e_j`` with slope ``y'_j`` has the Hermite-corrected trapezoid integral
(the composite two-point Hermite rule, whose end corrections telescope)::

    Y_k  = h (k Y_0 + S_k + (e_0 - e_k)/2) - h^2/12 (y'_k - y'_0)
    IY_k = int_0^{t_k} Y dt
         = h (sum_{m=1..k} T_m - T_k/2) - h^2/12 (2 (e_k - e_0) - k h y'_0)

with ``S_k = sum_{j=1..k} e_j``, ``T_m = h (m Y_0 + S_m + (e_0 - e_m)/2)`` and
``sum_{m=1..k} T_m = h (Y_0 k (k+1)/2 + R_k + (k e_0 - S_k)/2)``, ``R_k = sum_{m=1..k} S_m``.
The second line replaces ``h sum' y'_m`` by ``y_k - y_0`` (the trapezoid rule for the
integral of y'), which changes it by ``h^4/144`` times the change of ``y''``, below 1e-15 of
the signal for any input the accuracy tests use. Per sample the pass therefore adds ``e_j`` to
``S`` and ``S`` to ``R``, nothing else; the slopes are needed only where an integral is read.
For v the forcing is ``a = u/tau`` (``u = f - 1``), with ``Y_0 = u_c``, ``e = d`` and slope
``x``, all divided by tau.
"""

from __future__ import annotations

import numpy as np

from .equations import INV_TAU, LOG1M_RHO, ODDS

__all__ = ["DEGREE", "RADIUS", "centre", "taylor_coefficients", "deviation", "slope",
           "exact_deviation", "integral", "forcing"]

#: Degree of the expansion of the forcing of q about each step's centre.
DEGREE = 7
#: The expansion is used while ``|f - f_c| <= RADIUS * f_c`` over the whole step.
RADIUS = 0.05


def forcing(x, f, p):
    """The forcing of v and q and its time derivative, as written: ``(a, da/dt, b, db/dt)``
    in s^-1 and s^-2, counted from rest: ``a = (f - 1)/tau``, ``b = (f E(f)/rho - 1)/tau``
    and ``d/dt = x d/df``.

    Both the forcing and :func:`~fwdmodels.hemodynamics.split.decay` are counted from their
    common value at rest, ``1/tau``, which leaves the equations unchanged and makes every term
    exactly 0 at rest, so a model at rest stays there bit for bit. ``E(f)/rho`` is written as
    in :func:`~fwdmodels.hemodynamics.equations.rhs` (exactly 1 at f = 1);
    ``d(f E/rho)/df = E/rho + (1-rho)^(1/f) ln(1-rho) / (rho f)``.
    """
    inv = 1.0 / f
    e = np.exp(p[LOG1M_RHO] * (inv - 1.0))                 # (1-rho)^(1/f - 1)
    excess = -p[ODDS] * (e - 1.0)                          # E(f)/rho - 1
    gain = 1.0 + excess + p[ODDS] * e * p[LOG1M_RHO] * inv  # d(f E/rho)/df
    u = f - 1.0
    return (u * p[INV_TAU], x * p[INV_TAU], (u * (1.0 + excess) + excess) * p[INV_TAU],
            x * gain * p[INV_TAU])


def centre(x0, u0, H):
    """``u_c = f_c - 1`` of the expansion for a step of ``H`` seconds starting at ``(x0,
    u0 = f0 - 1)``: f half a step ahead along its slope, kept at or above ``f0/2``."""
    return np.maximum(u0 + 0.5 * H * x0, 0.5 * (1.0 + u0) - 1.0)


def taylor_coefficients(uc, p):
    """``(beta_0, ..., beta_7)`` of the forcing of q about ``f_c = 1 + uc``, in s^-1 per unit
    of f to the power k (see the module documentation)."""
    fc = 1.0 + uc
    inv = 1.0 / fc
    e = np.exp(p[LOG1M_RHO] * (inv - 1.0))
    excess = -p[ODDS] * (e - 1.0)
    beta0 = (uc * (1.0 + excess) + excess) * p[INV_TAU]
    w = -inv
    h1 = p[LOG1M_RHO] * inv * w            # h_j = L (-1)^j / f_c^(j+1)
    h2 = h1 * w
    h3 = h2 * w
    h4 = h3 * w
    h5 = h4 * w
    h6 = h5 * w
    h7 = h6 * w
    s1 = h1
    s2 = (h1 * s1 + 2.0 * h2) / 2.0
    s3 = (h1 * s2 + 2.0 * h2 * s1 + 3.0 * h3) / 3.0
    s4 = (h1 * s3 + 2.0 * h2 * s2 + 3.0 * h3 * s1 + 4.0 * h4) / 4.0
    s5 = (h1 * s4 + 2.0 * h2 * s3 + 3.0 * h3 * s2 + 4.0 * h4 * s1 + 5.0 * h5) / 5.0
    s6 = (h1 * s5 + 2.0 * h2 * s4 + 3.0 * h3 * s3 + 4.0 * h4 * s2 + 5.0 * h5 * s1 +
          6.0 * h6) / 6.0
    s7 = (h1 * s6 + 2.0 * h2 * s5 + 3.0 * h3 * s4 + 4.0 * h4 * s3 + 5.0 * h5 * s2 +
          6.0 * h6 * s1 + 7.0 * h7) / 7.0
    k = -p[ODDS] * e * p[INV_TAU]          # -(1-rho)/rho e_c / tau
    beta1 = (1.0 + p[ODDS]) * p[INV_TAU] + k * (fc * s1 + 1.0)
    return (beta0, beta1, k * (fc * s2 + s1), k * (fc * s3 + s2), k * (fc * s4 + s3),
            k * (fc * s5 + s4), k * (fc * s6 + s5), k * (fc * s7 + s6))


def deviation(d, c1, c2, c3, c4, c5, c6, c7):
    """``b - beta_0`` at ``d = f - f_c`` from the expansion (Horner's rule)."""
    return d * (c1 + d * (c2 + d * (c3 + d * (c4 + d * (c5 + d * (c6 + d * c7))))))


def slope(d, c1, c2, c3, c4, c5, c6, c7):
    """``db/df`` at ``d = f - f_c`` from the expansion."""
    return c1 + d * (2.0 * c2 + d * (3.0 * c3 + d * (4.0 * c4 + d * (5.0 * c5 + d * (
        6.0 * c6 + d * 7.0 * c7)))))


def exact_deviation(x, u, beta0, p):
    """``(b - beta_0, db/dt)`` at ``f = 1 + u`` with b as written (the fallback)."""
    _, _, b, db = forcing(x, 1.0 + u, p)
    return b - beta0, db


def integral(k, h, base, s, r, e0, ek, dy0, dyk):
    """``(Y_k, IY_k)`` of a forcing ``Y_0 + e_j`` after ``k`` samples of ``h`` seconds from
    the sums ``s = S_k`` and ``r = R_k``, its deviations ``e0, ek`` and slopes ``dy0, dyk``
    at the ends (formulas in the module documentation)."""
    c = h * h / 12.0
    tk = h * (k * base + s + 0.5 * (e0 - ek))
    total = h * (base * (0.5 * k * (k + 1)) + r + 0.5 * (k * e0 - s))
    return (tk - c * (dyk - dy0),
            h * (total - 0.5 * tk) - c * (2.0 * (ek - e0) - k * h * dy0))
