r"""Lead-field models: sensor data from source activity, :math:`y = s\,L + e`, then a reference.

``s`` holds the dipole moments of R regions (time first: ``(R,)``, ``(T, R)`` or ``(B, T, R)``),
``L`` is the ``(R, M)`` lead field (rows regions, columns sensors), ``e`` optional Gaussian
sensor noise, and the reference (EEG) is applied last, as in a recording. Every path (a call,
:meth:`~LeadFieldModel.apply` chunk by chunk, :func:`fwdmodels.distributed.apply_leadfield`)
computes its blocks with one method, :meth:`~LeadFieldModel.forward_block`.

Units are resolved once, at construction: the lead field, the dipole scale and the sensor unit
are folded into one float matrix (:mod:`fwdmodels.leadfield._fold`), so that a call is a BLAS
matmul plus a pint wrapper.

Inputs, and how a bare array is read
------------------------------------
* Without ``dipole_scale``: dipole moments, a Quantity in any unit of current × length
  (A·m, nA·m...). A bare array is read in **nA·m**.
* With ``dipole_scale`` (e.g. ``1.5 nA·m/mV``): any quantity whose unit times the scale gives
  A·m (membrane potentials in mV, say). A bare array is read in the scale's denominator unit
  (**mV** for ``nA·m/mV``; dimensionless for a scale in A·m).

The noise level with ``snr_db``
-------------------------------
The noise power is ``P_s / 10^(snr_db/10)`` for one signal power ``P_s`` fixed once per
model, so that the noise does not depend on how a series is cut into calls (one time step at
a time, chunks, or the whole series give the same noise statistics):

* ``signal_power=`` states ``P_s`` (in ``sensor_unit``²) at construction, or setting
  ``model.signal_power`` states it later; or
* ``model.calibrate(x)`` measures it on a representative series ``x``; or
* otherwise the first call (or :meth:`~LeadFieldModel.apply`, or a dask run) measures it on
  its own input, all of it, and it is kept for every later call. A first call of a single
  time step, or of a silent input, is refused: it cannot set a level for the series.

``P_s`` is the mean over channels and samples of the noise-free signal squared, before any
reference; it is readable as ``model.signal_power``.

The noise itself
----------------
A block of ``T`` time steps draws the next ``T·M`` standard normal numbers of the model's
generator (``rng``), row by row, so consecutive calls draw the noise of one call on the whole
series. :meth:`~LeadFieldModel.forward_block` takes another generator for one block; dask runs
use that to draw each block of time rows from a generator of its own (see
:mod:`fwdmodels.distributed`).
"""

from __future__ import annotations

import numpy as np

from .._validation import check_dtype, check_int
from ..errors import FwdModelsError
from ..units import from_brainunit, is_brainunit_quantity, parse_unit, ureg
from ._fold import fold_matrix, input_unit_for, read_lead_field, sensor_unit_for
from ._inputs import is_quantity, raise_nonfinite, read_power
from .noise import (RunningRMS, check_snr_db, draw_noise, make_rng, noise_factor,
                    read_noise_cov, rms, series_rms, snr_noise_std)
from .reference import reference_matrix

__all__ = ["LeadFieldModel", "EEGLeadFieldModel", "MEGLeadFieldModel"]

_DEFAULT_CHUNK = 65536


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
        Signal-to-noise ratio in dB, within ±3000 (white noise, or ``noise_cov`` rescaled),
        relative to one signal power fixed per model (see the module notes).
    signal_power : pint.Quantity or float, optional
        The signal power ``snr_db`` refers to: the mean square of the noise-free sensor
        signal, in ``sensor_unit``² (a bare number is read in it). Without it, the first
        call (or :meth:`calibrate`) measures it.
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
    set (mV for ``nA·m/mV``). :meth:`apply` processes long series chunk by chunk into ``out``;
    both compute each block with :meth:`forward_block`.
    """

    modality = "other"
    _allowed: tuple = ()          # (L dimension per A·m, default output unit, example) triples

    def __init__(self, in_size, out_size, L, *, dipole_scale=None, sensor_unit=None,
                 reference=None, noise_cov=None, snr_db=None, signal_power=None, rng=None,
                 orientations=None, dtype=np.float64):
        self.in_size = check_int(in_size, "in_size", 1)
        self.out_size = check_int(out_size, "out_size", 1)
        self.dtype = check_dtype(dtype)
        L_q = read_lead_field(L, self.in_size, self.out_size, self._allowed)
        self._free = L_q.ndim == 3 and orientations is None
        self.sensor_unit = sensor_unit_for(sensor_unit, L_q, self._allowed)
        self.dipole_scale, self.input_unit, to_dipole = input_unit_for(dipole_scale)
        matrix = fold_matrix(L_q, to_dipole, self.sensor_unit, self.input_unit,
                             self.dipole_scale, orientations)
        self.L = L_q
        self._matrix = np.ascontiguousarray(matrix, dtype=self.dtype)
        self._reference = reference_matrix(reference, self.out_size, self.modality)
        if self._reference is not None:
            self._reference = self._reference.astype(self.dtype)
        self.reference = reference
        self._factor_cache: dict = {}
        self._init_noise(noise_cov, snr_db, signal_power, rng)

    def _init_noise(self, noise_cov, snr_db, signal_power, rng) -> None:
        self._factor = None                # F with F Fᵀ = noise_cov (None: white)
        self.noise_cov = None
        if noise_cov is not None:
            cov = read_noise_cov(noise_cov, self.out_size, self.sensor_unit)
            self.noise_cov = ureg.Quantity(cov, self.sensor_unit ** 2)
            self._factor = noise_factor(cov)
        self.snr_db = check_snr_db(snr_db)
        self.rng = make_rng(rng)
        self._noise_std = 1.0              # multiplier of the unit noise (set by the level)
        self._signal_rms = None
        if signal_power is not None:
            if self.snr_db is None:
                raise FwdModelsError(f"`signal_power` is the power `snr_db` refers to; give "
                                     f"snr_db too; got signal_power={signal_power!r} and "
                                     f"snr_db=None")
            self._set_level(read_power(signal_power, self.sensor_unit), "`signal_power`")

    # ---------------------------------------------------------------- what the model is
    @property
    def matrix(self) -> np.ndarray:
        """The folded float matrix: input magnitude (in ``input_unit``) to ``sensor_unit``."""
        return self._matrix

    @property
    def free_orientation(self) -> bool:
        """Whether the model takes three-component dipoles ``(…, R, 3)`` (free ``L``, no
        ``orientations``)."""
        return self._free

    @property
    def has_noise(self) -> bool:
        """Whether the output carries noise (``noise_cov`` or ``snr_db`` given)."""
        return self.noise_cov is not None or self.snr_db is not None

    # ---------------------------------------------------------------- input
    def input_factor(self, unit) -> float:
        """The number ``c`` with ``x`` in ``input_unit`` = ``c`` · ``x`` in ``unit``.

        ``unit`` is a pint Unit, a brainunit unit or a string; a unit of another dimension is
        refused, naming ``x``. Cached per unit.
        """
        factor = self._factor_cache.get(unit)
        if factor is None:
            parsed = parse_unit(unit, "unit")
            q = 1.0 * parsed
            if q.dimensionality != (1.0 * self.input_unit).dimensionality:
                if self.dipole_scale is None:
                    rule = "a dipole moment (a unit compatible with nA*m)"
                else:
                    rule = (f"in a unit compatible with {self.input_unit:~}, so that times "
                            f"dipole_scale ({self.dipole_scale:~}) it gives A*m")
                raise FwdModelsError(f"`x` must be {rule}; got unit {parsed:~}")
            factor = float(q.to(self.input_unit).magnitude)
            self._factor_cache[unit] = factor
        return factor

    def _split_unit(self, x, unit=None):
        """``(magnitude, unit or None)``: a Quantity's own unit, or ``unit`` for a bare array."""
        if not is_quantity(x):
            return x, unit
        if is_brainunit_quantity(x):
            x = from_brainunit(x)
        if unit is not None:
            raise FwdModelsError(f"`unit` is for a bare array, a Quantity carries its own; "
                                 f"got a Quantity in {x.units:~} and unit={unit!r}")
        return x.magnitude, x.units

    def _read_input(self, x, unit=None):
        """Return (array of the model's dtype, factor from its unit to ``input_unit``)."""
        x, unit = self._split_unit(x, unit)
        s = np.asarray(x)
        if s.dtype != self.dtype:
            if s.dtype.kind not in "biuf":
                raise FwdModelsError(f"`x` must hold real numbers; got dtype {s.dtype}")
            s = s.astype(self.dtype)
        return s, (1.0 if unit is None else self.input_factor(unit))

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

    def _check_output(self, s: np.ndarray, y: np.ndarray, offset=(None, 0)) -> None:
        """Raise on a non-finite output, naming the input's or the output's first bad index.

        ``offset`` (batch, time) places a chunk within the whole series. One sum of ``y``
        finds NaN and inf; only then (or when that sum merely overflowed) is anything searched.
        """
        with np.errstate(over="ignore", invalid="ignore"):
            if not y.size or np.isfinite(y.sum()):
                return
        raise_nonfinite(s, "x", "region", offset)
        raise_nonfinite(y, "output", "sensor", offset)

    # ---------------------------------------------------------------- the noise level
    @property
    def signal_power(self):
        """The signal power ``snr_db`` refers to, in ``sensor_unit``² (None before it is set).

        Setting it (a Quantity, or a number read in ``sensor_unit``²) fixes the noise level
        from then on, as ``signal_power=`` does at construction.
        """
        if self._signal_rms is None:
            return None
        with np.errstate(over="ignore"):
            return ureg.Quantity(self._signal_rms ** 2, self.sensor_unit ** 2)

    @signal_power.setter
    def signal_power(self, value) -> None:
        if self.snr_db is None:
            raise FwdModelsError(f"`signal_power` is the power `snr_db` refers to; the model "
                                 f"has snr_db=None; got signal_power={value!r}")
        self._set_level(read_power(value, self.sensor_unit), "`signal_power`")

    def _set_level(self, signal_rms: float, source: str) -> None:
        std = snr_noise_std(signal_rms, self.snr_db, self._factor)
        if not np.isfinite(std) or std > 1e300:
            raise FwdModelsError(
                f"`snr_db` of {self.snr_db:g} dB below a signal power of "
                f"{signal_rms:.3g}² {self.sensor_unit:~}² (from {source}) asks for noise of "
                f"standard deviation {std:.3g} {self.sensor_unit:~}, beyond float64; got "
                f"snr_db={self.snr_db!r}: raise snr_db or scale the input down")
        self._signal_rms, self._noise_std = float(signal_rms), std

    def _calibrate_from(self, signal_rms: float, n_samples: int, source: str) -> None:
        if n_samples < 2:
            raise FwdModelsError(
                "`x` of a single time step cannot set the noise level of `snr_db` (the noise "
                "would follow that one sample); pass signal_power= when building the model, "
                "or call model.calibrate(series) first; got one sample")
        if signal_rms == 0.0:
            raise FwdModelsError(
                "`x` is silent (zero signal) and cannot set the noise level of `snr_db`; "
                "pass signal_power= when building the model, or call model.calibrate(series) "
                "with a representative series; got a signal power of 0")
        self._set_level(signal_rms, source)

    def calibrate(self, x, chunk_size=_DEFAULT_CHUNK):
        """Fix the signal power of ``snr_db`` from a representative series (replacing any level
        set before); returns :attr:`signal_power`.

        Parameters
        ----------
        x : array_like or Quantity, shape (T, R) or (B, T, R); or an iterator of such chunks
            The input (as for :meth:`apply`, a memory map is read chunk by chunk), or an
            iterator (e.g. a generator) yielding consecutive chunks of it, each read once.
        chunk_size : int
            Time steps read at once from an array.
        """
        if self.snr_db is None:
            raise FwdModelsError("`calibrate` sets the noise level of `snr_db`; the model has "
                                 "snr_db=None")
        chunk = check_int(chunk_size, "chunk_size", 1)
        if hasattr(x, "__next__"):
            acc, n_rows = RunningRMS(), 0
            for part in x:
                s, factor = self._read_input(part)
                s = self._check_shape(np.asarray(s, dtype=np.float64))
                if not np.all(np.isfinite(s)):
                    raise_nonfinite(s, "x", "region", (None, n_rows))
                rows = s.reshape(-1, s.shape[-1])
                acc.add(rows @ self._matrix.astype(np.float64) * factor)
                n_rows += rows.shape[0]
            value, n_samples = acc.value(), n_rows
        else:
            xb, unit, _ = self._series(x)
            value = self._series_rms(xb, unit, chunk)
            n_samples = xb.shape[0] * xb.shape[1]
        self._calibrate_from(value, n_samples, "calibrate")
        return self.signal_power

    def _series(self, x):
        """``(x as (B, T, …), its unit or None, batched)`` for :meth:`apply`, :meth:`calibrate`."""
        x, unit = self._split_unit(x)          # a memory map stays one: no np.asarray here
        if unit is not None:
            self.input_factor(unit)            # a wrong unit is refused before any work
        if not hasattr(x, "shape"):
            x = np.asarray(x)
        free = 1 if not self._free else 2
        if x.ndim - free not in (1, 2):
            raise FwdModelsError(f"`x` must be (T, R) or (B, T, R) for `apply`; got shape "
                                 f"{x.shape}")
        batched = x.ndim - free == 2
        return (x if batched else x[None]), unit, batched

    def _series_rms(self, xb, unit, chunk: int) -> float:
        """RMS of the noise-free signal of ``xb`` (B, T, …), read ``chunk`` steps at a time."""
        factor = 1.0 if unit is None else self.input_factor(unit)

        def chunks():
            for b in range(xb.shape[0]):
                for t0 in range(0, xb.shape[1], chunk):
                    s = self._check_shape(np.asarray(xb[b, t0:t0 + chunk], dtype=np.float64))
                    if not np.all(np.isfinite(s)):
                        raise_nonfinite(s, "x", "region", (b, t0))
                    yield s
        return series_rms(chunks, self._matrix.astype(np.float64) * factor)

    # ---------------------------------------------------------------- the computation
    def forward_block(self, x, *, unit=None, rng=None, offset=(None, 0), out=None):
        r"""Sensor output of one block of source activity: the model's arithmetic, written once.

        .. math::

            y = (c\,x)\,\tilde L + \sigma\, z\, F^\top, \qquad y \leftarrow y\,P

        * :math:`x`: the block, ``(R,)``, ``(T, R)`` or ``(B, T, R)`` (``(…, R, 3)`` for a free
          orientation); :math:`c` = :meth:`input_factor` of its unit (1 for a bare block
          without ``unit``: it is then in ``input_unit``).
        * :math:`\tilde L` = :attr:`matrix`, the lead field with the dipole scale and the
          sensor unit folded in (:math:`L_\mathrm{SI}\,d/u`), so that :math:`y` is in
          ``sensor_unit``.
        * :math:`z`: the next ``(…, T, M)`` standard normal numbers of ``rng``, row by row;
          :math:`F` with :math:`F F^\top` = ``noise_cov`` (the identity for white noise);
          :math:`\sigma` the level: 1 with ``noise_cov`` alone, and with ``snr_db``
          :math:`\sigma = \sqrt{P_s\,10^{-\mathrm{snr}/10} / (\mathrm{tr}(F F^\top)/M)}`. With
          ``snr_db`` and no level set yet, this block sets :math:`P_s` (the first-call rule of
          the module notes). No noise term without ``noise_cov`` and ``snr_db``.
        * :math:`P`: the reference matrix (:mod:`fwdmodels.leadfield.reference`), if any.

        Parameters
        ----------
        x : array_like or Quantity
            The block of source activity; a bare array is read in ``unit``.
        unit : pint.Unit or str, optional
            Unit of a bare ``x`` (default ``input_unit``); not with a Quantity.
        rng : numpy.random.Generator, optional
            Source of the noise, read from its current position (default ``self.rng``). A
            block consumes its own size of standard normals, so consecutive blocks of one
            series drawn from one generator carry the noise of one call on the whole series.
        offset : (int or None, int)
            (batch, first time index) of the block within a longer series, for the indices
            named in an error.
        out : numpy.ndarray, optional
            Destination of the output's shape and the model's dtype.

        Returns
        -------
        numpy.ndarray
            ``(M,)``, ``(T, M)`` or ``(B, T, M)`` in ``sensor_unit`` and the model's dtype
            (``out`` when given).
        """
        s, factor = self._read_input(x, unit)
        s = self._check_shape(s)
        noisy = self.has_noise
        with np.errstate(over="ignore", invalid="ignore"):
            if out is not None and out.flags.c_contiguous and factor == 1.0 and not noisy \
                    and self._reference is None:
                np.matmul(s, self._matrix, out=out)            # straight into `out`
                self._check_output(s, out, offset)
                return out
            y = s @ self._matrix
            if factor != 1.0:
                y *= factor
            if noisy:
                if self.snr_db is not None and self._signal_rms is None:
                    self._check_output(s, y, offset)
                    self._calibrate_from(rms(y), y.size // self.out_size, "the first call")
                y += draw_noise(self.rng if rng is None else make_rng(rng), y.shape,
                                self._factor, self._noise_std, self.dtype)
            if self._reference is not None:
                y = y @ self._reference
        self._check_output(s, y, offset)
        if out is None:
            return y
        out[...] = y
        return out

    def __call__(self, x, *, out=None, chunk_size=None):
        """Sensor data for ``x`` (see the class notes), a Quantity in ``sensor_unit``.

        With ``out`` or ``chunk_size``, the work is done by :meth:`apply`.
        """
        if out is not None or chunk_size is not None:
            return self.apply(x, out=out, chunk_size=chunk_size or _DEFAULT_CHUNK)
        return ureg.Quantity(self.forward_block(x), self.sensor_unit)

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
        pint.Quantity wrapping ``out``. Each chunk is one :meth:`forward_block`, so the noise
        is the same as one call on the whole series with the same generator state; with
        ``snr_db`` the signal power is that of the whole series (from the Gram matrix of
        ``x``, one extra pass over the input).
        """
        chunk = check_int(chunk_size, "chunk_size", 1)
        xb, unit, batched = self._series(x)
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
        if self.snr_db is not None and self._signal_rms is None:
            self._calibrate_from(self._series_rms(xb, unit, chunk), n_batch * n_time,
                                 "the first call")
        for b in range(n_batch):
            for t0 in range(0, n_time, chunk):
                self.forward_block(np.asarray(xb[b, t0:t0 + chunk]), unit=unit,
                                   offset=(b if batched else None, t0),
                                   out=ob[b, t0:t0 + chunk])
        return ureg.Quantity(out, self.sensor_unit)

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
