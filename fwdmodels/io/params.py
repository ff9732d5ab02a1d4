"""Hemodynamic parameters from a file: one value, or one per region, for each parameter.

Three formats, each naming its parameters as :class:`~fwdmodels.BalloonParams` does (``kappa``,
``gamma``, ``tau``, ``alpha``, ``rho``, ``V0``, ``nu0``, ``r0``, ``epsilon``, ``TE`` and the
seed documentation's aliases), with bare numbers in those fields' documented units (kappa in
s^-1, gamma in s^-2, tau and TE in s, nu0 in Hz, r0 in s^-1, the rest dimensionless):

* ``.npz``: one array per parameter, a scalar, ``(N,)`` or ``(B, N)``; an optional string
  entry ``preset`` names the preset the others change (default ``friston2003``);
* ``.json``: an object of numbers or lists (``{"preset": "spm12", "kappa": [0.6, 0.7]}``);
* ``.csv``: a header row of parameter names, then one row per region.

The reader returns plain arrays; it does not check the values (``BalloonParams`` does, and
names the parameter and the region of a bad one).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from ..errors import FwdModelsError

__all__ = ["PARAMS_SUFFIXES", "read_params_file", "is_params_file"]

PARAMS_SUFFIXES = (".npz", ".json", ".csv")
#: Largest parameter file read, in bytes (a whole-brain table is a few kB).
MAX_BYTES = 64 << 20


def is_params_file(value) -> bool:
    """True when ``value`` is a path (or text) naming an existing parameter file."""
    if not isinstance(value, (str, Path)):
        return False
    path = Path(value)
    return path.suffix.lower() in PARAMS_SUFFIXES and path.is_file()


def read_params_file(path) -> tuple[str, dict]:
    """``(preset, values)`` from a parameter file: the preset name and a dict of arrays."""
    path = Path(path)
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise FwdModelsError(f"`params` file '{path}' must be at most {MAX_BYTES >> 20} MB; got "
                             f"{size} bytes")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as data:
                values = {k: np.asarray(data[k]) for k in data.files}
        elif suffix == ".json":
            loaded = json.loads(path.read_text())
            if not isinstance(loaded, dict):
                raise FwdModelsError(f"`params` file '{path}' must hold a JSON object of "
                                     f"parameter names; got {type(loaded).__name__}")
            values = {k: np.asarray(v) if not isinstance(v, str) else np.asarray(v)
                      for k, v in loaded.items()}
        elif suffix == ".csv":
            values = _read_csv(path)
        else:
            raise FwdModelsError(f"`params` file '{path}' must end in one of "
                                 f"{', '.join(PARAMS_SUFFIXES)}")
    except (OSError, ValueError, json.JSONDecodeError) as exc:
        if isinstance(exc, FwdModelsError):
            raise
        raise FwdModelsError(f"`params` file '{path}' could not be read: {exc}") from None
    preset = values.pop("preset", np.asarray("friston2003"))
    if preset.dtype.kind not in "US" or preset.ndim != 0:
        raise FwdModelsError(f"`params` file '{path}': `preset` must be one preset name; got "
                             f"{preset!r}")
    for name, array in values.items():
        if array.dtype.kind not in "biuf":
            raise FwdModelsError(f"`params` file '{path}': `{name}` must hold real numbers; got "
                                 f"dtype {array.dtype}")
    return str(preset), values


def _read_csv(path: Path) -> dict:
    with open(path, newline="") as handle:
        rows = [row for row in csv.reader(handle) if row and any(c.strip() for c in row)]
    if len(rows) < 2:
        raise FwdModelsError(f"`params` file '{path}' must have a header of parameter names and "
                             f"at least one row (one per region); got {len(rows)} rows")
    header = [h.strip() for h in rows[0]]
    columns = {}
    for j, name in enumerate(header):
        try:
            columns[name] = np.array([float(row[j]) for row in rows[1:]])
        except (ValueError, IndexError):
            raise FwdModelsError(f"`params` file '{path}': column `{name}` must hold one number "
                                 f"per row") from None
    return columns
