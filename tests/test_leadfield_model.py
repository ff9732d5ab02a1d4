"""LeadFieldModel / EEGLeadFieldModel / MEGLeadFieldModel: units, shapes, orientation, errors,
chunked application, and the seed documentation's examples (pint and brainunit)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fwdmodels
from fwdmodels import EEGLeadFieldModel, FwdModelsError, LeadFieldModel, MEGLeadFieldModel, ureg

import naive

R, M = 7, 5


@pytest.fixture
def L():
    return np.random.default_rng(0).normal(size=(R, M))


def test_classes_exported():
    assert fwdmodels.EEGLeadFieldModel is fwdmodels.leadfield.EEGLeadFieldModel
    assert {"LeadFieldModel", "EEGLeadFieldModel", "MEGLeadFieldModel"} <= set(fwdmodels.__all__)


@pytest.mark.parametrize("sensor_unit, factor", [(None, 1.0), ("uV", 1e6), ("mV", 1e3)])
def test_eeg_output_is_matmul_with_units(L, sensor_unit, factor):
    s = np.random.default_rng(1).normal(size=(11, R))            # nA*m (bare)
    model = EEGLeadFieldModel(R, M, L * ureg("V/(nA*m)"), sensor_unit=sensor_unit)
    y = model(s)
    assert y.units == ureg(sensor_unit or "V").units
    np.testing.assert_allclose(y.magnitude, naive.matmul(s, L) * factor, rtol=1e-12)
    # Quantity input in another unit of A*m: 1 uA*m = 1000 nA*m
    y2 = model(s * ureg("uA*m"))
    np.testing.assert_allclose(y2.magnitude, naive.matmul(s, L) * factor * 1e3, rtol=1e-12)


@pytest.mark.parametrize("sensor_unit, factor", [(None, 1e15), ("fT", 1e15), ("T", 1.0)])
def test_meg_output_is_matmul_with_units(L, sensor_unit, factor):
    s = np.random.default_rng(2).normal(size=(3, 4, R))
    model = MEGLeadFieldModel(R, M, L * ureg("T/(A*m)"), sensor_unit=sensor_unit)
    y = model(s * ureg("A*m"))
    assert y.units == ureg(sensor_unit or "fT").units and y.shape == (3, 4, M)
    ref = np.stack([naive.matmul(b, L) for b in s]) * factor
    np.testing.assert_allclose(y.magnitude, ref, rtol=1e-12)


def test_meg_gradiometer_lead_field_defaults_to_ft_per_cm(L):
    model = MEGLeadFieldModel(R, M, L * ureg("T/(m*A*m)"))
    assert model.sensor_unit == ureg("fT/cm").units
    np.testing.assert_allclose(model(np.ones(R) * ureg("A*m")).m, L.sum(0) * 1e13, rtol=1e-12)


def test_dipole_scale_reads_membrane_potentials(L):
    model = EEGLeadFieldModel(R, M, L * ureg("V/(nA*m)"), dipole_scale=1.5 * ureg("nA*m/mV"))
    assert model.input_unit == ureg.mV
    v = np.random.default_rng(3).normal(size=(6, R))
    np.testing.assert_allclose(model(v).m, naive.matmul(1.5 * v, L), rtol=1e-12)        # mV
    np.testing.assert_allclose(model(v * ureg.V).m, naive.matmul(1500 * v, L), rtol=1e-12)
    with pytest.raises(FwdModelsError, match=r"`x` must be in a unit compatible with mV, so "
                                             r"that times dipole_scale \(1.5 m \* nA / mV\) it "
                                             r"gives A\*m; got unit ms"):
        model(v * ureg.ms)


def test_shapes_single_series_batch(L):
    model = EEGLeadFieldModel(R, M, L * ureg("V/(nA*m)"))
    assert model(np.ones(R)).shape == (M,)
    assert model(np.ones((4, R))).shape == (4, M)
    assert model(np.ones((2, 4, R))).shape == (2, 4, M)


def test_free_orientation_fixed_and_three_component():
    rng = np.random.default_rng(4)
    Lf = rng.normal(size=(R, 3, M))
    ori = rng.normal(size=(R, 3))
    ori /= np.linalg.norm(ori, axis=1)[:, None]
    fixed = EEGLeadFieldModel(R, M, Lf * ureg("V/(nA*m)"), orientations=ori)
    expected = np.einsum("rkm,rk->rm", Lf, ori)
    np.testing.assert_allclose(fixed(np.ones(R)).m, expected.sum(0), rtol=1e-12)
    free = EEGLeadFieldModel(R, M, Lf * ureg("V/(nA*m)"))
    moments = rng.normal(size=(5, R, 3))
    np.testing.assert_allclose(free(moments).m, np.einsum("trk,rkm->tm", moments, Lf),
                               rtol=1e-12)
    # three-component dipoles along ori equal the fixed model
    np.testing.assert_allclose(free(2.0 * ori).m, fixed(2.0 * np.ones(R)).m, rtol=1e-12)
    with pytest.raises(FwdModelsError, match=r"`x` must have shape \(\.\.\., 7, 3\)"):
        free(np.ones(R))


def test_average_reference_sums_to_zero(L):
    model = EEGLeadFieldModel(R, M, L * ureg("V/(nA*m)"), reference="average",
                              noise_cov=np.eye(M) * 1e-2, rng=0)
    y = model(np.random.default_rng(5).normal(size=(50, R)))
    np.testing.assert_allclose(y.m.sum(axis=1), 0.0, atol=1e-12)


def test_channel_reference_reads_zero(L):
    model = EEGLeadFieldModel(R, M, L * ureg("V/(nA*m)"), reference=2)
    y = model(np.random.default_rng(6).normal(size=(10, R))).m
    assert np.all(y[:, 2] == 0)
    np.testing.assert_allclose(y[:, 0], ((np.random.default_rng(6).normal(size=(10, R)) @ L)
                                         @ (np.eye(M)[:, 0] - np.eye(M)[:, 2])), rtol=1e-12)


def test_average_reference_refused_for_meg(L):
    with pytest.raises(FwdModelsError, match=r"`reference` 'average' is for EEG potentials: "
                                             r"MEG .* got reference='average' for MEG"):
        MEGLeadFieldModel(R, M, L * ureg("fT/(nA*m)"), reference="average")


def test_bad_inputs_named(L):
    with pytest.raises(FwdModelsError, match=r"`L` must carry a unit \(no unit is guessed\); "
                                             r"got a bare array of shape \(7, 5\)"):
        EEGLeadFieldModel(R, M, L)
    with pytest.raises(FwdModelsError, match=r"`L` must have shape \(in_size, out_size\) = "
                                             r"\(7, 5\), .* got shape \(5, 7\), the transposed "
                                             r"\(M, R\) layout .* pass `L.T`"):
        EEGLeadFieldModel(R, M, L.T * ureg("V/(nA*m)"))
    with pytest.raises(FwdModelsError, match=r"`L` must have shape \(in_size, out_size\) = "
                                             r"\(7, 6\); got shape \(7, 5\)"):
        EEGLeadFieldModel(R, 6, L * ureg("V/(nA*m)"))
    with pytest.raises(FwdModelsError, match=r"`L` must be in a unit compatible with V/\(nA\*m\)"
                                             r"; got fT / m / nA"):
        EEGLeadFieldModel(R, M, L * ureg("fT/(nA*m)"))
    with pytest.raises(FwdModelsError, match=r"`sensor_unit` must be compatible .* got fT"):
        EEGLeadFieldModel(R, M, L * ureg("V/(nA*m)"), sensor_unit="fT")
    model = EEGLeadFieldModel(R, M, L * ureg("V/(nA*m)"))
    with pytest.raises(FwdModelsError, match=r"`x` must be a dipole moment \(a unit compatible "
                                             r"with nA\*m\); got unit mV"):
        model(np.ones(R) * ureg.mV)
    with pytest.raises(FwdModelsError, match=r"`x` must have shape \(R,\), \(T, R\) or "
                                             r"\(B, T, R\) with R = in_size = 7; got shape "
                                             r"\(3, 6\)"):
        model(np.ones((3, 6)))
    bad = np.ones((4, R))
    bad[2, 3] = np.nan
    with pytest.raises(FwdModelsError, match=r"`x` must be finite; found nan at time index 2, "
                                             r"region 3"):
        model(bad)
    with pytest.raises(FwdModelsError, match=r"`dipole_scale` must convert the input to a "
                                             r"dipole moment"):
        EEGLeadFieldModel(R, M, L * ureg("V/(nA*m)"), dipole_scale=2 * ureg("mV/s"))


def test_chunked_apply_equals_call_with_noise_and_memmap(L, tmp_path):
    rng = np.random.default_rng(7)
    s = rng.normal(size=(1000, R))
    kw = dict(reference="average", snr_db=3.0)
    whole = EEGLeadFieldModel(R, M, L * ureg("V/(nA*m)"), rng=42, **kw)(s)
    model = EEGLeadFieldModel(R, M, L * ureg("V/(nA*m)"), rng=42, **kw)
    out = np.lib.format.open_memmap(tmp_path / "y.npy", mode="w+", dtype=np.float64,
                                    shape=(1000, M))
    y = model(s, out=out, chunk_size=128)
    assert np.shares_memory(y.magnitude, out) and y.units == ureg.V
    np.testing.assert_allclose(out, whole.m, rtol=1e-10, atol=1e-12)
    # float32, batched, allocated out
    m32 = EEGLeadFieldModel(R, M, L * ureg("V/(nA*m)"), dtype=np.float32)
    y32 = m32.apply(np.stack([s, 2 * s]), chunk_size=300)
    assert y32.m.dtype == np.float32 and y32.shape == (2, 1000, M)
    np.testing.assert_allclose(y32.m[1], 2 * s @ L, rtol=1e-4, atol=1e-4)
    with pytest.raises(FwdModelsError, match=r"`out` must be a NumPy array \(or memmap\) of "
                                             r"shape \(1000, 5\) and dtype float32"):
        m32.apply(s, out=np.empty((1000, M)))


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 6), st.integers(1, 6), st.integers(1, 8), st.integers(0, 2**31))
def test_matmul_property(r, m, t, seed):
    rng = np.random.default_rng(seed)
    L = rng.normal(size=(r, m))
    s = rng.normal(size=(t, r))
    model = LeadFieldModel(r, m, L * ureg("uV/(nA*m)"))
    np.testing.assert_allclose(model(s).to("uV").m, naive.matmul(s, L), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(model.apply(s, chunk_size=3).to("uV").m, naive.matmul(s, L),
                               rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------ the seed documentation's examples
def test_seed_eeg_example_with_pint(tmp_path):
    N_regions, N_sensors = 90, 64
    np.save(tmp_path / "leadfield_eeg.npy", np.random.default_rng(8).normal(size=(90, 64)))
    L_eeg = np.load(tmp_path / "leadfield_eeg.npy") * (ureg.volt / (ureg.nA * ureg.meter))
    eeg_model = EEGLeadFieldModel(in_size=N_regions, out_size=N_sensors, L=L_eeg)
    dipole_moments = np.random.default_rng(9).standard_normal(N_regions) * ureg.nA * ureg.meter
    eeg_signal = eeg_model(dipole_moments)
    assert eeg_signal.shape == (N_sensors,) and eeg_signal.units == ureg.V
    eeg_model_with_scale = EEGLeadFieldModel(in_size=N_regions, out_size=N_sensors, L=L_eeg,
                                             dipole_scale=1.5 * ureg.nA * ureg.meter / ureg.mV)
    membrane_potentials = np.full(N_regions, -65.0) * ureg.mV
    out = eeg_model_with_scale(membrane_potentials)
    np.testing.assert_allclose(out.m, (-65.0 * 1.5 * np.ones(90)) @ L_eeg.m, rtol=1e-12)


def test_seed_examples_with_brainunit_and_jax(tmp_path):
    import brainunit as u
    import jax
    import jax.numpy as jnp

    np.save(tmp_path / "leadfield_eeg.npy", np.random.default_rng(10).normal(size=(90, 64)))
    np.save(tmp_path / "leadfield_meg.npy", np.random.default_rng(11).normal(size=(90, 306)))
    L_eeg = jnp.load(tmp_path / "leadfield_eeg.npy") * (u.volt / (u.nA * u.meter))
    eeg_model = EEGLeadFieldModel(in_size=90, out_size=64, L=L_eeg)
    dipole_moments = jax.random.normal(jax.random.PRNGKey(0), (90,)) * u.nA * u.meter
    eeg_signal = eeg_model(dipole_moments)
    ref = np.asarray(dipole_moments.mantissa, float) @ np.asarray(L_eeg.mantissa, float)
    assert eeg_signal.units == ureg.V
    np.testing.assert_allclose(eeg_signal.m, ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())
    eeg_model_with_scale = EEGLeadFieldModel(in_size=90, out_size=64, L=L_eeg,
                                             dipole_scale=1.5 * u.nA * u.meter / u.mV)
    membrane_potentials = jnp.full((10, 90), -65.0) * u.mV
    eeg = eeg_model_with_scale(membrane_potentials)
    assert eeg.shape == (10, 64)
    np.testing.assert_allclose(eeg.m[0], -97.5 * np.asarray(L_eeg.mantissa, float).sum(0),
                               rtol=1e-5)
    # brainunit spells femtotesla ``ftesla`` (the seed's ``u.fT`` does not exist there)
    L_meg = jnp.load(tmp_path / "leadfield_meg.npy") * (u.ftesla / (u.nA * u.meter))
    meg_model = MEGLeadFieldModel(in_size=90, out_size=306, L=L_meg)
    meg_signal = meg_model(dipole_moments)
    assert meg_signal.shape == (306,) and meg_signal.units == ureg.fT


# ------------------------------------------------------------ bad values named, overflow caught
@pytest.mark.parametrize("scale, rule", [
    (np.array([1.0, 2.0]) * ureg("nA*m/mV"), r"must be a single value .* shape \(2,\)"),
    ([1.0, 2.0] * ureg("nA*m/mV"), r"must be a single value"),
    (float("nan") * ureg("nA*m/mV"), r"must be finite"),
    (np.array(np.nan) * ureg("nA*m/mV"), r"must be finite"),
    ("1e400 nA*m/mV", r"must be finite"),
    (0.0 * ureg("nA*m/mV"), r"must be finite and non-zero"),
    (1.5, r"must carry a unit"),
])
def test_dipole_scale_refused_by_its_own_name(L, scale, rule):
    with pytest.raises(FwdModelsError, match=r"`dipole_scale` " + rule):
        EEGLeadFieldModel(R, M, L * ureg("V/(nA*m)"), dipole_scale=scale)


def test_lead_field_times_dipole_scale_overflow_names_both(L):
    with pytest.raises(FwdModelsError, match=r"`L` converted to .* overflows float64 .* "
                                             r"dipole_scale="):
        EEGLeadFieldModel(R, M, L * 1e290 * ureg("uV/(nA*m)"), dipole_scale="1e20 nA*m/mV",
                          sensor_unit="uV")


def _overflowing():
    """Output (3, 2) overflows: 1e300 input times a 1e10 lead field; (3, 0) stays finite."""
    lead = np.ones((2, 3))
    lead[:, 2] = 1e10
    x = np.ones((6, 2))
    x[3, 0] = 1e300
    return EEGLeadFieldModel(2, 3, lead * ureg("uV/(nA*m)"), sensor_unit="uV"), x


def test_output_overflow_names_first_time_index_and_sensor():
    model, x = _overflowing()
    rule = (r"the output must be finite: the sensor signal overflows to inf at time index 3, "
            r"sensor 2 although `x` is finite")
    with pytest.raises(FwdModelsError, match=rule):
        model(x)
    with pytest.raises(FwdModelsError, match=rule):       # the whole series' index, not a chunk's
        model.apply(x, chunk_size=2)
    with pytest.raises(FwdModelsError, match=r"overflows to inf at batch 1, time index 3, "
                                             r"sensor 2"):
        model.apply(np.stack([np.ones((6, 2)), x]), chunk_size=4)
    with pytest.raises(FwdModelsError, match=r"overflows to inf at batch 1, time index 3, "
                                             r"sensor 2"):
        model(np.stack([np.ones((6, 2)), x]))
    with pytest.raises(FwdModelsError, match=r"overflows to -inf at time index 3, sensor 2"):
        model(-x)
    meg = MEGLeadFieldModel(2, 3, np.full((2, 3), 1e10) * ureg("fT/(nA*m)"))
    with pytest.raises(FwdModelsError, match=r"overflows to inf at time index 3, sensor 0"):
        meg(x)


def test_nonfinite_input_named_in_whole_series_coordinates():
    model, _ = _overflowing()
    x = np.ones((9, 2))
    x[5, 1] = np.nan
    with pytest.raises(FwdModelsError, match=r"`x` must be finite; found nan at time index 5, "
                                             r"region 1"):
        model.apply(x, chunk_size=4)
    with pytest.raises(FwdModelsError, match=r"`x` must be finite; found nan at batch 2, time "
                                             r"index 5, region 1"):
        model.apply(np.stack([np.ones((9, 2))] * 2 + [x]), chunk_size=4)


def test_huge_but_finite_output_is_not_refused():
    """Values whose sum overflows, each finite, pass: only a non-finite value is an error."""
    model = EEGLeadFieldModel(1, 4, np.ones((1, 4)) * ureg("uV/(nA*m)"), sensor_unit="uV")
    y = model(np.full((3, 1), 1e308)).m
    np.testing.assert_allclose(y, 1e308, rtol=1e-12)


# ------------------------------------------------------------ one block: forward_block
def test_forward_block_is_the_call_with_units_offset_and_out(L):
    s = np.random.default_rng(20).normal(size=(40, R))
    model = EEGLeadFieldModel(R, M, L * ureg("V/(nA*m)"), dipole_scale="2 nA*m/mV",
                              sensor_unit="uV", reference="average")
    y = model.forward_block(s, unit="uV")
    assert isinstance(y, np.ndarray)
    np.testing.assert_array_equal(y, model(s * ureg.uV).m)
    np.testing.assert_array_equal(model.forward_block(s * ureg.uV), y)
    assert model.input_factor("uV") == pytest.approx(1e-3, rel=1e-15)
    out = np.empty((40, M))
    assert model.forward_block(s, unit=ureg.uV, out=out) is out
    np.testing.assert_array_equal(out, y)
    plain = EEGLeadFieldModel(R, M, L * ureg("V/(nA*m)"))
    target = np.empty((2, 40, M))
    plain.forward_block(np.stack([s, s]), out=target)
    np.testing.assert_array_equal(target, plain(np.stack([s, s])).m)
    bad = s.copy()
    bad[3, 1] = np.inf
    with pytest.raises(FwdModelsError, match=r"found inf at batch 2, time index 103, region 1"):
        model.forward_block(bad, offset=(2, 100))
    with pytest.raises(FwdModelsError, match=r"`unit` is for a bare array, a Quantity carries "
                                             r"its own; got a Quantity in µV and unit='mV'"):
        model.forward_block(s * ureg.uV, unit="mV")
    with pytest.raises(FwdModelsError, match=r"`x` must be in a unit compatible with mV"):
        model.forward_block(s, unit="s")


def test_forward_block_noise_follows_the_generator_position(L):
    """Consecutive blocks from one generator draw the noise of one block of all rows; the
    model's own generator is left alone when another is given."""
    s = np.random.default_rng(21).normal(size=(300, R))
    model = MEGLeadFieldModel(R, M, L * ureg("fT/(nA*m)"), snr_db=0.0, signal_power=4.0,
                              rng=5)
    whole = model.forward_block(s, rng=np.random.default_rng(9))
    gen = np.random.default_rng(9)
    parts = np.concatenate([model.forward_block(s[a:a + 70], rng=gen)
                            for a in range(0, 300, 70)])
    np.testing.assert_array_equal(parts, whole)
    own = MEGLeadFieldModel(R, M, L * ureg("fT/(nA*m)"), snr_db=0.0, signal_power=4.0,
                            rng=5)
    np.testing.assert_array_equal(model(s).m, own(s).m)      # rng=5 untouched so far
    assert np.std(whole - s @ L) == pytest.approx(np.sqrt(4.0), rel=0.05)


def test_model_properties_and_signal_power_setter(L):
    model = EEGLeadFieldModel(R, M, L * ureg("uV/(nA*m)"), sensor_unit="uV", snr_db=10.0,
                              rng=3)
    assert model.has_noise and not model.free_orientation and model.signal_power is None
    model.signal_power = 5.0 * ureg.uV ** 2
    assert model.signal_power.m == pytest.approx(5.0, rel=1e-15)
    noise = model(np.zeros((20_000, R))).m
    assert noise.std() == pytest.approx(np.sqrt(0.5), rel=0.03)
    free = EEGLeadFieldModel(R, M, np.ones((R, 3, M)) * ureg("uV/(nA*m)"))
    assert free.free_orientation and not free.has_noise
    with pytest.raises(FwdModelsError, match=r"`signal_power` is the power `snr_db` refers "
                                             r"to; the model has snr_db=None"):
        free.signal_power = 1.0
    with pytest.raises(FwdModelsError, match=r"`signal_power` must be positive and finite"):
        model.signal_power = 0.0
