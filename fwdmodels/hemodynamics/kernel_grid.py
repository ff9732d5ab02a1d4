"""The time grid every hemodynamic kernel shares: its bins, its unit, and its time arguments.

A kernel is a 1-D :class:`pint.Quantity` in ``1/s``: ``kernel[k]`` is the *average* of the
continuous impulse response ``g(t)`` over the bin ``[k dt, (k + 1) dt)``, ``k = 0 .. K-1``
with ``K = ceil(duration / dt)`` (see :mod:`~fwdmodels.hemodynamics.hrf` for why this is the
exact discretisation under a zero-order hold). The helpers here read ``dt``, ``duration`` and
the other time and number arguments of the kernels once, with the same rules and messages,
for :mod:`~fwdmodels.hemodynamics.canonical` and :mod:`~fwdmodels.hemodynamics.linearised`.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import FwdModelsError
from ..units import to_si, ureg
from .plan import read_dt

__all__ = ["KERNEL_UNIT", "MAX_BINS", "kernel_times", "kernel_bins", "read_seconds",
           "read_real", "as_kernel"]

#: Unit of every kernel: output per unit of input per second.
KERNEL_UNIT = "1/s"

#: Largest number of bins (or samples) a kernel may have.
MAX_BINS = 50_000_000


def read_seconds(value, name: str, allow_zero: bool = False) -> float:
    """A time argument in seconds (unit required), positive (or >= 0 with allow_zero)."""
    seconds = to_si(value, name, "[time]")
    if not isinstance(seconds, float):
        raise FwdModelsError(f"`{name}` must be a single time; got {value!r}")
    ok = seconds >= 0 if allow_zero else seconds > 0
    if not (np.isfinite(seconds) and ok):
        rule = "non-negative" if allow_zero else "positive"
        raise FwdModelsError(f"`{name}` must be {rule} and finite; got {seconds!r} s")
    return seconds


def read_real(value, name: str) -> float:
    """A finite real number (not a bool), as a float."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise FwdModelsError(f"`{name}` must be a real number; got {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise FwdModelsError(f"`{name}` must be finite; got {value!r}")
    return value


def kernel_bins(dt, duration) -> tuple[float, int]:
    """Return ``(dt_s, K)``: the step in seconds and the number of bins covering ``duration``.

    ``K = duration / dt`` rounded up (a ratio within 1e-9 of a whole number is taken as it).
    """
    if dt is None:
        raise FwdModelsError("`dt` is required: the kernel's time step, a time with its unit "
                             "(e.g. '0.1 s'), the same dt as the input it will be convolved with")
    dt_s = read_dt(dt)
    duration_s = read_seconds(duration, "duration")
    ratio = duration_s / dt_s
    bins = int(round(ratio)) if abs(ratio - round(ratio)) <= 1e-9 * max(1.0, ratio) else \
        int(math.ceil(ratio))
    if ratio < 1.0 - 1e-9:
        raise FwdModelsError(f"`duration` must be at least one step dt; got duration = "
                             f"{duration_s:g} s and dt = {dt_s:g} s")
    if bins > MAX_BINS:
        raise FwdModelsError(f"`duration` / `dt` must be at most 5e7 bins; got {bins} "
                             f"(duration = {duration_s:g} s, dt = {dt_s:g} s)")
    return dt_s, bins


def kernel_times(dt, duration):
    """Left edges ``k dt`` of the kernel bins, a Quantity in seconds (shape ``(K,)``).

    ``kernel[k]`` is the average response over ``[k dt, (k + 1) dt)``; for plotting, the bin
    centres are ``kernel_times(dt, duration) + dt / 2``.
    """
    dt_s, bins = kernel_bins(dt, duration)
    return ureg.Quantity(np.arange(bins) * dt_s, "s")


def as_kernel(values: np.ndarray):
    """Bin averages (a float array in 1/s) as a contiguous float64 kernel Quantity."""
    return ureg.Quantity(np.ascontiguousarray(values, dtype=np.float64), KERNEL_UNIT)
