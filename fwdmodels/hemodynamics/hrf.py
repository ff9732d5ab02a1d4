"""Linear views of the hemodynamic response: kernels and their convolution with neural input.

A linear time-invariant view of the BOLD signal writes it as the neural input convolved with a
hemodynamic response function (HRF). The kernels live in two modules and are gathered here:

* :mod:`~fwdmodels.hemodynamics.linearised`: :func:`balloon_linear_system`,
  :func:`balloon_kernel` (the impulse response of the Balloon-Windkessel model of
  :mod:`~fwdmodels.hemodynamics.balloon` linearised about rest, in closed form, with the same
  parameters and the same linearised observation equation) and :func:`volterra_kernel` (the
  first-order Volterra kernel of the nonlinear model, Friston et al. 2000);
* :mod:`~fwdmodels.hemodynamics.canonical`: the classical kernels of the fMRI literature,
  SPM's canonical double gamma both as SPM12's own vector (:func:`spm_hrf`) and as bin
  averages (:func:`spm_hrf_bin_average`), :func:`glover_hrf` (Glover 1999) and
  :func:`gamma_hrf` (Boynton et al. 1996);

and this module adds :func:`convolve_hrf`: FFT convolution of a whole ``(T, N)`` or
``(B, T, N)`` series with a kernel, on the time convention of
:func:`~fwdmodels.hemodynamics.simulate_bold`. :func:`kernel_times` gives the kernels' bins.

The sampling convention (shared by every kernel but :func:`spm_hrf`)
----------------------------------------------------------------------
A kernel is a 1-D :class:`pint.Quantity` in ``1/s``: ``kernel[k]`` is the *average* of the
continuous impulse response ``g(t)`` over the bin ``[k dt, (k + 1) dt)``::

    kernel[k] = (1 / dt) * integral_{k dt}^{(k+1) dt} g(s) ds.

This is the exact discretisation for an input held constant over each step (a zero-order
hold), which is how :func:`~fwdmodels.hemodynamics.simulate_bold` reads ``z``: with ``z[m]``
held over ``[m dt, (m + 1) dt)`` and the system at rest at ``t = 0``, the linear response at
``t = (n + 1) dt`` (output row ``n``) is exactly::

    y[n] = dt * sum_{m=0}^{n} kernel[n - m] * z[m],

which is what :func:`convolve_hrf` computes. There is no half-step shift to remember, and
``sum(kernel) * dt`` is the integral of ``g`` over the kernel's duration: the gain of the
system for a constant input (once ``g`` has decayed). ``g`` has the unit of the output per
unit of input per second, hence ``1/s`` for a dimensionless BOLD signal and a dimensionless
(normalised) neural drive ``z``.

The Balloon kernel carries the model's gain (BOLD fraction per unit of ``z``). The classical
kernels are shapes: they are scaled to unit area (``sum(kernel) * dt == 1``), as SPM and
nilearn scale theirs to unit sum; multiply by a gain to give them an amplitude (e.g. the
Balloon model's steady-state gain ``balloon_kernel(...).sum() * dt``).

The one exception is :func:`spm_hrf`, which returns exactly what SPM12's ``spm_hrf(RT)``
returns, so that its numbers can be compared with SPM's: *point samples* of the double gamma
at ``t = k dt``, ``k = 0 .. floor(duration / dt)``, dimensionless and scaled to unit *sum*.
Divide it by ``dt`` to use it with :func:`convolve_hrf` (see its documentation for the
one-step difference in time convention); :func:`spm_hrf_bin_average` is the same double
gamma under this module's convention.
"""

from __future__ import annotations

import numpy as np
import pint

from .._validation import check_dtype, check_option
from ..errors import FwdModelsError
from ..units import as_quantity, is_brainunit_quantity
from .balloon import _output, read_neural_input
from .canonical import gamma_hrf, glover_hrf, spm_hrf, spm_hrf_bin_average
from .kernel_grid import KERNEL_UNIT, kernel_times
from .linearised import balloon_kernel, balloon_linear_system, volterra_kernel
from .plan import read_dt
from .sampling import TR_MODES, sample_tr, tr_ratio

__all__ = ["balloon_linear_system", "balloon_kernel", "volterra_kernel", "spm_hrf",
           "spm_hrf_bin_average", "glover_hrf", "gamma_hrf", "convolve_hrf", "kernel_times"]


def _read_kernel(kernel, n_regions: int) -> np.ndarray:
    """The kernel's magnitude in 1/s as a (K,) or (K, N) float array."""
    if not (is_brainunit_quantity(kernel) or isinstance(kernel, pint.Quantity)):
        raise FwdModelsError(
            f"`kernel` must carry a unit of 1/time (the kernels of fwdmodels.hemodynamics.hrf "
            f"do); got {type(kernel).__name__} with no unit. For an impulse response h in "
            f"s^-1 write `fwdmodels.ureg.Quantity(h, '1/s')`")
    q = as_quantity(kernel, "kernel")
    if not q.check("1/[time]"):
        raise FwdModelsError(f"`kernel` must have the dimension 1/[time] (an impulse response "
                             f"per unit of input per second); got unit {q.units:~}")
    values = np.asarray(q.to(KERNEL_UNIT).magnitude, dtype=np.float64)
    if values.ndim not in (1, 2) or values.shape[0] < 1:
        raise FwdModelsError(f"`kernel` must be 1-D (K,) or 2-D (K, N) with K >= 1; got shape "
                             f"{values.shape}")
    if values.ndim == 2 and values.shape[1] != n_regions:
        raise FwdModelsError(f"`kernel` of shape (K, N) must have one column per region of `z` "
                             f"(N = {n_regions}); got shape {values.shape}")
    if not np.all(np.isfinite(values)):
        index = int(np.argmin(np.isfinite(values).ravel()))
        raise FwdModelsError(f"`kernel` must be finite; found "
                             f"{float(values.ravel()[index])!r} at flat index {index}")
    return values


def convolve_hrf(z, dt, kernel, tr=None, tr_mode="sample", unit="dimensionless",
                 dtype=np.float64):
    """Linear BOLD model: the neural input convolved with a kernel, on the BOLD time grid.

    ``y[n] = dt * sum_{m=0}^{n} kernel[n - m] * z[m]``: the response at ``t = (n + 1) dt``
    of a linear system at rest at ``t = 0`` whose input ``z[m]`` is held over
    ``[m dt, (m + 1) dt)``, the time convention of
    :func:`~fwdmodels.hemodynamics.simulate_bold`. With
    ``kernel = balloon_kernel(params, dt, duration)`` this is exactly the linearised
    Balloon-Windkessel model, so it matches ``simulate_bold(z, dt, params=params)`` to first
    order in the amplitude of ``z`` (for a kernel long enough for the response to decay).
    The convolution is done by FFT (:func:`scipy.signal.oaconvolve`) along time.

    Parameters
    ----------
    z : array_like, shape (T, N) or (B, T, N)
        Neural input, time first (read as by :func:`simulate_bold`: a bare array, or a
        dimensionless / rate quantity).
    dt : pint.Quantity or str
        Time between input samples, with its unit. Must be the dt the kernel was made with
        (a kernel does not record it).
    kernel : pint.Quantity, shape (K,) or (K, N), unit 1/time
        The impulse response (bin averages over steps of ``dt``, see the module
        documentation); a (K, N) kernel gives each region its own response.
    tr : pint.Quantity or str, optional
        Repetition time, a whole multiple of dt; the output is then at ``t = TR, 2 TR, ...``
        (:func:`~fwdmodels.hemodynamics.sample_tr`).
    tr_mode : {"sample", "mean"}
        Value at each TR, or the mean of each TR window.
    unit : str or pint.Unit
        A dimensionless unit for the output (``"percent"``).
    dtype : float64 or float32
        Dtype of the returned array (the convolution runs in float64).

    Returns
    -------
    bold : pint.Quantity, shape like ``z`` (or T // r rows at TR)
        The linear BOLD signal, row ``n`` at ``t = (n + 1) dt``.
    """
    dt_s = read_dt(dt)
    check_option(tr_mode, "tr_mode", TR_MODES)
    dtype = check_dtype(dtype)
    array = read_neural_input(z)
    values = _read_kernel(kernel, array.shape[-1])
    steps = tr_ratio(tr, dt_s)[1] if tr is not None else None
    T = array.shape[-2]
    h = values if values.ndim == 2 else values[:, None]
    if array.ndim == 3:
        h = h[None]
    time_axis = array.ndim - 2
    K = h.shape[time_axis]
    if K > T:  # only the first T kernel samples can reach the output
        h = h[:, :T] if array.ndim == 3 else h[:T]
    import scipy.signal  # imported here: it is slow to import
    out = scipy.signal.oaconvolve(array, h, mode="full", axes=time_axis)
    out = np.take(out, np.arange(T), axis=time_axis) * dt_s
    if steps is not None:
        out = sample_tr(out, steps, tr_mode, axis=-2)
    return _output(np.ascontiguousarray(out), unit, dtype)
