"""The noise level of ``snr_db`` is fixed once per model, so that it does not depend on how a
series is cut into calls: one time step at a time, chunks, ``apply`` or the whole series.

Oracles: the closed form ``P_s / 10^(snr/10)`` for a stated power, and the mean square of the
noise-free signal computed here with NumPy for a measured one.
"""

import numpy as np
import pytest

from fwdmodels import EEGLeadFieldModel, FwdModelsError, MEGLeadFieldModel, ureg

R, M, T = 4, 16, 20_000
SNR = 10.0


@pytest.fixture(scope="module")
def series():
    rng = np.random.default_rng(0)
    L = rng.normal(size=(R, M))
    amp = np.where(np.arange(T) % 2000 < 1000, 0.1, 10.0)       # weak and strong stretches
    x = rng.normal(size=(T, R)) * amp[:, None]
    x[:500] = 0.0                                                # a silent start
    clean = x @ L
    return L, x, amp, clean


def _model(L, **kw):
    return EEGLeadFieldModel(R, M, L * ureg("uV/(nA*m)"), sensor_unit="uV", rng=1, **kw)


def _calls(model, x, how):
    if how == "whole":
        return model(x).m
    if how == "step":
        return np.stack([model(row).m for row in x])
    if how == "chunks":
        edges = np.r_[0, np.sort(np.random.default_rng(5).choice(np.arange(1, T), 40, False)), T]
        return np.concatenate([model(x[a:b]).m for a, b in zip(edges[:-1], edges[1:])])
    return model.apply(x, chunk_size=777).m


@pytest.mark.parametrize("how", ["whole", "step", "chunks", "apply"])
def test_stated_power_gives_one_level_however_the_series_is_cut(series, how):
    L, x, amp, clean = series
    power = 3.0                                                  # uV², stated
    noise = _calls(_model(L, snr_db=SNR, signal_power=power * ureg.uV ** 2), x, how) - clean
    expected = np.sqrt(power / 10 ** (SNR / 10))                 # the closed form
    for rows in (amp == 0.1, amp == 10.0, slice(0, 500)):        # weak, strong, silent
        assert noise[rows].std() == pytest.approx(expected, rel=0.03)


def test_step_chunked_and_whole_draw_the_same_noise(series):
    """Same generator, same level: the calls consume the same normal numbers in the same
    order, so the noise itself (not only its statistics) is the same."""
    L, x, _, clean = series
    x, clean = x[:3000], clean[:3000]
    runs = {how: _calls(_model(L, snr_db=SNR, signal_power=2.0), x, how) - clean
            for how in ("whole", "step", "apply")}
    for how in ("step", "apply"):
        np.testing.assert_allclose(runs[how], runs["whole"], rtol=1e-9, atol=1e-9)


def test_calibrate_then_step_equals_one_whole_series_call(series):
    L, x, amp, clean = series
    whole = _model(L, snr_db=SNR)                       # the first call measures the power
    y_whole = whole(x).m
    assert whole.signal_power.to("uV**2").m == pytest.approx(np.mean(clean ** 2), rel=1e-12)
    stepped = _model(L, snr_db=SNR)
    got = stepped.calibrate(x * ureg("nA*m"), chunk_size=999)
    assert got.to("uV**2").m == pytest.approx(np.mean(clean ** 2), rel=1e-12)
    y_step = np.stack([stepped(row).m for row in x[:2000]])
    np.testing.assert_allclose(y_step, y_whole[:2000], rtol=1e-9, atol=1e-9)
    level = np.sqrt(np.mean(clean ** 2) / 10 ** (SNR / 10))
    noise = y_step - clean[:2000]
    for rows in (amp[:2000] == 0.1, amp[:2000] == 10.0):
        assert noise[rows].std() == pytest.approx(level, rel=0.05)


def test_calibrate_from_an_iterator_of_chunks(series):
    L, x, _, clean = series
    model = _model(L, snr_db=SNR)
    model.calibrate(x[a:a + 1234] for a in range(0, T, 1234))
    assert model.signal_power.m == pytest.approx(np.mean(clean ** 2), rel=1e-12)


def test_first_call_sets_the_level_and_later_calls_keep_it(series):
    L, x, _, clean = series
    model = _model(L, snr_db=SNR)
    model(x[1000:3000])                                          # strong then weak rows
    level = np.sqrt(np.mean(clean[1000:3000] ** 2) / 10 ** (SNR / 10))
    weak = x[3000:4000] / 100.0
    noise = model(weak).m - clean[3000:4000] / 100.0
    assert noise.std() == pytest.approx(level, rel=0.05)         # not 100 times smaller
    silent = model(np.zeros((1000, R))).m
    assert silent.std() == pytest.approx(level, rel=0.05)


def test_apply_measures_the_whole_series_like_one_call(series):
    L, x, _, _ = series
    a, b = _model(L, snr_db=SNR), _model(L, snr_db=SNR)
    np.testing.assert_allclose(a.apply(x, chunk_size=512).m, b(x).m, rtol=1e-9, atol=1e-9)
    assert a.signal_power.m == pytest.approx(b.signal_power.m, rel=1e-12)


def test_noise_cov_rescaled_to_the_stated_power():
    rng = np.random.default_rng(3)
    c = np.diag([1.0, 4.0, 9.0])
    model = MEGLeadFieldModel(2, 3, np.zeros((2, 3)) * ureg("fT/(nA*m)"), noise_cov=c,
                              snr_db=0.0, signal_power=28.0 * ureg.fT ** 2, rng=rng)
    e = np.stack([model(np.zeros(2)).m for _ in range(40_000)])
    # mean diagonal 14/3 scaled to 28: each variance times 6
    np.testing.assert_allclose(e.var(axis=0), 6 * np.diag(c), rtol=0.04)


def test_one_step_or_silent_first_call_refused(series):
    L, x, _, _ = series
    with pytest.raises(FwdModelsError, match=r"`x` of a single time step cannot set the noise "
                                             r"level of `snr_db`.*signal_power=.*calibrate"):
        _model(L, snr_db=SNR)(x[700])
    with pytest.raises(FwdModelsError, match=r"single time step"):
        _model(L, snr_db=SNR)(x[700:701])
    with pytest.raises(FwdModelsError, match=r"`x` is silent \(zero signal\) and cannot set "
                                             r"the noise level"):
        _model(L, snr_db=SNR)(x[:500])
    with pytest.raises(FwdModelsError, match=r"`calibrate` sets the noise level of `snr_db`; "
                                             r"the model has snr_db=None"):
        _model(L).calibrate(x)


def test_signal_power_errors(series):
    L = series[0]
    with pytest.raises(FwdModelsError, match=r"`signal_power` is the power `snr_db` refers to; "
                                             r"give snr_db too"):
        _model(L, signal_power=1.0)
    with pytest.raises(FwdModelsError, match=r"`signal_power` must be positive and finite; "
                                             r"got -1.0"):
        _model(L, snr_db=SNR, signal_power=-1.0)
    with pytest.raises(FwdModelsError, match=r"`signal_power` must be in a unit compatible "
                                             r"with µV \*\* 2"):
        _model(L, snr_db=SNR, signal_power=1.0 * ureg.fT ** 2)
    with pytest.raises(FwdModelsError, match=r"`signal_power` must be a single number"):
        _model(L, snr_db=SNR, signal_power=np.ones(3))
    bare = _model(L, snr_db=SNR, signal_power=2.0)          # read in uV²
    assert bare.signal_power.units == ureg.uV ** 2
    assert bare.signal_power.m == pytest.approx(2.0, rel=1e-15)
    si = _model(L, snr_db=SNR, signal_power=2e-12 * ureg.V ** 2)
    assert si.signal_power.to("uV**2").m == pytest.approx(2.0)


@pytest.mark.parametrize("snr", [5000, -5000, 3000.5, float("nan"), True])
def test_snr_db_out_of_range_is_named(series, snr):
    with pytest.raises(FwdModelsError, match=r"`snr_db` must"):
        _model(series[0], snr_db=snr)


def test_huge_input_blames_snr_db_not_noise_cov(series):
    L, x, _, _ = series
    model = _model(L, snr_db=-3000.0)
    with pytest.raises(FwdModelsError, match=r"`snr_db` of -3000 dB below a signal power .* "
                                             r"beyond float64") as info:
        model(x[1000:1100] * 1e200)
    assert "noise_cov" not in str(info.value)
    # the same input at a plain SNR is fine: the power is measured without overflow
    y = _model(L, snr_db=SNR)(x[1000:1100] * 1e150).m
    assert np.all(np.isfinite(y))


# ------------------------------------------------------------------ the pipeline's path
def test_pipeline_snr_out_of_range_and_huge_input_named_by_argument(tmp_path, series):
    from fwdmodels import pipeline

    L, x, _, _ = series
    np.save(tmp_path / "L.npy", L)
    np.save(tmp_path / "x.npy", x[:2000])
    kw = dict(leadfield=tmp_path / "L.npy", leadfield_unit="uV/(nA*m)", sensor_unit="uV",
              dt="1 ms")
    for snr in (5000.0, -5000.0):
        with pytest.raises(FwdModelsError, match=r"`snr_db` must be a finite number of dB "
                                                 r"within ±3000"):
            pipeline.run_eeg(tmp_path / "x.npy", tmp_path / "e.npz", snr_db=snr, **kw)
    np.save(tmp_path / "huge.npy", x[:2000] * 1e200)
    with pytest.raises(FwdModelsError, match=r"`snr_db` 10.0 below the input's signal "
                                             r"\(RMS .*variance overflows") as info:
        pipeline.run_eeg(tmp_path / "huge.npy", tmp_path / "e.npz", snr_db=10.0, **kw)
    assert "noise_cov" not in str(info.value)
    assert not (tmp_path / "e.npz").exists()


@pytest.mark.parametrize("how", ["call", "apply"])
def test_level_measured_without_overflow_near_the_float64_limit(series, how):
    """Signal values near 1e161: their squares overflow, so the power is measured from the
    scaled signal (and, in apply, the Gram matrix falls back to it)."""
    L, x, _, clean = series
    big = x[1000:1400] * 1e160
    model = _model(L, snr_db=SNR)
    y = model(big).m if how == "call" else model.apply(big, chunk_size=7).m
    noise = y / 1e160 - clean[1000:1400]
    expected = np.sqrt(np.mean(clean[1000:1400] ** 2) / 10 ** (SNR / 10))
    assert noise.std() == pytest.approx(expected, rel=0.05)
