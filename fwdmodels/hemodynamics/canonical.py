"""The classical hemodynamic response functions of the fMRI literature, as kernels.

* SPM's canonical double gamma (Friston et al. 1998), both as SPM12's own vector
  (:func:`spm_hrf`: point samples at ``t = k RT``, unit sum, exactly what ``spm_hrf(RT)``
  returns) and as bin averages (:func:`spm_hrf_bin_average`);
* :func:`glover_hrf` (Glover 1999), a difference of peak-normalised gamma variates;
* :func:`gamma_hrf` (Boynton et al. 1996), a delayed gamma density.

All but :func:`spm_hrf` follow the kernel convention of
:mod:`~fwdmodels.hemodynamics.kernel_grid` (bin averages in ``1/s``) and are *shapes*,
scaled to unit area (``sum(kernel) * dt == 1``), as SPM and nilearn scale theirs to unit sum;
multiply by a gain to give them an amplitude (e.g. the Balloon model's steady-state gain
``balloon_kernel(...).sum() * dt``). Every bin average is computed exactly from the gamma
distribution functions, with no quadrature.

References
----------
Boynton, Engel, Glover & Heeger (1996). Linear systems analysis of functional magnetic
    resonance imaging in human V1. J. Neurosci. 16:4207-4221.
Friston, Fletcher, Josephs, Holmes, Rugg & Turner (1998). Event-related fMRI:
    characterizing differential responses. NeuroImage 7:30-40 (the double-gamma HRF of
    SPM's ``spm_hrf.m``).
Glover (1999). Deconvolution of impulse response in event-related BOLD fMRI.
    NeuroImage 9:416-429.
"""

from __future__ import annotations

import math

import numpy as np

from .._validation import check_positive
from ..errors import FwdModelsError
from ..units import ureg
from .kernel_grid import MAX_BINS, as_kernel, kernel_bins, read_real, read_seconds

__all__ = ["spm_hrf", "spm_hrf_bin_average", "glover_hrf", "gamma_hrf"]


def _gamma_bins(edges: np.ndarray, shape: float, scale: float, delay: float = 0.0):
    """Integral of the gamma pdf (shape, scale, shifted by delay) over each bin of ``edges``."""
    import scipy.stats  # imported here: it is slow to import
    cdf = scipy.stats.gamma.cdf(edges - delay, shape, scale=scale)
    return np.diff(cdf)


def _unit_area(bin_integrals: np.ndarray, dt_s: float, name: str):
    total = float(bin_integrals.sum())
    if not (np.isfinite(total) and total > 0):
        raise FwdModelsError(f"{name}: the kernel has no positive area over the requested "
                             f"duration (area {total!r}); lengthen `duration` or check the "
                             f"shape parameters")
    return as_kernel(bin_integrals / (total * dt_s))

_SPM_SHAPE_DOC = """
    SPM's canonical HRF (Friston et al. 1998; SPM12 ``spm_hrf.m``) is the difference of two
    gamma densities::

        g(t) = G(t - onset; delay/dispersion, dispersion)
               - ratio * G(t - onset; undershoot/undershoot_dispersion, undershoot_dispersion),

    where ``G(t; a, b) = t^(a-1) exp(-t/b) / (Gamma(a) b^a)`` for ``t > 0`` (0 before) is the
    gamma density of shape ``a`` and scale ``b`` (s). The defaults are SPM12's
    ``p = [6 16 1 1 6 0 32]`` (``spm_defaults.m``, ``stats.fmri.hrf``): delay of response 6 s,
    delay of undershoot 16 s, dispersions 1 s, ratio of response to undershoot 6 (so
    ``ratio = 1/6`` here), onset 0 s, length 32 s. SPM evaluates
    ``spm_Gpdf(u, p(1)/p(3), dt/p(3))`` on the microtime index ``u`` (step ``RT/16``), which
    is ``RT/16`` times the same density in seconds. The first gamma's mode is
    ``(delay/dispersion - 1) * dispersion`` = 5 s, the second's 15 s; the composite peaks at
    ~5.0 s and has its undershoot trough at ~15.7 s (the tail of the first gamma pulls the
    trough later), 0.089 times as deep as the peak.
"""

_SPM_PARAMETERS_DOC = """
    duration : pint.Quantity or str
        Kernel length (SPM's ``p(7)``, 32 s).
    delay, undershoot : pint.Quantity or str
        "Delays" of the response and of the undershoot (SPM's ``p(1)``, ``p(2)``).
    dispersion, undershoot_dispersion : pint.Quantity or str
        Scales of the two gammas (``p(3)``, ``p(4)``).
    ratio : float
        Amplitude of the undershoot's density relative to the response's (``1 / p(5)``).
    onset : pint.Quantity or str
        Shift of the whole response (``p(6)``), >= 0.
"""


def _spm_parameters(delay, undershoot, dispersion, undershoot_dispersion, ratio, onset):
    """The double gamma's parameters in seconds: ``(shape1, scale1, shape2, scale2, ratio,
    onset)``."""
    d1, d2 = read_seconds(delay, "delay"), read_seconds(undershoot, "undershoot")
    s1 = read_seconds(dispersion, "dispersion")
    s2 = read_seconds(undershoot_dispersion, "undershoot_dispersion")
    t0 = read_seconds(onset, "onset", allow_zero=True)
    return d1 / s1, s1, d2 / s2, s2, read_real(ratio, "ratio"), t0


def spm_hrf(dt=None, duration="32 s", *, delay="6 s", undershoot="16 s", dispersion="1 s",
            undershoot_dispersion="1 s", ratio=1.0 / 6.0, onset="0 s"):
    """SPM12's canonical HRF, exactly the vector ``spm_hrf(RT)`` returns (``RT = dt``).

    {shape}

    What SPM returns, and this function with it, is the double gamma *sampled* at
    ``t = k RT`` and scaled to unit *sum*::

        hrf[k] = g(k RT) / sum_{{j=0}}^{{K-1}} g(j RT),   k = 0 .. K-1,   K = floor(p7 / RT) + 1.

    (``spm_hrf.m`` of SPM12 r7771, lines 59-63: it evaluates ``g`` on its microtime grid of
    step ``RT/T``, ``T = 16``, then keeps every ``T``-th value, ``hrf([0:floor(p(7)/RT)]*T +
    1)``, i.e. ``t = k RT`` exactly; ``T`` does not change the values.) For ``RT = 2 s``:
    ``0, 0.0866, 0.3749, 0.3849, 0.2161, 0.0769, 0.0016, -0.0306, ...``, 17 values from 0 to
    32 s. These point samples differ from the bin averages of :func:`spm_hrf_bin_average`
    (times ``dt``) by up to 39 % of the peak at ``RT = 2 s``; they agree as ``dt`` -> 0.

    Parameters
    ----------
    dt : pint.Quantity or str
        Sampling interval, SPM's ``RT`` (required), e.g. ``"2 s"``.
    {parameters}

    Returns
    -------
    hrf : pint.Quantity, shape (K,), dimensionless
        SPM's vector: ``hrf[k]`` is the response at ``t = k dt`` (the first value is at
        ``t = 0``), ``sum(hrf) == 1``. ``K = floor(duration / dt) + 1`` (a ratio within 1e-9
        of a whole number counts as it), so the last sample is at ``t <= duration``.

    Notes
    -----
    SPM convolves this vector with a design's stick functions, ``X[n] = sum_m hrf[n - m]
    u[m]``. ``convolve_hrf(z, dt, spm_hrf(dt) / dt)`` (``dt`` a Quantity) computes the same
    numbers, row for row; :func:`convolve_hrf` labels row ``n`` ``t = (n + 1) dt`` (input held
    over each step), SPM ``t = n dt`` (an impulse at each sample). For the exact
    discretisation under the zero-order hold, use :func:`spm_hrf_bin_average`.
    """
    dt_s = kernel_bins(dt, duration)[0]       # dt required, with its unit; duration >= dt
    duration_s = read_seconds(duration, "duration")
    ratio_steps = duration_s / dt_s
    nearest = round(ratio_steps)
    whole = nearest if abs(ratio_steps - nearest) <= 1e-9 * max(1.0, ratio_steps) else \
        math.floor(ratio_steps)
    count = int(whole) + 1
    if count > MAX_BINS + 1:
        raise FwdModelsError(f"`duration` / `dt` must be at most 5e7 samples; got {count} "
                             f"(duration = {duration_s:g} s, dt = {dt_s:g} s)")
    a1, b1, a2, b2, ratio, t0 = _spm_parameters(delay, undershoot, dispersion,
                                                undershoot_dispersion, ratio, onset)
    import scipy.stats  # imported here: it is slow to import
    t = np.arange(count) * dt_s - t0
    with np.errstate(divide="ignore", invalid="ignore"):
        values = (scipy.stats.gamma.pdf(t, a1, scale=b1)
                  - ratio * scipy.stats.gamma.pdf(t, a2, scale=b2))
    total = float(values.sum())
    if not (np.isfinite(total) and total > 0):
        raise FwdModelsError(f"spm_hrf: the samples have no finite positive sum (sum "
                             f"{total!r}): a shape delay/dispersion below 1 is infinite at the "
                             f"onset, or `duration` is too short; got dt = {dt_s:g} s, "
                             f"duration = {duration_s:g} s")
    return ureg.Quantity(np.ascontiguousarray(values / total), "dimensionless")


def spm_hrf_bin_average(dt=None, duration="32 s", *, delay="6 s", undershoot="16 s",
                        dispersion="1 s", undershoot_dispersion="1 s", ratio=1.0 / 6.0,
                        onset="0 s"):
    """SPM's canonical HRF as bin averages of unit area (this module's kernel convention).

    {shape}

    This function returns, unlike SPM's own :func:`spm_hrf`, the average of ``g`` over each
    bin, scaled to unit *area*::

        kernel[k] = (1/dt) integral_{{k dt}}^{{(k+1) dt}} g(s) ds / integral_0^{{K dt}} g(s) ds,
        k = 0 .. K-1,   K = ceil(duration / dt),

    computed exactly from the gamma distribution functions. It is the exact kernel for an
    input held over each step (see the module documentation), and ``sum(kernel) * dt == 1``.
    ``dt * kernel`` tends to :func:`spm_hrf` as ``dt`` -> 0, shifted by half a step; at
    ``dt = 2 s`` the two differ by up to 39 % of the peak.

    Parameters
    ----------
    dt : pint.Quantity or str
        Time step (required), e.g. ``"0.1 s"``.
    {parameters}

    Returns
    -------
    kernel : pint.Quantity, shape (K,), in 1/s
        Bin averages (module convention), scaled to unit area.
    """
    dt_s, bins = kernel_bins(dt, duration)
    a1, b1, a2, b2, ratio, t0 = _spm_parameters(delay, undershoot, dispersion,
                                                undershoot_dispersion, ratio, onset)
    edges = np.arange(bins + 1) * dt_s
    values = _gamma_bins(edges, a1, b1, t0) - ratio * _gamma_bins(edges, a2, b2, t0)
    return _unit_area(values, dt_s, "spm_hrf_bin_average")


for _function in (spm_hrf, spm_hrf_bin_average):
    _function.__doc__ = _function.__doc__.format(shape=_SPM_SHAPE_DOC.strip(),
                                                 parameters=_SPM_PARAMETERS_DOC.strip())
del _function


def glover_hrf(dt=None, duration="32 s", *, n1=6.0, t1="0.9 s", n2=12.0, t2="0.9 s", a2=0.35):
    """Glover's (1999) HRF: a difference of two peak-normalised gamma-variate functions.

    ``g(t) = (t/d1)^n1 exp(-(t - d1)/t1) - a2 (t/d2)^n2 exp(-(t - d2)/t2)``, ``d_i = n_i t_i``,
    each term scaled to a maximum of 1 at ``t = d_i`` (Glover's ``c_i``,
    ``1 / max(t^n_i exp(-t/t_i))``). The defaults are Glover's fit to auditory responses,
    ``n1 = 6, t1 = 0.9 s, n2 = 12, t2 = 0.9 s, a2 = 0.35``, as in FreeSurfer's ``spmhrf.m``,
    neuRosim's ``canonicalHRF`` and fmristat (response term: peak 5.4 s, FWHM 5.2 s;
    undershoot term: trough 10.8 s, relative depth 0.35). Summed, the two terms overlap: the
    composite peaks at ~5.24 s and its trough is at ~12.3 s, 0.26 times as deep as the peak.
    nipy's and nilearn's ``glover_hrf`` normalise each gamma to unit *area* before weighting
    the undershoot, a different (shallower) shape; nilearn's also uses shape 6/0.9 rather
    than 7, which moves its peak to ~5.1 s.

    Parameters
    ----------
    dt : pint.Quantity or str
        Time step (required).
    duration : pint.Quantity or str
        Kernel length (default 32 s).
    n1, n2 : float
        Exponents of the response and of the undershoot (> 0).
    t1, t2 : pint.Quantity or str
        Time constants of the response and of the undershoot.
    a2 : float
        Relative depth of the undershoot.

    Returns
    -------
    kernel : pint.Quantity, shape (K,), in 1/s
        Bin averages, scaled to unit area.
    """
    dt_s, bins = kernel_bins(dt, duration)
    n1 = check_positive(n1, "n1")
    n2 = check_positive(n2, "n2")
    t1, t2 = read_seconds(t1, "t1"), read_seconds(t2, "t2")
    a2 = read_real(a2, "a2")
    edges = np.arange(bins + 1) * dt_s

    def peak_normalised(n, t):
        # (t/d)^n e^{-(t-d)/b} = [Gamma(n+1) b e^n / n^n] * gamma_pdf(t; n+1, b), with d = n b
        factor = math.exp(math.lgamma(n + 1.0) + n - n * math.log(n)) * t
        return factor * _gamma_bins(edges, n + 1.0, t)

    values = peak_normalised(n1, t1) - a2 * peak_normalised(n2, t2)
    return _unit_area(values, dt_s, "glover_hrf")


def gamma_hrf(dt=None, duration="32 s", *, shape=3, scale="1.25 s", delay="2.5 s"):
    """A gamma-density HRF, Boynton et al. (1996): ``n`` cascaded leaky integrators.

    ``g(t) = ((t - delta)/tau)^(n-1) exp(-(t - delta)/tau) / (tau (n-1)!)`` for
    ``t > delta`` (Boynton et al. 1996, eq. 3), i.e. the gamma density of shape ``n`` and
    scale ``tau`` delayed by ``delta``; non-integer shapes are allowed (``Gamma(n)``
    replaces ``(n-1)!``). The defaults ``n = 3, tau = 1.25 s, delta = 2.5 s`` are the values
    Boynton et al. fitted in V1 (as used in e.g. ``boyntonClassHRmodel``); vistasoft's
    ``boyntonHIRF`` uses ``tau = 1.08 s, delta = 2.05 s`` (Boynton & Heeger). With
    ``delay="0 s"`` this is a plain gamma density. It peaks at
    ``delta + (n - 1) tau`` (5 s with the defaults) for ``n > 1``.

    Parameters
    ----------
    dt : pint.Quantity or str
        Time step (required).
    duration : pint.Quantity or str
        Kernel length (default 32 s).
    shape : float
        ``n``, the number of stages (> 0).
    scale : pint.Quantity or str
        ``tau``, the time constant of each stage.
    delay : pint.Quantity or str
        ``delta``, the pure delay before the response (>= 0).

    Returns
    -------
    kernel : pint.Quantity, shape (K,), in 1/s
        Bin averages, scaled to unit area over the duration.
    """
    dt_s, bins = kernel_bins(dt, duration)
    n = check_positive(shape, "shape")
    tau = read_seconds(scale, "scale")
    delta = read_seconds(delay, "delay", allow_zero=True)
    edges = np.arange(bins + 1) * dt_s
    return _unit_area(_gamma_bins(edges, n, tau, delta), dt_s, "gamma_hrf")
