"""Linear views of the hemodynamic response: kernels and their convolution with neural input.

A linear time-invariant view of the BOLD signal writes it as the neural input convolved with a
hemodynamic response function (HRF). This module gives

* :func:`balloon_kernel`: the impulse response of the Balloon-Windkessel model of
  :mod:`~fwdmodels.hemodynamics.balloon` linearised about rest, in closed form, with the
  same parameters and the same (linearised) observation equation;
* :func:`volterra_kernel`: the first-order Volterra kernel of the nonlinear model (Friston et
  al. 2000), analytically (it *is* the linearised impulse response) or numerically from the
  nonlinear model's responses to small pulses;
* the classical kernels of the fMRI literature: SPM's canonical double gamma, both as
  SPM12's own vector (:func:`spm_hrf`) and as bin averages (:func:`spm_hrf_bin_average`),
  :func:`glover_hrf` (Glover 1999) and :func:`gamma_hrf` (Boynton et al. 1996);
* :func:`convolve_hrf`: FFT convolution of a whole ``(T, N)`` or ``(B, T, N)`` series with a
  kernel, on the time convention of :func:`~fwdmodels.hemodynamics.simulate_bold`.

The sampling convention (shared by every kernel here but :func:`spm_hrf`)
---------------------------------------------------------------------------
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

References
----------
Boynton, Engel, Glover & Heeger (1996). Linear systems analysis of functional magnetic
    resonance imaging in human V1. J. Neurosci. 16:4207-4221.
Friston, Fletcher, Josephs, Holmes, Rugg & Turner (1998). Event-related fMRI:
    characterizing differential responses. NeuroImage 7:30-40 (the double-gamma HRF of
    SPM's ``spm_hrf.m``).
Friston, Mechelli, Turner & Price (2000). Nonlinear responses in fMRI: the Balloon model,
    Volterra kernels, and other hemodynamics. NeuroImage 12:466-477.
Glover (1999). Deconvolution of impulse response in event-related BOLD fMRI.
    NeuroImage 9:416-429.
"""

from __future__ import annotations

import math

import numpy as np
import pint

from .._validation import check_dtype, check_option, check_positive
from ..errors import FwdModelsError
from ..units import as_quantity, is_brainunit_quantity, to_si, ureg
from .balloon import _output, read_neural_input, simulate_bold
from .plan import read_dt
from .params import resolve_params
from .sampling import TR_MODES, sample_tr, tr_ratio

__all__ = ["balloon_linear_system", "balloon_kernel", "volterra_kernel", "spm_hrf",
           "spm_hrf_bin_average", "glover_hrf", "gamma_hrf", "convolve_hrf", "kernel_times"]

_KERNEL_UNIT = "1/s"


# ---------------------------------------------------------------------- shared helpers
def _seconds(value, name: str, allow_zero: bool = False) -> float:
    """A time argument in seconds (unit required), positive (or >= 0 with allow_zero)."""
    seconds = to_si(value, name, "[time]")
    if not isinstance(seconds, float):
        raise FwdModelsError(f"`{name}` must be a single time; got {value!r}")
    ok = seconds >= 0 if allow_zero else seconds > 0
    if not (np.isfinite(seconds) and ok):
        rule = "non-negative" if allow_zero else "positive"
        raise FwdModelsError(f"`{name}` must be {rule} and finite; got {seconds!r} s")
    return seconds


def _grid(dt, duration) -> tuple[float, int]:
    """Return ``(dt_s, K)``: the step in seconds and the number of bins covering ``duration``.

    ``K = duration / dt`` rounded up (a ratio within 1e-9 of a whole number is taken as it).
    """
    if dt is None:
        raise FwdModelsError("`dt` is required: the kernel's time step, a time with its unit "
                             "(e.g. '0.1 s'), the same dt as the input it will be convolved with")
    dt_s = read_dt(dt)
    duration_s = _seconds(duration, "duration")
    ratio = duration_s / dt_s
    bins = int(round(ratio)) if abs(ratio - round(ratio)) <= 1e-9 * max(1.0, ratio) else \
        int(math.ceil(ratio))
    if ratio < 1.0 - 1e-9:
        raise FwdModelsError(f"`duration` must be at least one step dt; got duration = "
                             f"{duration_s:g} s and dt = {dt_s:g} s")
    if bins > 50_000_000:
        raise FwdModelsError(f"`duration` / `dt` must be at most 5e7 bins; got {bins} "
                             f"(duration = {duration_s:g} s, dt = {dt_s:g} s)")
    return dt_s, bins


def kernel_times(dt, duration):
    """Left edges ``k dt`` of the kernel bins, a Quantity in seconds (shape ``(K,)``).

    ``kernel[k]`` is the average response over ``[k dt, (k + 1) dt)``; for plotting, the bin
    centres are ``kernel_times(dt, duration) + dt / 2``.
    """
    dt_s, bins = _grid(dt, duration)
    return ureg.Quantity(np.arange(bins) * dt_s, "s")


def _as_kernel(values: np.ndarray):
    return ureg.Quantity(np.ascontiguousarray(values, dtype=np.float64), _KERNEL_UNIT)


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
    return _as_kernel(bin_integrals / (total * dt_s))


# ---------------------------------------------------------------------- Balloon, linearised
def balloon_linear_system(params="friston2003", **overrides):
    """The Balloon-Windkessel model linearised about rest: ``(A, B, C)``.

    With the deviations from rest ``y = (x, f - 1, v - 1, q - 1)``, for small inputs
    ``dy/dt = A y + B z`` and ``BOLD = C y`` (see :func:`balloon_kernel` for the derivation).

    Parameters
    ----------
    params : str or BalloonParams
        A preset name or a parameter set; ``overrides`` change single values.

    Returns
    -------
    A : ndarray, shape (4, 4)
        The Jacobian of the state equations at rest, in s^-1 (``(*shape, 4, 4)`` for
        per-region parameters of that shape).
    B : ndarray, shape (4,)
        Input vector ``(1, 0, 0, 0)`` (z enters dx/dt only).
    C : ndarray, shape (4,)
        Gradient of the BOLD observation at rest (dimensionless; ``(*shape, 4)`` for
        per-region parameters).
    """
    p = resolve_params(params, **overrides)
    if p.shape:                 # per-region parameters: one system per region, stacked
        systems = [balloon_linear_system(p.region(i)) for i in np.ndindex(p.shape)]
        A = np.stack([a for a, _, _ in systems]).reshape(p.shape + (4, 4))
        C = np.stack([c for _, _, c in systems]).reshape(p.shape + (4,))
        return A, systems[0][1], C
    kappa, gamma, tau, alpha, rho = p.kappa, p.gamma, p.tau, p.alpha, p.rho
    k1, k2, k3 = p.bold_coefficients()
    # d/df [f E(f) / rho] at f = 1, with E(f) = 1 - (1 - rho)**(1/f):
    extraction_slope = 1.0 + (1.0 - rho) * math.log1p(-rho) / rho
    A = np.array([
        [-kappa, -gamma, 0.0, 0.0],
        [1.0, 0.0, 0.0, 0.0],
        [0.0, 1.0 / tau, -1.0 / (alpha * tau), 0.0],
        [0.0, extraction_slope / tau, -(1.0 / alpha - 1.0) / tau, -1.0 / tau],
    ])
    B = np.array([1.0, 0.0, 0.0, 0.0])
    # Every observation form ("classic", "revised", "revised_linear") has the same gradient
    # at rest: V0 * ((k2 - k3) dv - (k1 + k2) dq).
    C = p.V0 * np.array([0.0, 0.0, k2 - k3, -(k1 + k2)])
    return A, B, C


def balloon_kernel(params="friston2003", dt=None, duration="32 s", **overrides):
    r"""Impulse response of the Balloon-Windkessel model linearised about rest (closed form).

    Parameters
    ----------
    params : str or BalloonParams
        A preset name (default ``"friston2003"``) or a parameter set; ``**overrides`` change
        single values (e.g. ``tau_s=1.5``). The observation equation of ``params`` is used.
    dt : pint.Quantity or str
        Time step, with its unit (``"0.1 s"``): the dt of the input the kernel will be
        convolved with. Required.
    duration : pint.Quantity or str
        Length of the kernel (default 32 s); ``K = ceil(duration / dt)`` bins.

    Returns
    -------
    kernel : pint.Quantity, shape (K,), in 1/s
        (``(K, *shape)`` for per-region parameters of that shape, one kernel per region.)
        ``kernel[k]`` is the average over ``[k dt, (k+1) dt)`` of the impulse response
        ``g(t) = C exp(A t) B`` (BOLD fraction per unit of z per second; see the module
        documentation for the convention). ``dt * kernel[k]`` is the exact BOLD response of
        the linearised model at ``t = (k + 1) dt`` to ``z = 1`` held over ``[0, dt)``.

    Notes
    -----
    **Linearisation.** Write the deviations from rest ``y = (x, f~, v~, q~) = (x, f - 1,
    v - 1, q - 1)``. Expanding the state equations of
    :mod:`~fwdmodels.hemodynamics.params` to first order about ``x = 0, f = v = q = 1``:

    * ``dx/dt = z - kappa x - gamma f~`` (already linear);
    * ``df~/dt = x``;
    * ``tau dv~/dt = f - v^(1/alpha) ~ f~ - v~ / alpha``;
    * ``tau dq~/dt = f E(f)/rho - v^(1/alpha - 1) q ~ e f~ - (1/alpha - 1) v~ - q~`` with
      ``e = d[f E(f)/rho]/df |_(f=1) = 1 + (1 - rho) ln(1 - rho) / rho`` (from
      ``E(1) = rho`` and ``E'(1) = (1 - rho) ln(1 - rho)``).

    So ``dy/dt = A y + B z`` with the Jacobian (rows x, f, v, q; in s^-1)::

        A = [[-kappa,   -gamma,          0,                    0     ],
             [   1,        0,            0,                    0     ],
             [   0,      1/tau,   -1/(alpha tau),              0     ],
             [   0,      e/tau,   -(1/alpha - 1)/tau,       -1/tau   ]],   B = (1, 0, 0, 0).

    The BOLD equation ``V0 (k1 (1-q) + k2 (1 - q/v) + k3 (1-v))`` has the gradient
    ``C = V0 (0, 0, k2 - k3, -(k1 + k2))`` at rest (``1 - q/v ~ v~ - q~``), which is also the
    ``"revised_linear"`` form. ``A`` is block lower-triangular, so its eigenvalues (the
    response's modes) are those of the flow block, ``(-kappa +- sqrt(kappa^2 - 4 gamma))/2``
    (a damped oscillation when ``kappa^2 < 4 gamma``, as for the Friston 2003 values), and
    ``-1/(alpha tau)`` and ``-1/tau`` (volume and deoxyhemoglobin). All have negative real
    parts, so ``g`` decays; its integral is the steady-state gain ``-C A^{-1} B =
    V0 [(k2 - k3) alpha - (k1 + k2)(alpha + (1 - rho) ln(1 - rho)/rho)] / gamma``, the
    derivative of the closed-form steady state of
    :func:`~fwdmodels.hemodynamics.steady_state` at ``z = 0``.

    **Discretisation (exact).** With ``z`` held constant over each step, the augmented matrix
    ``M = [[A, B], [0, 0]] dt`` gives ``expm(M) = [[Ad, Bd], [0, 1]]``, ``Ad = exp(A dt)``,
    ``Bd = integral_0^dt exp(A s) ds B``, and ``dt * kernel[k] = C exp(A k dt) Bd =
    integral_{k dt}^{(k+1) dt} g(s) ds``. The matrix exponentials are evaluated in closed
    form by :func:`scipy.linalg.expm` at every ``k dt`` (as ``exp(A j L dt) exp(A i dt)`` for
    ``k = j L + i``, ``L ~ sqrt(K)``, to need only ~2 sqrt(K) exponentials): no fit, no ODE
    stepping, and no accumulation of rounding over ``k``. It works for repeated eigenvalues
    (e.g. ``kappa^2 = 4 gamma``) where a modal sum would divide by zero.

    **Accuracy.** Convolving this kernel with ``z`` gives the linearised model's response
    *exactly* (zero-order hold), so :func:`convolve_hrf` with it matches
    :func:`~fwdmodels.hemodynamics.simulate_bold` from rest to first order in the input's
    amplitude: the relative gap is ``O(|z|)``, the model's nonlinearity (plus the ODE
    integrator's own error, ``O(dt^4)`` for ``"rk4"``).
    """
    dt_s, bins = _grid(dt, duration)
    resolved = resolve_params(params, **overrides)
    if resolved.shape:          # per-region parameters: one kernel per region, last axis
        columns = [balloon_kernel(resolved.region(i), dt, duration).magnitude
                   for i in np.ndindex(resolved.shape)]
        return _as_kernel(np.stack(columns, axis=-1).reshape((bins,) + resolved.shape))
    A, B, C = balloon_linear_system(resolved)
    n = A.shape[0]
    augmented = np.zeros((n + 1, n + 1))
    augmented[:n, :n] = A * dt_s
    augmented[:n, n] = B * dt_s
    import scipy.linalg
    Bd = scipy.linalg.expm(augmented)[:n, n]                       # integral_0^dt e^{As} ds B
    inner = max(1, int(math.ceil(math.sqrt(bins))))
    outer = int(math.ceil(bins / inner))
    # right[i] = exp(A i dt) Bd (i < inner);  left[j] = C exp(A j inner dt) (j < outer)
    right = scipy.linalg.expm(A[None] * (np.arange(inner) * dt_s)[:, None, None]) @ Bd
    left = C @ scipy.linalg.expm(A[None] * (np.arange(outer) * inner * dt_s)[:, None, None])
    integrals = (left @ right.T).reshape(-1)[:bins]                # index j * inner + i
    return _as_kernel(integrals / dt_s)


def volterra_kernel(params="friston2003", dt=None, duration="32 s", *, amplitude=None,
                    method="rk4", **overrides):
    """First-order Volterra kernel of the (nonlinear) Balloon-Windkessel model.

    Friston et al. (2000) characterise the Balloon model by its Volterra expansion about
    rest, ``y(t) = k0 + integral k1(s) z(t - s) ds + double integral k2(s1, s2) ... + ...``.
    The first-order kernel ``k1(s) = dy(t) / dz(t - s)`` at ``z = 0`` is, by definition, the
    impulse response of the model linearised about rest: the two are the same function.

    Parameters
    ----------
    params, dt, duration, **overrides
        As in :func:`balloon_kernel`.
    amplitude : float, optional
        ``None`` (default): the analytic kernel, identical to :func:`balloon_kernel`. A
        positive number ``a``: the kernel is measured on the nonlinear model by a central
        difference of its responses to pulses ``+a`` and ``-a`` held over the first step,
        ``(y[+a] - y[-a]) / (2 a dt)``. The second-order Volterra term cancels, so this
        estimate converges to the analytic kernel as ``a**2`` (plus the integrator's error):
        a numerical demonstration that ``k1`` is the linearised impulse response. ``a`` is
        in units of z; the impulse size is ``a * dt``; ``a`` must stay below gamma for the
        ``-a`` pulse to keep the inflow positive.
    method : {"rk4", "heun", "euler", "reference"}
        Time stepping of the nonlinear model when ``amplitude`` is given.

    Returns
    -------
    kernel : pint.Quantity, shape (K,), in 1/s
        Same convention as :func:`balloon_kernel`.
    """
    if amplitude is None:
        return balloon_kernel(params, dt, duration, **overrides)
    a = check_positive(amplitude, "amplitude")
    dt_s, bins = _grid(dt, duration)
    pulses = np.zeros((bins, 2))
    pulses[0] = (a, -a)
    bold = simulate_bold(pulses, ureg.Quantity(dt_s, "s"), params=params, method=method,
                         **overrides).magnitude
    return _as_kernel((bold[:, 0] - bold[:, 1]) / (2.0 * a * dt_s))


# ---------------------------------------------------------------------- classical kernels
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
    d1, d2 = _seconds(delay, "delay"), _seconds(undershoot, "undershoot")
    s1 = _seconds(dispersion, "dispersion")
    s2 = _seconds(undershoot_dispersion, "undershoot_dispersion")
    t0 = _seconds(onset, "onset", allow_zero=True)
    return d1 / s1, s1, d2 / s2, s2, _finite(ratio, "ratio"), t0


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
    dt_s = _grid(dt, duration)[0]       # dt required, with its unit; duration >= dt
    duration_s = _seconds(duration, "duration")
    ratio_steps = duration_s / dt_s
    nearest = round(ratio_steps)
    whole = nearest if abs(ratio_steps - nearest) <= 1e-9 * max(1.0, ratio_steps) else \
        math.floor(ratio_steps)
    count = int(whole) + 1
    if count > 50_000_001:
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
    dt_s, bins = _grid(dt, duration)
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
    dt_s, bins = _grid(dt, duration)
    n1 = check_positive(n1, "n1")
    n2 = check_positive(n2, "n2")
    t1, t2 = _seconds(t1, "t1"), _seconds(t2, "t2")
    a2 = _finite(a2, "a2")
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
    dt_s, bins = _grid(dt, duration)
    n = check_positive(shape, "shape")
    tau = _seconds(scale, "scale")
    delta = _seconds(delay, "delay", allow_zero=True)
    edges = np.arange(bins + 1) * dt_s
    return _unit_area(_gamma_bins(edges, n, tau, delta), dt_s, "gamma_hrf")


def _finite(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise FwdModelsError(f"`{name}` must be a real number; got {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise FwdModelsError(f"`{name}` must be finite; got {value!r}")
    return value


# ---------------------------------------------------------------------- convolution
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
    values = np.asarray(q.to(_KERNEL_UNIT).magnitude, dtype=np.float64)
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
