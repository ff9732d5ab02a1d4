"""What an EEG or MEG run takes from its lead field and carries into its output.

Used by :mod:`fwdmodels.pipeline` (:func:`~fwdmodels.pipeline.run_eeg`,
:func:`~fwdmodels.pipeline.run_meg`):

* :func:`read_leadfield`: the region lead field of a run from any of the files it accepts (a
  fwdmodels lead-field file, an array with its unit, an MNE-Python forward solution, a
  vertex-level lead field with a parcellation), with the names and positions it brings;
* :func:`read_region_file`: a fwdmodels lead-field file (:mod:`fwdmodels.io.leadfield_file`)
  as the lead field of a run, its unit, channel type and regions checked against the run's
  options and input;
* :func:`carried`: the names and positions written next to the data (``extra`` arrays of an
  ``.npz``/``.h5``/``.mat``/``.zarr`` output) and into its metadata.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import io as fio
from .errors import FwdModelsError
from .units import parse_unit, same_unit, unit_text, ureg

__all__ = ["read_leadfield", "read_leadfield_and_sensors", "read_region_file", "carried",
           "leadfield_record", "sensor_parameters"]


def read_region_file(path, modality: str, *, key=None, unit=None, n_regions=None,
                     parcellation=None, meg_channels=None):
    """``(L, RegionLeadField)`` from a fwdmodels lead-field file, checked against the run.

    The file's unit, names and positions come with it: ``unit`` (the run's
    ``leadfield_unit``) may be given only if it agrees; ``meg_channels`` only if it is the
    file's channel type.
    """
    from .io.leadfield_file import read_leadfield_file

    for name, value in (("leadfield_key", key), ("parcellation", parcellation)):
        if value is not None and not (name == "leadfield_key" and value == "L"):
            raise FwdModelsError(f"`{name}` does not apply to the fwdmodels lead-field file "
                                 f"'{path}' (it holds one region lead field); drop `{name}`")
    lf = read_leadfield_file(path)
    if lf.modality != modality:
        raise FwdModelsError(f"lead field '{path}' holds {lf.ch_type} channels, which are "
                             f"{lf.modality.upper()}; use fwdmodels {lf.modality} (or the "
                             f"{modality.upper()} lead field)")
    if meg_channels is not None and meg_channels != lf.ch_type:
        raise FwdModelsError(f"`meg_channels` {meg_channels} conflicts with lead field "
                             f"'{path}', which holds {lf.ch_type} channels; drop "
                             f"`meg_channels`")
    _check_unit(unit, lf.L.units, f"stored in '{path}'")
    if n_regions is not None and lf.shape[0] != n_regions:
        raise FwdModelsError(f"lead field '{path}' has {lf.shape[0]} regions (shape "
                             f"{lf.shape}) but the input has {n_regions}; use the lead field "
                             f"of the same regions")
    return lf.L, lf


def _check_unit(unit, stored, where: str):
    """``unit`` (``leadfield_unit``) as a pint unit, refused unless it is ``stored``'s (when
    the file stores one); None for None."""
    chosen = None if unit is None else parse_unit(unit, "leadfield_unit")
    if chosen is not None and stored is not None and not same_unit(chosen, stored):
        raise FwdModelsError(f"`leadfield_unit` {chosen:~} conflicts with the unit "
                             f"{stored:~} {where}; drop `leadfield_unit`")
    return chosen


def _check_regions(path, L, n_regions, hint: str) -> None:
    if n_regions is not None and L.shape[0] != n_regions:
        raise FwdModelsError(f"lead field '{path}' has {L.shape[0]} regions ({hint}) but "
                             f"the input has {n_regions}; use the lead field of the same "
                             f"parcellation")


def read_leadfield(path, modality: str, *, key=None, unit=None, n_regions=None,
                   parcellation=None, meg_channels=None):
    """A region lead field ``(R, M)`` Quantity from a file.

    A fwdmodels lead-field file (``fwdmodels leadfield``; see
    :mod:`fwdmodels.io.leadfield_file`) brings its unit, names and positions: nothing else is
    needed. Other ``.npy``/``.npz``/``.mat``/``.h5``: an ``(R, M)`` array; its unit is the
    file's (an entry ``unit`` or ``L_unit``, an attribute ``unit``) or ``unit``; both given
    must agree, and one is needed. An ``(M, R)`` array is refused with a hint to transpose.
    An MNE-Python forward solution (``-fwd.fif``, needs mne) is turned into regions with
    ``parcellation`` and its ``modality`` channels (``meg_channels`` "mag" or "grad" when it
    has both): see :func:`~fwdmodels.leadfield.forward.read_forward_leadfield`. ``key`` names
    the array in a file that holds several; ``n_regions``, when given, is the number of rows
    required.
    """
    return read_leadfield_and_sensors(path, modality, key=key, unit=unit, n_regions=n_regions,
                                      parcellation=parcellation, meg_channels=meg_channels)[0]


def _read_forward(path, modality, *, key, unit, n_regions, parcellation, meg_channels):
    """``(L, RegionLeadField)`` from an MNE-Python forward solution."""
    from .io.leadfield_file import from_forward
    from .leadfield.forward import read_forward_leadfield

    if key is not None:
        raise FwdModelsError(f"`leadfield_key` does not apply to the forward solution "
                             f"'{path}'; drop it")
    lf = read_forward_leadfield(path, parcellation, modality=modality,
                                meg_channels=meg_channels)
    _check_unit(unit, lf.L.units, f"of the forward solution '{path}'")
    if n_regions is not None and lf.L.shape[0] != n_regions:
        what = (f"{lf.details['n_sources']} sources and no parcellation" if parcellation is None
                else f"parcellation {lf.details['parcellation']}")
        raise FwdModelsError(f"lead field '{path}' has {lf.L.shape[0]} regions ({what}) but "
                             f"the input has {n_regions}; pass a `parcellation` with "
                             f"{n_regions} regions")
    inputs = [{"role": "forward", "path": str(Path(path).resolve()),
               "sha256": fio.file_sha256(path)}] if isinstance(path, (str, Path)) else []
    return lf.L, from_forward(lf, inputs=inputs)


def _read_array(path, modality: str, *, key, unit, n_regions):
    """``(L, None)`` from an ``(R, M)`` array in a file, its unit the file's or ``unit``."""
    with fio.open_input(path, key, 0) as lf:
        if lf.n_batch is not None:
            raise FwdModelsError(f"lead field '{path}' is 3-D (shape {lf.stored_shape}); "
                                 f"give a fixed-orientation (regions, sensors) array")
        L = lf.read_all()
        file_unit = lf.unit
    stored = None if file_unit in (None, "") else \
        parse_unit(file_unit, f"the unit stored in '{path}'")
    chosen = _check_unit(unit, stored, f"stored in '{path}'")
    if stored is not None:
        chosen = stored
    if chosen is None:
        example = "V/(nA*m)" if modality == "eeg" else "fT/(nA*m)"
        raise FwdModelsError(f"lead field '{path}' has no unit; pass `leadfield_unit`, e.g. "
                             f"`leadfield_unit='{example}'`")
    if n_regions is not None and L.shape[0] != n_regions and L.shape[1] == n_regions:
        raise FwdModelsError(f"lead field '{path}' has shape {L.shape}, (sensors, regions) "
                             f"as MNE-Python stores it; fwdmodels needs (regions, sensors) "
                             f"= ({n_regions}, {L.shape[0]}): save L.T")
    _check_regions(path, L, n_regions, f"shape {L.shape}")
    return ureg.Quantity(L, chosen), None


def read_leadfield_and_sensors(path, modality: str, *, key=None, unit=None, n_regions=None,
                               parcellation=None, meg_channels=None, vertex_options=None):
    """``(L, RegionLeadField or None)``: see :func:`read_leadfield`; the second item holds
    the names and positions the file brings. ``vertex_options`` (``reduce``,
    ``nan_sensors``) apply to vertex lead fields reduced with ``parcellation`` and to TVB's
    default subject (:mod:`fwdmodels.leadfield.vertex`)."""
    from .io.leadfield_file import is_leadfield_file

    if is_leadfield_file(path):
        return read_region_file(path, modality, key=key, unit=unit, n_regions=n_regions,
                                parcellation=parcellation, meg_channels=meg_channels)
    name = str(path).lower()
    if name.endswith(".fif") or name.endswith(".fif.gz"):
        return _read_forward(path, modality, key=key, unit=unit, n_regions=n_regions,
                             parcellation=parcellation, meg_channels=meg_channels)
    from .io.tvb import is_tvb_leadfield_spec
    from .leadfield.vertex import read_vertex_leadfield

    if meg_channels is not None:
        raise FwdModelsError(f"`meg_channels` applies to an MNE-Python forward solution "
                             f"(-fwd.fif); lead field '{path}' has one kind of channel: drop "
                             f"`meg_channels`")
    if parcellation is not None or is_tvb_leadfield_spec(path):     # vertices -> regions
        return read_vertex_leadfield(path, modality, parcellation=parcellation, key=key,
                                     unit=unit, n_regions=n_regions, **(vertex_options or {}))
    return _read_array(path, modality, key=key, unit=unit, n_regions=n_regions)


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


def sensor_parameters(model, L, sensors, names, run: dict) -> dict:
    """The ``parameters`` of an EEG or MEG output's metadata: the lead field's record, the
    model's units and scale, the reference and noise options of ``run`` (a dict of the run's
    ``leadfield``, ``leadfield_key``, ``reference``, ``snr_db``, ``noise_std``, ``seed`` and
    ``parcellation_file``), and the sensor ``names`` entry of :func:`carried`."""
    parameters = {
        "leadfield": leadfield_record(run["leadfield"], sensors, L, run["leadfield_key"],
                                      unit_text(L.units)),
        "dipole_scale": None if model.dipole_scale is None else
        f"{model.dipole_scale.magnitude!r} {unit_text(model.dipole_scale.units)}",
        "input_unit": unit_text(model.input_unit), "sensor_unit": unit_text(model.sensor_unit),
        "reference": run["reference"] if not isinstance(run["reference"], np.ndarray) else
        "matrix", "snr_db": run["snr_db"], "noise_std": run["noise_std"],
        "noise": "white, per channel" if run["snr_db"] is not None else None,
        "seed": run["seed"]}
    if names:
        parameters["sensors"] = names
    parc = run["parcellation_file"]
    if sensors is not None and "forward" in sensors.details and parc is not None:
        parameters["leadfield"]["parcellation"] = {
            "path": str(Path(parc).resolve()), "sha256": fio.file_sha256(parc)}
    return parameters
