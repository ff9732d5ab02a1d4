"""``fwdmodels eeg`` and ``fwdmodels meg``: sensor signals of a saved source time series
through a lead field (:func:`fwdmodels.pipeline.run_eeg`, :func:`~fwdmodels.pipeline.run_meg`)."""

from __future__ import annotations

from .argtypes import quantity_text, reference, seed, snr_db
from .info import print_summary
from .options import add_input_options, input_arguments

__all__ = ["add_parsers", "run"]

_PARCELLATION_HELP = (
    "the region of each source vertex: an .npy of integers (-1 for none) or an (R, V) weight "
    "matrix, a TVB region mapping .txt (tvb:PATH for a file of tvb-data); with a -fwd.fif "
    "also a FreeSurfer annotation (aparc, or an .annot file) of the forward's subject in "
    "$SUBJECTS_DIR. With it, --leadfield is vertex-level ((vertices, sensors) or (sensors, "
    "vertices), e.g. TVB's projection matrices). Regions are the mean of their vertices "
    "(area-weighted when the source space has MNE patch areas), each oriented along its "
    "normal. Default: one region per source. --leadfield tvb:eeg:76 (or :192; tvb:meg:76, "
    ":192) is TVB's default subject (needs fwdmodels[tvb])")


def add_parsers(subparsers) -> None:
    """Add ``eeg`` and ``meg`` to the ``fwdmodels`` sub-commands."""
    for modality, title in (("eeg", "EEG"), ("meg", "MEG")):
        p = subparsers.add_parser(modality, help=f"{title} through a lead field",
                                  description=f"{title} sensor signals y = s L (+ noise, then "
                                              f"the reference) of source activity s (T, R) "
                                              f"and a lead field L (R, M).")
        add_input_options(p, fif=True)
        _leadfield_options(p, modality)
        _signal_options(p, modality)
        p.set_defaults(run=run)


def _leadfield_options(p, modality: str) -> None:
    from ..leadfield.aggregation import NAN_SENSOR_POLICIES, REDUCTIONS

    p.add_argument("--leadfield", required=True, metavar="L",
                   help="lead field: a file of fwdmodels leadfield (its unit, names and "
                        "positions come with it); a (regions, sensors) array in .npy/.npz/"
                        ".mat/.h5; or an MNE-Python forward solution -fwd.fif (needs mne; SI "
                        "units, see --parcellation)")
    p.add_argument("--parcellation", "--region-mapping", metavar="P", help=_PARCELLATION_HELP)
    p.add_argument("--reduce", choices=REDUCTIONS, default=None,
                   help="how vertices combine into a region: mean (default) or sum (TVB's "
                        "EEG/MEG monitors' convention)")
    p.add_argument("--nan-sensors", choices=NAN_SENSOR_POLICIES, default=None,
                   help="sensors whose vertex lead field has NaN values (TVB's projections): "
                        "drop them (default; a warning lists them), zero them (as TVB does) "
                        "or refuse")
    if modality == "meg":
        p.add_argument("--meg-channels", choices=("mag", "grad"),
                       help="with a -fwd.fif holding both: magnetometers (T/(A*m), output fT)"
                            " or gradiometers (T/(m*A*m), output fT/cm)")
    p.add_argument("--leadfield-key", metavar="NAME", help="array name in the lead-field file")
    example = "V/(nA*m)" if modality == "eeg" else "fT/(nA*m)"
    p.add_argument("--leadfield-unit", metavar="UNIT", type=quantity_text,
                   help=f"unit of the lead field when its file stores none, e.g. '{example}'")


def _signal_options(p, modality: str) -> None:
    p.add_argument("--dipole-scale", metavar="Q", type=quantity_text,
                   help="dipole moment per unit of input, e.g. '2 nA*m/mV' for membrane "
                        "potentials in mV; without it the input is read in nA*m")
    p.add_argument("--sensor-unit", metavar="UNIT", type=quantity_text,
                   help="output unit (default " + ("V; e.g. uV" if modality == "eeg" else
                                                  "fT; fT/cm for gradiometers") + ")")
    if modality == "eeg":
        p.add_argument("--reference", type=reference, default=None, metavar="REF",
                       help="'average', 'none' (reference at infinity, the default) or the "
                            "index of the reference channel")
    p.add_argument("--noise-snr-db", dest="snr_db", type=snr_db, metavar="DB",
                   help="add white sensor noise with this signal-to-noise ratio, in dB of the "
                        "whole recording's mean signal power")
    p.add_argument("--seed", type=seed, metavar="INT",
                   help="seed of the noise generator (a whole number >= 0)")


_NAMES = ("leadfield", "parcellation", "reduce", "nan_sensors", "leadfield_unit",
          "leadfield_key", "dipole_scale", "sensor_unit", "snr_db", "seed")


def run(args) -> int:
    """Run ``fwdmodels eeg`` or ``fwdmodels meg``."""
    from .. import pipeline

    job = pipeline.run_eeg if args.command == "eeg" else pipeline.run_meg
    extra = ({"meg_channels": args.meg_channels} if args.command == "meg" else
             {"reference": args.reference})
    path = job(args.input, args.output, **{name: getattr(args, name) for name in _NAMES},
               **extra, **input_arguments(args))
    print_summary(path, args.quiet)
    return 0
