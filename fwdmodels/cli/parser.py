"""The ``fwdmodels`` parser: the top level and one sub-command per command family."""

from __future__ import annotations

import argparse

__all__ = ["build_parser", "Parser", "EXIT_USER"]

#: Exit status of a user mistake (a bad option, an unreadable file, an existing output...).
EXIT_USER = 2

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


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit status 2)."""

    def error(self, message):
        self.exit(EXIT_USER, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The ``fwdmodels`` parser; each sub-command's ``run`` is its default ``run``."""
    from .. import __version__
    from . import batch, bold, crossval, demo, info, leadfield, sensors

    parser = Parser(prog="fwdmodels", formatter_class=argparse.RawDescriptionHelpFormatter,
                    description="Neuroimaging forward models: BOLD, EEG and MEG from saved "
                                "neural-mass simulations.", epilog=_EPILOG)
    parser.add_argument("--version", action="version", version=f"fwdmodels {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an internal error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    bold.add_parser(sub)
    sensors.add_parsers(sub)
    info.add_parser(sub)
    demo.add_parser(sub)
    leadfield.add_parser(sub)
    crossval.add_parser(sub)
    batch.add_parser(sub)
    return parser
