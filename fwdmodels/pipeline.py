"""Offline processing of saved simulations, chunk by chunk, with bounded memory.

:func:`run_bold`, :func:`run_eeg` and :func:`run_meg` read an input file (see
:mod:`fwdmodels.io`) ``chunk_size`` time steps at a time, carry the hemodynamic state from
one chunk to the next, and write the result atomically with its metadata. The numbers are
the same, to the last bit, as one in-memory call of the Python API:

* BOLD: :func:`fwdmodels.simulate_bold` with the same ``dt``, ``method``, ``params``, ``tr`` and
  ``tr_mode`` (chunks are whole multiples of the TR, so each TR window lies in one chunk);
* EEG/MEG: one call of the lead-field model on the whole series (its noise generator is
  drawn from in the same order; chunks are rounded up to a multiple of 64 time steps, so the
  BLAS computes each row with the same kernel as in one call).

Peak memory is O(chunk_size × (N + M)) plus the input's memory map pages, which the
operating system reclaims as needed: an input of many GB is processed in well under 1 GB.
(MATLAB v5 inputs and outputs are the exception: that format is read and written whole.)
"""

from __future__ import annotations

import numbers
import re
import sys
from pathlib import Path

import numpy as np

from . import io as fio
from ._validation import check_int, check_option
from .errors import FwdModelsError
from .hemodynamics.balloon import initial_state, read_neural_input
from .hemodynamics.plan import DEFAULT_METHOD, make_plan
from .units import as_quantity, check_text, parse_unit, ureg

__all__ = ["run_bold", "run_eeg", "run_meg", "resolve_dt", "default_chunk_size",
           "read_leadfield", "leadfield_model", "signal_power", "signal_rms", "Progress"]

#: Sensor chunks are whole multiples of this many rows. An optimised BLAS (OpenBLAS, MKL)
#: computes a matrix product in blocks of a few rows, with other kernels for the leftover
#: rows, whose rounding differs in the last bit; with chunks aligned to the blocks, every row
#: is computed exactly as in one call on the whole series.
_BLAS_ROWS = 64
#: Bytes of input per chunk when ``chunk_size`` is not given.
CHUNK_BYTES = 1 << 23
_BARE_NUMBER = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")


# --------------------------------------------------------------------------- helpers
def default_chunk_size(n_columns: int, multiple: int = 1) -> int:
    """Rows per chunk: about 8 MB of float64 input, rounded up to a multiple of ``multiple``."""
    rows = max(1, CHUNK_BYTES // (8 * max(1, n_columns)))
    return -(-rows // multiple) * multiple


def _option_quantity(value, name: str, dimension: str, example: str):
    """A Quantity from an option; a bare number (or a text without unit) is refused."""
    if value is None:
        return None
    if isinstance(value, str):      # bounded before the regex, which backtracks on long text
        check_text(value, name.lstrip("-").replace("-", "_"))
    if isinstance(value, str) and _BARE_NUMBER.match(value):
        raise FwdModelsError(f"{name} {value.strip()} has no unit; write it with one, e.g. "
                             f"{name} {value.strip()}{example}")
    if isinstance(value, numbers.Number):
        raise FwdModelsError(f"{name} {value!r} has no unit; write it with one, e.g. "
                             f"'{value}{example}'")
    q = as_quantity(value, name.lstrip("-").replace("-", "_"), dimension)
    return q


def resolve_dt(file_dt, option_dt, path="input", where="the file") -> float:
    """dt in seconds from the file's value and/or the option; both given must agree.

    Parameters
    ----------
    file_dt : pint.Quantity or None
        The time step stored in the input file.
    option_dt : str or pint.Quantity or None
        The time step given by the user (``--dt``), with its unit.
    """
    opt = _option_quantity(option_dt, "--dt", "[time]", "ms")
    if opt is not None and not (np.isfinite(opt.magnitude) and opt.magnitude > 0):
        raise FwdModelsError(f"--dt must be positive; got {opt:~}")
    if file_dt is None and opt is None:
        raise FwdModelsError(f"'{path}' holds no time step; pass --dt with its unit, e.g. "
                             f"--dt 0.1ms")
    if file_dt is not None and opt is not None:
        a, b = file_dt.to("s").magnitude, opt.to("s").magnitude
        if not np.isclose(a, b, rtol=1e-9, atol=0.0):
            raise FwdModelsError(f"--dt {opt:~} conflicts with the time step {file_dt:~} "
                                 f"stored in '{path}' ({where}); drop --dt to use the file's, "
                                 f"or fix the file")
    return float((file_dt if file_dt is not None else opt).to("s").magnitude)


class Progress:
    """A tqdm bar on stderr (shown after 2 s), or nothing when tqdm is missing or disabled."""

    def __init__(self, total: int, enabled: bool, desc: str):
        self._bar = None
        if enabled:
            try:
                from tqdm import tqdm
            except ImportError:          # the progress extra is optional: no bar then
                return
            self._bar = tqdm(total=total, desc=desc, unit="step", unit_scale=True,
                             file=sys.stderr, delay=2.0, leave=False, dynamic_ncols=True)

    def update(self, n: int) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _blocks(data: fio.InputArray, chunk: int):
    """``(batch, start, stop)`` over the input, batch-major then time."""
    batches = [None] if data.n_batch is None else range(data.n_batch)
    for b in batches:
        for start in range(0, data.n_times, chunk):
            yield b, start, min(start + chunk, data.n_times)


def _check_block(block: np.ndarray, start: int, batch, path) -> None:
    if np.isfinite(block).all():
        return
    t, r = np.unravel_index(int(np.argmin(np.isfinite(block).ravel())), block.shape)
    where = f"time index {start + t}, region {r}" + ("" if batch is None else f", batch {batch}")
    raise FwdModelsError(f"'{path}' holds {float(block[t, r])!r} at {where} (the first non-finite "
                         f"value); fix or remove it in the simulation output")


def _input_info(data: fio.InputArray) -> dict:
    return {"path": str(Path(data.path).resolve()), "sha256": fio.file_sha256(data.path),
            "key": data.key, "format": data.format, "shape": list(data.stored_shape),
            "time_axis": data.time_axis, "unit": data.unit,
            "dt": None if data.dt is None else f"{data.dt:~}"}


def _unit_text(unit) -> str:
    """ASCII text of a unit that pint reads back (``uV`` rather than ``µV``)."""
    return f"{unit:~}".replace("µ", "u").replace("μ", "u")


def _dims(data: fio.InputArray, last: str) -> list:
    return (["batch"] if data.n_batch is not None else []) + ["time", last]


# --------------------------------------------------------------------------- BOLD
def run_bold(input, output, *, dt=None, dt_unit=None, key=None, time_axis=None, tr=None,
             tr_mode="sample", method=DEFAULT_METHOD, params="friston2003", init="rest",
             backend="auto", chunk_size=None, force=False, progress=False,
             overrides=None, hemo_dt=None) -> Path:
    """BOLD signal of a saved neural time series, written to ``output``.

    The numbers are those of :func:`fwdmodels.simulate_bold` with the same options, bit for
    bit: chunks are whole multiples of the split method's hemodynamic step and of the TR.

    Parameters
    ----------
    input : path
        ``.npy``, ``.npz``, ``.mat``, ``.h5`` or Zarr file holding the neural activity, time
        first (or along ``time_axis``), ``(T, N)`` or ``(B, T, N)``. A unit stored with it
        must be dimensionless or a rate; a bare array is taken as it is (see
        :func:`fwdmodels.simulate_bold`).
    output : path
        ``.npz``, ``.h5``, ``.mat`` or ``.zarr``; must not exist unless ``force``.
    dt : str or pint.Quantity, optional
        Time between input samples, with its unit; needed if the file holds none, and must
        agree with it otherwise.
    dt_unit : str, optional
        Unit of a bare number stored as the file's dt.
    key, time_axis
        Which array of the file, and which of its axes is time.
    tr : str or pint.Quantity, optional
        Repetition time (a whole multiple of dt): output one row per TR; otherwise one row
        per input sample.
    tr_mode : {"sample", "mean"}
    method : {"split", "rk4", "heun", "euler", "reference"}
    params : str, path or BalloonParams
        Preset name (see ``fwdmodels.hemodynamics.PRESETS``), a parameter file (``.npz``,
        ``.json`` or ``.csv`` with one value or one per region for each parameter, see
        :mod:`fwdmodels.io.params`) or a parameter set; ``overrides`` a dict of single
        parameter values.
    init : {"rest", "steady", "brainmass"}
    hemo_dt : str or pint.Quantity, optional
        The split method's hemodynamic step (see :func:`fwdmodels.simulate_bold`); ``"auto"``
        or None for the default.
    chunk_size : int, optional
        Time steps per chunk (default: about 8 MB of input; rounded up to whole steps and TRs).
    progress : bool
        Show a progress bar on stderr for runs longer than 2 s.

    Returns
    -------
    pathlib.Path of the output. Its metadata records the options, the method's hemodynamic
    step and the largest error estimate of the run (``error_estimate``, a BOLD fraction).
    """
    out_path = fio.check_output_path(output, force, inputs=(input,))
    fio.output_format(out_path)
    with fio.open_input(input, key, time_axis, dt_unit) as data:
        dt_s = resolve_dt(data.dt, dt, data.path, data.dt_where)
        unit = None
        if data.unit not in (None, ""):
            unit = parse_unit(data.unit, f"the unit of '{data.key}' in '{data.path}'")
        tr_q = _option_quantity(tr, "--tr", "[time]", "s")
        hemo_q = None if hemo_dt is None or _is_auto(hemo_dt) else \
            _option_quantity(hemo_dt, "--hemo-dt", "[time]", "ms")
        plan = make_plan(ureg.Quantity(dt_s, "s"), params=params_argument(params),
                         method=method, tr=tr_q, tr_mode=tr_mode, hemo_dt=hemo_q,
                         backend=backend, **(overrides or {}))
        grain = plan.tr_steps or 1                     # input rows per output row
        if data.n_times < grain:
            raise FwdModelsError(f"'{data.path}' holds {data.n_times} steps along its time "
                                 f"axis (axis {data.time_axis}; {data.n_times * dt_s:g} s), "
                                 f"shorter than one TR ({plan.tr:g} s); if time runs along "
                                 f"another axis (regions first), pass --time-axis, otherwise "
                                 f"use a shorter --tr")
        piece = plan.piece
        chunk = (default_chunk_size(data.n_regions, piece) if chunk_size is None else
                 -(-check_int(chunk_size, "chunk_size", 1) // piece) * piece)
        shape = data.shape[:-2] + (data.n_times // grain, data.n_regions)
        regions = (data.n_batch, data.n_regions) if data.n_batch else (data.n_regions,)
        p_all, hold_all = plan.packed(regions), plan.hold(regions)
        parameters = {**plan.metadata(), "init": init, "input_dt": dt_s,
                      "error_estimate": None,
                      "time_convention": "row n is the state at t = (n + 1) dt"}
        meta = fio.build_metadata("bold", "bold", "dimensionless", _dims(data, "region"),
                                  dt_s * grain, parameters=parameters,
                                  input_info=_input_info(data))
        bar = Progress(data.n_times * (data.n_batch or 1), progress, "BOLD")
        error = 0.0
        try:
            with fio.OutputFile(out_path, "bold", shape, metadata=meta, force=force) as out:
                for b, start, stop in _blocks(data, chunk):
                    cols = slice(0, data.n_regions) if b is None else \
                        slice(b * data.n_regions, (b + 1) * data.n_regions)
                    if start == 0:
                        first = None
                        if init == "steady":
                            first = data.read(0, 1, b)[0]
                            _check_block(first[None], 0, b, data.path)
                        state = initial_state(
                            init, plan.params.member(b), (data.n_regions,),
                            None if first is None else _neural(first[None], unit)[0])
                    block = _neural(data.read(start, stop, b), unit)
                    _check_block(block, start, b, data.path)
                    bold, _, err = plan.run(block, state, p_all[:, cols],
                                            None if hold_all is None else hold_all[:, :, cols],
                                            t0_index=start)
                    if err is not None and err.size:
                        error = max(error, float(err.max()))
                    out.write(start // grain, bold, batch=b)
                    bar.update(stop - start)
                if plan.method == "split":
                    out.metadata["parameters"]["error_estimate"] = error
        finally:
            bar.close()
    return out_path


def params_argument(params):
    """``params`` as :func:`~fwdmodels.hemodynamics.make_plan` takes it: a preset name or a
    ``BalloonParams``, or a parameter file (``.npz``, ``.json``, ``.csv``; see
    :mod:`fwdmodels.io.params`) read into a ``BalloonParams`` with per-region values."""
    from .io.params import is_params_file, read_params_file

    if not is_params_file(params):
        return params
    from .hemodynamics.params import BalloonParams

    preset, values = read_params_file(params)
    return BalloonParams.preset(preset, **values).replace(name=f"{preset}+{Path(params).name}")


def _is_auto(hemo_dt) -> bool:
    return isinstance(hemo_dt, str) and hemo_dt.strip() == "auto"


def _neural(block: np.ndarray, unit) -> np.ndarray:
    """A block of neural input in the model's units (s^-2 or dimensionless), as floats."""
    if unit is None:
        return np.asarray(block, dtype=np.float64)
    return read_neural_input(ureg.Quantity(block, unit), "z", (2,), check=False)


# --------------------------------------------------------------------------- EEG / MEG
def read_leadfield(path, modality: str, *, key=None, unit=None, n_regions=None,
                   parcellation=None, meg_channels=None):
    """A region lead field ``(R, M)`` Quantity from a file.

    A fwdmodels lead-field file (``fwdmodels leadfield``; see
    :mod:`fwdmodels.io.leadfield_file`) brings its unit, names and positions: nothing else is
    needed. Other ``.npy``/``.npz``/``.mat``/``.h5``: an ``(R, M)`` array; its unit is the
    file's (an entry ``unit`` or ``L_unit``, an attribute ``unit``) or ``unit``
    (``--leadfield-unit``); both
    given must agree, and one is needed. An ``(M, R)`` array is refused with a hint to
    transpose. An MNE-Python forward solution (``-fwd.fif``, needs mne) is turned into regions
    with ``parcellation`` and its ``modality`` channels (``meg_channels`` "mag" or "grad"
    when it has both): see :func:`fwdmodels.io.mne.read_forward_leadfield`.
    """
    return _read_leadfield(path, modality, key=key, unit=unit, n_regions=n_regions,
                           parcellation=parcellation, meg_channels=meg_channels)[0]


def _read_forward(path, modality, *, key, unit, n_regions, parcellation, meg_channels):
    """``(L, RegionLeadField)`` from an MNE-Python forward solution."""
    from .io.mne import read_forward_leadfield

    if key is not None:
        raise FwdModelsError(f"--leadfield-key does not apply to the forward solution '{path}'"
                             f"; drop it")
    lf = read_forward_leadfield(path, parcellation, modality=modality,
                                meg_channels=meg_channels)
    if unit is not None:
        chosen = parse_unit(unit, "--leadfield-unit")
        if not np.isclose((1 * chosen).to_base_units().magnitude,
                          (1 * lf.L.units).to_base_units().magnitude, rtol=1e-12) or \
                (1 * chosen).dimensionality != (1 * lf.L.units).dimensionality:
            raise FwdModelsError(f"--leadfield-unit {chosen:~} conflicts with the unit "
                                 f"{lf.L.units:~} of the forward solution '{path}'; drop "
                                 f"--leadfield-unit")
    if n_regions is not None and lf.L.shape[0] != n_regions:
        what = (f"{lf.details['n_sources']} sources and no parcellation" if parcellation is None
                else f"parcellation {lf.details['parcellation']}")
        raise FwdModelsError(f"lead field '{path}' has {lf.L.shape[0]} regions ({what}) but "
                             f"the input has {n_regions}; pass a --parcellation with "
                             f"{n_regions} regions")
    from .io.leadfield_file import from_forward

    inputs = [{"role": "forward", "path": str(Path(path).resolve()),
               "sha256": fio.file_sha256(path)}] if isinstance(path, (str, Path)) else []
    return lf.L, from_forward(lf, inputs=inputs)


def _read_leadfield(path, modality: str, *, key=None, unit=None, n_regions=None,
                    parcellation=None, meg_channels=None, vertex_options=None):
    """``(L, RegionLeadField or None)``: see :func:`read_leadfield`; ``vertex_options``
    (``reduce``, ``nan_sensors``) apply to vertex lead fields reduced with ``parcellation``
    and to TVB's default subject (:mod:`fwdmodels.io.vertex_leadfield`)."""
    from ._carry import read_region_file
    from .io.leadfield_file import is_leadfield_file

    if is_leadfield_file(path):
        return read_region_file(path, modality, key=key, unit=unit, n_regions=n_regions,
                                parcellation=parcellation, meg_channels=meg_channels)
    name = str(path).lower()
    if name.endswith(".fif") or name.endswith(".fif.gz"):
        return _read_forward(path, modality, key=key, unit=unit, n_regions=n_regions,
                             parcellation=parcellation, meg_channels=meg_channels)
    from .io.vertex_leadfield import is_tvb_leadfield_spec, read_vertex_leadfield

    if meg_channels is not None:
        raise FwdModelsError(f"--meg-channels applies to an MNE-Python forward solution "
                             f"(-fwd.fif); lead field '{path}' has one kind of channel: drop "
                             f"--meg-channels")
    if parcellation is not None or is_tvb_leadfield_spec(path):     # vertices -> regions
        return read_vertex_leadfield(path, modality, parcellation=parcellation, key=key,
                                     unit=unit, n_regions=n_regions, **(vertex_options or {}))
    with fio.open_input(path, key, 0) as lf:
        if lf.n_batch is not None:
            raise FwdModelsError(f"lead field '{path}' is 3-D (shape {lf.stored_shape}); "
                                 f"give a fixed-orientation (regions, sensors) array")
        L = lf.read_all()
        file_unit = lf.unit
    chosen = None
    if unit is not None:
        chosen = parse_unit(unit, "--leadfield-unit")
    if file_unit not in (None, ""):
        stored = parse_unit(file_unit, f"the unit stored in '{path}'")
        if chosen is not None and not np.isclose((1 * stored).to_base_units().magnitude,
                                                 (1 * chosen).to_base_units().magnitude,
                                                 rtol=1e-12) or \
                chosen is not None and (1 * stored).dimensionality != (1 * chosen).dimensionality:
            raise FwdModelsError(f"--leadfield-unit {chosen:~} conflicts with the unit "
                                 f"{stored:~} stored in '{path}'; drop --leadfield-unit")
        chosen = stored
    if chosen is None:
        example = "V/(nA*m)" if modality == "eeg" else "fT/(nA*m)"
        raise FwdModelsError(f"lead field '{path}' has no unit; pass --leadfield-unit, e.g. "
                             f"--leadfield-unit '{example}'")
    if n_regions is not None and L.shape[0] != n_regions:
        if L.shape[1] == n_regions:
            raise FwdModelsError(f"lead field '{path}' has shape {L.shape}, (sensors, regions) "
                                 f"as MNE-Python stores it; fwdmodels needs (regions, sensors) "
                                 f"= ({n_regions}, {L.shape[0]}): save L.T")
        raise FwdModelsError(f"lead field '{path}' has {L.shape[0]} regions (shape {L.shape}) "
                             f"but the input has {n_regions}; use the lead field of the same "
                             f"parcellation")
    return ureg.Quantity(L, chosen), None


def leadfield_model(modality: str, L, *, dipole_scale=None, sensor_unit=None, reference=None,
                    noise_cov=None, seed=None):
    """The EEG or MEG model of the lead field ``L`` (R, M) with the CLI's options."""
    from .leadfield import EEGLeadFieldModel, MEGLeadFieldModel

    cls = EEGLeadFieldModel if modality == "eeg" else MEGLeadFieldModel
    scale = None
    if dipole_scale is not None:
        scale = _option_quantity(dipole_scale, "--dipole-scale", None, " nA*m/mV")
    return cls(L.shape[0], L.shape[1], L, dipole_scale=scale, sensor_unit=sensor_unit,
               reference=reference, noise_cov=noise_cov, rng=seed)


def signal_power(data: fio.InputArray, model, chunk: int, unit=None) -> float:
    """Mean square of the noise-free sensor signal over all channels and time (one pass)."""
    return signal_rms(data, model, chunk, unit) ** 2


def signal_rms(data: fio.InputArray, model, chunk: int, unit=None) -> float:
    """Root mean square of the noise-free sensor signal (one pass, no overflow near 1e308)."""
    from .leadfield.noise import RunningRMS

    acc = RunningRMS()
    for b, start, stop in _blocks(data, chunk):
        block = data.read(start, stop, b)
        _check_block(block, start, b, data.path)
        acc.add(model(block if unit is None else ureg.Quantity(block, unit)).magnitude)
    return acc.value()


def _run_sensors(modality, input, output, *, leadfield, leadfield_unit=None,
                 leadfield_key=None, parcellation=None, dipole_scale=None, sensor_unit=None,
                 reference=None, snr_db=None, seed=None, dt=None, dt_unit=None, key=None,
                 time_axis=None, chunk_size=None, force=False, progress=False,
                 meg_channels=None, reduce=None, nan_sensors=None) -> Path:
    parc_file = parcellation if isinstance(parcellation, (str, Path)) and \
        Path(parcellation).is_file() else None
    out_path = fio.check_output_path(output, force, inputs=(input, leadfield, parc_file))
    fif = fio.output_format(out_path, (".fif",)) == ".fif"
    if fif:
        from .io import mne as fmne

        fmne.check_raw_output(out_path)
    if snr_db is not None and (isinstance(snr_db, bool) or not isinstance(
            snr_db, numbers.Real) or not np.isfinite(snr_db) or abs(snr_db) > 3000):
        raise FwdModelsError(f"--noise-snr-db must be a finite number of dB within ±3000 (a "
                             f"power ratio of 10^±300, the range of float64); got {snr_db!r}")
    with fio.open_input(input, key, time_axis, dt_unit) as data:
        dt_s = resolve_dt(data.dt, dt, data.path, data.dt_where)
        if fif:
            fmne.check_raw_output(out_path, data.shape)
        L, sensors = _read_leadfield(leadfield, modality, key=leadfield_key,
                                     unit=leadfield_unit, n_regions=data.n_regions,
                                     parcellation=parcellation, meg_channels=meg_channels,
                                     vertex_options={k: v for k, v in (("reduce", reduce), (
                                         "nan_sensors", nan_sensors)) if v is not None})
        unit = None
        if data.unit not in (None, ""):
            unit = parse_unit(data.unit, f"the unit of '{data.key}' in '{data.path}'")
        chunk = (default_chunk_size(data.n_regions + L.shape[1]) if chunk_size is None
                 else check_int(chunk_size, "chunk_size", 1))
        chunk = -(-chunk // _BLAS_ROWS) * _BLAS_ROWS
        model = leadfield_model(modality, L, dipole_scale=dipole_scale,
                                sensor_unit=sensor_unit, reference=reference, seed=seed)
        noise_std = None
        if snr_db is not None:
            clean = leadfield_model(modality, L, dipole_scale=dipole_scale,
                                    sensor_unit=sensor_unit)
            from .leadfield.noise import snr_noise_std

            rms = signal_rms(data, clean, chunk, unit)
            noise_std = snr_noise_std(rms, float(snr_db), None)
            if not noise_std <= 1e150:      # its square, the covariance, must stay finite
                raise FwdModelsError(
                    f"--noise-snr-db {snr_db!r} below the input's signal (RMS {rms:.3g} "
                    f"{clean.sensor_unit:~}) asks for noise of standard deviation "
                    f"{noise_std:.3g} {clean.sensor_unit:~}, whose variance overflows "
                    f"float64; scale the input down (--dipole-scale, its unit) or raise "
                    f"--noise-snr-db")
            cov = np.eye(L.shape[1]) * noise_std ** 2
            model = leadfield_model(modality, L, dipole_scale=dipole_scale,
                                    sensor_unit=sensor_unit, reference=reference,
                                    noise_cov=cov, seed=seed)
        sensor = _unit_text(model.sensor_unit)
        from ._carry import carried, leadfield_record

        extra, names = carried(sensors, data, L.shape[0])
        parameters = {
            "leadfield": leadfield_record(leadfield, sensors, L, leadfield_key,
                                          _unit_text(L.units)),
            "dipole_scale": None if model.dipole_scale is None else
            f"{model.dipole_scale.magnitude!r} {_unit_text(model.dipole_scale.units)}",
            "input_unit": _unit_text(model.input_unit), "sensor_unit": sensor,
            "reference": reference if not isinstance(reference, np.ndarray) else "matrix",
            "snr_db": snr_db, "noise_std": noise_std, "noise": "white, per channel" if
            snr_db is not None else None, "seed": seed}
        if names:
            parameters["sensors"] = names
        if sensors is not None and "forward" in sensors.details:
            if parc_file is not None:
                parameters["leadfield"]["parcellation"] = {
                    "path": str(Path(parc_file).resolve()), "sha256": fio.file_sha256(parc_file)}
        meta = fio.build_metadata(modality, modality, sensor, _dims(data, "sensor"), dt_s,
                                  parameters=parameters, input_info=_input_info(data))
        shape = data.shape[:-1] + (L.shape[1],)
        bar = Progress(data.n_times * (data.n_batch or 1), progress, modality.upper())
        try:
            writer = (fio.OutputFile(out_path, modality, shape, metadata=meta, force=force,
                                     extra=extra)
                      if not fif else fmne.RawOutputFile(out_path, modality, shape, metadata=meta,
                                                         force=force, sensors=sensors))
            with writer as out:
                for b, start, stop in _blocks(data, chunk):
                    block = data.read(start, stop, b)
                    _check_block(block, start, b, data.path)
                    x = block if unit is None else ureg.Quantity(block, unit)
                    out.write(start, model(x).magnitude, batch=b)
                    bar.update(stop - start)
        finally:
            bar.close()
    return out_path


_SENSOR_DOC = """{modality} of a saved source time series, written to ``output``.

    Parameters
    ----------
    input : path
        ``(T, R)`` or ``(B, T, R)`` source activity (see :func:`run_bold` for formats, ``key``,
        ``time_axis``, ``dt``). A bare array is read in nA·m, or, with ``dipole_scale``, in
        the scale's denominator unit (mV for ``"1.5 nA*m/mV"``); a unit stored in the file is
        used instead.
    output : path
        ``.npz``, ``.h5`` or ``.mat``; or an MNE-Python ``Raw`` ``.fif`` (needs mne; the name
        must end with ``_raw.fif``, ``-raw.fif``, ``_eeg.fif`` or ``_meg.fif``), in SI units.
    leadfield : path
        A fwdmodels lead-field file (``fwdmodels leadfield``: unit, names and positions come
        with it), an ``(R, M)`` lead field file (unit from the file or ``leadfield_unit``), or
        an MNE-Python forward solution ``-fwd.fif`` (needs mne). The sensor names and
        positions and the region names it has are written with the output (see
        :func:`fwdmodels._carry.carried`; a Raw ``.fif`` gets them as its channels).
    parcellation : path or array, optional
        With a ``-fwd.fif``: the region of each source vertex (see
        :func:`fwdmodels.io.mne.read_forward_leadfield`); default one region per source.
    meg_channels : {{"mag", "grad"}}, optional
        MEG with a ``-fwd.fif`` holding both magnetometers and gradiometers: which to use.
    dipole_scale : str, optional
        Conversion of the input to dipole moments, e.g. ``"2 nA*m/mV"``.
    sensor_unit : str, optional
        Output unit (default {default}).
    reference : None, "average" or int
        {reference}
    snr_db : float, optional
        Adds white noise whose power per channel is the whole recording's mean signal power
        divided by 10^(snr_db/10) (one extra pass over the input).
    seed : int, optional
        Seed of the noise generator.
    """


def run_eeg(input, output, *, leadfield, **options) -> Path:
    return _run_sensors("eeg", input, output, leadfield=leadfield, **options)


def run_meg(input, output, *, leadfield, **options) -> Path:
    return _run_sensors("meg", input, output, leadfield=leadfield, **options)


run_eeg.__doc__ = _SENSOR_DOC.format(modality="EEG", default="V",
                                     reference="EEG reference: None (at infinity), the "
                                               "average, or a channel index.")
run_meg.__doc__ = _SENSOR_DOC.format(modality="MEG", default="fT (T/m lead fields: fT/cm)",
                                     reference="Must be None (MEG has no reference).")


# --------------------------------------------------------------------------- demo
DEMO_FILES = ("neural", "leadfield_eeg", "leadfield_meg", "bold", "eeg", "meg")


def run_demo(directory="fwdmodels-demo", *, fmt="npz", force=False, progress=False,
             figure=True, seed=0) -> dict:
    """The main job on the embedded data: BOLD, EEG and MEG of the synthetic recording.

    Writes into ``directory`` (created if needed): ``neural.<fmt>`` (the recording of
    :func:`fwdmodels.datasets.synthetic_recording`), ``leadfield_eeg.<fmt>`` and
    ``leadfield_meg.<fmt>`` (three-shell sphere, 10-20 cap, 102 magnetometers), then, through
    :func:`run_bold`, :func:`run_eeg` and :func:`run_meg` on those files, ``bold.<fmt>``
    (TR 1 s, RK4, Friston 2003), ``eeg.<fmt>`` (µV, average reference, 20 dB SNR) and
    ``meg.<fmt>`` (fT, 20 dB SNR), and ``summary.png`` when matplotlib is installed and
    ``figure`` is true.

    Returns
    -------
    dict of name to pathlib.Path (``"figure"`` only when it was written).
    """
    from . import datasets

    fmt = str(fmt).lstrip(".")
    check_option(fmt, "format", ("npz", "h5", "mat"))
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise FwdModelsError(f"demo output '{directory}' exists and is not a directory; "
                             f"choose another with -o")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FwdModelsError(f"cannot create the demo directory '{directory}' "
                             f"({exc.strerror}); choose another with -o") from None
    paths = {name: directory / f"{name}.{fmt}" for name in DEMO_FILES}
    for path in paths.values():
        fio.check_output_path(path, force)
    rec = datasets.synthetic_recording(seed=seed)
    dt_s = float(rec.dt.to("s").magnitude)
    described = {"dataset": "fwdmodels.datasets.synthetic_recording", "seed": seed,
                 "region_names": list(rec.names), "task_regions": rec.task_regions.tolist()}
    meta = fio.build_metadata("neural", "activity", "dimensionless", ["time", "region"], dt_s,
                              t0_seconds=0.0, parameters=described)
    fio.save(paths["neural"], "activity", rec.activity, metadata=meta, force=force,
             extra={"positions_m": rec.positions.to("m").magnitude,
                    "orientations": rec.orientations, "design": rec.design})
    L_eeg, eeg_names, L_meg, meg_names = datasets.demo_leadfields(rec)
    if fmt in ("npz", "h5"):        # lead-field files: names and positions go into the outputs
        from .io.leadfield_file import write_leadfield_file
        from .make_leadfield import demo_region_leadfields

        for name, lf in zip(("leadfield_eeg", "leadfield_meg"), demo_region_leadfields(rec)):
            write_leadfield_file(paths[name], lf, force=force)
    for name, L, channels in (("leadfield_eeg", L_eeg, eeg_names),
                              ("leadfield_meg", L_meg, meg_names)) if fmt == "mat" else ():
        head = {"head": "three-shell sphere" if name.endswith("eeg") else "sphere (Sarvas)",
                "radii_m": datasets.HEAD["radii"].to("m").magnitude.tolist(),
                "conductivities_S_per_m": datasets.HEAD["conductivities"].magnitude.tolist(),
                "channels": list(channels), "regions": list(rec.names)}
        lmeta = fio.build_metadata("leadfield", "L", _unit_text(L.units), ["region", "sensor"],
                                   None, parameters=head)
        fio.save(paths[name], "L", L.magnitude, metadata=lmeta, force=force)
    run_bold(paths["neural"], paths["bold"], key="activity", tr="1 s", force=force,
             progress=progress)
    run_eeg(paths["neural"], paths["eeg"], key="activity", leadfield=paths["leadfield_eeg"],
            dipole_scale=datasets.DIPOLE_SCALE, sensor_unit="uV", reference="average",
            snr_db=20.0, seed=seed, force=force, progress=progress)
    run_meg(paths["neural"], paths["meg"], key="activity", leadfield=paths["leadfield_meg"],
            dipole_scale=datasets.DIPOLE_SCALE, sensor_unit="fT", snr_db=20.0,
            seed=seed + 1, force=force, progress=progress)
    if figure:
        try:
            from . import plotting

            plotting._matplotlib()
        except ImportError:
            return paths
        bold, binfo = fio.load(paths["bold"])
        eeg, _ = fio.load(paths["eeg"])
        meg, _ = fio.load(paths["meg"])
        task = int(rec.task_regions[0])
        other = int(np.setdiff1d(np.arange(len(rec.names)), rec.task_regions)[0])
        paths["figure"] = plotting.summary_figure(
            directory / "summary.png", bold=bold, bold_dt=float(binfo["dt"].to("s").magnitude),
            eeg=eeg, meg=meg, sensor_dt=dt_s, eeg_names=eeg_names, meg_names=meg_names,
            design=rec.design, design_dt=dt_s, bold_regions=[task, other])
    return paths
