"""The hostile-input suite (issue 13): hostile files, options, conditions and signals.

Every case builds its hostile input here (in a temporary folder), runs the ``fwdmodels``
command in-process (``fwdmodels.cli.main``, so the suite stays fast; the signal cases run it
in a subprocess), and asserts:

* the exit status (2 for a user mistake, 130 when stopped by a signal);
* exactly one line on stderr, no traceback, naming the argument, the rule and the value;
* nothing written (no output, no temporary file) and every input unchanged (a hash of every
  file in the folder before and after).
"""

import errno
import hashlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from fwdmodels import cli

h5py = pytest.importorskip("h5py")
zarr = pytest.importorskip("zarr")

from hostile_files import (h5_outside, mat73, npy_with_header, npz_bad_deflate,  # noqa: E402
                           zarr_chunk_file, zarr_store)

T, N, M = 300, 3, 4
LONG = "1" * 100_000 + " s"          # pint's parser takes minutes on this


def _forward(path):
    """A small EEG forward solution (-fwd.fif): 3 sources in a sphere, 7 electrodes."""
    import mne

    mne.set_log_level("error")
    names = ["Fp1", "Fp2", "Cz", "O1", "O2", "T7", "T8"]
    info = mne.create_info(names, 1000.0, "eeg")
    info.set_montage(mne.channels.make_standard_montage("standard_1020"))
    sphere = mne.make_sphere_model("auto", "auto", info)
    rr = np.asarray(sphere["r0"]) + np.diag([0.02, 0.03, 0.04])
    src = mne.setup_volume_source_space(pos=dict(rr=rr, nn=np.eye(3)))
    fwd = mne.make_forward_solution(info, None, src, sphere, meg=False, eeg=True)
    mne.write_forward_solution(path, fwd, overwrite=True)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """The folder of inputs, valid and hostile (all small)."""
    d = tmp_path_factory.mktemp("hostile")
    rng = np.random.default_rng(13)
    z = 0.5 + 0.1 * rng.standard_normal((T, N))
    np.save(d / "z.npy", z)
    np.savez(d / "L.npz", L=rng.standard_normal((N, M)), unit="V/(nA*m)")
    # .npy
    np.save(d / "complex.npy", z + 1j)
    np.save(d / "empty.npy", np.zeros((0, N)))
    np.save(d / "noregion.npy", np.zeros((T, 0)))
    npy_with_header(d / "negative.npy", "(-5, 3)")
    npy_with_header(d / "overflow.npy", "(9223372036854775807, 9223372036854775807)")
    raw = (d / "z.npy").read_bytes()
    (d / "truncated.npy").write_bytes(raw[: len(raw) // 2])
    (d / "zero.npy").write_bytes(b"")
    np.save(d / "pickled.npy", np.array([z, None], dtype=object), allow_pickle=True)
    for name, value in (("nan", np.nan), ("inf", np.inf)):
        bad = z.copy()
        bad[7, 1] = value
        np.save(d / f"{name}.npy", bad)
    np.save(d / "oned.npy", z[:, 0])
    np.save(d / "fourd.npy", np.zeros((4, 3, 2, 1)))
    np.save(d / "text.npy", np.array([["a", "b"], ["c", "d"]]))
    np.save(d / "Lcomplex.npy", np.ones((N, M)) * (1 + 1j))
    np.save(d / "huge.npy", np.full((T, N), 1e308))
    np.savez(d / "L10.npz", L=np.full((N, M), 10.0), unit="V/(nA*m)")
    # .npz
    np.savez(d / "complex.npz", x=z + 1j, dt="1 ms")
    np.savez_compressed(d / "complexz.npz", x=z + 1j, dt="1 ms")
    npz_bad_deflate(d / "deflate.npz", np.tile(z, (10, 1)))
    np.savez(d / "pickled.npz", x=np.array([1, {"a": 2}], dtype=object))
    np.savez(d / "two.npz", a=z, b=z)
    np.savez(d / "dtlong.npz", x=z, dt="1" * 1000 + " ms")    # longer ones are not metadata
    np.savez(d / "dtinf.npz", x=z, dt="inf s")
    np.savez(d / "dttiny.npz", x=z, dt="1e-30 s")
    np.savez(d / "dtbare.npz", x=z, dt=0.001)
    np.savez(d / "dtmetre.npz", x=z, dt="3 m")
    np.savez(d / "unusable.npz", a=z + 1j, b=np.zeros((0, 3)), fs=np.array(1000.0))
    np.savez(d / "metaonly.npz", dt="1 ms", unit="Hz")
    (d / "truncated.npz").write_bytes((d / "two.npz").read_bytes()[:-300])
    # MATLAB
    scipy.io.savemat(d / "complex5.mat", {"x": z + 1j, "dt": "1 ms"})
    mat73(d / "complex73.mat", x=z + 1j)
    scipy.io.savemat(d / "empty5.mat", {"x": np.zeros((0, N)), "dt": "1 ms"})
    (d / "garbage.mat").write_bytes(b"not a MATLAB file " * 40)
    # HDF5
    (d / "secret.bin").write_bytes(z.tobytes())
    h5_outside(d / "external.h5", "external", z, d / "secret.bin")
    h5_outside(d / "virtual.h5", "virtual", z, d / "target.h5")
    h5_outside(d / "link.h5", "link", z, d / "target2.h5")
    with h5py.File(d / "complex.h5", "w") as fh:
        fh["x"] = z + 1j
    with h5py.File(d / "empty.h5", "w") as fh:
        fh["x"] = np.zeros((0, N))
    with h5py.File(d / "unitlong.h5", "w") as fh:
        fh["x"] = z
        fh.attrs["unit"] = "u" * 10_000 + "V"
    with h5py.File(d / "Lexternal.h5", "w") as fh:
        fh.create_dataset("L", shape=(N, M), dtype="f8", external=[(str(d / "secret.bin"), 0,
                                                                    N * M * 8)])
        fh.attrs["unit"] = "V/(nA*m)"
    (d / "garbage.h5").write_bytes(b"not an HDF5 file " * 40)
    # Zarr
    zarr_store(d / "missing.zarr", z, chunks=(100, N))
    zarr_chunk_file(d / "missing.zarr", (1, 0)).unlink()           # rows 100..199
    zarr_store(d / "complex.zarr", z + 1j, chunks=(100, N), fill_value=0j)
    outside = tmp_path_factory.mktemp("outside") / "chunk"
    zarr_store(d / "linked.zarr", z, chunks=(100, N))
    chunk = zarr_chunk_file(d / "linked.zarr", (2, 0))
    outside.write_bytes(chunk.read_bytes())
    chunk.unlink()
    chunk.symlink_to(outside)
    zarr_store(d / "badchunk.zarr", z, chunks=(100, N))
    zarr_chunk_file(d / "badchunk.zarr", (0, 0)).write_bytes(b"not a compressed chunk")
    (d / "notastore.zarr").mkdir()
    # .fif
    _forward(d / "ok-fwd.fif")
    (d / "empty-fwd.fif").write_bytes(b"")
    (d / "garbage-fwd.fif").write_bytes(b"\x00\x00\x00\x64\x00\x00\x00\x1f" + b"\0" * 20)
    # crossval references
    np.save(d / "refnan.npy", np.full((T, N), np.nan))
    np.savez(d / "refpickled.npz", bold=np.array([1, {"a": 2}], dtype=object))
    (d / "exists.npz").write_bytes(b"precious")
    return d


def _snapshot(d: Path) -> dict:
    """Name -> content hash of everything under ``d`` (links by their target)."""
    out = {}
    for root, dirs, files in os.walk(d):
        for name in dirs + files:
            p = Path(root, name)
            key = str(p.relative_to(d))
            if p.is_symlink():
                out[key] = "->" + os.readlink(p)
            elif p.is_file():
                out[key] = hashlib.sha256(p.read_bytes()).hexdigest()
            else:
                out[key] = "dir"
    return out


def _bold(src, *extra):
    return lambda d: ["bold", d / src, "-o", d / "out.npz", "-q", *extra]


def _eeg(src, leadfield="L.npz", *extra):
    return lambda d: ["eeg", d / src, "-o", d / "out.npz", "--leadfield", d / leadfield, "-q",
                      *extra]


_COMPLEX = r"holds complex numbers \(dtype {}\); fwdmodels needs real values"
_CORRUPT = r"input file '.*{}' is truncated or corrupt \({}"
_OUTSIDE = r"fwdmodels reads only data stored inside the input unless allowed"


def _full_disk(monkeypatch, d):
    from fwdmodels.io import writers

    def pwrite(fd, data, offset):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(writers.os, "pwrite", pwrite)


def _little_space(monkeypatch, d):
    from collections import namedtuple

    from fwdmodels.io import _atomic

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(_atomic.shutil, "disk_usage", lambda p: usage(1 << 30, 1 << 30, 1000))


def _complex_forward(monkeypatch, d):
    import mne

    read = mne.read_forward_solution

    def complex_read(*args, **kwargs):       # MNE writes forward data as float32 only
        fwd = read(*args, **kwargs)
        fwd["sol"]["data"] = fwd["sol"]["data"] * (1 + 1j)
        return fwd

    monkeypatch.setattr(mne, "read_forward_solution", complex_read)


# (id, argv from the folder, pattern of the one stderr line, exit status, set-up)
CASES = [
    # ---------------------------------------------------------------- .npy
    ("npy-complex", _bold("complex.npy", "--dt", "1ms"), _COMPLEX.format("complex128"), 2),
    ("npy-empty", _bold("empty.npy", "--dt", "1ms"),
     r"'empty' in .* is empty \(shape \(0, 3\)\): it has no time steps \(axis 0", 2),
    ("npy-no-region", _bold("noregion.npy", "--dt", "1ms"),
     r"is empty \(shape \(300, 0\)\): it has no regions", 2),
    ("npy-negative-shape", _bold("negative.npy", "--dt", "1ms"),
     _CORRUPT.format("negative.npy", r"its header gives the shape \(-5, 3\), with a negative "
                                     r"dimension"), 2),
    ("npy-overflowing-shape", _bold("overflow.npy", "--dt", "1ms"),
     _CORRUPT.format("overflow.npy", r"its header gives the shape \(9223372036854775807, "
                                     r"9223372036854775807\), [\d,]+ bytes of data, but only "
                                     r"64 bytes follow it"), 2),
    ("npy-truncated", _bold("truncated.npy", "--dt", "1ms"),
     _CORRUPT.format("truncated.npy", r"its header gives the shape \(300, 3\), 7,200 bytes"),
     2),
    ("npy-zero-bytes", _bold("zero.npy", "--dt", "1ms"),
     r"input file '.*zero.npy' is empty \(0 bytes\)", 2),
    ("npy-pickled", _bold("pickled.npy", "--dt", "1ms"),
     r"'pickled' in .* holds pickled Python objects, which fwdmodels refuses to load", 2),
    ("npy-nan", _bold("nan.npy", "--dt", "1ms"), r"holds nan at time index 7, region 1", 2),
    ("npy-inf", _bold("inf.npy", "--dt", "1ms"), r"holds inf at time index 7, region 1", 2),
    ("npy-1d", _bold("oned.npy", "--dt", "1ms"), r"is 1-D \(shape \(300,\)\)", 2),
    ("npy-4d", _bold("fourd.npy", "--dt", "1ms"), r"is 4-D \(shape \(4, 3, 2, 1\)\)", 2),
    ("npy-text", _bold("text.npy", "--dt", "1ms"),
     r"'text' in .* is not a numeric array \(type str\d+\)", 2),
    # ---------------------------------------------------------------- .npz
    ("npz-complex", _bold("complex.npz"), _COMPLEX.format("complex128"), 2),
    ("npz-compressed-complex", _bold("complexz.npz"), _COMPLEX.format("complex128"), 2),
    ("npz-corrupt-deflate", _bold("deflate.npz", "--dt", "1ms"),
     _CORRUPT.format("deflate.npz", r"member 'x.npy': Error -3 while decompressing data: "
                                    r"invalid block type"), 2),
    ("npz-pickled-member", _bold("pickled.npz", "--dt", "1ms"),
     r"'x' in .* holds pickled Python objects", 2),
    ("npz-truncated", _bold("truncated.npz", "--dt", "1ms"),
     _CORRUPT.format("truncated.npz", ""), 2),
    ("npz-ambiguous", _bold("two.npz", "--dt", "1ms"),
     r"holds several arrays \('a' \(300, 3\), 'b' \(300, 3\)\); pick one with --key", 2),
    ("npz-unknown-key", _bold("two.npz", "--dt", "1ms", "--key", "c"),
     r"key 'c' is not in .* \(it holds 'a', 'b'\)", 2),
    ("npz-dt-1000-chars", _bold("dtlong.npz"),
     r"the time step \(entry 'dt'\) in .* must be a text of at most 256 characters .* got "
     r"1003 characters", 2),
    ("npz-dt-inf", _bold("dtinf.npz"),
     r"the time step \(entry 'dt'\) .* must be positive and finite; got inf s", 2),
    ("npz-dt-absurd", _bold("dttiny.npz"),
     r"the time step \(entry 'dt'\) .* must be at least 1e-09 s \(1 ns\); got 1e-30 s", 2),
    ("npz-dt-no-unit", _bold("dtbare.npz"),
     r"the time step \(entry 'dt'\) .* is 0.001 with no unit; pass --dt-unit", 2),
    ("npz-dt-not-a-time", _bold("dtmetre.npz"),
     r"the time step \(entry 'dt'\) .* must be a time; got 3 m", 2),
    ("npz-dt-unit-100k-chars", _bold("dtbare.npz", "--dt-unit", "m" * 100_000 + "s"),
     r"argument --dt-unit: must be a quantity text of at most 256 characters, such as '1 ms'; "
     r"got 100001 characters", 2),
    ("npz-unusable-arrays", _bold("unusable.npz", "--dt", "1ms"),
     r"holds no array fwdmodels can read \('a' \(300, 3\) is complex; 'b' \(0, 3\) is empty; "
     r"'fs' \(\) is a single number\)", 2),
    ("npz-metadata-only", _bold("metaonly.npz", "--dt", "1ms"),
     r"holds no numeric data array \(entries: dt, unit\)", 2),
    # ---------------------------------------------------------------- MATLAB
    ("mat5-complex", _bold("complex5.mat"), _COMPLEX.format("complex128"), 2),
    ("mat73-complex", _bold("complex73.mat", "--dt", "1ms"),
     _COMPLEX.format(r"\[\('real', '<f8'\), \('imag', '<f8'\)\]"), 2),
    ("mat5-empty", _bold("empty5.mat"), r"is empty \(shape \(0, 3\)\): it has no time steps",
     2),
    ("mat-garbage", _bold("garbage.mat", "--dt", "1ms"), _CORRUPT.format("garbage.mat", ""),
     2),
    # ---------------------------------------------------------------- HDF5
    ("h5-external-raw", _bold("external.h5", "--dt", "1ms"),
     r"'x' in .* is stored in the external raw file\(s\) '.*secret.bin'\. " + _OUTSIDE, 2),
    ("h5-virtual", _bold("virtual.h5", "--dt", "1ms"),
     r"'x' in .* is a virtual dataset whose data come from '.*target.h5'\. " + _OUTSIDE, 2),
    ("h5-external-link", _bold("link.h5", "--dt", "1ms"),
     r"'x' in .* is an external link to '.*target2.h5:/secret'\. " + _OUTSIDE, 2),
    ("h5-external-leadfield", _eeg("z.npy", "Lexternal.h5", "--dt", "1ms"),
     r"'L' in .*Lexternal.h5' is stored in the external raw file\(s\)", 2),
    ("h5-complex", _bold("complex.h5", "--dt", "1ms"), _COMPLEX.format("complex128"), 2),
    ("h5-empty", _bold("empty.h5", "--dt", "1ms"), r"it has no time steps", 2),
    ("h5-unit-10k-chars", _bold("unitlong.h5", "--dt", "1ms"),
     r"`the unit of 'x' in '.*unitlong.h5'` must be a quantity text of at most 256 "
     r"characters .*; got 10001 characters", 2),
    ("h5-garbage", _bold("garbage.h5", "--dt", "1ms"), _CORRUPT.format("garbage.h5", ""), 2),
    # ---------------------------------------------------------------- Zarr
    ("zarr-missing-chunk", _bold("missing.zarr", "--dt", "1ms"),
     r"rows 100 to 199 \(along axis 0, time\) of 'x' in '.*missing.zarr' are missing: the "
     r"chunk file 'c/1/0' does not exist, and zarr would read them as the fill value 0.0", 2),
    ("zarr-complex", _bold("complex.zarr", "--dt", "1ms"), _COMPLEX.format("complex128"), 2),
    ("zarr-chunk-linked-outside", _bold("linked.zarr", "--dt", "1ms"),
     r"chunk 'c/2/0' of 'x' in .* is a link to '.*chunk', outside the store", 2),
    ("zarr-corrupt-chunk", _bold("badchunk.zarr", "--dt", "1ms"),
     _CORRUPT.format("badchunk.zarr", ""), 2),
    ("zarr-not-a-store", _bold("notastore.zarr", "--dt", "1ms"),
     _CORRUPT.format("notastore.zarr", "not a readable Zarr store"), 2),
    # ---------------------------------------------------------------- .fif
    ("fif-info-empty", lambda d: ["info", d / "empty-fwd.fif"],
     r"input file '.*empty-fwd.fif' is empty \(0 bytes\)", 2),
    ("fif-info-garbage", lambda d: ["info", d / "garbage-fwd.fif"],
     r"'.*garbage-fwd.fif' is neither an MNE-Python Raw file nor a forward solution", 2),
    ("fif-leadfield-empty", _eeg("z.npy", "empty-fwd.fif", "--dt", "1ms"),
     r"lead field '.*empty-fwd.fif' is not a readable MNE-Python forward solution", 2),
    ("fif-leadfield-garbage", _eeg("z.npy", "garbage-fwd.fif", "--dt", "1ms"),
     r"lead field '.*garbage-fwd.fif' is not a readable MNE-Python forward solution \(.*"
     r"does not start with a file id tag", 2),
    ("fif-leadfield-complex", _eeg("z.npy", "ok-fwd.fif", "--dt", "1ms"),
     r"lead field '.*ok-fwd.fif' holds complex numbers \(dtype complex64\)", 2,
     _complex_forward),
    ("npy-leadfield-complex", _eeg("z.npy", "Lcomplex.npy", "--dt", "1ms",
                                   "--leadfield-unit", "V/(nA*m)"),
     _COMPLEX.format("complex128"), 2),
    # ---------------------------------------------------------------- options
    ("dt-100k-chars", _bold("z.npy", "--dt", LONG),
     r"argument --dt: must be a quantity text of at most 256 characters, such as '1 ms'; got "
     r"100002 characters \('11111111111111111111'...\)", 2),
    ("dt-inf", _bold("z.npy", "--dt", "inf s"), r"--dt must be finite; got inf s", 2),
    ("dt-nan", _bold("z.npy", "--dt", "nan ms"), r"--dt must be finite; got nan ms", 2),
    ("dt-absurd", _bold("z.npy", "--dt", "1e-30 s"),
     r"--dt must be at least 1e-09 s \(1 ns\) in magnitude.*got 1e-30 s\. Check its unit", 2),
    ("dt-negative", _bold("z.npy", "--dt", "-1 ms"), r"--dt must be positive; got -1 ms", 2),
    ("dt-not-a-time", _bold("z.npy", "--dt", "1 m"),
     r"--dt must have the dimension \[time\]; got 1 m", 2),
    ("dt-no-unit", _bold("z.npy", "--dt", "0.1"), r"--dt 0.1 has no unit", 2),
    ("tr-inf", _bold("z.npy", "--dt", "1ms", "--tr", "inf s"),
     r"--tr must be finite; got inf s", 2),
    ("tr-1000-chars", _bold("z.npy", "--dt", "1ms", "--tr", "1" * 1000 + " s"),
     r"--tr must be a quantity text of at most 256 characters .*; got 1002 characters", 2),
    ("tr-absurd", _bold("z.npy", "--dt", "1ms", "--tr", "1e-20 s"),
     r"--tr must be at least 1e-09 s", 2),
    ("chunk-size-0", _bold("z.npy", "--dt", "1ms", "--chunk-size", "0"),
     r"argument --chunk-size: must be at least 1; got 0", 2),
    ("time-axis-5", _bold("z.npy", "--dt", "1ms", "--time-axis", "5"),
     r"--time-axis must be an axis of 'z' .* between -2 and 1; got 5", 2),
    ("seed-negative", _eeg("z.npy", "L.npz", "--dt", "1ms", "--seed", "-1"),
     r"argument --seed: must be a whole number from 0 to 2\*\*128 - 1 .*; got -1", 2),
    ("seed-not-whole", _eeg("z.npy", "L.npz", "--dt", "1ms", "--seed", "1.5"),
     r"argument --seed: must be a whole number; got '1.5'", 2),
    ("snr-db-5000", _eeg("z.npy", "L.npz", "--dt", "1ms", "--noise-snr-db", "5000"),
     r"argument --noise-snr-db: must be a finite number of dB within ±3000 .*; got '5000'", 2),
    ("snr-db-minus-5000", _eeg("z.npy", "L.npz", "--dt", "1ms", "--noise-snr-db", "-5000"),
     r"argument --noise-snr-db: must be a finite number of dB within ±3000", 2),
    ("snr-db-nan", _eeg("z.npy", "L.npz", "--dt", "1ms", "--noise-snr-db", "nan"),
     r"argument --noise-snr-db: .*; got 'nan'", 2),
    ("snr-db-inf", _eeg("z.npy", "L.npz", "--dt", "1ms", "--noise-snr-db", "inf"),
     r"argument --noise-snr-db: .*; got 'inf'", 2),
    ("sensor-unit-10k-chars", _eeg("z.npy", "L.npz", "--dt", "1ms",
                                   "--sensor-unit", "u" * 10_000 + "V"),
     r"argument --sensor-unit: must be a quantity text of at most 256 characters", 2),
    ("dipole-scale-100k-chars", _eeg("z.npy", "L.npz", "--dt", "1ms",
                                     "--dipole-scale", "1" * 100_000 + " nA*m/mV"),
     r"argument --dipole-scale: must be a quantity text of at most 256 characters", 2),
    ("leadfield-unit-10k-chars", _eeg("z.npy", "Lcomplex.npy", "--dt", "1ms",
                                      "--leadfield-unit", "V/" * 5000 + "m"),
     r"argument --leadfield-unit: must be a quantity text of at most 256 characters", 2),
    # ------------------------------------------- the lead-field model's own checks, as one line
    ("eeg-output-overflows", _eeg("huge.npy", "L10.npz", "--dt", "1ms"),
     r"the output must be finite: the sensor signal overflows to -?inf at time index 0, "
     r"sensor \d although `x` is finite there", 2),
    ("eeg-dipole-scale-nan", _eeg("z.npy", "L.npz", "--dt", "1ms", "--dipole-scale",
                                  "nan nA*m/mV"),
     r"--dipole-scale must be finite; got nan", 2),
    ("eeg-reference-minus-1", _eeg("z.npy", "L.npz", "--dt", "1ms", "--reference", "-1"),
     r"--reference as a channel index must lie in \[0, 4\); got -1", 2),
    # ---------------------------------------------------------------- crossval
    ("crossval-pickled-reference",
     lambda d: ["crossval", "bold", d / "z.npy", d / "refpickled.npz", "--dt", "1ms"],
     r"REFERENCE: '.*refpickled.npz' holds pickled Python objects, which fwdmodels refuses",
     2),
    ("crossval-nan-reference",
     lambda d: ["crossval", "bold", d / "z.npy", d / "refnan.npy", "--dt", "1ms"],
     r"`reference` \('bold'\) holds nan at time index 0, channel 0: it is not finite from "
     r"its first row", 2),
    ("crossval-corrupt-reference",
     lambda d: ["crossval", "bold", d / "z.npy", d / "deflate.npz", "--dt", "1ms"],
     r"REFERENCE: cannot read '.*deflate.npz' as .npy or .npz \(error: Error -3", 2),
    # ---------------------------------------------------------------- outputs and disks
    ("h5-output-disk-full", lambda d: ["bold", d / "z.npy", "-o", d / "out.h5", "--dt", "1ms",
                                       "-q"],
     r"error: No space left on device \(.*out.h5\); no output was written and the inputs "
     r"are unchanged", 2, _full_disk),
    ("output-bigger-than-free-space", lambda d: ["bold", d / "z.npy", "-o", d / "out.h5",
                                                 "--dt", "1ms", "-q"],
     r"output '.*out.h5' needs about 0.0 MB but its folder .* has 0.0 MB free", 2,
     _little_space),
    ("output-exists", lambda d: ["bold", d / "z.npy", "-o", d / "exists.npz", "--dt", "1ms"],
     r"output '.*exists.npz' already exists; pass --force", 2),
    ("output-is-input", lambda d: ["bold", d / "z.npy", "-o", d / "z.npy", "--dt", "1ms",
                                   "--force"], r"output '.*z.npy' is the input file", 2),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_hostile_case(lab, case, capsys, monkeypatch):
    name, argv, pattern, expected = case[:4]
    if len(case) > 4:
        case[4](monkeypatch, lab)
    before = _snapshot(lab)
    try:
        status = cli.main([str(a) for a in argv(lab)])
    except SystemExit as exc:              # an option refused by argparse
        status = exc.code
    finally:
        written = [p for p in lab.iterdir() if p.name.startswith(("out.", ".out."))]
        for p in written:                  # so that one failure does not spread to the next
            p.unlink()
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert status == expected, captured.err
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err and "warning" not in captured.err
    assert re.search(pattern, lines[0]), lines[0]
    assert not written
    assert _snapshot(lab) == before                 # nothing written, every input unchanged


def test_suite_has_at_least_60_cases():
    assert len(CASES) + 2 >= 60                     # the two signal tests below count too


# ---------------------------------------------------------------------------- signals
def _start_long_run(folder: Path):
    np.save(folder / "long.npy", np.full((400_000, 4), 0.2))
    proc = subprocess.Popen([sys.executable, "-m", "fwdmodels", "bold", str(folder / "long.npy"),
                             "-o", str(folder / "out.h5"), "--dt", "1ms", "--backend", "numpy",
                             "--method", "rk4", "--chunk-size", "2000", "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not any(p.name.endswith(".fwdmodels-part") for p in folder.iterdir()):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.2)
    return proc


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no SIGHUP on this system")
def test_sighup_stops_a_run_like_ctrl_c(tmp_path):
    """A closed terminal or ssh session: exit 130, one line, nothing left behind."""
    proc = _start_long_run(tmp_path)
    before = hashlib.sha256((tmp_path / "long.npy").read_bytes()).hexdigest()
    proc.send_signal(signal.SIGHUP)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip() == ("fwdmodels bold: interrupted; no output was written and the inputs "
                           "are unchanged")
    assert [p.name for p in tmp_path.iterdir()] == ["long.npy"]
    assert hashlib.sha256((tmp_path / "long.npy").read_bytes()).hexdigest() == before


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="no SIGKILL on this system")
def test_part_file_of_a_killed_run_is_removed_by_the_next_run(tmp_path, monkeypatch, capsys):
    from fwdmodels.io import _atomic

    proc = _start_long_run(tmp_path)
    proc.kill()
    proc.communicate(timeout=60)
    left = [p.name for p in tmp_path.iterdir() if p.name.endswith(".fwdmodels-part")]
    assert len(left) == 1 and f"-{proc.pid}." in left[0]    # SIGKILL cannot clean up
    (tmp_path / ".keep.fwdmodels-part").write_bytes(b"not of our pattern")
    monkeypatch.setattr(_atomic, "_CLEANED", set())
    np.save(tmp_path / "z.npy", np.full((50, 2), 0.2))
    status = cli.main(["bold", str(tmp_path / "z.npy"), "-o", str(tmp_path / "b.npz"),
                       "--dt", "1ms", "-q"])
    assert status == 0, capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == [".keep.fwdmodels-part", "b.npz",
                                                          "long.npy", "z.npy"]


# ---------------------------------------------------------------------------- Python API
def test_negative_or_huge_seed_is_named_in_python(lab):
    from fwdmodels import FwdModelsError, pipeline
    from fwdmodels.leadfield import EEGLeadFieldModel

    L = np.ones((N, M)) * 1e-6
    for seed in (-1, 2 ** 128):
        with pytest.raises(FwdModelsError, match=rf"`rng` must be a seed from 0 to 2\*\*128 - 1; "
                                                 rf"got {seed}"):
            EEGLeadFieldModel(N, M, L * pipeline.ureg("V/(nA*m)"), rng=seed)
    with pytest.raises(FwdModelsError, match=r"`rng` must be a seed"):
        pipeline.run_eeg(lab / "z.npy", lab / "out.npz", leadfield=lab / "L.npz", dt="1 ms",
                         snr_db=10.0, seed=-1)
    assert not (lab / "out.npz").exists()


# ---------------------------------------------------------------------------- warnings
def test_cli_prints_warnings_as_one_line_after_success_and_drops_them_after_an_error(
        lab, monkeypatch, capsys):
    import warnings

    from fwdmodels import FwdModelsError, pipeline

    def noisy(*args, fail=False, **kwargs):
        for _ in range(3):                                  # one location: shown once
            warnings.warn("overflow encountered in matmul", RuntimeWarning, stacklevel=1)
        warnings.warn("second\nwarning", UserWarning, stacklevel=1)
        if fail:
            raise FwdModelsError("`x` must be finite; got inf")
        return lab / "z.npy"

    argv = ["eeg", str(lab / "z.npy"), "-o", str(lab / "out.npz"), "--leadfield",
            str(lab / "L.npz"), "--dt", "1ms", "-q"]
    monkeypatch.setattr(pipeline, "run_eeg", noisy)
    assert cli.main(argv) == 0
    assert capsys.readouterr().err.splitlines() == [
        "fwdmodels eeg: warning: overflow encountered in matmul",
        "fwdmodels eeg: warning: second warning"]
    monkeypatch.setattr(pipeline, "run_eeg", lambda *a, **k: noisy(fail=True))
    assert cli.main(argv) == 2
    assert capsys.readouterr().err.splitlines() == [
        "fwdmodels eeg: error: `x` must be finite; got inf"]
