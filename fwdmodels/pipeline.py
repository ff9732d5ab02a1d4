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
BOLD with a simulator's conventions is :func:`fwdmodels.pipeline_like.run_bold_like`; the
demo, which runs these jobs on the embedded data, is :func:`fwdmodels.demo.run_demo`.
"""

from __future__ import annotations

import numbers
import sys
from pathlib import Path

import numpy as np

from . import _stop
from . import io as fio
from ._carry import carried, read_leadfield, read_leadfield_and_sensors, sensor_parameters
from ._validation import check_int, compiled_all_finite
from .errors import FwdModelsError
from .hemodynamics.balloon import initial_state, read_neural_input
from .hemodynamics.plan import DEFAULT_METHOD, make_plan, read_dt
from .units import option_quantity, parse_unit, unit_text, ureg

__all__ = ["run_bold", "run_eeg", "run_meg", "resolve_dt", "default_chunk_size",
           "chunk_rows", "time_options", "read_leadfield", "leadfield_model", "signal_power",
           "signal_rms", "params_argument", "Progress"]

#: Sensor chunks are whole multiples of this many rows. An optimised BLAS (OpenBLAS, MKL)
#: computes a matrix product in blocks of a few rows, with other kernels for the leftover
#: rows, whose rounding differs in the last bit; with chunks aligned to the blocks, every row
#: is computed exactly as in one call on the whole series.
_BLAS_ROWS = 64
#: Bytes of input per chunk when ``chunk_size`` is not given.
CHUNK_BYTES = 1 << 23
#: Largest |snr_db|: a power ratio of 10^(±300), about the range of float64.
SNR_LIMIT_DB = 3000.0


# --------------------------------------------------------------------------- helpers
def default_chunk_size(n_columns: int, multiple: int = 1) -> int:
    """Rows per chunk: about 8 MB of float64 input, rounded up to a multiple of ``multiple``."""
    rows = max(1, CHUNK_BYTES // (8 * max(1, n_columns)))
    return -(-rows // multiple) * multiple


def chunk_rows(chunk_size, n_columns: int, multiple: int = 1) -> int:
    """Rows per chunk: ``chunk_size`` (a whole number >= 1) or :func:`default_chunk_size`,
    rounded up to a whole multiple of ``multiple``."""
    if chunk_size is None:
        return default_chunk_size(n_columns, multiple)
    return -(-check_int(chunk_size, "chunk_size", 1) // multiple) * multiple


def resolve_dt(file_dt, option_dt, path="input", where="the file"):
    """The input's time step, a time Quantity, from the file's value and/or the option; both
    given must agree. The option's text is parsed here, once; the Quantity goes on as it is
    (the hemodynamic plan reads it in seconds).

    Parameters
    ----------
    file_dt : pint.Quantity or None
        The time step stored in the input file.
    option_dt : str or pint.Quantity or None
        The time step given by the caller (``dt``), with its unit.
    path, where : str
        The input and where in it the time step was found, for the messages.
    """
    opt = option_quantity(option_dt, "dt", "[time]", "ms")
    if opt is not None and not (np.isfinite(opt.magnitude) and opt.magnitude > 0):
        raise FwdModelsError(f"`dt` must be positive; got {opt:~}")
    if file_dt is None and opt is None:
        raise FwdModelsError(f"'{path}' holds no time step; pass `dt` with its unit, e.g. "
                             f"`dt='0.1ms'`")
    if file_dt is not None and opt is not None:
        a, b = file_dt.to("s").magnitude, opt.to("s").magnitude
        if not np.isclose(a, b, rtol=1e-9, atol=0.0):
            raise FwdModelsError(f"`dt` {opt:~} conflicts with the time step {file_dt:~} "
                                 f"stored in '{path}' ({where}); drop `dt` to use the file's, "
                                 f"or fix the file")
    return file_dt if file_dt is not None else opt


def time_options(data: fio.InputArray, dt, tr, hemo_dt) -> tuple:
    """``(dt, tr, hemo_dt)`` of a BOLD run on ``data`` as Quantities: ``dt`` resolved against
    the file's, ``tr`` and ``hemo_dt`` None when not given (``hemo_dt`` also for ``"auto"``)."""
    auto = hemo_dt is None or (isinstance(hemo_dt, str) and hemo_dt.strip() == "auto")
    return (resolve_dt(data.dt, dt, data.path, data.dt_where),
            option_quantity(tr, "tr", "[time]", "s"),
            None if auto else option_quantity(hemo_dt, "hemo_dt", "[time]", "ms"))


class Progress:
    """A tqdm bar on stderr (shown after 2 s), or nothing when tqdm is missing or disabled.
    A context manager: the bar is closed on leaving."""

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

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _blocks(data: fio.InputArray, chunk: int):
    """``(batch, start, stop)`` over the input, batch-major then time; each chunk first raises
    a stop the command line recorded (:mod:`fwdmodels._stop`)."""
    batches = [None] if data.n_batch is None else range(data.n_batch)
    for b in batches:
        for start in range(0, data.n_times, chunk):
            _stop.check()
            yield b, start, min(start + chunk, data.n_times)


def _check_block(block: np.ndarray, start: int, batch, path) -> None:
    if compiled_all_finite(block) or np.isfinite(block).all():
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


def _input_unit(data: fio.InputArray):
    """The pint unit stored with the input's array, or None."""
    if data.unit in (None, ""):
        return None
    return parse_unit(data.unit, f"the unit of '{data.key}' in '{data.path}'")


def _dims(data: fio.InputArray, last: str) -> list:
    return (["batch"] if data.n_batch is not None else []) + ["time", last]


def _columns(data: fio.InputArray, b) -> slice:
    """The columns of batch member ``b`` in per-region arrays of all members."""
    n = data.n_regions
    return slice(0, n) if b is None else slice(b * n, (b + 1) * n)


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


def _neural(block: np.ndarray, unit) -> np.ndarray:
    """A block of neural input in the model's units (s^-2 or dimensionless), as floats."""
    if unit is None:
        return np.asarray(block, dtype=np.float64)
    return read_neural_input(ureg.Quantity(block, unit), "z", (2,), check=False)


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
        ``.npz``, ``.h5``, ``.mat`` or ``.zarr``; must not exist unless ``force=True``.
    dt : str or pint.Quantity, optional
        Time between input samples, with its unit (``"0.1 ms"``); needed if the file holds
        none, and must agree with it otherwise.
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
        dt_q, tr_q, hemo_q = time_options(data, dt, tr, hemo_dt)
        plan = make_plan(dt_q, params=params_argument(params), method=method, tr=tr_q,
                         tr_mode=tr_mode, hemo_dt=hemo_q, backend=backend, **(overrides or {}))
        dt_s = plan.dt
        grain = plan.tr_steps or 1                     # input rows per output row
        if data.n_times < grain:
            raise FwdModelsError(f"'{data.path}' holds {data.n_times} steps along its time "
                                 f"axis (axis {data.time_axis}; {data.n_times * dt_s:g} s), "
                                 f"shorter than one TR ({plan.tr:g} s); if time runs along "
                                 f"another axis (regions first), pass `time_axis`, otherwise "
                                 f"use a shorter `tr`")
        chunk = chunk_rows(chunk_size, data.n_regions, plan.piece)
        shape = data.shape[:-2] + (data.n_times // grain, data.n_regions)
        parameters = {**plan.metadata(), "init": init, "input_dt": dt_s,
                      "error_estimate": None,
                      "time_convention": "row n is the state at t = (n + 1) dt"}
        meta = fio.build_metadata("bold", "bold", "dimensionless", _dims(data, "region"),
                                  dt_s * grain, parameters=parameters,
                                  input_info=_input_info(data))
        with Progress(data.n_times * (data.n_batch or 1), progress, "BOLD") as bar, \
                fio.OutputFile(out_path, "bold", shape, metadata=meta, force=force) as out:
            error = _bold_chunks(data, plan, init, chunk, out, bar)
            if plan.method == "split":
                out.metadata["parameters"]["error_estimate"] = error
    return out_path


def _first_state(data: fio.InputArray, plan, init: str, b, unit) -> np.ndarray:
    """The state (4, N) that batch member ``b`` starts from (``"steady"``: at its first row)."""
    first = None
    if init == "steady":
        first = data.read(0, 1, b)[0]
        _check_block(first[None], 0, b, data.path)
        first = _neural(first[None], unit)[0]
    return initial_state(init, plan.params.member(b), (data.n_regions,), first)


def _bold_chunks(data: fio.InputArray, plan, init: str, chunk: int, out, bar) -> float:
    """Integrate the input chunk by chunk into ``out``; return the split method's largest
    error estimate (0 for the other methods)."""
    unit = _input_unit(data)
    regions = (data.n_batch, data.n_regions) if data.n_batch else (data.n_regions,)
    p_all, hold_all = plan.packed(regions), plan.hold(regions)
    grain, error = plan.tr_steps or 1, 0.0
    for b, start, stop in _blocks(data, chunk):
        cols = _columns(data, b)
        if start == 0:
            state = _first_state(data, plan, init, b, unit)
        block = _neural(data.read(start, stop, b), unit)
        _check_block(block, start, b, data.path)
        bold, _, err = plan.run(block, state, p_all[:, cols],
                                None if hold_all is None else hold_all[:, :, cols],
                                t0_index=start)
        if err is not None and err.size:
            error = max(error, float(err.max()))
        out.write(start // grain, bold, batch=b)
        bar.update(stop - start)
    return error


# --------------------------------------------------------------------------- EEG / MEG
def leadfield_model(modality: str, L, *, dipole_scale=None, sensor_unit=None, reference=None,
                    noise_cov=None, seed=None):
    """The EEG or MEG model of the lead field ``L`` (R, M Quantity) for a run.

    ``dipole_scale`` (e.g. ``"2 nA*m/mV"``) must carry its unit; ``seed`` seeds the noise
    generator; the others are those of :class:`fwdmodels.leadfield.LeadFieldModel`.
    """
    from .leadfield import EEGLeadFieldModel, MEGLeadFieldModel

    cls = EEGLeadFieldModel if modality == "eeg" else MEGLeadFieldModel
    scale = option_quantity(dipole_scale, "dipole_scale", None, "nA*m/mV")
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


def _check_snr(snr_db) -> None:
    if snr_db is not None and (isinstance(snr_db, bool) or not isinstance(
            snr_db, numbers.Real) or not np.isfinite(snr_db) or abs(snr_db) > SNR_LIMIT_DB):
        raise FwdModelsError(f"`snr_db` must be a finite number of dB within "
                             f"±{SNR_LIMIT_DB:g} (a power ratio of 10^±300, the range of "
                             f"float64); got {snr_db!r}")


def _noisy_model(modality, L, data, chunk, unit, snr_db, options: dict) -> tuple:
    """``(model, noise_std)``: the run's model, with white noise of ``snr_db`` below the
    whole recording's mean signal power (measured in one pass over ``data``)."""
    from .leadfield.noise import snr_noise_std

    model = leadfield_model(modality, L, **options)      # its options checked before a pass
    if snr_db is None:
        return model, None
    clean = leadfield_model(modality, L, dipole_scale=options.get("dipole_scale"),
                            sensor_unit=options.get("sensor_unit"))
    rms = signal_rms(data, clean, chunk, unit)
    noise_std = snr_noise_std(rms, float(snr_db), None)
    if not noise_std <= 1e150:      # its square, the covariance, must stay finite
        raise FwdModelsError(
            f"`snr_db` {snr_db!r} below the input's signal (RMS {rms:.3g} "
            f"{clean.sensor_unit:~}) asks for noise of standard deviation {noise_std:.3g} "
            f"{clean.sensor_unit:~}, whose variance overflows float64; scale the input down "
            f"(`dipole_scale`, its unit) or raise `snr_db`")
    cov = np.eye(L.shape[1]) * noise_std ** 2
    return leadfield_model(modality, L, noise_cov=cov, **options), noise_std


def _sensor_chunks(data: fio.InputArray, model, chunk: int, unit, out, bar) -> None:
    for b, start, stop in _blocks(data, chunk):
        block = data.read(start, stop, b)
        _check_block(block, start, b, data.path)
        x = block if unit is None else ureg.Quantity(block, unit)
        out.write(start, model(x).magnitude, batch=b)
        bar.update(stop - start)


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
    _check_snr(snr_db)
    with fio.open_input(input, key, time_axis, dt_unit) as data:
        dt_s = read_dt(resolve_dt(data.dt, dt, data.path, data.dt_where))
        if fif:
            fmne.check_raw_output(out_path, data.shape)
        vertex = {k: v for k, v in (("reduce", reduce), ("nan_sensors", nan_sensors))
                  if v is not None}
        L, sensors = read_leadfield_and_sensors(
            leadfield, modality, key=leadfield_key, unit=leadfield_unit,
            n_regions=data.n_regions, parcellation=parcellation, meg_channels=meg_channels,
            vertex_options=vertex)
        unit = _input_unit(data)
        chunk = chunk_rows(chunk_size, data.n_regions + L.shape[1], _BLAS_ROWS)
        model, noise_std = _noisy_model(modality, L, data, chunk, unit, snr_db, dict(
            dipole_scale=dipole_scale, sensor_unit=sensor_unit, reference=reference,
            seed=seed))
        extra, names = carried(sensors, data, L.shape[0])
        parameters = sensor_parameters(model, L, sensors, names, dict(
            leadfield=leadfield, leadfield_key=leadfield_key, reference=reference,
            snr_db=snr_db, noise_std=noise_std, seed=seed, parcellation_file=parc_file))
        meta = fio.build_metadata(modality, modality, unit_text(model.sensor_unit),
                                  _dims(data, "sensor"), dt_s, parameters=parameters,
                                  input_info=_input_info(data))
        shape = data.shape[:-1] + (L.shape[1],)
        writer = (fio.OutputFile(out_path, modality, shape, metadata=meta, force=force,
                                 extra=extra)
                  if not fif else fmne.RawOutputFile(out_path, modality, shape, metadata=meta,
                                                     force=force, sensors=sensors))
        with Progress(data.n_times * (data.n_batch or 1), progress, modality.upper()) as bar, \
                writer as out:
            _sensor_chunks(data, model, chunk, unit, out, bar)
    return out_path


_SENSOR_DOC = """{modality} of a saved source time series, written to ``output``.

    Parameters
    ----------
    input : path
        ``(T, R)`` or ``(B, T, R)`` source activity (see :func:`run_bold` for formats, ``key``,
        ``time_axis``, ``dt``, ``dt_unit``, ``chunk_size``, ``force`` and ``progress``). A bare
        array is read in nA·m, or, with ``dipole_scale``, in the scale's denominator unit (mV
        for ``"1.5 nA*m/mV"``); a unit stored in the file is used instead.
    output : path
        ``.npz``, ``.h5`` or ``.mat``; or an MNE-Python ``Raw`` ``.fif`` (needs mne; the name
        must end with ``_raw.fif``, ``-raw.fif``, ``_eeg.fif`` or ``_meg.fif``), in SI units.
    leadfield : path
        A fwdmodels lead-field file (``fwdmodels leadfield``: unit, names and positions come
        with it), an ``(R, M)`` lead field file (unit from the file or ``leadfield_unit``; the
        array ``leadfield_key`` of a file that holds several), or an MNE-Python forward
        solution ``-fwd.fif`` (needs mne). The sensor names and positions and the region
        names it has are written with the output (see :func:`fwdmodels._carry.carried`; a
        Raw ``.fif`` gets them as its channels).
    parcellation : path or array, optional
        With a ``-fwd.fif`` or a vertex-level lead field: the region of each source vertex
        (see :func:`~fwdmodels.leadfield.forward.read_forward_leadfield`); default one region
        per source.
        ``reduce`` ("mean" or "sum") and ``nan_sensors`` ("drop", "zero", "refuse") say how
        vertices combine and what becomes of sensors with NaN values.
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

