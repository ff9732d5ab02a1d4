"""Vertex-level lead fields from any file, reduced to regions with a parcellation.

``fwdmodels eeg|meg --leadfield FILE --parcellation P`` (or ``--region-mapping P``) and
:func:`read_vertex_leadfield`: ``FILE`` is a (vertices, sensors) or (sensors, vertices) matrix
in ``.npy``, ``.npz``, ``.mat``, ``.h5`` (TVB's projection matrices are (sensors, vertices)),
``P`` a region index per vertex (``.npy`` or a TVB region-mapping ``.txt``) or an (R, V)
weight matrix (``.npy``). The orientation of the matrix is told by the number of vertices
of ``P``; a square matrix is read as (vertices, sensors), fwdmodels' order.

Sensors with non-finite values are handled by a stated policy (``nan_sensors``): dropped by
default, zeroed as TVB does, or refused; what was done is a warning and goes into the
output's metadata. Vertices combine by the mean by default, or the sum (TVB's monitors).
``tvb:eeg:76``, ``tvb:eeg:192``, ``tvb:meg:76`` and ``tvb:meg:192`` name TVB's default
subject (:mod:`fwdmodels.leadfield.tvb`).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ..errors import FwdModelsError
from ..io.leadfield_file import RegionLeadField
from ..io.metadata import file_sha256
from ..io.readers import open_input
from ..io.tvb import is_tvb_leadfield_spec, read_region_mapping, tvb_data_path
from ..units import parse_unit, same_unit, ureg
from .aggregation import reduce_vertex_leadfield
from .tvb import known_tvb_unit, tvb_default_leadfield

__all__ = ["read_parcellation", "read_vertex_leadfield", "is_tvb_leadfield_spec"]


def read_parcellation(parcellation, n_vertices: int | None = None):
    """A region index per vertex (int array) or an (R, V) weight matrix from an array, an
    ``.npy`` file, or a TVB region mapping (``.txt``, or ``tvb:regionMapping/...``)."""
    if not isinstance(parcellation, (str, Path)):
        return np.asarray(parcellation)
    path = tvb_data_path(parcellation)
    if not path.is_file():
        raise FwdModelsError(f"parcellation '{parcellation}' does not exist; give an .npy of "
                             f"region indices or a TVB region mapping .txt")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:
            values = np.load(path, allow_pickle=False)
        except ValueError as exc:
            raise FwdModelsError(f"parcellation '{path}' cannot be read ({exc})") from None
    elif suffix in (".txt", ".bz2"):
        values = read_region_mapping(path)
    else:
        raise FwdModelsError(f"parcellation '{path}' must be an .npy of region indices (or an "
                             f"(R, V) weight matrix) or a TVB region mapping .txt; got "
                             f"{suffix or 'no extension'}")
    if values.ndim == 1 and values.dtype.kind == "f" and np.all(values == np.round(values)):
        values = values.astype(np.int64)
    return values


def _read_matrix(path, key):
    resolved = tvb_data_path(path)
    if resolved.suffix.lower() == ".npy":
        values = np.load(resolved, allow_pickle=False)
        if values.ndim != 2 or values.dtype.kind not in "fiu":
            raise FwdModelsError(f"lead field '{path}' must be a real 2-D matrix; got shape "
                                 f"{values.shape}, dtype {values.dtype}")
        return np.asarray(values, dtype=float), None, resolved
    with open_input(resolved, key, 0) as lf:
        if lf.n_batch is not None:
            raise FwdModelsError(f"lead field '{path}' is 3-D (shape {lf.stored_shape}); give "
                                 f"a fixed-orientation (vertices, sensors) matrix")
        return lf.read_all(), lf.unit, resolved


def read_vertex_leadfield(path, modality: str, *, parcellation, key=None, unit=None,
                          n_regions=None, reduce: str = "mean", nan_sensors: str = "drop"):
    """``(L, RegionLeadField)``: a region lead field from a vertex-level lead-field file.

    Parameters
    ----------
    path : path or str
        The vertex lead field (see the module documentation), or ``tvb:<modality>:<regions>``.
    modality : {"eeg", "meg"}
    parcellation : path or array_like
        Region of each vertex (see :func:`read_parcellation`).
    key, unit
        Array name in the file; the unit when the file stores none (TVB's own projection
        files get the unit established in :mod:`fwdmodels.leadfield.tvb`).
    n_regions : int, optional
        Regions the input has (checked).
    reduce : {"mean", "sum"}
        ``"sum"`` is TVB's convention (its monitors sum the vertex columns of a region).
    nan_sensors : {"drop", "zero", "refuse"}
        Sensors with non-finite values: dropped (default), zeroed (TVB) or refused.
    """
    if is_tvb_leadfield_spec(path):
        lf = _tvb_subject(path, modality, parcellation, reduce, nan_sensors)
        return _checked(lf, path, n_regions)
    values, file_unit, resolved = _read_matrix(path, key)
    chosen = _unit(path, modality, unit, known_tvb_unit(resolved) if file_unit in (None, "")
                   else file_unit)
    parc = read_parcellation(parcellation)
    n_vertices = parc.shape[-1]
    notes = []
    if values.shape[0] != n_vertices:
        if values.shape[1] != n_vertices:
            hint = ""
            if parc.ndim == 1 and parc.shape[0] > max(values.shape) and \
                    "regionmapping" in str(parcellation).lower():
                hint = ("; TVB's 192-region mapping adds one entry per subcortical region "
                        "after the cortex: use tvb:eeg:192 or tvb:meg:192")
            raise FwdModelsError(f"`parcellation` has {n_vertices} vertices but lead field "
                                 f"'{path}' is {values.shape}: neither axis has "
                                 f"{n_vertices}{hint}")
        values = values.T
        notes.append(f"'{Path(str(path)).name}' is stored (sensors, vertices) as TVB and "
                     f"MNE-Python store lead fields: transposed")
    L, kept, made = reduce_vertex_leadfield(ureg.Quantity(values, chosen), parc, reduce=reduce,
                                            nan_sensors_policy=nan_sensors)
    notes = made + notes
    for note in made[1:]:
        warnings.warn(f"lead field '{path}': {note}", stacklevel=2)
    ch_type = "eeg" if modality == "eeg" else (
        "grad" if (1 * chosen).dimensionality == ureg.Quantity(1, "T/(m*A*m)").dimensionality
        else "mag")
    inputs = [{"role": "vertex_leadfield", "path": str(resolved.resolve()),
               "sha256": file_sha256(resolved)}]
    if isinstance(parcellation, (str, Path)):
        ppath = tvb_data_path(parcellation)
        inputs.append({"role": "parcellation", "path": str(ppath.resolve()),
                       "sha256": file_sha256(ppath)})
    lf = RegionLeadField(L, ch_type, tuple(str(i) for i in kept), aggregation=notes[0],
                         source="vertex", inputs=inputs,
                         details={"sensor_columns_kept": kept.tolist(), "notes": notes,
                                  "sensor_names": "the sensors' column numbers in the file",
                                  "nan_sensors": nan_sensors, "reduce": reduce})
    return _checked(lf, path, n_regions)


def _tvb_subject(path, modality, parcellation, reduce, nan_sensors):
    """TVB's default subject named ``tvb:<modality>:<regions>``, checked against the call."""
    if parcellation is not None:
        raise FwdModelsError(f"`parcellation` does not apply to {path!r}, which is already "
                             f"TVB's region lead field; drop it")
    _, kind, regions = str(path).split(":")
    if kind != modality:
        raise FwdModelsError(f"lead field {path!r} is {kind.upper()}; `fwdmodels "
                             f"{modality}` needs tvb:{modality}:{regions}")
    try:
        count = int(regions)
    except ValueError:
        raise FwdModelsError(f"lead field {path!r} must end with a number of regions (76 "
                             f"or 192); got {regions!r}") from None
    return tvb_default_leadfield(kind, count, reduce=reduce, nan_sensors=nan_sensors)


def _unit(path, modality, unit, stored):
    """The lead field's unit: the one the file stores (``stored``), or the ``unit`` given;
    both must agree when there are both."""
    chosen = None if unit is None else parse_unit(unit, "unit")
    if stored is not None:
        stored = parse_unit(stored, f"the unit of '{path}'")
        if chosen is not None and not same_unit(chosen, stored):
            raise FwdModelsError(f"`unit` {chosen:~} conflicts with the unit {stored:~} of "
                                 f"'{path}'; drop it")
        chosen = stored
    if chosen is None:
        example = "V/(A*m)" if modality == "eeg" else "T/(A*m)"
        raise FwdModelsError(f"lead field '{path}' has no unit; give `unit`, e.g. "
                             f"unit='{example}'")
    return chosen


def _checked(lf, path, n_regions):
    if n_regions is not None and lf.L.shape[0] != n_regions:
        raise FwdModelsError(f"lead field '{path}' has {lf.L.shape[0]} regions but the input "
                             f"has {n_regions}; use a parcellation with {n_regions} regions")
    return lf.L, lf
