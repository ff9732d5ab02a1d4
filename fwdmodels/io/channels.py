"""Channels as MNE-Python describes them: the FIFF codes and the ``info["chs"]`` entries.

fwdmodels writes channel names, positions and coil frames into lead-field files and outputs
(:mod:`fwdmodels.io.leadfield_file`) and gives them back to MNE-Python as its channel dicts
(:func:`channel_dicts`) without importing mne: the codes are MNE's own constants
(``mne.io.constants.FIFF``), which the tests compare with MNE's.
"""

from __future__ import annotations

import numpy as np

__all__ = ["FIFF_CODES", "FRAMES", "channel_dicts"]

#: The FIFF codes MNE-Python gives channels (``mne.io.constants.FIFF``; the tests check them):
#: kinds, units, coordinate frames and the EEG electrode's coil type.
FIFF_CODES = {"kind": {"eeg": 2, "mag": 1, "grad": 1},
              "unit": {"eeg": 107, "mag": 112, "grad": 201},
              "coord_frame": {"meg": 1, "head": 4}, "coil_eeg": 1}
#: FIFF coordinate-frame code -> frame name.
FRAMES = {v: k for k, v in FIFF_CODES["coord_frame"].items()}


def channel_dicts(ch_type: str, names, loc, coil_types=None, coord_frame="head") -> list:
    """MNE-Python's description of each channel (``ch_name``, ``loc`` (12,), ``coil_type``,
    ``coord_frame``, ``kind``, ``unit``) from MNE's ``loc`` rows ``(M, 12)``."""
    loc = np.asarray(loc, dtype=float)
    frame = FIFF_CODES["coord_frame"][coord_frame]
    kind, unit = FIFF_CODES["kind"][ch_type], FIFF_CODES["unit"][ch_type]
    coils = np.full(len(loc), FIFF_CODES["coil_eeg"]) if coil_types is None else coil_types
    return [{"ch_name": str(name), "loc": loc[i].copy(), "coil_type": int(coils[i]),
             "coord_frame": frame, "kind": kind, "unit": unit}
            for i, name in enumerate(names)]
