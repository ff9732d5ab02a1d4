"""The containers that :mod:`fwdmodels.io.readers` reads arrays from, and the simple formats.

A :class:`Container` is a dict of :class:`Entry` (name, shape, dtype, and a way to get the
data lazily) plus the file's attributes; every opener of :mod:`fwdmodels.io.formats` returns
one. This module opens ``.npy`` (memory-mapped), ``.npz`` (stored members memory-mapped,
compressed ones unpacked into an unlinked temporary file) and MATLAB v5 ``.mat`` files (read
whole by SciPy); :mod:`fwdmodels.io._hdf5` opens HDF5 and MATLAB v7.3 files,
:mod:`fwdmodels.io._zarr_store` Zarr stores.

Every header is checked before data are touched: impossible shapes (negative, or more bytes
than the file holds) and damaged streams (zip, deflate) are reported as a corrupt file;
members holding Python objects are listed as pickled and never loaded.
"""

from __future__ import annotations

import math
import os
import shutil
import struct
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np

from ..errors import FwdModelsError

__all__ = ["Container", "Entry", "corrupt_file", "plain_value", "is_complex", "open_npy",
           "open_npz", "open_mat5"]

_SMALL = 1 << 16            # entries up to this many bytes are read as metadata
#: Errors that a damaged zip or npy stream raises while it is read.
_STREAM_ERRORS = (ValueError, OSError, zipfile.BadZipFile, EOFError, struct.error, SyntaxError,
                  zlib.error)

def corrupt_file(path, detail) -> FwdModelsError:
    """The error for an input that cannot be read as its format says (``detail``: why)."""
    return FwdModelsError(f"input file '{path}' is truncated or corrupt ({detail}); write it "
                          f"again or check the copy")


# --------------------------------------------------------------------------- .npy headers
def _read_npy_header(fh):
    """``(shape, fortran_order, dtype)`` from an open .npy stream positioned at its start."""
    fmt = np.lib.format
    version = fmt.read_magic(fh)
    if version == (1, 0):
        return fmt.read_array_header_1_0(fh)
    if version == (2, 0):
        return fmt.read_array_header_2_0(fh)
    return fmt._read_array_header(fh, version)   # version 3 (utf-8 field names)


def _checked_shape(path, shape, dtype, available, what="its header") -> int:
    """Bytes of data that an .npy header promises; refuse negative or impossible shapes.

    ``available`` is the number of bytes that can hold the data (None when unknown).
    """
    if any(not isinstance(n, int) or n < 0 for n in shape):
        raise corrupt_file(path, f"{what} gives the shape {shape}, with a negative dimension")
    n_bytes = math.prod(shape) * dtype.itemsize       # Python ints: no overflow
    if available is not None and n_bytes > available:
        raise corrupt_file(path, f"{what} gives the shape {shape}, {n_bytes:,} bytes of data, but "
                             f"only {available:,} bytes follow it")
    return n_bytes


def is_complex(dtype) -> bool:
    """True for complex dtypes, and for HDF5 compounds of a real and an imaginary part."""
    if dtype is None:
        return False
    if dtype.kind == "c":
        return True
    names = {n.lower() for n in (dtype.names or ())}
    return names in ({"real", "imag"}, {"r", "i"}, {"re", "im"})


class Entry:
    """One array in a file: name, shape, dtype and a way to get it (lazily).

    ``getter()`` returns the data: an array, or an object sliced like one (a memory map, an
    h5py dataset, a view); ``attrs`` are the array's own attributes (HDF5, Zarr).
    """

    def __init__(self, name, shape, dtype, getter, pickled=False, matlab_class=None,
                 external=None, attrs=None):
        self.name, self.shape, self.dtype = name, tuple(shape), dtype
        self.getter, self.pickled, self.matlab_class = getter, pickled, matlab_class
        #: Why the data lie outside the file (HDF5 external storage, virtual dataset or
        #: external link), when they do and the caller did not allow it; such data are not read.
        self.external = external
        self.attrs: dict = {} if attrs is None else attrs
        #: Region names stored with the data (TVB's ``TVB_labels_dimensions``), or None.
        self.region_names = None
        #: For one state variable and mode of a TVB time series: which (a dict), or None.
        self.tvb = None

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.size * (self.dtype.itemsize if self.dtype is not None else 8)

    @property
    def numeric(self) -> bool:
        return (not self.pickled and not self.external and self.dtype is not None
                and self.dtype.kind in "biuf" and self.matlab_class != "char")

    @property
    def complex(self) -> bool:
        return is_complex(self.dtype)


# --------------------------------------------------------------------------- containers
class Container:
    """A file opened for reading: a dict of entries plus the file's attributes (h5, Zarr)."""

    def __init__(self, path: Path, fmt: str):
        self.path, self.format = path, fmt
        self.entries: dict[str, Entry] = {}
        self.attrs: dict = {}
        #: Other names a key may be given by (a TVB time series: ``"0"``, ``"V:0"``, ``"data"``).
        self.key_aliases: dict[str, str] = {}
        #: The stored layout of a TVB time series (shape, state variables), else empty.
        self.tvb_layout: dict = {}
        self._closers = []

    def on_close(self, closer) -> None:
        """Call ``closer()`` when the container is closed (the open file behind it)."""
        self._closers.append(closer)

    def close(self):
        while self._closers:
            try:
                self._closers.pop()()
            except Exception:  # closing is best effort
                pass

    def small_value(self, name):
        entry = self.entries.get(name)
        if entry is None or entry.pickled or entry.external or entry.nbytes > _SMALL:
            return None
        try:
            value = entry.getter()
        except _STREAM_ERRORS as exc:
            raise corrupt_file(self.path, f"entry {name!r}: {exc}") from None
        if not isinstance(value, (str, bytes, np.ndarray)):
            value = np.asarray(value[()] if hasattr(value, "id") else value)   # h5 dataset
        return plain_value(value)


def plain_value(value):
    """A Python scalar or str from a small array (MATLAB char arrays joined)."""
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "US":
            flat = [v.decode(errors="replace") if isinstance(v, bytes) else str(v)
                    for v in value.ravel()]
            return "".join(flat) if value.ndim <= 1 or value.shape[0] == 1 else flat
        if value.size == 1:
            return value.reshape(()).item()
        return value
    if isinstance(value, np.generic):
        return value.item()
    return value


def open_npy(path: Path) -> Container:
    c = Container(path, "npy")
    try:
        with open(path, "rb") as fh:
            shape, fortran, dtype = _read_npy_header(fh)
            offset = fh.tell()
    except _STREAM_ERRORS as exc:
        raise corrupt_file(path, exc) from None
    name = path.stem
    if dtype.hasobject:
        c.entries[name] = Entry(name, shape, dtype, None, pickled=True)
        return c
    _checked_shape(path, shape, dtype, path.stat().st_size - offset)

    def get():
        if math.prod(shape) == 0:
            return np.empty(shape, dtype)
        return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape,
                         order="F" if fortran else "C")

    c.entries[name] = Entry(name, shape, dtype, get)
    return c


def open_npz(path: Path) -> Container:
    c = Container(path, "npz")
    try:
        zf = zipfile.ZipFile(path)
        infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, zlib.error) as exc:
        raise corrupt_file(path, exc) from None
    c.on_close(zf.close)
    for info in infos:
        if not info.filename.endswith(".npy"):
            continue
        name = info.filename[:-4]
        try:
            with zf.open(info) as member:
                shape, fortran, dtype = _read_npy_header(member)
                header_len = member.tell() if member.seekable() else None
        except _STREAM_ERRORS as exc:
            raise corrupt_file(path, f"member {info.filename!r}: {exc}") from None
        if dtype.hasobject:
            c.entries[name] = Entry(name, shape, dtype, None, pickled=True)
            continue
        _checked_shape(path, shape, dtype, info.file_size, f"member {info.filename!r}")
        c.entries[name] = Entry(name, shape, dtype,
                                 _npz_getter(path, zf, info, shape, fortran, dtype, header_len))
    return c


def _npz_getter(path, zf, info, shape, fortran, dtype, header_len):
    order = "F" if fortran else "C"
    n_bytes = math.prod(shape) * dtype.itemsize

    def get():
        if n_bytes == 0:
            return np.empty(shape, dtype)
        if n_bytes <= _SMALL:
            with zf.open(info) as member:
                _read_npy_header(member)
                raw = member.read(n_bytes)
            if len(raw) != n_bytes:
                raise corrupt_file(path, f"member {info.filename!r} is short")
            return np.frombuffer(raw, dtype=dtype).reshape(shape, order=order)
        if info.compress_type == zipfile.ZIP_STORED and header_len is not None:
            with open(path, "rb") as fh:      # data start = local header + name + extra
                fh.seek(info.header_offset)
                local = fh.read(30)
                if len(local) != 30 or local[:4] != b"PK\x03\x04":
                    raise corrupt_file(path, f"member {info.filename!r} has a bad local header")
                name_len, extra_len = struct.unpack("<HH", local[26:30])
            start = info.header_offset + 30 + name_len + extra_len + header_len
            if start + n_bytes > path.stat().st_size:
                raise corrupt_file(path, f"member {info.filename!r} is short")
            return np.memmap(path, dtype=dtype, mode="r", offset=start, shape=shape, order=order)
        # Compressed: unpack into an unlinked temporary file and map it.
        _check_temp_space(path, info.filename, n_bytes)
        fd, tmp = tempfile.mkstemp(suffix=".npy")
        try:
            with zf.open(info) as member, os.fdopen(fd, "wb") as out:
                _read_npy_header(member)
                remaining = n_bytes
                while remaining:
                    block = member.read(min(remaining, 1 << 22))
                    if not block:
                        raise corrupt_file(path, f"member {info.filename!r} is short")
                    out.write(block)
                    remaining -= len(block)
            mapped = np.memmap(tmp, dtype=dtype, mode="r", shape=shape, order=order)
        except _STREAM_ERRORS as exc:
            raise corrupt_file(path, f"member {info.filename!r}: {exc}") from None
        finally:
            try:
                os.unlink(tmp)                 # the mapping stays valid (POSIX)
            except OSError:
                pass
        return mapped

    return get


def _check_temp_space(path, member: str, n_bytes: int) -> None:
    """Refuse to unpack a compressed member into a temporary directory too small for it."""
    directory = tempfile.gettempdir()
    try:
        free = shutil.disk_usage(directory).free
    except OSError:                    # unknown: let the write itself tell
        return
    if n_bytes > free:
        raise FwdModelsError(f"member {member!r} of '{path}' is compressed and must be unpacked "
                             f"({n_bytes / 1e6:,.1f} MB) into the temporary directory "
                             f"'{directory}', which has {free / 1e6:,.1f} MB free; point TMPDIR "
                             f"at a larger disk, or save the input uncompressed (np.savez)")


def open_mat5(path: Path) -> Container:
    import scipy.io

    c = Container(path, "mat5")
    try:
        listing = scipy.io.whosmat(path)
    except Exception as exc:  # scipy raises ValueError, TypeError, OSError for bad files
        raise corrupt_file(path, exc) from None
    cache: dict = {}

    def getter(name):
        def get():
            if name not in cache:
                try:
                    data = scipy.io.loadmat(path, variable_names=[name], squeeze_me=False,
                                            chars_as_strings=True, mat_dtype=False)
                except Exception as exc:
                    raise corrupt_file(path, exc) from None
                if name not in data:
                    raise corrupt_file(path, f"variable {name!r} could not be read")
                cache[name] = data[name]
            return cache[name]
        return get

    classes = {"double": "f8", "single": "f4", "int8": "i1", "uint8": "u1", "int16": "i2",
               "uint16": "u2", "int32": "i4", "uint32": "u4", "int64": "i8", "uint64": "u8",
               "logical": "u1"}
    for name, shape, cls in listing:
        dtype = np.dtype(classes[cls]) if cls in classes else None
        c.entries[name] = Entry(name, shape, dtype, getter(name),
                                 pickled=False, matlab_class=cls)
    return c
