"""Multi-rate hemodynamics: block-mean input at a long step, and the automatic step choice.

The oracle is the same model at the input's own step with RK4 (its own error, checked in
test_balloon.py against solve_ivp, is far below the tolerances here).
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fwdmodels import simulate_bold
from fwdmodels.errors import FwdModelsError
from fwdmodels.hemodynamics import choose_hemo_dt
from fwdmodels.hemodynamics.multirate import block_means


def _mixed_input(dt, duration, n=3, seed=0):
    """A block design plus 10-Hz activity with noise, as neural-mass output looks."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(duration / dt))) * dt
    blocks = ((t % 10.0) < 5.0).astype(float)[:, None] * rng.uniform(0.5, 1.0, n)
    alpha = 0.3 * np.sin(2 * np.pi * 10.0 * t)[:, None] * rng.uniform(0.5, 1.5, n)
    noise = 0.2 * rng.standard_normal((t.size, n))
    return blocks + alpha + noise


def _at_common_times(fine, r):
    return fine[r - 1:: r][: fine.shape[0] // r]


def test_block_means():
    z = np.arange(14.0).reshape(7, 2)
    np.testing.assert_array_equal(block_means(z, 3), [[2, 3], [8, 9], [12, 13]])


def test_hemo_dt_equal_to_dt_changes_nothing():
    z = _mixed_input(1e-3, 2.0)
    np.testing.assert_array_equal(simulate_bold(z, "1 ms", hemo_dt="1 ms").magnitude,
                                  simulate_bold(z, "1 ms").magnitude)


@pytest.mark.slow
def test_20ms_step_on_0p1ms_input_is_accurate():
    z = _mixed_input(1e-4, 20.0)
    fine = simulate_bold(z, "0.1 ms").magnitude
    coarse = simulate_bold(z, "0.1 ms", hemo_dt="20 ms").magnitude
    assert coarse.shape == (1000, 3)
    err = np.abs(coarse - _at_common_times(fine, 200)).max() / np.ptp(fine)
    assert err < 1e-4, err


def test_tail_block_is_kept():
    z = _mixed_input(1e-3, 2.05)          # 2050 samples: 102 blocks of 20 and one of 10
    fine = simulate_bold(z, "1 ms").magnitude
    coarse = simulate_bold(z, "1 ms", hemo_dt="20 ms").magnitude
    assert coarse.shape[0] == 103
    assert np.abs(coarse[-1] - fine[-1]).max() < 1e-3 * np.ptp(fine)


def test_tr_sampling_on_the_coarse_grid():
    z = _mixed_input(1e-3, 8.0)
    at_tr = simulate_bold(z, "1 ms", hemo_dt="25 ms", tr="2 s").magnitude
    fine_tr = simulate_bold(z, "1 ms", tr="2 s").magnitude
    assert at_tr.shape == fine_tr.shape == (4, 3)
    assert np.abs(at_tr - fine_tr).max() < 1e-3 * np.ptp(fine_tr)


@settings(max_examples=12, deadline=None)
@given(
    amplitude=st.floats(0.05, 2.0), frequency=st.floats(0.5, 40.0),
    noise=st.floats(0.0, 1.0), step_at=st.floats(0.0, 6.0), silence=st.booleans(),
    tol=st.sampled_from([1e-4, 1e-3, 1e-2]), seed=st.integers(0, 2**16),
)
def test_auto_never_exceeds_its_tolerance(amplitude, frequency, noise, step_at, silence, tol,
                                          seed):
    dt = 1e-3
    rng = np.random.default_rng(seed)
    t = np.arange(8000) * dt
    z = amplitude * (t >= step_at)[:, None] * np.ones(2)
    z = z + 0.5 * amplitude * np.sin(2 * np.pi * frequency * t)[:, None]
    z = z + noise * rng.standard_normal((t.size, 2))
    if silence:
        z[3000:6000] = 0.0
    fine = simulate_bold(z, "1 ms").magnitude
    auto = simulate_bold(z, "1 ms", hemo_dt="auto", hemo_tol=tol).magnitude
    r = int(round(choose_hemo_dt(z, "1 ms", tol=tol).to("ms").magnitude))
    assert auto.shape[0] == -(-t.size // r)
    err = np.abs(auto[: t.size // r] - _at_common_times(fine, r)).max()
    assert err <= tol * np.ptp(fine), (r, err / np.ptp(fine))


def test_auto_takes_long_steps_on_smooth_input():
    z = _mixed_input(1e-4, 10.0)
    chosen = choose_hemo_dt(z, "0.1 ms")
    assert chosen.to("ms").magnitude >= 10.0
    assert chosen.to("ms").magnitude <= 50.0


@pytest.mark.parametrize("kwargs, message", [
    (dict(hemo_dt="1.5 ms"), r"`hemo_dt` must be a whole multiple of dt; got hemo_dt = "
                             r"0.0015 s and dt = 0.001 s"),
    (dict(hemo_dt="30 ms", tr="1 s"), r"`tr` must be a whole multiple of hemo_dt; got tr = 1 s "
                                      r"and hemo_dt = 0.03 s"),
    (dict(hemo_dt=0.02), r"`hemo_dt` must carry a unit"),
    (dict(hemo_dt="auto", hemo_tol=-1), r"`hemo_tol` must be positive and finite; got -1.0"),
])
def test_bad_multirate_arguments(kwargs, message):
    with pytest.raises(FwdModelsError, match=message):
        simulate_bold(np.zeros((100, 2)), "1 ms", **kwargs)


def test_multirate_model_in_whole_blocks_equals_one_go():
    from fwdmodels import BOLDSignal

    z = _mixed_input(1e-3, 3.05)
    whole = simulate_bold(z, "1 ms", hemo_dt="25 ms").magnitude
    model = BOLDSignal(3, "1 ms", hemo_dt="25 ms")
    model.init_all_states()
    pieces = [model.run(z[a:b]).magnitude for a, b in ((0, 1000), (1000, 2500), (2500, 3050))]
    np.testing.assert_array_equal(np.concatenate(pieces), whole)
    with pytest.raises(FwdModelsError, match=r"update\(\) advances one input step"):
        model.update(z[0])


@pytest.mark.parametrize("hemo_dt", ["20 ms", "auto"])
def test_non_finite_input_is_named_on_the_multirate_path(hemo_dt):
    z = _mixed_input(1e-3, 2.0)
    z[1234, 1] = np.inf
    z[1500, 0] = np.nan
    with pytest.raises(FwdModelsError, match=r"`z` must be finite; found inf at time index "
                                             r"1234, region 1"):
        simulate_bold(z, "1 ms", hemo_dt=hemo_dt)
    batch = np.stack([_mixed_input(1e-3, 2.0), z])
    with pytest.raises(FwdModelsError, match=r"found inf at batch 1, time index 1234, region 1"):
        simulate_bold(batch, "1 ms", hemo_dt=hemo_dt)


def test_domain_error_in_a_later_chunk_names_the_time_of_the_whole_run():
    from fwdmodels import BOLDSignal
    from fwdmodels.errors import DomainError

    z = np.zeros((4000, 2))
    z[3000:, 1] = -40.0                   # drives the inflow below zero after 3 s
    model = BOLDSignal(2, "1 ms", hemo_dt="20 ms")
    model.init_all_states()
    model.run(z[:2000])
    with pytest.raises(DomainError) as err:
        model.run(z[2000:])
    assert err.value.region == 1
    assert 150 <= err.value.time_index < 200       # rows of 20 ms: after t = 3 s
    t = float(str(err.value).split("(t = ")[1].split(" s)")[0])
    assert 3.0 < t < 4.0
