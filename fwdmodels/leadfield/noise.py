r"""Sensor noise: Gaussian with a given covariance, or white at a given signal-to-noise ratio.

The noise is drawn as :math:`e = z\,F^\top` with :math:`z` standard normal (one row per sample)
and :math:`F = V\,\mathrm{diag}(\sqrt{\lambda})` from the eigendecomposition
:math:`C = V\,\mathrm{diag}(\lambda)\,V^\top`, so that :math:`\mathrm{cov}(e) = F F^\top = C`
(a singular, positive semi-definite :math:`C` is allowed; the eigendecomposition is used rather
than a Cholesky factor for that reason).

With ``snr_db``, the noise power per channel is :math:`P_s / 10^{\mathrm{snr}/10}`, where
:math:`P_s` is the mean signal power over channels and time (before any reference). Alone,
``snr_db`` gives white noise; with a covariance, the covariance is rescaled so that its mean
diagonal equals that power.
"""

from __future__ import annotations

import numbers

import numpy as np

from .._validation import as_float_array, check_finite
from ..errors import FwdModelsError
from ..units import as_quantity, is_brainunit_quantity

__all__ = ["read_noise_cov", "noise_factor", "make_rng", "draw_noise", "snr_noise_scale"]


def make_rng(rng) -> np.random.Generator:
    """A :class:`numpy.random.Generator` from None, an int seed or a Generator."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, numbers.Integral) and not isinstance(rng, bool)):
        return np.random.default_rng(rng)
    raise FwdModelsError(f"`rng` must be a numpy.random.Generator, an int seed or None; "
                         f"got {rng!r}")


def read_noise_cov(noise_cov, n_channels: int, sensor_unit) -> np.ndarray:
    """The noise covariance in ``sensor_unit``² as a float64 ``(M, M)`` array, checked PSD.

    A Quantity is converted to ``sensor_unit``²; a bare array is read in ``sensor_unit``².
    """
    if is_brainunit_quantity(noise_cov) or hasattr(noise_cov, "dimensionality"):
        q = as_quantity(noise_cov, "noise_cov")
        target = sensor_unit ** 2
        if q.dimensionality != (1 * target).dimensionality:
            raise FwdModelsError(f"`noise_cov` must be in a unit compatible with {target:~} "
                                 f"(the sensor unit squared); got {q.units:~}")
        noise_cov = q.to(target).magnitude
    cov = as_float_array(noise_cov, "noise_cov", (2,))
    m = n_channels
    if cov.shape != (m, m):
        raise FwdModelsError(f"`noise_cov` must have shape ({m}, {m}); got shape {cov.shape}")
    check_finite(cov, "noise_cov", ("row", "column"))
    scale = float(np.abs(cov).max()) or 1.0
    asym = float(np.abs(cov - cov.T).max())
    if asym > 1e-10 * scale:
        raise FwdModelsError(f"`noise_cov` must be symmetric; got max |C - C.T| = {asym:.3g}")
    smallest = float(np.linalg.eigvalsh(0.5 * (cov + cov.T)).min())
    if smallest < -1e-10 * scale:
        raise FwdModelsError(f"`noise_cov` must be positive semi-definite; got smallest "
                             f"eigenvalue {smallest:.6g}")
    return 0.5 * (cov + cov.T)


def noise_factor(cov: np.ndarray) -> np.ndarray:
    """``F`` with ``F @ F.T == cov`` from ``eigh`` (tiny negative eigenvalues clipped to 0)."""
    w, v = np.linalg.eigh(cov)
    return v * np.sqrt(np.clip(w, 0.0, None))


def draw_noise(rng: np.random.Generator, shape: tuple, factor: np.ndarray | None,
               std: float = 1.0, dtype=np.float64) -> np.ndarray:
    """Noise of ``shape`` (channels last): ``std · z @ factor.T``, or white ``std · z``."""
    z = rng.standard_normal(shape, dtype=np.float64)
    e = z if factor is None else z @ factor.T
    if std != 1.0:
        e *= std
    return e.astype(dtype, copy=False)


def snr_noise_scale(signal_power: float, snr_db: float, factor: np.ndarray | None) -> float:
    """Multiplier of the unit noise so that its mean channel power is ``P_s / 10^(snr/10)``."""
    target = signal_power / 10.0 ** (snr_db / 10.0)
    unit_power = 1.0 if factor is None else float(np.sum(factor * factor)) / factor.shape[0]
    if unit_power == 0.0:
        return 0.0
    return float(np.sqrt(target / unit_power))
