"""fwdmodels.cli.batch: many files on a real dask.distributed cluster (worker processes,
loopback)."""

import argparse
import json
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("distributed")

import fwdmodels  # noqa: E402
from fwdmodels import FwdModelsError, ureg  # noqa: E402
from fwdmodels.cli import batch  # noqa: E402
from fwdmodels import io as fio  # noqa: E402


def _parser():
    """A parser holding only the batch sub-command, as cli.py wires it."""
    parser = argparse.ArgumentParser(prog="fwdmodels")
    sub = parser.add_subparsers(dest="command", required=True)
    batch.add_parser(sub)
    return parser


def _args(*argv):
    return _parser().parse_args(["batch", *argv])


@pytest.fixture(scope="module")
def sims(tmp_path_factory):
    """Three good recordings (npz, npy, h5), one corrupt file, and their arrays."""
    folder = tmp_path_factory.mktemp("sims")
    rng = np.random.default_rng(21)
    arrays = {f"s{i}": 0.5 + 0.1 * rng.standard_normal((1500 + 100 * i, 4)) for i in range(3)}
    np.savez(folder / "s0.npz", z=arrays["s0"], dt="1 ms")
    np.save(folder / "s1.npy", arrays["s1"])
    meta = fio.build_metadata("neural", "z", "dimensionless", ["time", "region"], 0.001)
    fio.save(folder / "s2.h5", "z", arrays["s2"], metadata=meta)
    (folder / "broken.npz").write_bytes(b"PK\x03\x04 this is not a zip archive")
    return folder, arrays


def test_local_cluster_runs_all_but_the_corrupt_file_and_rerun_skips(sims, tmp_path, capsys):
    folder, arrays = sims
    out = tmp_path / "out"
    report = tmp_path / "report.json"
    argv = [str(folder / "*"), "-o", str(out), "--model", "bold", "--dt", "1ms", "--tr",
            "0.1s", "--hemo-dt", "10ms", "--workers", "2"]
    assert batch.run(_args(*argv, "--report", str(report))) == 1
    captured = capsys.readouterr()
    assert "FAILED" in captured.err and "broken.npz" in captured.err
    assert "truncated or corrupt" in captured.err
    assert "4 files: 3 done, 0 skipped, 1 failed" in captured.out
    for name, z in arrays.items():
        got, info = fio.load(out / f"{name}.npz")
        np.testing.assert_array_equal(got, fwdmodels.simulate_bold(z, "1 ms", tr="0.1 s",
                                                                   hemo_dt="10 ms").magnitude)
        assert info["metadata"]["parameters"]["tr"] == pytest.approx(0.1)
    assert not (out / "broken.npz").exists()
    files = json.loads(report.read_text())["files"]
    assert [f["status"] for f in files] == ["failed", "done", "done", "done"]
    assert len({f["worker"] for f in files if f["status"] == "done"}) >= 1
    stamp = (out / "s0.npz").stat().st_mtime_ns

    # rerun: the complete outputs are skipped, the corrupt file fails again
    assert batch.run(_args(*argv)) == 1
    assert "0 done, 3 skipped, 1 failed" in capsys.readouterr().out
    assert (out / "s0.npz").stat().st_mtime_ns == stamp

    # other options: refused per file, not overwritten; --force recomputes
    other = [a if a != "0.1s" else "0.2s" for a in argv]
    assert batch.run(_args(*other, "-q")) == 1
    err = capsys.readouterr().err
    assert "exists but was made with other options" in err and "tr was 0.1, now 0.2" in err
    assert (out / "s0.npz").stat().st_mtime_ns == stamp
    good = [str(folder / "s*")]
    assert batch.run(_args(*good, *other[1:], "--force", "-q")) == 0
    assert fio.load(out / "s0.npz")[0].shape == (7, 4)


def test_scheduler_address_eeg_and_zarr_outputs(sims, tmp_path, capsys):
    pytest.importorskip("zarr")
    from distributed import LocalCluster

    folder, arrays = sims
    L = np.random.default_rng(3).standard_normal((4, 6))
    np.savez(tmp_path / "L.npz", L=L, unit="uV/(nA*m)")
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        argv = [str(folder / "s[01].*"), "-o", str(tmp_path / "eeg"), "--model", "eeg",
                "--leadfield", str(tmp_path / "L.npz"), "--sensor-unit", "uV",
                "--reference", "average", "--dt", "1ms", "--format", "zarr",
                "--scheduler", cluster.scheduler_address]
        assert batch.run(_args(*argv)) == 0
        assert "2 done, 0 skipped, 0 failed" in capsys.readouterr().out
        model = fwdmodels.EEGLeadFieldModel(4, 6, L * ureg("uV/(nA*m)"), sensor_unit="uV",
                                            reference="average")
        for name in ("s0", "s1"):
            z = arrays[name]
            got, info = fio.load(tmp_path / "eeg" / f"{name}.zarr")
            np.testing.assert_allclose(got, model(z).magnitude, rtol=1e-12, atol=1e-12)
            assert info["unit"] == "uV"
        assert batch.run(_args(*argv, "-q")) == 0
        assert "0 done, 2 skipped" in capsys.readouterr().out
        np.savez(tmp_path / "L.npz", L=2 * L, unit="uV/(nA*m)")
        assert batch.run(_args(*argv, "-q")) == 1
        assert "the lead field changed since" in capsys.readouterr().err


def test_bad_options_raise_before_any_work(sims, tmp_path):
    folder, _ = sims
    out = tmp_path / "out"
    base = ["-o", str(out), "--workers", "1"]
    cases = [
        ([str(tmp_path / "none*.npz"), "--model", "bold"], "matches no file"),
        ([str(folder / "s0.npz"), "--model", "eeg"], "needs --leadfield"),
        ([str(folder / "s0.npz"), "--model", "bold", "--tr", "2"], "has no unit"),
        ([str(folder / "s0.npz"), "--model", "bold", "--params", "nope"], "nope"),
        ([str(folder / "s0.npz"), "--model", "bold", "--hemo-dt", "20"], "has no unit"),
        ([str(folder / "s0.npz"), "--model", "meg", "--leadfield", str(folder / "missing.npz")],
         "does not exist"),
    ]
    for argv, message in cases:
        with pytest.raises(FwdModelsError, match=message):
            batch.run(_args(*argv, *base))
    np.save(tmp_path / "s0.npy", np.zeros((10, 4)))
    with pytest.raises(FwdModelsError, match="would both write"):
        batch.run(_args(str(folder / "s0.npz"), str(tmp_path / "s0.npy"), "--model", "bold",
                        *base))
    assert not out.exists()
    # --report: checked before the work, never written over a file the batch reads or writes
    one = [str(folder / "s0.npz"), "--model", "bold", *base, "--report"]
    (tmp_path / "p.json").write_text('{"kappa": 0.6}')
    for report, extra, message in [
            (tmp_path / "no" / "r.json", [], "does not exist or is not writable"),
            (tmp_path, [], "is a directory"),
            (out, [], "is a directory"),
            (folder / "s0.npz", [], r"is a file this batch reads \('"),
            (tmp_path / "p.json", ["--params", str(tmp_path / "p.json")],
             r"is a file this batch reads \('.*p.json'\)"),
            (out / "s0.npz", [], r"is an output \('"),
            (out / "s0.zarr" / "zarr.json", ["--format", "zarr"], r"is inside an output \(")]:
        with pytest.raises(FwdModelsError, match=f"--report '.*' {message}"):
            batch.run(_args(*one, str(report), *extra))
    assert not out.exists() and (tmp_path / "p.json").read_text() == '{"kappa": 0.6}'
    new = tmp_path / "new" / "out"
    for report in (new / "report.json", new.parent / "report.json"):    # folders -o makes
        jobs, _ = batch._plan(_args(*one[:3], "-o", str(new), "--workers", "1", "--report",
                                    str(report)))
        assert [job["output"] for job in jobs] == [str(new / "s0.npz")]
    assert not new.parent.exists()
    with pytest.raises(SystemExit):
        _args(str(folder / "s0.npz"), "--model", "bold", "-o", "x", "--workers", "2",
              "--scheduler", "tcp://127.0.0.1:1")


def test_unreachable_scheduler_is_a_user_error(sims, tmp_path, monkeypatch):
    folder, _ = sims
    monkeypatch.setattr(batch, "CONNECT_TIMEOUT", "1s")
    with pytest.raises(FwdModelsError, match="cannot be reached"):
        batch.run(_args(str(folder / "s0.npz"), "-o", str(tmp_path), "--model", "bold",
                        "--scheduler", "tcp://127.0.0.1:9"))


def test_process_file_reports_instead_of_raising(sims, tmp_path):
    folder, _ = sims
    job = {"input": str(folder / "s0.npz"), "output": str(tmp_path / "o.npz"), "model": "bold",
           "kwargs": {"not_an_option": 1}, "force": False, "expect": {}}
    result = batch.process_file(job)
    assert result["status"] == "failed" and "internal error: TypeError" in result["error"]
    job["kwargs"] = {"tr": "5 s"}
    result = batch.process_file(job)
    assert result["status"] == "failed" and "shorter than one TR" in result["error"]


def test_python_m_fwdmodels_batch(sims, tmp_path):
    folder, _ = sims
    cmd = [sys.executable, "-m", "fwdmodels", "batch", str(folder / "*"), "-o",
           str(tmp_path / "out"), "--model", "bold", "--dt", "1ms", "--workers", "2"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr
    assert "broken.npz" in done.stderr and "3 done, 0 skipped, 1 failed" in done.stdout
    bad = subprocess.run(cmd[:-2] + ["--tr", "2"], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
