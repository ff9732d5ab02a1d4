"""Tests of BalloonParams: presets against their published numbers, aliases, validation."""

import dataclasses

import numpy as np

import pytest

from fwdmodels import BalloonParams, ureg
from fwdmodels.errors import FwdModelsError
from fwdmodels.hemodynamics import PRESETS


def test_default_is_friston2003_with_classic_coefficients():
    p = BalloonParams()
    assert (p.kappa, p.gamma, p.tau, p.alpha, p.rho, p.V0) == (0.65, 0.41, 0.98, 0.32, 0.34, 0.02)
    assert p.bold_coefficients() == pytest.approx((7 * 0.34, 2.0, 2 * 0.34 - 0.2))
    assert BalloonParams.preset("friston2003") == dataclasses.replace(p, name="friston2003")


def test_revised_coefficients_follow_stephan2007_eq12():
    # SPM12 spm_gx_fmri.m: TE 0.04, r0 25, nu0 40.3, E0 0.4, epsilon exp(0) = 1
    p = BalloonParams.preset("spm12")
    assert (p.kappa, p.gamma, p.tau, p.alpha, p.rho, p.V0) == (0.64, 0.32, 2.0, 0.32, 0.4, 0.04)
    assert p.k1 == pytest.approx(4.3 * 40.3 * 0.4 * 0.04)
    assert p.k2 == pytest.approx(1.0 * 25 * 0.4 * 0.04)
    assert p.k3 == 0.0
    p3 = BalloonParams.preset("stephan2007_3T")
    assert p3.nu0 == pytest.approx(84.795) and p3.r0 == 110.0
    p7 = BalloonParams.preset("stephan2007_7T", TE="25 ms")
    assert p7.nu0 == pytest.approx(197.855) and p7.r0 == 340.0 and p7.TE == pytest.approx(0.025)
    assert p7.k1 == pytest.approx(4.3 * 197.855 * 0.34 * 0.025)


def test_every_preset_builds_and_has_a_documented_source():
    from fwdmodels.hemodynamics import presets

    for name in PRESETS:
        p = BalloonParams.preset(name)
        assert p.name == name
        assert f'``"{name}"``' in presets.__doc__ or f'``"{name}"``,' in presets.__doc__


def test_seed_names_are_aliases():
    p = BalloonParams(tau_s=0.8, tau_f=0.4, tau_0=1.0, E_0=0.4, V_0=0.03)
    assert p.kappa == pytest.approx(1 / 0.8) and p.gamma == pytest.approx(1 / 0.4)
    assert (p.tau, p.rho, p.V0) == (1.0, 0.4, 0.03)
    assert p.tau_s == pytest.approx(0.8) and p.tau_f == pytest.approx(0.4)


def test_quantities_are_converted():
    p = BalloonParams(kappa=650 * ureg("1/ks"), tau="980 ms", tau_f="2 s")
    assert p.kappa == pytest.approx(0.65) and p.tau == pytest.approx(0.98)
    assert p.gamma == pytest.approx(0.5)
    with pytest.raises(FwdModelsError, match=r"`tau` must be in a unit compatible with s; "
                                             r"got 1 m"):
        BalloonParams(tau="1 m")


def test_replace_keeps_coefficients_consistent():
    p = BalloonParams().replace(rho=0.4)
    assert p.k1 == pytest.approx(2.8) and p.k3 == pytest.approx(0.6)
    q = BalloonParams().replace(tau_s=2.0)
    assert q.kappa == 0.5
    explicit = BalloonParams(coefficients=(1, 2, 3))
    assert explicit.bold_coefficients() == (1.0, 2.0, 3.0)
    assert explicit.as_dict()["k3"] == 3.0


def test_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        BalloonParams().kappa = 1.0


@pytest.mark.parametrize("kwargs, message", [
    (dict(kappa=0), r"`kappa` must be positive and finite; got 0.0 1/s"),
    (dict(gamma=float("nan")), r"`gamma` must be positive and finite; got nan 1/s\*\*2"),
    (dict(gamma=[0.4, -1.0]), r"`gamma` must be positive and finite; got -1.0 at index 1"),
    (dict(kappa=np.ones((2, 3, 4))), r"`kappa` must be a scalar, one value per region \(N,\) "
                                     r"or per batch member and region \(B, N\); got shape "
                                     r"\(2, 3, 4\)"),
    (dict(kappa=[0.6, 0.7], tau=[1.0, 1.0, 1.0]),
     r"per-region values must broadcast against each other; got shapes"),
    (dict(alpha=[0.3, 1.0]), r"`alpha` must lie strictly between 0.0 and 1.0; got 1.0 at "
                             r"index 1"),
    (dict(alpha=1.0), r"`alpha` must lie strictly between 0.0 and 1.0; got 1.0"),
    (dict(rho=1.5), r"`rho` must lie strictly between 0.0 and 1.0; got 1.5"),
    (dict(E_0=-0.1), r"`rho` must lie strictly between 0.0 and 1.0; got -0.1"),
    (dict(kappa=1, tau_s=1), r"BalloonParams got both 'tau_s' and 'kappa'"),
    (dict(observation="fancy"), r"`observation` must be one of 'classic', 'revised', "
                                r"'revised_linear'; got 'fancy'"),
    (dict(observation="revised"), r"observation='revised' derives k1, k2, k3 from nu0, r0, "
                                  r"epsilon and TE; missing nu0, r0, epsilon, TE"),
    (dict(coefficients=(1, 2)), r"`coefficients` must be three finite numbers"),
    (dict(kappa="fast"), r"`kappa` could not be read as a quantity"),
    (dict(alpha=True), r"`alpha` must be a real number; got True"),
])
def test_invalid_parameters(kwargs, message):
    with pytest.raises(FwdModelsError, match=message):
        BalloonParams(**kwargs)


def test_unknown_preset():
    with pytest.raises(FwdModelsError, match=r"`params` must be one of .*'spm12'.*; got 'spm8'"):
        BalloonParams.preset("spm8")


def test_from_brainmass_names_and_model_attributes():
    p = BalloonParams.from_brainmass(k=0.7, gamma=0.4, tau=1.0, alpha=0.3, rho=0.35, V0=0.03)
    assert (p.kappa, p.gamma, p.tau, p.alpha, p.rho, p.V0) == (0.7, 0.4, 1.0, 0.3, 0.35, 0.03)
    assert p.observation == "classic"

    class FakeModel:  # brainmass.BOLDSignal keeps per-region arrays under these names
        k = [0.65] * 3
        gamma, alpha, tau, rho, V0 = [0.41] * 3, 0.32, 0.98, 0.34, 0.02

    assert BalloonParams.from_brainmass(FakeModel()).bold_coefficients() == \
        BalloonParams().bold_coefficients()
    FakeModel.k = [0.6, 0.7, 0.65]          # per-region values are kept as such
    per_region = BalloonParams.from_brainmass(FakeModel())
    np.testing.assert_array_equal(per_region.kappa, [0.6, 0.7, 0.65])
    assert per_region.gamma == 0.41 and per_region.shape == (3,)


def test_revised_linear_is_the_first_order_expansion_of_revised():
    import numpy as np

    from fwdmodels.hemodynamics.equations import observe, pack_params

    nonlinear = BalloonParams.preset("spm12")
    linear = nonlinear.replace(observation="revised_linear")
    k1, k2, k3 = nonlinear.bold_coefficients()
    v, q = np.array([1.0, 1.02, 0.97]), np.array([1.0, 0.95, 1.04])
    expected = nonlinear.V0 * ((k1 + k2) * (1 - q) + (k3 - k2) * (1 - v))  # Stephan 2007 eq. 11
    np.testing.assert_allclose(observe(v, q, pack_params(linear)), expected, rtol=1e-14)
    # the two agree to first order: the gap shrinks with the square of the deviation
    gaps = []
    for h in (1e-2, 5e-3):
        vv, qq = 1 + h, 1 - 2 * h
        gaps.append(abs(observe(vv, qq, pack_params(nonlinear)) -
                        observe(vv, qq, pack_params(linear))))
    assert gaps[0] / gaps[1] == pytest.approx(4.0, rel=0.05)
