"""The Virtual Brain's own files: time series, connectivity, surfaces, sensors, projections.

Everything here reads files as TVB writes them, with NumPy and h5py only (tvb-library is not
needed); the data TVB ships (its default subject) come from the ``tvb-data`` package, which
``pip install "fwdmodels[tvb]"`` brings. Nothing is downloaded at run time. A path written
``tvb:<path>`` is a file of tvb-data, e.g. ``tvb:regionMapping/regionMapping_16k_76.txt``.

* **TimeSeriesRegion H5** (and TVB's other time series): ``data`` is (time, state variable,
  region, mode); the file attributes ``TVB_sample_period`` and ``TVB_sample_period_unit`` give
  dt, ``TVB_labels_dimensions`` (JSON) the state variable and region names. fwdmodels presents
  each (state variable, mode) as one (time, region) array named after the state variable:
  ``"V"`` (one mode) or ``"V:0"``, ``"V:1"``...; a state variable is also found by its index
  (``"0"``, ``"0:1"``), and ``"data"`` names the only one. :func:`fwdmodels.io.open_input`
  and the command line (``--key V``) read them; :func:`read_time_series` here.
* **Connectivity zip** (:func:`read_connectivity`): labels and centres (``centres.txt``),
  weights, tract lengths, and when present areas, average orientations, cortical flags and
  hemispheres; files may sit in a folder of the zip and be ``.bz2``-compressed.
* **Region mapping** (:func:`read_region_mapping`): one region index per surface vertex.
* **Surface zip** (:func:`read_surface`): vertices, triangles and vertex normals.
* **Sensors** (:func:`read_sensors`): ``name x y z`` per line (EEG, sEEG), plus ``ox oy oz``
  for MEG.
* **Projection matrices** (:func:`read_projection`): (sensors, vertices), ``.npy`` or
  ``.mat``; rows of sensors TVB has no values for are NaN and are kept as NaN here.

Units: TVB's lengths are millimetres (``info.txt`` of its connectivities says ``length_unit =
"mm"``, ``area_unit = "mm^2"``), and so are returned as pint Quantities; weights are
arbitrary units. TVB's time series store their time step's unit (``"ms"`` by default).
"""

from __future__ import annotations

import bz2
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import FwdModelsError, optional_import
from ..units import ureg
from ._tvb_series import is_tvb_time_series
from .readers import open_input

__all__ = ["tvb_data_path", "is_tvb_time_series", "read_time_series", "TVBTimeSeries",
           "read_connectivity", "Connectivity", "read_region_mapping", "read_surface", "Surface",
           "read_sensors", "Sensors", "read_projection", "is_tvb_leadfield_spec",
           "TVB_DEFAULT_SUBJECT"]

#: Files of TVB's default subject in tvb-data: connectivities, region mappings, projections.
TVB_DEFAULT_SUBJECT = {
    "connectivity": {76: "connectivity/connectivity_76.zip",
                     192: "connectivity/connectivity_192.zip"},
    "region_mapping": {76: "regionMapping/regionMapping_16k_76.txt",
                       192: "regionMapping/regionMapping_16k_192.txt"},
    "projection": {"eeg": "projectionMatrix/projection_eeg_65_surface_16k.npy",
                   "meg": "projectionMatrix/projection_meg_276_surface_16k.npy"},
    "sensors": {"eeg": "sensors/eeg_brainstorm_65.txt", "meg": "sensors/meg_brainstorm_276.txt",
                "seeg": "sensors/seeg_588.txt"},
    "cortex": "surfaceData/cortex_16384.zip",
}
_PREFIX = "tvb:"


# --------------------------------------------------------------------------- tvb-data
def tvb_data_path(name) -> Path:
    """A file of TVB's data: ``"tvb:<path>"`` (or ``<path>``) inside the tvb-data package, or an
    ordinary path (returned unchanged)."""
    text = str(name)
    if not text.startswith(_PREFIX):
        return Path(name)
    tvb_data = optional_import("tvb_data", "tvb", f"reading {text}")
    root = Path(tvb_data.__file__).parent
    path = root / text[len(_PREFIX):].lstrip("/")
    if not path.is_file():
        found = sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                       if p.is_file() and not p.name.startswith("__"))
        raise FwdModelsError(f"{text!r} is not a file of tvb-data; it has: "
                             f"{', '.join(found[:40])}")
    return path


def is_tvb_leadfield_spec(path) -> bool:
    """True for ``tvb:<modality>:<regions>``, the name of TVB's default subject as a region
    lead field (built by :func:`fwdmodels.leadfield.tvb.tvb_default_leadfield`)."""
    parts = str(path).split(":")
    return len(parts) == 3 and parts[0] == "tvb" and "/" not in str(path)


def _check_file(path: Path, what: str) -> None:
    if not path.is_file():
        raise FwdModelsError(f"{what} '{path}' does not exist; check the path")


def _text(raw: bytes, name: str) -> str:
    if name.endswith(".bz2"):
        raw = bz2.decompress(raw)
    return raw.decode("utf-8", errors="replace")


def _table(text: str, where: str, columns: int | None = None):
    """Rows of a whitespace table: ``(names, numbers)`` with the first column as names when
    it is not a number; with ``columns``, only that many numbers of each row are read (TVB's
    ``centres.txt`` may add a column, as tvb-data's 66-region connectivity does)."""
    rows = [line.split() for line in text.splitlines() if line.strip()]
    if columns is not None:
        rows = [r[:columns + 1] if _is_name(r[0]) else r[:columns] for r in rows]
    if not rows:
        raise FwdModelsError(f"{where} is empty")
    named = _is_name(rows[0][0])
    width = {len(r) for r in rows}
    if len(width) != 1:
        raise FwdModelsError(f"{where} has rows of different lengths ({sorted(width)} "
                             f"columns); it is not a TVB table")
    try:
        numbers = np.array([[float(v) for v in (r[1:] if named else r)] for r in rows])
    except ValueError as exc:
        raise FwdModelsError(f"{where} holds a value that is not a number ({exc})") from None
    return ([r[0] for r in rows] if named else None), numbers


def _is_name(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return True
    return False


# --------------------------------------------------------------------------- time series
@dataclass
class TVBTimeSeries:
    """One state variable and mode of a TVB time series.

    Attributes
    ----------
    data : numpy.ndarray, shape (T, R)
        float64, time first.
    dt : pint.Quantity
        Sample period, in the file's unit.
    region_names : tuple of str or None
        From ``TVB_labels_dimensions``.
    state_variable : str
    mode : int
    state_variables : tuple of str
        All the state variables the file holds.
    """

    data: np.ndarray
    dt: object
    region_names: tuple | None
    state_variable: str
    mode: int
    state_variables: tuple
    path: Path


def read_time_series(path, state=None, mode=None) -> TVBTimeSeries:
    """Read one state variable (name or index) and mode (index) of a TVB time-series H5 file.

    With one state variable (or one mode) it need not be named; otherwise ``state`` must be.
    """
    if state is None and mode is not None:
        state = 0
    key = None if state is None else (f"{state}" if mode is None else f"{state}:{mode}")
    with open_input(tvb_data_path(path), key=key) as data:
        info = getattr(data, "tvb", None)
        if info is None:
            raise FwdModelsError(f"'{path}' is not a TVB time series (no 4-D 'data' with TVB's "
                                 f"TVB_sample_period / TVB_labels_ordering attributes)")
        if data.dt is None:
            raise FwdModelsError(f"'{path}' holds no TVB_sample_period; it is not a complete "
                                 f"TVB time series")
        return TVBTimeSeries(data.read_all(), data.dt, data.region_names,
                             info["state_variable"], info["mode"], data.tvb_states,
                             Path(data.path))


# --------------------------------------------------------------------------- connectivity
@dataclass
class Connectivity:
    """A TVB connectivity: region labels and centres, weights and tract lengths, and (when the
    zip has them) areas, average orientations, cortical flags and hemispheres."""

    labels: tuple
    centres: object
    weights: np.ndarray
    tract_lengths: object | None
    areas: object | None
    orientations: np.ndarray | None
    cortical: np.ndarray | None
    hemispheres: np.ndarray | None
    path: Path

    @property
    def n_regions(self) -> int:
        return len(self.labels)


def _zip_members(path: Path, what: str):
    try:
        z = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise FwdModelsError(f"{what} '{path}' is not a readable zip ({exc})") from None
    members = {}
    for name in z.namelist():
        base = name.rsplit("/", 1)[-1]
        stem = base[:-4] if base.endswith(".bz2") else base
        if stem:
            members[stem] = name
    return z, members


def read_connectivity(path) -> Connectivity:
    """Read a TVB connectivity zip: a path, ``"tvb:connectivity/connectivity_76.zip"``, or the
    number of regions of one that tvb-data ships (66, 68, 76, 96, 192)."""
    if isinstance(path, (int, np.integer)) and not isinstance(path, bool):
        path = f"tvb:connectivity/connectivity_{int(path)}.zip"
    path = tvb_data_path(path)
    _check_file(path, "connectivity")
    z, members = _zip_members(path, "connectivity")
    where = f"connectivity '{path}'"

    def table(stem, required=True, columns=None):
        name = members.get(stem)
        if name is None:
            if required:
                raise FwdModelsError(f"{where} has no {stem} (it holds "
                                     f"{', '.join(sorted(members))})")
            return None, None
        return _table(_text(z.read(name), name), f"{stem} of {where}", columns)

    with z:
        labels, centres = table("centres.txt", columns=3)
        if labels is None or centres.shape[1] != 3:
            raise FwdModelsError(f"centres.txt of {where} must hold 'label x y z' per region; "
                                 f"got {centres.shape[1]} numbers per row")
        n = len(labels)
        _, weights = table("weights.txt")
        _, lengths = table("tract_lengths.txt", required=False)
        _, areas = table("areas.txt", required=False)
        _, orient = table("average_orientations.txt", required=False)
        _, cortical = table("cortical.txt", required=False)
        _, hemi = table("hemispheres.txt", required=False)
    for stem, value, shape in (("weights.txt", weights, (n, n)),
                               ("tract_lengths.txt", lengths, (n, n)),
                               ("average_orientations.txt", orient, (n, 3))):
        if value is not None and value.shape != shape:
            raise FwdModelsError(f"{stem} of {where} must be {shape} for its {n} regions; got "
                                 f"{value.shape}")
    flat = {}
    for stem, value in (("areas.txt", areas), ("cortical.txt", cortical),
                        ("hemispheres.txt", hemi)):
        if value is not None:
            value = value.reshape(-1)
            if value.shape != (n,):
                raise FwdModelsError(f"{stem} of {where} must hold one value per region ({n}); "
                                     f"got {value.size}")
        flat[stem] = value
    mm = lambda a, unit="mm": None if a is None else ureg.Quantity(a, unit)  # noqa: E731
    return Connectivity(tuple(labels), mm(centres), weights, mm(lengths),
                        mm(flat["areas.txt"], "mm**2"), orient,
                        None if cortical is None else flat["cortical.txt"].astype(bool),
                        None if hemi is None else flat["hemispheres.txt"].astype(bool), path)


# --------------------------------------------------------------------------- surfaces
def read_region_mapping(path, n_regions: int | None = None) -> np.ndarray:
    """A TVB region mapping (text, one integer region index per vertex) as an int array (V,).

    With ``n_regions`` every index must lie in ``[0, n_regions)``.
    """
    path = tvb_data_path(path)
    _check_file(path, "region mapping")
    raw = path.read_bytes()
    try:
        values = np.array(_text(raw, path.name).split(), dtype=float)
    except ValueError as exc:
        raise FwdModelsError(f"region mapping '{path}' holds a value that is not a number "
                             f"({exc})") from None
    if values.size == 0 or not np.all(values == np.round(values)):
        raise FwdModelsError(f"region mapping '{path}' must hold whole numbers (one region "
                             f"index per vertex); got {values.size} values")
    mapping = values.astype(np.int64)
    high = n_regions if n_regions is not None else int(mapping.max()) + 1
    if mapping.min() < 0 or mapping.max() >= high:
        raise FwdModelsError(f"region mapping '{path}' indices must lie in [0, {high}); got "
                             f"[{mapping.min()}, {mapping.max()}]")
    return mapping


@dataclass
class Surface:
    """A TVB surface: vertices (Quantity, mm), triangles (int) and unit vertex normals."""

    vertices: object
    triangles: np.ndarray
    normals: np.ndarray | None
    path: Path


def read_surface(path) -> Surface:
    """Read a TVB surface zip (``vertices.txt``, ``triangles.txt``, ``vertex_normals.txt``);
    e.g. ``"tvb:surfaceData/cortex_16384.zip"``. Missing normals are None."""
    path = tvb_data_path(path)
    _check_file(path, "surface")
    z, members = _zip_members(path, "surface")
    where = f"surface '{path}'"
    with z:
        out = {}
        for stem in ("vertices.txt", "triangles.txt", "vertex_normals.txt", "normals.txt"):
            name = members.get(stem)
            text = _text(z.read(name), name) if name else ""
            out[stem] = _table(text, f"{stem} of {where}")[1] if text.strip() else None
    vertices, triangles = out["vertices.txt"], out["triangles.txt"]
    if vertices is None or triangles is None or vertices.shape[1] != 3 or \
            triangles.shape[1] != 3:
        raise FwdModelsError(f"{where} must hold vertices.txt and triangles.txt with three "
                             f"columns each")
    tri = triangles.astype(np.int64)
    if tri.min() < 0 or tri.max() >= len(vertices):
        raise FwdModelsError(f"triangles.txt of {where} refers to vertex {tri.max()}, but there "
                             f"are {len(vertices)}")
    normals = out["vertex_normals.txt"] if out["vertex_normals.txt"] is not None else \
        out["normals.txt"]
    if normals is not None:
        if normals.shape != vertices.shape:
            normals = None
        else:
            length = np.linalg.norm(normals, axis=1)
            normals = np.where(length[:, None] > 0, normals / np.where(length > 0, length,
                                                                       1)[:, None], 0.0)
    return Surface(ureg.Quantity(vertices, "mm"), tri, normals, path)


# --------------------------------------------------------------------------- sensors
@dataclass
class Sensors:
    """TVB sensors: names, positions (Quantity, mm) and, for MEG, orientations."""

    names: tuple
    positions: object
    orientations: np.ndarray | None
    kind: str
    path: Path


def read_sensors(path, kind: str | None = None) -> Sensors:
    """Read a TVB sensor file (``name x y z`` per line; MEG adds ``ox oy oz``), text or
    ``.bz2``. ``kind`` ("eeg", "meg", "seeg") defaults to the file name's prefix."""
    path = tvb_data_path(path)
    _check_file(path, "sensor file")
    kind = kind or next((k for k in ("eeg", "meg", "seeg") if path.name.lower().startswith(k)),
                        None)
    if kind not in ("eeg", "meg", "seeg"):
        raise FwdModelsError(f"`kind` must be 'eeg', 'meg' or 'seeg' (the file name "
                             f"'{path.name}' does not say); got {kind!r}")
    names, values = _table(_text(path.read_bytes(), path.name), f"sensor file '{path}'")
    if names is None or values.shape[1] not in (3, 6):
        raise FwdModelsError(f"sensor file '{path}' must hold 'name x y z' (or, for MEG, "
                             f"'name x y z ox oy oz') per line; got {values.shape[1]} numbers")
    orientations = values[:, 3:] if values.shape[1] == 6 else None
    if kind == "meg" and orientations is None:
        raise FwdModelsError(f"MEG sensor file '{path}' must give orientations (ox oy oz)")
    return Sensors(tuple(names), ureg.Quantity(values[:, :3], "mm"), orientations, kind, path)


def read_projection(path) -> np.ndarray:
    """A TVB projection matrix (sensors, vertices) from ``.npy`` or ``.mat`` (its only
    variable, TVB's ``ProjectionMatrix``); NaN rows (sensors without values) are kept."""
    path = tvb_data_path(path)
    _check_file(path, "projection matrix")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        values = np.load(path, allow_pickle=False)
    elif suffix == ".mat":
        from scipy.io import loadmat

        found = {k: v for k, v in loadmat(path).items() if not k.startswith("__")}
        if len(found) != 1:
            raise FwdModelsError(f"projection matrix '{path}' must hold one variable; got "
                                 f"{sorted(found)}")
        values = next(iter(found.values()))
    else:
        raise FwdModelsError(f"projection matrix '{path}' must be .npy or .mat; got "
                             f"{suffix or 'no extension'}")
    values = np.asarray(values)
    if values.ndim != 2 or values.dtype.kind not in "fiu":
        raise FwdModelsError(f"projection matrix '{path}' must be a real (sensors, vertices) "
                             f"matrix; got shape {values.shape}, dtype {values.dtype}")
    return values.astype(np.float64)
