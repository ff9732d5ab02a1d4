"""Tests of fwdmodels.crossval against the real brainmass (JAX): the comparison report, each
diagnosis on a deliberately wrong reference and on real brainmass output, exact agreement of
the schemes, the adapters on JAX arrays and brainunit Quantities, the CLI, the README example.

brainmass, brainstate, brainunit and jax come with the test extra; they are imported here at
the top on purpose (a missing one is an error, not a skip). Precision is switched with
``brainstate.environ.context`` so that no global JAX setting leaks into other test modules.
"""

import argparse
import json

import brainmass
import brainstate
import brainunit as u
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fwdmodels
from fwdmodels import crossval as cv
from fwdmodels.cli import crossval as cli_crossval
from fwdmodels.errors import FwdModelsError
from fwdmodels.units import from_brainunit, ureg

T, N = 300, 3          # short runs: JAX compile time dominates


def _neural_input(T=T, N=N, seed=0):
    rng = np.random.default_rng(seed)
    z = np.zeros((T, N))
    z[20:150] = 1.0
    return z + 0.2 * rng.random((T, N))


@pytest.fixture(scope="module")
def brainmass_run64():
    z = _neural_input()
    runner = cv.BrainmassBOLD(z.shape[1], "1 ms", precision=64)
    return z, runner(z), runner.model


@pytest.fixture(scope="module")
def brainmass_run32():
    z = _neural_input()
    return z, cv.BrainmassBOLD(z.shape[1], "1 ms", precision=32)(z)


# ============================================================================ compare
def test_compare_locates_first_failure_and_worst_sample():
    ref = np.zeros((50, 4))
    cand = ref.copy()
    cand[10, 2] = 1e-3
    cand[30, 1] = 5e-3
    report = cv.compare({"bold": ref}, {"bold": cand}, rtol=1e-9, atol=1e-6)
    row = report["bold"]
    assert not report.passed and not row.passed
    assert row.first_failure == {"time": 10, "channel": 2}
    assert row.worst == {"time": 30, "channel": 1}
    assert row.max_abs == pytest.approx(5e-3)
    assert row.n_failed == 2
    text = str(report)
    assert "t=10, ch=2" in text and "FAIL (2)" in text and "DISAGREE" in text


def test_compare_relative_error_ignores_samples_below_atol():
    ref = np.array([[1.0, 0.0], [2.0, 1e-12]])
    cand = ref * (1 + 1e-6)
    cand[1, 1] = 2e-12
    row = cv.compare(ref, cand, rtol=1e-5, atol=1e-9).rows[0]
    assert row.passed
    assert row.max_rel == pytest.approx(1e-6)        # not 1.0 from the 1e-12 sample


def test_compare_default_tolerance_follows_dtype_and_peak():
    ref = np.linspace(-1, 2, 20).reshape(10, 2)
    r64 = cv.compare(ref, ref).rows[0]
    r32 = cv.compare(ref.astype(np.float32), ref).rows[0]
    assert (r64.rtol, r64.atol) == (1e-9, pytest.approx(2e-9))
    assert (r32.rtol, r32.atol) == (1e-4, pytest.approx(2e-4))
    assert "reference float32, candidate float64" in r32.note


def test_compare_converts_units_and_reads_bare_arrays_in_the_other_unit():
    y = np.arange(6.0).reshape(3, 2)
    report = cv.compare(y * ureg.mV, (y * 1e-3) * ureg.V, rtol=1e-12)
    assert report.passed and report.rows[0].unit == "mV"
    report = cv.compare(y * ureg.uV, y, rtol=1e-12)
    assert report.passed and "candidate is a bare array, read in µV" in report.rows[0].note
    report = cv.compare(y * ureg.V, y * ureg.mV, rtol=1e-12)
    assert not report.passed and report.rows[0].max_abs == pytest.approx(5 * 0.999)
    with pytest.raises(FwdModelsError, match=r"reference is in V and the candidate in T"):
        cv.compare(y * ureg.V, y * ureg.T)


def test_compare_atol_as_quantity_and_per_quantity_tolerances():
    y = np.ones((4, 2))
    report = cv.compare({"a": y * ureg.V, "b": y}, {"a": (y + 1e-7) * ureg.V, "b": y + 1e-3},
                        rtol=0.0, atol={"a": 1 * ureg.uV, "b": 1e-2})
    assert report.passed
    assert report["a"].atol == pytest.approx(1e-6)


def test_compare_shape_names_and_transposed_hint():
    with pytest.raises(FwdModelsError, match=r"the reference looks transposed"):
        cv.compare(np.zeros((3, 5)), np.zeros((5, 3)))
    with pytest.raises(FwdModelsError, match=r"no quantity name in common"):
        cv.compare({"a": 1.0}, {"b": 1.0})
    with pytest.raises(FwdModelsError, match=r"'q' is not in the candidate"):
        cv.compare({"q": np.ones(2)}, {"x": np.ones(2)}, names=["q"])


def test_report_as_dict_is_json_and_non_finite_is_failure():
    ref = np.array([[1.0, np.nan], [np.inf, 2.0]])
    cand = np.array([[1.0, 1.0], [np.inf, 2.0]])
    report = cv.compare(ref, cand, names="bold")
    assert report["bold"].n_failed == 1 and report["bold"].first_failure == {"time": 0,
                                                                             "channel": 1}
    data = json.loads(json.dumps(report.as_dict(), allow_nan=False))
    assert data["passed"] is False
    assert data["quantities"][0]["name"] == "bold"
    assert data["quantities"][0]["max_abs"] == "inf"


def test_compare_accepts_simulate_bold_pair_jax_and_brainunit():
    z = _neural_input(T=50)
    pair = fwdmodels.simulate_bold(z, "1 ms", method="heun", return_states=True)
    jax_pair = {"bold": jnp.asarray(pair[0].magnitude), **{k: jnp.asarray(v)
                                                           for k, v in pair[1].items()}}
    report = cv.compare(jax_pair, pair)
    assert report.passed and [r.name for r in report.rows] == ["bold", "x", "f", "v", "q"]
    y = np.arange(6.0).reshape(3, 2)
    assert cv.compare(jnp.asarray(y) * u.mV, y * 1e-3 * ureg.V, rtol=1e-12).passed


# ============================================================================ BOLD diagnoses
def _bold_settings():
    return dict(z=_neural_input(), dt="1 ms")


def _wrong_reference(kind):
    """A reference made wrong on purpose, and the name the diagnosis must give."""
    z = _neural_input()
    params = fwdmodels.BalloonParams()
    if kind == "q/rho":
        _, st = fwdmodels.simulate_bold(z, "1 ms", method="heun", return_states=True)
        return z, "1 ms", cv.brainmass_bold(st, params), "q/rho in k2"
    if kind == "x=1":
        bold = fwdmodels.simulate_bold(z, "1 ms", method="heun", init="brainmass")
        return z, "1 ms", bold, "init=brainmass"
    if kind == "kappa-gamma":
        bold = fwdmodels.simulate_bold(z, "1 ms", method="heun",
                                       params=params.replace(kappa=1 / 0.65, gamma=1 / 0.41))
        return z, "1 ms", bold, "kappa,gamma inverted"
    if kind == "ms-as-s":                   # 0.1 ms meant, run at 0.1 s
        bold = fwdmodels.simulate_bold(z, "0.1 s", method="heun")
        return z, "0.1 ms", bold, "dt×1000"
    if kind == "dt×10":
        bold = fwdmodels.simulate_bold(z, "10 ms", method="heun")
        return z, "1 ms", bold, "dt×10"
    if kind == "brainmass-both":            # brainmass's bold() and start, against init=rest
        _, st = fwdmodels.simulate_bold(z, "1 ms", method="heun", init="brainmass",
                                        return_states=True)
        return z, "1 ms", cv.brainmass_bold(st, params), "q/rho in k2 + init=brainmass"
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["q/rho", "x=1", "kappa-gamma", "ms-as-s", "dt×10",
                                  "brainmass-both"])
def test_each_bold_diagnosis_on_a_deliberately_wrong_reference(kind):
    z, dt, reference, expected = _wrong_reference(kind)
    report = cv.diagnose_bold(z, dt, reference, method="heun", init="rest")
    assert not report.passed
    assert report.explanations == [expected]
    diagnosis = report.diagnoses[0]
    assert diagnosis.explanation.max_abs <= 1e-12
    assert "explained by:" in str(report)
    json.dumps(report.as_dict(), allow_nan=False)


def test_bold_diagnosis_of_an_unexplained_difference_says_so():
    z = _neural_input()
    bold = fwdmodels.simulate_bold(z, "1 ms", method="heun", tau=1.5)
    report = cv.diagnose_bold(z, "1 ms", bold, max_causes=1)
    assert report.explanations == []
    assert "no known cause explains the difference" in str(report)


def test_bold_agreement_has_no_diagnosis():
    z = _neural_input()
    out = fwdmodels.simulate_bold(z, "1 ms", method="rk4", return_states=True)
    report = cv.diagnose_bold(z, "1 ms", out, method="rk4")
    assert report.passed and report.diagnoses == []


def test_dt_in_ms_read_as_s_that_blows_up_is_still_named():
    """1 ms read as 1 s: Heun is unstable there; brainmass runs into NaN, fwdmodels stops."""
    z = _neural_input(T=60)
    ref = {"bold": np.full((60, N), np.nan)}
    p = fwdmodels.BalloonParams()
    state = {k: np.ones(N) if k != "x" else np.zeros(N) for k in "xfvq"}
    rows = []
    for t in range(60):            # the same Heun steps, without a domain check
        bold, state = _heun_unchecked(z[t], 1.0, p, state)
        rows.append(bold)
    ref["bold"] = np.array(rows)
    assert not np.isfinite(ref["bold"]).all()
    report = cv.diagnose_bold(z, "1 ms", ref)
    assert report.explanations == ["dt×1000"]
    assert "non-finite" in report.diagnoses[0].explanation.note


def _heun_unchecked(z, dt, p, s):
    def rhs(s):
        x, f, v, q = s["x"], s["f"], s["v"], s["q"]
        with np.errstate(all="ignore"):
            out = v ** (1 / p.alpha)
            e = 1 - (1 - p.rho) ** (1 / f)
            return {"x": z - p.kappa * x - p.gamma * (f - 1), "f": x,
                    "v": (f - out) / p.tau, "q": (f * e / p.rho - out * q / v) / p.tau}
    k1 = rhs(s)
    mid = {k: s[k] + dt * k1[k] for k in s}
    k2 = rhs(mid)
    new = {k: s[k] + 0.5 * dt * (k1[k] + k2[k]) for k in s}
    k1_, k2_, k3_ = p.bold_coefficients()
    with np.errstate(all="ignore"):
        bold = p.V0 * (k1_ * (1 - new["q"]) + k2_ * (1 - new["q"] / new["v"])
                       + k3_ * (1 - new["v"]))
    return bold, new


# ============================================================================ real brainmass
def test_brainmass_states_match_fwdmodels_heun_to_1e12_in_float64(brainmass_run64):
    z, out, model = brainmass_run64
    assert out["x"].dtype == np.float64
    params = fwdmodels.BalloonParams.from_brainmass(model)
    _, states = fwdmodels.simulate_bold(z, "1 ms", method="heun", init="brainmass",
                                        params=params, return_states=True)
    report = cv.compare({k: out[k] for k in "xfvq"}, states, rtol=1e-12, atol=0.0)
    assert report.passed, str(report)
    for k in "xfvq":
        assert report[k].max_rel <= 1e-12


def test_real_brainmass_bold_is_diagnosed_as_q_over_rho(brainmass_run64):
    z, out, _ = brainmass_run64
    report = cv.diagnose_bold(z, "1 ms", out, method="heun", init="brainmass")
    assert [r.name for r in report.rows if not r.passed] == ["bold"]
    assert report.explanations == ["q/rho in k2"]
    assert report.diagnoses[0].explanation.max_abs <= 1e-14
    # BOLD agrees once the q/rho term is accounted for
    _, states = fwdmodels.simulate_bold(z, "1 ms", method="heun", init="brainmass",
                                        return_states=True)
    assert cv.compare(out["bold"], cv.brainmass_bold(states), rtol=1e-12, atol=1e-15).passed
    # brainmass's bold() at rest reads -V0 k2 (1/rho - 1), not 0
    rest = cv.brainmass_bold({"v": np.ones(1), "q": np.ones(1)})
    assert rest[0] == pytest.approx(-0.02 * 2 * (1 / 0.34 - 1))


def test_real_brainmass_bold_against_rest_start_names_both_slips(brainmass_run64):
    z, out, _ = brainmass_run64
    report = cv.diagnose_bold(z, "1 ms", out["bold"], method="heun", init="rest")
    assert report.explanations == ["q/rho in k2 + init=brainmass"]


def test_brainmass_float32_agrees_within_float32_tolerance(brainmass_run32):
    z, out = brainmass_run32
    assert out["x"].dtype == np.float32
    report = cv.diagnose_bold(z, "1 ms", out, init="brainmass")
    assert all(report[k].passed for k in "xfvq")
    assert max(report[k].max_abs for k in "xfvq") < 1e-5
    assert report.explanations == ["q/rho in k2"]


# ============================================================================ lead fields
R, M, TL = 4, 5, 40


@pytest.fixture(scope="module")
def lf_data():
    rng = np.random.default_rng(3)
    return rng.normal(size=(R, M)), rng.normal(size=(TL, R))


@pytest.mark.parametrize("modality", ["eeg", "meg"])
@pytest.mark.parametrize("precision", [64, 32])
def test_leadfields_agree_with_brainmass_with_an_explicit_scale(lf_data, modality, precision):
    L, s = lf_data
    bu_sensor = u.volt if modality == "eeg" else u.tesla
    pint_sensor = "V" if modality == "eeg" else "T"
    cls = fwdmodels.EEGLeadFieldModel if modality == "eeg" else fwdmodels.MEGLeadFieldModel
    dtype = np.float64 if precision == 64 else np.float32
    with brainstate.environ.context(precision=precision):
        bm = brainmass.LeadFieldModel(
            in_size=(R,), out_size=(M,),
            L=jnp.asarray(L, dtype=dtype) * (bu_sensor / (u.nA * u.meter)),
            sensor_unit=bu_sensor, dipole_unit=u.nA * u.meter, scale=1.5 * u.nA * u.meter / u.mV)
        y = bm.update(jnp.asarray(s, dtype=dtype) * u.mV)
        assert y.dtype == dtype
    fm = cls(R, M, L * ureg(f"{pint_sensor}/(nA*m)"), dipole_scale=1.5 * ureg("nA*m/mV"),
             sensor_unit=pint_sensor, dtype=dtype)
    report = cv.compare(y, fm(s * ureg.mV), names="sensors")
    assert report.passed, str(report)
    eps = np.finfo(dtype).eps
    assert report["sensors"].max_abs <= 20 * eps * np.abs(s).sum(1).max() * np.abs(L).max() * 1.5


def test_brainmass_fixed_eeg_scale_on_a_bare_input_is_a_factor_1000(lf_data):
    L, s = lf_data
    with brainstate.environ.context(precision=64):
        bm = brainmass.EEGLeadFieldModel(in_size=(R,), out_size=(M,),
                                         L=jnp.asarray(L) * (u.volt / (u.nA * u.meter)))
        y = bm.update(jnp.asarray(s))          # bare input: V/mV, a plain array
    assert not hasattr(y, "unit")
    fm = fwdmodels.EEGLeadFieldModel(R, M, L * ureg("V/(nA*m)"),
                                     dipole_scale=1 * ureg("nA*m/mV"), sensor_unit="V")
    report = cv.diagnose_leadfield(fm, s, np.asarray(y))
    assert report.explanations == ["×1e3"]
    assert "as between V and mV" in str(report)


def test_brainmass_sensor_unit_not_applied_is_a_power_of_ten(lf_data):
    L, s = lf_data
    with brainstate.environ.context(precision=64):
        bm = brainmass.MEGLeadFieldModel(in_size=(R,), out_size=(M,),
                                         L=jnp.asarray(L) * (u.tesla / (u.nA * u.meter)),
                                         sensor_unit=u.ftesla)
        y = bm.update(jnp.asarray(s) * u.tesla)   # its fixed scale is nA*m/T
    assert y.unit == u.tesla                         # not the fT asked for
    fm = fwdmodels.MEGLeadFieldModel(R, M, L * ureg("T/(nA*m)"),
                                     dipole_scale=1 * ureg("nA*m/T"), sensor_unit="fT")
    report = cv.diagnose_leadfield(fm, s * ureg.T, np.asarray(y.mantissa))  # read as fT
    assert report.explanations == ["×1e-15"]
    # with its unit attached, the same output agrees
    assert cv.compare(y, fm(s * ureg.T), names="sensors").passed


def test_transposed_and_reshaped_leadfields_are_named(lf_data):
    L, s = lf_data
    unit = ureg("V/(nA*m)")
    fm = fwdmodels.EEGLeadFieldModel(R, M, L * unit, sensor_unit="V")
    wrong = (s @ L.T.reshape(R, M)) * ureg.V          # an (M, R) L reshaped, not transposed
    assert cv.diagnose_leadfield(fm, s, wrong).explanations == ["reshaped L"]
    square = np.random.default_rng(4).normal(size=(R, R))
    fm_sq = fwdmodels.EEGLeadFieldModel(R, R, square * unit, sensor_unit="uV")
    wrong = ((s @ square.T) * ureg.V).to("mV").magnitude   # transposed; mV read as µV
    report = cv.diagnose_leadfield(fm_sq, s, wrong)
    assert report.explanations == ["transposed L + ×1e-3"]
    assert "transposed" in report.diagnoses[0].explanation.description


def test_real_brainmass_noise_factor_is_named():
    C = np.array([[2.0, 0.5, 0.1], [0.5, 1.0, 0.3], [0.1, 0.3, 0.5]])
    L = np.eye(3)
    with brainstate.environ.context(precision=64):
        brainstate.random.seed(0)
        bm = brainmass.LeadFieldModel(
            in_size=(3,), out_size=(3,), L=jnp.asarray(L) * (u.volt / (u.nA * u.meter)),
            sensor_unit=u.volt, dipole_unit=u.nA * u.meter, scale=1.0 * u.nA * u.meter / u.mV,
            noise_cov=jnp.asarray(C) * u.volt ** 2)
        noise = bm.update(jnp.zeros((20000, 3)) * u.mV)
    report = cv.diagnose_noise(C * ureg("V**2"), noise)
    assert not report.passed
    assert report.explanations == ["z·Lc"]
    # the same check through diagnose_leadfield, with fwdmodels' own (correct) noise passing
    fm = fwdmodels.EEGLeadFieldModel(3, 3, L * ureg("V/(nA*m)"), sensor_unit="V",
                                     dipole_scale=1 * ureg("nA*m/mV"),
                                     noise_cov=C * ureg("V**2"), rng=0)
    s = np.ones((5, 3))
    report = cv.diagnose_leadfield(fm, s, s @ L * ureg.V, noise_only=noise)
    assert [r.name for r in report.rows] == ["sensors", "noise covariance"]
    assert report.explanations == ["z·Lc"]
    report = cv.diagnose_noise(C * ureg("V**2"), np.asarray(noise.mantissa) * ureg.mV)
    assert report.explanations == ["z·Lc + ×1e-6"]
    own = fwdmodels.EEGLeadFieldModel(3, 3, L * ureg("V/(nA*m)"), sensor_unit="V",
                                      noise_cov=C * ureg("V**2"), rng=1)
    assert cv.diagnose_noise(C * ureg("V**2"), own(np.zeros((20000, 3)))).passed


def test_diagonal_noise_covariance_cannot_tell_the_factor_apart():
    rng = np.random.default_rng(2)
    C = np.diag([1.0, 2.0, 0.5])
    samples = rng.normal(size=(5000, 3)) * np.sqrt(np.diag(C))
    report = cv.diagnose_noise(C, samples)
    assert report.passed and "could not be told apart" in report.rows[0].note


def test_diagnose_leadfield_compares_without_noise_and_needs_a_covariance(lf_data):
    L, s = lf_data
    fm = fwdmodels.EEGLeadFieldModel(R, M, L * ureg("V/(nA*m)"), snr_db=0, rng=0)
    assert cv.diagnose_leadfield(fm, s, s @ L).passed            # noise left out
    with pytest.raises(FwdModelsError, match="`noise_only` needs the covariance"):
        cv.diagnose_leadfield(fm, s, s @ L, noise_only=np.zeros((10, M)))
    ratio = 1.7
    report = cv.diagnose_leadfield(fm, s, ratio * (s @ L))
    assert report.explanations == []
    assert "best-fitting factor is 1.7, not a power of ten" in str(report)


# ============================================================================ adapters
@pytest.mark.parametrize("precision, dtype", [(32, np.float32), (64, np.float64)])
def test_from_brainunit_on_jax_quantities(precision, dtype):
    with brainstate.environ.context(precision=precision):
        q = jnp.asarray([1.0, 2.5], dtype=dtype) * u.mV
        assert isinstance(q.mantissa, jax.Array)
        p = from_brainunit(q)
    assert p.magnitude.dtype == dtype
    np.testing.assert_allclose(p.to("V").magnitude, [1e-3, 2.5e-3], rtol=1e-6)
    assert from_brainunit(3.0 * u.nA * u.meter).to("A*m").magnitude == pytest.approx(3e-9)


@pytest.mark.parametrize("precision, dtype", [(32, np.float32), (64, np.float64)])
def test_simulate_bold_on_jax_arrays_and_brainunit_dt(precision, dtype):
    z = _neural_input(T=100)
    expected = fwdmodels.simulate_bold(z.astype(dtype), "1 ms", method="heun")
    with brainstate.environ.context(precision=precision):
        zj = jnp.asarray(z, dtype=dtype)
        dt = 1.0 * u.ms
        got = fwdmodels.simulate_bold(zj, dt, method="heun")
        got_rate = fwdmodels.simulate_bold(zj * u.Hz, dt, method="heun")
    assert isinstance(got.magnitude, np.ndarray) and got.magnitude.dtype == np.float64
    np.testing.assert_array_equal(got.magnitude, expected.magnitude)
    np.testing.assert_array_equal(got_rate.magnitude, expected.magnitude)


@pytest.mark.parametrize("precision, dtype", [(32, np.float32), (64, np.float64)])
def test_leadfield_models_on_jax_arrays_and_brainunit_quantities(lf_data, precision, dtype):
    L, s = lf_data
    with brainstate.environ.context(precision=precision):
        Lb = jnp.asarray(L, dtype=dtype) * (u.uvolt / (u.nA * u.meter))
        sb = jnp.asarray(s, dtype=dtype) * u.nA * u.meter
        model = fwdmodels.EEGLeadFieldModel(R, M, Lb, sensor_unit="uV", dtype=dtype)
        y_q = model(sb)
        y_bare = model(jnp.asarray(s, dtype=dtype))
    expected = s.astype(dtype).astype(np.float64) @ L.astype(dtype).astype(np.float64)
    for y in (y_q, y_bare):
        assert isinstance(y.magnitude, np.ndarray) and y.magnitude.dtype == dtype
        assert f"{y.units:~}" == "µV"
        np.testing.assert_allclose(y.magnitude, expected, rtol=5 * np.finfo(dtype).eps * 10,
                                   atol=20 * np.finfo(dtype).eps * np.abs(expected).max())


# ============================================================================ CLI
def _cli(argv):
    parser = argparse.ArgumentParser(prog="fwdmodels")
    sub = parser.add_subparsers(dest="command")
    cli_crossval.add_parser(sub)
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_bold_names_the_cause_and_exits_1(tmp_path, capsys, brainmass_run64):
    z, out, _ = brainmass_run64
    np.save(tmp_path / "z.npy", z)
    np.savez(tmp_path / "ref.npz", **out)
    rc = _cli(["crossval", "bold", str(tmp_path / "z.npy"), str(tmp_path / "ref.npz"),
               "--dt", "1 ms", "--init", "brainmass"])
    text = capsys.readouterr().out
    assert rc == 1
    assert "explained by: q/ρ in the k2 term" in text
    rc = _cli(["crossval", "bold", str(tmp_path / "z.npy"), str(tmp_path / "ref.npz"),
               "--reference-key", "q", "--dt", "1ms", "--init", "brainmass", "--format", "json"])
    assert rc == 1            # one array, read as BOLD: q is not BOLD
    json.loads(capsys.readouterr().out)


def test_cli_bold_agreement_exits_0(tmp_path, capsys):
    z = _neural_input(T=80)
    bold, states = fwdmodels.simulate_bold(z, "1 ms", method="heun", return_states=True)
    np.save(tmp_path / "z.npy", z)
    np.savez(tmp_path / "ref.npz", bold=bold.magnitude, **states)
    rc = _cli(["crossval", "bold", str(tmp_path / "z.npy"), str(tmp_path / "ref.npz"),
               "--dt", "1 ms", "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    assert rc == 0 and data["passed"] is True and len(data["quantities"]) == 5


def test_cli_eeg_and_bad_input(tmp_path, capsys, lf_data):
    L, s = lf_data
    np.save(tmp_path / "s.npy", s)
    np.save(tmp_path / "L.npy", L)
    np.save(tmp_path / "y.npy", s @ L * 1e3)        # in mV, compared as V
    base = ["crossval", "eeg", str(tmp_path / "s.npy"), str(tmp_path / "L.npy"),
            str(tmp_path / "y.npy"), "--leadfield-unit", "V/(nA*m)", "--sensor-unit", "V"]
    assert _cli(base) == 1
    assert "explained by: a unit factor: the reference is 1e3" in capsys.readouterr().out
    assert _cli(base + ["--reference-unit", "mV"]) == 0
    C = np.array([[2.0, 0.5, 0.1, 0, 0], [0.5, 1.0, 0.3, 0, 0], [0.1, 0.3, 0.5, 0, 0],
                  [0, 0, 0, 1.0, 0.2], [0, 0, 0, 0.2, 1.0]])
    z = np.random.default_rng(5).standard_normal((20000, M))
    np.save(tmp_path / "C.npy", C * 1e-6)                          # V**2 (the sensor unit)
    np.save(tmp_path / "noise.npy", z @ np.linalg.cholesky(C))     # mV; brainmass's draw
    capsys.readouterr()
    assert _cli(base + ["--reference-unit", "mV", "--noise-cov", str(tmp_path / "C.npy"),
                        "--noise-only", str(tmp_path / "noise.npy"), "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert [q["name"] for q in data["quantities"]] == ["sensors", "noise covariance"]
    assert data["diagnoses"][0]["explanation"]["name"] == "z·Lc"
    np.save(tmp_path / "noise.npy", z @ np.linalg.cholesky(C).T)   # the right draw
    assert _cli(base + ["--reference-unit", "mV", "--noise-cov", str(tmp_path / "C.npy"),
                        "--noise-only", str(tmp_path / "noise.npy")]) == 0
    with pytest.raises(FwdModelsError, match="no such file"):
        _cli(["crossval", "bold", str(tmp_path / "nope.npy"), str(tmp_path / "y.npy"),
              "--dt", "1 ms"])
    with pytest.raises(FwdModelsError, match=r"`dt` must have the dimension \[time\]"):
        _cli(["crossval", "bold", str(tmp_path / "s.npy"), str(tmp_path / "y.npy"),
              "--dt", "0.001"])
    with pytest.raises(FwdModelsError, match="has no array 'nope'"):
        np.savez(tmp_path / "r.npz", bold=s)
        _cli(["crossval", "bold", str(tmp_path / "s.npy"), str(tmp_path / "r.npz"),
              "--reference-key", "nope", "--dt", "1 ms"])


def test_cli_float32_reference_gets_the_api_tolerance_and_names_the_slip(tmp_path, capsys,
                                                                         lf_data):
    """brainmass's default precision is float32: its bare-input EEG (the fixed 1 nA·m/mV
    scale, V per mV) read by the command line must be judged at 1e-4 as in Python, where the
    ×1e3 slip explains it; at float64's 1e-9 no cause would."""
    L, s = lf_data
    with brainstate.environ.context(precision=32):
        bm = brainmass.EEGLeadFieldModel(in_size=(R,), out_size=(M,),
                                         L=jnp.asarray(L, dtype=jnp.float32)
                                         * (u.volt / (u.nA * u.meter)))
        y = np.asarray(bm.update(jnp.asarray(s, dtype=jnp.float32)))
    assert y.dtype == np.float32
    np.save(tmp_path / "s.npy", s)
    np.save(tmp_path / "L.npy", L)
    np.save(tmp_path / "y.npy", y)
    fm = fwdmodels.EEGLeadFieldModel(R, M, L * ureg("V/(nA*m)"), dipole_scale="1 nA*m/mV",
                                     sensor_unit="V")
    api = cv.diagnose_leadfield(fm, s, y)
    assert api.rows[0].rtol == 1e-4 and api.explanations == ["×1e3"]
    argv = ["crossval", "eeg", str(tmp_path / "s.npy"), str(tmp_path / "L.npy"),
            str(tmp_path / "y.npy"), "--leadfield-unit", "V/(nA*m)", "--scale", "1 nA*m/mV",
            "--format", "json"]
    assert _cli(argv) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["quantities"][0]["rtol"] == 1e-4
    assert data["diagnoses"][0]["explanation"]["name"] == "×1e3"
    assert _cli(argv[:-2]) == 1
    text = capsys.readouterr().out
    assert "rtol=0.0001" in text and "explained by: a unit factor: the reference is 1e3" in text
    np.save(tmp_path / "y64.npy", y.astype(np.float64))     # the same numbers as float64
    assert _cli(argv[:4] + [str(tmp_path / "y64.npy")] + argv[5:-2]) == 1
    assert "no known cause" in capsys.readouterr().out


def test_cli_float32_bold_reference_uses_the_api_tolerance(tmp_path, capsys, brainmass_run32):
    z, out = brainmass_run32
    np.save(tmp_path / "z.npy", z)
    np.savez(tmp_path / "ref.npz", **out)
    api = cv.diagnose_bold(z, "1 ms", out, init="brainmass", method="heun")
    assert _cli(["crossval", "bold", str(tmp_path / "z.npy"), str(tmp_path / "ref.npz"),
                 "--dt", "1 ms", "--init", "brainmass", "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert {q["rtol"] for q in data["quantities"]} == {r.rtol for r in api.rows} == {1e-4}
    assert data["diagnoses"][0]["explanation"]["name"] == api.explanations[0] == "q/rho in k2"


def test_cli_reads_a_leadfield_file_with_its_unit(tmp_path, capsys, lf_data):
    from fwdmodels.io.leadfield_file import RegionLeadField, write_leadfield_file

    L, s = lf_data
    lf = RegionLeadField(L=L * ureg("V/(nA*m)"), ch_type="eeg",
                         sensor_names=tuple(f"E{i}" for i in range(M)))
    write_leadfield_file(tmp_path / "lf.h5", lf)
    np.save(tmp_path / "s.npy", s)
    np.save(tmp_path / "y.npy", s @ L)                   # V, for s in nA·m
    base = ["crossval", "eeg", str(tmp_path / "s.npy"), str(tmp_path / "lf.h5"),
            str(tmp_path / "y.npy")]
    assert _cli(base) == 0
    assert "AGREE" in capsys.readouterr().out
    assert _cli(base + ["--leadfield-unit", "V/(nA*m)"]) == 0
    with pytest.raises(FwdModelsError, match="conflicts with the unit"):
        _cli(base + ["--leadfield-unit", "V/(A*m)"])
    np.save(tmp_path / "L.npy", L)
    with pytest.raises(FwdModelsError, match="stores no unit; pass --leadfield-unit"):
        _cli(base[:3] + [str(tmp_path / "L.npy"), base[4]])


# ------------------------------------------------------------------ hostile references
def test_cli_refuses_pickled_and_corrupt_references(tmp_path):
    from hostile_files import npz_bad_deflate

    z = _neural_input(T=50)
    np.save(tmp_path / "z.npy", z)
    np.savez(tmp_path / "pick.npz", bold=np.array([1, {"a": 2}], dtype=object))
    np.save(tmp_path / "pick.npy", np.array([z, None], dtype=object), allow_pickle=True)
    base = ["crossval", "bold", str(tmp_path / "z.npy")]
    for name in ("pick.npz", "pick.npy"):
        with pytest.raises(FwdModelsError, match=r"REFERENCE: '.*pick.np[yz]' holds pickled "
                                                 r"Python objects, which fwdmodels refuses"):
            _cli(base + [str(tmp_path / name), "--dt", "1 ms"])
    npz_bad_deflate(tmp_path / "bad.npz", np.tile(z, (20, 1)))
    with pytest.raises(FwdModelsError, match=r"REFERENCE: cannot read '.*bad.npz' as .npy or "
                                             r".npz \(error: Error -3 while decompressing"):
        _cli(base + [str(tmp_path / "bad.npz"), "--dt", "1 ms"])


def test_reference_non_finite_from_the_start_is_named_not_diagnosed(tmp_path):
    z = _neural_input(T=50)
    ref = np.full((50, N), np.nan)
    with pytest.raises(FwdModelsError, match=r"`reference` \('bold'\) holds nan at time index "
                                             r"0, channel 0: it is not finite from its first "
                                             r"row, so there is nothing to compare"):
        cv.diagnose_bold(z, "1 ms", ref)
    ref[0] = 0.0
    ref[0, 2] = np.inf
    with pytest.raises(FwdModelsError, match=r"holds inf at time index 0, channel 2"):
        cv.diagnose_bold(z, "1 ms", {"bold": ref})


def test_report_names_the_first_non_finite_value_of_either_side():
    r = np.zeros((10, 3))
    c = np.zeros((10, 3))
    r[5, 1], r[7, 0], c[2, 2] = np.nan, np.inf, -np.inf
    report = cv.compare(r, c, names="bold")
    note = report["bold"].note
    assert "the reference holds nan at t=5, ch=1 (its first non-finite value; 2 in all)" in note
    assert "the candidate holds -inf at t=2, ch=2 (its first non-finite value; 1 in all)" in note
    assert "the reference holds nan at t=5, ch=1" in str(report)
