"""What an EEG or MEG run takes from its lead field and carries into its output.

Used by :mod:`fwdmodels.pipeline` (``fwdmodels eeg|meg``):

* :func:`read_region_file`: a fwdmodels lead-field file (:mod:`fwdmodels.io.leadfield_file`)
  as the lead field of a run, its unit, channel type and regions checked against the run's
  options and input;
* :func:`carried`: the names and positions written next to the data (``extra`` arrays of an
  ``.npz``/``.h5``/``.mat``/``.zarr`` output) and into its metadata.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import FwdModelsError
from .units import parse_unit

__all__ = ["read_region_file", "carried", "same_unit"]


def same_unit(a, b) -> bool:
    """Whether two pint units are the same (dimension and factor)."""
    qa, qb = 1.0 * a, 1.0 * b
    return qa.dimensionality == qb.dimensionality and bool(np.isclose(
        qa.to_base_units().magnitude, qb.to_base_units().magnitude, rtol=1e-12))


def read_region_file(path, modality: str, *, key=None, unit=None, n_regions=None,
                     parcellation=None, meg_channels=None):
    """``(L, RegionLeadField)`` from a fwdmodels lead-field file, checked against the run.

    The file's unit, names and positions come with it: ``unit`` (``--leadfield-unit``) may be
    given only if it agrees; ``meg_channels`` only if it is the file's channel type.
    """
    from .io.leadfield_file import read_leadfield_file

    for option, value in (("--leadfield-key", key), ("--parcellation", parcellation)):
        if value is not None and not (option == "--leadfield-key" and value == "L"):
            raise FwdModelsError(f"{option} does not apply to the fwdmodels lead-field file "
                                 f"'{path}' (it holds one region lead field); drop {option}")
    lf = read_leadfield_file(path)
    if lf.modality != modality:
        raise FwdModelsError(f"lead field '{path}' holds {lf.ch_type} channels, which are "
                             f"{lf.modality.upper()}; use fwdmodels {lf.modality} (or the "
                             f"{modality.upper()} lead field)")
    if meg_channels is not None and meg_channels != lf.ch_type:
        raise FwdModelsError(f"--meg-channels {meg_channels} conflicts with lead field "
                             f"'{path}', which holds {lf.ch_type} channels; drop "
                             f"--meg-channels")
    if unit is not None:
        chosen = parse_unit(unit, "--leadfield-unit")
        if not same_unit(chosen, lf.L.units):
            raise FwdModelsError(f"--leadfield-unit {chosen:~} conflicts with the unit "
                                 f"{lf.L.units:~} stored in '{path}'; drop --leadfield-unit")
    if n_regions is not None and lf.shape[0] != n_regions:
        raise FwdModelsError(f"lead field '{path}' has {lf.shape[0]} regions (shape "
                             f"{lf.shape}) but the input has {n_regions}; use the lead field "
                             f"of the same regions")
    return lf.L, lf


def _input_region_names(data, n: int):
    """Region names an input made by fwdmodels records (the demo's recording), or that it
    stores itself (a TVB time series' labels), if any."""
    stored = getattr(data, "region_names", None)
    if stored is not None and len(stored) == n:
        return tuple(stored)
    params = (data.metadata or {}).get("parameters") or {}
    names = params.get("region_names") if isinstance(params, dict) else None
    if isinstance(names, list) and len(names) == n and all(isinstance(v, str) for v in names):
        return tuple(names)
    return None


def carried(sensors, data, n_regions: int) -> tuple[dict, dict]:
    """``(extra, info)``: the arrays written next to an output and their metadata entry.

    ``sensors`` is the run's :class:`~fwdmodels.io.leadfield_file.RegionLeadField` (or None
    for a bare matrix); ``data`` the input (:class:`fwdmodels.io.InputArray`), whose recorded
    region names are used when the lead field names none. ``extra`` holds ``sensor_names``,
    ``channel_type``, ``sensor_positions`` (m, with ``sensor_positions_unit``), for MEG
    ``sensor_orientations``, ``coil_ex``, ``coil_ey``, ``coil_types`` and ``dev_head_t`` (as
    in a lead-field file), ``coord_frame`` and ``region_names``, each when known.
    """
    extra, info = {}, {}
    regions = None if sensors is None else sensors.region_names
    if regions is None:
        regions = _input_region_names(data, n_regions)
    if sensors is not None:
        extra["sensor_names"] = np.asarray(sensors.sensor_names, dtype=str)
        extra["channel_type"] = sensors.ch_type
        info.update(names=list(sensors.sensor_names), channel_type=sensors.ch_type)
        if sensors.sensor_positions is not None:
            extra["sensor_positions"] = np.asarray(sensors.sensor_positions, dtype=float)
            extra["sensor_positions_unit"] = "m"
            extra["coord_frame"] = sensors.coord_frame
            info["positions"] = (f"sensor_positions, in m, {sensors.coord_frame} frame"
                                 + (" (MNE-Python's head frame)" if sensors.coord_frame ==
                                    "head" else " (the MEG device; see dev_head_t)"))
            if sensors.sensor_orientations is not None:      # MEG: the coil frames and types
                for name in ("sensor_orientations", "coil_ex", "coil_ey", "coil_types"):
                    extra[name] = np.asarray(getattr(sensors, name))
                    extra[f"{name}_unit"] = "dimensionless"   # not the data's unit
            if sensors.dev_head_t is not None:
                extra["dev_head_t"] = np.asarray(sensors.dev_head_t)
                extra["dev_head_t_unit"] = "m"         # its translation; the rotation has none
    if regions is not None:
        extra["region_names"] = np.asarray(regions, dtype=str)
        info["regions"] = list(regions)
    return extra, info


def leadfield_record(path, sensors, L, key, unit_text) -> dict:
    """The ``parameters["leadfield"]`` entry of an output's metadata."""
    from .io import file_sha256

    is_file = Path(path).is_file()            # not a file: a name such as tvb:eeg:76
    record = {"path": str(Path(path).resolve()) if is_file else str(path),
              "sha256": file_sha256(path) if is_file else None,
              "shape": list(L.shape), "unit": unit_text, "key": key}
    if sensors is not None:
        record.update(channel_type=sensors.ch_type, source=sensors.source,
                      head_model=sensors.head_model, aggregation=sensors.aggregation,
                      inputs=sensors.inputs)
        if "forward" in sensors.details:
            record["forward"] = sensors.details["forward"]
        elif sensors.details:                 # vertex reductions, TVB's subject: what was done
            record["details"] = sensors.details
    return record
