"""``fwdmodels leadfield``: write a region lead-field file from a source.

``fwdmodels leadfield SOURCE -o OUT [options]``, one sub-command per source of
:func:`fwdmodels.make_leadfield.sources` (``sphere``, ``mne``, and any registered one), whose
options are the builder's keywords; ``fwdmodels leadfield --list`` lists the sources and the
standard caps and helmets.
"""

from __future__ import annotations

import argparse

from ..errors import FwdModelsError

__all__ = ["add_parser", "run", "listing"]

_EXAMPLES = """examples:
  fwdmodels leadfield --list
  fwdmodels leadfield sphere --sensors eeg_1010 -o lf_eeg.npz
  fwdmodels leadfield sphere --sensors neuromag306 --channels grad -o lf_grad.h5
  fwdmodels leadfield mne sub-01-fwd.fif --parcellation labels.npy --channels eeg -o lf.h5
  fwdmodels eeg sim.npy --dt 1ms --leadfield lf_eeg.npz -o eeg_raw.fif
"""


def _sphere_arguments(p) -> None:
    """Options of :func:`fwdmodels.make_leadfield.sphere_leadfield`, by its keyword names."""
    from ..leadfield.coils import ACCURACIES
    from ..make_leadfield import LAYOUTS

    p.add_argument("--sensors", default="eeg_1020", choices=tuple(LAYOUTS), metavar="NAME",
                   help="standard cap or helmet (default eeg_1020; see --list): "
                        + ", ".join(LAYOUTS))
    p.add_argument("--channels", choices=("mag", "grad"),
                   help="with neuromag306: magnetometers or planar gradiometers")
    p.add_argument("--sources", metavar="FILE",
                   help="dipoles: .npz/.h5 with positions (+ positions_unit) or positions_m, "
                        "orientations and optional names (default: the demo's 68 regions)")
    p.add_argument("--radii", metavar="R", help="EEG shell radii WITH their unit, innermost "
                                                "first (default '8.1,8.5,9 cm')")
    p.add_argument("--conductivities", metavar="S",
                   help="EEG shell conductivities WITH their unit (default "
                        "'0.33,0.0042,0.33 S/m')")
    p.add_argument("--helmet-radius", default="12 cm", metavar="R",
                   help="MEG sensor distance from the centre (default 12 cm)")
    p.add_argument("--accuracy", choices=ACCURACIES, default=ACCURACIES[0],
                   help="MEG coil integration, as MNE-Python's (default accurate)")


def _mne_arguments(p) -> None:
    """Options of :func:`fwdmodels.make_leadfield.forward_leadfield`, by its keyword names."""
    from ..leadfield.aggregation import REDUCTIONS

    p.add_argument("forward", metavar="FORWARD", help="MNE-Python forward solution (-fwd.fif)")
    p.add_argument("--parcellation", metavar="P",
                   help="region of each source vertex: .npy of integers (-1 for none) or an "
                        "(R, V) weight matrix, or a FreeSurfer annotation (aparc, an .annot "
                        "file) in $SUBJECTS_DIR; default one region per source")
    p.add_argument("--channels", choices=("eeg", "mag", "grad"),
                   help="which channels, when the forward has several types")
    p.add_argument("--reduce", choices=REDUCTIONS, default=REDUCTIONS[0],
                   help="vertices of a region: their (area-weighted) mean (default) or sum")
    p.add_argument("--sign-flip", action="store_true",
                   help="flip vertices against their region's dominant normal (MNE's "
                        "label_sign_flip)")
    p.add_argument("--subjects-dir", metavar="DIR", help="FreeSurfer subjects directory")
    p.add_argument("--subject", metavar="NAME", help="FreeSurfer subject (default the "
                                                     "forward's)")


#: The options of the built-in sources; a registered source brings its own.
BUILT_IN_ARGUMENTS = {"sphere": _sphere_arguments, "mne": _mne_arguments}


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``leadfield`` (one sub-command per source) to the ``fwdmodels`` parser."""
    from ..make_leadfield import sources

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
    p.set_defaults(run=run)
    kinds = p.add_subparsers(dest="source", metavar="SOURCE", parser_class=type(p))
    for source in sources().values():
        s = kinds.add_parser(source.name, help=source.help, description=source.help)
        s.add_argument("-o", "--output", required=True, metavar="OUT",
                       help="the lead-field file: .npz or .h5 (written atomically)")
        s.add_argument("--force", action="store_true", help="overwrite an existing output")
        s.add_argument("-q", "--quiet", action="store_true", help="no summary line")
        before = {a.dest for a in s._actions}
        (source.add_arguments or BUILT_IN_ARGUMENTS.get(source.name, lambda _: None))(s)
        s.set_defaults(source_options=tuple(a.dest for a in s._actions
                                            if a.dest not in before))
    return p


def listing() -> str:
    """The sources, caps and helmets, as ``fwdmodels leadfield --list`` prints them."""
    from ..make_leadfield import LAYOUTS, sources

    lines = ["sources (fwdmodels leadfield SOURCE ...):"]
    lines += [f"  {s.name:<12} {s.help}" for s in sources().values()]
    lines.append("caps and helmets (fwdmodels leadfield sphere --sensors NAME):")
    for layout in LAYOUTS.values():
        lines.append(f"  {layout.name:<12} {layout.modality.upper()}  {layout.description}")
    return "\n".join(lines)


def run(args) -> int:
    """Run ``fwdmodels leadfield``; errors are FwdModelsError (exit status 2)."""
    from ..make_leadfield import make_leadfield, sources

    if args.list:
        print(listing())
        return 0
    if args.source is None:
        raise FwdModelsError(f"choose a source: fwdmodels leadfield SOURCE -o OUT, SOURCE one "
                             f"of {', '.join(sources())} (see fwdmodels leadfield --list)")
    options = {dest: getattr(args, dest) for dest in args.source_options}
    path = make_leadfield(args.output, args.source, force=args.force, **options)
    if not args.quiet:
        from ..io.leadfield_file import read_leadfield_file

        lf = read_leadfield_file(path)
        where = "with positions" if lf.sensor_positions is not None else "without positions"
        print(f"wrote {path}: L {lf.shape} [{lf.L.units:~}], {lf.shape[1]} {lf.ch_type} "
              f"channels {where}, {lf.shape[0]} regions"
              + ("" if lf.region_names is None else " (named)"))
    return 0
