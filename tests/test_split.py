"""The split method: its accuracy promise on the inputs most likely to break it, its exact
linear part, and its agreement across backends, pieces and per-region parameters.

The reference is RK4 at the input step (``method="rk4"``), itself checked against a tight
``solve_ivp`` and a loop transcription of the equations in ``tests/test_balloon.py``; at
0.1 ms its own error is far below the promise (its convergence is fourth order).
"""

import numpy as np
import pytest
import scipy.linalg
from hypothesis import given, settings
from hypothesis import strategies as st

import fwdmodels
from fwdmodels import BalloonParams, BOLDSignal, simulate_bold
from fwdmodels._numba import JIT_ENABLED
from fwdmodels.errors import DomainError, FwdModelsError
from fwdmodels.hemodynamics.split import hold_coefficients

DT = 1e-4                      # 0.1-ms input, as from a neural-mass simulation
DURATION = 24.0
PROMISE = 1e-6                 # of the BOLD range, for hemo_dt up to 50 ms
DEFAULT_PROMISE = 1e-7         # at the default step (20 ms)


def _t(duration=DURATION, dt=DT):
    return np.arange(int(round(duration / dt))) * dt


def _block(t, period=12.0):
    return ((t % period) < period / 2).astype(float)


def _bursts(t, window, length=5e-3, amplitude=3.0, at_end=True, offset=0.0):
    """Bursts of ``length`` s at the end (or start) of every ``window``-s window."""
    phase = (t - offset) % window
    inside = phase >= window - length - 1e-12 if at_end else phase < length - 1e-12
    return amplitude * inside


def _hostile_inputs(t, rng):
    """Columns that break a long step: oscillations that fit it, bursts on its boundaries,
    large zero-mean input, noise, and drives near the edge of the model's domain."""
    block = _block(t)
    columns = {}
    for f in (1.0, 7.0, 20.0, 40.0, 50.0, 80.0, 100.0, 200.0, 500.0):
        columns[f"block x {f:g} Hz"] = 0.5 * block * (1 + np.sin(2 * np.pi * f * t +
                                                             rng.uniform(0, 2 * np.pi)))
    columns["zero-mean 100 Hz, amplitude 2000"] = 2000 * np.sin(2 * np.pi * 100 * t)
    columns["zero-mean 500 Hz, amplitude 2000"] = 2000 * np.sin(2 * np.pi * 500 * t)
    columns["zero-mean 20 Hz, amplitude 300"] = 300 * np.sin(2 * np.pi * 20 * t + 0.7)
    columns["bursts ending every 20 ms"] = _bursts(t, 0.02)
    columns["bursts starting every 50 ms"] = _bursts(t, 0.05, at_end=False)
    columns["bursts ending every 25 ms"] = _bursts(t, 0.025)
    random = np.zeros_like(t)
    for start in rng.choice(t.size - 50, 300, replace=False):
        random[start:start + 50] += 3.0
    columns["random bursts"] = random
    columns["white noise"] = rng.normal(0, 10, t.size)
    columns["block + white noise"] = 0.5 * block + rng.normal(0, 30, t.size)
    columns["strong block (2.0)"] = 2.0 * block     # f swings from 5.9 down to about 0.2
    columns["inhibition near f = 0"] = -0.3 * block   # f overshoots down to about 0.15
    names = list(columns)
    return names, np.column_stack([columns[k] for k in names])


@pytest.fixture(scope="module")
def hostile():
    t = _t()
    names, z = _hostile_inputs(t, np.random.default_rng(11))
    reference = simulate_bold(z, f"{DT} s", method="rk4").magnitude
    return names, z, reference


def _relative_errors(bold, reference):
    return np.abs(bold - reference).max(axis=0) / np.ptp(reference, axis=0)


@pytest.mark.slow           # long inputs at 0.1 ms: run with the compiled kernels
@pytest.mark.parametrize("hemo_dt, promise", [(None, DEFAULT_PROMISE), ("10 ms", DEFAULT_PROMISE),
                                              ("25 ms", PROMISE), ("50 ms", PROMISE),
                                              ("33.3 ms", PROMISE)])
def test_accuracy_promise_on_hostile_inputs(hostile, hemo_dt, promise):
    names, z, reference = hostile
    bold = simulate_bold(z, f"{DT} s", hemo_dt=hemo_dt).magnitude
    errors = _relative_errors(bold, reference)
    worst = int(np.argmax(errors))
    assert errors.max() <= promise, (names[worst], errors[worst])


@pytest.mark.slow           # long inputs at 0.1 ms: run with the compiled kernels
def test_the_block_mean_scheme_it_replaces_fails_the_same_inputs(hostile):
    # the test can fail: averaging the input over 20-ms blocks aliases the oscillations
    names, z, reference = hostile
    r = 200
    means = z[: z.shape[0] // r * r].reshape(-1, r, z.shape[1]).mean(axis=1)
    coarse = simulate_bold(means, "20 ms", method="rk4").magnitude
    errors = _relative_errors(coarse, reference[r - 1::r])
    assert errors[names.index("zero-mean 100 Hz, amplitude 2000")] > 0.1
    assert errors.max() > 1000 * PROMISE


@pytest.mark.slow
@settings(max_examples=12, deadline=None)
@given(freq=st.floats(1.0, 500.0), phase=st.floats(0.0, 2 * np.pi),
       amplitude=st.floats(0.1, 300.0), hemo_ms=st.sampled_from([20, 30, 40, 50]))
def test_any_sinusoid_in_any_phase_keeps_the_promise(freq, phase, amplitude, hemo_ms):
    t = _t(6.0)
    # a zero-mean sinusoid riding on a block, and the same in bursts that start on the steps
    carrier = amplitude / (1 + freq / 50) * np.sin(2 * np.pi * freq * t + phase)
    z = np.column_stack([0.5 * _block(t, 4.0) + 0.01 * carrier,
                         _bursts(t, hemo_ms * 1e-3, length=2e-3, at_end=False) * (1 + 0.1 *
                                                                                   carrier)])
    reference = simulate_bold(z, f"{DT} s", method="rk4").magnitude
    bold = simulate_bold(z, f"{DT} s", hemo_dt=f"{hemo_ms} ms").magnitude
    assert _relative_errors(bold, reference).max() <= PROMISE


@pytest.mark.slow           # long inputs at 0.1 ms: run with the compiled kernels
def test_states_and_tr_keep_the_promise(hostile):
    names, z, reference = hostile
    ref_states = simulate_bold(z[:, :6], f"{DT} s", method="rk4", return_states=True)[1]
    bold, states = simulate_bold(z[:, :6], f"{DT} s", return_states=True)
    for k in "xfvq":
        scale = np.ptp(ref_states[k], axis=0)
        assert (np.abs(states[k] - ref_states[k]).max(axis=0) / scale).max() <= DEFAULT_PROMISE
    at_tr = simulate_bold(z, f"{DT} s", tr="2 s").magnitude
    np.testing.assert_array_equal(at_tr, simulate_bold(z, f"{DT} s").magnitude[19999::20000])
    mean = simulate_bold(z, f"{DT} s", tr="2 s", tr_mode="mean").magnitude
    windows = reference[: reference.shape[0] // 20000 * 20000].reshape(-1, 20000, z.shape[1])
    scale = np.ptp(reference, axis=0)
    assert (np.abs(mean - windows.mean(axis=1)).max(axis=0) / scale).max() <= DEFAULT_PROMISE


# --------------------------------------------------------------------------- the exact part
@pytest.mark.parametrize("kappa, gamma", [(0.65, 0.41), (3.0, 0.41), (2.0, 1.0), (0.1, 5.0)])
@pytest.mark.parametrize("h", [1e-4, 0.02, 1.0])
def test_hold_coefficients_equal_the_matrix_exponential(kappa, gamma, h):
    # independent: scipy's expm of the augmented matrix [[M, e1], [0, 0]]
    M = np.array([[-kappa, -gamma, 1.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    coef = hold_coefficients(kappa, gamma, h)
    for j, theta in enumerate((1.0, 0.25, 0.5, 0.75)):
        E = scipy.linalg.expm(M * theta * h)
        expected = [E[0, 0], E[0, 1], E[1, 0], E[1, 1], E[0, 2], E[1, 2]]
        # entries to 1e-13 relative; at h = 1 s, those made by cancellation to rounding of 1
        np.testing.assert_allclose(coef[j, :, 0], expected, rtol=1e-13,
                                   atol=1e-14 if h >= 1 else 0.0)


def test_x_and_f_are_exact_for_a_held_input():
    # a step input from rest: x(t) = e^{-k t/2} sin(w t) / w, f - 1 = z/g (1 - e^{-k t/2}
    # (cos w t + k/(2w) sin w t)), w = sqrt(g - k^2/4) (Friston 2003 values: underdamped)
    kappa, gamma, z0 = 0.65, 0.41, 0.7
    dt = 0.05                       # long samples: any error of a stepper would show
    t = (np.arange(400) + 1) * dt
    _, states = simulate_bold(np.full((400, 1), z0), f"{dt} s", return_states=True)
    w = np.sqrt(gamma - kappa ** 2 / 4)
    decay = np.exp(-kappa * t / 2)
    x = z0 * decay * np.sin(w * t) / w
    f = 1 + z0 / gamma * (1 - decay * (np.cos(w * t) + kappa / (2 * w) * np.sin(w * t)))
    # rounding accumulated over 400 steps; any stepper's error would be near 1e-6 here
    np.testing.assert_allclose(states["x"][:, 0], x, rtol=0, atol=1e-13)
    np.testing.assert_allclose(states["f"][:, 0], f, rtol=0, atol=1e-13)


@pytest.mark.slow           # long inputs at 0.1 ms: run with the compiled kernels
def test_rest_stays_exactly_at_rest_and_constant_input_reaches_the_fixed_point():
    bold = simulate_bold(np.zeros((5000, 3)), "1 ms").magnitude
    assert np.all(bold == 0.0)
    z0 = np.array([0.2, 0.5, -0.2])
    _, states = simulate_bold(np.tile(z0, (200_000, 1)), "1 ms", return_states=True)
    fixed = fwdmodels.steady_state(z0)
    for k in "fvq":
        np.testing.assert_allclose(states[k][-1], fixed[k], rtol=1e-9)


# --------------------------------------------------------------------------- agreement
def _mixed_input(T=3000, N=5, seed=2):
    rng = np.random.default_rng(seed)
    t = np.arange(T) * 1e-3
    z = 0.5 * _block(t, 1.0)[:, None] * (1 + np.sin(2 * np.pi * 40 * t))[:, None]
    return z + rng.normal(0, 0.3, (T, N))


@pytest.mark.parametrize("hemo_dt", ["1 ms", "7 ms", "20 ms", "50 ms"])
def test_numpy_and_numba_paths_agree(hemo_dt):
    # Run as Python (NUMBA_DISABLE_JIT, .ci/run's second pass), the kernels are about a
    # thousand times slower; a shorter input still runs every line of them.
    T = 2503 if JIT_ENABLED else 703
    z = _mixed_input(T=T)
    params = BalloonParams(kappa=np.linspace(0.5, 0.8, 5), tau=[0.9, 1.0, 1.1, 0.95, 1.05])
    kw = dict(params=params, hemo_dt=hemo_dt, return_states=True)
    a, sa = simulate_bold(z, "1 ms", backend="numpy", **kw)
    b, sb = simulate_bold(z, "1 ms", backend="numba", **kw)
    scale = np.ptp(a.magnitude)
    np.testing.assert_allclose(a.magnitude, b.magnitude, rtol=0, atol=1e-12 * scale)
    for k in "xfvq":
        np.testing.assert_allclose(sa[k], sb[k], rtol=0, atol=1e-12 * np.abs(sa[k]).max())
    for mode in ("mean", "sample"):         # one row per TR: a window's mean or its last sample
        tr = dict(params=params, hemo_dt=hemo_dt, tr="0.1 s", tr_mode=mode, return_states=True)
        (a, sa), (b, sb) = (simulate_bold(z, "1 ms", backend=backend, **tr)
                            for backend in ("numpy", "numba"))
        assert a.shape == (T // 100, 5)
        np.testing.assert_allclose(a.magnitude, b.magnitude, rtol=0, atol=1e-12 * scale)
        for k in "xfvq":
            np.testing.assert_allclose(sa[k], sb[k], rtol=0, atol=1e-12 * np.abs(sa[k]).max())


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_pieces_of_whole_steps_equal_one_go_and_other_pieces_stay_accurate(backend):
    z = _mixed_input(T=4000, N=3)
    whole = simulate_bold(z, "1 ms", backend=backend).magnitude
    model = BOLDSignal(3, "1 ms", backend=backend)
    model.init_all_states()
    edges = [0, 20, 60, 2000, 3980, 4000]            # multiples of the 20-sample step
    pieces = np.concatenate([model.run(z[a:b]).magnitude for a, b in zip(edges, edges[1:])])
    np.testing.assert_array_equal(pieces, whole)
    model.init_all_states()
    edges = [0, 7, 333, 1001, 4000]
    pieces = np.concatenate([model.run(z[a:b]).magnitude for a, b in zip(edges, edges[1:])])
    assert np.abs(pieces - whole).max() <= 1e-9 * np.ptp(whole)


@pytest.mark.parametrize("method", ["split", "rk4", "euler"])
@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_region_of_a_heterogeneous_run_equals_it_run_alone(method, backend):
    z = _mixed_input(T=1500 if JIT_ENABLED else 500, N=4)     # shorter when run as Python
    values = dict(kappa=[0.5, 0.65, 0.8, 0.7], gamma=[0.3, 0.41, 0.5, 0.45],
                  tau=[0.8, 0.98, 1.2, 1.0], alpha=[0.3, 0.32, 0.34, 0.33],
                  rho=[0.3, 0.34, 0.4, 0.38], V0=[0.02, 0.03, 0.04, 0.02])
    together = simulate_bold(z, "1 ms", method=method, backend=backend, **values).magnitude
    for i in range(4):
        alone = simulate_bold(z[:, i:i + 1], "1 ms", method=method, backend=backend,
                              **{k: v[i] for k, v in values.items()}).magnitude
        np.testing.assert_array_equal(together[:, i:i + 1], alone)


def _steps_beyond_the_radius(x, f, r, dt):
    """How many steps of ``r`` samples take f beyond the expansion's radius about its centre
    (those a region takes again with the forcing of q as written)."""
    from fwdmodels.hemodynamics.forcing import RADIUS, centre
    x, f = np.concatenate([[0.0], x]), np.concatenate([[1.0], f])
    count = 0
    for k in range(0, x.size - 1, r):
        uc = centre(x[k], f[k] - 1.0, r * dt)
        count += np.abs(f[k:k + r + 1] - 1.0 - uc).max() > RADIUS * (1.0 + uc)
    return count


def test_regions_that_leave_the_expansion_agree_in_numpy_and_numba_and_alone():
    """Strongly driven regions take some steps with the forcing of q as written, beside weakly
    driven ones that never do: the two paths agree at every sample, states included, and
    every region equals itself run alone, bit for bit."""
    t = np.arange(3000) * 1e-3
    z = np.column_stack([0.05 * np.sin(2 * np.pi * 3 * t), 20.0 * _block(t, 1.0),
                         0.3 * np.sin(2 * np.pi * 40 * t), -0.55 * _block(t, 1.0),
                         40.0 * np.sin(2 * np.pi * 2 * t)])
    kw = dict(hemo_dt="50 ms", return_states=True)
    a, sa = simulate_bold(z, "1 ms", backend="numpy", **kw)
    beyond = [_steps_beyond_the_radius(sa["x"][:, i], sa["f"][:, i], 50, 1e-3)
              for i in range(5)]
    assert beyond[1] > 0 and beyond[4] > 0 and beyond[0] == beyond[2] == 0
    b, sb = simulate_bold(z, "1 ms", backend="numba", **kw)
    def per_region(u, w, scale):
        return np.abs(u - w).max(axis=0) / scale

    assert np.all(per_region(a.magnitude, b.magnitude, np.ptp(a.magnitude, axis=0)) <= 1e-12)
    for k in "xfvq":
        assert np.all(per_region(sa[k], sb[k], np.abs(sa[k]).max(axis=0)) <= 1e-12), k
    for backend, together in (("numpy", a), ("numba", b)):
        for i in range(5):
            alone = simulate_bold(z[:, i:i + 1], "1 ms", backend=backend, hemo_dt="50 ms")
            np.testing.assert_array_equal(together.magnitude[:, i:i + 1], alone.magnitude)


def test_batched_parameter_sets_equal_separate_runs():
    z = _mixed_input(T=1200, N=3)
    kappa = np.array([[0.5, 0.6, 0.7], [0.8, 0.65, 0.55]])          # (B, N)
    batch = simulate_bold(np.stack([z, z]), "1 ms", kappa=kappa, init="steady").magnitude
    for b in range(2):
        one = simulate_bold(z, "1 ms", kappa=kappa[b], init="steady").magnitude
        np.testing.assert_array_equal(batch[b], one)
    model = BOLDSignal(3, "1 ms", kappa=kappa[1])
    model.init_all_states("steady", z=z[0])
    np.testing.assert_array_equal(model.run(z).magnitude, batch[1])
    steady = fwdmodels.steady_state([0.1, 0.2, 0.3], kappa=kappa[0], gamma=[0.3, 0.4, 0.5])
    np.testing.assert_allclose(steady["f"], 1 + np.array([0.1, 0.2, 0.3]) / [0.3, 0.4, 0.5])


# --------------------------------------------------------------------------- bad input
def test_time_and_regions_swapped_is_refused_naming_time_axis():
    z = np.zeros((90, 3000))                   # (N, T) saved regions-first
    with pytest.raises(FwdModelsError, match=r"`z` must hold at least one TR of samples along "
                                             r"its time axis \(axis 0\): it has 90 samples, a "
                                             r"TR is 2000 .*pass `time_axis`"):
        simulate_bold(z, "1 ms", tr="2 s")
    out = simulate_bold(z, "1 ms", tr="2 s", time_axis=1)
    assert out.shape == (1, 90)
    with pytest.raises(FwdModelsError, match=r"`z` must hold at least one time sample and one "
                                             r"region; got shape \(0, 3\)"):
        simulate_bold(np.zeros((0, 3)), "1 ms")
    with pytest.raises(FwdModelsError, match=r"`time_axis` must be an axis of `z`"):
        simulate_bold(z, "1 ms", time_axis=2)


@pytest.mark.parametrize("kwargs, message", [
    (dict(hemo_dt="2.5 ms"), r"`hemo_dt` must be a whole multiple of dt; got hemo_dt = 0.0025 s"),
    (dict(hemo_dt="60 ms"), r"`hemo_dt` must be at most 50 ms .*; got 0.06 s"),
    (dict(hemo_dt="10 ms", method="rk4"), r"`hemo_dt` applies to method='split' only"),
    (dict(hemo_dt=0.01), r"`hemo_dt` must carry a unit"),
    (dict(kappa=[0.6, 0.7]), r"`params` must hold scalars or per-region values that broadcast "
                             r"to the regions' shape \(3,\); got parameters of shape \(2,\)"),
])
def test_bad_split_options(kwargs, message):
    with pytest.raises(FwdModelsError, match=message):
        simulate_bold(np.zeros((100, 3)), "1 ms", **kwargs)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_leaving_the_domain_names_the_time_and_region(backend):
    z = np.zeros((3000, 3))
    z[1000:, 1] = -5.0                       # f is driven through zero in region 1
    with pytest.raises(DomainError, match=r"left its domain by time index 1\d\d\d \(t = "
                                          r"1\.\d+ s\), region 1: f = -") as info:
        simulate_bold(z, "1 ms", backend=backend)
    assert 1000 < info.value.time_index < 3000 and info.value.region == 1


def test_linearised_kernel_takes_per_region_parameters():
    from fwdmodels.hemodynamics import balloon_kernel, balloon_linear_system

    kappa, tau = [0.55, 0.65, 0.8], [0.9, 0.98, 1.2]
    kernels = balloon_kernel(dt="0.1 s", duration="20 s", kappa=kappa, tau=tau).magnitude
    assert kernels.shape == (200, 3)
    for i in range(3):
        alone = balloon_kernel(dt="0.1 s", duration="20 s", kappa=kappa[i], tau=tau[i])
        np.testing.assert_array_equal(kernels[:, i], alone.magnitude)
    A, B, C = balloon_linear_system(kappa=kappa)
    assert A.shape == (3, 4, 4) and C.shape == (3, 4) and B.shape == (4,)
    np.testing.assert_array_equal(A[:, 0, 0], -np.asarray(kappa))


def test_a_hemodynamic_step_that_leaves_the_domain_fails_alike_in_numpy_and_numba():
    """A step far too long for the region's transit time (tau = 5 ms, 50-ms steps) makes RK4
    on (v, q) blow up while x and f stay valid: the failure is found after the hemodynamic
    step, and both paths name the same row, region and state."""
    z = np.zeros((400, 3))
    z[50:, 1] = 1.0
    errors = []
    for backend in ("numpy", "numba"):
        with pytest.raises(DomainError) as info:
            simulate_bold(z, "1 ms", hemo_dt="50 ms", tau=[1.0, 0.005, 1.0], backend=backend)
        errors.append(info.value)
    numpy_error, numba_error = errors
    assert (numpy_error.time_index, numpy_error.region) == (99, 1)   # end of the second step
    assert (numba_error.time_index, numba_error.region) == (99, 1)
    assert str(numpy_error) == str(numba_error) and "v = nan" in str(numba_error)
