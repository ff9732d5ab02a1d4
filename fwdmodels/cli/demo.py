"""``fwdmodels demo``: the main job on the embedded data (:func:`fwdmodels.demo.run_demo`)."""

from __future__ import annotations

from .info import summary

__all__ = ["add_parser", "run"]


def add_parser(subparsers):
    """Add ``demo`` to the ``fwdmodels`` sub-commands."""
    from ..demo import FORMATS

    p = subparsers.add_parser("demo", help="BOLD, EEG and MEG of the embedded synthetic "
                                           "recording",
                              description="Runs the main job on the embedded, seeded "
                                          "synthetic recording (68 regions, 60 s at 1 ms, "
                                          "block design and alpha oscillations) with a "
                                          "three-shell sphere head, a 10-20 cap and a "
                                          "102-magnetometer helmet, and writes bold.*, eeg.*, "
                                          "meg.* (and summary.png with matplotlib).")
    p.add_argument("-o", "--output", dest="directory", default="fwdmodels-demo", metavar="DIR",
                   help="directory to write into (default ./fwdmodels-demo)")
    p.add_argument("--format", dest="fmt", choices=FORMATS, default=FORMATS[0],
                   help="file format of the outputs (default npz)")
    p.add_argument("--no-figure", action="store_true", help="do not draw summary.png")
    p.add_argument("--force", action="store_true", help="overwrite earlier demo files")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    p.set_defaults(run=run)
    return p


def run(args) -> int:
    """Run the demo and say what it wrote."""
    import time

    from .. import demo

    start = time.perf_counter()
    paths = demo.run_demo(args.directory, fmt=args.fmt, force=args.force,
                          progress=not args.quiet, figure=not args.no_figure)
    if args.quiet:
        return 0
    for name in ("bold", "eeg", "meg"):
        print(summary(paths[name]))
    if "figure" in paths:
        print(f"wrote {paths['figure']}: summary figure")
    elif not args.no_figure:
        print("no figure: install matplotlib (pip install \"fwdmodels[plot]\")")
    print(f"inputs: {paths['neural']} (--key activity), {paths['leadfield_eeg']}, "
          f"{paths['leadfield_meg']}")
    print(f"done in {time.perf_counter() - start:.1f} s; all files are in "
          f"{paths['bold'].parent.resolve()}")
    return 0
