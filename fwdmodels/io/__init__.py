"""Saved simulations in and results out: npy, npz, MATLAB (v5, v7.3) and HDF5 files.

* :func:`open_input` / :class:`InputArray`: one array of a file, read in blocks of time steps
  (memory-mapped where the format allows), with the dt and unit stored in the file.
* :class:`OutputFile` / :func:`save`: results written atomically with their metadata.
* :func:`describe`: what a file holds (``fwdmodels info``); :func:`load`: read one array whole.
* :func:`to_raw` / :func:`to_xarray`: a result or an output file as an MNE-Python ``RawArray``
  or an ``xarray.DataArray`` with its names, times, positions and units
  (:mod:`fwdmodels.io.export`; the ``mne`` and ``xarray`` extras).
"""

from ._atomic import atomic_path, check_output_path
from .export import to_raw, to_xarray
from .metadata import build_metadata, file_sha256, parse_time
from .readers import INPUT_FORMATS, InputArray, describe, detect_format, load, open_input
from .writers import OUTPUT_FORMATS, OutputFile, output_format, save

__all__ = ["open_input", "InputArray", "describe", "load", "detect_format", "INPUT_FORMATS",
           "OutputFile", "save", "output_format", "OUTPUT_FORMATS", "build_metadata",
           "file_sha256", "parse_time", "atomic_path", "check_output_path", "to_raw",
           "to_xarray"]
