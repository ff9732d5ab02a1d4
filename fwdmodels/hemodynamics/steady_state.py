"""The fixed point of the Balloon-Windkessel model under a constant input, in closed form.

With ``z`` constant, setting every derivative to zero gives::

    x = 0,   f = 1 + z / gamma,   v = f ** alpha,   q = v * E(f) / rho

(``df/dt = x`` forces x = 0, then ``dx/dt = 0`` gives f; ``dv/dt = 0`` gives v; ``dq/dt = 0``
with ``v ** (1/alpha) = f`` gives q). A fixed point with positive inflow exists only for
``z > -gamma``. At rest (z = 0) it is x = 0, f = v = q = 1 and the BOLD signal is 0.
"""

from __future__ import annotations

import numpy as np

from .._validation import as_float_array, check_finite
from ..errors import FwdModelsError
from ..units import ureg
from .equations import observe, pack_params
from .params import resolve_params

__all__ = ["steady_state", "steady_state_arrays"]


def steady_state_arrays(z: np.ndarray, params) -> dict[str, np.ndarray]:
    """The fixed point as a dict of float arrays ``x, f, v, q`` (no units, no checks on z)."""
    f = 1.0 + z / params.gamma
    if np.any(f <= 0):
        bad = np.unravel_index(int(np.argmin(f)), np.shape(f))
        gamma = float(np.broadcast_to(params.gamma, np.shape(f))[bad])
        z_bad = float(np.broadcast_to(z, np.shape(f))[bad])
        raise FwdModelsError(
            f"`z` must exceed -gamma = {-gamma} for a steady state with positive inflow; "
            f"got {z_bad!r}" + (f" at index {bad}" if np.ndim(f) else ""))
    v = f ** params.alpha
    extraction = 1.0 - (1.0 - params.rho) ** (1.0 / f)
    q = v * extraction / params.rho
    return {"x": np.zeros_like(f), "f": f, "v": v, "q": q}


def steady_state(z, params="friston2003", **overrides) -> dict:
    """Return the steady state for a constant neural input ``z``.

    Parameters
    ----------
    z : float or array_like
        Constant neural drive (the same quantity the ODE takes, s^-2), one value per region.
    params : str or BalloonParams
        A preset name or a parameter set (scalars or per-region values that broadcast against
        ``z``); ``overrides`` change single values.

    Returns
    -------
    dict
        ``"x"`` (s^-1), ``"f"``, ``"v"``, ``"q"`` (dimensionless arrays shaped like ``z``) and
        ``"bold"``, the BOLD signal at the fixed point as a dimensionless pint Quantity.
    """
    params = resolve_params(params, **overrides)
    z = check_finite(as_float_array(z, "z", (0, 1, 2)), "z", ("region",))
    states = steady_state_arrays(z, params)
    shape = np.shape(states["f"])
    p = pack_params(params, shape)
    bold = observe(states["v"].reshape(-1), states["q"].reshape(-1), p).reshape(shape)
    states["bold"] = ureg.Quantity(bold, "dimensionless")
    return states
