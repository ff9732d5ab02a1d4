"""Reading HDF5 ``.h5`` files and MATLAB v7.3 ``.mat`` files (HDF5 inside), through h5py.

Only data stored inside the file are read unless the caller allows more. HDF5 can make a
dataset read bytes from elsewhere: *external raw storage* (``external=[(file, offset,
size)]``: the bytes of any file the process can read, ``/etc/passwd`` too), *virtual datasets*
(slices of datasets in other files) and *external links* (a name in this file for an object
in another). A program that reads an input on behalf of someone else (a cluster job, a web
service) and writes the values into its output would then hand over files its user could not
read: a confused deputy. Such datasets are listed (``fwdmodels info`` shows them) but refused
when chosen, unless ``allow_external=True``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import optional_import
from ._containers import Container, Entry, corrupt_file, is_complex

__all__ = ["open_hdf5", "h5_text", "h5py_module"]


def h5py_module(feature: str):
    """The h5py module, or a MissingDependencyError naming the ``hdf5`` extra and ``feature``."""
    return optional_import("h5py", "hdf5", feature)


def h5_text(value):
    """A Python str or scalar from an HDF5 attribute (bytes decoded, 1-element arrays unpacked)."""
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, np.ndarray) and value.dtype.kind in "SUO" and value.size == 1:
        return h5_text(value.reshape(()).item())
    if isinstance(value, np.ndarray) and value.size == 1:
        return value.reshape(()).item()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _outside(ds) -> str | None:
    """Why the data of dataset ``ds`` are read from outside its file, or None."""
    if ds.is_virtual:
        sources = sorted({m.file_name for m in ds.virtual_sources()})
        return (f"a virtual dataset whose data come from {', '.join(map(repr, sources))}"
                if sources else "a virtual dataset (its data come from other files)")
    if ds.external:
        files = sorted({f.decode(errors="replace") if isinstance(f, bytes) else str(f)
                        for f, *_ in ds.external})
        return f"stored in the external raw file(s) {', '.join(map(repr, files))}"
    return None


def open_hdf5(path: Path, matlab: bool, allow_external: bool = False) -> Container:
    """The readers' container of entries for an HDF5 or MATLAB v7.3 file."""
    h5py = h5py_module("reading HDF5 and MATLAB v7.3 files")
    c = Container(path, "mat73" if matlab else "h5")
    try:
        fh = h5py.File(path, "r")
    except OSError as exc:
        raise corrupt_file(path, exc) from None
    c.on_close(fh.close)
    found, links = [], []

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            found.append((name, obj))

    def visit_links(name, link):
        if isinstance(link, h5py.ExternalLink):
            links.append((name, link))

    try:
        c.attrs = {k: h5_text(v) for k, v in fh.attrs.items()}
        fh.visititems(visit)
        fh.visititems_links(visit_links)
        for name, link in links:
            target = f"'{link.filename}:{link.path}'"
            if not allow_external:
                c.entries[name] = Entry(name, (), None, None,
                                        external=f"an external link to {target}")
                continue
            try:
                obj = fh[name]
            except (KeyError, OSError) as exc:
                raise corrupt_file(path, f"external link {name!r} to {target} cannot be "
                                     f"followed: {exc}") from None
            if isinstance(obj, h5py.Dataset):
                found.append((name, obj))
            else:
                obj.visititems(lambda sub, o, name=name: visit(f"{name}/{sub}", o))
        for name, ds in found:
            c.entries[name] = _entry(ds, name, matlab, allow_external)
    except (OSError, RuntimeError) as exc:
        raise corrupt_file(path, exc) from None
    return c


def _entry(ds, name, matlab, allow_external) -> Entry:
    cls = ds.attrs.get("MATLAB_class")
    cls = h5_text(cls) if cls is not None else None
    shape = tuple(reversed(ds.shape)) if matlab else tuple(ds.shape)
    dtype = ds.dtype if ds.dtype.kind in "biufcSUO" or is_complex(ds.dtype) else None
    if cls == "char" and matlab:
        getter = (lambda ds=ds: "".join(map(chr, np.asarray(ds[()]).ravel(order="F"))))
    elif matlab:
        getter = (lambda ds=ds: _MatlabView(ds))
    else:
        getter = (lambda ds=ds: ds)
    return Entry(name, shape, dtype, getter, matlab_class=cls,
                 external=None if allow_external else _outside(ds),
                 attrs={k: h5_text(v) for k, v in ds.attrs.items()})


class _MatlabView:
    """An h5py dataset with its axes reversed (MATLAB's order), sliceable like an array."""

    def __init__(self, ds):
        self.ds = ds
        self.shape = tuple(reversed(ds.shape))
        self.ndim = ds.ndim
        self.dtype = ds.dtype

    def __getitem__(self, index):
        index = index if isinstance(index, tuple) else (index,)
        index = index + (slice(None),) * (self.ndim - len(index))
        return np.asarray(self.ds[tuple(reversed(index))]).transpose()

    def __array__(self, dtype=None, copy=None):
        out = np.asarray(self.ds[()]).transpose()
        return out if dtype is None else out.astype(dtype)
