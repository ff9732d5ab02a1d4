"""Builders of hostile input files, each made from scratch in a test's temporary directory.

Used by tests/test_io.py, tests/test_io_zarr.py and the hostile-input suite
(tests/test_hostile.py). Every builder writes the file at ``path`` and returns ``path``.
"""

import struct
import zipfile
from pathlib import Path

import numpy as np


def npy_with_header(path, shape_text: str, descr: str = "<f8", payload: bytes = b"\0" * 64):
    """An .npy file whose header claims ``shape_text`` (e.g. ``"(-5, 3)"``), any payload."""
    header = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape_text)
    header += " " * (-(len(header) + 11) % 64) + "\n"
    Path(path).write_bytes(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little")
                           + header.encode("latin1") + payload)
    return Path(path)


def npz_bad_deflate(path, array):
    """A compressed .npz whose member's deflate stream is broken (zlib: invalid block type)."""
    np.savez_compressed(path, x=array)
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("x.npy")
    raw = bytearray(Path(path).read_bytes())
    name_len, extra_len = struct.unpack("<HH", raw[info.header_offset + 26:
                                                   info.header_offset + 30])
    raw[info.header_offset + 30 + name_len + extra_len] = 0x07   # BFINAL 1, BTYPE 11: reserved
    Path(path).write_bytes(bytes(raw))
    return Path(path)


def mat73(path, **arrays):
    """A MATLAB v7.3 file (HDF5 after a 512-byte header, axes reversed); complex as MATLAB
    stores it: a compound of ``real`` and ``imag``."""
    import h5py

    with h5py.File(path, "w", userblock_size=512) as fh:
        for name, value in arrays.items():
            value = np.asarray(value)
            if np.iscomplexobj(value):
                stored = np.empty(value.T.shape, dtype=[("real", "<f8"), ("imag", "<f8")])
                stored["real"], stored["imag"] = value.T.real, value.T.imag
            else:
                stored = value.T
            fh.create_dataset(name, data=stored).attrs["MATLAB_class"] = np.bytes_("double")
    with open(path, "r+b") as fh:
        fh.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64")
    return Path(path)


def h5_outside(path, kind: str, array, elsewhere):
    """An .h5 whose dataset ``x`` reads its data from ``elsewhere``.

    ``kind``: ``"external"`` (raw storage in the file ``elsewhere``, e.g. /etc/passwd),
    ``"virtual"`` (a virtual dataset over ``elsewhere``'s dataset ``secret``) or ``"link"``
    (an external link to it). For the last two, ``elsewhere`` is written first.
    """
    import h5py

    array = np.asarray(array, dtype=np.float64)
    if kind != "external":
        with h5py.File(elsewhere, "w") as fh:
            fh["secret"] = array
    with h5py.File(path, "w") as fh:
        if kind == "external":
            fh.create_dataset("x", shape=array.shape, dtype="f8",
                              external=[(str(elsewhere), 0, array.nbytes)])
        elif kind == "virtual":
            layout = h5py.VirtualLayout(shape=array.shape, dtype="f8")
            layout[...] = h5py.VirtualSource(str(elsewhere), "secret", shape=array.shape)
            fh.create_virtual_dataset("x", layout)
        else:
            fh["x"] = h5py.ExternalLink(str(elsewhere), "/secret")
    return Path(path)


def zarr_store(path, array, chunks, fill_value=0.0):
    """A Zarr v3 store holding ``array`` as the single array ``x`` of a group."""
    import zarr

    group = zarr.open_group(str(path), mode="w", zarr_format=3)
    data = group.create_array("x", shape=array.shape, chunks=chunks, dtype=array.dtype,
                              fill_value=fill_value)
    data[...] = array
    return Path(path)


def zarr_chunk_file(store, coords) -> Path:
    """The file of chunk ``coords`` of array ``x`` in a store made by :func:`zarr_store`."""
    return Path(store) / "x" / "c" / Path(*map(str, coords))
