"""MNE-Python files: forward solutions read, EEG/MEG written as ``Raw`` ``.fif``, described.

Behind the ``mne`` extra; mne is imported inside the functions that need it.

* :func:`read_forward`: an MNE forward solution (``-fwd.fif``) read, with the errors a bad
  file gives said plainly; :func:`pick_channels`: the rows of one channel type. Their
  reduction to a region lead field with a parcellation is
  :func:`fwdmodels.leadfield.forward.read_forward_leadfield`.
* :class:`RawOutputFile` (in :mod:`fwdmodels.io.mne_raw`, imported here): an
  :class:`fwdmodels.io.OutputFile` that writes an ``mne.io.RawArray`` in SI units (V, T,
  T/m), sampling frequency ``1/dt``, channels with their positions when the lead field came
  with them, and the fwdmodels metadata as JSON in ``info["description"]``.
* :func:`describe_fif`: what a Raw or forward ``.fif`` holds (``fwdmodels info``).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np

from ..errors import FwdModelsError, optional_import
from .mne_raw import (RAW_ENDINGS, SI_UNITS, RawOutputFile, check_raw_name,  # noqa: F401
                      check_raw_output, raw_info)

__all__ = ["read_forward", "pick_channels", "RawOutputFile", "describe_fif", "check_raw_name",
           "check_raw_output", "is_fif", "RAW_ENDINGS", "mne_module"]

_FWD_ENDINGS = ("-fwd.fif", "_fwd.fif", "-fwd.fif.gz", "_fwd.fif.gz")


def mne_module(feature: str):
    """The mne module, or a MissingDependencyError naming the ``mne`` extra and ``feature``."""
    return optional_import("mne", "mne", feature)


def is_fif(path) -> bool:
    """Whether ``path`` names a FIF file (``.fif`` or ``.fif.gz``)."""
    return str(path).lower().endswith((".fif", ".fif.gz"))


def read_forward(path, mne=None):
    """An MNE forward solution read from ``path`` (``mne``: the module, if already imported);
    a file MNE cannot read, or a complex one, is refused with a plain message."""
    mne = mne or mne_module("reading MNE-Python forward solutions (.fif)")
    path = Path(path)
    if not path.exists():
        raise FwdModelsError(f"lead field '{path}' does not exist; check the path")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # MNE warns about names not ending in -fwd.fif
            fwd = mne.read_forward_solution(path, verbose="error")
    except (ValueError, OSError, KeyError, IndexError, TypeError, RuntimeError,
            AttributeError) as exc:                    # AttributeError: an empty file
        detail = " ".join(str(exc).split())
        raise FwdModelsError(f"lead field '{path}' is not a readable MNE-Python forward "
                             f"solution ({detail}); write one with "
                             f"mne.write_forward_solution('...-fwd.fif', fwd)") from None
    if np.iscomplexobj(fwd["sol"]["data"]):           # would lose its imaginary part below
        raise FwdModelsError(f"lead field '{path}' holds complex numbers (dtype "
                             f"{fwd['sol']['data'].dtype}); fwdmodels needs a real forward "
                             f"solution")
    return fwd


def pick_channels(fwd, modality: str, meg_channels, where: str):
    """Row indices of the chosen channel type in ``fwd["sol"]["row_names"]``, and that type
    (``"eeg"``, ``"mag"`` or ``"grad"``); ``where`` names the forward in messages."""
    import mne

    info = fwd["info"]
    names = list(fwd["sol"]["row_names"])
    types = [mne.channel_type(info, info["ch_names"].index(n)) for n in names]
    counts = {t: types.count(t) for t in ("eeg", "mag", "grad")}
    if modality == "eeg":
        if meg_channels is not None:
            raise FwdModelsError(f"`meg_channels` applies to MEG; got meg_channels="
                                 f"{meg_channels!r} with modality 'eeg'")
        chosen = "eeg"
    elif modality == "meg":
        if meg_channels is not None:
            if meg_channels not in ("mag", "grad"):
                raise FwdModelsError(f"`meg_channels` must be 'mag' or 'grad'; got "
                                     f"{meg_channels!r}")
            chosen = meg_channels
        elif counts["mag"] and counts["grad"]:
            raise FwdModelsError(
                f"{where} has {counts['mag']} magnetometers (T/(A*m)) and {counts['grad']} "
                f"gradiometers (T/(m*A*m)), whose units differ; choose one with "
                f"`meg_channels='mag'` or `meg_channels='grad'`")
        else:
            chosen = "grad" if counts["grad"] else "mag"
    else:
        raise FwdModelsError(f"`modality` must be 'eeg' or 'meg'; got {modality!r}")
    rows = [i for i, t in enumerate(types) if t == chosen]
    if not rows:
        have = ", ".join(f"{n} {t}" for t, n in counts.items() if n) or "no EEG or MEG channels"
        kind = {"eeg": "EEG", "mag": "magnetometer", "grad": "gradiometer"}[chosen]
        raise FwdModelsError(f"{where} has no {kind} channels (it has {have}); compute the "
                             f"forward with them (mne.make_forward_solution(..., "
                             f"{'eeg' if chosen == 'eeg' else 'meg'}=True)) or use the "
                             f"other sub-command")
    return np.asarray(rows), chosen




# =========================================================================== describe
def describe_fif(path) -> dict:
    """What a Raw or forward-solution ``.fif`` holds, in the form of ``fwdmodels.io.describe``."""
    mne = mne_module("describing MNE-Python .fif files")
    path = Path(path)
    readers = [_describe_raw, _describe_forward]
    if path.name.lower().endswith(_FWD_ENDINGS):
        readers.reverse()
    problems = []
    for reader in readers:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return reader(path, mne)
        except (ValueError, OSError, KeyError, IndexError, TypeError, RuntimeError) as exc:
            problems.append(" ".join(str(exc).split()))
    raise FwdModelsError(f"'{path}' is neither an MNE-Python Raw file nor a forward solution "
                         f"({'; '.join(problems)}); check that it is a complete .fif")


def _counts(types) -> str:
    return ", ".join(f"{types.count(t)} {t}" for t in dict.fromkeys(types))


def _base(path: Path, fmt: str) -> dict:
    return {"path": str(path), "format": fmt, "size_bytes": path.stat().st_size}


def _describe_raw(path: Path, mne) -> dict:
    raw = mne.io.read_raw_fif(path, preload=False, verbose="error")
    info = raw.info
    types = raw.get_channel_types()
    units = sorted({SI_UNITS.get(t, ("?",))[0] for t in types})
    meta = None
    if info.get("description"):
        try:
            meta = json.loads(info["description"])
        except ValueError:
            meta = None
    if not isinstance(meta, dict) or "fwdmodels_version" not in meta:
        meta = None
    name = meta.get("array", "data") if meta else "data"
    dtype = {"double": "float64", "single": "float32"}.get(raw.orig_format, raw.orig_format)
    names = info["ch_names"]
    entries = {"sfreq": f"{info['sfreq']!r} Hz", "channels": _counts(types),
               "ch_names": ", ".join(names[:10]) + (", ..." if len(names) > 10 else ""),
               "first_samp": int(raw.first_samp),
               "duration": f"{float(raw.n_times / info['sfreq'])!r} s",
               "meas_date": str(info["meas_date"])}
    return {**_base(path, "fif (MNE Raw)"),
            "arrays": [{"name": name, "shape": [int(raw.n_times), len(names)], "dtype": dtype,
                        "unit": units[0] if len(units) == 1 else "per channel type: "
                        + ", ".join(units)}],
            "entries": entries, "dt": f"{float(1.0 / info['sfreq'])!r} s",
            "dt_source": "sampling frequency info['sfreq']", "fwdmodels": meta}


def _describe_forward(path: Path, mne) -> dict:
    fwd = mne.read_forward_solution(path, verbose="error")
    info = fwd["info"]
    names = list(fwd["sol"]["row_names"])
    types = [mne.channel_type(info, info["ch_names"].index(n)) for n in names]
    data = fwd["sol"]["data"]
    fixed = fwd["source_ori"] == mne.io.constants.FIFF.FIFFV_MNE_FIXED_ORI
    arrays = []
    for t in dict.fromkeys(types):
        n = types.count(t)
        arrays.append({"name": f"sol ({t})", "shape": [n, int(data.shape[1])],
                       "dtype": str(data.dtype), "unit": SI_UNITS.get(t, (None, None))[1]})
    n_src = int(sum(len(s["vertno"]) for s in fwd["src"]))
    entries = {"source orientation": "fixed (one column per source)" if fixed else
               "free (x, y, z columns per source)", "sources": n_src,
               "source spaces": ", ".join(f"{s['type']} ({len(s['vertno'])})"
                                          for s in fwd["src"]),
               "channels": _counts(types), "subject": fwd["src"][0].get("subject_his_id"),
               "layout": "MNE stores (channels, sources); fwdmodels reads it as (regions, "
                         "sensors) with a parcellation"}
    return {**_base(path, "fif (MNE forward solution)"), "arrays": arrays, "entries": entries,
            "dt": None, "dt_source": None, "fwdmodels": None, "timeseries": False}
