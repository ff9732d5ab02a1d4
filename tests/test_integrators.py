"""Tableau invariants of the Runge-Kutta schemes and the exact Heun step."""

import numpy as np
import pytest

from fwdmodels.hemodynamics.equations import pack_params, rhs
from fwdmodels.hemodynamics.integrators import TABLEAUX, rk_step
from fwdmodels.hemodynamics.params import BalloonParams


@pytest.mark.parametrize("name", sorted(TABLEAUX))
def test_tableau_invariants(name):
    tab = TABLEAUX[name]
    A, b, c = np.array(tab.A), np.array(tab.b), np.array(tab.c)
    assert b.sum() == pytest.approx(1.0, abs=1e-15)
    np.testing.assert_allclose(A.sum(axis=1), c, atol=1e-15)
    assert np.all(np.triu(A) == 0), "explicit methods have a strictly lower-triangular A"
    # order conditions up to the claimed order (for orders <= 4)
    if tab.order >= 2:
        assert b @ c == pytest.approx(1 / 2)
    if tab.order >= 3:
        assert b @ c**2 == pytest.approx(1 / 3)
        assert b @ A @ c == pytest.approx(1 / 6)
    if tab.order >= 4:
        assert b @ c**3 == pytest.approx(1 / 4)
        assert b @ (c * (A @ c)) == pytest.approx(1 / 8)
        assert b @ A @ c**2 == pytest.approx(1 / 12)
        assert b @ A @ A @ c == pytest.approx(1 / 24)


def test_heun_is_brainmass_scheme():
    """k1 = F(y), k2 = F(y + dt k1), y + dt/2 (k1 + k2), input held over the step."""
    p = pack_params(BalloonParams())
    y = (0.3, 1.2, 1.05, 0.9)
    z, dt = 0.7, 0.01
    k1 = rhs(*y, z, p)
    k2 = rhs(*(yi + dt * ki for yi, ki in zip(y, k1)), z, p)
    expected = [yi + dt / 2 * (a + b) for yi, a, b in zip(y, k1, k2)]
    assert rk_step(y, z, dt, p, TABLEAUX["heun"]) == pytest.approx(expected, rel=1e-15)
