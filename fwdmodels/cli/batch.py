"""``fwdmodels batch``: many saved simulations processed on a Dask cluster, one task per file.

::

    fwdmodels batch 'sims/*.npz' -o bold/ --model bold --tr 2s --workers 4
    fwdmodels batch 'sims/**/*.h5' -o eeg/ --model eeg --leadfield L.npz \\
        --scheduler tcp://scheduler:8786

Each input ``NAME.ext`` gives ``OUTDIR/NAME.<format>``, made by
:func:`fwdmodels.pipeline.run_bold`, :func:`~fwdmodels.pipeline.run_eeg` or
:func:`~fwdmodels.pipeline.run_meg` on one worker (chunked, state carried, written
atomically). The tasks run on an existing Dask scheduler (``--scheduler ADDRESS``; its workers
must see the same paths) or on a local cluster of ``--workers N`` processes, each with
``cores / N`` threads for its kernels.

* A failing file (corrupt, wrong shape, no dt...) is reported with its reason; the others go on.
* Outputs are atomic, so an existing output is a complete one: a rerun skips it when its
  metadata says it was made from the same input (same SHA-256) with the same options, and
  reports it as failed when it was not (``--force`` recomputes every output).
* A summary ends the run; ``--report FILE`` also writes every file's outcome as JSON.

Exit status: 0 when every file is done or skipped, 1 when any failed (as ``crossval`` uses 1
for "ran, but the answer is no"), 2 for bad options (raised as
:class:`~fwdmodels.errors.FwdModelsError` before any work starts).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from .. import _stop
from ..errors import FwdModelsError, MissingDependencyError
from ..io._atomic import _same_file
from .argtypes import axis, override, positive_int, quantity_text, reference, seed, snr_db
from .flags import flag_table, to_flags

__all__ = ["add_parser", "run", "process_file", "collect_inputs", "FORMATS"]

FORMATS = ("npz", "h5", "mat", "zarr")
MODELS = ("bold", "eeg", "meg")
#: How long to try reaching a ``--scheduler`` before giving up (a dask duration).
CONNECT_TIMEOUT = "15s"


# --------------------------------------------------------------------------- parser
def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``batch`` sub-command to a CLI's sub-parsers."""
    p = subparsers.add_parser(
        "batch", help="process many saved simulations on a Dask cluster, one task per file",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="BOLD, EEG or MEG of every file matching PATTERN, one task per file on a "
                    "Dask cluster: an existing scheduler (--scheduler) or a local one "
                    "(--workers). Failing files are reported and the others go on; outputs "
                    "already complete with the same options are skipped. Exit 0: all done; "
                    "1: some failed; 2: bad options.",
        epilog="examples:\n"
               "  fwdmodels batch 'sims/*.npz' -o out/ --model bold --tr 2s --workers 2\n"
               "  fwdmodels batch 'sims/*.h5' -o out/ --model eeg --leadfield L.npz "
               "--scheduler tcp://host:8786")
    p.add_argument("patterns", nargs="+", metavar="PATTERN",
                   help="input files or glob patterns (quote them; ** searches sub-folders)")
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR",
                   help="directory for the outputs (created if needed): OUTDIR/NAME.FORMAT")
    p.add_argument("--model", required=True, choices=MODELS, help="what to compute")
    p.add_argument("--format", choices=FORMATS, default="npz",
                   help="output format (default npz; zarr needs fwdmodels[dask])")
    cluster = p.add_mutually_exclusive_group()
    cluster.add_argument("--scheduler", metavar="ADDRESS",
                         help="address of a running Dask scheduler (e.g. tcp://host:8786); "
                              "its workers must see the same file paths")
    cluster.add_argument("--workers", type=positive_int, metavar="N",
                         help="start a local cluster of N worker processes (default: one per "
                              "core)")
    p.add_argument("--report", metavar="FILE", help="write every file's outcome as JSON")
    _input_group(p)
    _bold_group(p)
    _sensor_group(p)
    p.set_defaults(run=run, flags=flag_table([p]))
    return p


def _input_group(p) -> None:
    g = p.add_argument_group("input (as for fwdmodels bold/eeg/meg)")
    g.add_argument("--key", metavar="NAME", help="array name in files that hold several")
    g.add_argument("--time-axis", type=axis, metavar="AXIS", help="axis that is time")
    g.add_argument("--dt", metavar="DT", type=quantity_text,
                   help="time step WITH its unit when files hold none")
    g.add_argument("--dt-unit", metavar="UNIT", type=quantity_text,
                   help="unit of a bare dt stored in the files")
    g.add_argument("--chunk-size", type=positive_int, metavar="STEPS",
                   help="time steps read at once per file")
    g.add_argument("--force", action="store_true", help="recompute and overwrite every output")
    g.add_argument("-q", "--quiet", action="store_true",
                   help="only failures and the summary")


def _bold_group(p) -> None:
    from ..hemodynamics import PRESETS
    from ..hemodynamics.balloon import INITS
    from ..hemodynamics.engine import BACKENDS, METHODS
    from ..hemodynamics.plan import DEFAULT_METHOD
    from ..hemodynamics.sampling import TR_MODES

    b = p.add_argument_group("bold (as for fwdmodels bold)")
    b.add_argument("--tr", metavar="TR", type=quantity_text,
                   help="repetition time WITH its unit")
    b.add_argument("--tr-mode", choices=TR_MODES, default=TR_MODES[0])
    b.add_argument("--method", choices=METHODS, default=DEFAULT_METHOD)
    b.add_argument("--params", default="friston2003", metavar="PRESET|FILE",
                   help="parameter preset (" + ", ".join(sorted(PRESETS)) + ") or file")
    b.add_argument("--set", dest="overrides", type=override, action="append", default=[],
                   metavar="NAME=VALUE")
    b.add_argument("--init", choices=INITS, default=INITS[0])
    b.add_argument("--backend", choices=BACKENDS, default="auto")
    b.add_argument("--hemo-dt", default="auto", metavar="STEP",
                   help="hemodynamic step of --method split WITH its unit, or 'auto' "
                        "(default)")


def _sensor_group(p) -> None:
    s = p.add_argument_group("eeg / meg (as for fwdmodels eeg/meg)")
    s.add_argument("--leadfield", metavar="L", help="lead field (regions, sensors)")
    s.add_argument("--leadfield-key", metavar="NAME")
    s.add_argument("--leadfield-unit", metavar="UNIT", type=quantity_text)
    s.add_argument("--dipole-scale", metavar="Q", type=quantity_text)
    s.add_argument("--sensor-unit", metavar="UNIT", type=quantity_text)
    s.add_argument("--reference", type=reference, default=None, metavar="REF",
                   help="EEG only: 'average', 'none' (default) or a channel index")
    s.add_argument("--noise-snr-db", dest="snr_db", type=snr_db, metavar="DB")
    s.add_argument("--seed", type=seed, metavar="INT")


# --------------------------------------------------------------------------- planning
def collect_inputs(patterns) -> list[Path]:
    """Absolute paths of the files (or ``.zarr`` stores) matching ``patterns``, sorted."""
    from ..io._atomic import TEMP_SUFFIX

    found: dict[str, Path] = {}
    for pattern in patterns:
        matches = glob.glob(os.path.expanduser(pattern), recursive=True)
        if not matches and os.path.exists(pattern):
            matches = [pattern]
        for match in matches:
            path = Path(match).resolve()
            if TEMP_SUFFIX in path.name or (path.is_dir() and path.suffix != ".zarr"):
                continue
            found[str(path)] = path
    if not found:
        raise FwdModelsError(f"PATTERN {' '.join(patterns)!r} matches no file; quote a glob "
                             f"such as 'sims/*.npz' or check the folder")
    return [found[k] for k in sorted(found)]


def _hemo_dt(text):
    return "auto" if text is None else text.strip()


def _bold_job(args, common: dict) -> tuple[dict, dict]:
    """``(kwargs, expect)`` of a BOLD batch: the run's options, and what an existing output
    made the same way records."""
    from .. import pipeline
    from ..hemodynamics.params import resolve_params
    from ..units import option_quantity

    if args.leadfield is not None:
        raise FwdModelsError("--leadfield is for --model eeg or meg, not bold")
    overrides = dict(args.overrides)
    bparams = resolve_params(pipeline.params_argument(args.params), **overrides)
    tr = option_quantity(args.tr, "tr", "[time]", "s")
    hemo = _hemo_dt(args.hemo_dt)
    if hemo is not None and hemo != "auto":
        option_quantity(hemo, "hemo_dt", "[time]", "ms")
    kwargs = dict(common, tr=args.tr, tr_mode=args.tr_mode, method=args.method,
                  params=args.params, init=args.init, backend=args.backend,
                  overrides=overrides, hemo_dt=hemo)
    expect = dict(method=args.method, init=args.init, params=bparams.as_dict(),
                  tr=None if tr is None else float(tr.to("s").magnitude),
                  tr_mode=args.tr_mode if tr is not None else None, hemo=hemo)
    return kwargs, expect


def _sensor_job(args, common: dict) -> tuple[dict, dict]:
    """``(kwargs, expect)`` of an EEG or MEG batch (the lead field read and checked once)."""
    from .. import pipeline
    from ..units import parse_unit, unit_text

    if args.leadfield is None:
        raise FwdModelsError(f"--model {args.model} needs --leadfield L (regions, sensors)")
    if args.model == "meg" and args.reference is not None:
        raise FwdModelsError(f"--reference {args.reference} is for EEG; MEG has no reference")
    leadfield = Path(args.leadfield).expanduser().resolve()
    L = pipeline.read_leadfield(leadfield, args.model, key=args.leadfield_key,
                                unit=args.leadfield_unit)
    model = pipeline.leadfield_model(args.model, L, dipole_scale=args.dipole_scale,
                                     sensor_unit=args.sensor_unit, reference=args.reference)
    if args.sensor_unit is not None:
        parse_unit(args.sensor_unit, "sensor_unit")
    kwargs = dict(common, leadfield=str(leadfield), leadfield_unit=args.leadfield_unit,
                  leadfield_key=args.leadfield_key, dipole_scale=args.dipole_scale,
                  sensor_unit=args.sensor_unit, snr_db=args.snr_db, seed=args.seed)
    if args.model == "eeg":
        kwargs["reference"] = args.reference
    scale = model.dipole_scale
    expect = dict(leadfield=str(leadfield), sensor_unit=unit_text(model.sensor_unit),
                  dipole_scale=None if scale is None else
                  f"{scale.magnitude!r} {unit_text(scale.units)}",
                  reference=args.reference, snr_db=args.snr_db, seed=args.seed)
    return kwargs, expect


def _plan(args) -> tuple[list[dict], Path]:
    """The jobs (one dict per file, picklable) after checking every option once."""
    from ..units import option_quantity

    outdir = Path(args.output).expanduser().resolve()
    if outdir.exists() and not outdir.is_dir():
        raise FwdModelsError(f"-o {args.output!r} is a file; give a directory for the outputs")
    if args.format == "zarr":
        from ..io._zarr_store import zarr_module

        zarr_module("writing .zarr outputs")
    option_quantity(args.dt, "dt", "[time]", "ms")
    common = dict(dt=args.dt, dt_unit=args.dt_unit, key=args.key, time_axis=args.time_axis,
                  chunk_size=args.chunk_size)
    kwargs, expect = (_bold_job if args.model == "bold" else _sensor_job)(args, common)
    expect["modality"] = args.model
    jobs, taken = [], {}
    for path in collect_inputs(args.patterns):
        name = path.name[:-len(".fif.gz")] if path.name.endswith(".fif.gz") else path.stem
        out = outdir / f"{name}.{args.format}"
        if str(out) in taken:
            raise FwdModelsError(f"inputs '{taken[str(out)]}' and '{path}' would both write "
                                 f"'{out}'; rename one or run them in two batches")
        if out == path:
            raise FwdModelsError(f"the output of '{path}' would be the input itself; choose "
                                 f"another -o or --format")
        taken[str(out)] = path
        jobs.append({"input": str(path), "output": str(out), "model": args.model,
                     "kwargs": kwargs, "force": bool(args.force), "expect": expect})
    if args.report:
        _check_report(Path(args.report).expanduser(), outdir, taken, args)
    return jobs, outdir


def _check_report(report: Path, outdir: Path, taken: dict, args) -> None:
    """Refuse a ``--report`` path that could not be written, or that is a file the batch
    reads or writes, before any work starts. Its folder may be the output directory or one
    that making the output directory makes."""
    folder = (report.parent if str(report.parent) else Path(".")).resolve()
    where = report.resolve()
    if report.is_dir() or where == outdir:
        raise FwdModelsError(f"--report '{report}' is a directory; give a file name such as "
                             f"'{report / 'report.json'}'")
    files = [(Path(out), "an output") for out in taken]
    files += [(Path(source), "a file this batch reads") for source in taken.values()]
    files += [(Path(value), "a file this batch reads")
              for value in (getattr(args, "params", None), getattr(args, "leadfield", None))
              if value and Path(value).exists()]
    for other, what in files:
        same = where == other.resolve() or report.exists() and _same_file(report, other)
        inside = other.suffix.lower() == ".zarr" and where.is_relative_to(other.resolve())
        if same or inside:
            raise FwdModelsError(f"--report '{report}' is {what if same else 'inside ' + what} "
                                 f"('{other}'); choose another name for the report")
    made = not folder.exists() and (folder == outdir or folder in outdir.parents)
    if not made and (not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK)):
        raise FwdModelsError(f"--report '{report}': its folder '{folder}' does not exist or "
                             f"is not writable; create it or choose another place")


# --------------------------------------------------------------------------- one file
def _same(a, b) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and \
            not isinstance(a, bool) and not isinstance(b, bool):
        return bool(np.isclose(a, b, rtol=1e-9, atol=0.0))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


def _differences(meta: dict, job: dict) -> list[str]:
    """What differs between an existing output's metadata and the job (empty: the same)."""
    from ..io import file_sha256

    expect = job["expect"]
    params = meta.get("parameters") or {}
    source = meta.get("input") or {}
    diffs = []
    if meta.get("modality") != expect["modality"]:
        return [f"model {meta.get('modality')!r}"]
    if source.get("path") != job["input"]:
        diffs.append(f"input {source.get('path')!r}")
    elif source.get("sha256") != file_sha256(job["input"]):
        diffs.append("the input changed since")
    kwargs = job["kwargs"]
    if kwargs.get("key") is not None and source.get("key") != kwargs["key"]:
        diffs.append(f"--key {source.get('key')!r}")
    if kwargs.get("time_axis") is not None and source.get("time_axis") != \
            kwargs["time_axis"] % max(1, len(source.get("shape") or [1])):
        diffs.append(f"--time-axis {source.get('time_axis')!r}")
    if expect["modality"] == "bold":
        for name in ("method", "init", "params", "tr", "tr_mode"):
            if not _same(params.get(name), expect[name]):
                diffs.append(f"{name} was {params.get(name)!r}, now {expect[name]!r}"
                             if name != "params" else "the hemodynamic parameters differ")
        hemo = expect["hemo"]
        if expect["method"] == "split":
            from ..hemodynamics.plan import make_plan
            from ..units import ureg

            input_dt = params.get("input_dt")
            try:
                wanted = make_plan(ureg.Quantity(input_dt, "s"), method="split",
                                   hemo_dt=None if hemo == "auto" else hemo).hemo_dt
            except (FwdModelsError, TypeError):
                wanted = None
            if wanted is None or not _same(params.get("hemo_dt"), wanted):
                diffs.append(f"hemo_dt {params.get('hemo_dt')!r} s")
    else:
        lead = params.get("leadfield") or {}
        if lead.get("path") != expect["leadfield"]:
            diffs.append(f"leadfield {lead.get('path')!r}")
        elif lead.get("sha256") != file_sha256(expect["leadfield"]):
            diffs.append("the lead field changed since")
        for name in ("sensor_unit", "dipole_scale", "reference", "snr_db", "seed"):
            if not _same(params.get(name), expect[name]):
                diffs.append(f"{name} was {params.get(name)!r}, now {expect[name]!r}")
    return diffs


def _existing(job: dict) -> tuple[str, str | None]:
    """``("skipped", None)`` for a complete output made the same way, else ``("failed", why)``."""
    from .. import io as fio

    out = job["output"]
    try:
        with fio.open_input(out, key=job["model"]) as data:
            meta = data.metadata
    except FwdModelsError:
        meta = None
    if not isinstance(meta, dict):
        return "failed", (f"output '{out}' exists but is not a fwdmodels {job['model']} output; "
                          f"remove it, or pass --force to overwrite it")
    diffs = _differences(meta, job)
    if diffs:
        return "failed", (f"output '{out}' exists but was made with other options or input "
                          f"({'; '.join(diffs)}); pass --force to recompute it, or choose "
                          f"another -o")
    return "skipped", None


def process_file(job: dict) -> dict:
    """Process one file (run on a worker); never raises: the outcome is in the returned dict.

    ``status`` is ``"done"``, ``"skipped"`` (a complete output made the same way exists) or
    ``"failed"`` with ``error`` the one-line reason.
    """
    from .. import pipeline

    start = time.perf_counter()
    status, error = "done", None
    try:
        if os.path.lexists(job["output"]) and not job["force"]:
            status, error = _existing(job)
        else:
            run = {"bold": pipeline.run_bold, "eeg": pipeline.run_eeg,
                   "meg": pipeline.run_meg}[job["model"]]
            run(job["input"], job["output"], force=job["force"], progress=False,
                **job["kwargs"])
    except (FwdModelsError, MissingDependencyError) as exc:
        status, error = "failed", " ".join(str(exc).split())
    except MemoryError:
        status, error = "failed", "out of memory; use a smaller --chunk-size"
    except OSError as exc:
        status, error = "failed", f"{exc.strerror or exc} ({exc.filename or job['input']})"
    except Exception as exc:  # a bug: reported for this file, the batch goes on
        status, error = "failed", (f"internal error: {type(exc).__name__}: "
                                   f"{' '.join(str(exc).split())} (a bug in fwdmodels; "
                                   f"please report it)")
    return {"input": job["input"], "output": job["output"], "status": status,
            "error": error, "seconds": round(time.perf_counter() - start, 3),
            "worker": _worker_name()}


def _worker_name() -> str | None:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return None


# --------------------------------------------------------------------------- cluster
def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _client(args):
    """``(client, cluster or None)`` for ``--scheduler`` or a local cluster of processes."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise MissingDependencyError("distributed", "dask", "fwdmodels batch") from None
    if args.scheduler:
        try:
            return Client(args.scheduler, timeout=CONNECT_TIMEOUT), None
        except (OSError, TimeoutError) as exc:
            raise FwdModelsError(f"--scheduler {args.scheduler!r} cannot be reached ({exc}); "
                                 f"check the address (e.g. tcp://host:8786) and that the "
                                 f"scheduler runs") from None
        except ValueError as exc:
            raise FwdModelsError(f"--scheduler {args.scheduler!r} is not a scheduler address "
                                 f"({exc}); write it like tcp://host:8786") from None
    n = args.workers or _cores()
    threads = str(max(1, _cores() // n))
    env = {name: threads for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                      "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")}
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                           host="127.0.0.1", dashboard_address=None, env=env)
    return Client(cluster), cluster


def _gather(client, jobs: list, args) -> list[dict]:
    """Run :func:`process_file` on every job; print and return each outcome as it comes.

    Library messages in the outcomes name Python arguments; they are shown with this
    command's flags (see :mod:`fwdmodels.cli.flags`).
    """
    from distributed import as_completed

    futures = client.map(process_file, jobs, pure=False,
                         key=[f"fwdmodels-batch-{i}-{Path(j['input']).name}"
                              for i, j in enumerate(jobs)])
    by_key = {f.key: job for f, job in zip(futures, jobs)}
    results = []
    for future in as_completed(futures):
        _stop.check()                        # a stop whose exception was lost ends the wait
        try:
            result = future.result()
        except Exception as exc:   # the worker died (e.g. killed for its memory)
            job = by_key[future.key]
            result = {"input": job["input"], "output": job["output"], "status": "failed",
                      "error": f"the worker running it was lost: {type(exc).__name__}: "
                               f"{' '.join(str(exc).split())}", "seconds": None,
                      "worker": None}
        if result["error"] is not None:
            result["error"] = to_flags(result["error"], getattr(args, "flags", {}))
        if result["status"] == "done":
            _stop.wrote(result["output"])    # named if the run is stopped
        results.append(result)
        _print_result(result, args.quiet)
    return results


def run(args) -> int:
    """Run ``fwdmodels batch``; return 0 if every file was done or skipped, 1 if any failed.

    Bad options raise :class:`~fwdmodels.errors.FwdModelsError` before any work (exit 2).
    """
    jobs, outdir = _plan(args)
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FwdModelsError(f"cannot create the output directory '{outdir}' "
                             f"({exc.strerror}); choose another with -o") from None
    start = time.perf_counter()
    client, cluster = _client(args)
    try:
        results = _gather(client, jobs, args)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    elapsed = time.perf_counter() - start
    counts = {s: sum(r["status"] == s for r in results) for s in ("done", "skipped", "failed")}
    n = args.workers or _cores()
    where = args.scheduler or f"a local cluster of {n} worker{'s' if n > 1 else ''}"
    print(f"batch: {len(results)} files: {counts['done']} done, {counts['skipped']} skipped, "
          f"{counts['failed']} failed in {elapsed:.1f} s on {where}; outputs in {outdir}")
    if args.report:
        results.sort(key=lambda r: r["input"])
        report = {"model": args.model, "outdir": str(outdir), "seconds": round(elapsed, 3),
                  "counts": counts, "files": results}
        from ..io import atomic_path

        with atomic_path(Path(args.report).expanduser(), force=True) as tmp:
            tmp.write_text(json.dumps(report, indent=1) + "\n")
    return 1 if counts["failed"] else 0


def _print_result(result: dict, quiet: bool) -> None:
    if result["status"] == "failed":
        print(f"FAILED {result['input']}: {result['error']}", file=sys.stderr, flush=True)
    elif not quiet:
        extra = f" ({result['seconds']:.2f} s)" if result["status"] == "done" else \
            " (already complete)"
        print(f"{result['status']:<7} {result['input']} -> {result['output']}{extra}",
              flush=True)
