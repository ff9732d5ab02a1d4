"""Results as an MNE-Python ``RawArray`` or an ``xarray.DataArray``, with names, times and units.

* :func:`to_raw` (``mne`` extra): EEG, MEG or BOLD as an ``mne.io.RawArray`` in SI units (V,
  T, T/m; BOLD as dimensionless ``misc`` channels), with channel names, positions (an EEG
  montage, MEG coil frames) and the EEG reference marked as MNE does (see
  :mod:`fwdmodels.io.mne_raw`).
* :func:`to_xarray` (``xarray`` extra): the same as an ``xarray.DataArray`` with dimensions
  ``("time", "channel")`` (EEG, MEG) or ``("time", "region")`` (BOLD and other region
  series), ``("batch", ...)`` first for a batch; a ``time`` coordinate in seconds, the channel
  or region names as coordinates, sensor positions as coordinates ``x``, ``y``, ``z`` (m),
  and the unit (``attrs["units"]``), dt, t0 and the fwdmodels metadata in ``attrs``.

``data`` is either a result in memory (a pint Quantity, as the models and
:func:`fwdmodels.simulate_bold` return, with ``dt`` and optionally the ``leadfield`` that
names its channels) or the path of an output fwdmodels wrote (``.npz``, ``.h5``, ``.mat``,
``.zarr``), whose dt, unit, names, positions and metadata are used. Rows are at ``t0 + n dt``
(``t0`` defaults to ``dt``: fwdmodels' row n is the state at ``(n + 1) dt``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import FwdModelsError, optional_import

__all__ = ["to_raw", "to_xarray"]

_SI = {"eeg": "V", "mag": "T", "grad": "T/m"}


@dataclass
class _Sensors:
    """The channel description :func:`fwdmodels.io.mne_raw.raw_info` takes."""

    ch_names: list
    ch_type: str
    chs: list | None
    dev_head_t: object = None


@dataclass
class _Result:
    array: np.ndarray
    unit: object
    dt: float
    t0: float
    ch_type: str                      # eeg, mag, grad, or misc (BOLD and region series)
    names: tuple | None = None
    sensors: _Sensors | None = None
    positions: np.ndarray | None = None
    reference: object = None
    metadata: dict = field(default_factory=dict)

    @property
    def across(self) -> str:
        return "region" if self.ch_type == "misc" else "channel"


def _channel_type(unit) -> str:
    from ..units import ureg

    q = 1.0 * unit
    if q.dimensionless:
        return "misc"
    for ch_type, si in _SI.items():
        if q.dimensionality == ureg.Quantity(1.0, si).dimensionality:
            return ch_type
    raise FwdModelsError(f"`data` must be EEG (a unit of V), MEG (T or T/m) or dimensionless "
                         f"(BOLD); got a unit of {unit:~}")


def _from_leadfield(leadfield, ch_type: str, n: int):
    from .leadfield_file import RegionLeadField, read_leadfield_file

    lf = leadfield if isinstance(leadfield, RegionLeadField) else read_leadfield_file(leadfield)
    if lf.ch_type != ch_type or len(lf.sensor_names) != n:
        raise FwdModelsError(f"`leadfield` has {len(lf.sensor_names)} {lf.ch_type} channels "
                             f"but `data` has {n} columns of {ch_type} data; give the lead "
                             f"field the data came from")
    sensors = _Sensors(list(lf.sensor_names), lf.ch_type, lf.chs, lf.dev_head_t)
    return lf.sensor_names, sensors, lf.sensor_positions


def _from_memory(data, dt, unit, leadfield, names, t0, reference, metadata) -> _Result:
    from ..units import as_quantity, parse_unit

    if hasattr(data, "magnitude") and hasattr(data, "units"):
        array, u = np.asarray(data.magnitude, dtype=float), data.units
        if unit is not None:
            raise FwdModelsError("`unit` is for a bare array; `data` already has one "
                                 f"({u:~})")
    elif unit is not None:
        array, u = np.asarray(data, dtype=float), parse_unit(unit, "unit")
    else:
        raise FwdModelsError("`data` has no unit; pass the pint Quantity the model returned, "
                             "or give unit= (e.g. unit='uV', or unit='' for BOLD)")
    if array.ndim not in (2, 3):
        raise FwdModelsError(f"`data` must be (time, channels) or (batch, time, channels); "
                             f"got shape {array.shape}")
    if dt is None:
        raise FwdModelsError("`dt` is needed for data in memory, with its unit, e.g. "
                             "dt='1 ms'")
    dt_s = float(as_quantity(dt, "dt", "[time]").to("s").magnitude)
    if not dt_s > 0:
        raise FwdModelsError(f"`dt` must be positive; got {dt!r}")
    t0_s = dt_s if t0 is None else float(as_quantity(t0, "t0", "[time]").to("s").magnitude)
    ch_type = _channel_type(u)
    res = _Result(array, u, dt_s, t0_s, ch_type, reference=reference,
                  metadata=dict(metadata or {}))
    if leadfield is not None:
        if ch_type == "misc":
            raise FwdModelsError("`leadfield` names sensors; `data` is dimensionless (BOLD or "
                                 "region activity): give `names` instead")
        res.names, res.sensors, res.positions = _from_leadfield(leadfield, ch_type,
                                                                array.shape[-1])
    if names is not None:
        res.names = tuple(str(n) for n in names)
        if len(res.names) != array.shape[-1]:
            raise FwdModelsError(f"`names` must have {array.shape[-1]} entries (one per "
                                 f"column); got {len(res.names)}")
    return res


def _read_extras(path: Path) -> dict:
    """The small arrays written next to an output's data (names, positions, coil frames)."""
    wanted = ("sensor_names", "channel_type", "sensor_positions", "sensor_orientations",
              "coil_ex", "coil_ey", "coil_types", "dev_head_t", "coord_frame", "region_names")
    suffix = path.suffix.lower()
    out = {}
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as data:
            out = {k: data[k] for k in wanted if k in data.files}
    elif suffix in (".h5", ".hdf5"):
        from ._hdf5 import h5py_module

        h5py = h5py_module("reading .h5 files")
        with h5py.File(path, "r") as f:
            for k in wanted:
                if k in f:
                    ds = f[k]
                    out[k] = ds.asstr()[()] if h5py.check_string_dtype(ds.dtype) else ds[()]
    elif suffix == ".mat":
        import scipy.io

        mat = scipy.io.loadmat(path, variable_names=list(wanted))
        for k, v in mat.items():
            if k in wanted:
                out[k] = (np.array([np.asarray(c).item() for c in v.ravel()]) if v.dtype == object
                          else v.ravel()[0] if v.dtype.kind == "U" else v)
    elif suffix == ".zarr":
        from ._zarr_store import zarr_module

        group = zarr_module("reading .zarr stores").open_group(str(path), mode="r")
        out = {k: np.asarray(group[k][...]) for k in wanted if k in group}
    return {k: (str(np.asarray(v).item()) if np.ndim(v) == 0 else np.asarray(v))
            for k, v in out.items()}


def _from_file(path, leadfield, names) -> _Result:
    from ..units import parse_unit
    from .channels import channel_dicts
    from .readers import load

    path = Path(path)
    array, info = load(path)
    meta = info["metadata"] or {}
    if info["dt"] is None:
        raise FwdModelsError(f"'{path}' holds no time step; it is not a time series")
    dt_s = float(info["dt"].to("s").magnitude)
    unit = parse_unit(info["unit"] or "", f"the unit of '{path}'")
    ch_type = _channel_type(unit)
    extras = _read_extras(path)
    res = _Result(array, unit, dt_s, float(meta.get("t0", dt_s)), ch_type,
                  reference=(meta.get("parameters") or {}).get("reference"), metadata=meta)
    if ch_type == "misc":
        if "region_names" in extras:
            res.names = tuple(str(v) for v in extras["region_names"])
    elif "sensor_names" in extras:
        res.names = tuple(str(v) for v in extras["sensor_names"])
        file_type = str(extras.get("channel_type", ch_type))
        if "sensor_positions" in extras and file_type == ch_type:
            pos = np.asarray(extras["sensor_positions"], dtype=float)
            loc = np.zeros((len(pos), 12))
            loc[:, :3] = pos
            if ch_type != "eeg":
                loc[:, 3:6], loc[:, 6:9] = extras["coil_ex"], extras["coil_ey"]
                loc[:, 9:12] = extras["sensor_orientations"]
            frame = str(extras.get("coord_frame", "head"))
            coils = extras.get("coil_types")            # (M, 1) in a MATLAB file
            chs = channel_dicts(ch_type, res.names, loc,
                                None if coils is None else np.ravel(coils), frame)
            res.sensors = _Sensors(list(res.names), ch_type, chs, extras.get("dev_head_t"))
            res.positions = pos
    if leadfield is not None:
        res.names, res.sensors, res.positions = _from_leadfield(leadfield, ch_type,
                                                                array.shape[-1])
    if names is not None:
        res.names = tuple(str(n) for n in names)
    return res


def _result(data, dt, unit, leadfield, names, t0, reference, metadata) -> _Result:
    if isinstance(data, (str, Path)):
        for name, value in (("dt", dt), ("unit", unit), ("t0", t0), ("metadata", metadata)):
            if value is not None:
                raise FwdModelsError(f"`{name}` comes from the file '{data}'; drop {name}=")
        res = _from_file(data, leadfield, names)
        if reference is not None:
            res.reference = reference
        return res
    return _from_memory(data, dt, unit, leadfield, names, t0, reference, metadata)


def to_raw(data, dt=None, *, leadfield=None, names=None, unit=None, t0=None, reference=None,
           metadata=None):
    """An ``mne.io.RawArray`` of an EEG, MEG or BOLD result (see the module notes).

    Parameters
    ----------
    data : pint.Quantity, shape (T, M), or path
        The result (in any unit of V, T, T/m, or dimensionless for BOLD), or a fwdmodels
        output file.
    dt : str or pint.Quantity
        Time between rows, with its unit (taken from the file for a path).
    leadfield : RegionLeadField or path, optional
        The lead field the result came from: its channel names, positions and coil frames.
    names : sequence of str, optional
        Channel names (default: the lead field's, the file's, or ``EEG 001``...).
    unit : str, optional
        Unit of a bare array.
    t0 : str or pint.Quantity, optional
        Time of the first row (default ``dt``); the Raw's ``first_samp`` is ``t0 / dt``.
    reference : None, "average" or int, optional
        EEG reference already applied to the data (a file's run records its own).
    metadata : dict, optional
        Stored as JSON in ``info["description"]``.

    Returns
    -------
    mne.io.RawArray
        Data in SI units (MNE's), one recording (a batch is refused: pass ``data[b]``).
    """
    mne = optional_import("mne", "mne", "converting results to MNE-Python Raw objects")
    from .metadata import dumps
    from .mne_raw import raw_info

    res = _result(data, dt, unit, leadfield, names, t0, reference, metadata)
    if res.array.ndim != 2:
        raise FwdModelsError(f"a Raw holds one recording; `data` is a batch of "
                             f"{res.array.shape[0]}: pass data[b]")
    factor = 1.0 if res.ch_type == "misc" else float(
        (1.0 * res.unit).to(_SI[res.ch_type]).magnitude)
    prefix = {"eeg": "EEG", "mag": "MEG", "grad": "MEG", "misc": "region"}[res.ch_type]
    ch_names = list(res.names) if res.names is not None else \
        [f"{prefix} {i + 1:03d}" for i in range(res.array.shape[1])]
    meta = dict(res.metadata, unit=_SI.get(res.ch_type, "dimensionless"))
    info = raw_info(ch_names, 1.0 / res.dt, res.ch_type, sensors=res.sensors,
                    reference=res.reference, description=dumps(meta))
    if res.ch_type == "misc":                                       # BOLD: no unit
        for ch in info["chs"]:
            ch["unit"] = mne.io.constants.FIFF.FIFF_UNIT_NONE
    return mne.io.RawArray(res.array.T * factor, info, first_samp=int(round(res.t0 / res.dt)),
                           verbose="error")


def to_xarray(data, dt=None, *, leadfield=None, names=None, unit=None, t0=None,
              metadata=None):
    """An ``xarray.DataArray`` of a result (see the module notes; parameters as for
    :func:`to_raw`).

    Returns
    -------
    xarray.DataArray
        Values in the result's own unit (``attrs["units"]``), dimensions ``time`` then
        ``channel`` or ``region`` (``batch`` first for a batch), coordinate ``time`` in
        seconds, names and positions as coordinates.
    """
    xr = optional_import("xarray", "xarray", "converting results to xarray DataArrays")
    from .metadata import dumps

    res = _result(data, dt, unit, leadfield, names, t0, None, metadata)
    dims = (("batch",) if res.array.ndim == 3 else ()) + ("time", res.across)
    n_t = res.array.shape[-2]
    coords = {"time": ("time", res.t0 + res.dt * np.arange(n_t), {"units": "s"})}
    if res.names is not None:
        coords[res.across] = (res.across, list(res.names))
    if res.positions is not None:
        for k, axis in enumerate("xyz"):
            coords[axis] = (res.across, res.positions[:, k],
                            {"units": "m", "long_name": f"sensor position, {axis}"})
    text = f"{res.unit:~}".replace("µ", "u").replace("μ", "u")
    meta = res.metadata or {}
    attrs = {"units": text or "dimensionless", "dt": res.dt, "dt_unit": "s", "t0": res.t0,
             "t0_unit": "s", "channel_type": res.ch_type,
             "modality": str(meta.get("modality", "bold" if res.ch_type == "misc" else
                                      "eeg" if res.ch_type == "eeg" else "meg")),
             "fwdmodels_metadata": dumps(meta) if meta else json.dumps({})}
    return xr.DataArray(res.array, dims=dims, coords=coords, attrs=attrs,
                        name=str(meta.get("array", attrs["modality"])))
