"""The input formats fwdmodels reads: which one a file is, and the opener of each.

Every format has one opener, ``opener(path, allow_external) -> Container`` (see
:mod:`fwdmodels.io._containers`), in the table :data:`OPENERS`; a new format is one entry
there (and its ending in :data:`INPUT_FORMATS`). :func:`open_container` checks the file,
detects its format and calls its opener; :mod:`fwdmodels.io.readers` builds on it.

==========  ===================  ==========================================================
format      endings              opener
==========  ===================  ==========================================================
``npy``     ``.npy``             memory-mapped (:func:`~fwdmodels.io._containers.open_npy`)
``npz``     ``.npz``             members memory-mapped or unpacked (``open_npz``)
``mat5``    ``.mat`` (v5)        read whole by SciPy (``open_mat5``)
``mat73``   ``.mat`` (v7.3)      HDF5 inside, MATLAB's axis order (:mod:`fwdmodels.io._hdf5`)
``h5``      ``.h5``, ``.hdf5``   h5py; a TVB time series as one entry per state and mode
                                 (:mod:`fwdmodels.io._tvb_series`)
``zarr``    ``.zarr``            a directory store (:mod:`fwdmodels.io._zarr_store`)
==========  ===================  ==========================================================

MNE-Python's ``.fif`` files are described (``fwdmodels info``) but not read as inputs:
:data:`DESCRIBERS` maps the ending to the function that describes them.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import FwdModelsError
from ._containers import Container, open_mat5, open_npy, open_npz
from ._hdf5 import open_hdf5
from ._tvb_series import is_tvb_time_series, tvb_entries
from ._zarr_store import open_store
from .mne import describe_fif

__all__ = ["INPUT_FORMATS", "OPENERS", "DESCRIBERS", "detect_format", "check_readable",
           "open_container"]

INPUT_FORMATS = (".npy", ".npz", ".mat", ".h5", ".hdf5", ".zarr")
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _open_h5(path: Path, allow_external: bool) -> Container:
    c = open_hdf5(path, matlab=False, allow_external=allow_external)
    if is_tvb_time_series(c.attrs, c.entries):       # TVB: one entry per state and mode
        tvb_entries(c)
    return c


#: Format name -> opener ``(path, allow_external) -> Container``.
OPENERS = {
    "npy": lambda path, allow_external: open_npy(path),
    "npz": lambda path, allow_external: open_npz(path),
    "mat5": lambda path, allow_external: open_mat5(path),
    "mat73": lambda path, allow_external: open_hdf5(path, True, allow_external),
    "h5": _open_h5,
    "zarr": lambda path, allow_external: open_store(path),
}
#: Endings of files that are described but not read as inputs -> ``describe(path) -> dict``.
DESCRIBERS = {(".fif", ".fif.gz"): describe_fif}


def detect_format(path) -> str:
    """``"npy"``, ``"npz"``, ``"mat5"``, ``"mat73"``, ``"h5"`` or ``"zarr"`` from the name and
    first bytes."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in INPUT_FORMATS:
        raise FwdModelsError(f"input '{path}' has the extension {suffix or '(none)'!r}, which "
                             f"fwdmodels does not read; use one of "
                             f"{', '.join(INPUT_FORMATS)}")
    if suffix == ".mat":
        with open(path, "rb") as fh:
            head = fh.read(520)
        if len(head) >= 520 and head[512:520] == _HDF5_SIGNATURE:
            return "mat73"
        return "mat5"
    return {".npy": "npy", ".npz": "npz", ".h5": "h5", ".hdf5": "h5", ".zarr": "zarr"}[suffix]


def check_readable(path: Path) -> None:
    """Refuse an input that does not exist, is a directory (but a Zarr store), cannot be read
    or is empty."""
    if not path.exists():
        raise FwdModelsError(f"input file '{path}' does not exist; check the path")
    if path.is_dir() and path.suffix.lower() != ".zarr":      # a Zarr store is a directory
        raise FwdModelsError(f"input '{path}' is a directory; give a file")
    if not os.access(path, os.R_OK):
        raise FwdModelsError(f"input file '{path}' cannot be read (permission denied); fix its "
                             f"permissions (chmod u+r) or copy it")
    if path.is_file() and path.stat().st_size == 0:
        raise FwdModelsError(f"input file '{path}' is empty (0 bytes); it holds nothing to "
                             f"read: write it again or check the copy")


def open_container(path, allow_external: bool = False) -> Container:
    """The container of a readable input, opened by its format's opener."""
    path = Path(path)
    check_readable(path)
    opener = OPENERS[detect_format(path)]
    try:
        return opener(path, allow_external)
    except PermissionError:
        raise FwdModelsError(f"input file '{path}' cannot be read (permission denied); fix "
                             f"its permissions (chmod u+r) or copy it") from None


def describer(path):
    """The function that describes ``path`` when it is a described-only file, else None."""
    name = str(path).lower()
    return next((f for endings, f in DESCRIBERS.items() if name.endswith(endings)), None)
