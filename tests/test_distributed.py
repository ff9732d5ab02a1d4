"""fwdmodels.distributed: dask results equal the in-memory ones, whatever the chunks."""

import sys

import numpy as np
import pytest

da = pytest.importorskip("dask.array")

import fwdmodels  # noqa: E402
from fwdmodels import FwdModelsError, MissingDependencyError, ureg  # noqa: E402
from fwdmodels import distributed as fd  # noqa: E402
from fwdmodels import io as fio  # noqa: E402


@pytest.fixture(scope="module")
def neural():
    rng = np.random.default_rng(11)
    return 0.5 + 0.2 * rng.standard_normal((2503, 7))          # not a multiple of any chunk


@pytest.fixture(scope="module")
def sources():
    return np.random.default_rng(12).standard_normal((3, 1500, 6))


CHUNKINGS = [(2503, 7), (100, 3), (777, 1), (64, 7), ((1000, 3, 1500), (2, 5))]


@pytest.mark.parametrize("chunks", CHUNKINGS)
@pytest.mark.parametrize("method", ["rk4", "heun"])
def test_bold_equals_in_memory_bit_for_bit(neural, chunks, method):
    out = fd.simulate_bold(da.from_array(neural, chunks=chunks), "1 ms", method=method)
    assert isinstance(out, da.Array) and out.shape == neural.shape
    ref = fwdmodels.simulate_bold(neural, "1 ms", method=method).magnitude
    np.testing.assert_array_equal(out.compute(), ref)


@pytest.mark.parametrize("tr_mode", ["sample", "mean"])
@pytest.mark.parametrize("chunks", [(333, 4), (7, 7), (2503, 2), (500, 1)])
def test_bold_tr_and_hemo_dt(neural, tr_mode, chunks):
    z = da.from_array(neural, chunks=chunks)
    out = fd.simulate_bold(z, "1 ms", tr="0.1 s", tr_mode=tr_mode, hemo_dt="10 ms")
    ref = fwdmodels.simulate_bold(neural, "1 ms", tr="0.1 s", tr_mode=tr_mode,
                                  hemo_dt="10 ms").magnitude
    assert out.shape == ref.shape == (25, 7)
    assert all(c % 1 == 0 for c in out.chunks[0])
    np.testing.assert_array_equal(out.compute(), ref)
    out = fd.simulate_bold(z, "1 ms", hemo_dt="20 ms")             # one row per hemo_dt
    ref = fwdmodels.simulate_bold(neural, "1 ms", hemo_dt="20 ms").magnitude
    np.testing.assert_array_equal(out.compute(), ref)


def test_bold_batch_steady_dict_init_and_units(neural):
    batch = np.stack([neural, neural[::-1], 1.5 * neural])
    z = da.from_array(batch, chunks=(2, 500, 3))
    for scheduler in ("sync", "threads"):
        out = fd.simulate_bold(z, "1 ms", init="steady", method="euler")
        ref = fwdmodels.simulate_bold(batch, "1 ms", init="steady", method="euler").magnitude
        np.testing.assert_array_equal(out.compute(scheduler=scheduler), ref)
    single = da.from_array(batch, chunks=(1, 300, 1))              # one region a block
    out = fd.simulate_bold(single, "1 ms", tr="0.1 s", tr_mode="mean", hemo_dt="5 ms")
    ref = fwdmodels.simulate_bold(batch, "1 ms", tr="0.1 s", tr_mode="mean", hemo_dt="5 ms")
    np.testing.assert_array_equal(out.compute(), ref.magnitude)
    init = {"x": 0.1, "f": np.full((3, 7), 1.1), "v": 1.0,
            "q": 1.0 + 0.01 * np.arange(7)}
    out = fd.simulate_bold(z, "1 ms", init=init, unit="percent", dtype=np.float32)
    ref = fwdmodels.simulate_bold(batch, "1 ms", init=init, unit="percent", dtype=np.float32)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out.compute(), ref.magnitude)


def test_bold_split_pieces_of_any_chunking_equal_the_whole(neural):
    # chunks that are not whole hemodynamic steps are rounded up to them, so the
    # split method's numbers do not depend on the chunking
    for chunks in ((333, 7), (500, 4), (2503, 13)):
        out = fd.simulate_bold(da.from_array(neural, chunks=chunks), "1 ms", hemo_dt="auto")
        ref = fwdmodels.simulate_bold(neural, "1 ms").magnitude
        assert out.shape == neural.shape
        np.testing.assert_array_equal(out.compute(), ref)


def test_bold_written_in_parallel_to_zarr(tmp_path, neural):
    pytest.importorskip("zarr")
    from fwdmodels.io.zarr import write_dask

    out = fd.simulate_bold(da.from_array(neural, chunks=(500, 4)), "1 ms", tr="0.1 s")
    meta = fio.build_metadata("bold", "bold", "dimensionless", ["time", "region"], 0.1)
    write_dask(tmp_path / "bold.zarr", "bold", out, metadata=meta)
    got, info = fio.load(tmp_path / "bold.zarr")
    np.testing.assert_array_equal(got, fwdmodels.simulate_bold(neural, "1 ms",
                                                               tr="0.1 s").magnitude)
    assert info["metadata"]["modality"] == "bold"


def test_bold_bad_inputs(neural):
    bad = neural.copy()
    bad[1234, 5] = np.nan
    out = fd.simulate_bold(da.from_array(bad, chunks=(500, 3)), "1 ms")
    with pytest.raises(FwdModelsError, match="time index 1234, region 5"):
        out.compute()
    with pytest.raises(FwdModelsError, match="2-D"):
        fd.simulate_bold(da.zeros(10), "1 ms")
    with pytest.raises(FwdModelsError, match="real numbers"):
        fd.simulate_bold(da.from_array(np.array([["a"]])), "1 ms")
    with pytest.raises(FwdModelsError, match="shorter than one TR"):
        fd.simulate_bold(da.zeros((10, 2)), "1 ms", tr="1 s")
    with pytest.raises(FwdModelsError, match="whole multiple of dt"):
        fd.simulate_bold(da.zeros((10, 2)), "1 ms", hemo_dt="1.5 ms")
    with pytest.raises(FwdModelsError, match="`init` must be one of"):
        fd.simulate_bold(da.zeros((10, 2)), "1 ms", init="hot")
    with pytest.raises(FwdModelsError, match="dimensionless"):
        fd.simulate_bold(da.zeros((10, 2)), "1 ms", unit="m")
    with pytest.raises(FwdModelsError, match="unit"):
        fd.simulate_bold(da.zeros((10, 2)), 0.001)


def _leadfield(modality, **kwargs):
    L = np.random.default_rng(5).standard_normal((6, 4))
    if modality == "eeg":
        return fwdmodels.EEGLeadFieldModel(6, 4, L * ureg("uV/(nA*m)"), sensor_unit="uV",
                                           **kwargs)
    return fwdmodels.MEGLeadFieldModel(6, 4, L * ureg("fT/(nA*m)"), **kwargs)


@pytest.mark.parametrize("chunks", [(1500, 6), (64, 6), (640, 2), (333, 6)])
@pytest.mark.parametrize("modality", ["eeg", "meg"])
def test_leadfield_equals_in_memory(sources, chunks, modality):
    kwargs = {"reference": "average"} if modality == "eeg" else {}
    model = _leadfield(modality, dipole_scale="2 nA*m/mV", **kwargs)
    x = sources[0]
    y = fd.apply_leadfield(model, da.from_array(x, chunks=chunks))
    ref = model(x).magnitude
    if all(c % 64 == 0 for c in y.chunks[0][:-1]):
        np.testing.assert_array_equal(y.compute(), ref)
    np.testing.assert_allclose(y.compute(), ref, rtol=1e-13, atol=1e-13 * np.abs(ref).max())
    batch = fd.apply_leadfield(model, da.from_array(sources, chunks=(2, 128, 6)))
    np.testing.assert_array_equal(batch.compute(), model(sources).magnitude)


def test_leadfield_quantity_input(sources):
    model = _leadfield("meg")
    q = ureg.Quantity(da.from_array(sources[0], chunks=(256, 6)), "uA*m")
    got = fd.apply_leadfield(model, q).compute()
    np.testing.assert_allclose(got, model(sources[0] * ureg("uA*m")).magnitude, rtol=1e-12)


@pytest.mark.parametrize("noise", [{"snr_db": 5.0}, {"noise_cov": np.diag([1.0, 2, 3, 4])}])
def test_leadfield_noise_same_whatever_chunks_and_scheduler(sources, noise):
    model = _leadfield("eeg", reference="average", **noise)
    runs = [fd.apply_leadfield(model, da.from_array(sources, chunks=c), seed=7)
            .compute(scheduler=s)
            for c, s in [((3, 1500, 6), "sync"), ((1, 64, 6), "threads"), ((2, 333, 3), "sync")]]
    for other in runs[1:]:
        np.testing.assert_allclose(other, runs[0], rtol=1e-12, atol=1e-12)
    clean = _leadfield("eeg", reference="average")(sources).magnitude
    assert not np.allclose(runs[0], clean)
    again = fd.apply_leadfield(model, da.from_array(sources, chunks=(1, 64, 6)), seed=8)
    assert not np.allclose(again.compute(), runs[1])


def test_leadfield_noise_level_and_seed_from_model(sources):
    x = np.tile(sources[0], (8, 1))                          # 12000 rows: several noise blocks
    plain = _leadfield("meg")
    power = np.mean(plain(x).magnitude ** 2)
    a = fd.apply_leadfield(_leadfield("meg", snr_db=10.0, rng=1), da.from_array(x, chunks=999))
    b = fd.apply_leadfield(_leadfield("meg", snr_db=10.0, rng=1), da.from_array(x, chunks=5000))
    noise = a.compute() - plain(x).magnitude
    assert np.mean(noise ** 2) == pytest.approx(power / 10.0, rel=0.05)
    np.testing.assert_allclose(a.compute(), b.compute(), rtol=1e-12, atol=1e-12 * power ** 0.5)
    assert abs(np.corrcoef(noise[:4096].ravel(), noise[4096:8192].ravel())[0, 1]) < 0.05


def test_leadfield_bad_inputs(sources):
    model = _leadfield("eeg")
    with pytest.raises(FwdModelsError, match="in_size = 6"):
        fd.apply_leadfield(model, da.zeros((10, 5)))
    with pytest.raises(FwdModelsError, match="LeadFieldModel"):
        fd.apply_leadfield("model", da.zeros((10, 6)))
    bad = sources[0].copy()
    bad[700, 2] = np.inf
    with pytest.raises(FwdModelsError, match="time index 700, region 2"):
        fd.apply_leadfield(model, da.from_array(bad, chunks=256)).compute()
    with pytest.raises(FwdModelsError, match="unit"):
        fd.apply_leadfield(model, ureg.Quantity(da.zeros((10, 6)), "mV"))


def test_missing_dask_names_the_extra(monkeypatch, neural):
    monkeypatch.setitem(sys.modules, "dask", None)
    monkeypatch.setitem(sys.modules, "dask.array", None)
    with pytest.raises(MissingDependencyError, match=r"fwdmodels\[dask\]"):
        fd.simulate_bold(neural, "1 ms")


@pytest.mark.parametrize("how", ["signal_power", "calibrate"])
def test_leadfield_noise_level_is_the_models(sources, how):
    """The model fixes its noise level once (signal_power= or calibrate()); a dask run uses
    that level, not one measured on its own array (here 100 times weaker)."""
    x = np.tile(sources[0], (4, 1))
    plain = _leadfield("meg")
    clean = plain(x).magnitude
    power = np.mean(clean ** 2)
    if how == "signal_power":
        model = _leadfield("meg", snr_db=10.0, signal_power=power * ureg.fT ** 2, rng=1)
    else:
        model = _leadfield("meg", snr_db=10.0, rng=1)
        model.calibrate(x)
    weak = x / 10.0
    y = fd.apply_leadfield(model, da.from_array(weak, chunks=(1000, 6))).compute()
    noise = y - clean / 10.0
    assert np.mean(noise ** 2) == pytest.approx(power / 10.0, rel=0.05)
    assert model.signal_power.m == pytest.approx(power, rel=1e-12)


def _block_rng(seed, b, k):
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(b, k)))


@pytest.mark.parametrize("noise", [{"snr_db": 5.0},
                                   {"snr_db": 5.0, "noise_cov": np.diag([1.0, 2, 3, 4])}])
def test_leadfield_call_apply_and_dask_agree_bit_for_bit(sources, noise):
    """A call, apply chunk by chunk and a dask run compute their blocks with one method
    (forward_block): the same numbers, units, dipole scale, reference and noise at a
    calibrated level included. The series lies within one noise block, so the dask noise is
    that of a model whose generator is that block's."""
    x = sources[0] * ureg.uV                         # 1500 rows < NOISE_ROWS; input unit mV

    def model():
        m = _leadfield("eeg", reference="average", dipole_scale="2 nA*m/mV",
                       rng=_block_rng(7, 0, 0), **noise)
        m.calibrate(sources[1] * ureg.uV)
        return m

    called = model()(x).magnitude
    applied = model().apply(x, chunk_size=128).magnitude
    lazy = ureg.Quantity(da.from_array(sources[0], chunks=(256, 6)), "uV")
    dasked = fd.apply_leadfield(model(), lazy, seed=7).compute()
    np.testing.assert_array_equal(applied, called)
    np.testing.assert_array_equal(dasked, called)
    clean = _leadfield("eeg", reference="average", dipole_scale="2 nA*m/mV")(x).magnitude
    assert not np.allclose(called, clean)


def test_leadfield_dask_noise_block_by_block_as_documented(sources):
    """Block k of batch member b is forward_block on its rows with the generator of
    SeedSequence(seed, spawn_key=(b, k)), whatever the chunks."""
    x = np.tile(sources[0], (6, 1))[:9000]           # noise blocks of 4096, 4096, 808 rows
    model = _leadfield("meg", snr_db=3.0, signal_power=2.0, rng=0)
    rows = [slice(k * fd.NOISE_ROWS, (k + 1) * fd.NOISE_ROWS) for k in range(3)]
    expected = np.concatenate([model.forward_block(x[r], rng=_block_rng(3, 0, k))
                               for k, r in enumerate(rows)])
    got = fd.apply_leadfield(model, da.from_array(x, chunks=1024), seed=3).compute()
    np.testing.assert_array_equal(got, expected)
    odd = fd.apply_leadfield(model, da.from_array(x, chunks=999), seed=3).compute()
    np.testing.assert_allclose(odd, expected, rtol=1e-12, atol=1e-12)
    batch = fd.apply_leadfield(model, da.from_array(sources, chunks=(2, 512, 6)), seed=3)
    expected = np.stack([model.forward_block(sources[b], rng=_block_rng(3, b, 0))
                         for b in range(3)])
    np.testing.assert_array_equal(batch.compute(), expected)


def test_leadfield_dask_run_sets_a_missing_level_once(sources):
    """A model without a level gets one from the whole dask array, as its first call would,
    and keeps it for later calls."""
    x = np.tile(sources[0], (4, 1))
    clean = _leadfield("eeg")(x).magnitude
    model = _leadfield("eeg", snr_db=10.0, rng=2)
    y = fd.apply_leadfield(model, da.from_array(x, chunks=(700, 6)))
    assert model.signal_power.m == pytest.approx(np.mean(clean ** 2), rel=1e-12)
    assert np.mean((y.compute() - clean) ** 2) == pytest.approx(np.mean(clean ** 2) / 10,
                                                                 rel=0.05)
    later = model(x / 10.0).magnitude - clean / 10.0             # the level is kept
    assert np.mean(later ** 2) == pytest.approx(np.mean(clean ** 2) / 10, rel=0.05)
    with pytest.raises(FwdModelsError, match=r"`s` is silent \(zero signal\) and cannot set "
                                             r"the noise level of `snr_db`; set "
                                             r"model.signal_power"):
        fd.apply_leadfield(_leadfield("eeg", snr_db=1.0), da.zeros((50, 6), chunks=20))
    with pytest.raises(FwdModelsError, match=r"`s` of a single time step cannot set"):
        fd.apply_leadfield(_leadfield("eeg", snr_db=1.0), da.ones((1, 6)))
    bad = x.copy()
    bad[1300, 4] = np.nan
    with pytest.raises(FwdModelsError, match=r"`s` must be finite; found nan at time index "
                                             r"1300, region 4"):
        fd.apply_leadfield(_leadfield("eeg", snr_db=1.0), da.from_array(bad, chunks=700))
