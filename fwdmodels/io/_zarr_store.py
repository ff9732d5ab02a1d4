"""Zarr stores read as containers (:mod:`fwdmodels.io.formats` opens ``.zarr`` inputs here).

A store is a group of arrays or a single array; dt and the unit are attributes (``dt``,
``dt_unit``, ``unit``) of the array or of the group, as in HDF5. Every chunk a read touches
is checked to exist and to lie inside the store (:class:`ZarrView`). Behind the ``dask``
extra; zarr-python 3 or later is needed. Writing and dask arrays: :mod:`fwdmodels.io.zarr`.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import numpy as np

from ..errors import FwdModelsError, MissingDependencyError, optional_import
from ._containers import Container, Entry, corrupt_file

__all__ = ["zarr_module", "ZarrView", "open_store"]


def zarr_module(feature: str):
    """The zarr module (version 3 or later), or a MissingDependencyError naming the extra."""
    zarr = optional_import("zarr", "dask", feature)
    if int(zarr.__version__.split(".")[0]) < 3:
        raise MissingDependencyError("zarr>=3", "dask", f"{feature} (zarr {zarr.__version__} "
                                     f"is installed)")
    return zarr



def _plain_attr(value):
    if isinstance(value, list) and len(value) == 1:
        return value[0]
    return value


class ZarrView:
    """A zarr array sliced like an array; a damaged chunk becomes a clear FwdModelsError.

    Zarr reads a chunk whose file is missing as the array's fill value, so a store that lost
    a file would pass zeros (or whatever the fill value is) off as data: every chunk file a
    read touches is checked to exist, and to lie inside the store (a chunk may not be a link
    to a file elsewhere).
    """

    def __init__(self, array, path, name=None):
        self.array, self.path, self.name = array, Path(path), name or Path(path).stem
        self.shape, self.ndim = tuple(array.shape), array.ndim
        self.dtype = np.dtype(array.dtype)
        self.time_axis = 0                  # set by InputArray, for the message
        root = getattr(getattr(array.store_path, "store", None), "root", None)
        self._root = None if root is None else Path(root) / array.store_path.path
        self._grain = tuple(array.shards or array.chunks)

    def _chunk_ranges(self, index):
        index = index if isinstance(index, tuple) else (index,)
        if any(i is Ellipsis for i in index):
            at = next(k for k, i in enumerate(index) if i is Ellipsis)
            index = index[:at] + (slice(None),) * (self.ndim - len(index) + 1) + index[at + 1:]
        index = index + (slice(None),) * (self.ndim - len(index))
        ranges = []
        for sel, n, g in zip(index, self.shape, self._grain):
            if isinstance(sel, slice):
                start, stop, _ = sel.indices(n)
                if stop <= start:
                    return None
                ranges.append(range(start // g, (stop - 1) // g + 1))
            else:
                i = int(sel) % n
                ranges.append(range(i // g, i // g + 1))
        return ranges

    def check_chunks(self, index=Ellipsis) -> None:
        """Raise if a chunk file that ``index`` reads is missing or lies outside the store."""
        ranges = self._chunk_ranges(index) if self._root is not None else None
        if ranges is None:
            return
        root = os.path.realpath(self._root)
        for coords in itertools.product(*ranges):
            key = self.array.metadata.encode_chunk_key(coords)
            file = self._root / key
            real = os.path.realpath(file)
            if not os.path.exists(real):
                self._missing(coords, key)
            if os.path.commonpath([root, real]) != root:
                raise FwdModelsError(
                    f"chunk '{key}' of '{self.name}' in '{self.path}' is a link to '{real}', "
                    f"outside the store; fwdmodels reads only data inside its input (the output "
                    f"would carry that file's bytes): copy the data into the store")

    def _missing(self, coords, key):
        axis = self.time_axis if self.ndim > 1 else 0
        g, n = self._grain[axis], self.shape[axis]
        first, last = coords[axis] * g, min((coords[axis] + 1) * g, n) - 1
        fill = self.array.fill_value
        fill = fill.item() if isinstance(fill, np.generic) else fill
        raise FwdModelsError(
            f"rows {first} to {last} (along axis {axis}, time) of '{self.name}' in "
            f"'{self.path}' are missing: the chunk file '{key}' does not exist, and zarr would "
            f"read them as the fill value {fill!r}, which fwdmodels will not pass off as data. "
            f"Restore the chunk; or, if the store was written without empty chunks "
            f"(write_empty_chunks=False) and those rows really are {fill!r}, write them again "
            f"with write_empty_chunks=True")

    def __getitem__(self, index):
        self.check_chunks(index)
        try:
            return np.asarray(self.array[index])
        except (IndexError, TypeError):
            raise
        except Exception as exc:  # codec, JSON or file errors of a damaged chunk
            raise corrupt_file(self.path, f"{type(exc).__name__}: {exc}") from None

    def __array__(self, dtype=None, copy=None):
        out = self[...]
        return out if dtype is None else out.astype(dtype)


def open_store(path) -> Container:
    """A Zarr store as the readers' container of entries (used by ``open_input``)."""
    zarr = zarr_module("reading .zarr stores")
    path = Path(path)
    try:
        node = zarr.open(str(path), mode="r")
        if isinstance(node, zarr.Array):
            members = [(path.stem, node)]
            attrs = {}
        else:
            attrs = dict(node.attrs)
            members = [(name, m) for name, m in node.members(max_depth=None)
                       if isinstance(m, zarr.Array)]
    except Exception as exc:  # zarr raises many kinds for a store that is not one
        raise corrupt_file(path, f"not a readable Zarr store: {type(exc).__name__}: "
                                 f"{exc}") from None
    c = Container(path, "zarr")
    c.attrs = {k: _plain_attr(v) for k, v in attrs.items()}
    for name, array in members:
        try:
            dtype = np.dtype(array.dtype)
        except TypeError:
            dtype = None               # a string or other non-numeric array
        c.entries[name] = Entry(name, array.shape, dtype,
                                lambda array=array, name=name: ZarrView(array, path, name),
                                attrs={k: _plain_attr(v) for k, v in dict(array.attrs).items()})
    return c
