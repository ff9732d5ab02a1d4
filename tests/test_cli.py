"""The ``fwdmodels`` command end to end, through the installed entry points (subprocess)."""

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import scipy.io

import fwdmodels
from fwdmodels import cli, datasets
from fwdmodels import io as fio
from fwdmodels import pipeline

h5py = pytest.importorskip("h5py")

SCRIPT = Path(sys.executable).with_name("fwdmodels")


def run(*args, cwd=None, script=False, timeout=300):
    command = [str(SCRIPT)] if script else [sys.executable, "-m", "fwdmodels"]
    return subprocess.run(command + [str(a) for a in args], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout)


def sha(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def z():
    rng = np.random.default_rng(11)
    return 0.3 + 0.3 * rng.standard_normal((1500, 5))


def _write(path: Path, fmt: str, z: np.ndarray) -> list:
    """Write ``z`` in ``fmt``; return the extra CLI options needed to read it."""
    if fmt == "npy":
        np.save(path, z)
        return ["--dt", "2ms"]
    if fmt == "npz":                                   # neurolib-style (N, T), dt stored
        np.savez(path, rates_exc=z.T, dt=2.0, dt_unit="ms", other=np.arange(3.0))
        return ["--key", "rates_exc", "--time-axis", "1"]
    if fmt == "mat5":
        scipy.io.savemat(path, {"x": z, "dt": "2 ms"})
        return []
    if fmt == "mat73":
        with h5py.File(path, "w", userblock_size=512) as fh:
            fh.create_dataset("x", data=z.T).attrs["MATLAB_class"] = np.bytes_("double")
        with open(path, "r+b") as fh:
            fh.write(b"MATLAB 7.3 MAT-file")
        return ["--dt", "0.002s"]
    with h5py.File(path, "w") as fh:                   # TVB-style attributes
        fh.create_dataset("data", data=z)
        fh.attrs["sample_period"] = 2.0
        fh.attrs["sample_period_unit"] = np.bytes_("ms")
    return []


FORMATS = [("npy", ".npy", ".npz"), ("npz", ".npz", ".h5"), ("mat5", ".mat", ".mat"),
           ("mat73", ".mat", ".npz"), ("h5", ".h5", ".h5")]


@pytest.mark.parametrize("fmt,ext,out_ext", FORMATS)
def test_bold_every_format_end_to_end(tmp_path, z, fmt, ext, out_ext):
    src = tmp_path / f"in{ext}"
    opts = _write(src, fmt, z)
    before = sha(src)
    out = tmp_path / f"bold{out_ext}"
    done = run("bold", src, "-o", out, *opts, "--tr", "0.1s", "--chunk-size", "333", "-q")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and done.stderr == ""
    got, info = fio.load(out)
    ref = fwdmodels.simulate_bold(z, "2 ms", tr="0.1 s").magnitude   # the one default
    np.testing.assert_array_equal(got, ref)
    assert info["metadata"]["input"]["sha256"] == before == sha(src)
    assert info["metadata"]["parameters"]["method"] == "split"


def test_console_script_and_summary_line(tmp_path, z):
    if not SCRIPT.exists():
        pytest.skip("console script not installed next to this Python")
    np.save(tmp_path / "z.npy", z)
    done = run("bold", tmp_path / "z.npy", "-o", tmp_path / "b.npz", "--dt", "2 ms",
               "--method", "heun", "--params", "friston2003", "--set", "tau=1.1", script=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"wrote {tmp_path / 'b.npz'}: bold (1500, 5)")
    ref = fwdmodels.simulate_bold(z, "2 ms", method="heun", tau=1.1).magnitude
    np.testing.assert_array_equal(fio.load(tmp_path / "b.npz")[0], ref)


@pytest.mark.parametrize("modality", ["eeg", "meg"])
@pytest.mark.parametrize("out_ext", [".npz", ".h5", ".mat"])
def test_sensors_end_to_end(tmp_path, z, modality, out_ext):
    L = np.random.default_rng(2).standard_normal((5, 8))
    scipy.io.savemat(tmp_path / "sim.mat", {"V": z, "dt": 2.0, "dt_unit": "ms"})
    np.savez(tmp_path / "L.npz", L=L, unit="uV/(nA*m)" if modality == "eeg" else "fT/(nA*m)")
    extra = ["--reference", "average"] if modality == "eeg" else []
    out = tmp_path / f"{modality}{out_ext}"
    done = run(modality, tmp_path / "sim.mat", "-o", out, "--leadfield", tmp_path / "L.npz",
               "--dipole-scale", "2 nA*m/mV", "--sensor-unit", "uV" if modality == "eeg" else "fT",
               "--noise-snr-db", "20", "--seed", "4", "--chunk-size", "100", *extra, "-q")
    assert done.returncode == 0, done.stderr
    got, info = fio.load(out)
    meta = info["metadata"]
    std = meta["parameters"]["noise_std"]
    unit = "uV/(nA*m)" if modality == "eeg" else "fT/(nA*m)"
    model = pipeline.leadfield_model(modality, fwdmodels.ureg.Quantity(L, unit),
                                     dipole_scale="2 nA*m/mV",
                                     sensor_unit="uV" if modality == "eeg" else "fT",
                                     reference="average" if modality == "eeg" else None,
                                     noise_cov=np.eye(8) * std ** 2, seed=4)
    np.testing.assert_array_equal(got, model(z).magnitude)
    assert info["dt"].to("ms").magnitude == pytest.approx(2.0)
    assert meta["parameters"]["leadfield"]["sha256"] == sha(tmp_path / "L.npz")


def test_info(tmp_path, z):
    out = fio.save(tmp_path / "b.h5", "bold", z, metadata=fio.build_metadata(
        "bold", "bold", "dimensionless", ["time", "region"], 0.5))
    done = run("info", out)
    assert done.returncode == 0, done.stderr
    assert "bold" in done.stdout and "(1500, 5)" in done.stdout and "float64" in done.stdout
    assert "dt: 0.5 s" in done.stdout and "fwdmodels_version" in done.stdout
    done = run("info", out, "--json")
    described = json.loads(done.stdout)
    assert described["arrays"][0]["shape"] == [1500, 5] and described["dt"] == "0.5 s"


def test_help_explains_options_with_units():
    for command in ("bold", "eeg", "meg", "info", "demo"):
        done = run(command, "--help")
        assert done.returncode == 0
    text = run("bold", "--help").stdout
    assert "WITH its unit" in text and "--tr-mode" in text and "default split" in text
    assert "nA*m" in run("eeg", "--help").stdout


def _check_demo(directory: Path, fmt="npz"):
    for name in ("bold", "eeg", "meg"):
        assert (directory / f"{name}.{fmt}").exists()
    bold, info = fio.load(directory / f"bold.{fmt}")
    assert bold.shape == (60, 68) and info["dt"].to("s").magnitude == 1.0
    eeg, info = fio.load(directory / f"eeg.{fmt}")
    assert eeg.shape == (60000, 21) and info["unit"] == "uV"
    np.testing.assert_allclose(eeg.sum(axis=1), 0.0, atol=1e-9 * np.abs(eeg).max())
    meg, info = fio.load(directory / f"meg.{fmt}")
    assert meg.shape == (60000, 102) and info["unit"] == "fT"
    # the BOLD of the demo equals the Python API on the embedded recording
    rec = datasets.synthetic_recording()
    ref = fwdmodels.simulate_bold(rec.activity, rec.dt, tr="1 s").magnitude
    np.testing.assert_array_equal(bold, ref)


def test_demo_in_fresh_directory(tmp_path):
    start = time.perf_counter()
    done = run("demo", cwd=tmp_path)
    elapsed = time.perf_counter() - start
    assert done.returncode == 0, done.stderr
    directory = tmp_path / "fwdmodels-demo"
    _check_demo(directory)
    assert str(directory / "bold.npz") in done.stdout or "bold.npz" in done.stdout
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "no figure" in done.stdout
    else:
        assert (directory / "summary.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the first run of an installation compiles the Numba kernels (about 60 s of it on a
    # 2-core machine, once); a run from the cache takes about 5 s
    assert elapsed < 150, f"demo took {elapsed:.1f} s"
    again = run("demo", cwd=tmp_path)                 # existing files are not overwritten
    assert again.returncode == 2 and "already exists; pass --force" in again.stderr


def test_demo_h5_with_script_and_output_dir(tmp_path):
    if not SCRIPT.exists():
        pytest.skip("console script not installed next to this Python")
    done = run("demo", "-o", tmp_path / "d", "--format", "h5", "--no-figure", "-q", script=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and not (tmp_path / "d" / "summary.png").exists()
    _check_demo(tmp_path / "d", "h5")


# ------------------------------------------------------------------ bad inputs
def _bad_inputs(tmp, z):
    np.save(tmp / "ok.npy", z)
    raw = (tmp / "ok.npy").read_bytes()
    (tmp / "trunc.npy").write_bytes(raw[: len(raw) // 2])
    (tmp / "corrupt.h5").write_bytes(b"garbage" * 50)
    np.savez(tmp / "pickled.npz", z=np.array([{"a": 1}, 2], dtype=object))
    np.savez(tmp / "two.npz", a=z, b=z)
    np.save(tmp / "one_d.npy", z[:, 0])
    np.save(tmp / "four_d.npy", np.zeros((10, 2, 5, 1)))
    nan = z.copy()
    nan[700, 3] = np.nan
    np.save(tmp / "nan.npy", nan)
    np.savez(tmp / "bare_dt.npz", z=z, dt=0.002)
    np.savez(tmp / "L4.npz", L=np.ones((4, 3)), unit="V/(nA*m)")
    (tmp / "exists.npz").write_bytes(b"precious")
    bold = ["bold", "-q"]
    return [
        ("missing", bold + [tmp / "nope.npy", "-o", tmp / "o.npz", "--dt", "1ms"],
         "does not exist; check the path"),
        ("truncated", bold + [tmp / "trunc.npy", "-o", tmp / "o.npz", "--dt", "1ms"],
         "truncated or corrupt"),
        ("corrupt", bold + [tmp / "corrupt.h5", "-o", tmp / "o.npz", "--dt", "1ms"],
         "truncated or corrupt"),
        ("pickled", bold + [tmp / "pickled.npz", "-o", tmp / "o.npz", "--dt", "1ms"],
         "pickled Python objects, which fwdmodels refuses to load"),
        ("unknown key", bold + [tmp / "two.npz", "--key", "c", "-o", tmp / "o.npz", "--dt", "1ms"],
         "key 'c' is not in"),
        ("ambiguous", bold + [tmp / "two.npz", "-o", tmp / "o.npz", "--dt", "1ms"],
         "holds several arrays .* pick one with --key NAME"),
        ("1-D", bold + [tmp / "one_d.npy", "-o", tmp / "o.npz", "--dt", "1ms"],
         r"is 1-D \(shape \(1500,\)\)"),
        ("4-D", bold + [tmp / "four_d.npy", "-o", tmp / "o.npz", "--dt", "1ms"],
         r"is 4-D \(shape \(10, 2, 5, 1\)\)"),
        ("nan", bold + [tmp / "nan.npy", "-o", tmp / "o.npz", "--dt", "1ms", "--chunk-size", "64"],
         r"holds nan at time index 700, region 3"),
        ("dt no unit", bold + [tmp / "ok.npy", "-o", tmp / "o.npz", "--dt", "0.1"],
         r"--dt 0.1 has no unit; write it with one, e.g. --dt 0.1ms"),
        ("file dt no unit", bold + [tmp / "bare_dt.npz", "-o", tmp / "o.npz"],
         r"is 0.002 with no unit; pass --dt-unit"),
        ("no dt", bold + [tmp / "ok.npy", "-o", tmp / "o.npz"], "holds no time step"),
        ("dt conflict", bold + [tmp / "bare_dt.npz", "--dt-unit", "s", "--dt", "1ms", "-o",
                                tmp / "o.npz"], "conflicts with the time step"),
        ("tr", bold + [tmp / "ok.npy", "-o", tmp / "o.npz", "--dt", "1ms", "--tr", "2.5ms"],
         "--tr must be a whole multiple of dt"),
        ("leadfield regions", ["eeg", tmp / "ok.npy", "-o", tmp / "o.npz", "--dt", "1ms",
                               "--leadfield", tmp / "L4.npz"],
         "has 4 regions .* but the input has 5"),
        ("exists", bold + [tmp / "ok.npy", "-o", tmp / "exists.npz", "--dt", "1ms"],
         "already exists; pass --force"),
        ("output is input", bold + [tmp / "ok.npy", "-o", tmp / "ok.npy", "--dt", "1ms",
                                    "--force"], "is the input file"),
        ("no such dir", bold + [tmp / "ok.npy", "-o", tmp / "nodir" / "o.npz", "--dt", "1ms"],
         "does not exist; create it first"),
        ("bad extension", bold + [tmp / "ok.npy", "-o", tmp / "o.txt", "--dt", "1ms"],
         "fwdmodels writes .npz"),
        ("bad option", bold + [tmp / "ok.npy", "-o", tmp / "o.npz", "--method", "rk45"],
         "invalid choice: 'rk45'"),
    ]


#: Cases of _bad_inputs also run as a separate process (``python -m fwdmodels``): a user
#: mistake found while reading the input, one found by the option parser, and one found
#: while the output is being written; the others run in this process, through the same
#: ``cli.main``, which is what the command's entry point calls.
_IN_A_PROCESS = ("truncated", "bad option", "nan")


def test_bad_inputs_exit_2_one_line_nothing_written(tmp_path, z, capsys):
    cases = _bad_inputs(tmp_path, z)
    assert {name for name, _, _ in cases} >= set(_IN_A_PROCESS)
    before = {p.name: sha(p) for p in tmp_path.iterdir()}
    for name, args, pattern in cases:
        if name in _IN_A_PROCESS:
            done = run(*args)
            status, err = done.returncode, done.stderr
        else:
            try:
                status = cli.main([str(a) for a in args])
            except SystemExit as exc:                   # the option parser's exit
                status = exc.code
            err = capsys.readouterr().err
        assert status == 2, (name, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1, (name, err)
        assert "Traceback" not in err
        assert re.search(pattern, lines[0]), (name, lines[0])
        assert {p.name: sha(p) for p in tmp_path.iterdir()} == before, name


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permissions")
def test_unwritable_output_directory(tmp_path, z):
    np.save(tmp_path / "ok.npy", z)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        done = run("bold", tmp_path / "ok.npy", "-o", locked / "o.npz", "--dt", "1ms")
    finally:
        locked.chmod(0o700)
    assert done.returncode == 2 and "is not writable" in done.stderr
    assert list(locked.iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permissions")
def test_unreadable_input(tmp_path, z):
    np.save(tmp_path / "ok.npy", z)
    (tmp_path / "ok.npy").chmod(0o000)
    try:
        done = run("bold", tmp_path / "ok.npy", "-o", tmp_path / "o.npz", "--dt", "1ms")
    finally:
        (tmp_path / "ok.npy").chmod(0o600)
    assert done.returncode == 2 and "cannot be read (permission denied)" in done.stderr


def test_internal_error_exit_1_asks_for_a_report(monkeypatch, capsys, tmp_path, z):
    np.save(tmp_path / "ok.npy", z)

    def broken(*args, **kwargs):
        raise TypeError("unexpected")

    monkeypatch.setattr(pipeline, "run_bold", broken)
    status = cli.main(["bold", str(tmp_path / "ok.npy"), "-o", str(tmp_path / "o.npz"),
                       "--dt", "1ms"])
    err = capsys.readouterr().err
    assert status == 1
    assert "internal error: TypeError: unexpected" in err and "please report it" in err
    assert "Traceback" not in err
    status = cli.main(["--debug", "bold", str(tmp_path / "ok.npy"), "-o",
                       str(tmp_path / "o.npz"), "--dt", "1ms"])
    assert status == 1 and "Traceback" in capsys.readouterr().err


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_run_leaves_nothing(tmp_path, sig):
    """Stop a long run once its temporary output exists: no output, no temporary file."""
    z = np.full((400_000, 4), 0.2)
    np.save(tmp_path / "long.npy", z)
    (tmp_path / "old.h5").write_bytes(b"keep me")
    before = sha(tmp_path / "long.npy")
    # A test run started in the background has SIGINT ignored, and a child inherits that (as
    # a shell's background job should). With a handler in this process instead, the child
    # starts with the default, as from a terminal; no preexec_fn, which would fork a
    # multithreaded process.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        proc = subprocess.Popen([sys.executable, "-m", "fwdmodels", "bold",
                                 str(tmp_path / "long.npy"), "-o", str(tmp_path / "old.h5"),
                                 "--force", "--dt", "1ms", "--backend", "numpy",
                                 "--chunk-size", "2000", "-q"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    finally:
        signal.signal(signal.SIGINT, previous)
    deadline = time.monotonic() + 120
    while not any(p.name.endswith(".fwdmodels-part") for p in tmp_path.iterdir()):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted; no output was written" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.npy", "old.h5"]
    assert (tmp_path / "old.h5").read_bytes() == b"keep me"
    assert sha(tmp_path / "long.npy") == before


@pytest.mark.parametrize("stop_after", ["first", "last"])
@pytest.mark.parametrize("output", ["o.npz", "o.h5", "o.zarr"])
def test_a_stop_whose_exception_was_lost_still_discards_the_output(tmp_path, monkeypatch,
                                                                  capsys, stop_after, output):
    """A signal's KeyboardInterrupt raised inside a finaliser or a weak-reference callback is
    lost ("Exception ignored in ..."), and the run goes on. The handler records the stop too:
    the next chunk raises it, and nothing is renamed into place after it, even when it came
    during the last chunk. Here the handler's record is made, and its exception dropped, by a
    writer that stands in for the lost one."""
    from fwdmodels import _stop

    if output.endswith(".zarr"):
        pytest.importorskip("zarr")
    z = np.full((6000, 3), 0.2)
    np.save(tmp_path / "in.npy", z)
    before = sha(tmp_path / "in.npy")
    out_class = fio.OutputFile._formats[Path(output).suffix]
    original, calls = out_class.write, []

    def write_then_lose_a_stop(self, start, block, batch=None):
        original(self, start, block, batch)
        calls.append(start)
        if stop_after == "first" or start + len(block) == 6000:
            _stop.request(signal.SIGTERM)             # as the handler does; its raise is lost

    monkeypatch.setattr(out_class, "write", write_then_lose_a_stop)
    status = cli.main(["bold", str(tmp_path / "in.npy"), "-o", str(tmp_path / output),
                       "--dt", "1ms", "--chunk-size", "2000", "-q"])
    err = capsys.readouterr().err
    assert status == 130, err
    assert "interrupted; no output was written" in err
    assert calls == ([0] if stop_after == "first" else [0, 2000, 4000])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.npy"]
    assert sha(tmp_path / "in.npy") == before
    assert _stop.requested() is None                  # forgotten when the command ends
    monkeypatch.undo()                                # and the next command runs normally
    assert cli.main(["bold", str(tmp_path / "in.npy"), "-o", str(tmp_path / "again.npz"),
                     "--dt", "1ms", "-q"]) == 0


@contextlib.contextmanager
def _signal_dispositions(**handlers):
    """Set the handlers of the named signals for the block, whatever this test run has."""
    saved = {name: signal.getsignal(getattr(signal, name)) for name in handlers}
    try:
        for name, handler in handlers.items():
            signal.signal(getattr(signal, name), handler)
        yield
    finally:
        for name, handler in saved.items():
            signal.signal(getattr(signal, name), handler)


@pytest.mark.parametrize("output, force, call", [("o.npz", False, "link"),
                                                  ("o.h5", True, "replace"),
                                                  ("o.zarr", True, "rename")])
def test_a_stop_during_the_move_into_place_is_held_until_the_output_is_whole(
        tmp_path, monkeypatch, capsys, output, force, call):
    """Moving an output into place takes two system calls: a hard link, then removing the
    temporary name; or, to replace a Zarr store, renaming the old one aside and the new one in.
    A real SIGTERM that arrives after the first is held until the move is complete: the
    output is whole, nothing is left beside it, and the message names it as written."""
    if output.endswith(".zarr"):
        pytest.importorskip("zarr")
    z = np.full((3000, 3), 0.2)
    np.save(tmp_path / "in.npy", z)
    np.save(tmp_path / "other.npy", 2 * z)
    out = tmp_path / output
    argv = ["bold", str(tmp_path / "in.npy"), "-o", str(out), "--dt", "1ms", "-q"]
    assert cli.main(argv[:2] + ["-o", str(tmp_path / f"ref{out.suffix}")] + argv[4:]) == 0
    if force:                                          # an output to replace
        assert cli.main(["bold", str(tmp_path / "other.npy")] + argv[2:]) == 0
        argv.append("--force")
    real, signalled = getattr(os, call), []

    def move_then_signal(src, dst, *args, **kwargs):
        real(src, dst, *args, **kwargs)
        if out in (Path(src), Path(dst)) and not signalled:
            signalled.append(call)
            signal.raise_signal(signal.SIGTERM)       # held: must not raise here

    monkeypatch.setattr(os, call, move_then_signal)
    with _signal_dispositions(SIGTERM=signal.SIG_DFL):   # as from a shell: the CLI takes it
        status = cli.main(argv)
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert signalled == [call]
    assert status == 130, err
    assert f"interrupted; written in full before the stop: '{out}'; nothing else was " \
           f"written and the inputs are unchanged" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["in.npy", "other.npy", output, f"ref{out.suffix}"])
    np.testing.assert_array_equal(fio.load(out)[0], fio.load(tmp_path / f"ref{out.suffix}")[0])


def test_a_library_call_holds_ctrl_c_during_the_move_too(tmp_path, monkeypatch):
    """Outside the command line (a script, a batch worker), with Python's own Ctrl-C handler:
    the KeyboardInterrupt comes once the store is replaced, never between the renames."""
    pytest.importorskip("zarr")
    from fwdmodels.io.zarr import atomic_store

    out = tmp_path / "o.zarr"
    with atomic_store(out) as tmp:
        (tmp / "value").write_text("old")
    real, signalled = os.rename, []

    def rename_then_signal(src, dst):
        real(src, dst)
        if Path(src) == out and not signalled:       # the old store, just moved aside
            signalled.append(dst)
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(os, "rename", rename_then_signal)
    with _signal_dispositions(SIGINT=signal.default_int_handler), \
            pytest.raises(KeyboardInterrupt):
        with atomic_store(out, force=True) as tmp:
            (tmp / "value").write_text("new")
    monkeypatch.undo()
    assert signalled
    assert (out / "value").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.zarr"]


def test_a_holding_handler_left_in_place_passes_the_signal_on():
    """If an exception cuts short the putting back of the handlers, the holding one left in
    place acts as the one it replaced: puts it back, and gives it the signal."""
    from fwdmodels import _stop

    with _signal_dispositions(SIGINT=signal.default_int_handler):
        reached = []
        with pytest.raises(KeyboardInterrupt):        # raised once the block is done
            with _stop.held():
                left = signal.getsignal(signal.SIGINT)
                assert left is not signal.default_int_handler
                left(signal.SIGINT, None)              # noted, not raised, while held
                reached.append(True)
        assert reached
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        signal.signal(signal.SIGINT, left)            # as if putting back had been cut short
        with pytest.raises(KeyboardInterrupt):
            left(signal.SIGINT, None)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


class _Stop(Exception):
    """What a program's own SIGTERM handler raises, in these tests."""


def _stop_handler(signum, frame):
    raise _Stop(signum)


def test_a_signal_right_after_a_swap_leaves_no_handler_replaced(monkeypatch):
    """A signal whose handler raises, arriving just after ``held`` (or the command line) has
    swapped a handler and before it could note what it replaced, still finds every handler
    put back."""
    from fwdmodels import _stop

    real, fired = signal.signal, []

    def swap_then_signal(sig, handler):
        previous = real(sig, handler)
        if sig == signal.SIGINT and handler not in (signal.default_int_handler,) and not fired:
            fired.append(handler)
            signal.raise_signal(signal.SIGTERM)      # its handler raises
        return previous

    with _signal_dispositions(SIGINT=signal.default_int_handler, SIGTERM=_stop_handler):
        monkeypatch.setattr(signal, "signal", swap_then_signal)
        with pytest.raises(_Stop):
            with _stop.held():
                pass
        monkeypatch.undo()
        assert fired and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        assert signal.getsignal(signal.SIGTERM) is _stop_handler
        fired.clear()
        previous = {}
        monkeypatch.setattr(signal, "signal", swap_then_signal)
        with pytest.raises(_Stop):
            cli._catch_stop_signals(previous)
        monkeypatch.undo()
        cli._restore_signals(previous)
        assert fired == [cli._on_stop_signal]
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_every_signal_held_is_delivered_even_when_the_first_raises():
    """Ctrl-C and SIGTERM both arrive during the move: Ctrl-C's KeyboardInterrupt comes out,
    and SIGTERM still reaches its handler (it would end a process left at the default)."""
    from fwdmodels import _stop

    got = []
    with _signal_dispositions(SIGINT=signal.default_int_handler,
                              SIGTERM=lambda signum, frame: got.append(signum)):
        with pytest.raises(KeyboardInterrupt):
            with _stop.held():
                signal.raise_signal(signal.SIGINT)
                signal.raise_signal(signal.SIGTERM)
                assert got == []                       # held
        assert got == [signal.SIGTERM]
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_stop_as_the_command_ends_is_still_a_stop(tmp_path, monkeypatch, capsys):
    """A SIGTERM while the command line puts its handlers back, after the work: the outputs
    are whole, and the status is still 130, not the finished command's 0 (a script running
    ``fwdmodels ... && next`` must not go on)."""
    np.save(tmp_path / "in.npy", np.full((50, 2), 0.2))
    real = cli._restore_signals

    def restore_then_stop(previous):
        real(previous)
        raise KeyboardInterrupt                        # as the handler raises it

    monkeypatch.setattr(cli, "_restore_signals", restore_then_stop)
    status = cli.main(["bold", str(tmp_path / "in.npy"), "-o", str(tmp_path / "o.npz"),
                       "--dt", "1ms", "-q"])
    assert status == 130
    assert "interrupted as it ended; its outputs are whole" in capsys.readouterr().err
    assert fio.load(tmp_path / "o.npz")[0].shape == (50, 2)


_TERMINATED = """
import os, signal, sys
from pathlib import Path
from fwdmodels.io import atomic_path
out, real = Path(sys.argv[1]), os.link
def link_then_signal(src, dst):
    real(src, dst)
    signal.raise_signal(signal.SIGTERM)
os.link = link_then_signal
signal.signal(signal.SIGTERM, signal.SIG_DFL)
with atomic_path(out) as tmp:
    tmp.write_text("whole")
print("not reached")
"""


def test_a_signal_whose_action_is_to_end_the_process_ends_it_after_the_move(tmp_path):
    """A held signal is delivered to the handler that was there: SIGTERM left at its default
    ends the process, once the output is in place and its temporary name removed."""
    done = subprocess.run([sys.executable, "-c", _TERMINATED, str(tmp_path / "o.txt")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == -signal.SIGTERM, done.stderr
    assert "not reached" not in done.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.txt"]
    assert (tmp_path / "o.txt").read_text() == "whole"


def test_the_interrupted_message_names_what_was_written():
    from fwdmodels import _stop

    _stop.begin()
    try:
        assert cli._what_was_written("bold") == \
            "no output was written and the inputs are unchanged"
        assert cli._what_was_written("batch").startswith(
            "no output was reported written before the stop; files being processed at that "
            "moment may also have been finished by their workers")
        for i in range(7):
            _stop.wrote(f"out/{i}.npz")
        assert cli._what_was_written("demo", "the error") == (
            "written in full before the error: 'out/0.npz', 'out/1.npz', 'out/2.npz', "
            "'out/3.npz', 'out/4.npz' and 2 more; nothing else was written and the inputs are "
            "unchanged")
        said = cli._what_was_written("batch")
        assert said.startswith("written in full before the stop: 'out/0.npz', 'out/1.npz', "
                               "'out/2.npz', 'out/3.npz', 'out/4.npz' and 2 more; files being "
                               "processed at that moment may also have been finished")
        assert said.endswith("the inputs are unchanged")
    finally:
        _stop.end()
    assert _stop.written() == []
    _stop.wrote("outside/a/command.npz")               # a library call keeps no list
    assert _stop.written() == []


def test_the_stop_handler_records_and_raises_and_leaves_ignored_signals_ignored(tmp_path):
    from fwdmodels import _stop

    with pytest.raises(KeyboardInterrupt):
        cli._on_stop_signal(signal.SIGTERM, None)
    assert _stop.requested() == signal.SIGTERM
    # a record left from before a command (a signal between two commands) does not stop it
    np.save(tmp_path / "in.npy", np.full((50, 2), 0.2))
    assert cli.main(["bold", str(tmp_path / "in.npy"), "-o", str(tmp_path / "o.npz"),
                     "--dt", "1ms", "-q"]) == 0
    assert (tmp_path / "o.npz").exists() and _stop.requested() is None
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        # Ctrl-C in a background job and SIGHUP under nohup are ignored: they stay ignored
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        replaced = cli._catch_stop_signals()
        assert set(replaced) == {signal.SIGTERM}
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
        assert signal.getsignal(signal.SIGTERM) is cli._on_stop_signal
        _stop.request(signal.SIGTERM)
        cli._restore_signals(replaced)
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL and _stop.requested() is None
        # from a terminal, all three are handled, and put back afterwards
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
        replaced = cli._catch_stop_signals()
        assert set(replaced) == {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
        assert all(signal.getsignal(sig) is cli._on_stop_signal for sig in replaced)
        cli._restore_signals(replaced)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def test_python_m_works_without_the_script_on_path(tmp_path):
    env = dict(os.environ, PATH="/nonexistent")
    done = subprocess.run([sys.executable, "-m", "fwdmodels", "--version"], capture_output=True,
                          text=True, env=env, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == f"fwdmodels {fwdmodels.__version__}"
    assert shutil.which("fwdmodels", path="/nonexistent") is None


def _smooth_input(dt=1e-3, duration=12.0, n=4):
    t = np.arange(int(round(duration / dt))) * dt
    blocks = ((t % 6.0) < 3.0).astype(float)[:, None] * np.linspace(0.5, 1.0, n)
    return blocks + 0.3 * np.sin(2 * np.pi * 10.0 * t)[:, None]


def test_bold_hemo_dt_given_streams_like_the_api(tmp_path):
    z = _smooth_input()
    np.save(tmp_path / "z.npy", z)
    done = run("bold", tmp_path / "z.npy", "-o", tmp_path / "b.npz", "--dt", "1ms",
               "--hemo-dt", "10ms", "--chunk-size", "1234", "-q")
    assert done.returncode == 0, done.stderr
    got, info = fio.load(tmp_path / "b.npz")
    ref = fwdmodels.simulate_bold(z, "1 ms", hemo_dt="10 ms").magnitude
    np.testing.assert_array_equal(got, ref)
    assert got.shape == z.shape                     # one row per input sample, as the API
    assert info["dt"].to("ms").magnitude == pytest.approx(1.0)
    params = info["metadata"]["parameters"]
    assert params["hemo_dt"] == pytest.approx(0.01) and params["method"] == "split"
    assert 0 < params["error_estimate"] < 1e-8


def test_bold_default_is_the_api_default_and_recorded(tmp_path):
    z = _smooth_input()
    np.save(tmp_path / "z.npy", z)
    done = run("bold", tmp_path / "z.npy", "-o", tmp_path / "b.npz", "--dt", "1ms", "--tr", "2s",
               "-q")
    assert done.returncode == 0, done.stderr
    got, info = fio.load(tmp_path / "b.npz")
    np.testing.assert_array_equal(got, fwdmodels.simulate_bold(z, "1 ms", tr="2 s").magnitude)
    params = info["metadata"]["parameters"]
    assert params["method"] == "split" and params["hemo_dt"] == pytest.approx(0.02)
    assert params["tr"] == 2.0 and params["tr_mode"] == "sample"
    done = run("bold", tmp_path / "z.npy", "-o", tmp_path / "c.npz", "--dt", "1ms", "--tr", "2s",
               "--hemo-dt", "auto", "-q")
    assert done.returncode == 0, done.stderr
    np.testing.assert_array_equal(fio.load(tmp_path / "c.npz")[0], got)


def test_bold_hemo_dt_errors(tmp_path):
    np.save(tmp_path / "z.npy", _smooth_input(duration=3.0))
    done = run("bold", tmp_path / "z.npy", "-o", tmp_path / "b.npz", "--dt", "1ms", "--tr", "2s",
               "--hemo-dt", "60ms")
    assert done.returncode == 2
    assert "--hemo-dt must be at most 50 ms" in done.stderr and "got 0.06 s" in done.stderr
    done = run("bold", tmp_path / "z.npy", "-o", tmp_path / "b.npz", "--dt", "1ms",
               "--hemo-dt", "2.5ms")
    assert done.returncode == 2
    assert done.stderr.strip().endswith("--hemo-dt must be a whole multiple of dt; got hemo_dt = "
                                        "0.0025 s and dt = 0.001 s (ratio 2.5)")
    done = run("bold", tmp_path / "z.npy", "-o", tmp_path / "b.npz", "--dt", "1ms",
               "--method", "rk4", "--hemo-dt", "10ms")
    assert done.returncode == 2 and "--hemo-dt applies to method='split' only" in done.stderr
    done = run("bold", tmp_path / "z.npy", "-o", tmp_path / "b.npz", "--dt", "1ms",
               "--hemo-dt", "20")
    assert done.returncode == 2 and "--hemo-dt 20 has no unit" in done.stderr
    assert not (tmp_path / "b.npz").exists()


def test_crossval_subcommand_exit_status(tmp_path):
    rng = np.random.default_rng(0)
    z = rng.uniform(0, 1, (400, 3))
    np.save(tmp_path / "z.npy", z)
    bold = fwdmodels.simulate_bold(z, "1 ms", method="heun").magnitude
    np.save(tmp_path / "same.npy", bold)
    np.save(tmp_path / "off.npy", bold * 1.01)
    base = ["crossval", "bold", tmp_path / "z.npy"]
    agree = run(*base, tmp_path / "same.npy", "--dt", "1ms", "--method", "heun")
    assert agree.returncode == 0, agree.stderr
    assert "AGREE" in agree.stdout
    assert run(*base, tmp_path / "off.npy", "--dt", "1ms", "--method", "heun").returncode == 1
    missing = run(*base, tmp_path / "none.npy", "--dt", "1ms")
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1


@pytest.mark.parametrize("fmt", ["csv", "json", "npz"])
def test_bold_per_region_parameters_from_a_file(tmp_path, fmt):
    z = _smooth_input(duration=3.0, n=3)
    np.save(tmp_path / "z.npy", z)
    kappa, tau = [0.55, 0.65, 0.8], [0.9, 1.0, 1.1]
    path = tmp_path / f"params.{fmt}"
    if fmt == "csv":
        path.write_text("kappa,tau\n" + "".join(f"{k},{t}\n" for k, t in zip(kappa, tau)))
    elif fmt == "json":
        path.write_text(json.dumps({"preset": "friston2003", "kappa": kappa, "tau": tau}))
    else:
        np.savez(path, kappa=kappa, tau=tau, preset="friston2003")
    done = run("bold", tmp_path / "z.npy", "-o", tmp_path / "b.npz", "--dt", "1ms",
               "--params", path, "-q")
    assert done.returncode == 0, done.stderr
    got, info = fio.load(tmp_path / "b.npz")
    np.testing.assert_array_equal(got, fwdmodels.simulate_bold(z, "1 ms", kappa=kappa,
                                                               tau=tau).magnitude)
    assert info["metadata"]["parameters"]["params"]["kappa"] == kappa
    bad = tmp_path / "bad.csv"
    bad.write_text("kappa\n0.6\n-1\n0.7\n")
    done = run("bold", tmp_path / "z.npy", "-o", tmp_path / "c.npz", "--dt", "1ms",
               "--params", bad)
    assert done.returncode == 2
    assert "`kappa` must be positive and finite; got -1.0 at index 1" in done.stderr
    assert not (tmp_path / "c.npz").exists()


def test_bold_regions_first_with_a_tr_names_time_axis_and_zarr_records_the_estimate(tmp_path):
    z = _smooth_input(duration=3.0, n=4)
    np.save(tmp_path / "zt.npy", np.ascontiguousarray(z.T))      # (N, T): regions first
    done = run("bold", tmp_path / "zt.npy", "-o", tmp_path / "b.npz", "--dt", "1ms",
               "--tr", "2s")
    assert done.returncode == 2 and "pass --time-axis" in done.stderr
    assert "holds 4 steps along its time axis (axis 0" in done.stderr
    done = run("bold", tmp_path / "zt.npy", "-o", tmp_path / "b.zarr", "--dt", "1ms",
               "--tr", "1s", "--time-axis", "1", "-q")
    assert done.returncode == 0, done.stderr
    got, info = fio.load(tmp_path / "b.zarr")
    np.testing.assert_array_equal(got, fwdmodels.simulate_bold(z, "1 ms", tr="1 s").magnitude)
    assert 0 < info["metadata"]["parameters"]["error_estimate"] < 1e-8


def test_library_names_become_the_commands_flags():
    """The one map from Python argument names to flags: `name` and `name=value` of a
    command's options, switches written alone, other names (kappa, z) left as they are."""
    from fwdmodels.cli.flags import command_parsers, flag_table, to_flags

    parser = cli.build_parser()
    args = parser.parse_args(["eeg", "in.npy", "-o", "out.npz", "--leadfield", "L.npz"])
    flags = flag_table(command_parsers(parser, args))
    assert to_flags("`snr_db` must be finite; pass `force=True`; `kappa` and `z` stay",
                    flags) == "--noise-snr-db must be finite; pass --force; `kappa` and `z` stay"
    assert to_flags("pass `leadfield_unit`, e.g. `leadfield_unit='V/(nA*m)'`", flags) == \
        "pass --leadfield-unit, e.g. --leadfield-unit 'V/(nA*m)'"
    assert to_flags("`time_axis=1` or `force=False`", flags) == "--time-axis 1 or `force=False`"
    args = parser.parse_args(["demo"])
    flags = flag_table(command_parsers(parser, args))
    assert to_flags("choose another `directory`; `fmt` must be", flags) == \
        "choose another --output; --format must be"
    with pytest.raises(fwdmodels.FwdModelsError, match=r"`dt` 0.1 has no unit; .*`dt='0.1ms'`"):
        fwdmodels.pipeline.resolve_dt(None, "0.1")
