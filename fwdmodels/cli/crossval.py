"""``fwdmodels crossval bold|eeg|meg``: load the files, compare, diagnose, print the report
(:mod:`fwdmodels.crossval`)."""

from __future__ import annotations

import argparse
import json

import numpy as np

from ..crossval.bold import _as_bold_reference, diagnose_bold
from ..crossval.leadfield import diagnose_leadfield
from ..crossval.report import Report, compare
from ..hemodynamics.engine import STATE_NAMES
from ..errors import FwdModelsError
from ..units import parse_unit, same_unit, ureg

__all__ = ["add_parser", "run"]


def _load(path: str, key: str | None, what: str):
    """An array (.npy) or a dict / one array (.npz, ``key`` selects) from a file."""
    import os

    if not os.path.exists(path):
        raise FwdModelsError(f"{what}: no such file {path!r}")
    try:
        data = np.load(path, allow_pickle=False)
        if isinstance(data, np.lib.npyio.NpzFile):
            with data:
                arrays = {k: data[k] for k in data.files}
    except Exception as exc:    # numpy, zipfile and zlib raise many kinds for a bad file
        if "pickle" in str(exc).lower() or "object arrays" in str(exc).lower():
            raise FwdModelsError(f"{what}: {path!r} holds pickled Python objects, which "
                                 f"fwdmodels refuses to load (a pickle can run code); save it "
                                 f"as a plain numeric array") from None
        raise FwdModelsError(f"{what}: cannot read {path!r} as .npy or .npz "
                             f"({type(exc).__name__}: {exc})") from None
    if isinstance(data, np.lib.npyio.NpzFile):
        if key is not None:
            if key not in arrays:
                raise FwdModelsError(f"{what}: {path!r} has no array {key!r} (it has "
                                     f"{sorted(arrays)})")
            return arrays[key]
        return arrays
    if key is not None:
        raise FwdModelsError(f"{what}: a key ({key!r}) only applies to .npz files; {path!r} "
                             f"is a .npy file")
    return data


def _real(array) -> np.ndarray:
    """A float array that keeps the file's precision (float32 stays float32, as it does in
    the Python API, where it chooses the default tolerance of 1e-4); integers become float64."""
    array = np.asarray(array)
    return array if array.dtype.kind == "f" else array.astype(np.float64)


def _single(value, what: str, prefer: str):
    if isinstance(value, dict):
        if prefer in value:
            return value[prefer]
        if len(value) == 1:
            return next(iter(value.values()))
        raise FwdModelsError(f"{what}: the .npz file holds {sorted(value)}; choose one with "
                             f"--{what.split()[0].lower()}-key")
    return value


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``crossval`` sub-command (with ``bold``, ``eeg`` and ``meg``) to a CLI."""
    p = subparsers.add_parser(
        "crossval", help="cross-check a reference (e.g. brainmass) against fwdmodels",
        description="Compare a reference's output with fwdmodels' on the same input; when they "
                    "disagree, name the known cause that explains it. Exit 0: agree; 1: "
                    "disagree; 2: bad input.")
    sub = p.add_subparsers(dest="crossval_kind", metavar="{bold,eeg,meg}")
    sub.required = True
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--rtol", type=float, default=None,
                        help="relative tolerance (default 1e-9 for float64, 1e-4 for float32)")
    common.add_argument("--atol", type=float, default=None,
                        help="absolute tolerance in the reference's unit (default rtol × peak)")
    common.add_argument("--format", choices=("text", "json"), default="text",
                        help="print the report as a text table or as JSON")
    common.add_argument("--no-diagnose", action="store_true",
                        help="only compare; do not try the known causes")
    common.add_argument("--input-key", default=None, help="array name in an .npz INPUT")
    common.add_argument("--reference-key", default=None,
                        help="array name in an .npz REFERENCE (default: all of bold, x, f, v, q "
                             "it holds, for bold)")
    b = sub.add_parser("bold", parents=[common], help="BOLD signal (and states) against "
                       "simulate_bold", description="INPUT: neural input (T, N); REFERENCE: "
                       "the reference BOLD (T, N), or an .npz with bold and/or x, f, v, q.")
    b.add_argument("input", metavar="INPUT")
    b.add_argument("reference", metavar="REFERENCE")
    b.add_argument("--dt", required=True, help="time step with its unit, e.g. '1 ms'")
    b.add_argument("--method", default="heun", choices=("heun", "rk4", "euler"),
                   help="fwdmodels' scheme (heun is brainmass's; default)")
    b.add_argument("--init", default="rest", choices=("rest", "brainmass"),
                   help="fwdmodels' initial state (brainmass: every state at 1.0)")
    b.add_argument("--params", default="friston2003", help="parameter preset")
    for kind, unit in (("eeg", "V/(nA*m)"), ("meg", "T/(nA*m)")):
        e = sub.add_parser(kind, parents=[common], help=f"{kind.upper()} sensors against "
                           f"{kind.upper()}LeadFieldModel",
                           description="INPUT: source activity (T, R); LEADFIELD: (R, M); "
                                       "REFERENCE: the reference's sensor output (T, M).")
        e.add_argument("input", metavar="INPUT")
        e.add_argument("leadfield", metavar="LEADFIELD")
        e.add_argument("reference", metavar="REFERENCE")
        e.add_argument("--leadfield-unit", default=None,
                       help=f"unit of L, e.g. '{unit}' (a lead-field file of fwdmodels "
                            f"leadfield brings its own)")
        e.add_argument("--scale", dest="dipole_scale", default=None,
                       help="dipole scale, e.g. '1 nA*m/mV' (INPUT is then in its denominator "
                            "unit); without it INPUT is in nA*m")
        e.add_argument("--input-unit", default=None, help="unit of INPUT (default: see --scale)")
        e.add_argument("--reference-unit", default=None,
                       help="unit of REFERENCE (default: the sensor unit)")
        e.add_argument("--sensor-unit", default=None, help="unit to compare in")
        e.add_argument("--noise-cov", default=None, help="(M, M) covariance asked for, .npy, "
                       "in the sensor unit squared")
        e.add_argument("--noise-only", default=None,
                       help="reference output for a zero input with noise on (T, M), .npy")
    p.set_defaults(run=run, func=run)          # func: the name callers of add_parser use
    return p


def run(args) -> int:
    """Run ``fwdmodels crossval``: print the report; 0 if they agree, 1 if not.

    Mistakes in the input raise :class:`~fwdmodels.errors.FwdModelsError` (exit status 2).
    """
    if args.crossval_kind == "bold":
        report = _run_bold(args)
    else:
        report = _run_leadfield(args)
    if args.format == "json":
        print(json.dumps(report.as_dict(), indent=2, allow_nan=False))
    else:
        print(report)
    return 0 if report.passed else 1


def _run_bold(args) -> Report:
    from ..hemodynamics.plan import read_dt

    z = _single(_load(args.input, args.input_key, "INPUT"), "input", "z")
    ref = _load(args.reference, args.reference_key, "REFERENCE")
    if isinstance(ref, dict):
        ref = {k: v for k, v in ref.items() if k in ("bold",) + STATE_NAMES}
        if not ref:
            raise FwdModelsError("REFERENCE: the .npz file must hold 'bold' and/or 'x', 'f', "
                                 "'v', 'q' (or choose an array with --reference-key)")
    read_dt(args.dt)
    if args.no_diagnose:
        return _bold_compare_only(z, ref, args)
    return diagnose_bold(z, args.dt, ref, params=args.params, method=args.method,
                         init=args.init, rtol=args.rtol, atol=args.atol)


def _bold_compare_only(z, ref, args) -> Report:
    from ..hemodynamics import simulate_bold

    bold, states = simulate_bold(z, args.dt, params=args.params, method=args.method,
                                 init=args.init, return_states=True)
    ref = _as_bold_reference(ref)
    out = {"bold": bold, **states}
    return compare(ref, {k: out[k] for k in ref}, rtol=args.rtol, atol=args.atol,
                   title=f"reference vs fwdmodels simulate_bold (method={args.method}, "
                         f"init={args.init}, dt={args.dt})")


def _read_leadfield(path: str, unit):
    """LEADFIELD as a Quantity: a lead-field file of ``fwdmodels leadfield`` (its unit inside;
    ``unit`` must then agree), or an array in .npy/.npz with ``unit``."""
    from ..io.leadfield_file import is_leadfield_file, read_leadfield_file

    if is_leadfield_file(path):
        L = read_leadfield_file(path).L
        if unit is not None and not same_unit(parse_unit(unit, "leadfield_unit"), L.units):
            raise FwdModelsError(f"--leadfield-unit {unit} conflicts with the unit {L.units:~} "
                                 f"stored in LEADFIELD {path!r}; drop --leadfield-unit")
        return L
    if unit is None:
        raise FwdModelsError(f"LEADFIELD {path!r} stores no unit; pass --leadfield-unit, e.g. "
                             f"--leadfield-unit 'V/(nA*m)'")
    L = _single(_load(path, None, "LEADFIELD"), "leadfield", "L")
    return ureg.Quantity(np.asarray(L, dtype=float), parse_unit(unit, "leadfield_unit"))


def _run_leadfield(args) -> Report:
    from ..leadfield import EEGLeadFieldModel, MEGLeadFieldModel

    cls = EEGLeadFieldModel if args.crossval_kind == "eeg" else MEGLeadFieldModel
    x = _single(_load(args.input, args.input_key, "INPUT"), "input", "x")
    L = _read_leadfield(args.leadfield, args.leadfield_unit)
    ref = _single(_load(args.reference, args.reference_key, "REFERENCE"), "reference", "y")
    if np.ndim(L) != 2:
        raise FwdModelsError(f"LEADFIELD must be 2-D (R, M); got shape {np.shape(L)}")
    x = np.asarray(x, dtype=float)
    if x.ndim != 2:
        raise FwdModelsError(f"INPUT must be 2-D (T, R); got shape {x.shape}")
    model = cls(L.shape[0], L.shape[1], L, dipole_scale=args.dipole_scale,
                sensor_unit=args.sensor_unit)
    if args.input_unit is not None:
        x = ureg.Quantity(x, parse_unit(args.input_unit, "input_unit"))
    ref_unit = parse_unit(args.reference_unit, "reference_unit") if args.reference_unit \
        else model.sensor_unit
    ref = ureg.Quantity(_real(ref), ref_unit)     # its precision sets the default rtol
    noise_only = noise_cov = None
    if args.noise_cov is not None or args.noise_only is not None:
        if args.noise_cov is None or args.noise_only is None:
            raise FwdModelsError("--noise-cov and --noise-only go together")
        cov = _single(_load(args.noise_cov, None, "--noise-cov"), "noise", "C")
        noise = _single(_load(args.noise_only, None, "--noise-only"), "noise", "y")
        noise_only = ureg.Quantity(_real(noise), ref_unit)
        noise_cov = ureg.Quantity(np.asarray(cov, dtype=float), model.sensor_unit ** 2)
    if args.no_diagnose:
        return compare(ref, model(x), rtol=args.rtol, atol=args.atol, names="sensors",
                       title=f"reference vs fwdmodels {cls.__name__}")
    return diagnose_leadfield(model, x, ref, rtol=args.rtol, atol=args.atol,
                              noise_only=noise_only, noise_cov=noise_cov)
