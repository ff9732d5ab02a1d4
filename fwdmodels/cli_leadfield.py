"""The ``fwdmodels leadfield`` command: write a region lead-field file from a source.

``fwdmodels leadfield SOURCE -o OUT [options]``, one sub-command per source of
:func:`fwdmodels.make_leadfield.sources` (``sphere``, ``mne``, and any registered one), whose
options are the builder's keywords; ``fwdmodels leadfield --list`` lists the sources and the
standard caps and helmets.
"""

from __future__ import annotations

import argparse

from .errors import FwdModelsError

__all__ = ["add_parser", "run"]

_EXAMPLES = """examples:
  fwdmodels leadfield --list
  fwdmodels leadfield sphere --sensors eeg_1010 -o lf_eeg.npz
  fwdmodels leadfield sphere --sensors neuromag306 --channels grad -o lf_grad.h5
  fwdmodels leadfield mne sub-01-fwd.fif --parcellation labels.npy --channels eeg -o lf.h5
  fwdmodels eeg sim.npy --dt 1ms --leadfield lf_eeg.npz -o eeg_raw.fif
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``leadfield`` (one sub-command per source) to the ``fwdmodels`` parser."""
    from .make_leadfield import sources

    p = subparsers.add_parser(
        "leadfield", help="write a region lead-field file (sphere head with a standard cap "
                          "or helmet, an MNE forward solution ...)",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=_EXAMPLES,
        description="Builds a region lead field (R regions, M sensors) and writes it as .npz "
                    "or .h5 with its unit, sensor names, positions and orientations, region "
                    "names, head model and provenance; fwdmodels eeg|meg --leadfield FILE "
                    "then needs nothing else.")
    p.add_argument("--list", action="store_true",
                   help="list the sources and the standard caps and helmets, then exit")
    kinds = p.add_subparsers(dest="source", metavar="SOURCE", parser_class=type(p))
    for source in sources().values():
        s = kinds.add_parser(source.name, help=source.help, description=source.help)
        s.add_argument("-o", "--output", required=True, metavar="OUT",
                       help="the lead-field file: .npz or .h5 (written atomically)")
        s.add_argument("--force", action="store_true", help="overwrite an existing output")
        s.add_argument("-q", "--quiet", action="store_true", help="no summary line")
        before = {a.dest for a in s._actions}
        source.add_arguments(s)
        s.set_defaults(source_options=tuple(a.dest for a in s._actions
                                            if a.dest not in before))
    return p


def run(args) -> int:
    """Run ``fwdmodels leadfield``; errors are FwdModelsError (exit status 2)."""
    from .make_leadfield import listing, make_leadfield, sources

    if args.list:
        print(listing())
        return 0
    if args.source is None:
        raise FwdModelsError(f"choose a source: fwdmodels leadfield SOURCE -o OUT, SOURCE one "
                             f"of {', '.join(sources())} (see fwdmodels leadfield --list)")
    options = {dest: getattr(args, dest) for dest in args.source_options}
    path = make_leadfield(args.output, args.source, force=args.force, **options)
    if not args.quiet:
        from .io.leadfield_file import read_leadfield_file

        lf = read_leadfield_file(path)
        where = "with positions" if lf.sensor_positions is not None else "without positions"
        print(f"wrote {path}: L {lf.shape} [{lf.L.units:~}], {lf.shape[1]} {lf.ch_type} "
              f"channels {where}, {lf.shape[0]} regions"
              + ("" if lf.region_names is None else " (named)"))
    return 0
