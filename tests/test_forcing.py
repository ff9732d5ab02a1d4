"""The split method's forcing of q from its expansion about each step's centre, and the
integrals of a forcing from its sums (:mod:`fwdmodels.hemodynamics.forcing`).

Oracles: the extraction fraction transcribed from Buxton et al. (1998) and Friston et al.
(2000), ``E(f) = 1 - (1 - rho)**(1/f)``, evaluated with ``**`` in long double where the
platform has it; central differences of it; and polynomial forcings whose integrals are known
in closed form.
"""

import numpy as np
import pytest

from fwdmodels.hemodynamics import forcing
from fwdmodels.hemodynamics.equations import INV_TAU, LOG1M_RHO, ODDS

TAU = 0.98


def _packed(rho):
    p = np.zeros(10)
    p[INV_TAU], p[LOG1M_RHO], p[ODDS] = 1.0 / TAU, np.log1p(-rho), (1.0 - rho) / rho
    return p


def _b(f, rho):
    """``(f E(f)/rho - 1)/tau`` as published, in the widest float available."""
    f = np.asarray(f, dtype=np.longdouble)
    rho = np.longdouble(rho)
    return (f * (1 - (1 - rho) ** (1 / f)) / rho - 1) / np.longdouble(TAU)


@pytest.mark.parametrize("rho", [0.05, 0.34, 0.6, 0.95])
@pytest.mark.parametrize("fc", [0.02, 0.1, 0.3, 1.0, 3.0, 10.0])
def test_the_expansion_holds_within_its_radius(rho, fc):
    p = _packed(rho)
    beta = forcing.taylor_coefficients(fc - 1.0, p)
    d = np.linspace(-forcing.RADIUS, forcing.RADIUS, 41) * fc
    approx = beta[0] + forcing.deviation(d, *beta[1:])
    exact = _b(fc + d, rho)
    scale = np.maximum(np.abs(exact + 1 / TAU), np.abs(beta[1] * d))   # b + 1/tau = f E/rho/tau
    assert np.max(np.abs(approx - exact) / scale) < 3e-12
    # the slope, against central differences of the published formula
    h = 1e-5 * fc
    numeric = (_b(fc + d + h, rho) - _b(fc + d - h, rho)) / (2 * h)
    assert np.allclose(forcing.slope(d, *beta[1:]), numeric.astype(float), rtol=1e-7,
                       atol=1e-9 / TAU)


def test_the_expansion_fails_beyond_its_radius_so_the_radius_matters():
    # the test can fail: at four times the radius the truncated series is visibly off
    rho, fc = 0.34, 1.0
    beta = forcing.taylor_coefficients(fc - 1.0, _packed(rho))
    d = -4 * forcing.RADIUS * fc
    assert abs(beta[0] + forcing.deviation(d, *beta[1:]) - float(_b(fc + d, rho))) > 1e-9


def test_at_rest_every_coefficient_and_deviation_is_exactly_zero():
    p = _packed(0.34)
    beta = forcing.taylor_coefficients(0.0, p)
    assert beta[0] == 0.0
    assert forcing.deviation(0.0, *beta[1:]) == 0.0
    assert forcing.centre(0.0, 0.0, 0.02) == 0.0
    assert forcing.integral(200, 1e-4, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0) == (0.0, 0.0)


def test_the_centre_stays_positive_whatever_the_slope():
    u0 = np.array([0.0, -0.8, 2.0, -0.8])
    x0 = np.array([1.0, -50.0, 3.0, 50.0])
    uc = forcing.centre(x0, u0, 0.05)
    np.testing.assert_allclose(uc, [0.025, -0.9, 2.075, 0.45])
    assert np.all(1.0 + uc >= 0.5 * (1.0 + u0))


@pytest.mark.parametrize("k", [1, 2, 7, 200])
def test_integrals_from_sums_are_exact_for_polynomial_forcings(k):
    h = 1e-3
    t = np.arange(k + 1) * h
    base = 0.7
    # a cubic forcing: the integral is exact (Hermite rule)
    y = base + 2.0 * t - 30.0 * t ** 2 + 500.0 * t ** 3
    dy = 2.0 - 60.0 * t + 1500.0 * t ** 2
    e = y - base
    s, r = np.sum(e[1:]), np.sum(np.cumsum(e[1:]))
    Y, _ = forcing.integral(k, h, base, s, r, e[0], e[-1], dy[0], dy[-1])
    T = t[-1]
    assert Y == pytest.approx(base * T + T ** 2 - 10.0 * T ** 3 + 125.0 * T ** 4, rel=1e-12,
                              abs=1e-15)
    # a quadratic forcing: the double integral is exact too (its y'' does not change)
    y = base + 2.0 * t - 30.0 * t ** 2
    dy = 2.0 - 60.0 * t
    e = y - base
    s, r = np.sum(e[1:]), np.sum(np.cumsum(e[1:]))
    Y, IY = forcing.integral(k, h, base, s, r, e[0], e[-1], dy[0], dy[-1])
    assert Y == pytest.approx(base * T + T ** 2 - 10.0 * T ** 3, rel=1e-12, abs=1e-15)
    assert IY == pytest.approx(base * T ** 2 / 2 + T ** 3 / 3 - 2.5 * T ** 4, rel=1e-12,
                               abs=1e-18)
