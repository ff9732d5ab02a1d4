r"""How a lead-field model folds its units into one float matrix, once, at construction.

A model computes :math:`y = x\,\tilde L` on bare magnitudes: ``x`` in the model's input unit
(nA·m, or the denominator of ``dipole_scale``), ``y`` in ``sensor_unit``. With ``L`` in SI
(sensor unit per A·m), :math:`d` the dipole moment in A·m of one input unit and :math:`u` one
sensor unit in SI,

.. math::  \tilde L = L_\mathrm{SI}\, d / u,

and for a free-orientation lead field ``(R, 3, M)`` with fixed ``orientations`` :math:`n`,
:math:`\tilde L_{rm} = \sum_k n_{rk} \tilde L_{rkm}`; without them the three components are
rows of their own, :math:`(3R, M)`.
"""

from __future__ import annotations

import numpy as np
import pint

from .._validation import as_float_array, check_finite
from ..errors import FwdModelsError
from ..units import from_brainunit, is_brainunit_quantity, parse_unit, ureg
from ._inputs import read_dipole_scale, read_orientations

__all__ = ["read_lead_field", "sensor_unit_for", "input_unit_for", "fold_matrix",
           "NA_M"]

_DIPOLE = "[current] * [length]"
#: Unit of a bare dipole-moment input.
NA_M = "nA * m"


def _denominator(unit: pint.Unit) -> pint.Unit:
    """The part of ``unit`` with negative exponents, inverted (``nA·m/mV`` → ``mV``)."""
    parts = [(name, -power) for name, power in unit._units.items() if power < 0]
    if not parts:
        return ureg.dimensionless
    return ureg.Unit(" * ".join(f"{name} ** {p}" for name, p in parts))


def read_lead_field(L, in_size: int, out_size: int, allowed: tuple) -> pint.Quantity:
    """``L`` as a float pint Quantity of shape ``(R, M)`` or ``(R, 3, M)`` in an allowed unit.

    ``allowed`` holds ``(dimension, default sensor unit, example)`` triples (empty: any).
    """
    if is_brainunit_quantity(L):
        L = from_brainunit(L)
    if not isinstance(L, pint.Quantity):
        arr = np.shape(L) if hasattr(L, "shape") else type(L).__name__
        example = allowed[0][2] if allowed else "V/(nA*m)"
        raise FwdModelsError(
            f"`L` must carry a unit (no unit is guessed); got a bare array of shape {arr}. "
            f"Attach one, e.g. `L * fwdmodels.ureg('{example}')`")
    L = ureg.Quantity(as_float_array(L.magnitude, "L", (2, 3)), L.units)
    r, m = in_size, out_size
    shape = L.shape
    if L.ndim == 2 and shape != (r, m):
        if shape == (m, r):
            raise FwdModelsError(
                f"`L` must have shape (in_size, out_size) = ({r}, {m}), rows regions and "
                f"columns sensors; got shape {shape}, the transposed (M, R) layout (as "
                f"MNE-Python stores it): pass `L.T`")
        raise FwdModelsError(f"`L` must have shape (in_size, out_size) = ({r}, {m}); got "
                             f"shape {shape}")
    if L.ndim == 3 and shape != (r, 3, m):
        raise FwdModelsError(f"`L` with free orientation must have shape (in_size, 3, "
                             f"out_size) = ({r}, 3, {m}); got shape {shape}")
    if allowed and not any(L.check(dim) for dim, _, _ in allowed):
        wanted = " or ".join(ex for _, _, ex in allowed)
        raise FwdModelsError(f"`L` must be in a unit compatible with {wanted}; got "
                             f"{L.units:~}")
    return L


def sensor_unit_for(sensor_unit, L_q: pint.Quantity, allowed: tuple) -> pint.Unit:
    """The output unit: ``sensor_unit`` checked against ``L`` times A·m, or the default."""
    lead_unit = L_q.units * ureg.Unit("A*m")                # the sensor dimension
    default = None
    for dim, unit, _ in allowed:
        if L_q.check(dim):
            default = ureg.Unit(unit)
    if sensor_unit is None:
        if default is not None:
            return default
        return (1.0 * lead_unit).to_reduced_units().units
    unit = parse_unit(sensor_unit, "sensor_unit")
    if (1.0 * unit).dimensionality != (1.0 * lead_unit).dimensionality:
        raise FwdModelsError(f"`sensor_unit` must be compatible with the lead field's "
                             f"{L_q.units:~} times A*m; got {unit:~}")
    return unit


def input_unit_for(dipole_scale) -> tuple:
    """``(dipole_scale or None, input unit, A·m per input unit)`` (see the module notes)."""
    if dipole_scale is None:
        return None, ureg.Unit(NA_M), ureg.Quantity(1.0, NA_M).to("A*m").magnitude
    scale = read_dipole_scale(dipole_scale)
    input_unit = _denominator(scale.units)
    per_input = (scale * (1.0 * input_unit)).to_base_units()
    if not per_input.check(_DIPOLE):
        raise FwdModelsError(
            f"`dipole_scale` must convert the input to a dipole moment (a unit such as "
            f"nA*m/mV); got {scale:~}, which times {input_unit:~} gives "
            f"{per_input.units:~}, not A*m")
    return scale, input_unit, float((scale * (1.0 * input_unit)).to("A*m").magnitude)


def fold_matrix(L_q: pint.Quantity, to_dipole: float, sensor_unit: pint.Unit, input_unit,
                dipole_scale, orientations=None) -> np.ndarray:
    """:math:`\\tilde L` in float64, ``(R, M)`` (``(3R, M)`` for a free orientation)."""
    L_si = np.asarray(L_q.to_base_units().magnitude, dtype=float)
    out_si = float((1.0 * sensor_unit).to_base_units().magnitude)
    with np.errstate(over="ignore"):
        matrix = L_si * (to_dipole / out_si)
    if L_q.ndim == 3:
        if orientations is not None:
            ori = read_orientations(orientations, "orientations", L_q.shape[0])
            matrix = np.einsum("rkm,rk->rm", matrix, ori)
        else:
            matrix = matrix.reshape(3 * L_q.shape[0], L_q.shape[2])
    check_finite(L_si, "L", ("region", "sensor") if L_si.ndim == 2 else
                 ("region", "component", "sensor"))
    if not np.all(np.isfinite(matrix)):
        raise FwdModelsError(
            f"`L` converted to {sensor_unit:~} per {input_unit:~} of input "
            f"overflows float64 (L up to {np.abs(L_si).max():.3g} in SI, times "
            f"{to_dipole / out_si:.3g} from `dipole_scale` and `sensor_unit`); got "
            f"dipole_scale={dipole_scale!r}, sensor_unit={sensor_unit:~}")
    return matrix
