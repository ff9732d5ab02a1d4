"""fwdmodels.pipeline: chunked runs equal in-memory runs to the last bit; bounded memory."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fwdmodels
from fwdmodels import FwdModelsError, pipeline
from fwdmodels import io as fio


@pytest.fixture(scope="module")
def neural():
    rng = np.random.default_rng(7)
    return 0.5 + 0.5 * rng.standard_normal((2503, 6))         # not a multiple of any chunk


@pytest.fixture
def npz_input(tmp_path, neural):
    path = tmp_path / "z.npz"
    np.savez(path, z=neural, dt="1 ms")
    return path


@pytest.mark.parametrize("chunk", [1, 97, 1000, 5000])
@pytest.mark.parametrize("method", ["rk4", "heun"])
def test_bold_chunked_equals_in_memory(tmp_path, npz_input, neural, chunk, method):
    out = pipeline.run_bold(npz_input, tmp_path / "b.npz", method=method, chunk_size=chunk)
    got, info = fio.load(out)
    ref = fwdmodels.simulate_bold(neural, "1 ms", method=method).magnitude
    np.testing.assert_array_equal(got, ref)
    assert info["dt"].to("s").magnitude == 0.001


@pytest.mark.parametrize("tr_mode", ["sample", "mean"])
@pytest.mark.parametrize("chunk", [7, 250, 3000])
def test_bold_tr_chunked_equals_in_memory(tmp_path, npz_input, neural, tr_mode, chunk):
    out = pipeline.run_bold(npz_input, tmp_path / "b.h5", tr="0.1 s", tr_mode=tr_mode,
                            chunk_size=chunk)
    got, info = fio.load(out)
    ref = fwdmodels.simulate_bold(neural, "1 ms", tr="0.1 s", tr_mode=tr_mode).magnitude
    assert got.shape == (25, 6)
    np.testing.assert_array_equal(got, ref)
    assert info["dt"].to("s").magnitude == pytest.approx(0.1)
    assert info["metadata"]["parameters"]["tr_mode"] == tr_mode


def test_bold_batch_and_time_axis(tmp_path, neural):
    batch = np.stack([neural, neural[::-1]])
    np.save(tmp_path / "b.npy", batch)
    out = pipeline.run_bold(tmp_path / "b.npy", tmp_path / "o.npz", dt="1 ms", chunk_size=300)
    np.testing.assert_array_equal(fio.load(out)[0],
                                  fwdmodels.simulate_bold(batch, "1 ms").magnitude)
    np.save(tmp_path / "nt.npy", neural.T)
    out = pipeline.run_bold(tmp_path / "nt.npy", tmp_path / "o2.mat", dt="1 ms",
                            time_axis=1, chunk_size=300)
    np.testing.assert_array_equal(fio.load(out)[0],
                                  fwdmodels.simulate_bold(neural, "1 ms").magnitude)


def test_bold_steady_init_and_overrides(tmp_path, npz_input, neural):
    out = pipeline.run_bold(npz_input, tmp_path / "o.npz", init="steady", chunk_size=400,
                            overrides={"tau": 1.2}, params="friston2003")
    ref = fwdmodels.simulate_bold(neural, "1 ms", init="steady", tau=1.2).magnitude
    np.testing.assert_array_equal(fio.load(out)[0], ref)


def test_metadata_names_input_and_checksum(tmp_path, npz_input):
    out = pipeline.run_bold(npz_input, tmp_path / "o.npz", tr="0.5 s")
    meta = fio.load(out)[1]["metadata"]
    assert meta["input"]["sha256"] == fio.file_sha256(npz_input)
    assert meta["input"]["path"] == str(npz_input.resolve())
    assert meta["parameters"]["method"] == "split"
    assert meta["parameters"]["params"]["kappa"] == 0.65
    assert meta["fwdmodels_version"] == fwdmodels.__version__
    json.dumps(meta)


def test_dt_rules(tmp_path, neural, npz_input):
    np.save(tmp_path / "a.npy", neural)
    with pytest.raises(FwdModelsError, match="holds no time step; pass `dt` with its unit"):
        pipeline.run_bold(tmp_path / "a.npy", tmp_path / "o.npz")
    with pytest.raises(FwdModelsError, match=r"`dt` 0.1 has no unit; .* `dt='0.1ms'`"):
        pipeline.run_bold(tmp_path / "a.npy", tmp_path / "o.npz", dt="0.1")
    with pytest.raises(FwdModelsError, match=r"`dt` 2 ms conflicts with the time step 1 ms"):
        pipeline.run_bold(npz_input, tmp_path / "o.npz", dt="2 ms")
    pipeline.run_bold(npz_input, tmp_path / "o.npz", dt="0.001 s")     # same value: fine
    with pytest.raises(FwdModelsError, match="`tr` must be a whole multiple of dt"):
        pipeline.run_bold(npz_input, tmp_path / "o2.npz", tr="2.5 ms", dt="1 ms")
    assert not (tmp_path / "o2.npz").exists()


def test_nan_reported_with_first_index_and_nothing_written(tmp_path, neural):
    bad = neural.copy()
    bad[1234, 4] = np.nan
    bad[2000, 1] = np.inf
    np.save(tmp_path / "bad.npy", bad)
    with pytest.raises(FwdModelsError, match=r"holds nan at time index 1234, region 4"):
        pipeline.run_bold(tmp_path / "bad.npy", tmp_path / "o.npz", dt="1 ms", chunk_size=100)
    assert sorted(os.listdir(tmp_path)) == ["bad.npy"]


def test_domain_error_mid_run_leaves_nothing(tmp_path, neural):
    bad = neural.copy()
    bad[2400:] = -1e9                      # drives the flow negative late in the run
    np.save(tmp_path / "bad.npy", bad)
    with pytest.raises(fwdmodels.DomainError, match="time index 24"):
        pipeline.run_bold(tmp_path / "bad.npy", tmp_path / "o.h5", dt="1 ms", chunk_size=100)
    assert sorted(os.listdir(tmp_path)) == ["bad.npy"]


# ------------------------------------------------------------------ EEG / MEG
@pytest.fixture(scope="module")
def leadfields():
    rng = np.random.default_rng(3)
    return rng.standard_normal((6, 9)), rng.standard_normal((6, 12))


def _model(modality, L, unit, **kw):
    return pipeline.leadfield_model(modality, fwdmodels.ureg.Quantity(L, unit), **kw)


@pytest.mark.parametrize("modality,unit,options", [
    ("eeg", "V/(nA*m)", {}),
    ("eeg", "uV/(nA*m)", {"reference": "average", "dipole_scale": "2 nA*m/mV",
                          "sensor_unit": "uV"}),
    ("meg", "fT/(nA*m)", {"sensor_unit": "fT"}),
])
@pytest.mark.parametrize("chunk", [1, 333, 10000])
def test_sensors_chunked_equal_one_call(tmp_path, npz_input, neural, leadfields, modality,
                                        unit, options, chunk):
    L = leadfields[0] if modality == "eeg" else leadfields[1]
    np.save(tmp_path / "L.npy", L)
    run = pipeline.run_eeg if modality == "eeg" else pipeline.run_meg
    out = run(npz_input, tmp_path / "s.npz", leadfield=tmp_path / "L.npy", leadfield_unit=unit,
              chunk_size=chunk, **options)
    got, info = fio.load(out)
    ref = _model(modality, L, unit, **options)(neural)
    np.testing.assert_array_equal(got, ref.magnitude)
    assert info["unit"] == f"{ref.units:~}".replace("µ", "u")


@pytest.mark.parametrize("chunk", [50, 4000])
def test_sensor_noise_chunked_equals_one_call(tmp_path, npz_input, neural, leadfields, chunk):
    L = leadfields[0]
    np.save(tmp_path / "L.npy", L)
    out = pipeline.run_eeg(npz_input, tmp_path / "e.npz", leadfield=tmp_path / "L.npy",
                           leadfield_unit="uV/(nA*m)", sensor_unit="uV", reference="average",
                           snr_db=10.0, seed=5, chunk_size=chunk)
    got, info = fio.load(out)
    std = info["metadata"]["parameters"]["noise_std"]
    clean = _model("eeg", L, "uV/(nA*m)", sensor_unit="uV")(neural).magnitude
    assert std == pytest.approx(np.sqrt(np.mean(clean ** 2) / 10.0), rel=1e-12)
    ref = _model("eeg", L, "uV/(nA*m)", sensor_unit="uV", reference="average",
                 noise_cov=np.eye(9) * std ** 2, seed=5)(neural).magnitude
    np.testing.assert_array_equal(got, ref)
    np.testing.assert_allclose(got.sum(axis=1), 0.0, atol=1e-9 * np.abs(got).max())


def test_leadfield_checks(tmp_path, npz_input, leadfields):
    L = leadfields[0]
    np.save(tmp_path / "L.npy", L)
    with pytest.raises(FwdModelsError, match=r"has no unit; pass `leadfield_unit`"):
        pipeline.run_eeg(npz_input, tmp_path / "e.npz", leadfield=tmp_path / "L.npy")
    np.save(tmp_path / "Lt.npy", L.T)
    with pytest.raises(FwdModelsError, match=r"\(sensors, regions\) as MNE-Python .* save L.T"):
        pipeline.run_eeg(npz_input, tmp_path / "e.npz", leadfield=tmp_path / "Lt.npy",
                         leadfield_unit="V/(nA*m)")
    np.save(tmp_path / "L5.npy", L[:5])
    with pytest.raises(FwdModelsError, match="has 5 regions .* but the input has 6"):
        pipeline.run_eeg(npz_input, tmp_path / "e.npz", leadfield=tmp_path / "L5.npy",
                         leadfield_unit="V/(nA*m)")
    np.savez(tmp_path / "Lu.npz", L=L, unit="V/(nA*m)")
    with pytest.raises(FwdModelsError, match="conflicts with the unit V / m / nA stored"):
        pipeline.run_eeg(npz_input, tmp_path / "e.npz", leadfield=tmp_path / "Lu.npz",
                         leadfield_unit="uV/(nA*m)")
    pipeline.run_eeg(npz_input, tmp_path / "e.npz", leadfield=tmp_path / "Lu.npz")
    with pytest.raises(FwdModelsError, match="average"):
        pipeline.run_meg(npz_input, tmp_path / "m.npz", leadfield=tmp_path / "L.npy",
                         leadfield_unit="fT/(nA*m)", reference="average")
    assert sorted(os.listdir(tmp_path)) == ["L.npy", "L5.npy", "Lt.npy", "Lu.npz", "e.npz",
                                            "z.npz"]


# ------------------------------------------------------------------ bounded memory
_MEMORY_SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    from fwdmodels import pipeline
    kind, inp, out = sys.argv[1:4]
    # default options: the default chunk size, method and step
    if kind == "eeg":
        pipeline.run_eeg(inp, out, leadfield=sys.argv[4], leadfield_unit="V/(nA*m)", dt="1 ms")
    elif kind == "meg":
        pipeline.run_meg(inp, out, leadfield=sys.argv[4], leadfield_unit="T/(nA*m)", dt="1 ms")
    else:
        pipeline.run_bold(inp, out, dt="1 ms")
    # VmHWM: this process's peak resident memory (ru_maxrss would carry the parent's peak
    # across fork and exec).
    with open("/proc/self/status") as fh:
        hwm = [line for line in fh if line.startswith("VmHWM")][0]
    print(int(hwm.split()[1]) // 1024)
""")


def _peak_mb(*args) -> int:
    done = subprocess.run([sys.executable, "-c", _MEMORY_SCRIPT, *map(str, args)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return int(done.stdout.split()[-1])


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux's /proc")
def test_peak_memory_bounded_on_input_much_larger_than_chunk(tmp_path):
    """A 305 MB input costs no more memory than a 5 MB one with default options (BOLD, EEG and
    MEG): the peak resident memory differs by less than 32 MB, far below the input's size."""
    T, N = 1_250_000, 32
    big = np.lib.format.open_memmap(tmp_path / "big.npy", mode="w+", dtype=float, shape=(T, N))
    for a in range(0, T, 125_000):
        big[a:a + 125_000] = np.random.default_rng(a).random((125_000, N))
    big.flush()
    del big
    np.save(tmp_path / "small.npy", np.random.default_rng(0).random((20_000, N)))
    np.save(tmp_path / "L.npy", np.random.default_rng(1).standard_normal((N, 16)))
    size_mb = (tmp_path / "big.npy").stat().st_size / 2 ** 20
    report = {}
    for kind in ("eeg", "meg", "bold"):
        small = _peak_mb(kind, tmp_path / "small.npy", tmp_path / f"{kind}_s.npz",
                         tmp_path / "L.npy")
        large = _peak_mb(kind, tmp_path / "big.npy", tmp_path / f"{kind}_b.npz", tmp_path / "L.npy")
        report[kind] = (small, large)
        assert large - small < 32, report
        assert large < small + 0.15 * size_mb, report
    print(f"peak RSS (MB) small vs {size_mb:.0f} MB input: {report}")
