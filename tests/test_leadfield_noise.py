"""Noise: the covariance asked for, PSD checks, SNR, reproducible generators."""

import numpy as np
import pytest

from fwdmodels import EEGLeadFieldModel, FwdModelsError, MEGLeadFieldModel, ureg
from fwdmodels.leadfield.noise import draw_noise, make_rng, noise_factor, read_noise_cov

import naive


def _cov(m, rank=None, seed=0):
    a = np.random.default_rng(seed).normal(size=(m, rank or m))
    return a @ a.T / (rank or m)


@pytest.mark.parametrize("rank", [None, 2])     # full rank, and singular (PSD only)
def test_noise_has_the_covariance_asked_for(rank):
    m = 5
    c = _cov(m, rank)
    model = EEGLeadFieldModel(3, m, np.zeros((3, m)) * ureg("V/(nA*m)"), sensor_unit="uV",
                              noise_cov=c * ureg.uV ** 2, rng=1)
    e = model(np.zeros((100_000, 3))).m
    sample = np.cov(e, rowvar=False, bias=True)
    assert np.abs(sample - c).max() <= 0.03 * np.abs(c).max()
    # the loop oracle on a subset agrees with NumPy's estimator
    np.testing.assert_allclose(naive.sample_covariance(e[:300]), e[:300].T @ e[:300] / 300,
                               rtol=1e-10)


def test_factor_reproduces_covariance_and_not_transposed():
    c = _cov(6, seed=3)
    f = noise_factor(c)
    np.testing.assert_allclose(f @ f.T, c, atol=1e-12)
    e = draw_noise(np.random.default_rng(0), (200_000, 6), f)
    assert np.abs(np.cov(e, rowvar=False) - c).max() < 0.03 * np.abs(c).max()


def test_covariance_unit_conversion():
    model = MEGLeadFieldModel(2, 3, np.zeros((2, 3)) * ureg("fT/(nA*m)"),
                              noise_cov=np.eye(3) * 1e-30 * ureg.T ** 2, rng=0)
    np.testing.assert_allclose(model.noise_cov.to("fT**2").m, np.eye(3), rtol=1e-12)
    e = model(np.zeros((50_000, 2))).m
    assert abs(e.var() - 1.0) < 0.03


def test_bad_covariances_named():
    with pytest.raises(FwdModelsError, match=r"`noise_cov` must be positive semi-definite; got "
                                             r"smallest eigenvalue -1"):
        read_noise_cov(np.diag([1.0, -1.0]), 2, ureg.uV)
    with pytest.raises(FwdModelsError, match=r"`noise_cov` must be symmetric; got max"):
        read_noise_cov(np.array([[1.0, 0.5], [0.0, 1.0]]), 2, ureg.uV)
    with pytest.raises(FwdModelsError, match=r"`noise_cov` must have shape \(3, 3\); got shape "
                                             r"\(2, 2\)"):
        read_noise_cov(np.eye(2), 3, ureg.uV)
    with pytest.raises(FwdModelsError, match=r"`noise_cov` must be in a unit compatible with "
                                             r"µV \*\* 2 \(the sensor unit squared\); "
                                             r"got fT \*\* 2"):
        read_noise_cov(np.eye(2) * ureg.fT ** 2, 2, ureg.uV)
    with pytest.raises(FwdModelsError, match=r"`rng` must be a numpy.random.Generator"):
        make_rng("seed")


def test_snr_db_sets_noise_power():
    rng = np.random.default_rng(4)
    L = rng.normal(size=(4, 8))
    s = rng.normal(size=(40_000, 4))
    clean = EEGLeadFieldModel(4, 8, L * ureg("V/(nA*m)"))(s).m
    for snr in (0.0, 10.0):
        noisy = EEGLeadFieldModel(4, 8, L * ureg("V/(nA*m)"), snr_db=snr, rng=5)(s).m
        p_signal, p_noise = np.mean(clean ** 2), np.mean((noisy - clean) ** 2)
        assert 10 * np.log10(p_signal / p_noise) == pytest.approx(snr, abs=0.05)


def test_same_seed_same_noise_and_generator_accepted():
    kw = dict(in_size=2, out_size=3, L=np.ones((2, 3)) * ureg("V/(nA*m)"), noise_cov=np.eye(3))
    a = EEGLeadFieldModel(**kw, rng=7)(np.zeros((5, 2))).m
    b = EEGLeadFieldModel(**kw, rng=np.random.default_rng(7))(np.zeros((5, 2))).m
    np.testing.assert_array_equal(a, b)


def test_covariance_near_the_float64_limit():
    """1e308 * I decomposes (scaled first) and gives noise of that variance, no LinAlgError."""
    c = 1e308 * np.eye(3)
    np.testing.assert_allclose(read_noise_cov(c, 3, ureg.uV), c, rtol=1e-15)
    f = noise_factor(c)
    np.testing.assert_allclose(f / 1e154, np.eye(3), atol=1e-12)
    model = EEGLeadFieldModel(2, 3, np.zeros((2, 3)) * ureg("uV/(nA*m)"), sensor_unit="uV",
                              noise_cov=c, rng=0)
    e = model(np.zeros((20_000, 2))).m
    assert np.all(np.isfinite(e)) and (e / 1e154).var() == pytest.approx(1.0, rel=0.05)
    np.testing.assert_allclose(noise_factor(np.zeros((2, 2))), 0.0)


def test_running_rms_merged_from_blocks_equals_one_pass():
    from fwdmodels.leadfield.noise import RunningRMS

    y = np.random.default_rng(4).normal(size=(1000, 3)) * np.logspace(-3, 3, 1000)[:, None]
    whole = RunningRMS()
    whole.add(y)
    merged = RunningRMS()
    for part in (y[:10], y[10:10], y[10:700], y[700:]):
        acc = RunningRMS()
        acc.add(part)
        merged.merge(*acc.parts)
    assert merged.count == y.size
    assert merged.value() == pytest.approx(np.sqrt(np.mean(y ** 2)), rel=1e-13)
    assert merged.value() == pytest.approx(whole.value(), rel=1e-13)
    huge = RunningRMS()
    for scale in (1e200, 1e300):
        acc = RunningRMS()
        acc.add(np.full(4, scale))
        huge.merge(*acc.parts)
    assert huge.value() == pytest.approx(1e300 / np.sqrt(2), rel=1e-13)
