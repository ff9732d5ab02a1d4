"""fwdmodels.io.zarr: Zarr stores read and written like the other formats, atomically."""

import os
import sys

import numpy as np
import pytest

zarr = pytest.importorskip("zarr")
da = pytest.importorskip("dask.array")

import fwdmodels  # noqa: E402
from fwdmodels import FwdModelsError, MissingDependencyError, pipeline  # noqa: E402
from fwdmodels import io as fio  # noqa: E402
from fwdmodels.cli import main  # noqa: E402
from fwdmodels.io import zarr as fz  # noqa: E402


@pytest.fixture(scope="module")
def neural():
    return 0.5 + 0.5 * np.random.default_rng(3).standard_normal((1203, 5))


def _store(path, array, chunks=(250, 5), zarr_format=3, **attrs):
    group = zarr.open_group(str(path), mode="w", zarr_format=zarr_format)
    data = group.create_array("z", shape=array.shape, chunks=chunks, dtype=array.dtype)
    data[...] = array
    group.attrs.update(attrs)
    return path


def _leftovers(directory):
    return [p for p in os.listdir(directory) if p.startswith(".")]


def test_bold_from_zarr_to_zarr_equals_in_memory(tmp_path, neural):
    src = _store(tmp_path / "in.zarr", neural, dt="1 ms")
    out = pipeline.run_bold(src, tmp_path / "bold.zarr", tr="0.1 s", chunk_size=300)
    got, info = fio.load(out)
    ref = fwdmodels.simulate_bold(neural, "1 ms", tr="0.1 s").magnitude
    np.testing.assert_array_equal(got, ref)
    assert info["dt"].to("s").magnitude == pytest.approx(0.1)
    meta = info["metadata"]
    assert meta["modality"] == "bold" and meta["input"]["format"] == "zarr"
    assert meta["input"]["sha256"] == fio.file_sha256(src)
    assert meta["parameters"]["tr"] == pytest.approx(0.1)
    group = zarr.open_group(str(out), mode="r")
    assert group.attrs["dt"] == pytest.approx(0.1) and group.attrs["dt_unit"] == "s"
    assert group["bold"].attrs["unit"] == "dimensionless"
    assert _leftovers(tmp_path) == []


def test_eeg_from_zarr_and_cli(tmp_path, neural, capsys):
    src = _store(tmp_path / "in.zarr", neural, dt=0.001, dt_unit="s")
    L = np.random.default_rng(0).standard_normal((5, 4))
    np.savez(tmp_path / "L.npz", L=L, unit="uV/(nA*m)")
    assert main(["eeg", str(src), "-o", str(tmp_path / "eeg.zarr"), "--leadfield",
                 str(tmp_path / "L.npz"), "--sensor-unit", "uV", "-q"]) == 0
    got, info = fio.load(tmp_path / "eeg.zarr")
    np.testing.assert_allclose(got, neural @ L, rtol=1e-13, atol=1e-13)
    assert info["unit"] == "uV"
    assert main(["info", str(tmp_path / "eeg.zarr")]) == 0
    assert "zarr" in capsys.readouterr().out


def test_output_file_round_trip_and_extras(tmp_path):
    data = np.arange(24.0).reshape(2, 4, 3)
    meta = fio.build_metadata("bold", "bold", "dimensionless", ["batch", "time", "region"], 2.0)
    path = fio.save(tmp_path / "o.zarr", "bold", data, metadata=meta,
                    extra={"positions": np.ones((3, 3))})
    got, info = fio.load(path, key="bold")
    np.testing.assert_array_equal(got, data)
    assert info["dt"].to("s").magnitude == 2.0 and info["metadata"]["dims"][0] == "batch"
    np.testing.assert_array_equal(fio.load(path, key="positions", time_axis=0)[0], np.ones((3, 3)))
    with fio.open_input(path) as chosen:      # the data array its metadata names
        assert chosen.key == "bold"


def test_existing_store_needs_force_and_force_replaces(tmp_path):
    meta = fio.build_metadata("bold", "bold", "dimensionless", ["time", "region"], 1.0)
    path = tmp_path / "o.zarr"
    fio.save(path, "bold", np.zeros((3, 2)), metadata=meta)
    with pytest.raises(FwdModelsError, match="already exists; pass `force=True`"):
        fio.save(path, "bold", np.ones((3, 2)), metadata=meta)
    np.testing.assert_array_equal(fio.load(path)[0], 0.0)
    fio.save(path, "bold", np.ones((5, 2)), metadata=meta, force=True)
    np.testing.assert_array_equal(fio.load(path)[0], np.ones((5, 2)))
    assert _leftovers(tmp_path) == []


def test_a_failed_replacement_keeps_the_old_store_and_says_why(tmp_path, monkeypatch):
    """With force, a rename that fails for another reason than an existing store (an I/O
    error) is that error, not "already exists; pass force=True"; the old store is back."""
    import errno

    meta = fio.build_metadata("bold", "bold", "dimensionless", ["time", "region"], 1.0)
    path = tmp_path / "o.zarr"
    fio.save(path, "bold", np.zeros((3, 2)), metadata=meta)
    real = os.rename

    def failing_rename(src, dst):
        if str(src).endswith(".fwdmodels-part"):           # the new store into place
            raise OSError(errno.EIO, "Input/output error", str(dst))
        real(src, dst)

    monkeypatch.setattr(os, "rename", failing_rename)
    with pytest.raises(OSError, match="Input/output error") as caught:
        fio.save(path, "bold", np.ones((3, 2)), metadata=meta, force=True)
    monkeypatch.undo()
    assert not isinstance(caught.value, FwdModelsError)
    np.testing.assert_array_equal(fio.load(path)[0], 0.0)
    assert _leftovers(tmp_path) == []


def test_an_interrupted_parallel_write_leaves_nothing_once_it_returns(tmp_path):
    """Ctrl-C during ``write_dask`` on dask's threaded scheduler: by the time the
    KeyboardInterrupt reaches the caller, no thread is still writing into the temporary store
    (which would bring it back after its removal)."""
    import signal
    import threading
    import time

    import dask.array as da

    started = []

    def slow(block):
        if not started:          # a real Ctrl-C, to the main thread, while chunks are written
            started.append(threading.Timer(0.1, signal.pthread_kill,
                                           (threading.main_thread().ident, signal.SIGINT)))
            started[0].start()
        time.sleep(0.2)
        return block

    array = da.from_array(np.ones((40, 2)), chunks=(5, 2)).map_blocks(
        slow, meta=np.array((), dtype=float))
    meta = fio.build_metadata("bold", "bold", "dimensionless", ["time", "region"], 1.0)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            fz.write_dask(tmp_path / "o.zarr", "bold", array, metadata=meta)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert started and os.listdir(tmp_path) == []
    time.sleep(0.5)                                    # longer than a chunk takes
    assert os.listdir(tmp_path) == []


def test_failed_write_leaves_nothing(tmp_path):
    meta = fio.build_metadata("bold", "bold", "dimensionless", ["time", "region"], 1.0)
    with pytest.raises(KeyboardInterrupt):
        with fio.OutputFile(tmp_path / "o.zarr", "bold", (10, 2), metadata=meta) as out:
            out.write(0, np.ones((5, 2)))
            raise KeyboardInterrupt
    assert os.listdir(tmp_path) == []


def test_zarr_v2_store_and_single_array(tmp_path, neural):
    src = _store(tmp_path / "v2.zarr", neural, zarr_format=2, sample_period=1.0,
                 sample_period_unit="ms")
    got = pipeline.run_bold(src, tmp_path / "b.npz")
    np.testing.assert_array_equal(fio.load(got)[0],
                                  fwdmodels.simulate_bold(neural, "1 ms").magnitude)
    single = zarr.create_array(str(tmp_path / "one.zarr"), shape=(6, 40), chunks=(6, 16),
                               dtype="f4")
    single[...] = np.arange(240, dtype="f4").reshape(6, 40)
    single.attrs["dt"] = "2 ms"
    with fio.open_input(tmp_path / "one.zarr", time_axis=1) as data:
        assert data.shape == (40, 6) and data.key == "one"
        assert data.dt.to("ms").magnitude == 2.0
        np.testing.assert_array_equal(data.read(10, 20), np.arange(240.).reshape(6, 40)[:, 10:20].T)


def test_corrupt_and_empty_stores_are_user_errors(tmp_path, neural):
    (tmp_path / "empty.zarr").mkdir()
    with pytest.raises(FwdModelsError, match="truncated or corrupt"):
        fio.open_input(tmp_path / "empty.zarr")
    src = _store(tmp_path / "bad.zarr", neural, dt="1 ms")
    chunk = next(p for p in (src / "z").rglob("*") if p.is_file() and p.name != "zarr.json")
    chunk.write_bytes(b"not a compressed chunk")
    with pytest.raises(FwdModelsError, match="truncated or corrupt"):
        pipeline.run_bold(src, tmp_path / "b.npz")
    assert main(["bold", str(src), "-o", str(tmp_path / "b.npz"), "-q"]) == 2
    assert not (tmp_path / "b.npz").exists()


def test_missing_chunk_reads_as_nan_and_is_reported(tmp_path):
    meta = fio.build_metadata("bold", "bold", "dimensionless", ["time", "region"], 0.001)
    path = tmp_path / "holes.zarr"
    with fio.OutputFile(path, "bold", (10, 2), metadata=meta) as out:
        out.write(0, np.ones((3, 2)))                          # rows 3: never written
    with pytest.raises(FwdModelsError, match="time index 3"):
        pipeline.run_bold(path, tmp_path / "b.npz")


def test_store_hash_follows_content(tmp_path, neural):
    src = _store(tmp_path / "a.zarr", neural)
    first = fio.file_sha256(src)
    assert fio.file_sha256(src) == first
    zarr.open_group(str(src), mode="r+")["z"][0, 0] = 42.0
    assert fio.file_sha256(src) != first


def test_write_dask_and_open_dask(tmp_path, neural):
    lazy = da.from_array(neural, chunks=((400, 403, 400), (2, 3)))     # irregular chunks
    meta = fio.build_metadata("neural", "z", "dimensionless", ["time", "region"], 0.001)
    path = fz.write_dask(tmp_path / "w.zarr", "z", lazy, metadata=meta)
    back, info = fz.open_dask(path)
    assert isinstance(back, da.Array) and back.shape == neural.shape
    np.testing.assert_array_equal(back.compute(), neural)
    assert info["dt"].to("ms").magnitude == pytest.approx(1.0) and info["key"] == "z"
    with pytest.raises(FwdModelsError, match="already exists"):
        fz.write_dask(path, "z", lazy, metadata=meta)
    with pytest.raises(FwdModelsError, match="must end in .zarr"):
        fz.write_dask(tmp_path / "w.h5", "z", lazy, metadata=meta)
    batch = np.stack([neural, 2 * neural])
    fz.write_dask(tmp_path / "b.zarr", "z", da.from_array(batch, chunks=(1, 500, 5)),
                  metadata=meta)
    back, _ = fz.open_dask(tmp_path / "b.zarr")
    np.testing.assert_array_equal(back.compute(), batch)
    assert _leftovers(tmp_path) == []


def test_missing_zarr_names_the_extra(tmp_path, monkeypatch, neural):
    src = _store(tmp_path / "in.zarr", neural)
    monkeypatch.setitem(sys.modules, "zarr", None)
    with pytest.raises(MissingDependencyError, match=r"fwdmodels\[dask\]"):
        fio.open_input(src)
    assert main(["bold", str(src), "-o", str(tmp_path / "b.npz"), "--dt", "1ms", "-q"]) == 2


# ------------------------------------------------------------------ hostile stores
from hostile_files import zarr_chunk_file, zarr_store  # noqa: E402


def test_complex_zarr_refused(tmp_path, neural):
    src = zarr_store(tmp_path / "c.zarr", neural + 1j, chunks=(500, 5), fill_value=0j)
    with pytest.raises(FwdModelsError, match=r"'x' in .* holds complex numbers \(dtype "
                                             r"complex128\)"):
        fio.open_input(src)


def test_missing_chunk_is_an_error_naming_array_and_rows(tmp_path, neural):
    src = zarr_store(tmp_path / "m.zarr", neural, chunks=(250, 5))
    zarr_chunk_file(src, (2, 0)).unlink()                     # rows 500..749
    with fio.open_input(src, dt_unit="ms") as x:
        np.testing.assert_array_equal(x.read(0, 500), neural[:500])   # untouched chunks read
        with pytest.raises(FwdModelsError, match=r"rows 500 to 749 \(along axis 0, time\) of "
                                                 r"'x' in '.*m.zarr' are missing: the chunk file "
                                                 r"'c/2/0' does not exist, and zarr would read "
                                                 r"them as the fill value 0.0"):
            x.read(400, 600)
    with pytest.raises(FwdModelsError, match=r"rows 500 to 749"):
        pipeline.run_bold(src, tmp_path / "b.npz", dt="1 ms")
    assert not (tmp_path / "b.npz").exists()
    with pytest.raises(FwdModelsError, match=r"rows 500 to 749"):
        fz.open_dask(src)


def test_missing_chunk_of_a_time_axis_1_store_names_time_rows(tmp_path, neural):
    src = zarr_store(tmp_path / "t.zarr", np.ascontiguousarray(neural.T), chunks=(5, 400))
    zarr_chunk_file(src, (0, 3)).unlink()                     # time steps 1200..1202
    with fio.open_input(src, time_axis=1) as x, \
            pytest.raises(FwdModelsError, match=r"rows 1200 to 1202 \(along axis 1, time\)"):
        x.read_all()


def test_chunk_linked_to_a_file_outside_the_store_is_refused(tmp_path, neural):
    src = zarr_store(tmp_path / "l.zarr", neural, chunks=(250, 5))
    chunk = zarr_chunk_file(src, (1, 0))
    outside = tmp_path / "elsewhere.bin"
    outside.write_bytes(chunk.read_bytes())
    chunk.unlink()
    chunk.symlink_to(outside)
    with fio.open_input(src) as x, \
            pytest.raises(FwdModelsError, match=r"chunk 'c/1/0' of 'x' in .* is a link to "
                                                r"'.*elsewhere.bin', outside the store"):
        x.read(0, 300)
