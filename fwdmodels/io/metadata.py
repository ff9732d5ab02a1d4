"""The metadata written with every output, and the reading of dt and units from files.

Every output carries (as JSON text, plus a few flat entries that MATLAB and h5 tools show
directly):

``fwdmodels_version``, ``created`` (UTC, ISO 8601), ``modality`` ("bold", "eeg", "meg"),
``array`` (the name of the data array), ``unit`` (of the data), ``dims`` (axis names, time
first), ``dt`` (time between output rows, in seconds, with ``dt_unit`` "s"), ``t0`` (time of the
first row: rows are at ``t0 + n dt``), ``parameters`` (everything that produced the output) and
``input`` (``path``, ``sha256``, ``key``, ``shape``, ``time_axis``).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import numbers
import re
from pathlib import Path

import numpy as np

from ..errors import FwdModelsError
from ..units import MAX_TEXT, MIN_TIME, ureg

__all__ = ["file_sha256", "build_metadata", "dumps", "parse_time", "quantity_text",
           "DT_KEYS", "UNIT_SUFFIXES"]

#: Names under which a time step is looked for in a file (TVB's H5 files write
#: ``TVB_sample_period``, with ``TVB_sample_period_unit``).
DT_KEYS = ("dt", "sample_period", "TVB_sample_period")
#: Names of the entry holding the unit of a bare number ``<name>``: ``<name>_unit`` etc.
UNIT_SUFFIXES = ("_unit", "_units")

_NUMBER = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")


def file_sha256(path, block: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in blocks of ``block`` bytes (bounded memory).

    A directory (a Zarr store) is hashed as the sorted relative names and contents of its files.
    """
    digest = hashlib.sha256()
    root = Path(path)
    files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
    for file in files:
        if root.is_dir():
            digest.update(file.relative_to(root).as_posix().encode() + b"\0")
        with open(file, "rb") as fh:
            while chunk := fh.read(block):
                digest.update(chunk)
    return digest.hexdigest()


def _version() -> str:
    from .. import __version__

    return __version__


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if hasattr(value, "units") and hasattr(value, "magnitude"):
        return quantity_text(value)
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, (str, bool, numbers.Number)):
        return value
    return str(value)


def build_metadata(modality: str, array: str, unit: str, dims, dt_seconds: float | None, *,
                   t0_seconds: float | None = None, parameters: dict | None = None,
                   input_info: dict | None = None) -> dict:
    """Assemble the metadata of an output (see the module documentation)."""
    meta = {
        "fwdmodels_version": _version(),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "modality": modality,
        "array": array,
        "unit": unit,
        "dims": list(dims),
        "parameters": _jsonable(parameters or {}),
        "input": _jsonable(input_info or {}),
    }
    if dt_seconds is not None:      # a time series; a lead field has no dt
        meta["dt"] = float(dt_seconds)
        meta["dt_unit"] = "s"
        meta["t0"] = float(dt_seconds if t0_seconds is None else t0_seconds)
        meta["t0_unit"] = "s"
    return meta


def dumps(metadata: dict) -> str:
    """JSON text of a metadata dict (values made JSON-safe)."""
    return json.dumps(_jsonable(metadata), indent=1, sort_keys=False)


def quantity_text(q) -> str:
    """``"0.001 s"``-style text of a pint Quantity (repr precision)."""
    return f"{q.magnitude!r} {q.units:~}".replace(" dimensionless", "").strip()


def parse_time(value, unit, where: str):
    """A time Quantity from a file entry: text with a unit, or a number with a unit entry.

    ``value`` is a string ("0.1 ms"), or a number; ``unit`` (a string or None) is the unit
    stored next to a number. A number without a unit is refused.
    """
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, np.ndarray):
        value = value.item() if value.size == 1 else value
    for text in (value, unit):
        if isinstance(text, str) and len(text) > MAX_TEXT:
            raise FwdModelsError(f"{where} must be a text of at most {MAX_TEXT} characters "
                                 f"such as '0.1 ms'; got {len(text)} characters "
                                 f"({text[:20]!r}...)")
    if isinstance(value, str) and unit is None:
        if _NUMBER.match(value):
            value = float(value)
        else:
            try:
                q = ureg.Quantity(value.strip())
            except Exception as exc:
                raise FwdModelsError(f"{where} is {value!r}, which is not a time ({exc}); "
                                     f"store it as text such as '0.1 ms'") from None
            return _check_time(q, where)
    if isinstance(value, (numbers.Real, np.floating, np.integer)) and not isinstance(value, bool):
        if unit is None:
            raise FwdModelsError(
                f"{where} is {float(value)!r} with no unit; pass `dt_unit` with its unit "
                f"(e.g. `dt_unit='ms'`), or store the unit next to it (a 'dt_unit' entry)")
        try:
            q = ureg.Quantity(float(value), ureg.Unit(str(unit).strip()))
        except Exception as exc:
            raise FwdModelsError(f"{where} has the unit {unit!r}, which is not a unit ({exc}); "
                                 f"use e.g. 'ms' or 's'") from None
        return _check_time(q, where)
    raise FwdModelsError(f"{where} must be a number or a text such as '0.1 ms'; got "
                         f"{value!r}")


def _check_time(q, where: str):
    if not q.check("[time]"):
        raise FwdModelsError(f"{where} must be a time; got {q:~} (dimension {q.dimensionality})")
    if not (np.isfinite(q.magnitude) and q.magnitude > 0):
        raise FwdModelsError(f"{where} must be positive and finite; got {q:~}")
    if q.to("s").magnitude < MIN_TIME:
        raise FwdModelsError(f"{where} must be at least {MIN_TIME:g} s (1 ns); got {q:~}: "
                             f"check its unit")
    return q
