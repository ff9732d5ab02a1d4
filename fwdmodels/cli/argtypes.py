"""argparse types shared by the ``fwdmodels`` commands.

Each takes the option's text and returns the cleaned value, or raises
:class:`argparse.ArgumentTypeError` with the rule and the value given; argparse prefixes the
option (``argument --seed: must be a whole number; got '1.5'``).
"""

from __future__ import annotations

import argparse
import math

__all__ = ["positive_int", "seed", "quantity_text", "snr_db", "axis", "reference",
           "override", "SNR_LIMIT_DB"]

#: Largest |SNR| in dB: a power ratio of 10^(±300), about the range of float64.
SNR_LIMIT_DB = 3000.0


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number; got {text!r}") from None


def positive_int(text: str) -> int:
    """A whole number of at least 1 (``--chunk-size``, ``--workers``)."""
    value = _whole(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1; got {value}")
    return value


def seed(text: str) -> int:
    """A seed of numpy's generator: a whole number from 0 to 2**128 - 1."""
    value = _whole(text)
    if not 0 <= value < 2 ** 128:
        raise argparse.ArgumentTypeError(f"must be a whole number from 0 to 2**128 - 1 (a seed "
                                         f"of numpy's generator); got {value}")
    return value


def quantity_text(text: str) -> str:
    """A quantity or unit text, bounded in length before anything parses it (a regular
    expression or pint can take minutes on 100,000 digits)."""
    from ..units import MAX_TEXT

    if len(text) > MAX_TEXT:
        raise argparse.ArgumentTypeError(f"must be a quantity text of at most {MAX_TEXT} "
                                         f"characters, such as '1 ms'; got {len(text)} "
                                         f"characters ({text[:20]!r}...)")
    return text


def snr_db(text: str) -> float:
    """A signal-to-noise ratio in dB, finite and within ±:data:`SNR_LIMIT_DB`."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of dB; got {text!r}") from None
    if not (math.isfinite(value) and abs(value) <= SNR_LIMIT_DB):
        raise argparse.ArgumentTypeError(f"must be a finite number of dB within "
                                         f"±{SNR_LIMIT_DB:g} (a power ratio of 10^±300, the "
                                         f"range of float64); got {text!r}")
    return value


def axis(text: str) -> int:
    """An axis number (negative counts from the end)."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an axis number such as 0 or 1; got "
                                         f"{text!r}") from None


def reference(text: str):
    """An EEG reference: ``"average"``, ``"none"`` (None: at infinity) or a channel index."""
    if text in ("average", "none"):
        return None if text == "none" else text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be 'average', 'none' or a channel index; got "
                                         f"{text!r}") from None


def override(text: str) -> tuple:
    """``NAME=VALUE``: a number, or a quantity text such as ``"0.98 s"``."""
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"must look like NAME=VALUE (e.g. tau=1.2); got "
                                         f"{text!r}")
    try:
        number = float(value)
    except ValueError:
        number = value
    return name.strip(), number
