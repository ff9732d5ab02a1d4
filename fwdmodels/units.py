"""Physical units: the one pint registry of fwdmodels and the conversions at the public boundary.

fwdmodels uses pint's *application registry*, so a quantity built with ``pint.Quantity`` or
with ``fwdmodels.ureg`` is the same kind of object and the two mix freely::

    >>> import fwdmodels
    >>> dt = 1 * fwdmodels.ureg.ms           # or the string "1 ms"
    >>> fwdmodels.units.to_si(dt, "dt", "[time]")
    0.001

Inside the package every dimensional number is a plain SI float (seconds, metres, amperes,
volts, teslas); units are attached again on the way out.

Arrays coming from JAX or brainstate are read through :func:`numpy.asarray`. A brainunit
(saiunit) ``Quantity`` is converted to pint from its mantissa and its unit, without importing
JAX or brainunit: the adapter only looks at the object it is given.
"""

from __future__ import annotations

import numbers
import re

import numpy as np
import pint

from .errors import FwdModelsError

__all__ = [
    "ureg",
    "Quantity",  # noqa: F822  (resolved by the module __getattr__)
    "parse_unit",
    "as_quantity",
    "to_si",
    "from_brainunit",
    "is_brainunit_quantity",
    "check_text",
    "option_quantity",
    "unit_text",
    "same_unit",
    "MAX_TEXT",
    "MIN_TIME",
]

#: The pint registry of fwdmodels: pint's application registry.
ureg = pint.get_application_registry()
# Load its unit definitions now, in the importing thread. pint loads them lazily on first use,
# and that first load is not thread-safe: two threads (dask workers, a thread pool) meeting an
# unloaded registry at once can see it half-built ("'ms' is not defined").
ureg.Unit("s")


def __getattr__(name):
    if name == "Quantity":  # the registry's Quantity class, resolved when first asked for
        return ureg.Quantity
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

#: Order of the SI base dimensions in a brainunit ``Dimension`` vector.
_BRAINUNIT_BASES = ("m", "kg", "s", "A", "K", "mol", "cd")

_UNIT_EXAMPLES = {
    "[time]": ("1 ms", "ureg.ms"),
    "[length]": ("9 cm", "ureg.cm"),
    "[current] * [length]": ("10 nA*m", "ureg.nA * ureg.m"),
}


#: Longest text read as a quantity or a unit. pint's parser takes time quadratic in the length
#: of a number (minutes for 100,000 digits), and no real quantity is longer than a few dozen
#: characters.
MAX_TEXT = 256
#: Shortest time (s) accepted as a quantity: no time step, repetition time or time constant of
#: a neural-mass simulation or a scanner is shorter than a nanosecond; a shorter one is a unit
#: mistake (and would ask for an absurd number of steps).
MIN_TIME = 1e-9


def check_text(text: str, name: str) -> str:
    """Return ``text`` stripped if it is at most :data:`MAX_TEXT` characters; raise otherwise."""
    if len(text) > MAX_TEXT:
        raise FwdModelsError(f"`{name}` must be a quantity text of at most {MAX_TEXT} "
                             f"characters (such as '1 ms'); got {len(text)} characters "
                             f"({text[:20]!r}...)")
    return text.strip()


def _example(dimension: str) -> tuple[str, str]:
    return _UNIT_EXAMPLES.get(dimension, ("<value> <unit>", "ureg.<unit>"))


def is_brainunit_quantity(obj) -> bool:
    """Return True for a brainunit/saiunit ``Quantity`` (checked without importing them)."""
    module = type(obj).__module__ or ""
    return (
        module.split(".")[0] in ("brainunit", "saiunit")
        and hasattr(obj, "mantissa")
        and hasattr(obj, "unit")
    )


def _is_brainunit_unit(obj) -> bool:
    module = type(obj).__module__ or ""
    return module.split(".")[0] in ("brainunit", "saiunit") and hasattr(obj, "dim") and hasattr(
        obj, "scale"
    )


def _brainunit_unit_to_pint(unit) -> pint.Unit | pint.Quantity:
    """Convert a brainunit ``Unit`` to a pint unit (or, failing a name match, a scaled SI unit)."""
    dims = np.asarray(getattr(unit.dim, "_dims", np.zeros(7)), dtype=float)
    si_factor = float(unit.factor) * float(unit.base) ** float(unit.scale)
    si_expr = " * ".join(
        f"{base} ** {int(p) if float(p).is_integer() else float(p)}"
        for base, p in zip(_BRAINUNIT_BASES, dims)
        if p != 0
    ) or "dimensionless"
    si_unit = ureg.Unit(si_expr)
    name = str(getattr(unit, "dispname", "") or "")
    if name:
        try:
            candidate = ureg.Unit(name)
        except Exception:  # pint raises several parse errors; any means "no match"
            candidate = None
        if candidate is not None and candidate.dimensionality == si_unit.dimensionality:
            factor = (1 * candidate).to(si_unit).magnitude
            if np.isclose(factor, si_factor, rtol=1e-12, atol=0):
                return candidate
    return si_factor * si_unit


def from_brainunit(obj) -> pint.Quantity:
    """Convert a brainunit Quantity to a pint Quantity with the same mantissa and unit.

    Parameters
    ----------
    obj : brainunit.Quantity
        Any object with ``mantissa`` and ``unit`` attributes as brainunit defines them. Its
        mantissa (a JAX or NumPy array, or a scalar) is read with :func:`numpy.asarray`, so its
        dtype (float32 or float64) is kept.
    """
    mantissa = np.asarray(obj.mantissa)
    unit = _brainunit_unit_to_pint(obj.unit)
    if isinstance(unit, pint.Unit):
        return ureg.Quantity(mantissa, unit)
    # A scaled SI unit (a Quantity): multiply the factor out (a Python float keeps the dtype).
    return ureg.Quantity(mantissa * float(unit.magnitude), unit.units)


def parse_unit(unit, name: str = "unit") -> pint.Unit:
    """Return a pint Unit from a pint Unit, a brainunit Unit or a string such as ``"uV"``."""
    if isinstance(unit, pint.Unit):
        return unit
    if _is_brainunit_unit(unit):
        converted = _brainunit_unit_to_pint(unit)
        if isinstance(converted, pint.Unit):
            return converted
        raise FwdModelsError(
            f"`{name}` must be a unit pint knows by name; brainunit unit {unit!r} has none"
        )
    if isinstance(unit, str):
        text = check_text(unit, name)
        try:
            return ureg.Unit(text)
        except Exception as exc:
            raise FwdModelsError(f"`{name}` must be a unit such as 'uV' or 'fT'; got {unit!r} "
                                 f"({exc})") from None
    raise FwdModelsError(f"`{name}` must be a unit (a pint Unit or a string such as 'uV'); "
                         f"got {unit!r} of type {type(unit).__name__}")


def as_quantity(value, name: str, dimension: str | None = None) -> pint.Quantity:
    """Return ``value`` as a pint Quantity, refusing a bare number.

    Parameters
    ----------
    value : pint.Quantity, str, brainunit.Quantity
        A quantity with its unit, e.g. ``1 * ureg.ms``, ``"1 ms"`` or ``1 * brainunit.ms``.
    name : str
        The argument's name, used in error messages.
    dimension : str, optional
        A pint dimensionality such as ``"[time]"`` that the quantity must have.

    A text is at most :data:`MAX_TEXT` characters. A single value (not an array) must be a
    finite real number, and a time at least :data:`MIN_TIME` in magnitude (or zero, which the
    caller refuses in its own words where it must be positive).
    """
    if is_brainunit_quantity(value):
        value = from_brainunit(value)
    elif isinstance(value, str):
        text = check_text(value, name)
        try:
            value = ureg.Quantity(text)
        except Exception as exc:
            raise FwdModelsError(
                f"`{name}` could not be read as a quantity: {text!r} ({exc}); write it as "
                f"'{_example(dimension or '')[0]}'"
            ) from None
    if not isinstance(value, pint.Quantity):
        text, attr = _example(dimension or "")
        raise FwdModelsError(
            f"`{name}` must carry a unit; got {_short(value)} (no unit). Write it as "
            f"'{text}' or `{text.split()[0]} * fwdmodels.{attr}`"
        )
    if dimension is not None and not value.check(dimension):
        raise FwdModelsError(
            f"`{name}` must have the dimension {dimension}; got {value:~} "
            f"(dimension {value.dimensionality})"
        )
    if np.ndim(value.magnitude) == 0:
        _check_scalar(value, name, dimension)
    return value


def _check_scalar(q: pint.Quantity, name: str, dimension: str | None) -> None:
    """Refuse a single value that is not a finite real number, or an absurdly short time."""
    magnitude = q.magnitude
    if isinstance(magnitude, np.ndarray):
        magnitude = magnitude.reshape(()).item() if magnitude.dtype.kind in "biufc" else None
    if isinstance(magnitude, bool) or not isinstance(magnitude, numbers.Real):
        raise FwdModelsError(f"`{name}` must be a real number with a unit; got {_short(q)}")
    if not np.isfinite(magnitude):
        raise FwdModelsError(f"`{name}` must be finite; got {q:~}")
    if dimension == "[time]" and magnitude != 0:
        seconds = abs(float(q.to("s").magnitude))
        if seconds < MIN_TIME:
            raise FwdModelsError(f"`{name}` must be at least {MIN_TIME:g} s (1 ns) in "
                                 f"magnitude: no step or time constant of these models is "
                                 f"shorter; got {q:~}. Check its unit")


def to_si(value, name: str, dimension: str) -> float | np.ndarray:
    """Return the SI magnitude (a float or a float array) of a quantity of ``dimension``."""
    q = as_quantity(value, name, dimension)
    magnitude = q.to_base_units().magnitude
    if isinstance(magnitude, numbers.Number):
        return float(magnitude)
    return np.asarray(magnitude)


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_BARE_NUMBER = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")


def option_quantity(value, name: str, dimension: str | None, unit: str):
    """A pint Quantity from an option that must carry its unit, or None for None.

    Parameters
    ----------
    value : str, pint.Quantity, brainunit.Quantity or None
        The option as given, e.g. ``"0.1 ms"``.
    name : str
        The argument's Python name, used in error messages.
    dimension : str or None
        A pint dimensionality such as ``"[time]"`` that the quantity must have.
    unit : str
        The unit shown in the example of the error message for a bare number (``"ms"``).

    A bare number, or a text that is only a number, is refused with a message that shows it
    with ``unit``: "`dt` 0.1 has no unit; write it with one, e.g. `dt='0.1ms'`".
    """
    if value is None:
        return None
    if isinstance(value, str):      # bounded before the regex, which backtracks on long text
        check_text(value, name)
    bare = value.strip() if isinstance(value, str) and _BARE_NUMBER.match(value) else (
        value if isinstance(value, numbers.Number) and not isinstance(value, bool) else None)
    if bare is not None:
        example = f"{bare}{unit}" if unit.isalpha() else f"{bare} {unit}"
        raise FwdModelsError(f"`{name}` {bare} has no unit; write it with one, e.g. "
                             f"`{name}='{example}'`")
    return as_quantity(value, name, dimension)


def unit_text(unit) -> str:
    """ASCII text of a pint unit that pint reads back (``uV`` rather than ``µV``)."""
    return f"{unit:~}".replace("µ", "u").replace("μ", "u")


def same_unit(a, b) -> bool:
    """Whether two pint units are the same: equal dimension and factor (to 1e-12)."""
    qa, qb = 1.0 * a, 1.0 * b
    return qa.dimensionality == qb.dimensionality and bool(np.isclose(
        qa.to_base_units().magnitude, qb.to_base_units().magnitude, rtol=1e-12))
