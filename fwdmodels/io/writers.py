"""Writing results to ``.npz``, ``.h5`` and MATLAB ``.mat``: three :class:`OutputFile` formats.

Each is a subclass of :class:`fwdmodels.io.output.OutputFile` (which ``OutputFile(path, ...)``
chooses by the ending of ``path``), written atomically with its metadata:

* ``.npz`` (:class:`NpzOutputFile`): an uncompressed zip streamed to disk (memory-mapped again
  when read back); rows must be written in order.
* ``.h5`` (:class:`H5OutputFile`, h5py): one chunked dataset, the flat metadata as attributes,
  and the full metadata as JSON in the file attribute ``fwdmodels_metadata``. libhdf5 writes
  through a Python file object (:class:`_GuardedFile`) so that a write error (a full disk, a
  quota) is a Python ``OSError``: libhdf5 itself does not recover from one and can crash the
  process.
* ``.mat`` (:class:`MatOutputFile`): MATLAB v5 through SciPy, which needs the whole array in
  memory at the end (and at most 2 GB per variable); use ``.h5`` for very long outputs.

The free space of the output's folder is checked before anything is written (the size of
these three is known in advance; a ``.zarr`` store is compressed).

Each file holds the data array, ``dt`` (seconds, a number) with ``dt_unit`` = ``"s"``, ``unit``
and ``metadata`` (JSON text; see :mod:`fwdmodels.io.metadata`), plus the ``extra`` arrays
(for EEG and MEG: the sensor names, positions and orientations, the region names). Text arrays
are written as each format keeps text: fixed-width Unicode in ``.npz``, UTF-8 strings in
``.h5``, cell arrays in ``.mat`` (variable-length strings in ``.zarr``).
"""

from __future__ import annotations

import io
import os
import zipfile

import numpy as np

from ..errors import FwdModelsError
from ._hdf5 import h5py_module
from .output import OutputFile

__all__ = ["NpzOutputFile", "H5OutputFile", "MatOutputFile"]

_MAT5_LIMIT = 2 ** 31 - 1


class NpzOutputFile(OutputFile, suffixes=(".npz",)):
    """An ``.npz`` output: an uncompressed zip streamed to disk; rows written in order."""

    def _open(self):
        self._written = 0
        self._zip = zipfile.ZipFile(self._tmp, "w", zipfile.ZIP_STORED, allowZip64=True)
        self._member = self._zip.open(f"{self.name}.npy", "w", force_zip64=True)
        header = {"descr": np.lib.format.dtype_to_descr(self.dtype),
                  "fortran_order": False, "shape": self.shape}
        np.lib.format.write_array_header_2_0(self._member, header)

    def write(self, start: int, block: np.ndarray, batch: int | None = None) -> None:
        block = np.asarray(block, dtype=self.dtype)
        flat = (0 if batch is None else batch * self.shape[-2]) + start
        if flat != self._written:
            raise FwdModelsError("rows of an .npz output must be written in order")
        self._member.write(np.ascontiguousarray(block).tobytes())
        self._written = flat + block.shape[0]

    def _finish(self):
        self._member.close()
        for key, value in list(self._flat().items()) + list(self.extra.items()):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asarray(value), allow_pickle=False)
            self._zip.writestr(f"{key}.npy", buf.getvalue())
        self._zip.close()

    def _abort(self):
        _close_all(self, "_member", "_zip")


class H5OutputFile(OutputFile, suffixes=(".h5", ".hdf5")):
    """An HDF5 output: one chunked dataset, written through a :class:`_GuardedFile`."""

    def _check(self):
        super()._check()
        h5py_module("writing .h5 files")

    def _open(self):
        h5py = h5py_module("writing .h5 files")
        self._raw = _GuardedFile(self._tmp, name=self.path)
        self._h5 = h5py.File(self._raw, "w")
        rows = max(1, min(self.shape[-2], (1 << 20) // max(1, self.shape[-1] * 8)))
        chunks = tuple([1] * (len(self.shape) - 2) + [rows, self.shape[-1]])
        self._ds = self._h5.create_dataset(self.name, shape=self.shape, dtype=self.dtype,
                                           chunks=chunks if all(self.shape) else None)

    def write(self, start: int, block: np.ndarray, batch: int | None = None) -> None:
        block = np.asarray(block, dtype=self.dtype)
        stop = start + block.shape[0]
        self._ds[(slice(start, stop),) if batch is None else (batch, slice(start, stop))] = block
        self._raw.check()

    def _finish(self):
        flat = self._flat()
        for key in ("dt", "dt_unit", "unit"):
            if key in flat:
                self._ds.attrs[key] = flat[key]
                self._h5.attrs[key] = flat[key]
        self._h5.attrs["fwdmodels_metadata"] = flat["metadata"]
        for key, value in self.extra.items():
            if value.dtype.kind == "U":              # h5py stores text as UTF-8 strings
                self._h5.create_dataset(key, data=value.astype(object),
                                        dtype=h5py_module("writing .h5 files").string_dtype())
            else:
                self._h5.create_dataset(key, data=value)
        self._h5.close()
        self._raw.close()
        self._raw.check()

    def _abort(self):
        _close_all(self, "_h5", "_raw")


class MatOutputFile(OutputFile, suffixes=(".mat",)):
    """A MATLAB v5 output through SciPy: the array is kept in memory and saved at the end."""

    def _check(self):
        super()._check()
        if self.nbytes > _MAT5_LIMIT:
            raise FwdModelsError(f"output '{self.path}' would hold {self.nbytes / 1e9:.1f} GB, "
                                 f"more than a MATLAB v5 .mat variable can (2 GB); write .h5 "
                                 f"instead (MATLAB reads it with h5read)")

    @staticmethod
    def _stored_text(array):
        """A cell array of names; one text stays a char array."""
        return array.astype(str).astype(object) if array.ndim else array.astype(str)

    def _open(self):
        self._buffer = np.zeros(self.shape, dtype=self.dtype)

    def write(self, start: int, block: np.ndarray, batch: int | None = None) -> None:
        block = np.asarray(block, dtype=self.dtype)
        stop = start + block.shape[0]
        self._buffer[(slice(start, stop),) if batch is None else (batch, slice(start, stop))] \
            = block

    def _finish(self):
        import scipy.io

        data = {self.name: self._buffer, **self._flat(), **self.extra}
        scipy.io.savemat(self._tmp, data, do_compression=False, oned_as="column")
        self._buffer = None

    def _abort(self):
        self._buffer = None


def _close_all(output, *names) -> None:
    """Close the open files ``names`` of a failed output (best effort)."""
    for attr in names:
        obj = getattr(output, attr, None)
        if obj is not None:
            try:
                obj.close()
            except Exception:  # closing a failed writer is best effort
                pass


class _GuardedFile:
    """The file under an HDF5 output, for h5py's file-object driver: no write error reaches
    libhdf5.

    libhdf5 does not recover from a failed write (a full disk, a quota, a file-size limit): its
    later calls fail, and its clean-up at exit can crash the process (a segmentation fault,
    exit status 139). Here the first ``OSError`` of a write is kept, and that write and every
    later one go to memory instead (reads see them), so libhdf5 sees a working file and closes
    cleanly; :meth:`check` then raises the kept error, and the output is discarded. Writes are
    unbuffered, so an error belongs to the write that caused it.
    """

    def __init__(self, path, name=None):
        self.path = str(path if name is None else name)      # the name errors give
        self._fh = open(path, "w+b", buffering=0)
        self._pos = 0
        self._error = None
        self._spill = []                 # (offset, bytes) written after the error, in order

    def check(self) -> None:
        """Raise the kept write error (an ``OSError`` naming the file), if there was one."""
        if self._error is not None:
            raise OSError(self._error.errno, self._error.strerror or str(self._error),
                          self.path)

    def _failed(self, exc: OSError) -> None:
        if self._error is None:
            self._error = exc

    def seek(self, offset, whence=0):
        if whence == 1:
            offset += self._pos
        elif whence == 2:
            offset += max([os.fstat(self._fh.fileno()).st_size] +
                          [o + len(d) for o, d in self._spill])
        self._pos = offset
        return offset

    def tell(self):
        return self._pos

    def write(self, data) -> int:
        data = bytes(data)
        if self._error is None:
            try:
                done = 0
                while done < len(data):
                    done += os.pwrite(self._fh.fileno(), data[done:], self._pos + done)
            except OSError as exc:
                self._failed(exc)
        if self._error is not None:
            self._spill.append((self._pos, data))
        self._pos += len(data)
        return len(data)

    def read(self, size=-1) -> bytes:
        if size is None or size < 0:
            size = max(0, os.fstat(self._fh.fileno()).st_size - self._pos)
        out = bytearray(os.pread(self._fh.fileno(), size, self._pos))
        out.extend(bytes(size - len(out)))       # past the end reads as zeros, as in sec2
        for offset, data in self._spill:
            lo, hi = max(offset, self._pos), min(offset + len(data), self._pos + size)
            if lo < hi:
                out[lo - self._pos:hi - self._pos] = data[lo - offset:hi - offset]
        self._pos += size
        return bytes(out)

    def truncate(self, size=None):
        size = self._pos if size is None else size
        if self._error is None:
            try:
                self._fh.truncate(size)
            except OSError as exc:
                self._failed(exc)
        return size

    def flush(self):
        """Nothing to do: every write went straight to the file."""

    def close(self):
        self._fh.close()
