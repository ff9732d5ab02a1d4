"""Small checks that return the cleaned value or raise :class:`FwdModelsError`.

Each message follows one pattern: the argument's name, the rule, and the value given.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable

import numpy as np

from .errors import FwdModelsError
from .units import from_brainunit, is_brainunit_quantity

__all__ = [
    "check_option",
    "check_positive",
    "check_open_interval",
    "check_int",
    "as_float_array",
    "check_finite",
    "check_dtype",
    "check_seed",
]


def check_option(value, name: str, options: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``options``; otherwise raise naming the choices."""
    options = tuple(options)
    if not isinstance(value, str) or value not in options:
        listed = ", ".join(repr(o) for o in options)
        raise FwdModelsError(f"`{name}` must be one of {listed}; got {value!r}")
    return value


def check_positive(value, name: str, unit: str = "") -> float:
    """Return ``value`` as a float if it is finite and strictly positive."""
    number = _real(value, name)
    if not (np.isfinite(number) and number > 0):
        raise FwdModelsError(f"`{name}` must be positive and finite; got {number!r}{unit}")
    return number


def check_open_interval(value, name: str, low: float, high: float) -> float:
    """Return ``value`` as a float if ``low < value < high``."""
    number = _real(value, name)
    if not (low < number < high):
        raise FwdModelsError(f"`{name}` must lie strictly between {low} and {high}; got {number!r}")
    return number


def check_int(value, name: str, minimum: int | None = None) -> int:
    """Return ``value`` as an int (bools refused) if it is at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise FwdModelsError(f"`{name}` must be an integer; got {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise FwdModelsError(f"`{name}` must be at least {minimum}; got {value}")
    return value


def check_seed(value, name: str = "rng") -> int:
    """Return ``value`` as an int if it can seed :func:`numpy.random.default_rng` (0 or more,
    below 2**128); numpy's own error ("expected non-negative integer") names no argument."""
    value = check_int(value, name)
    if not 0 <= value < 2 ** 128:
        raise FwdModelsError(f"`{name}` must be a seed from 0 to 2**128 - 1; got {value}")
    return value


def _real(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise FwdModelsError(f"`{name}` must be a real number; got {value!r}")
    return float(value)


def check_dtype(dtype, name: str = "dtype") -> np.dtype:
    """Return float32 or float64 as a NumPy dtype."""
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        resolved = None
    if resolved not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise FwdModelsError(f"`{name}` must be float32 or float64; got {dtype!r}")
    return resolved


def as_float_array(value, name: str, ndims: tuple[int, ...], dtype=np.float64) -> np.ndarray:
    """Read an array-like (NumPy, JAX, brainunit mantissa) as a float array of allowed rank.

    Units are not handled here; callers strip them first.
    """
    if is_brainunit_quantity(value):
        value = from_brainunit(value).magnitude
    try:
        array = np.asarray(value)
    except Exception as exc:  # objects NumPy cannot read
        raise FwdModelsError(f"`{name}` must be an array of numbers; got {type(value).__name__} "
                             f"({exc})") from None
    if array.dtype.kind not in "biuf":
        raise FwdModelsError(f"`{name}` must hold real numbers; got dtype {array.dtype}")
    if array.ndim not in ndims:
        allowed = " or ".join(f"{n}-D" for n in ndims)
        raise FwdModelsError(f"`{name}` must be {allowed}; got shape {array.shape} "
                             f"({array.ndim}-D)")
    return np.asarray(array, dtype=dtype)


#: From this many values on, :func:`check_finite` first runs the compiled check of
#: :mod:`fwdmodels._finite` (when numba compiles), which reads the array once.
FAST_FINITE_MIN = 1 << 20


def compiled_all_finite(array: np.ndarray) -> bool:
    """True if the compiled check ran and found every value finite; False if it found a
    value that is not or did not run (small, non-contiguous or non-float64 arrays, no numba),
    so that the NumPy check then finds the first offending index."""
    if array.size < FAST_FINITE_MIN or array.dtype != np.float64 or \
            not array.flags.c_contiguous:
        return False
    from ._numba import JIT_ENABLED
    if not JIT_ENABLED:
        return False
    from ._finite import all_finite
    return all_finite(array)


def check_finite(array: np.ndarray, name: str, axes: tuple[str, ...] = ("time index", "region")):
    """Raise if ``array`` holds NaN or inf, naming the first offending index.

    The last ``len(axes)`` axes of ``array`` are described by ``axes``; leading axes (a batch)
    are reported as ``batch``.
    """
    if compiled_all_finite(array):
        return array
    finite = np.isfinite(array)
    if finite.all():
        return array
    index = np.unravel_index(int(np.argmin(finite.ravel())), array.shape)
    labels = ("batch",) * (array.ndim - len(axes)) + tuple(axes[-array.ndim:])
    where = ", ".join(f"{label} {i}" for label, i in zip(labels, index))
    raise FwdModelsError(f"`{name}` must be finite; found {float(array[index])!r} at {where}")
