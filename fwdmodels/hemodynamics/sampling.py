"""From the integration step to the scanner's repetition time (TR).

Output row ``n`` of a simulation is the signal at ``t = (n + 1) dt``. With ``r = TR / dt`` a
whole number, ``"sample"`` keeps the values at ``t = TR, 2 TR, ...`` (rows ``r-1, 2r-1, ...``)
and ``"mean"`` averages each acquisition window ``((k-1) TR, k TR]`` (rows ``(k-1) r ... k r - 1``),
a simple model of a volume's readout spread over the TR. A trailing partial window is dropped.
"""

from __future__ import annotations

import numpy as np

from .._validation import check_option
from ..errors import FwdModelsError
from ..units import to_si

__all__ = ["tr_ratio", "sample_tr", "TR_MODES"]

TR_MODES = ("sample", "mean")


def tr_ratio(tr, dt_seconds: float) -> tuple[float, int]:
    """Return ``(tr_seconds, r)`` with ``r = TR / dt`` checked to be a whole number >= 1."""
    tr_seconds = to_si(tr, "tr", "[time]")
    if not tr_seconds > 0:
        raise FwdModelsError(f"`tr` must be positive; got {tr_seconds!r} s")
    ratio = tr_seconds / dt_seconds
    steps = int(round(ratio))
    if steps < 1 or abs(ratio - steps) > 1e-9 * max(1.0, ratio):
        raise FwdModelsError(
            f"`tr` must be a whole multiple of dt; got tr = {tr_seconds:g} s and "
            f"dt = {dt_seconds:g} s (ratio {ratio:.9g})")
    return tr_seconds, steps


def sample_tr(signal: np.ndarray, steps: int, mode: str = "sample", axis: int = -2) -> np.ndarray:
    """Reduce ``signal`` along its time ``axis`` from every step to every ``steps`` steps."""
    check_option(mode, "tr_mode", TR_MODES)
    signal = np.moveaxis(signal, axis, 0)
    n_windows = signal.shape[0] // steps
    if mode == "sample":
        out = signal[steps - 1: n_windows * steps: steps]
    else:
        window = signal[: n_windows * steps]
        out = window.reshape((n_windows, steps) + window.shape[1:]).mean(axis=1)
    return np.moveaxis(out, 0, axis)
