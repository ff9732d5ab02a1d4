"""Forward models on dask arrays: lazy, chunk by chunk, on any dask scheduler (``dask`` extra).

:func:`simulate_bold` and :func:`apply_leadfield` take a ``dask.array`` and return a lazy
``dask.array`` of the same numbers as the in-memory functions; nothing is computed until the
result is (``.compute()``, ``dask.array.store``, or written in parallel to a Zarr store with
:func:`fwdmodels.io.zarr.write_dask`), but for the noise level of a lead-field model that has
none yet (see below). They run on the threaded scheduler, on processes, or on
a ``dask.distributed`` cluster alike.

BOLD: carried state, not one time chunk
    Regions and batch members are independent, so each (batch, region) block of ``z`` is
    its own chain of tasks along time: the task for time chunk ``k`` starts from the
    hemodynamic state (4 numbers per region) left by chunk ``k - 1`` and hands on its own. The
    alternative, rechunking time into one chunk per region block, needs the whole recording
    of a block in one task's memory, which is what outgrows a machine for a whole-brain run
    at 0.1 ms; with the carried state a task holds one chunk, region blocks run in parallel,
    and the output streams out chunk by chunk. Because :meth:`fwdmodels.BOLDSignal.run` gives
    the same numbers in pieces as at once, the result is bit-for-bit that of
    :func:`fwdmodels.simulate_bold` (``method="reference"`` aside: its adaptive steps
    restart at chunk boundaries). Time chunks are rounded up to whole TRs and whole
    hemodynamic steps of the split method, so every TR window and step lies in one chunk.

Lead fields: the model's own arithmetic, noise from the seed whatever the chunks
    Each time chunk is computed by the model's
    :meth:`~fwdmodels.LeadFieldModel.forward_block` (units, dipole scale, noise at the
    model's level, then the reference), as a call of the model is. The noise is drawn in
    fixed blocks of :data:`NOISE_ROWS` time rows, block ``k`` of batch member ``b`` from a
    generator of ``numpy.random.SeedSequence(seed, spawn_key=(b, k))``, moved to the first
    row a chunk needs of it. So the noise depends on the seed only, not on the chunking, the
    scheduler or the order in which tasks run, and each block is the noise an in-memory
    model draws for those rows from that generator (for a series within one block: a call
    of a model built with ``rng`` that generator). The level of ``snr_db`` is the model's:
    stated (``signal_power=``), calibrated (``calibrate()``), set by an earlier call, or
    else measured once on all of the dask array and kept by the model, as a first call
    would.
"""

from __future__ import annotations

import contextlib
import threading

import numpy as np

from ._validation import check_dtype, check_int, check_option
from .errors import FwdModelsError, MissingDependencyError

__all__ = ["simulate_bold", "apply_leadfield", "NOISE_ROWS"]

#: Time rows per noise block of :func:`apply_leadfield` (see the module notes).
NOISE_ROWS = 4096
#: Rows of normal numbers drawn at once to move a block's generator to a chunk's first row.
_SKIP_ROWS = 512

_KERNEL_LOCK = threading.Lock()


def _dask_array():
    try:
        import dask
        import dask.array as da
    except ImportError:
        raise MissingDependencyError("dask", "dask", "fwdmodels.distributed") from None
    return dask, da


def _as_dask(z, name: str, da):
    if not isinstance(z, da.Array):
        array = np.asarray(z)
        if array.dtype.kind not in "biuf":
            raise FwdModelsError(f"`{name}` must be a dask array of numbers; got "
                                 f"{type(z).__name__} of dtype {array.dtype}")
        z = da.from_array(array)
    if z.dtype.kind not in "biuf":
        raise FwdModelsError(f"`{name}` must hold real numbers; got dtype {z.dtype}")
    if z.ndim not in (2, 3):
        raise FwdModelsError(f"`{name}` must be 2-D (T, N) or 3-D (B, T, N); got shape "
                             f"{z.shape} ({z.ndim}-D)")
    if any(np.isnan(c) for c in z.shape):
        raise FwdModelsError(f"`{name}` must have known chunk sizes; got shape {z.shape} "
                             f"(call z.compute_chunk_sizes() first)")
    return z


def _kernel_guard(backend: str):
    """A lock around the hemodynamic kernel when Numba's threading layer is ``workqueue``.

    Dask runs tasks on several threads; Numba's ``omp`` and ``tbb`` layers accept parallel
    kernels launched from several threads at once, ``workqueue`` does not.
    """
    from .hemodynamics.engine import resolve_backend

    if resolve_backend(backend) != "numba":
        return contextlib.nullcontext()
    import numba

    try:
        layer = numba.threading_layer()
    except ValueError:              # no parallel kernel ran yet in this process
        return _KERNEL_LOCK
    return _KERNEL_LOCK if layer == "workqueue" else contextlib.nullcontext()


def _nonfinite(block: np.ndarray, offsets, name: str, labels) -> FwdModelsError:
    index = np.unravel_index(int(np.argmin(np.isfinite(block).ravel())), block.shape)
    where = ", ".join(f"{label} {o + i}" for label, o, i in zip(labels, offsets, index))
    return FwdModelsError(f"`{name}` must be finite; found {float(block[index])!r} at {where}")


def _time_chunks(chunks: tuple, grain: int) -> int | None:
    """A time chunk size, a whole multiple of ``grain``, when ``chunks`` (all but the last)
    are not already whole multiples of it; None when they are."""
    if all(c % grain == 0 for c in chunks[:-1]):
        return None
    size = -(-max(chunks) // grain) * grain
    return size


# --------------------------------------------------------------------------- BOLD
def _init_for(init, shape_full, index):
    """``init`` for one block: a string as it is; a dict's arrays broadcast and sliced."""
    if isinstance(init, str) or init is None:
        return init
    if not isinstance(init, dict):
        raise FwdModelsError(f"`init` must be 'rest', 'steady', 'brainmass' or a dict of x, "
                             f"f, v, q; got {init!r}")
    from .hemodynamics.balloon import read_neural_input

    out = {}
    for key, value in init.items():
        array = read_neural_input(value, f"init[{key!r}]", (0, 1, 2))
        try:
            out[key] = np.broadcast_to(array, shape_full)[index]
        except ValueError:
            raise FwdModelsError(f"`init[{key!r}]` must be a scalar or have shape "
                                 f"{shape_full}; got shape {array.shape}") from None
    return out


def _bold_chunk(prev, block, *, plan, p, hold, init, init_full, init_index, batched, t0, b0,
                n0, unit, dtype):
    """One time chunk of one (batch, region) block: ``(output rows, state after it)``."""
    from .hemodynamics.balloon import _output, initial_state

    block = np.asarray(block, dtype=np.float64)
    if not np.isfinite(block).all():
        labels = ("batch", "time index", "region") if batched else ("time index", "region")
        offsets = (b0, t0, n0) if batched else (t0, n0)
        raise _nonfinite(block, offsets, "z", labels)
    rows = block.transpose(1, 0, 2) if batched else block        # (t, [b,] n)
    in_shape = rows.shape[1:]
    flat = np.ascontiguousarray(rows.reshape(rows.shape[0], -1))
    if prev is None:
        start = _init_for(init, init_full, init_index)
        state = initial_state(start, plan.params.select(init_index, init_full), in_shape,
                              rows[0])
    else:
        state = prev.copy()
    # NumPy sums a single column (a fixed-step method's TR means) pairwise, several columns
    # row by row: a one-region block is run as two equal columns to round as the whole does.
    pad = flat.shape[1] == 1 and int(np.prod(init_full)) > 1 and plan.method != "split"
    if pad:
        flat, state = np.repeat(flat, 2, axis=1), np.repeat(state, 2, axis=1)
        p, hold = np.repeat(p, 2, axis=1), np.repeat(hold, 2, axis=-1)
    with _kernel_guard(plan.backend):
        bold, _, _ = plan.run(flat, state, p, hold, t0_index=t0)
    if pad:
        bold, state = bold[:, :1], state[:, :1]
    bold = bold.reshape((bold.shape[0],) + in_shape)
    if batched:
        bold = bold.transpose(1, 0, 2)
    values = _output(np.ascontiguousarray(bold), unit, dtype).magnitude
    return values, state


def simulate_bold(z, dt, *, params="friston2003", method="split", init="rest", tr=None,
                  tr_mode="sample", backend="auto", dtype=np.float64, unit="dimensionless",
                  hemo_dt=None, **overrides):
    """The BOLD signal of a dask array, as a lazy dask array (see the module notes).

    Parameters
    ----------
    z : dask.array.Array, shape (T, N) or (B, T, N)
        Neural input, time first, chunked in any way (a NumPy array is wrapped in one
        chunk). A bare array, as for :func:`fwdmodels.simulate_bold`.
    dt : pint.Quantity or str
        Time between input samples, with its unit (``"0.1 ms"``).
    params, method, init, tr, tr_mode, backend, dtype, unit, hemo_dt, **overrides
        As for :func:`fwdmodels.simulate_bold` (``init`` as a dict holds ``(N,)`` or
        ``(B, N)`` arrays; per-region parameters ``(N,)`` or ``(B, N)``).

    Returns
    -------
    dask.array.Array
        The BOLD signal in ``unit`` (dimensionless by default) and ``dtype``, ``(T', N)`` or
        ``(B, T', N)``, row ``n`` at ``t = (n + 1)`` times dt or the TR; chunked like ``z``
        over batch and regions, and over time like ``z`` rounded up to whole hemodynamic
        steps and TRs. A trailing partial TR is dropped, as in the in-memory function.
    """
    dask, da = _dask_array()
    from .hemodynamics.balloon import INITS, _output
    from .hemodynamics.plan import make_plan

    z = _as_dask(z, "z", da)
    plan = make_plan(dt, params=params, method=method, tr=tr, tr_mode=tr_mode,
                     hemo_dt=hemo_dt, backend=backend, **overrides)
    dtype = check_dtype(dtype)
    _output(np.zeros(1), unit, dtype)                 # checks the unit now, not in a task
    if isinstance(init, str):
        check_option(init, "init", INITS)
    batched = z.ndim == 3
    B = z.shape[0] if batched else None
    T, N = z.shape[-2], z.shape[-1]
    init_full = (B, N) if batched else (N,)
    _init_for(init, init_full, Ellipsis)              # checks a dict init now
    steps = plan.tr_steps
    if steps is not None and T < steps:
        raise FwdModelsError(f"`z` holds {T} steps ({T * plan.dt:g} s), shorter than one TR "
                             f"({plan.tr:g} s); use a shorter `tr`")
    time_axis = z.ndim - 2
    size = _time_chunks(z.chunks[time_axis], plan.piece)
    if size is not None:
        z = z.rechunk({time_axis: size})
    options = dict(plan=plan, init=init, init_full=init_full, batched=batched, unit=unit,
                   dtype=dtype)
    grid = _bold_grid(z, options, dask, da)
    return da.block(grid.tolist() if batched else grid[0].tolist())


def _starts(chunks) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(chunks)])[:-1].astype(int)


def _bold_grid(z, options: dict, dask, da) -> np.ndarray:
    """The output blocks of :func:`simulate_bold`, (batch, time, region) chunks of object
    dtype: per (batch, region) block, one chain of :func:`_bold_chunk` tasks along time."""
    plan, batched, init_full = options["plan"], options["batched"], options["init_full"]
    steps = plan.tr_steps
    p_all, hold_all = plan.packed(init_full), plan.hold(init_full)
    blocks = z.to_delayed()
    advance = dask.delayed(_bold_chunk, pure=True, nout=2)
    t_chunks, n_chunks = z.chunks[z.ndim - 2], z.chunks[-1]
    b_chunks = z.chunks[0] if batched else (1,)
    t_starts = _starts(t_chunks)
    out_rows = [n // steps if steps is not None else n for n in t_chunks]
    columns = np.arange(int(np.prod(init_full))).reshape(init_full)
    kept = [k for k, n in enumerate(out_rows) if n > 0]
    grid = np.empty((len(b_chunks), len(kept), len(n_chunks)), dtype=object)
    for bi, (b0, nb) in enumerate(zip(_starts(b_chunks), b_chunks)):
        for ni, (n0, nn) in enumerate(zip(_starts(n_chunks), n_chunks)):
            index = (slice(b0, b0 + nb), slice(n0, n0 + nn)) if batched else \
                slice(n0, n0 + nn)
            cols = columns[index].reshape(-1)
            p, hold = p_all[:, cols], hold_all[:, :, cols]
            state = None
            for out_k, k in enumerate(kept):
                block = blocks[bi, k, ni] if batched else blocks[k, ni]
                values, state = advance(state, block, t0=int(t_starts[k]), b0=int(b0),
                                        n0=int(n0), init_index=index, p=p, hold=hold,
                                        **options)
                shape = ((nb,) if batched else ()) + (out_rows[k], nn)
                grid[bi, out_k, ni] = da.from_delayed(values, shape=shape,
                                                      dtype=options["dtype"])
    return grid


# --------------------------------------------------------------------------- lead fields
def _noise_pieces(entropy: int, batch: int, t0: int, t1: int, n_channels: int):
    """``(start, stop, generator)`` for each noise block that rows ``t0:t1`` of one batch
    member overlap, the generator of block ``k`` positioned at row ``start`` of it."""
    for k in range(t0 // NOISE_ROWS, -(-t1 // NOISE_ROWS)):
        first = k * NOISE_ROWS
        start, stop = max(t0, first), min(t1, first + NOISE_ROWS)
        rng = np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=(batch, k)))
        for row in range(first, start, _SKIP_ROWS):          # the block's rows before `start`
            rng.standard_normal((min(_SKIP_ROWS, start - row), n_channels))
        yield start, stop, rng


def _locate(s: np.ndarray, block_info):
    """``(first batch index, first and stop time index, the block as (b, t, R))`` of a dask
    block, refused naming ``s`` and the whole array's indices when it is not finite."""
    location = block_info[0]["array-location"]
    batched = s.ndim == 3
    b0 = location[0][0] if batched else 0
    t0, t1 = location[-2]
    s3 = np.asarray(s) if batched else np.asarray(s)[None]
    if not np.isfinite(s3).all():
        labels = ("batch", "time index", "region") if batched else ("time index", "region")
        offsets = (b0, t0, 0) if batched else (t0, 0)
        raise _nonfinite(s3 if batched else s3[0], offsets, "s", labels)
    return b0, t0, t1, s3


def _leadfield_chunk(s, *, model, unit, entropy, block_info=None):
    """One block of :func:`apply_leadfield`: :meth:`~fwdmodels.LeadFieldModel.forward_block`,
    once for the block without noise, once per batch member and noise block with it."""
    b0, t0, t1, s3 = _locate(s, block_info)
    batched = s.ndim == 3
    if not model.has_noise:
        return model.forward_block(s3 if batched else s3[0], unit=unit,
                                   offset=(b0 if batched else None, t0))
    y = np.empty(s3.shape[:-1] + (model.out_size,), dtype=model.dtype)
    for i in range(s3.shape[0]):
        for start, stop, rng in _noise_pieces(entropy, b0 + i, t0, t1, model.out_size):
            rows = slice(start - t0, stop - t0)
            model.forward_block(s3[i, rows], unit=unit, rng=rng,
                                offset=(b0 + i if batched else None, start), out=y[i, rows])
    return y if batched else y[0]


def _rms_parts(s, *, lead, block_info=None):
    """``RunningRMS.parts`` of the noise-free signal of one block, shaped (1, …, 1, 3)."""
    from .leadfield.noise import RunningRMS

    *_, s3 = _locate(s, block_info)
    acc = RunningRMS()
    acc.add(np.asarray(s3, dtype=np.float64).reshape(-1, s3.shape[-1]) @ lead)
    return np.reshape(acc.parts, (1,) * (s.ndim - 1) + (3,))


def _fix_level(model, s, unit, da) -> None:
    """Set the noise level of a model without one from the noise-free signal of all of ``s``
    (one parallel pass, now), as the model's first call would."""
    from .leadfield.noise import RunningRMS

    lead = model.matrix.astype(np.float64) * (1.0 if unit is None else model.input_factor(unit))
    chunks = tuple((1,) * len(c) for c in s.chunks[:-1]) + ((3,),)
    parts = da.map_blocks(_rms_parts, s, lead=lead, chunks=chunks, dtype=np.float64,
                          meta=np.empty((0,) * s.ndim)).compute()
    acc = RunningRMS()
    for scale, ssq, count in parts.reshape(-1, 3):
        acc.merge(scale, ssq, count)
    signal_rms, n_samples = acc.value(), int(np.prod(s.shape[:-1]))
    advice = ("set model.signal_power, or call model.calibrate(series), before "
              "apply_leadfield")
    if n_samples < 2:
        raise FwdModelsError(f"`s` of a single time step cannot set the noise level of "
                             f"`snr_db`; {advice}; got one sample")
    if signal_rms == 0.0:
        raise FwdModelsError(f"`s` is silent (zero signal) and cannot set the noise level of "
                             f"`snr_db`; {advice}; got a signal power of 0")
    if not np.isfinite(signal_rms ** 2):
        raise FwdModelsError(f"`s` gives a noise-free signal of RMS {signal_rms:.3g} "
                             f"{model.sensor_unit:~}, whose power overflows float64 and "
                             f"cannot set the noise level of `snr_db`; scale `s` down")
    model.signal_power = signal_rms ** 2


def _split_quantity(s):
    """``(magnitude, unit or None)`` of a pint or brainunit Quantity, or ``(s, None)``."""
    import pint

    from .units import from_brainunit, is_brainunit_quantity

    if is_brainunit_quantity(s):
        s = from_brainunit(s)
    if isinstance(s, pint.Quantity):
        return s.magnitude, s.units
    return s, None


def apply_leadfield(model, s, *, seed=None):
    r"""A lead-field model applied to a dask array, as a lazy dask array (see the module notes).

    Each block is :meth:`~fwdmodels.LeadFieldModel.forward_block`:
    :math:`y = (c\,s)\,\tilde L + \sigma\,z\,F^\top`, then :math:`y \leftarrow y\,P`, with the
    model's units, dipole scale, noise level and reference.

    Parameters
    ----------
    model : fwdmodels.LeadFieldModel
        An EEG, MEG (or generic) model with a fixed-orientation lead field: its lead field,
        dipole scale, sensor unit, reference, noise covariance, ``snr_db`` and noise level
        are used. A model with ``snr_db`` whose level is not set yet (no ``signal_power=``,
        no :meth:`~fwdmodels.LeadFieldModel.calibrate`, no call) has it set here from the
        whole of ``s``, as its first call would: one pass over ``s``, computed at once.
    s : dask.array.Array or pint.Quantity of one, shape (T, R) or (B, T, R)
        Source activity, time first, chunked over time (and batch) in any way; the region
        axis is made one chunk. A bare array is read in ``model.input_unit`` (nA·m, or the
        dipole scale's denominator unit).
    seed : int or numpy.random.SeedSequence, optional
        Seed of the noise. By default one number is drawn from ``model.rng``, so a model
        built with ``rng=<int>`` gives the same noise each time a script runs, and successive
        calls on one model get different noise, as successive in-memory calls do.

    Returns
    -------
    dask.array.Array
        ``(T, M)`` or ``(B, T, M)`` in ``model.sensor_unit`` and ``model.dtype``, chunked like
        ``s`` over batch and time. Noise-free, it equals ``model(s)``: bit for bit when the
        time chunks are whole multiples of 64 rows (the BLAS then computes each row as in
        one call), otherwise to the last bits. With noise, block ``k`` of batch member ``b``
        equals ``model.forward_block(s[b, rows], rng=numpy.random.default_rng(
        numpy.random.SeedSequence(seed, spawn_key=(b, k))))`` on its rows.
    """
    dask, da = _dask_array()
    from .leadfield import LeadFieldModel

    if not isinstance(model, LeadFieldModel):
        raise FwdModelsError(f"`model` must be a fwdmodels LeadFieldModel (EEG or MEG); got "
                             f"{type(model).__name__}")
    if model.free_orientation:
        raise FwdModelsError("`model` has a free-orientation lead field (R, 3, M); give "
                             "`orientations` when building it to apply it to a dask array")
    s, unit = _split_quantity(s)
    if unit is not None:
        model.input_factor(unit)                 # a wrong unit is refused now, not in a task
    s = _as_dask(s, "s", da)
    R = model.in_size
    if s.shape[-1] != R:
        raise FwdModelsError(f"`s` must have shape (T, R) or (B, T, R) with R = in_size = "
                             f"{R}; got shape {s.shape}")
    if len(s.chunks[-1]) > 1:
        s = s.rechunk({s.ndim - 1: -1})
    entropy = 0
    if model.has_noise:
        if seed is None:
            entropy = int(model.rng.integers(2 ** 63))
        elif isinstance(seed, np.random.SeedSequence):
            entropy = seed.entropy
        else:
            entropy = check_int(seed, "seed", 0)
        if model.snr_db is not None and model.signal_power is None:
            _fix_level(model, s, unit, da)
    chunks = s.chunks[:-1] + ((model.out_size,),)
    return da.map_blocks(_leadfield_chunk, s, chunks=chunks, dtype=model.dtype,
                         meta=np.empty((0,) * s.ndim, dtype=model.dtype), model=model,
                         unit=unit, entropy=entropy)
