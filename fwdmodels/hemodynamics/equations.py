"""Right-hand side of the Balloon-Windkessel state equations and the BOLD observation.

The functions here are written once and used twice: on NumPy arrays by the NumPy path, and on
scalars inside the Numba kernels (``_kernels.py`` compiles them). Parameters arrive packed in
one float64 vector so that the kernels take plain arrays; :func:`pack_params` builds it.

Powers are written as ``exp(log(.) * a)``: for the positive arguments of the model's domain
this is the same function as ``**``, and it leaves NaN for an argument that left the domain
(v <= 0) instead of a complex number or an exception. At rest (x = 0, f = v = q = 1) every
derivative is exactly 0.0 in floating point, so a model at rest with no input stays there
bit for bit and its BOLD signal is exactly 0.
"""

from __future__ import annotations

import numpy as np

from ..errors import FwdModelsError
from .params import BalloonParams

__all__ = ["pack_params", "rhs", "observe", "N_PARAMS"]

# Rows of the packed parameter array.
KAPPA, GAMMA, INV_TAU, INV_ALPHA, LOG1M_RHO, ODDS, V0, K1, K2, K3 = range(10)
N_PARAMS = 10


def pack_params(params: BalloonParams, shape: tuple[int, ...] = ()) -> np.ndarray:
    """Return the float64 ``(N_PARAMS, prod(shape))`` array the equations and kernels read
    (a vector ``(N_PARAMS,)`` for the default ``shape=()``, scalar parameters only).

    Column ``i`` holds region ``i``'s values (rows above), broadcast from scalars or per-region
    arrays to ``shape`` (the regions, or batch and regions) and flattened in C order. The
    observation's coefficients are stored in the one form ``V0 (K1 (1-q) + K2 (1-q/v) +
    K3 (1-v))``: for ``"revised_linear"`` (Stephan et al. 2007, eq. 11) ``K1 = k1 + k2``,
    ``K2 = 0``, ``K3 = k3 - k2``.
    """
    k1, k2, k3 = params.bold_coefficients()
    if params.observation == "revised_linear":
        k1, k2, k3 = k1 + k2, 0.0 * k2, k3 - k2
    rho = params.rho
    rows = (params.kappa, params.gamma, 1.0 / params.tau, 1.0 / params.alpha, np.log1p(-rho),
            (1.0 - rho) / rho, params.V0, k1, k2, k3)
    try:
        target = np.broadcast_shapes(params.shape, tuple(shape))
        if target != tuple(shape):
            raise ValueError
    except ValueError:
        raise FwdModelsError(
            f"`params` must hold scalars or per-region values that broadcast to the regions' "
            f"shape {tuple(shape)}; got parameters of shape {params.shape}") from None
    shape = tuple(shape)
    n = int(np.prod(shape, dtype=np.int64))
    out = np.empty((N_PARAMS, n))
    for k, row in enumerate(rows):
        out[k] = np.broadcast_to(np.asarray(row, dtype=np.float64), shape).reshape(n)
    return out[:, 0] if shape == () else out


def rhs(x, f, v, q, z, p):
    """Time derivatives ``(dx, df, dv, dq)`` of the four states, per second.

    Parameters
    ----------
    x, f, v, q : float or ndarray
        Vasodilatory signal (s^-1), normalised inflow, volume and deoxyhemoglobin.
    z : float or ndarray
        Neural drive held over the step, in s^-2.
    p : ndarray or tuple
        Packed parameters from :func:`pack_params`: rows indexed by the constants above, each
        a scalar (inside the kernels) or one value per region.
    """
    outflow = np.exp(np.log(v) * p[INV_ALPHA])                   # v ** (1/alpha)
    # E(f)/rho with E(f) = 1 - (1-rho)**(1/f), written as
    #     1 - (1-rho)/rho * ((1-rho)**(1/f - 1) - 1):
    # exactly 1 at f = 1, so rest is an exact fixed point in floating point. Its absolute
    # error stays near one ulp for f near 1 (the bracket is added to 1), without expm1.
    extraction_ratio = 1.0 - p[ODDS] * (np.exp(p[LOG1M_RHO] * (1.0 / f - 1.0)) - 1.0)
    dx = z - p[KAPPA] * x - p[GAMMA] * (f - 1.0)
    df = x
    dv = (f - outflow) * p[INV_TAU]
    dq = (f * extraction_ratio - outflow * q / v) * p[INV_TAU]
    return dx, df, dv, dq


def observe(v, q, p):
    """BOLD signal, a dimensionless fraction of the resting signal, from volume and dHb.

    ``V0 * (K1 (1-q) + K2 (1-q/v) + K3 (1-v))`` with the coefficients packed by
    :func:`pack_params` (``K2 = 0`` for the linear form).
    """
    return p[V0] * (p[K1] * (1.0 - q) + p[K2] * (1.0 - q / v) + p[K3] * (1.0 - v))
