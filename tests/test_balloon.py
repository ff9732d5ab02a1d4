"""Tests of the Balloon-Windkessel BOLD model: simulate_bold and the BOLDSignal step API.

The oracle (tests/naive.py) is an independent transcription of the published equations
(``naive.balloon_rhs``, plain ``**`` powers) integrated by ``scipy.integrate.solve_ivp`` at
tight tolerance over each piece of the piecewise-constant input (``naive.balloon_states``),
with the closed-form fixed point and the published BOLD coefficients beside it.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fwdmodels
import naive
from fwdmodels import BalloonParams, BOLDSignal, simulate_bold, steady_state, ureg
from fwdmodels.errors import DomainError, FwdModelsError
from fwdmodels.hemodynamics import PRESETS
from fwdmodels.hemodynamics._kernels import integrate as numba_integrate  # noqa: F401

METHODS = ["euler", "heun", "rk4"]


def _H(prm):
    """The oracle's plain parameters (kappa, gamma, tau, alpha, rho) of a parameter set."""
    return (prm.kappa, prm.gamma, prm.tau, prm.alpha, prm.rho)


def _coefficients(prm):
    """k1, k2, k3 of the parameter set's observation, from the published formulas."""
    return naive.bold_coefficients(prm.observation, prm.rho, prm.nu0, prm.r0, prm.TE,
                                   prm.epsilon)


def _boxcar(dt, duration, on=(0.0, 2.0), amplitude=1.0):
    T = int(round(duration / dt))
    t_start = np.arange(T) * dt
    z = np.where((t_start >= on[0] - 1e-12) & (t_start < on[1] - 1e-12), amplitude, 0.0)
    return z[:, None]


# --------------------------------------------------------------------------- rest and fixed point
@pytest.mark.parametrize("preset", sorted(PRESETS))
@pytest.mark.parametrize("method", METHODS + ["reference"])
@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_rest_stays_exactly_at_rest(preset, method, backend):
    z = np.zeros((50, 3))
    bold, states = simulate_bold(z, "10 ms", params=preset, method=method, backend=backend,
                                 return_states=True)
    assert np.all(bold.magnitude == 0.0)
    assert np.all(states["x"] == 0.0) and np.all(states["q"] == 1.0)
    assert np.all(states["f"] == 1.0) and np.all(states["v"] == 1.0)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("preset", ["friston2003", "spm12", "stephan2007_7T"])
def test_constant_input_converges_to_closed_form_fixed_point(method, preset):
    zc = np.array([0.2, 0.5, -0.1])
    z = np.tile(zc, (6000, 1))
    dt = "50 ms" if method != "euler" else "20 ms"
    bold, states = simulate_bold(z, dt, params=preset, method=method, return_states=True)
    prm = BalloonParams.preset(preset)
    # independent closed form: x = 0, f = 1 + z/gamma, v = f**alpha, q = v E(f) / rho
    _, f, v, q = naive.balloon_fixed_point(zc, _H(prm))
    np.testing.assert_allclose(states["x"][-1], 0.0, atol=1e-10)
    np.testing.assert_allclose(states["f"][-1], f, atol=1e-10)
    np.testing.assert_allclose(states["v"][-1], v, atol=1e-10)
    np.testing.assert_allclose(states["q"][-1], q, atol=1e-10)
    fixed = steady_state(zc, preset)
    np.testing.assert_allclose(bold.magnitude[-1], fixed["bold"].magnitude, atol=1e-10)
    np.testing.assert_allclose(fixed["bold"].magnitude,
                               naive.balloon_bold(v, q, prm.V0, _coefficients(prm)), rtol=1e-12)


def test_steady_init_is_a_fixed_point():
    zc = np.array([0.3, 0.8])
    bold = simulate_bold(np.tile(zc, (500, 1)), "10 ms", init="steady")
    np.testing.assert_allclose(bold.magnitude, np.broadcast_to(bold.magnitude[0], (500, 2)),
                               rtol=0, atol=1e-13)
    assert np.all(bold.magnitude > 0)


def test_steady_state_requires_positive_inflow():
    with pytest.raises(FwdModelsError, match=r"`z` must exceed -gamma = -0.41 .*; got -0.5"):
        steady_state(-0.5)


# --------------------------------------------------------------------------- accuracy
def test_rk4_matches_tight_solve_ivp_on_a_boxcar():
    dt = 1e-3
    z = _boxcar(dt, 12.0, on=(1.0, 3.0))
    prm = BalloonParams()
    _, states = simulate_bold(z, "1 ms", method="rk4", return_states=True)
    t_grid = (np.arange(z.shape[0]) + 1) * dt
    ref = naive.balloon_states([(1.0, 0.0), (3.0, 1.0), (t_grid[-1], 0.0)], t_grid[99::100],
                               _H(prm))
    got = np.stack([states[k][99::100, 0] for k in "xfvq"])
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-9)


def test_reference_method_matches_oracle():
    dt = 0.01
    z = _boxcar(dt, 6.0, on=(0.5, 2.0), amplitude=0.8)
    prm = BalloonParams.preset("spm12")
    _, states = simulate_bold(z, "10 ms", params="spm12", method="reference", return_states=True)
    t_grid = (np.arange(z.shape[0]) + 1) * dt
    ref = naive.balloon_states([(0.5, 0.0), (2.0, 0.8), (t_grid[-1], 0.0)], t_grid, _H(prm))
    np.testing.assert_allclose(np.stack([states[k][:, 0] for k in "xfvq"]), ref, atol=1e-10)


@pytest.mark.parametrize("method, order, dts", [
    ("euler", 1, (0.04, 0.02, 0.01)),
    ("heun", 2, (0.08, 0.04, 0.02)),
    ("rk4", 4, (0.2, 0.1, 0.05)),
])
def test_observed_convergence_order(method, order, dts):
    prm = BalloonParams()
    duration = 8.0
    ref = naive.balloon_states([(2.0, 1.0), (duration, 0.0)], [duration], _H(prm))
    errors = []
    for dt in dts:
        z = _boxcar(dt, duration)
        _, states = simulate_bold(z, dt * ureg.s, method=method, return_states=True)
        got = np.array([states[k][-1, 0] for k in "xfvq"])
        errors.append(np.max(np.abs(got - ref[:, -1])))
    observed = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all(np.abs(observed - order) < 0.25), (errors, observed)


# --------------------------------------------------------------------------- paths and chunks
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("preset", ["friston2003", "stephan2007"])
def test_numpy_and_numba_paths_agree(method, preset):
    rng = np.random.default_rng(1)
    z = np.abs(np.cumsum(rng.normal(0, 0.05, (3000, 4)), axis=0))
    a, sa = simulate_bold(z, "2 ms", method=method, params=preset, backend="numpy",
                          return_states=True)
    b, sb = simulate_bold(z, "2 ms", method=method, params=preset, backend="numba",
                          return_states=True)
    for k in "fvq":
        np.testing.assert_allclose(sa[k], sb[k], rtol=1e-12, atol=0)
    scale = np.max(np.abs(a.magnitude))
    np.testing.assert_allclose(a.magnitude, b.magnitude, rtol=0, atol=1e-12 * scale)
    np.testing.assert_allclose(sa["x"], sb["x"], rtol=0, atol=1e-12 * np.max(np.abs(sa["x"])))


@settings(max_examples=25, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=6),
       method=st.sampled_from(METHODS), backend=st.sampled_from(["numpy", "numba"]))
def test_chunks_give_the_same_numbers_as_one_go(cuts, method, backend):
    rng = np.random.default_rng(0)
    z = rng.uniform(0, 1, (400, 3))
    whole = simulate_bold(z, "5 ms", method=method, backend=backend).magnitude
    model = BOLDSignal(3, "5 ms", method=method, backend=backend)
    model.init_all_states()
    # the split method restarts its hemodynamic steps with each call: pieces of whole steps
    piece = model.plan.piece
    edges = sorted(set([0, 400] + [min(400, c // piece * piece) for c in cuts]))
    pieces = [model.run(z[a:b]).magnitude for a, b in zip(edges[:-1], edges[1:])]
    np.testing.assert_array_equal(np.concatenate(pieces), whole)
    assert model.n_steps == 400


@pytest.mark.parametrize("method", METHODS)
def test_step_api_equals_run_and_follows_the_time_convention(method):
    rng = np.random.default_rng(3)
    z = rng.uniform(0, 1, (30, 2))
    # update() takes one step of dt: the split method's hemodynamic step is then dt too
    extra = {"hemo_dt": "10 ms"} if method == "split" else {}
    whole = simulate_bold(z, "10 ms", method=method, **extra).magnitude
    model = BOLDSignal(in_size=2, dt="10 ms", method=method)
    model.init_all_states()
    for n in range(30):
        model.update(z[n])
        np.testing.assert_array_equal(model.bold().magnitude, whole[n])
    assert model.time.to("s").magnitude == pytest.approx(0.3)
    assert model.x.shape == (2,) and model.q.dtype == np.float64


def test_step_api_output_units_in_every_form_and_a_bad_unit_every_time():
    z = np.full((20, 2), 0.4)
    whole = simulate_bold(z, "10 ms", hemo_dt="10 ms").magnitude
    model = BOLDSignal(in_size=2, dt="10 ms")
    model.init_all_states()
    for zt in z:
        model.update(zt)
    import pint

    other = pint.UnitRegistry().percent           # a unit of a registry of the user's own
    for unit in ("percent", fwdmodels.ureg.percent, "percent", other, fwdmodels.ureg.percent):
        out = model.bold(unit)
        assert str(out.units) == "percent"
        np.testing.assert_allclose(out.magnitude, 100 * whole[-1], rtol=1e-15)
    assert model.bold().units == fwdmodels.ureg.dimensionless
    np.testing.assert_array_equal(model.bold().magnitude, whole[-1])
    for _ in range(2):                                 # a refused unit is refused again
        with pytest.raises(FwdModelsError, match=r"`unit` must be dimensionless .* got mV"):
            model.bold("mV")


def test_batch_equals_separate_runs():
    rng = np.random.default_rng(4)
    z = rng.uniform(0, 1, (3, 200, 2))
    batch = simulate_bold(z, "10 ms", tr="0.5 s")
    assert batch.shape == (3, 4, 2)
    for b in range(3):
        np.testing.assert_array_equal(batch.magnitude[b],
                                      simulate_bold(z[b], "10 ms", tr="0.5 s").magnitude)


# --------------------------------------------------------------------------- TR, units, dtype
def test_tr_sampling_takes_values_at_multiples_of_tr():
    rng = np.random.default_rng(5)
    z = rng.uniform(0, 1, (1000, 2))
    full = simulate_bold(z, "2 ms").magnitude
    at_tr = simulate_bold(z, "2 ms", tr="0.5 s").magnitude
    # t = k * 0.5 s is row k * 250 - 1
    np.testing.assert_array_equal(at_tr, full[[249, 499, 749, 999]])
    mean = simulate_bold(z, "2 ms", tr="0.5 s", tr_mode="mean").magnitude
    np.testing.assert_allclose(mean[1], full[250:500].mean(axis=0), rtol=1e-14)


def test_output_units_and_dtype():
    z = np.ones((100, 2))
    frac = simulate_bold(z, "10 ms")
    pct = simulate_bold(z, "10 ms", unit="percent", dtype="float32")
    assert frac.units == ureg.dimensionless and pct.units == ureg.percent
    assert pct.magnitude.dtype == np.float32
    np.testing.assert_allclose(pct.to("dimensionless").magnitude, frac.magnitude, rtol=1e-6)


def test_quantity_inputs_are_accepted():
    z = np.ones((100, 1))
    a = simulate_bold(z, "1 ms").magnitude
    np.testing.assert_array_equal(simulate_bold(z * ureg.dimensionless, 1 * ureg.ms).magnitude, a)
    np.testing.assert_array_equal(simulate_bold(z * ureg.Hz, "1000 us").magnitude, a)
    # a JAX-like array arrives through np.asarray
    np.testing.assert_array_equal(simulate_bold(z.tolist(), "1 ms").magnitude, a)


def test_overrides_and_aliases():
    z = np.zeros((400, 1))
    z[:100] = 1
    a = simulate_bold(z, "10 ms", tau_s=1 / 0.8).magnitude
    b = simulate_bold(z, "10 ms", params=BalloonParams(kappa=0.8)).magnitude
    np.testing.assert_array_equal(a, b)


def test_state_init_dict_and_params_aliases_on_the_model():
    model = BOLDSignal(2, "1 ms", params="spm12", E_0=0.35)
    assert model.params.rho == 0.35
    model.init_all_states({"x": 0.0, "f": 1.0, "v": [1.0, 1.1], "q": 1.0})
    np.testing.assert_array_equal(model.v, [1.0, 1.1])
    assert model.bold().magnitude[0] == 0.0 and model.bold().magnitude[1] != 0.0


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs, z, message", [
    ({}, np.zeros(10), r"`z` must be 2-D or 3-D; got shape \(10,\) \(1-D\)"),
    ({}, np.zeros((2, 2, 2, 2)), r"`z` must be 2-D or 3-D; got shape \(2, 2, 2, 2\)"),
    ({"dt": 0.001}, np.zeros((10, 2)), r"`dt` must carry a unit; got 0.001 \(no unit\)"),
    ({"dt": "-1 ms"}, np.zeros((10, 2)), r"`dt` must be positive and finite; got -0.001 s"),
    ({"dt": "1e-30 s"}, np.zeros((10, 2)), r"`dt` must be at least 1e-09 s \(1 ns\)"),
    ({"dt": "inf s"}, np.zeros((10, 2)), r"`dt` must be finite; got inf s"),
    ({"dt": "1 m"}, np.zeros((10, 2)), r"`dt` must have the dimension \[time\]"),
    ({"tr": "2.5 ms"}, np.zeros((10, 2)), r"`tr` must be a whole multiple of dt; got tr = "
                                          r"0.0025 s and dt = 0.001 s"),
    ({"tr": 2}, np.zeros((10, 2)), r"`tr` must carry a unit"),
    ({"params": "friston1900"}, np.zeros((10, 2)), r"`params` must be one of 'friston2003'.*; "
                                                   r"got 'friston1900'"),
    ({"method": "rk45"}, np.zeros((10, 2)), r"`method` must be one of 'split', 'euler', 'heun', "
                                            r"'rk4', 'reference'; got 'rk45'"),
    ({"alpha": 1.2}, np.zeros((10, 2)), r"`alpha` must lie strictly between 0.0 and 1.0; got 1.2"),
    ({"rho": 0}, np.zeros((10, 2)), r"`rho` must lie strictly between 0.0 and 1.0; got 0.0"),
    ({"tau": -1}, np.zeros((10, 2)), r"`tau` must be positive and finite; got -1.0 s"),
    ({"tau_s": 0}, np.zeros((10, 2)), r"`tau_s` must be positive and finite; got 0.0 s"),
    ({"init": "resting"}, np.zeros((10, 2)),
     r"`init` must be one of 'rest', 'steady', 'brainmass'; got"),
    ({"tr_mode": "median"}, np.zeros((10, 2)), r"`tr_mode` must be one of 'sample', 'mean'"),
    ({"dtype": "int32"}, np.zeros((10, 2)), r"`dtype` must be float32 or float64; got 'int32'"),
    ({"unit": "mV"}, np.zeros((10, 2)), r"`unit` must be dimensionless"),
    ({"backend": "cuda"}, np.zeros((10, 2)), r"`backend` must be one of 'auto', 'numba', "
                                             r"'numpy'; got 'cuda'"),
    ({"speed": 3}, np.zeros((10, 2)), r"BalloonParams got an unknown parameter 'speed'"),
    ({}, np.array([["a", "b"]]), r"`z` must hold real numbers; got dtype <U1"),
    ({}, np.zeros((10, 2)) * ureg.mV, r"`z` must be dimensionless, a rate \(e.g. Hz\) or in "
                                      r"s\^-2; got unit mV"),
])
def test_bad_inputs_raise_clear_errors(kwargs, z, message):
    kwargs = {"dt": "1 ms", **kwargs}
    dt = kwargs.pop("dt")
    with pytest.raises(FwdModelsError, match=message):
        simulate_bold(z, dt, **kwargs)


def test_nan_input_names_first_index():
    z = np.zeros((20, 3))
    z[7, 2] = np.nan
    z[9, 0] = np.inf
    with pytest.raises(FwdModelsError, match=r"`z` must be finite; found nan at time index 7, "
                                             r"region 2"):
        simulate_bold(z, "1 ms")


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_leaving_the_domain_names_time_and_region(method, backend):
    z = np.zeros((400, 3))
    z[:, 1] = -20.0  # drives the inflow below zero
    with pytest.raises(DomainError, match=r"left its domain at time index \d+ \(t = .* s\), "
                                          r"region 1: f = .*Use a smaller dt or method='rk4'") as e:
        simulate_bold(z, "10 ms", method=method, backend=backend)
    assert e.value.region == 1
    # every backend reports the same first failing step
    other = "numpy" if backend == "numba" else "numba"
    with pytest.raises(DomainError) as e2:
        simulate_bold(z, "10 ms", method=method, backend=other)
    assert e2.value.time_index == e.value.time_index


def test_failed_run_leaves_the_model_state_unchanged():
    model = BOLDSignal(2, "10 ms")
    model.init_all_states()
    model.run(np.ones((10, 2)))
    before = (model.f, model.n_steps)
    with pytest.raises(DomainError, match=r"time index \d+") as err:
        model.run(np.full((300, 2), -20.0))
    assert err.value.time_index > 10  # counted from the model's first step
    np.testing.assert_array_equal(model.f, before[0])
    assert model.n_steps == before[1]


def test_step_api_errors():
    model = BOLDSignal(3, "1 ms")
    with pytest.raises(FwdModelsError, match=r"call `init_all_states\(\)` first"):
        model.bold()
    model.init_all_states()
    with pytest.raises(FwdModelsError, match=r"`z` must have shape \(3,\) \(one sample\); "
                                             r"got \(4,\)"):
        model.update(np.zeros(4))
    with pytest.raises(FwdModelsError, match=r"`z` must have shape \(T, 3\); got \(5, 4\)"):
        model.run(np.zeros((5, 4)))
    with pytest.raises(FwdModelsError, match=r"`in_size` must be at least 1; got 0"):
        BOLDSignal(0, "1 ms")
    with pytest.raises(FwdModelsError, match=r"init='steady' needs the constant input"):
        model.init_all_states("steady")
    with pytest.raises(FwdModelsError, match=r"`init` as a dict must have exactly the keys"):
        model.init_all_states({"x": 0})
    with pytest.raises(FwdModelsError, match=r"`init\['v'\]` must be positive; got -1.0"):
        model.init_all_states({"x": 0, "f": 1, "v": -1, "q": 1})


def test_top_level_exports():
    for name in ["BOLDSignal", "simulate_bold", "BalloonParams", "steady_state", "ureg",
                 "FwdModelsError"]:
        assert hasattr(fwdmodels, name)


def test_parallel_blocks_agree_and_report_the_first_failure():
    """Large inputs run as blocks of regions on several threads; nothing may change."""
    from fwdmodels.hemodynamics import _kernels

    rng = np.random.default_rng(7)
    N = 4 * _kernels.MIN_BLOCK
    T = _kernels.PARALLEL_THRESHOLD // N + 10
    z = rng.uniform(0, 1, (T, N))
    a = simulate_bold(z, "5 ms", method="heun", backend="numba").magnitude
    b = simulate_bold(z, "5 ms", method="heun", backend="numpy").magnitude
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-12 * np.abs(b).max())
    # failures in two blocks: the earlier time wins, whatever block it is in
    z[:, N - 1] = np.where(np.arange(T) >= 40, -40.0, z[:, N - 1])
    z[:, 0] = np.where(np.arange(T) >= 90, -40.0, z[:, 0])
    errors = []
    for backend in ("numba", "numpy"):
        with pytest.raises(DomainError) as err:
            simulate_bold(z, "5 ms", method="heun", backend=backend)
        errors.append((err.value.time_index, err.value.region))
    assert errors[0] == errors[1] and errors[0][1] == N - 1
