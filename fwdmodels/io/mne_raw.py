"""EEG and MEG as MNE-Python ``Raw`` objects and ``.fif`` files, with their sensors.

Behind the ``mne`` extra; mne is imported inside the functions that need it.

* :func:`raw_info`: the ``mne.Info`` of a recording: channel names, types and units, and,
  when the lead field came with them (a fwdmodels lead-field file or a forward solution),
  positions (an EEG montage; MEG coil locations and orientations with the device-to-head
  transform), so that ``raw.plot_sensors()`` and topographic maps work. The EEG reference
  is marked as MNE-Python marks it: an average reference as an applied (active) average
  reference projector, the state ``set_eeg_reference(projection=True)`` then
  ``apply_proj()`` leaves and what MNE's inverse methods ask for; a single-channel (or any
  other) reference as ``info["custom_ref_applied"]``, as ``set_eeg_reference(["Cz"])``
  leaves it; a reference at infinity (the model's default) as no reference.
* :class:`RawOutputFile`: an :class:`fwdmodels.io.OutputFile` that writes a ``Raw`` ``.fif``
  in SI units (V, T, T/m) with that info and the fwdmodels metadata as JSON in
  ``info["description"]``.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import numpy as np

from ..errors import FwdModelsError, optional_import
from ._atomic import TEMP_SUFFIX
from .metadata import dumps
from .output import OutputFile

__all__ = ["raw_info", "RawOutputFile", "check_raw_name", "check_raw_output", "RAW_ENDINGS",
           "SI_UNITS", "mark_reference"]

#: Endings MNE-Python requires of a Raw file name (``raw.save`` warns or refuses otherwise).
RAW_ENDINGS = ("raw.fif", "raw_sss.fif", "raw_tsss.fif", "_meg.fif", "_eeg.fif", "_ieeg.fif")
#: Ending of the temporary file a Raw output is written to before it is renamed.
TEMP_ENDING = "_raw.fif"
#: Largest data part of a Raw output: above 2 GB MNE splits a recording into several files.
RAW_LIMIT_BYTES = 2_000_000_000 - (1 << 24)
#: SI unit of each channel type (as MNE stores the data) and of its lead field.
SI_UNITS = {"eeg": ("V", "V/(A*m)"), "mag": ("T", "T/(A*m)"), "grad": ("T/m", "T/(m*A*m)")}


def _mne(feature: str):
    return optional_import("mne", "mne", feature)


def check_raw_name(path) -> Path:
    """Refuse a ``.fif`` output whose name MNE-Python does not accept for a Raw file."""
    path = Path(path)
    if not path.name.endswith(RAW_ENDINGS):
        stem = path.name[:-4] if path.name.endswith(".fif") else path.name
        raise FwdModelsError(f"output '{path}' is not named as MNE-Python requires of a Raw "
                             f"file; end the name with _raw.fif, -raw.fif, _eeg.fif or "
                             f"_meg.fif, e.g. '{path.with_name(stem + '_raw.fif')}'")
    return path


def check_raw_output(path, shape=None) -> Path:
    """Refuse early a Raw ``.fif`` output that cannot be written: mne missing, a name MNE does
    not accept, or (``shape`` given) a batch of recordings."""
    _mne("writing MNE-Python Raw .fif files")
    path = check_raw_name(path)
    if shape is not None and len(shape) != 2:
        raise FwdModelsError(f"output '{path}': a Raw .fif holds one recording, but the input "
                             f"is a batch of {shape[0]}; write .npz or .h5, or run each "
                             f"recording on its own")
    return path


# =========================================================================== info
def _transform(mne, trans):
    if trans is None or isinstance(trans, mne.transforms.Transform):
        return trans
    return mne.transforms.Transform("meg", "head", np.asarray(trans, dtype=float))


def mark_reference(info, reference) -> None:
    """Mark the EEG reference of ``info`` as MNE-Python does (see the module notes).

    ``reference``: None (at infinity: nothing to mark), ``"average"`` (an active average
    reference projector), or anything else applied to the data (a channel index, a matrix):
    ``custom_ref_applied``.
    """
    mne = _mne("MNE-Python Raw objects")
    if reference is None or "eeg" not in info.get_channel_types():
        return
    if isinstance(reference, str) and reference == "average":
        from mne.proj import make_eeg_average_ref_proj

        proj = make_eeg_average_ref_proj(info, activate=True, verbose="error")
        with info._unlock():
            info["projs"] = list(info["projs"]) + [proj]
        return
    with info._unlock():
        info["custom_ref_applied"] = mne.io.constants.FIFF.FIFFV_MNE_CUSTOM_REF_ON


def raw_info(ch_names, sfreq: float, ch_type: str, *, sensors=None, reference=None,
             description: str | None = None):
    """The ``mne.Info`` of a recording (see the module notes).

    Parameters
    ----------
    ch_names : sequence of str
    sfreq : float
        Sampling frequency, in Hz.
    ch_type : str
        MNE channel type of every channel (``"eeg"``, ``"mag"``, ``"grad"``, ``"misc"`` ...).
    sensors : RegionLeadField or ForwardLeadField, optional
        Where the channels' positions and coil frames come from (``.chs``, ``.dev_head_t``);
        its channels must be ``ch_names``, of type ``ch_type``.
    reference : None, "average", int or "matrix"
        The EEG reference applied to the data (see :func:`mark_reference`).
    description : str, optional
        Text for ``info["description"]`` (fwdmodels puts its metadata there as JSON).
    """
    mne = _mne("MNE-Python Raw objects")
    names = list(ch_names)
    info = mne.create_info(names, float(sfreq), ch_type, verbose="error")
    chs = None if sensors is None else sensors.chs
    if chs is not None:
        if list(sensors.ch_names) != names or sensors.ch_type != ch_type:
            raise FwdModelsError(f"the lead field's {len(sensors.ch_names)} {sensors.ch_type} "
                                 f"channels do not match the data's {len(names)} {ch_type} "
                                 f"channels")
        for ch, src in zip(info["chs"], chs):
            ch["loc"] = np.array(src["loc"], dtype=float)
            for key in ("coil_type", "coord_frame", "kind", "unit"):
                ch[key] = src[key]
        if ch_type == "eeg":
            montage = mne.channels.make_dig_montage(
                ch_pos={n: np.asarray(c["loc"][:3], dtype=float) for n, c in zip(names, chs)},
                coord_frame="head")
            info.set_montage(montage, verbose="error")
        elif getattr(sensors, "dev_head_t", None) is not None:
            with info._unlock():
                info["dev_head_t"] = _transform(mne, sensors.dev_head_t)
    if ch_type == "eeg":
        mark_reference(info, reference)
    if description is not None:
        info["description"] = description
    return info


# =========================================================================== Raw out
def _si(unit_text: str, modality: str):
    """(factor to SI, SI unit text, channel type) of sensor data in ``unit_text``."""
    from ..units import parse_unit, ureg

    q = 1.0 * parse_unit(unit_text, "the sensor unit")
    for ch_type in (("eeg",) if modality == "eeg" else ("mag", "grad")):
        si = SI_UNITS[ch_type][0]
        if q.check(ureg.Quantity(1.0, si).dimensionality):
            return float(q.to(si).magnitude), si, ch_type
    raise FwdModelsError(f"{modality.upper()} data in {unit_text!r} cannot be written to a Raw "
                         f".fif (MNE stores V, T or T/m); use another `sensor_unit`")


class RawOutputFile(OutputFile, suffixes=(".fif",)):
    """An :class:`fwdmodels.io.OutputFile` that writes an MNE-Python ``Raw`` ``.fif``.

    Same use as ``OutputFile`` (blocks of ``(rows, M)`` in the run's sensor unit, then an
    atomic rename), plus ``sensors``: the lead field (:class:`RegionLeadField` or
    :class:`ForwardLeadField`) whose channels (names, positions, coil types) label the data;
    without it the channels are ``EEG 001``... or ``MEG 001``... without positions.
    ``extra`` arrays are not stored (Raw has no place). The EEG reference is read from
    ``metadata["parameters"]["reference"]`` and marked (see :func:`mark_reference`).

    Blocks are kept in an unlinked temporary file next to the output (a memory map, so memory
    stays bounded), scaled to SI (V, T, T/m) as they come; at the end the recording is handed
    to ``mne.io.RawArray`` and saved (float64, or float32 for a float32 output) with the
    sampling frequency ``1/dt`` and the metadata as JSON in ``info["description"]``. Rows are
    at ``t0 + n dt``: the Raw's ``first_samp`` is ``round(t0 / dt)`` (1 for fwdmodels' time
    convention, row n at ``(n + 1) dt``).
    """

    temp_suffix = TEMP_SUFFIX + TEMP_ENDING
    checks_space = False

    def __init__(self, path, name: str, shape, *, metadata: dict, dtype=np.float64,
                 force: bool = False, extra: dict | None = None, sensors=None):
        self.sensors = sensors
        self._file = self._buffer = None
        super().__init__(path, name, shape, metadata=metadata, dtype=dtype, force=force)

    def _check(self):
        """The name, one recording, EEG or MEG with a dt, at most one file, matching sensors."""
        path, metadata, sensors = self.path, self.metadata, self.sensors
        check_raw_output(path, self.shape)
        modality = metadata.get("modality")
        if modality not in ("eeg", "meg"):
            raise FwdModelsError(f"output '{path}': only EEG and MEG go into a Raw .fif (this "
                                 f"is {modality}); write .npz, .h5 or .mat")
        if not metadata.get("dt"):
            raise FwdModelsError(f"output '{path}': a Raw .fif needs a sampling rate; the data "
                                 f"has no dt")
        if self.nbytes > RAW_LIMIT_BYTES:
            raise FwdModelsError(f"output '{path}' would hold {self.nbytes / 1e9:.1f} GB, more "
                                 f"than one Raw .fif file holds (MNE splits larger recordings "
                                 f"into several files); write .h5 instead, or a shorter input")
        self.factor, self.si_unit, self.ch_type = _si(str(metadata.get("unit", "")), modality)
        if sensors is not None and (len(sensors.ch_names) != self.shape[1]
                                    or sensors.ch_type != self.ch_type):
            raise FwdModelsError(f"output '{path}': the lead field's {len(sensors.ch_names)} "
                                 f"{sensors.ch_type} channels do not match the data's "
                                 f"{self.shape[1]} {self.ch_type} columns")

    def _open(self):
        self._file = tempfile.TemporaryFile(dir=Path(self._tmp).parent,
                                            prefix=".fwdmodels-buffer")
        self._buffer = np.memmap(self._file, dtype=np.float64, mode="w+",
                                 shape=(self.shape[1], self.shape[0]))

    def write(self, start: int, block: np.ndarray, batch: int | None = None) -> None:
        block = np.asarray(block, dtype=self.dtype)
        self._buffer[:, start:start + block.shape[0]] = block.T * self.factor

    def _info(self, mne):
        meta = dict(self.metadata, unit=self.si_unit, dims=["sensor", "time"])
        meta["fif"] = {"channel_type": self.ch_type, "note": "MNE-Python keeps data in SI "
                       f"units; the run's sensor unit was {self.metadata.get('unit')}"}
        if self.sensors is not None:
            names = list(self.sensors.ch_names)
        else:
            prefix = "EEG" if self.ch_type == "eeg" else "MEG"
            names = [f"{prefix} {i + 1:03d}" for i in range(self.shape[1])]
        reference = (self.metadata.get("parameters") or {}).get("reference")
        return raw_info(names, 1.0 / float(self.metadata["dt"]), self.ch_type,
                        sensors=self.sensors, reference=reference, description=dumps(meta))

    def _finish(self):
        mne = _mne("writing MNE-Python Raw .fif files")
        self._buffer.flush()
        dt = float(self.metadata["dt"])
        first = int(round(float(self.metadata.get("t0", dt)) / dt))
        raw = mne.io.RawArray(self._buffer, self._info(mne), first_samp=first, copy="auto",
                              verbose="error")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw.save(self._tmp, fmt="single" if self.dtype == np.float32 else "double",
                     overwrite=True, verbose="error")
        del raw
        self._abort()

    def _abort(self):
        self._buffer = None
        if self._file is not None:
            self._file.close()
            self._file = None
