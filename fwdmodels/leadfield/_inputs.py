"""Readers shared by the lead-field modules: positions, orientations and quantities in SI.

Each reader returns a plain float64 array in SI units or raises a :class:`FwdModelsError` that
names the argument, the rule and the value given.
"""

from __future__ import annotations

import numpy as np

from .._validation import as_float_array, check_finite
from ..errors import FwdModelsError
from ..units import as_quantity, is_brainunit_quantity

__all__ = ["read_positions", "read_orientations", "read_si_array", "read_dipole_scale",
           "read_power", "raise_nonfinite", "is_quantity"]


def is_quantity(x) -> bool:
    """Whether ``x`` is a pint or brainunit Quantity."""
    return hasattr(x, "dimensionality") or is_brainunit_quantity(x)


def read_si_array(value, name: str, dimension: str, ndims: tuple[int, ...]) -> np.ndarray:
    """Return the SI magnitude of a Quantity of ``dimension`` as a finite float64 array."""
    q = as_quantity(value, name, dimension)
    array = as_float_array(q.to_base_units().magnitude, name, ndims)
    return check_finite(array, name, ("row", "column")[: array.ndim] or ("value",))


def read_positions(value, name: str, n: int | None = None) -> np.ndarray:
    """Positions, a length Quantity of shape ``(N, 3)`` (or ``(3,)``), as an ``(N, 3)`` array in m.

    Parameters
    ----------
    value : pint.Quantity, brainunit.Quantity or str
        Positions with a length unit (``np.array([[0, 0, 0.07]]) * ureg.m``, ``"7 cm"``...).
    name : str
        The argument's name, for error messages.
    n : int, optional
        The number of rows required.
    """
    pos = read_si_array(value, name, "[length]", (1, 2))
    if pos.ndim == 1:
        pos = pos[None, :]
    if pos.shape[-1] != 3:
        raise FwdModelsError(f"`{name}` must have shape (N, 3) (x, y, z per row); "
                             f"got shape {pos.shape}")
    if n is not None and pos.shape[0] != n:
        raise FwdModelsError(f"`{name}` must have {n} rows, one per position; got {pos.shape[0]}")
    return pos


def read_orientations(value, name: str, n: int, normalize: bool = True) -> np.ndarray:
    """Unit vectors of shape ``(n, 3)`` from a bare array (or a dimensionless Quantity)."""
    if is_brainunit_quantity(value) or hasattr(value, "dimensionality"):
        q = as_quantity(value, name, "[]")
        value = q.to("dimensionless").magnitude
    ori = as_float_array(value, name, (1, 2))
    if ori.ndim == 1:
        ori = ori[None, :]
    if ori.shape != (n, 3):
        raise FwdModelsError(f"`{name}` must have shape ({n}, 3), one direction per row; "
                             f"got shape {ori.shape}")
    check_finite(ori, name, ("row", "column"))
    norm = np.linalg.norm(ori, axis=1)
    if np.any(norm == 0):
        raise FwdModelsError(f"`{name}` must not contain zero vectors; row "
                             f"{int(np.argmin(norm))} is zero")
    return ori / norm[:, None] if normalize else ori


def read_dipole_scale(value):
    """``dipole_scale`` as a single finite, non-zero Quantity."""
    if value is not None and not is_quantity(value) and not isinstance(value, str):
        raise FwdModelsError(f"`dipole_scale` must carry a unit (e.g. '2 nA*m/mV'); got "
                             f"{value!r}")
    scale = as_quantity(value, "dipole_scale")
    if np.ndim(scale.magnitude) != 0:
        raise FwdModelsError(f"`dipole_scale` must be a single value (one factor for every "
                             f"region, e.g. '2 nA*m/mV'); got an array of shape "
                             f"{np.shape(scale.magnitude)}")
    magnitude = float(np.asarray(scale.magnitude))
    if not np.isfinite(magnitude) or magnitude == 0.0:
        raise FwdModelsError(f"`dipole_scale` must be finite and non-zero; got {scale:~}")
    return scale


def read_power(value, sensor_unit) -> float:
    """``signal_power`` (sensor_unit², a bare number read in it) as its square root."""
    target = sensor_unit ** 2
    if is_quantity(value) or isinstance(value, str):
        q = as_quantity(value, "signal_power")
        if q.dimensionality != (1.0 * target).dimensionality:
            raise FwdModelsError(f"`signal_power` must be in a unit compatible with "
                                 f"{target:~} (the sensor unit squared); got {q.units:~}")
        value = q.to(target).magnitude
    if isinstance(value, bool) or np.ndim(value) != 0 or \
            np.asarray(value).dtype.kind not in "iuf":
        raise FwdModelsError(f"`signal_power` must be a single number in {target:~}; got "
                             f"{value!r}")
    power = float(value)
    if not (np.isfinite(power) and power > 0.0):
        raise FwdModelsError(f"`signal_power` must be positive and finite; got {power!r} "
                             f"{target:~}")
    return float(np.sqrt(power))


def raise_nonfinite(a: np.ndarray, name: str, last: str, offset=(None, 0)) -> None:
    """Raise naming the first non-finite entry of ``a`` ((B,) (T,) K) within the whole series.

    ``offset`` = (batch, first time index) of the chunk ``a`` (of shape (T, K)) in the series;
    a batch of None: the chunk carries no batch index of its own. ``last`` names the K axis.
    """
    finite = np.isfinite(a)
    if finite.all():
        return
    index = list(np.unravel_index(int(np.argmin(finite.ravel())), a.shape))
    value = float(a[tuple(index)])
    labels = {1: (), 2: ("time index",), 3: ("batch", "time index")}[a.ndim] + (last,)
    b0, t0 = offset
    if a.ndim >= 2:
        index[-2] += t0
    if b0 is not None and a.ndim == 2:
        labels, index = ("batch",) + labels, [b0] + index
    where = ", ".join(f"{lab} {i}" for lab, i in zip(labels, index))
    if name == "x":
        raise FwdModelsError(f"`x` must be finite; found {value!r} at {where}")
    raise FwdModelsError(f"the output must be finite: the sensor signal overflows to {value!r} "
                         f"at {where} although `x` is finite there (beyond the range of the "
                         f"model's dtype); scale the input down or choose a larger "
                         f"sensor_unit")
