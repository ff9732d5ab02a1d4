"""Writing results: ``.npz``, ``.h5`` and MATLAB ``.mat``, atomically, with their metadata.

:class:`OutputFile` is filled block by block (``write``) and appears at its path only when
the block that fills it ends without an error::

    with OutputFile("bold.npz", "bold", (T, N), metadata=meta) as out:
        for start in range(0, T, 1000):
            out.write(start, block)            # rows start:start+len(block)

* ``.npz``: an uncompressed zip streamed to disk (memory-mapped again when read back); rows
  must be written in order.
* ``.h5`` (h5py): one chunked dataset, the flat metadata as attributes, and the full metadata
  as JSON in the file attribute ``fwdmodels_metadata``. libhdf5 writes through a Python file
  object (:class:`_GuardedFile`) so that a write error (a full disk, a quota) is a Python
  ``OSError``: libhdf5 itself does not recover from one and can crash the process.
* ``.mat``: MATLAB v5 through SciPy, which needs the whole array in memory at the end (and at
  most 2 GB per variable); use ``.h5`` for very long outputs.

The free space of the output's folder is checked before anything is written (``.npz``, ``.h5``
and ``.mat``, whose size is known in advance; a ``.zarr`` store is compressed).

Each file holds the data array, ``dt`` (seconds, a number) with ``dt_unit`` = ``"s"``, ``unit``
and ``metadata`` (JSON text; see :mod:`fwdmodels.io.metadata`), plus the ``extra`` arrays
(for EEG and MEG: the sensor names, positions and orientations, the region names). Text arrays
are written as each format keeps text: fixed-width Unicode in ``.npz``, UTF-8 strings in
``.h5``, cell arrays in ``.mat``, variable-length strings in ``.zarr``.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import numpy as np

from ..errors import FwdModelsError
from ._atomic import TEMP_SUFFIX, atomic_path, check_free_space, check_output_path
from .metadata import dumps
from .readers import _h5py

__all__ = ["OutputFile", "save", "OUTPUT_FORMATS", "output_format"]

OUTPUT_FORMATS = (".npz", ".h5", ".hdf5", ".mat", ".zarr")
_MAT5_LIMIT = 2 ** 31 - 1


def output_format(path, extra=()) -> str:
    """The output format from the extension (``extra`` allows e.g. ``.fif``)."""
    suffix = Path(path).suffix.lower()
    allowed = OUTPUT_FORMATS + tuple(extra)
    if suffix not in allowed:
        raise FwdModelsError(f"output '{path}' has the extension {suffix or '(none)'!r}; "
                             f"fwdmodels writes {', '.join(allowed)} (add one to the name)")
    return suffix


class OutputFile:
    """An output written block by block and moved into place atomically (see module notes).

    Parameters
    ----------
    path : str or path-like
        Destination (``.npz``, ``.h5``, ``.mat``).
    name : str
        Name of the data array in the file (``"bold"``, ``"eeg"``, ``"meg"``).
    shape : tuple of int
        Shape of the whole array, time first along ``time_axis`` (``-2``).
    metadata : dict
        Written with the data (see :func:`fwdmodels.io.metadata.build_metadata`).
    dtype : numpy dtype
        float64 (default) or float32.
    force : bool
        Overwrite an existing file.
    extra : dict of str to ndarray, optional
        Small arrays written next to the data (e.g. channel positions).
    """

    def __new__(cls, path, *args, **kwargs):
        if cls is OutputFile and Path(path).suffix.lower() == ".zarr":
            from .zarr import ZarrOutputFile         # a directory store: see fwdmodels.io.zarr

            cls = ZarrOutputFile
        return super().__new__(cls)

    def __init__(self, path, name: str, shape, *, metadata: dict, dtype=np.float64,
                 force: bool = False, extra: dict | None = None):
        self.path = check_output_path(path, force)
        self.suffix = output_format(self.path)
        self.name, self.shape, self.dtype = name, tuple(int(s) for s in shape), np.dtype(dtype)
        self.metadata, self.force = metadata, force
        self.extra = {k: _extra_value(v, self.suffix) for k, v in (extra or {}).items()}
        nbytes = int(np.prod(self.shape)) * self.dtype.itemsize
        if self.suffix == ".mat" and nbytes > _MAT5_LIMIT:
            raise FwdModelsError(f"output '{self.path}' would hold {nbytes / 1e9:.1f} GB, more "
                                 f"than a MATLAB v5 .mat variable can (2 GB); write .h5 "
                                 f"instead (MATLAB reads it with h5read)")
        if self.suffix in (".h5", ".hdf5"):
            _h5py("writing .h5 files")
        if self.suffix in (".npz", ".h5", ".hdf5", ".mat"):
            check_free_space(self.path, nbytes)
        self._ctx = None
        self._written = 0

    # ------------------------------------------------------------------ lifecycle
    #: Ending of the temporary file (a subclass may need its own, see fwdmodels.io.mne).
    temp_suffix = TEMP_SUFFIX

    def _atomic(self):
        """The context that gives a temporary path and renames it into place on success."""
        return atomic_path(self.path, self.force, self.temp_suffix)

    def __enter__(self):
        self._ctx = self._atomic()
        self._tmp = self._ctx.__enter__()
        try:
            self._open()
        except BaseException as exc:
            self._ctx.__exit__(type(exc), exc, exc.__traceback__)
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                self._finish()
            else:
                self._abort()
        except BaseException as err:         # finishing failed: no output, and say so
            self._abort()
            self._ctx.__exit__(type(err), err, err.__traceback__)
            raise
        return self._ctx.__exit__(exc_type, exc, tb)

    # ------------------------------------------------------------------ formats
    def _flat(self) -> dict:
        meta = self.metadata
        flat = {"unit": str(meta.get("unit", "")), "metadata": dumps(meta)}
        if meta.get("dt") is not None:
            flat.update(dt=float(meta["dt"]), dt_unit=str(meta.get("dt_unit", "s")))
        return flat

    def _open(self):
        if self.suffix == ".npz":
            self._zip = zipfile.ZipFile(self._tmp, "w", zipfile.ZIP_STORED, allowZip64=True)
            self._member = self._zip.open(f"{self.name}.npy", "w", force_zip64=True)
            header = {"descr": np.lib.format.dtype_to_descr(self.dtype),
                      "fortran_order": False, "shape": self.shape}
            np.lib.format.write_array_header_2_0(self._member, header)
        elif self.suffix in (".h5", ".hdf5"):
            h5py = _h5py("writing .h5 files")
            self._raw = _GuardedFile(self._tmp, name=self.path)
            self._h5 = h5py.File(self._raw, "w")
            rows = max(1, min(self.shape[-2], (1 << 20) // max(1, self.shape[-1] * 8)))
            chunks = tuple([1] * (len(self.shape) - 2) + [rows, self.shape[-1]])
            self._ds = self._h5.create_dataset(self.name, shape=self.shape, dtype=self.dtype,
                                               chunks=chunks if all(self.shape) else None)
        else:
            self._buffer = np.zeros(self.shape, dtype=self.dtype)

    def write(self, start: int, block: np.ndarray, batch: int | None = None) -> None:
        """Write ``block`` (rows, M) at time rows ``start:start+rows`` (of ``batch`` if 3-D)."""
        block = np.asarray(block, dtype=self.dtype)
        stop = start + block.shape[0]
        index = (slice(start, stop),) if batch is None else (batch, slice(start, stop))
        if self.suffix == ".npz":
            flat = (0 if batch is None else batch * self.shape[-2]) + start
            if flat != self._written:
                raise FwdModelsError("rows of an .npz output must be written in order")
            self._member.write(np.ascontiguousarray(block).tobytes())
            self._written = flat + block.shape[0]
        elif self.suffix in (".h5", ".hdf5"):
            self._ds[index] = block
            self._raw.check()
        else:
            self._buffer[index] = block

    def _finish(self):
        flat = self._flat()
        if self.suffix == ".npz":
            self._member.close()
            for key, value in list(flat.items()) + list(self.extra.items()):
                buf = io.BytesIO()
                np.lib.format.write_array(buf, np.asarray(value), allow_pickle=False)
                self._zip.writestr(f"{key}.npy", buf.getvalue())
            self._zip.close()
        elif self.suffix in (".h5", ".hdf5"):
            for key in ("dt", "dt_unit", "unit"):
                if key not in flat:
                    continue
                self._ds.attrs[key] = flat[key]
                self._h5.attrs[key] = flat[key]
            self._h5.attrs["fwdmodels_metadata"] = flat["metadata"]
            for key, value in self.extra.items():
                if value.dtype.kind == "U":              # h5py stores text as UTF-8 strings
                    self._h5.create_dataset(key, data=value.astype(object),
                                            dtype=_h5py("writing .h5 files").string_dtype())
                else:
                    self._h5.create_dataset(key, data=value)
            self._h5.close()
            self._raw.close()
            self._raw.check()
        else:
            import scipy.io

            data = {self.name: self._buffer, **flat, **self.extra}
            scipy.io.savemat(self._tmp, data, do_compression=False, oned_as="column")
            self._buffer = None

    def _abort(self):
        for attr in ("_member", "_zip", "_h5", "_raw"):
            obj = getattr(self, attr, None)
            if obj is not None:
                try:
                    obj.close()
                except Exception:  # closing a failed writer is best effort
                    pass
        self._buffer = None


def _extra_value(value, suffix: str) -> np.ndarray:
    """An extra array as its format stores it. Text (names) is fixed-width Unicode in
    ``.npz`` and ``.h5`` (written there as UTF-8 strings), a cell array of strings in
    ``.mat`` and Zarr's variable-length string type in ``.zarr``; numbers are kept as they
    are."""
    array = np.asarray(value)
    if array.dtype.kind not in "UOT" or (array.dtype.kind == "O" and not all(
            isinstance(v, str) for v in array.ravel())):
        return array
    if suffix == ".mat":             # a cell array of names; one text stays a char array
        return array.astype(str).astype(object) if array.ndim else array.astype(str)
    if suffix == ".zarr":
        return array.astype(np.dtypes.StringDType())
    return array.astype(str)


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


def save(path, name: str, array, *, metadata: dict, force: bool = False,
         extra: dict | None = None) -> Path:
    """Write a whole time-first array with its metadata, atomically; return the path."""
    array = np.asarray(array)
    with OutputFile(path, name, array.shape, metadata=metadata, dtype=array.dtype,
                    force=force, extra=extra) as out:
        if array.ndim == 3:
            for b in range(array.shape[0]):
                out.write(0, array[b], batch=b)
        else:
            out.write(0, array)
    return Path(path)
