"""Saved simulations in and results out: npy, npz, MATLAB (v5, v7.3), HDF5 and Zarr files.

* :func:`open_input` / :class:`InputArray`: one array of a file, read in blocks of time steps
  (memory-mapped where the format allows), with the dt and unit stored in the file; each
  format has one opener, in the table of :mod:`fwdmodels.io.formats`.
* :class:`OutputFile` / :func:`save`: results written atomically with their metadata;
  ``OutputFile(path, ...)`` is the subclass for the ending of ``path``
  (:mod:`fwdmodels.io.output` lists the hooks a format implements; the formats are in
  :mod:`fwdmodels.io.writers`, :mod:`fwdmodels.io.zarr`, :mod:`fwdmodels.io.mne_raw`).
* :func:`describe`: what a file holds (``fwdmodels info``); :func:`load`: read one array whole.
* :func:`to_raw` / :func:`to_xarray`: a result or an output file as an MNE-Python ``RawArray``
  or an ``xarray.DataArray`` with its names, times, positions and units
  (:mod:`fwdmodels.io.export`; the ``mne`` and ``xarray`` extras).

io reads and writes files only: it imports nothing from the models, the lead fields, the
pipeline or the command line (``tests/test_io_imports.py`` checks it, and that its modules
import each other without a cycle).
"""

from . import mne_raw, writers, zarr  # noqa: F401  (each registers its OutputFile format)
from ._atomic import atomic_path, check_output_path
from .export import to_raw, to_xarray
from .formats import INPUT_FORMATS, detect_format
from .metadata import build_metadata, file_sha256, parse_time
from .output import OUTPUT_FORMATS, OutputFile, output_format, save
from .readers import InputArray, describe, load, open_input

__all__ = ["open_input", "InputArray", "describe", "load", "detect_format", "INPUT_FORMATS",
           "OutputFile", "save", "output_format", "OUTPUT_FORMATS", "build_metadata",
           "file_sha256", "parse_time", "atomic_path", "check_output_path", "to_raw",
           "to_xarray"]
