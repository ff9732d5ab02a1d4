"""Readers shared by the lead-field modules: positions, orientations and quantities in SI.

Each reader returns a plain float64 array in SI units or raises a :class:`FwdModelsError` that
names the argument, the rule and the value given.
"""

from __future__ import annotations

import numpy as np

from .._validation import as_float_array, check_finite
from ..errors import FwdModelsError
from ..units import as_quantity, is_brainunit_quantity

__all__ = ["read_positions", "read_orientations", "read_si_array"]


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
