"""Optional Numba: ``njit`` and ``prange`` when numba is installed, pure-Python stand-ins otherwise.

Numba is imported only when this module is, and this module only when a kernel is first
needed, so ``import fwdmodels`` stays fast. Kernels are compiled with ``cache=True`` and
without ``fastmath`` so NaN and inf behave as in NumPy.
"""

from __future__ import annotations

import os

try:  # pragma: no cover - exercised in the CI run without numba
    import numba as _numba
except ImportError:  # pragma: no cover
    _numba = None

__all__ = ["HAVE_NUMBA", "JIT_ENABLED", "njit", "prange"]

HAVE_NUMBA = _numba is not None
#: True when kernels are really compiled (numba installed and NUMBA_DISABLE_JIT unset).
JIT_ENABLED = HAVE_NUMBA and os.environ.get("NUMBA_DISABLE_JIT", "0") in ("", "0")


def njit(*args, **kwargs):
    """``numba.njit(cache=True)`` when numba is installed, else the function unchanged."""
    kwargs.setdefault("cache", True)
    if HAVE_NUMBA:
        return _numba.njit(*args, **kwargs)
    if args and callable(args[0]):
        return args[0]
    return lambda func: func


prange = _numba.prange if HAVE_NUMBA else range
