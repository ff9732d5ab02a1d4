"""Reading saved simulations: ``.npy``, ``.npz``, MATLAB ``.mat`` (v5 and v7.3) and HDF5 ``.h5``.

:func:`open_input` returns an :class:`InputArray`, a time-first view of one array in a file
that is read in blocks of time steps:

* ``.npy`` and ``.npz`` are memory-mapped (a compressed ``.npz`` member is first unpacked to
  an anonymous temporary file), ``.h5`` and MATLAB v7.3 files are read slice by slice through
  h5py, so memory stays bounded whatever the length of the recording. MATLAB v5 files are
  read whole by SciPy (the format cannot be read in parts; it holds at most 2 GB a variable).
* Nothing is ever unpickled: ``.npz`` members holding Python objects are refused.
* TVB time-series H5 files (a 4-D ``data`` with TVB's attributes) are presented as one
  (time, region) array per state variable and mode, with TVB's dt and region names (see
  :mod:`fwdmodels.io.tvb`).
* dt is taken from the file when it has one: an entry ``dt`` (or TVB's ``sample_period``)
  holding text such as ``"0.1 ms"``, or a number with its unit next to it (``dt_unit``, or
  ``sample_period_unit``); in HDF5 these may be attributes of the dataset or of the file.
* The data's unit, when stored (``unit`` or ``<key>_unit`` entry, or a ``unit`` attribute),
  is reported in :attr:`InputArray.unit`.

MATLAB v7.3 arrays are presented in MATLAB's axis order (h5py shows them reversed), so a
``(T, N)`` variable is ``(T, N)`` here for both versions of the format.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import FwdModelsError, MissingDependencyError
from ._containers import Container, Entry, corrupt_file, is_complex, plain_value
from .formats import INPUT_FORMATS, check_readable, describer, detect_format, open_container
from .metadata import DT_KEYS, UNIT_SUFFIXES, parse_time

__all__ = ["open_input", "InputArray", "describe", "load", "INPUT_FORMATS", "detect_format"]

#: Entries that describe the data rather than being data.
_META_NAMES = {"dt", "sample_period", "metadata", "unit", "units", "time", "t", "dims",
               "fwdmodels_metadata", "t0"}


def _is_meta_name(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    return base in _META_NAMES or base.endswith(UNIT_SUFFIXES) or base.startswith("#")


# --------------------------------------------------------------------------- metadata
def _lookup(c: Container, entry: Entry | None, names) -> tuple:
    """The first ``(value, where)`` found for ``names`` (entry attrs, file attrs, entries)."""
    for name in names:
        if entry is not None and name in entry.attrs:
            return entry.attrs[name], f"attribute {name!r} of '{entry.name}'"
        if name in c.attrs:
            return c.attrs[name], f"file attribute {name!r}"
        if name in c.entries:
            value = c.small_value(name)
            if value is not None:
                return value, f"entry {name!r}"
    return None, None


def _file_dt(c: Container, entry: Entry | None, dt_unit=None):
    for key in DT_KEYS:
        value, where = _lookup(c, entry, (key,))
        if value is None:
            continue
        unit, _ = _lookup(c, entry, tuple(key + s for s in UNIT_SUFFIXES))
        if unit is None and dt_unit is not None and not isinstance(value, str):
            unit = dt_unit
        return parse_time(value, unit, f"the time step ({where}) in '{c.path}'"), where
    return None, None


def _file_unit(c: Container, entry: Entry | None):
    names = ("unit", "units")
    if entry is not None:
        base = entry.name.rsplit("/", 1)[-1]
        names = (f"{base}_unit", f"{base}_units") + names
        for name in ("unit", "units"):
            if name in entry.attrs:
                return str(entry.attrs[name])
    value, _ = _lookup(c, None, names)
    return None if value is None else str(value)


def _fwd_metadata(c: Container) -> dict | None:
    text = c.attrs.get("fwdmodels_metadata")
    if text is None and "metadata" in c.entries:
        entry = c.entries["metadata"]
        if not entry.pickled and entry.nbytes <= 1 << 24:
            value = entry.getter()
            if not isinstance(value, (str, bytes, np.ndarray)):
                value = np.asarray(value[()] if hasattr(value, "id") else value)
            text = plain_value(value)
    if not isinstance(text, str):
        return None
    try:
        meta = json.loads(text)
    except ValueError:
        return None
    return meta if isinstance(meta, dict) else None


# --------------------------------------------------------------------------- InputArray
class InputArray:
    """One array of a saved file, read in blocks of time steps (see the module notes).

    Attributes
    ----------
    path : pathlib.Path
    format : str
        ``"npy"``, ``"npz"``, ``"mat5"``, ``"mat73"`` or ``"h5"``.
    key : str
        Name of the array in the file.
    stored_shape : tuple
        Shape as stored (MATLAB's axis order for ``.mat``).
    time_axis : int
        Axis of ``stored_shape`` that is time.
    shape : tuple
        Time-first shape: ``(T, N)``, or ``(B, T, N)`` for a batch.
    dt : pint.Quantity or None
        Time step found in the file (None if it holds none).
    unit : str or None
        Unit of the data found in the file.
    metadata : dict or None
        The fwdmodels metadata, when the file was written by fwdmodels.
    """

    def __init__(self, container: Container, entry: Entry, time_axis, dt_unit=None):
        self._c = container
        self.path, self.format, self.key = container.path, container.format, entry.name
        self.stored_shape = entry.shape
        ndim = len(entry.shape)
        where = f"'{entry.name}' in '{self.path}'"
        if entry.pickled:
            raise FwdModelsError(f"{where} holds pickled Python objects, which fwdmodels "
                                 f"refuses to load (a pickle can run code); save it as a plain "
                                 f"numeric array (np.savez without object arrays)")
        if entry.external:
            raise FwdModelsError(f"{where} is {entry.external}. fwdmodels reads only data "
                                 f"stored inside the input unless allowed, because the output "
                                 f"would carry the bytes of files elsewhere (on a shared "
                                 f"machine, files the file's author cannot read); copy the data "
                                 f"into the file, or pass allow_external=True if you trust "
                                 f"those files")
        if entry.complex:
            _refuse_complex(where, entry.dtype)
        if not entry.numeric:
            kind = entry.matlab_class or (entry.dtype and entry.dtype.name) or "unknown"
            raise FwdModelsError(f"{where} is not a numeric array (type {kind}); pick a real "
                                 f"array with `key`")
        if ndim not in (2, 3):
            hint = ("reshape a single region's series to (T, 1)" if ndim == 1 else
                    "select one state variable and mode first, e.g. data[:, 0, :, 0] for a "
                    "(time, state, region, mode) array (a TVB H5 file with its TVB_ "
                    "attributes is read directly)" if ndim == 4 else
                    "save it as (time, region)")
            raise FwdModelsError(f"{where} is {ndim}-D (shape {entry.shape}); fwdmodels needs "
                                 f"(time, region) or (batch, time, region): {hint}")
        default = 0 if ndim == 2 else 1
        if time_axis is None:
            time_axis = default
        if isinstance(time_axis, bool) or not isinstance(time_axis, (int, np.integer)) or \
                not -ndim <= time_axis < ndim:
            raise FwdModelsError(f"`time_axis` must be an axis of {where} (shape "
                                 f"{entry.shape}), between {-ndim} and {ndim - 1}; got "
                                 f"{time_axis!r}")
        self.time_axis = int(time_axis) % ndim
        others = [a for a in range(ndim) if a != self.time_axis]
        if ndim == 2:
            self._order = (self.time_axis, others[0])
        else:
            self._order = (others[0], self.time_axis, others[1])
        self.shape = tuple(entry.shape[a] for a in self._order)
        _check_not_empty(where, entry.shape, self.shape, self.time_axis)
        self.dtype = entry.dtype
        self._data = entry.getter()
        loaded = getattr(self._data, "dtype", None)
        if is_complex(loaded):               # MATLAB v5: whosmat says "double" for complex
            _refuse_complex(where, loaded)
        if hasattr(self._data, "time_axis"):  # a Zarr view names missing rows in time steps
            self._data.time_axis = self.time_axis
        #: Region names stored with the data (TVB's TVB_labels_dimensions), or None.
        self.region_names = entry.region_names
        #: For a TVB time series: its state variable, state index and mode.
        self.tvb = entry.tvb
        self.tvb_states = container.tvb_layout.get("state_variables")
        self.dt, self.dt_where = _file_dt(container, entry, dt_unit)
        self.unit = _file_unit(container, entry)
        self.metadata = _fwd_metadata(container)

    @property
    def n_times(self) -> int:
        return self.shape[-2]

    @property
    def n_regions(self) -> int:
        return self.shape[-1]

    @property
    def n_batch(self) -> int | None:
        return self.shape[0] if len(self.shape) == 3 else None

    def read(self, start: int, stop: int, batch: int | None = None) -> np.ndarray:
        """Rows ``start:stop`` (time) as a float64 ``(rows, N)`` array (one ``batch`` if 3-D)."""
        ndim = len(self.stored_shape)
        index = [slice(None)] * ndim
        index[self.time_axis] = slice(start, stop)
        kept = list(range(ndim))
        if ndim == 3:
            if batch is None:
                raise FwdModelsError("`batch` is needed to read a (B, T, N) input")
            index[self._order[0]] = batch
            kept.remove(self._order[0])
        try:
            block = np.array(self._data[tuple(index)])
        except FwdModelsError:
            raise
        except (OSError, ValueError) as exc:
            raise corrupt_file(self.path, exc) from None
        _release(self._data)
        perm = [kept.index(self._order[-2]), kept.index(self._order[-1])]
        return np.asarray(block.transpose(perm), dtype=np.float64, order="C")

    def read_all(self) -> np.ndarray:
        """The whole array, time-first, as float64 (for small inputs)."""
        if len(self.shape) == 2:
            return self.read(0, self.n_times)
        return np.stack([self.read(0, self.n_times, b) for b in range(self.shape[0])])

    def close(self) -> None:
        self._data = None
        self._c.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _refuse_complex(where: str, dtype) -> None:
    raise FwdModelsError(f"{where} holds complex numbers (dtype {dtype}); fwdmodels needs real "
                         f"values and will not drop the imaginary part silently: save the real "
                         f"part (x.real) or the magnitude (abs(x)), whichever you mean")


def _check_not_empty(where: str, stored, shape, time_axis) -> None:
    """Say which axis of an empty array is empty."""
    names = (("batch",) if len(shape) == 3 else ()) + ("time", "region")
    empty = [name for name, n in zip(names, shape) if n == 0]
    if not empty:
        return
    what = {"time": f"no time steps (axis {time_axis} of the stored array, the time axis, is 0 "
                    f"long)", "region": "no regions (its region axis is 0 long)",
            "batch": "an empty batch axis"}
    raise FwdModelsError(f"{where} is empty (shape {stored}): it has "
                         f"{' and '.join(what[e] for e in empty)}; nothing to process")


def _release(data) -> None:
    """Let the OS drop the pages of a memory map already read (keeps the RSS bounded)."""
    mapping = getattr(data, "_mmap", None)
    if mapping is None or not hasattr(mapping, "madvise"):
        return
    import mmap

    advice = getattr(mmap, "MADV_DONTNEED", None)
    if advice is not None:
        try:
            mapping.madvise(advice)
        except (OSError, ValueError):   # not supported here: the OS reclaims pages itself
            pass


def _choose(c: Container, key: str | None) -> Entry:
    if key is not None:
        key = c.key_aliases.get(key, key)                      # TVB: "0", "V:0", "data"
        if key in c.entries:
            return c.entries[key]
        if key.lstrip("/") in c.entries:
            return c.entries[key.lstrip("/")]
        names = ", ".join(repr(n) for n in c.entries) or "none"
        raise FwdModelsError(f"key {key!r} is not in '{c.path}' (it holds {names}); pick one "
                             f"with `key`")
    named = (_fwd_metadata(c) or {}).get("array")      # fwdmodels' own files name their data
    if isinstance(named, str) and named in c.entries and len(c.entries[named].shape) in (2, 3):
        return c.entries[named]
    candidates = [e for e in c.entries.values() if not _is_meta_name(e.name)]
    data = [e for e in candidates if e.pickled or e.external or (e.numeric and e.size > 1)]
    if len(data) == 1:
        return data[0]
    if not data and len(candidates) == 1:
        return candidates[0]              # InputArray says what is wrong with it
    if not data and candidates:
        reasons = "; ".join(f"{e.name!r} {e.shape} {_unusable(e)}" for e in candidates)
        raise FwdModelsError(f"'{c.path}' holds no array fwdmodels can read ({reasons}); save "
                             f"the neural activity as a real (time, region) array")
    if not data:
        raise FwdModelsError(f"'{c.path}' holds no numeric data array (entries: "
                             f"{', '.join(c.entries) or 'none'}); save the neural activity "
                             f"as a (time, region) array")
    preferred = [e for e in data if len(e.shape) in (2, 3) and not e.pickled]
    if len(preferred) == 1:
        return preferred[0]
    names = ", ".join(f"{e.name!r} {e.shape}" for e in data)
    raise FwdModelsError(f"'{c.path}' holds several arrays ({names}); pick one with "
                         f"`key=NAME`")


def _unusable(e: Entry) -> str:
    if e.complex:
        return "is complex"
    if not e.numeric:
        return f"is not numeric ({e.matlab_class or (e.dtype and e.dtype.name) or 'unknown'})"
    if e.size == 0:
        return "is empty"
    return "is a single number"


def open_input(path, key: str | None = None, time_axis: int | None = None,
               dt_unit: str | None = None, *, allow_external: bool = False) -> InputArray:
    """Open one array of a saved file for reading in blocks (see :class:`InputArray`).

    Parameters
    ----------
    path : str or path-like
        A ``.npy``, ``.npz``, ``.mat`` or ``.h5`` file.
    key : str, optional
        Name of the array in a multi-array file (needed when there are several).
    time_axis : int, optional
        Axis of the stored array that is time (default 0 for 2-D, 1 for 3-D).
    dt_unit : str, optional
        Unit of a bare number stored as the file's ``dt`` (e.g. ``"ms"``).
    allow_external : bool
        Read HDF5 datasets whose data lie outside the file (external raw storage, virtual
        datasets, external links); refused by default, see :mod:`fwdmodels.io._hdf5`.
    """
    c = open_container(path, allow_external)
    try:
        return InputArray(c, _choose(c, key), time_axis, dt_unit)
    except BaseException:
        c.close()
        raise


def load(path, key: str | None = None, time_axis: int | None = None, *,
         allow_external: bool = False):
    """Read one array whole: ``(array, info)`` with ``info`` holding dt, unit and metadata.

    ``array`` is time-first float64; ``info`` is a dict with ``dt`` (a pint Quantity or None),
    ``unit`` (str or None), ``metadata`` (the fwdmodels metadata dict or None) and ``key``.
    ``allow_external`` is as for :func:`open_input`.
    """
    with open_input(path, key, time_axis, allow_external=allow_external) as data:
        array = data.read_all()
        return array, {"dt": data.dt, "unit": data.unit, "metadata": data.metadata,
                       "key": data.key}


def describe(path) -> dict:
    """What a file holds: format, arrays (name, shape, dtype, unit) and metadata."""
    path = Path(path)
    describe_file = describer(path)                       # MNE Raw or forward solution
    if describe_file is not None:
        check_readable(path)
        try:
            return describe_file(path)
        except (FwdModelsError, MissingDependencyError):
            raise
        except Exception as exc:  # MNE raises many kinds (even AttributeError) on bad files
            raise corrupt_file(path, f"MNE-Python cannot read it: {type(exc).__name__}: "
                                 f"{exc}") from None
    c = open_container(path)
    try:
        arrays, meta = [], {}
        for e in c.entries.values():
            if e.pickled:
                kind = "pickled objects (not loaded)"
            elif e.external:
                kind = f"not read: {e.external}"
            elif e.matlab_class == "char":
                kind = "text"
            else:
                kind = e.dtype.name if e.dtype is not None else (e.matlab_class or "?")
            if _is_meta_name(e.name) and not e.pickled:
                value = c.small_value(e.name)
                if value is not None and not isinstance(value, np.ndarray):
                    if e.name.rsplit("/", 1)[-1] != "metadata":
                        meta[e.name] = value
                    continue
            arrays.append({"name": e.name, "shape": list(e.shape), "dtype": kind,
                           "unit": _file_unit(c, e)})
        for k, v in c.attrs.items():
            if k != "fwdmodels_metadata":
                meta[f"@{k}"] = v if isinstance(v, (str, int, float, bool)) else str(v)
        dt, where = None, None
        try:
            dt, where = _file_dt(c, None)
        except FwdModelsError as exc:
            where = str(exc)
        return {"path": str(path), "format": c.format, "size_bytes": path.stat().st_size,
                "arrays": arrays, "entries": meta,
                "dt": None if dt is None else f"{dt:~}", "dt_source": where,
                "fwdmodels": _fwd_metadata(c)}
    finally:
        c.close()
