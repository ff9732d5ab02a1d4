"""Region lead fields as files of their own: ``.npz`` and ``.h5`` with names, positions and
provenance.

A region lead field file holds everything a user of the matrix needs, so that
``fwdmodels eeg|meg --leadfield FILE`` needs nothing else and every output carries the names
and positions along (:class:`RegionLeadField`, :func:`write_leadfield_file`,
:func:`read_leadfield_file`). ``fwdmodels leadfield`` writes one (see
:mod:`fwdmodels.make_leadfield`).

Layout (format ``"fwdmodels-leadfield"``, version 1). In an ``.npz`` every item is a member;
in an ``.h5`` a dataset, with the texts (``channel_type``, ``coord_frame``, ``format``,
``format_version``) also as file attributes and the unit as the attribute ``unit`` of ``L``
(the unit is ``L``'s alone: the other arrays have their own, or none):

=====================  ========  ===========================================================
name                   shape     meaning
=====================  ========  ===========================================================
``L``                  (R, M)    the lead field: rows regions, columns sensors (float64)
``L_unit``             text      unit of ``L``: V/(A*m) (EEG), T/(A*m) (magnetometers) or
                                 T/(m*A*m) (planar gradiometers), or one of their multiples
``channel_type``       text      ``"eeg"``, ``"mag"`` or ``"grad"`` (one type per file: their
                                 units differ)
``sensor_names``       (M,)      channel names, in column order
``sensor_positions``   (M, 3)    positions in metres (``sensor_positions_unit`` ``"m"``);
                                 EEG: the electrode; MEG: the coil centre
``sensor_orientations``(M, 3)    MEG only: the coil normal (the field component measured)
``coil_ex``,           (M, 3)    MEG only: the coil's x and y axes (a magnetometer's sides,
``coil_ey``                      a planar gradiometer's direction of differentiation is ex)
``coil_types``         (M,)      MEG only: MNE/FIFF coil type (3024 Vectorview magnetometer,
                                 3012 Vectorview planar gradiometer, ...)
``coord_frame``        text      frame of the positions: ``"head"`` (MNE's head frame: x right,
                                 y front, z up; EEG) or ``"meg"`` (the MEG device; MEG)
``dev_head_t``         (4, 4)    MEG only: device-to-head transform (m)
``region_names``       (R,)      region names, in row order (when known)
``region_positions``   (R, 3)    dipole positions in metres, head frame (when known)
``region_orientations``(R, 3)    unit dipole orientations (when known)
``format``             text      ``"fwdmodels-leadfield"``; ``format_version`` 1
``metadata``           text      JSON (:mod:`fwdmodels.io.metadata`): modality
                                 ``"leadfield"``, ``parameters`` with the head model and its
                                 parameters, the aggregation, the source and channel type, and
                                 ``input`` with every input file's path and sha256
=====================  ========  ===========================================================

Nothing in the file is pickled; text arrays are fixed-width Unicode (``.npz``) or UTF-8
strings (``.h5``).
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import FwdModelsError, optional_import
from ._atomic import atomic_path, check_output_path
from .channels import FIFF_CODES, FRAMES, channel_dicts
from .metadata import build_metadata, dumps

__all__ = ["RegionLeadField", "write_leadfield_file", "read_leadfield_file",
           "is_leadfield_file", "channel_dicts", "FORMAT", "FORMAT_VERSION", "SI_LEADFIELD_UNITS",
           "FIFF_CODES"]

FORMAT = "fwdmodels-leadfield"
FORMAT_VERSION = 1
#: SI unit of the lead field of each channel type.
SI_LEADFIELD_UNITS = {"eeg": "V/(A*m)", "mag": "T/(A*m)", "grad": "T/(m*A*m)"}
_TEXT = ("channel_type", "coord_frame", "format")
_SUFFIXES = (".npz", ".h5", ".hdf5")


@dataclass
class RegionLeadField:
    """A region lead field with its names, sensor geometry, head model and provenance.

    Attributes
    ----------
    L : pint.Quantity, shape (R, M)
        The lead field, rows regions and columns sensors.
    ch_type : {"eeg", "mag", "grad"}
    sensor_names : tuple of str
    sensor_positions : numpy.ndarray, shape (M, 3), or None
        In metres, in ``coord_frame``.
    sensor_orientations, coil_ex, coil_ey : numpy.ndarray, shape (M, 3), or None
        MEG coil frames (normal, x and y axes).
    coil_types : numpy.ndarray of int, shape (M,), or None
    coord_frame : {"head", "meg"}
    dev_head_t : numpy.ndarray, shape (4, 4), or None
    region_names : tuple of str or None
    region_positions : numpy.ndarray, shape (R, 3), or None
        In metres (head frame).
    region_orientations : numpy.ndarray, shape (R, 3), or None
    head_model : dict
        The head model and its parameters (JSON-safe).
    aggregation : str or None
        How source vertices were combined into regions (None: the rows are the sources).
    source : str
        Which builder made it (``"sphere"``, ``"mne"`` ...).
    inputs : list of dict
        Input files (``role``, ``path``, ``sha256``) and data sets (``role``, ``name``).
    details : dict
        Anything else the builder records.
    metadata : dict or None
        The metadata read from a file (None for one built in memory).
    """

    L: object
    ch_type: str
    sensor_names: tuple
    sensor_positions: np.ndarray | None = None
    sensor_orientations: np.ndarray | None = None
    coil_ex: np.ndarray | None = None
    coil_ey: np.ndarray | None = None
    coil_types: np.ndarray | None = None
    coord_frame: str = "head"
    dev_head_t: np.ndarray | None = None
    region_names: tuple | None = None
    region_positions: np.ndarray | None = None
    region_orientations: np.ndarray | None = None
    head_model: dict = field(default_factory=dict)
    aggregation: str | None = None
    source: str = ""
    inputs: list = field(default_factory=list)
    details: dict = field(default_factory=dict)
    metadata: dict | None = field(default=None, repr=False)

    def __post_init__(self):
        self.validate()

    # ---------------------------------------------------------------- derived
    @property
    def modality(self) -> str:
        """``"eeg"`` or ``"meg"``."""
        return "eeg" if self.ch_type == "eeg" else "meg"

    @property
    def ch_names(self) -> list:
        return list(self.sensor_names)

    @property
    def shape(self) -> tuple:
        return tuple(self.L.shape)

    def locs(self) -> np.ndarray | None:
        """MNE-Python's ``ch["loc"]`` of each channel, ``(M, 12)``, or None without positions.

        EEG: the electrode position, then zeros (no reference electrode position). MEG: the
        coil centre, then its ``ex``, ``ey`` and ``ez`` (the normal) axes.
        """
        if self.sensor_positions is None:
            return None
        loc = np.zeros((len(self.sensor_names), 12))
        loc[:, :3] = self.sensor_positions
        if self.ch_type != "eeg":
            loc[:, 3:6], loc[:, 6:9], loc[:, 9:12] = (self.coil_ex, self.coil_ey,
                                                      self.sensor_orientations)
        return loc

    @property
    def chs(self) -> list | None:
        """The channels as MNE-Python describes them (``loc``, ``coil_type``, ``coord_frame``,
        ``kind``, ``unit``), for a Raw's info; None without positions."""
        loc = self.locs()
        return None if loc is None else channel_dicts(self.ch_type, self.sensor_names, loc,
                                                      self.coil_types, self.coord_frame)

    # ---------------------------------------------------------------- checks
    def validate(self) -> None:
        """Refuse an inconsistent lead field (shapes, names, unit, geometry)."""
        from ..units import ureg

        L = self.L
        if not (hasattr(L, "units") and hasattr(L, "magnitude")):
            raise FwdModelsError(f"`L` must be a pint Quantity with its unit, e.g. "
                                 f"L * fwdmodels.ureg('V/(A*m)'); got {type(L).__name__}")
        mag = np.asarray(L.magnitude)
        if mag.ndim != 2 or 0 in mag.shape or mag.dtype.kind not in "fiu":
            raise FwdModelsError(f"`L` must be a real (regions, sensors) matrix; got shape "
                                 f"{mag.shape}, dtype {mag.dtype}")
        if not np.all(np.isfinite(mag)):
            r, m = np.argwhere(~np.isfinite(mag))[0]
            raise FwdModelsError(f"`L` must be finite; got {float(mag[r, m])!r} at region {r}, "
                                 f"sensor {m}")
        if self.ch_type not in SI_LEADFIELD_UNITS:
            raise FwdModelsError(f"`ch_type` must be 'eeg', 'mag' or 'grad'; got "
                                 f"{self.ch_type!r}")
        si = ureg.Quantity(1.0, SI_LEADFIELD_UNITS[self.ch_type])
        if (1.0 * L.units).dimensionality != si.dimensionality:
            raise FwdModelsError(f"`L` of {self.ch_type} channels must be in a unit of "
                                 f"{SI_LEADFIELD_UNITS[self.ch_type]}; got {L.units:~}")
        n_reg, n_sens = mag.shape
        self.sensor_names = _names(self.sensor_names, n_sens, "sensor_names")
        if self.region_names is not None:
            self.region_names = _names(self.region_names, n_reg, "region_names")
        self.sensor_positions = _rows(self.sensor_positions, n_sens, "sensor_positions")
        self.region_positions = _rows(self.region_positions, n_reg, "region_positions")
        self.region_orientations = _rows(self.region_orientations, n_reg,
                                         "region_orientations")
        if self.coord_frame not in FIFF_CODES["coord_frame"]:
            raise FwdModelsError(f"`coord_frame` must be 'head' or 'meg'; got "
                                 f"{self.coord_frame!r}")
        if self.ch_type == "eeg":
            for name in ("sensor_orientations", "coil_ex", "coil_ey", "dev_head_t"):
                if getattr(self, name) is not None:
                    raise FwdModelsError(f"`{name}` describes MEG coils; EEG has none")
            if self.coord_frame != "head":
                raise FwdModelsError(f"EEG positions are in the head frame; got "
                                     f"coord_frame={self.coord_frame!r}")
            return
        self._validate_meg(n_sens)

    def _validate_meg(self, n_sens: int) -> None:
        """MEG channels with positions need their whole coil frame and coil types."""
        frames = [self.sensor_orientations, self.coil_ex, self.coil_ey]
        if self.sensor_positions is None:
            if any(f is not None for f in frames):
                raise FwdModelsError("MEG coil axes need `sensor_positions` too")
        else:
            for name in ("sensor_orientations", "coil_ex", "coil_ey"):
                value = _rows(getattr(self, name), n_sens, name)
                if value is None:
                    raise FwdModelsError(f"MEG channels with positions need `{name}` (the coil "
                                         f"frame, as MNE-Python's ch['loc'][3:12])")
                setattr(self, name, value)
            if self.coil_types is None:
                raise FwdModelsError("MEG channels with positions need `coil_types` (MNE/FIFF "
                                     "coil types, e.g. 3024 or 3012)")
            self.coil_types = np.asarray(self.coil_types).astype(np.int64).reshape(-1)
            if self.coil_types.shape != (n_sens,):
                raise FwdModelsError(f"`coil_types` must have one entry per sensor ({n_sens}); "
                                     f"got {self.coil_types.shape[0]}")
        if self.dev_head_t is not None:
            t = np.asarray(self.dev_head_t, dtype=float)
            if t.shape != (4, 4) or not np.all(np.isfinite(t)):
                raise FwdModelsError(f"`dev_head_t` must be a finite 4x4 transform; got shape "
                                     f"{t.shape}")
            self.dev_head_t = t


def _names(values, n: int, name: str) -> tuple:
    names = tuple(str(v) for v in np.asarray(values, dtype=object).reshape(-1))
    if len(names) != n:
        raise FwdModelsError(f"`{name}` must have {n} entries (one per "
                             f"{'sensor' if 'sensor' in name else 'region'}); got {len(names)}")
    seen = set()
    for v in names:
        if not v or v in seen:
            raise FwdModelsError(f"`{name}` must be distinct, non-empty names; got "
                                 f"{'an empty name' if not v else repr(v) + ' twice'}")
        seen.add(v)
    return names


def _rows(value, n: int, name: str):
    if value is None:
        return None
    a = np.asarray(value, dtype=float)
    if a.shape != (n, 3) or not np.all(np.isfinite(a)):
        raise FwdModelsError(f"`{name}` must be a finite ({n}, 3) array; got shape {a.shape}")
    return a


# =========================================================================== writing
def _unit_text(unit) -> str:
    """ASCII text of a unit that pint reads back (``uV`` rather than ``µV``)."""
    return f"{unit:~}".replace("µ", "u").replace("μ", "u")


def _metadata(lf: RegionLeadField) -> dict:
    parameters = {"format": FORMAT, "format_version": FORMAT_VERSION, "source": lf.source,
                  "channel_type": lf.ch_type, "head_model": lf.head_model,
                  "aggregation": lf.aggregation, "coord_frame": lf.coord_frame,
                  "n_regions": lf.shape[0], "n_sensors": lf.shape[1], **lf.details}
    return build_metadata("leadfield", "L", _unit_text(lf.L.units), ["region", "sensor"],
                          None, parameters=parameters, input_info={"files": lf.inputs})


def _items(lf: RegionLeadField) -> dict:
    items = {"L": np.asarray(lf.L.magnitude, dtype=np.float64),
             "L_unit": _unit_text(lf.L.units), "channel_type": lf.ch_type,
             "sensor_names": np.asarray(lf.sensor_names, dtype=str),
             "coord_frame": lf.coord_frame, "format": FORMAT,
             "format_version": np.int64(FORMAT_VERSION)}
    optional = {"sensor_positions": lf.sensor_positions,
                "sensor_orientations": lf.sensor_orientations, "coil_ex": lf.coil_ex,
                "coil_ey": lf.coil_ey, "coil_types": lf.coil_types,
                "dev_head_t": lf.dev_head_t, "region_positions": lf.region_positions,
                "region_orientations": lf.region_orientations}
    items.update({k: np.asarray(v) for k, v in optional.items() if v is not None})
    if lf.sensor_positions is not None:
        items["sensor_positions_unit"] = "m"
    if lf.region_positions is not None:
        items["region_positions_unit"] = "m"
    if lf.region_names is not None:
        items["region_names"] = np.asarray(lf.region_names, dtype=str)
    return items


def write_leadfield_file(path, leadfield: RegionLeadField, *, force: bool = False) -> Path:
    """Write ``leadfield`` to ``path`` (``.npz`` or ``.h5``), atomically, with its metadata.

    Parameters
    ----------
    path : str or path-like
        Destination, ending in ``.npz``, ``.h5`` or ``.hdf5``.
    leadfield : RegionLeadField
    force : bool
        Overwrite an existing file.

    Returns
    -------
    pathlib.Path
    """
    if not isinstance(leadfield, RegionLeadField):
        raise FwdModelsError(f"`leadfield` must be a RegionLeadField; got "
                             f"{type(leadfield).__name__}")
    path = check_output_path(path, force)
    suffix = path.suffix.lower()
    if suffix not in _SUFFIXES:
        raise FwdModelsError(f"`path` of a lead-field file must end in .npz or .h5; got "
                             f"'{path}'")
    leadfield.validate()
    items = _items(leadfield)
    items["metadata"] = dumps(_metadata(leadfield))
    with atomic_path(path, force) as tmp:
        if suffix == ".npz":
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
                for key, value in items.items():
                    buf = io.BytesIO()
                    np.lib.format.write_array(buf, np.asarray(value), allow_pickle=False)
                    zf.writestr(f"{key}.npy", buf.getvalue())
        else:
            _write_h5(tmp, items)
    return path


def _write_h5(tmp, items: dict) -> None:
    h5py = optional_import("h5py", "hdf5", "writing .h5 lead-field files")
    text = h5py.string_dtype("utf-8")
    with h5py.File(tmp, "w") as f:
        for key, value in items.items():
            value = np.asarray(value)
            if value.dtype.kind == "U":
                f.create_dataset(key, data=value.astype(object), dtype=text)
            else:
                f.create_dataset(key, data=value)
        for key in _TEXT:
            f.attrs[key] = str(items[key])
        f.attrs["format_version"] = FORMAT_VERSION
        f.attrs["fwdmodels_metadata"] = str(items["metadata"])
        f["L"].attrs["unit"] = str(items["L_unit"])


# =========================================================================== reading
def is_leadfield_file(path) -> bool:
    """Whether ``path`` is a fwdmodels lead-field file (it says so in its ``format`` entry)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _SUFFIXES or not path.is_file():
        return False
    try:
        if suffix == ".npz":
            with zipfile.ZipFile(path) as zf:
                if "format.npy" not in zf.namelist():
                    return False
                value = np.load(io.BytesIO(zf.read("format.npy")), allow_pickle=False)
                return str(value) == FORMAT
        h5py = optional_import("h5py", "hdf5", "reading .h5 lead-field files")
        with h5py.File(path, "r") as f:
            value = f.attrs.get("format")
            return (value.decode() if isinstance(value, bytes) else str(value)) == FORMAT
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError):
        return False


def _load_items(path: Path) -> dict:
    try:
        if path.suffix.lower() == ".npz":
            with np.load(path, allow_pickle=False) as data:
                return {k: data[k] for k in data.files}
        h5py = optional_import("h5py", "hdf5", "reading .h5 lead-field files")
        out = {}
        with h5py.File(path, "r") as f:
            for key, ds in f.items():
                if isinstance(ds, h5py.Dataset):
                    out[key] = (ds.asstr()[()] if h5py.check_string_dtype(ds.dtype)
                                else ds[()])
        return out
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as exc:
        raise FwdModelsError(f"lead-field file '{path}' cannot be read "
                             f"({' '.join(str(exc).split())}); write it again with "
                             f"fwdmodels leadfield") from None


def read_leadfield_file(path) -> RegionLeadField:
    """Read a fwdmodels lead-field file (see the module notes for its layout)."""
    from ..units import parse_unit, ureg

    path = Path(path)
    if not path.is_file():
        raise FwdModelsError(f"lead field '{path}' does not exist; check the path")
    items = _load_items(path)

    def text(key, default=None):
        if key not in items:
            if default is not None:
                return default
            raise FwdModelsError(f"lead-field file '{path}' has no {key!r} entry; write it "
                                 f"again with fwdmodels leadfield")
        return str(np.asarray(items[key]).item() if np.ndim(items[key]) == 0 else items[key])

    if text("format") != FORMAT:
        raise FwdModelsError(f"'{path}' is not a fwdmodels lead-field file (format "
                             f"{text('format')!r})")
    version = int(np.asarray(items.get("format_version", 0)).item())
    if version > FORMAT_VERSION:
        raise FwdModelsError(f"lead-field file '{path}' is of format version {version}, newer "
                             f"than this fwdmodels reads ({FORMAT_VERSION}); upgrade fwdmodels")
    unit = parse_unit(text("L_unit") if "L_unit" in items else text("unit"),
                      f"the unit stored in '{path}'")
    meta = None
    if "metadata" in items:
        try:
            meta = json.loads(text("metadata"))
        except ValueError:
            meta = None
    params = (meta or {}).get("parameters", {}) if isinstance(meta, dict) else {}
    for key in ("sensor_positions", "region_positions"):
        if key in items and text(f"{key}_unit", "m") != "m":
            raise FwdModelsError(f"lead-field file '{path}' stores {key} in "
                                 f"{text(key + '_unit')!r}; fwdmodels writes them in m")
    known = ("format", "format_version", "source", "channel_type", "head_model", "aggregation",
             "coord_frame", "n_regions", "n_sensors")
    try:
        return RegionLeadField(
            L=ureg.Quantity(np.asarray(items["L"], dtype=np.float64), unit),
            ch_type=text("channel_type"), sensor_names=tuple(items["sensor_names"]),
            sensor_positions=items.get("sensor_positions"),
            sensor_orientations=items.get("sensor_orientations"),
            coil_ex=items.get("coil_ex"), coil_ey=items.get("coil_ey"),
            coil_types=items.get("coil_types"), coord_frame=text("coord_frame", "head"),
            dev_head_t=items.get("dev_head_t"),
            region_names=None if "region_names" not in items else tuple(items["region_names"]),
            region_positions=items.get("region_positions"),
            region_orientations=items.get("region_orientations"),
            head_model=params.get("head_model") or {}, aggregation=params.get("aggregation"),
            source=params.get("source") or "",
            inputs=list(((meta or {}).get("input") or {}).get("files") or []),
            details={k: v for k, v in params.items() if k not in known}, metadata=meta)
    except KeyError as exc:
        raise FwdModelsError(f"lead-field file '{path}' has no {exc.args[0]!r} entry; write "
                             f"it again with fwdmodels leadfield") from None
    except FwdModelsError as exc:
        raise FwdModelsError(f"lead-field file '{path}' is inconsistent: {exc}") from None


# =========================================================================== from MNE
def from_forward(lf, *, inputs=(), head_model=None) -> RegionLeadField:
    """A :class:`RegionLeadField` from an :class:`fwdmodels.leadfield.forward.ForwardLeadField`.

    The channels keep MNE's positions and coil frames exactly (``ch["loc"]``), in the
    forward's frames (EEG: head; MEG: device, with the forward's ``dev_head_t``).
    """
    chs = lf.chs
    loc = np.array([np.asarray(c["loc"], dtype=float)[:12] for c in chs])
    frames = {int(c["coord_frame"]) for c in chs}
    if len(frames) != 1 or next(iter(frames)) not in FRAMES:
        raise FwdModelsError(f"the forward's {lf.ch_type} channels are in coordinate frames "
                             f"{sorted(frames)}; fwdmodels keeps head (4) or device (1) "
                             f"positions only")
    frame = FRAMES[frames.pop()]
    meg = lf.ch_type != "eeg"
    trans = None
    if meg and lf.dev_head_t is not None:
        trans = np.asarray(lf.dev_head_t["trans"] if hasattr(lf.dev_head_t, "__getitem__")
                           and not isinstance(lf.dev_head_t, np.ndarray)
                           else lf.dev_head_t, dtype=float)
    details = {k: v for k, v in lf.details.items() if k not in ("regions", "aggregation")}
    return RegionLeadField(
        L=lf.L, ch_type=lf.ch_type, sensor_names=tuple(lf.ch_names),
        sensor_positions=loc[:, :3], sensor_orientations=loc[:, 9:12] if meg else None,
        coil_ex=loc[:, 3:6] if meg else None, coil_ey=loc[:, 6:9] if meg else None,
        coil_types=np.array([int(c["coil_type"]) for c in chs]) if meg else None,
        coord_frame=frame, dev_head_t=trans,
        region_names=None if lf.region_names is None else tuple(lf.region_names),
        head_model=dict(head_model or {"kind": "MNE-Python forward solution"}),
        aggregation=lf.details.get("aggregation"), source="mne", inputs=list(inputs),
        details={"forward": details})
