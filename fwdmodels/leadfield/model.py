r"""Lead-field models: sensor data from source activity, :math:`y = s\,L + e`, then a reference.

``s`` holds the dipole moments of R regions (time first: ``(R,)``, ``(T, R)`` or ``(B, T, R)``),
``L`` is the ``(R, M)`` lead field (rows regions, columns sensors), ``e`` optional Gaussian
sensor noise, and the reference (EEG) is applied last, as in a recording.

Units are resolved once, at construction: the lead field, the dipole scale and the sensor unit
are folded into one float matrix, so that a call is a BLAS matmul plus a pint wrapper.

Inputs, and how a bare array is read
------------------------------------
* Without ``dipole_scale``: dipole moments, a Quantity in any unit of current × length
  (A·m, nA·m...). A bare array is read in **nA·m**.
* With ``dipole_scale`` (e.g. ``1.5 nA·m/mV``): any quantity whose unit times the scale gives
  A·m (membrane potentials in mV, say). A bare array is read in the scale's denominator unit
  (**mV** for ``nA·m/mV``; dimensionless for a scale in A·m).
"""

from __future__ import annotations

import numbers

import numpy as np
import pint

from .._validation import as_float_array, check_dtype, check_finite, check_int
from ..errors import FwdModelsError
from ..units import as_quantity, from_brainunit, is_brainunit_quantity, parse_unit, ureg
from .noise import draw_noise, make_rng, noise_factor, read_noise_cov, snr_noise_scale
from .reference import reference_matrix

__all__ = ["LeadFieldModel", "EEGLeadFieldModel", "MEGLeadFieldModel"]

_DIPOLE = "[current] * [length]"
#: Unit of a bare dipole-moment input (a string: pint is loaded on first use).
_NA_M = "nA * m"
_DEFAULT_CHUNK = 65536


def _is_quantity(x) -> bool:
    return isinstance(x, pint.Quantity) or is_brainunit_quantity(x)


def _denominator(unit: pint.Unit) -> pint.Unit:
    """The part of ``unit`` with negative exponents, inverted (``nA·m/mV`` → ``mV``)."""
    parts = [(name, -power) for name, power in unit._units.items() if power < 0]
    if not parts:
        return ureg.dimensionless
    return ureg.Unit(" * ".join(f"{name} ** {p}" for name, p in parts))


class LeadFieldModel:
    """A linear lead-field forward model with units, reference and noise.

    Parameters
    ----------
    in_size : int
        Number of regions R (rows of ``L``).
    out_size : int
        Number of sensors M (columns of ``L``).
    L : pint.Quantity or brainunit.Quantity, shape (R, M) or (R, 3, M)
        Lead field, with a unit of (sensor unit)/(A·m), e.g. ``V/(nA*m)`` or ``fT/(nA*m)``.
        ``(R, 3, M)`` is a free-orientation lead field: give ``orientations`` (R, 3) to fix
        the dipole directions, or call the model with three-component dipoles ``(…, R, 3)``.
        A bare array is refused (no unit is guessed), and so is ``(M, R)``.
    dipole_scale : pint.Quantity, optional
        Conversion of the input to dipole moments (e.g. ``1.5 * ureg("nA*m/mV")``).
    sensor_unit : str or pint.Unit, optional
        Unit of the output; by default the lead field's unit times A·m (subclasses choose).
    reference : None, "average", int or (M, M) array
        Applied after noise (see :mod:`fwdmodels.leadfield.reference`).
    noise_cov : pint.Quantity or array_like, shape (M, M), optional
        Noise covariance in ``sensor_unit``² (a bare array is read in ``sensor_unit``²);
        symmetric positive semi-definite.
    snr_db : float, optional
        Signal-to-noise ratio in dB relative to the mean signal power over channels and time
        (white noise, or ``noise_cov`` rescaled).
    rng : numpy.random.Generator or int, optional
        Source of the noise (a Generator, or a seed).
    orientations : array_like, shape (R, 3), optional
        Fixed dipole directions for a free-orientation ``L``.
    dtype : {float64, float32}
        Precision of the computation and of the output.

    Notes
    -----
    ``model(x)`` maps ``(R,)``, ``(T, R)``, ``(B, T, R)`` (or ``(…, R, 3)`` with a free
    orientation) to ``(M,)``, ``(T, M)``, ``(B, T, M)``, a Quantity in ``sensor_unit``. A bare
    input is read in nA·m, or in the unit of the denominator of ``dipole_scale`` when one is
    set (mV for ``nA·m/mV``). :meth:`apply` processes long series chunk by chunk into ``out``.
    """

    modality = "other"
    _allowed: tuple = ()          # (L dimension per A·m, default output unit) pairs

    def __init__(self, in_size, out_size, L, *, dipole_scale=None, sensor_unit=None,
                 reference=None, noise_cov=None, snr_db=None, rng=None, orientations=None,
                 dtype=np.float64):
        self.in_size = check_int(in_size, "in_size", 1)
        self.out_size = check_int(out_size, "out_size", 1)
        self.dtype = check_dtype(dtype)
        L_q = self._read_L(L)
        self._free = L_q.ndim == 3 and orientations is None
        lead_unit = L_q.units * ureg.Unit("A*m")                        # the sensor dimension
        self.sensor_unit = self._resolve_sensor_unit(sensor_unit, lead_unit, L_q)
        # Input unit: nA·m, or the denominator of the dipole scale.
        if dipole_scale is None:
            self.dipole_scale = None
            self.input_unit = ureg.Unit(_NA_M)
            to_dipole = ureg.Quantity(1.0, _NA_M).to("A*m").magnitude
        else:
            scale = as_quantity(dipole_scale, "dipole_scale")
            self.dipole_scale = scale
            self.input_unit = _denominator(scale.units)
            per_input = (scale * (1.0 * self.input_unit)).to_base_units()
            if not per_input.check(_DIPOLE):
                raise FwdModelsError(
                    f"`dipole_scale` must convert the input to a dipole moment (a unit such as "
                    f"nA*m/mV); got {scale:~}, which times {self.input_unit:~} gives "
                    f"{per_input.units:~}, not A*m")
            to_dipole = float((scale * (1.0 * self.input_unit)).to("A*m").magnitude)
        L_si = np.asarray(L_q.to_base_units().magnitude, dtype=float)
        out_si = float((1.0 * self.sensor_unit).to_base_units().magnitude)
        matrix = L_si * (to_dipole / out_si)
        if L_q.ndim == 3:
            if orientations is not None:
                from ._inputs import read_orientations
                ori = read_orientations(orientations, "orientations", self.in_size)
                matrix = np.einsum("rkm,rk->rm", matrix, ori)
            else:
                matrix = matrix.reshape(3 * self.in_size, self.out_size)
        check_finite(matrix, "L", ("region", "sensor"))
        self.L = L_q
        self._matrix = np.ascontiguousarray(matrix, dtype=self.dtype)
        self._reference = reference_matrix(reference, self.out_size, self.modality)
        if self._reference is not None:
            self._reference = self._reference.astype(self.dtype)
        self.reference = reference
        self._factor = None
        self.noise_cov = None
        if noise_cov is not None:
            cov = read_noise_cov(noise_cov, self.out_size, self.sensor_unit)
            self.noise_cov = ureg.Quantity(cov, self.sensor_unit ** 2)
            self._factor = noise_factor(cov)
        if snr_db is not None:
            if isinstance(snr_db, bool) or not isinstance(snr_db, numbers.Real) or \
                    not np.isfinite(snr_db):
                raise FwdModelsError(f"`snr_db` must be a finite real number of dB; got "
                                     f"{snr_db!r}")
            snr_db = float(snr_db)
        self.snr_db = snr_db
        self.rng = make_rng(rng)
        self._has_noise = noise_cov is not None or snr_db is not None
        self._factor_cache: dict = {}

    # ---------------------------------------------------------------- construction helpers
    def _read_L(self, L) -> pint.Quantity:
        if is_brainunit_quantity(L):
            L = from_brainunit(L)
        if not isinstance(L, pint.Quantity):
            arr = np.shape(L) if hasattr(L, "shape") else type(L).__name__
            example = self._allowed[0][2] if self._allowed else "V/(nA*m)"
            raise FwdModelsError(
                f"`L` must carry a unit (no unit is guessed); got a bare array of shape {arr}. "
                f"Attach one, e.g. `L * fwdmodels.ureg('{example}')`")
        L = ureg.Quantity(as_float_array(L.magnitude, "L", (2, 3)), L.units)
        r, m = self.in_size, self.out_size
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
        if self._allowed and not any(L.check(dim) for dim, _, _ in self._allowed):
            wanted = " or ".join(ex for _, _, ex in self._allowed)
            raise FwdModelsError(f"`L` must be in a unit compatible with {wanted}; got "
                                 f"{L.units:~}")
        return L

    def _resolve_sensor_unit(self, sensor_unit, lead_unit, L_q) -> pint.Unit:
        default = None
        for dim, unit, _ in self._allowed:
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

    # ---------------------------------------------------------------- input
    def _input_factor(self, units) -> float:
        """Multiplier from ``units`` to the model's input unit (cached per unit)."""
        factor = self._factor_cache.get(units)
        if factor is None:
            q = 1.0 * units
            if q.dimensionality != (1.0 * self.input_unit).dimensionality:
                if self.dipole_scale is None:
                    rule = "a dipole moment (a unit compatible with nA*m)"
                else:
                    rule = (f"in a unit compatible with {self.input_unit:~}, so that times "
                            f"dipole_scale ({self.dipole_scale:~}) it gives A*m")
                raise FwdModelsError(f"`x` must be {rule}; got unit {units:~}")
            factor = float(q.to(self.input_unit).magnitude)
            self._factor_cache[units] = factor
        return factor

    def _strip_units(self, x):
        """Return (magnitude, factor from its unit to the model's input unit)."""
        if not _is_quantity(x):
            return x, 1.0
        if is_brainunit_quantity(x):
            x = from_brainunit(x)
        return x.magnitude, self._input_factor(x.units)

    def _read_input(self, x):
        """Return (array in the input unit's magnitude, factor to apply to the output)."""
        x, factor = self._strip_units(x)
        s = np.asarray(x)
        if s.dtype != self.dtype:
            if s.dtype.kind not in "biuf":
                raise FwdModelsError(f"`x` must hold real numbers; got dtype {s.dtype}")
            s = s.astype(self.dtype)
        return s, factor

    def _check_shape(self, s: np.ndarray) -> np.ndarray:
        r = self.in_size
        if self._free:
            if s.ndim not in (2, 3, 4) or s.shape[-2:] != (r, 3):
                raise FwdModelsError(f"`x` must have shape (..., {r}, 3) (three-component "
                                     f"dipoles for a free-orientation L); got shape {s.shape}")
            return s.reshape(s.shape[:-2] + (3 * r,))
        if s.ndim not in (1, 2, 3) or s.shape[-1] != r:
            raise FwdModelsError(f"`x` must have shape (R,), (T, R) or (B, T, R) with R = "
                                 f"in_size = {r}; got shape {s.shape}")
        return s

    @staticmethod
    def _check_finite_fast(s: np.ndarray, y: np.ndarray) -> None:
        # A NaN or inf anywhere in input row t makes every y[t, m] non-finite (NaN·0 and
        # inf·0 are NaN), so summing one output column is enough; only then is the input
        # searched for the first offending index.
        if y.size and not np.isfinite(y[..., 0].sum()):
            axes = ("time index", "region") if s.ndim >= 2 else ("region",)
            check_finite(s, "x", axes)

    # ---------------------------------------------------------------- forward
    def _noise(self, shape, signal_power):
        if self.snr_db is None:
            return draw_noise(self.rng, shape, self._factor, 1.0, self.dtype)
        std = snr_noise_scale(signal_power, self.snr_db, self._factor)
        return draw_noise(self.rng, shape, self._factor, std, self.dtype)

    def __call__(self, x, *, out=None, chunk_size=None):
        """Sensor data for ``x`` (see the class notes), a Quantity in ``sensor_unit``.

        With ``out`` or ``chunk_size``, the work is done by :meth:`apply`.
        """
        if out is not None or chunk_size is not None:
            return self.apply(x, out=out, chunk_size=chunk_size or _DEFAULT_CHUNK)
        s, factor = self._read_input(x)
        s = self._check_shape(s)
        y = s @ self._matrix
        self._check_finite_fast(s, y)
        if factor != 1.0:
            y *= factor
        if self._has_noise:
            power = float(np.mean(y * y, dtype=np.float64)) if self.snr_db is not None else 0.0
            y += self._noise(y.shape, power)
        if self._reference is not None:
            y = y @ self._reference
        return ureg.Quantity(y, self.sensor_unit)

    def apply(self, x, out=None, chunk_size=_DEFAULT_CHUNK):
        """Apply the model to a long series chunk by chunk, writing into ``out``.

        Parameters
        ----------
        x : array_like or Quantity, shape (T, R) or (B, T, R)
            Input (a NumPy array, a memory map from ``np.load(..., mmap_mode="r")``, or a
            Quantity); read ``chunk_size`` time steps at a time.
        out : numpy.ndarray or numpy.memmap, shape (T, M) or (B, T, M), optional
            Destination, of the model's dtype (allocated if None). Values are in
            ``sensor_unit``.
        chunk_size : int
            Time steps per chunk; memory beyond ``x`` and ``out`` is O(chunk_size · (R + M)).

        Returns
        -------
        pint.Quantity wrapping ``out``. The noise is the same as one call on the whole series
        with the same generator state; with ``snr_db`` the signal power is that of the whole
        series (from the Gram matrix of ``x``, one extra pass over the input).
        """
        chunk = check_int(chunk_size, "chunk_size", 1)
        x, factor = self._strip_units(x)       # a memory map stays one: no np.asarray here
        if not hasattr(x, "shape"):
            x = np.asarray(x)
        free = 1 if not self._free else 2
        if x.ndim - free not in (1, 2):
            raise FwdModelsError(f"`x` must be (T, R) or (B, T, R) for `apply`; got shape "
                                 f"{x.shape}")
        batched = x.ndim - free == 2
        xb = x if batched else x[None]
        n_batch, n_time = xb.shape[0], xb.shape[1]
        shape = (n_batch, n_time, self.out_size) if batched else (n_time, self.out_size)
        if out is None:
            out = np.empty(shape, dtype=self.dtype)
        elif not isinstance(out, np.ndarray) or out.shape != shape or out.dtype != self.dtype:
            raise FwdModelsError(
                f"`out` must be a NumPy array (or memmap) of shape {shape} and dtype "
                f"{self.dtype}; got {type(out).__name__} of shape {getattr(out, 'shape', None)}"
                f" and dtype {getattr(out, 'dtype', None)}")
        ob = out if batched else out[None]
        power = 0.0
        if self.snr_db is not None:
            gram = np.zeros((self._matrix.shape[0],) * 2)
            for b in range(n_batch):
                for t0 in range(0, n_time, chunk):
                    s = self._check_shape(np.asarray(xb[b, t0:t0 + chunk], dtype=np.float64))
                    gram += s.T @ s
            lead = self._matrix.astype(np.float64) * factor
            power = float(np.sum(gram * (lead @ lead.T))) / (n_batch * n_time * self.out_size)
        plain = factor == 1.0 and not self._has_noise and self._reference is None
        for b in range(n_batch):
            for t0 in range(0, n_time, chunk):
                s = self._check_shape(np.asarray(xb[b, t0:t0 + chunk], dtype=self.dtype))
                target = ob[b, t0:t0 + chunk]
                if plain and target.flags.c_contiguous:
                    np.matmul(s, self._matrix, out=target)     # straight into `out`
                    self._check_finite_fast(s, target)
                    continue
                y = s @ self._matrix
                self._check_finite_fast(s, y)
                if factor != 1.0:
                    y *= factor
                if self._has_noise:
                    y += self._noise(y.shape, power)
                if self._reference is not None:
                    y = y @ self._reference
                ob[b, t0:t0 + chunk] = y
        return ureg.Quantity(out, self.sensor_unit)

    @property
    def matrix(self) -> np.ndarray:
        """The folded float matrix: input magnitude (in ``input_unit``) to ``sensor_unit``."""
        return self._matrix

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(in_size={self.in_size}, out_size={self.out_size}, "
                f"L unit={self.L.units:~}, sensor_unit={self.sensor_unit:~}, "
                f"input_unit={self.input_unit:~}, reference={self.reference!r})")


class EEGLeadFieldModel(LeadFieldModel):
    """EEG lead-field model: ``L`` in a unit of V/(A·m) (e.g. V/(nA·m)); output in V.

    Pass ``sensor_unit="uV"`` for microvolts. ``reference="average"`` re-references to the
    average (applied after noise). See :class:`LeadFieldModel` for every parameter.

    Examples
    --------
    >>> import numpy as np, fwdmodels
    >>> L = np.ones((2, 3)) * fwdmodels.ureg("uV/(nA*m)")
    >>> model = fwdmodels.EEGLeadFieldModel(in_size=2, out_size=3, L=L, sensor_unit="uV")
    >>> model(np.array([1.0, 2.0])).magnitude    # bare input: nA*m
    array([3., 3., 3.])
    """

    modality = "eeg"
    _allowed = (("[mass] * [length] / [current] ** 2 / [time] ** 3", "V", "V/(nA*m)"),)


class MEGLeadFieldModel(LeadFieldModel):
    """MEG lead-field model: ``L`` in T/(A·m) (magnetometers; output in fT) or T/m per A·m
    (gradiometers; output in fT/cm). See :class:`LeadFieldModel` for every parameter.

    MEG has no reference: ``reference="average"`` (or a channel index) is refused.
    """

    modality = "meg"
    _allowed = (("[mass] / [current] ** 2 / [time] ** 2 / [length]", "fT", "fT/(nA*m)"),
                ("[mass] / [current] ** 2 / [time] ** 2 / [length] ** 2", "fT/cm",
                 "fT/(cm*nA*m)"))
