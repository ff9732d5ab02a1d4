"""Zarr stores (``.zarr`` directories) as inputs and outputs, behind the ``dask`` extra.

A Zarr store holds an array in chunks, each its own file, so many processes can read and
write one array at once: a dask result is written in parallel, chunk by chunk, without
passing through one process's memory (:func:`write_dask`), and a long recording is read as a
lazy dask array (:func:`open_dask`).

Inputs (through :func:`fwdmodels.io.open_input`, so the CLI and the pipeline read them like
any other file; opened by :mod:`fwdmodels.io._zarr_store`): a group of arrays (``key`` picks
one when there are several) or a single array. dt and the unit are read like HDF5's:
attributes ``dt`` (text such as ``"0.1 ms"``, or a number with ``dt_unit``) and ``unit``, on
the array or on the group. Stores of both Zarr formats (2 and 3) are read; zarr-python 3 or
later is needed.

Outputs (:class:`ZarrOutputFile`, the :class:`fwdmodels.io.OutputFile` of a ``.zarr`` path,
and :func:`write_dask`): a Zarr v3 group holding the data array (time chunks of about
1 MB, all columns; missing chunks read as NaN, so a damaged store cannot pass for zeros),
``dt``, ``dt_unit`` and ``unit`` as attributes of the array and of the group, and the full
metadata as JSON in the group attribute ``fwdmodels_metadata``, as in ``.h5`` outputs. The
store is written in a temporary directory next to its destination and renamed into place
only once complete, so an existing ``.zarr`` output is always a complete one.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import errno
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from .. import _stop
from ..errors import FwdModelsError, optional_import
from ._atomic import (OLD_SUFFIX, TEMP_SUFFIX, _umask, check_output_path, remove_stale_parts,
                      temp_prefix)
from ._zarr_store import ZarrView, zarr_module
from .metadata import dumps
from .output import OutputFile
from .readers import open_input

__all__ = ["ZARR_SUFFIX", "ZarrOutputFile", "atomic_store", "write_dask", "open_dask",
           "is_store"]

#: The zarr module or a MissingDependencyError (a name :mod:`fwdmodels.batch` imports).

ZARR_SUFFIX = ".zarr"
#: Bytes of an output chunk (rows × columns × itemsize), as for HDF5 outputs.
CHUNK_BYTES = 1 << 20


def _dask_array(feature: str):
    return optional_import("dask.array", "dask", feature)


def is_store(path) -> bool:
    """True if ``path`` names a Zarr store (by its ``.zarr`` suffix)."""
    return Path(path).suffix.lower() == ZARR_SUFFIX


def open_dask(path, key: str | None = None, time_axis: int | None = None,
              dt_unit: str | None = None):
    """A Zarr store's array as a lazy, time-first dask array, with its dt, unit and metadata.

    Parameters
    ----------
    path : path
        A ``.zarr`` store.
    key, time_axis, dt_unit
        As for :func:`fwdmodels.io.open_input`.

    Returns
    -------
    (dask.array.Array, dict)
        The array, ``(T, N)`` or ``(B, T, N)`` in its stored dtype, chunked as stored; the
        dict holds ``dt`` (pint Quantity or None), ``unit`` (str or None), ``metadata`` and
        ``key``.
    """
    da = _dask_array("reading .zarr stores as dask arrays")
    if not is_store(path):
        raise FwdModelsError(f"`path` must be a .zarr store; got '{path}'")
    zarr = zarr_module("reading .zarr stores")
    with open_input(path, key, time_axis, dt_unit) as data:
        info = {"dt": data.dt, "unit": data.unit, "metadata": data.metadata, "key": data.key}
        order = data._order
        node = zarr.open(str(path), mode="r")
        array = node if isinstance(node, zarr.Array) else node[data.key]
        view = ZarrView(array, path, data.key)
        view.time_axis = data.time_axis
        view.check_chunks()           # dask reads lazily: every chunk is checked now
    lazy = da.from_zarr(array)
    return lazy.transpose(order), info


# --------------------------------------------------------------------------- writing
@contextlib.contextmanager
def atomic_store(path, force: bool = False):
    """Yield a temporary directory next to ``path``; on success rename it to ``path``.

    If the block raises (KeyboardInterrupt too), or the command line recorded a stop signal
    during it (:mod:`fwdmodels._stop`), the temporary store is deleted and ``path`` is left
    as it was. Without ``force`` an existing ``path`` is never replaced; with it, the
    old store is moved aside, the new one renamed in, and the old one deleted.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    remove_stale_parts(directory)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=temp_prefix(path), suffix=TEMP_SUFFIX, dir=directory))
    except OSError as exc:
        raise FwdModelsError(f"cannot write in output directory '{directory}' "
                             f"({exc.strerror}); choose another `output` path") from None
    try:
        yield tmp
        _stop.check()                # a stop whose exception was lost still discards the store
        os.chmod(tmp, 0o777 & ~_umask())
        _move_store(tmp, path, force)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _exists_error(path) -> FwdModelsError:
    return FwdModelsError(f"output '{path}' already exists; pass `force=True` to overwrite it "
                          f"(or choose another name)")


def _move_store(tmp: Path, path: Path, force: bool) -> None:
    """Rename the finished store ``tmp`` to ``path``; with ``force``, replace what is there.

    The old store is first renamed aside, into ``.NAME.HOST-PID.RANDOM.fwdmodels-old`` next
    to ``path``, and renamed back if the new one cannot be moved in. The stop signals are held
    meanwhile (:func:`fwdmodels._stop.held`). Once the new store is in place, the old one is
    renamed to a temporary folder's name and deleted. A process killed between the two renames
    (SIGKILL, or a signal that ends the process while another thread writes) leaves the old
    store aside; the next run that writes into the folder moves it back
    (:func:`~fwdmodels.io._atomic.remove_stale_parts`).
    """
    directory = path.parent if str(path.parent) else Path(".")
    old, replaced = None, False
    try:
        with _stop.held():
            if os.path.lexists(path):
                if not force:
                    raise _exists_error(path)
                old = Path(tempfile.mkdtemp(prefix=temp_prefix(path), suffix=OLD_SUFFIX,
                                            dir=directory))
                try:
                    os.rename(path, old / "store")
                except OSError:
                    os.rmdir(old)
                    old = None
                    raise
            try:
                os.rename(tmp, path)     # refuses a non-empty directory that appeared meanwhile
            except OSError as exc:
                if old is not None:
                    os.rename(old / "store", path)
                    os.rmdir(old)
                    old = None
                if exc.errno in (errno.EEXIST, errno.ENOTEMPTY) or \
                        not force and os.path.lexists(path):
                    raise _exists_error(path) from None
                raise
            replaced = True
            _stop.wrote(path)
    finally:
        if replaced and old is not None:     # (otherwise it may hold the only copy: kept)
            doomed = old.with_name(old.name[:-len(OLD_SUFFIX)] + TEMP_SUFFIX)
            try:
                os.rename(old, doomed)       # so that a store half deleted is never moved back
            except OSError:
                doomed = old
            shutil.rmtree(doomed, ignore_errors=True)


def _chunks(shape: tuple, dtype: np.dtype) -> tuple:
    rows = max(1, min(shape[-2], CHUNK_BYTES // max(1, shape[-1] * dtype.itemsize)))
    return tuple([1] * (len(shape) - 2) + [rows, max(1, shape[-1])])


def _flat_attrs(metadata: dict) -> dict:
    flat = {"unit": str(metadata.get("unit", ""))}
    if metadata.get("dt") is not None:
        flat.update(dt=float(metadata["dt"]), dt_unit=str(metadata.get("dt_unit", "s")))
    return flat


def _create(tmp: Path, name: str, shape, dtype, chunks, metadata: dict, extra: dict):
    """The output group in ``tmp`` with its metadata and extras; returns the data array."""
    zarr = zarr_module("writing .zarr stores")
    group = zarr.open_group(str(tmp), mode="w", zarr_format=3)
    data = group.create_array(name, shape=tuple(shape), chunks=tuple(chunks), dtype=dtype,
                              fill_value=np.nan)
    flat = _flat_attrs(metadata)
    data.attrs.update(flat)
    group.attrs.update({**flat, "fwdmodels_metadata": dumps(metadata)})
    for key, value in extra.items():
        value = np.asarray(value)
        group.create_array(key, shape=value.shape, dtype=value.dtype)[...] = value
    return data


class ZarrOutputFile(OutputFile, suffixes=(ZARR_SUFFIX,)):
    """An :class:`~fwdmodels.io.OutputFile` written as a Zarr store (see the module notes).

    ``OutputFile(path, ...)`` returns one of these for a ``.zarr`` path; rows may be written
    in any order. Its size is not known in advance (chunks are compressed), so the free space
    is not checked.
    """

    checks_space = False

    def _check(self):
        super()._check()
        zarr_module("writing .zarr stores")

    @staticmethod
    def _stored_text(array):
        """Zarr's variable-length string type."""
        return array.astype(np.dtypes.StringDType())

    def _atomic(self):
        return atomic_store(self.path, self.force)

    def _open(self):
        self._ds = _create(self._tmp, self.name, self.shape, self.dtype,
                           _chunks(self.shape, self.dtype), self.metadata, self.extra)

    def write(self, start: int, block: np.ndarray, batch: int | None = None) -> None:
        block = np.asarray(block, dtype=self.dtype)
        stop = start + block.shape[0]
        index = (slice(start, stop),) if batch is None else (batch, slice(start, stop))
        self._ds[index] = block

    def _finish(self):
        # the metadata again: a writer may complete it during the run (an error estimate)
        zarr = zarr_module("writing .zarr stores")
        group = zarr.open_group(str(self._tmp), mode="r+")
        flat = _flat_attrs(self.metadata)
        group[self.name].attrs.update(flat)
        group.attrs.update({**flat, "fwdmodels_metadata": dumps(self.metadata)})
        self._ds = None

    def _abort(self):
        self._ds = None


def write_dask(path, name: str, array, *, metadata: dict, force: bool = False,
               extra: dict | None = None) -> Path:
    """Write a (dask) array to a ``.zarr`` store in parallel, atomically, with its metadata.

    Each dask chunk is computed and written by whichever worker holds it (on the scheduler
    in use: threads, processes, or a ``dask.distributed`` cluster sharing the file system);
    the whole array never passes through one process. Zarr chunks are the dask chunks
    (irregular chunks are first made regular), so no two tasks write one Zarr chunk.

    Parameters
    ----------
    path : path
        Destination ``.zarr`` store; must not exist unless ``force``.
    name : str
        Name of the array in the store (``"bold"``, ``"eeg"``, ``"meg"``).
    array : dask.array.Array or numpy.ndarray
        Time-first ``(T, M)`` or ``(B, T, M)``, float32 or float64.
    metadata : dict
        From :func:`fwdmodels.io.build_metadata`.
    extra : dict, optional
        Small arrays stored next to the data.

    Returns
    -------
    pathlib.Path of the store.
    """
    da = _dask_array("writing dask arrays to .zarr stores")
    zarr_module("writing .zarr stores")
    path = check_output_path(path, force)
    if not is_store(path):
        raise FwdModelsError(f"`path` must end in .zarr to write a dask array in parallel; got "
                             f"'{path}'")
    if not isinstance(array, da.Array):
        array = da.from_array(np.asarray(array), chunks=_chunks(np.shape(array),
                                                                 np.asarray(array).dtype))
    if array.ndim not in (2, 3) or array.dtype.kind != "f":
        raise FwdModelsError(f"`array` must be a 2-D or 3-D float array; got shape "
                             f"{array.shape} and dtype {array.dtype}")
    regular = {ax: max(c) for ax, c in enumerate(array.chunks)
               if len(c) > 1 and (len(set(c[:-1])) > 1 or c[-1] > c[0])}
    if regular:
        array = array.rechunk(regular)
    chunks = tuple(c[0] for c in array.chunks)
    with atomic_store(path, force) as tmp:
        target = _create(tmp, name, array.shape, array.dtype, chunks, metadata,
                         dict(extra or {}))
        _store(da, array, target)
    return path


def _store(da, array, target) -> None:
    """``da.store`` into ``target``; with dask's threaded scheduler (its default), on a pool of
    its own, which is drained when the store fails or is interrupted: dask itself returns at
    once, while threads may still be writing chunks into the store about to be removed."""
    import dask
    import dask.threaded

    if dask.base.get_scheduler(collections=[array]) is not dask.threaded.get or \
            dask.config.get("pool", None) is not None:      # a pool of the user's: theirs
        da.store(array, target, lock=False, compute=True)
        return
    import dask.system

    workers = dask.config.get("num_workers", None) or dask.system.CPU_COUNT
    # dask's own kind of pool when it has one: it runs each task in the caller's context
    executor = getattr(dask.threaded, "ContextAwareThreadPoolExecutor",
                       concurrent.futures.ThreadPoolExecutor)
    pool = executor(workers)
    try:
        da.store(array, target, lock=False, compute=True, scheduler="threads", pool=pool)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
