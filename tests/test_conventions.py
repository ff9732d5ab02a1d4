"""BOLD with TVB's and neurolib's conventions (fwdmodels.hemodynamics.conventions), checked
against tvb-library's ``BalloonModel`` and neurolib's ``BOLDModel`` themselves.

tvb-library and neurolib come with the test extra and are imported at the top on purpose: a
missing one is an error, not a skip.
"""

import logging
import warnings

import numpy as np
import pytest

with warnings.catch_warnings():           # tvb warns that its optional geodesic module is absent
    warnings.simplefilter("ignore")
    from tvb.analyzers.fmri_balloon import BalloonModel
    from tvb.datatypes.time_series import TimeSeries
from neurolib.models.bold import BOLDModel

import fwdmodels
from fwdmodels.errors import DomainError, FwdModelsError
from fwdmodels.hemodynamics.conventions import (neurolib_steps, resolve_like,
                                                simulate_bold_like, tvb_params)

logging.getLogger("tvb").setLevel(logging.ERROR)


def _tvb_balloon(z, dt_ms, **traits):
    """TVB's BalloonModel on a (T, N) input sampled every dt_ms: its (T, N) BOLD."""
    T = z.shape[0]
    ts = TimeSeries(data=z[:, None, :, None], time=np.arange(T) * dt_ms, sample_period=dt_ms,
                    sample_period_unit="ms")
    ts.configure()
    model = BalloonModel(time_series=ts, **traits)
    model.configure()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.evaluate().data[:, 0, :, 0]


def _close(ours, theirs, rel=1e-12):
    """Equal to ``rel`` of the reference's range (rounding near its zero crossings)."""
    err = np.abs(np.asarray(ours) - theirs).max()
    assert err <= rel * np.abs(theirs).max(), (err, np.abs(theirs).max())


def _input(T, N, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    z = np.zeros((T, N))
    z[T // 10: T // 2] = 1.0
    return scale * (z + 0.3 * rng.random((T, N)))


# --------------------------------------------------------------------------- TVB
def test_tvb_like_equals_tvb_balloon_model():
    z = _input(4000, 3)
    tvb = _tvb_balloon(z, 1.0)
    ours = simulate_bold_like("tvb", z, "1 ms")
    assert str(ours.units) == "percent" and ours.shape == (3999, 3)
    assert np.all(tvb[0] == 0.0)                       # TVB's row 0: its initial rest state
    err = np.abs(ours.magnitude - tvb[1:]).max()
    assert err <= 1e-13 * np.abs(tvb).max(), err
    # the default fwdmodels run differs: other parameters, alignment and scheme
    plain = fwdmodels.simulate_bold(z, "1 ms", unit="percent").magnitude
    assert np.abs(plain[:-1] - tvb[1:]).max() > 1e-3 * np.abs(tvb).max()


def test_tvb_alignment_input_n_drives_the_step_ending_at_n():
    """Changing z[0] changes nothing in TVB and here; z[n] changes TVB's row n and ours n-1."""
    z = _input(500, 2)
    base = simulate_bold_like("tvb", z, "1 ms").magnitude
    z0 = z.copy()
    z0[0] += 5.0
    assert np.array_equal(simulate_bold_like("tvb", z0, "1 ms").magnitude, base)
    assert np.array_equal(_tvb_balloon(z0, 1.0), _tvb_balloon(z, 1.0))
    z7 = z.copy()
    z7[7] += 5.0
    moved = simulate_bold_like("tvb", z7, "1 ms").magnitude
    tvb, tvb7 = _tvb_balloon(z, 1.0), _tvb_balloon(z7, 1.0)
    first = lambda a, b: int(np.argmax(np.any(a != b, axis=1)))  # noqa: E731
    # BOLD sees the input through f, one step after x: TVB's row 8, our row 7 (t = 8 ms)
    assert first(tvb7, tvb) == 8 and first(moved, base) == 7


def test_tvb_like_tr_rows_are_tvb_rows_at_multiples_of_tr():
    z = _input(2000, 2)
    tvb = _tvb_balloon(z, 1.0)
    ours, t = simulate_bold_like("tvb", z, "1 ms", tr="0.5 s", return_times=True)
    _close(ours.magnitude, tvb[500::500])
    np.testing.assert_allclose(t, [0.5, 1.0, 1.5])     # TVB's time of rows 500, 1000, 1500 (s)


def test_tvb_like_with_other_traits_and_per_region_parameters():
    z = _input(1500, 3)
    tvb = _tvb_balloon(z, 0.5, tau_s=1 / 0.65, tau_f=1 / 0.41, E0=0.34, RBM=False)
    # TVB's classical coefficients: k1 = 7 E0, k2 = 2 E0, k3 = 1 - epsilon (its own choice)
    p = tvb_params(kappa=0.65, gamma=0.41, rho=0.34,
                   coefficients=(7 * 0.34, 2 * 0.34, 1 - 0.5))
    ours = simulate_bold_like("tvb", z, "0.5 ms", params=p).magnitude
    _close(ours, tvb[1:], 1e-11)   # powers as exp(log) here, ** in TVB: rounding
    # per-region values: each column equals a TVB run with that region's value
    taus = np.array([0.8, 0.98, 1.3])
    ours = simulate_bold_like("tvb", z, "0.5 ms", tau=taus).magnitude
    for i, tau in enumerate(taus):
        col = _tvb_balloon(z[:, i:i + 1], 0.5, tau_o=float(tau))[1:, 0]
        _close(ours[:, i], col, 1e-11)


def test_tvb_like_split_method_is_close_to_tvb_heun():
    z = _input(3000, 2)
    tvb = _tvb_balloon(z, 1.0)
    ours = simulate_bold_like("tvb", z, "1 ms", method="split").magnitude
    assert np.abs(ours - tvb[1:]).max() < 1e-5 * np.abs(tvb).max()


def test_tvb_params_are_tvbs_defaults():
    model = BalloonModel()
    p = tvb_params()
    assert p.kappa == 1 / model.tau_s and p.gamma == 1 / model.tau_f and p.tau == model.tau_o
    assert p.alpha == model.alpha and p.rho == model.E0 and p.V0 * 100 == model.V0
    assert (p.nu0, p.r0, p.TE, p.epsilon) == (model.nu_0, model.r_0, model.TE,
                                              float(model.epsilon[0]))


# --------------------------------------------------------------------------- neurolib
def _neurolib_bold(z_nt, dt_ms, chunks=1):
    """neurolib's BOLDModel on an (N, T) input given in ``chunks`` appended pieces."""
    model = BOLDModel(z_nt.shape[0], dt_ms)
    for piece in np.array_split(z_nt, chunks, axis=1):
        model.run(piece, append=True)
    return model.BOLD, model.t_BOLD


@pytest.mark.parametrize("backend", ["auto", "numpy"])
def test_neurolib_like_equals_neurolib_bold_model(backend):
    z = _input(60_000, 3, scale=10.0).T                 # (N, T), 6 s at 0.1 ms
    bold, t_bold = _neurolib_bold(z, 0.1)
    ours, t = simulate_bold_like("neurolib", z, "0.1 ms", tr="2 s", time_axis=1,
                                 backend=backend, return_times=True)
    assert ours.shape == (3, 3)
    err = np.abs(ours.magnitude.T - bold).max()
    assert err <= 1e-14 * np.abs(bold).max(), err
    # neurolib labels its samples t = dt + k TR (ms); here t = 2 dt + k TR (s), one step later
    np.testing.assert_allclose(t * 1e3, np.asarray(t_bold) + 0.1)


def test_neurolib_like_in_chunks_matches_neurolib_appended():
    z = _input(80_000, 2, scale=10.0).T
    bold, _ = _neurolib_bold(z, 0.1, chunks=4)          # chunks of whole TRs
    ours = simulate_bold_like("neurolib", z.T, "0.1 ms", tr="2 s").magnitude
    np.testing.assert_allclose(ours.T, bold, rtol=1e-14, atol=1e-17)


def test_neurolib_scheme_differs_from_plain_euler():
    """fwdmodels' Euler uses the old x in df; neurolib the new one: a visible difference."""
    z = _input(60_000, 2, scale=10.0).T
    bold, _ = _neurolib_bold(z, 0.1)
    euler = simulate_bold_like("neurolib", z.T, "0.1 ms", tr="2 s", method="euler").magnitude
    err = np.abs(euler.T - bold).max()
    assert 1e-8 < err < 1e-4 * np.abs(bold).max()


def test_neurolib_input_transforms():
    z = _input(40_000, 2).T
    bold, _ = _neurolib_bold(z * 50, 0.1)
    ours = simulate_bold_like("neurolib:fhn", z.T, "0.1 ms", tr="2 s").magnitude
    np.testing.assert_array_equal(ours, simulate_bold_like("neurolib", z.T, "0.1 ms", tr="2 s",
                                                           model="wc").magnitude)
    np.testing.assert_allclose(ours.T, bold, rtol=1e-14, atol=1e-17)
    bold, _ = _neurolib_bold((z + 1) * 4, 0.1)
    ours = simulate_bold_like("neurolib", z.T, "0.1 ms", tr="2 s", model="hopf").magnitude
    np.testing.assert_allclose(ours.T, bold, rtol=1e-14, atol=1e-17)


def test_neurolib_every_sample_without_tr():
    z = _input(5000, 2, scale=10.0)
    rows = simulate_bold_like("neurolib", z, "0.1 ms").magnitude
    sampled = simulate_bold_like("neurolib", z, "0.1 ms", tr="0.1 s").magnitude
    assert rows.shape == (5000, 2)
    np.testing.assert_array_equal(sampled, rows[1::1000])


def test_neurolib_numpy_and_numba_paths_agree_per_region():
    z = _input(3000, 3, scale=10.0)
    p = fwdmodels.BalloonParams(kappa=np.array([0.5, 0.65, 0.8]))
    a = neurolib_steps(z * 1.0, 1e-4, p, np.ones((4, 3)))
    from fwdmodels.hemodynamics._conventions_kernels import neurolib_kernel
    from fwdmodels.hemodynamics.conventions import F_FLOOR, _neurolib_numpy, _per_region

    b, c = np.empty_like(z), np.empty_like(z)
    _neurolib_numpy(z, 1e-4, *_per_region(p, (3,)), np.ones((4, 3)), b)
    # the kernel itself: compiled, or its Python source when NUMBA_DISABLE_JIT=1
    neurolib_kernel(z, 1e-4, *_per_region(p, (3,)), np.ones((4, 3)), c, F_FLOOR)
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-16)
    np.testing.assert_allclose(c, b, rtol=1e-12, atol=1e-16)
    for i, kappa in enumerate([0.5, 0.65, 0.8]):
        one = neurolib_steps(z[:, i:i + 1], 1e-4, fwdmodels.BalloonParams(kappa=kappa),
                             np.ones((4, 1)))
        np.testing.assert_array_equal(one[:, 0], a[:, i])


def test_batch_input():
    z = np.stack([_input(3000, 2, seed=s) for s in range(3)])
    for like in ("tvb", "neurolib"):
        batch = simulate_bold_like(like, z, "1 ms", tr="0.5 s").magnitude
        for b in range(3):
            np.testing.assert_array_equal(
                batch[b], simulate_bold_like(like, z[b], "1 ms", tr="0.5 s").magnitude)


# --------------------------------------------------------------------------- refusals
@pytest.mark.parametrize("kwargs, words", [
    (dict(like="spm"), ["like", "spm"]),
    (dict(like="tvb", method="neurolib"), ["method", "neurolib"]),
    (dict(like="tvb", model="fhn"), ["model", "neurolib"]),
    (dict(like="neurolib:fhn", model="hopf"), ["model", "hopf"]),
    (dict(like="neurolib", model="lif"), ["model", "lif"]),
    (dict(like="neurolib", tr="1 s", tr_mode="mean"), ["tr_mode", "mean"]),
    (dict(like="neurolib", hemo_dt="10 ms"), ["hemo_dt", "neurolib"]),
])
def test_refusals_name_the_argument(kwargs, words):
    like = kwargs.pop("like")
    with pytest.raises(FwdModelsError) as info:
        resolve_like(like, "1 ms", **kwargs)
    for word in words:
        assert word in str(info.value)


def test_too_short_and_domain_errors():
    with pytest.raises(FwdModelsError, match="at least one output row"):
        simulate_bold_like("tvb", np.ones((1, 2)), "1 ms")
    with pytest.raises(DomainError, match="time index"):
        simulate_bold_like("neurolib", np.full((2000, 1), 1e9), "10 ms")


# --------------------------------------------------------------------------- command line
@pytest.mark.parametrize("like, extra", [
    ("tvb", ["--tr", "0.5s"]), ("tvb", []), ("tvb", ["--tr", "0.5s", "--tr-mode", "mean"]),
    ("tvb", ["--method", "split", "--tr", "0.5s"]), ("neurolib:fhn", ["--tr", "0.5s"]),
    ("neurolib", ["--set", "tau=1.1", "--chunk-size", "333"])])
def test_command_line_like_equals_python(tmp_path, like, extra):
    from fwdmodels.cli import main

    z = _input(2003, 3, scale=2.0)
    np.savez(tmp_path / "sim.npz", x=z.T, dt=1.0, dt_unit="ms")    # neurolib's (N, T)
    out = tmp_path / "bold.npz"
    assert main(["bold", str(tmp_path / "sim.npz"), "--time-axis", "1", "-o", str(out),
                 "--like", like, "--chunk-size", "256", "-q", *extra]) == 0
    got = np.load(out)
    kwargs = {"tr": "0.5 s"} if "--tr" in extra else {}
    if "mean" in extra:
        kwargs["tr_mode"] = "mean"
    if "split" in extra:
        kwargs["method"] = "split"
    if "--set" in extra:
        kwargs["tau"] = 1.1
    ref, times = simulate_bold_like(like, z, "1 ms", return_times=True, **kwargs)
    np.testing.assert_array_equal(got["bold"], ref.magnitude)
    import json

    meta = json.loads(str(got["metadata"]))
    assert meta["unit"] == str(ref.units) and meta["parameters"]["like"] == like
    assert meta["t0"] == pytest.approx(times[0]) and meta["dt"] == pytest.approx(
        times[1] - times[0])


def test_command_line_like_refuses_another_start(tmp_path):
    from fwdmodels.cli import main

    np.save(tmp_path / "z.npy", np.ones((100, 2)))
    assert main(["bold", str(tmp_path / "z.npy"), "--dt", "1ms", "-o", str(tmp_path / "b.npz"),
                 "--like", "tvb", "--init", "brainmass"]) == 2
