r"""Sensor noise: Gaussian with a given covariance, or white at a given signal-to-noise ratio.

The noise is drawn as :math:`e = z\,F^\top` with :math:`z` standard normal (one row per sample)
and :math:`F = V\,\mathrm{diag}(\sqrt{\lambda})` from the eigendecomposition
:math:`C = V\,\mathrm{diag}(\lambda)\,V^\top`, so that :math:`\mathrm{cov}(e) = F F^\top = C`
(a singular, positive semi-definite :math:`C` is allowed; the eigendecomposition is used rather
than a Cholesky factor for that reason). :math:`C` is scaled by its largest entry before the
decomposition, so that a covariance near the float64 limit (``1e308 * I``) decomposes too.

With ``snr_db``, the noise power per channel is :math:`P_s / 10^{\mathrm{snr}/10}`, where
:math:`P_s` is a signal power fixed once per model (see
:class:`fwdmodels.leadfield.LeadFieldModel`: stated with ``signal_power``, or measured on the
first call or by ``calibrate``), the mean over channels and samples of the noise-free signal
squared, before any reference. Alone, ``snr_db`` gives white noise; with a covariance, the
covariance is rescaled so that its mean diagonal equals that power. ``snr_db`` lies within
±3000 dB: a power ratio of :math:`10^{\pm 300}`, the range of float64.
"""

from __future__ import annotations

import numbers

import numpy as np

from .._validation import as_float_array, check_finite, check_seed
from ..errors import FwdModelsError
from ..units import as_quantity, is_brainunit_quantity

__all__ = ["read_noise_cov", "noise_factor", "make_rng", "draw_noise", "snr_noise_scale",
           "snr_noise_std", "check_snr_db", "rms", "series_rms", "RunningRMS", "SNR_LIMIT_DB"]

#: Largest |snr_db|: 10^(±3000/10) = 10^±300 stays within float64.
SNR_LIMIT_DB = 3000.0


def check_snr_db(snr_db):
    """``snr_db`` as a float (None stays None): a finite real number within ±3000 dB."""
    if snr_db is None:
        return None
    if isinstance(snr_db, bool) or not isinstance(snr_db, numbers.Real) or \
            not np.isfinite(snr_db):
        raise FwdModelsError(f"`snr_db` must be a finite real number of dB; got {snr_db!r}")
    if abs(float(snr_db)) > SNR_LIMIT_DB:
        raise FwdModelsError(f"`snr_db` must lie within ±{SNR_LIMIT_DB:g} dB (a power ratio of "
                             f"10^±300, the range of float64); got {snr_db!r}")
    return float(snr_db)


class RunningRMS:
    """Root mean square of values given block by block, without overflow near the float64
    limit: the scaled sum of squares of LAPACK's ``dnrm2`` (a running maximum ``scale`` and
    ``ssq`` with ``Σ y² = scale² · ssq``)."""

    def __init__(self):
        self.scale, self.ssq, self.count = 0.0, 0.0, 0

    def add(self, y) -> None:
        y = np.asarray(y, dtype=np.float64)
        self.count += y.size
        big = float(np.max(np.abs(y), initial=0.0))
        if big > self.scale:
            self.ssq, self.scale = self.ssq * (self.scale / big) ** 2, big
        if self.scale > 0.0:
            self.ssq += float(np.sum(np.square(y / self.scale)))

    @property
    def parts(self) -> tuple:
        """``(scale, ssq, count)``: what :meth:`merge` of another accumulator takes."""
        return self.scale, self.ssq, self.count

    def merge(self, scale: float, ssq: float, count: int) -> None:
        """Add the values summed by another accumulator, given as its :attr:`parts` (blocks
        summed in parallel, then merged)."""
        self.count += int(count)
        if scale > self.scale:
            self.ssq, self.scale = self.ssq * (self.scale / scale) ** 2, float(scale)
        if self.scale > 0.0:
            self.ssq += float(ssq) * (scale / self.scale) ** 2

    def value(self) -> float:
        if self.count == 0 or self.scale == 0.0:
            return 0.0
        return self.scale * float(np.sqrt(self.ssq / self.count))


def series_rms(chunks, lead: np.ndarray) -> float:
    """RMS of ``s @ lead`` over every chunk ``s`` of ``chunks()`` (a callable giving the input
    chunks, float64, rows samples): from the Gram matrix ``Σ sᵀs`` (one pass, O(R²) per
    row), or, when that overflows, from the signal itself (a second pass)."""
    gram = np.zeros((lead.shape[0],) * 2)
    count = 0
    with np.errstate(over="ignore", invalid="ignore"):
        for s in chunks():
            gram += s.T @ s
            count += s.shape[0] * lead.shape[1]
        power = float(np.sum(gram * (lead @ lead.T))) / max(count, 1)
    if np.isfinite(power) and power >= 0.0:
        return float(np.sqrt(power))
    acc = RunningRMS()
    for s in chunks():
        acc.add(s @ lead)
    return acc.value()


def rms(values) -> float:
    """Root mean square of ``values`` in float64, without overflow near the float64 limit."""
    y = np.asarray(values)
    if y.size == 0:
        return 0.0
    scale = float(np.max(np.abs(y)))
    if scale == 0.0 or not np.isfinite(scale):
        return scale
    return scale * float(np.sqrt(np.mean(np.square(y / scale, dtype=np.float64))))


def make_rng(rng) -> np.random.Generator:
    """A :class:`numpy.random.Generator` from None, an int seed or a Generator."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, numbers.Integral) and not isinstance(rng, bool)):
        return np.random.default_rng(None if rng is None else check_seed(rng, "rng"))
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
    unit = cov / scale                     # entries within [-1, 1]: nothing below overflows
    asym = float(np.abs(unit - unit.T).max())
    if asym > 1e-10:
        raise FwdModelsError(f"`noise_cov` must be symmetric; got max |C - C.T| = "
                             f"{asym * scale:.3g}")
    unit = 0.5 * (unit + unit.T)
    smallest = float(np.linalg.eigvalsh(unit).min())
    if smallest < -1e-10:
        raise FwdModelsError(f"`noise_cov` must be positive semi-definite; got smallest "
                             f"eigenvalue {smallest * scale:.6g}")
    return unit * scale


def noise_factor(cov: np.ndarray) -> np.ndarray:
    """``F`` with ``F @ F.T == cov`` from ``eigh`` (tiny negative eigenvalues clipped to 0).

    The decomposition is of ``cov`` divided by its largest entry; ``F`` is scaled back by the
    square root of that entry, so that no step overflows for a covariance near 1e308.
    """
    scale = float(np.abs(cov).max()) if np.size(cov) else 0.0
    if scale == 0.0:
        return np.zeros_like(cov, dtype=float)
    w, v = np.linalg.eigh(cov / scale)
    return (v * np.sqrt(np.clip(w, 0.0, None))) * np.sqrt(scale)


def draw_noise(rng: np.random.Generator, shape: tuple, factor: np.ndarray | None,
               std: float = 1.0, dtype=np.float64) -> np.ndarray:
    """Noise of ``shape`` (channels last): ``std · z @ factor.T``, or white ``std · z``."""
    z = rng.standard_normal(shape, dtype=np.float64)
    e = z if factor is None else z @ factor.T
    if std != 1.0:
        e *= std
    return e.astype(dtype, copy=False)


def snr_noise_std(signal_rms: float, snr_db: float, factor: np.ndarray | None) -> float:
    """Multiplier of the unit noise so that its mean channel power is ``P_s / 10^(snr/10)``.

    ``signal_rms`` is :math:`\\sqrt{P_s}`; the result is
    ``signal_rms · 10^(−snr/20) / rms(F)·√M``, formed from square roots so that no power
    of a value near the float64 limit is taken.
    """
    if factor is None:
        unit_rms = 1.0
    else:
        unit_rms = rms(factor) * np.sqrt(factor.shape[1])   # sqrt(trace(F F^T) / M)
    if unit_rms == 0.0 or signal_rms == 0.0:
        return 0.0
    return float(signal_rms * 10.0 ** (-snr_db / 20.0) / unit_rms)


def snr_noise_scale(signal_power: float, snr_db: float, factor: np.ndarray | None) -> float:
    """:func:`snr_noise_std` for a signal power (mean square) rather than its square root."""
    return snr_noise_std(float(np.sqrt(signal_power)), snr_db, factor)
