"""The Balloon-Windkessel model linearised about rest: its state-space form and impulse response.

* :func:`balloon_linear_system`: the Jacobian ``A``, input vector ``B`` and observation
  gradient ``C`` at rest, in closed form;
* :func:`balloon_kernel`: the impulse response ``g(t) = C exp(A t) B`` as bin averages
  (the kernel convention of :mod:`~fwdmodels.hemodynamics.kernel_grid`), evaluated exactly
  by matrix exponentials, with the same parameters and observation as
  :func:`~fwdmodels.hemodynamics.simulate_bold`;
* :func:`volterra_kernel`: the first-order Volterra kernel of the nonlinear model (Friston
  et al. 2000), analytically (it *is* the linearised impulse response) or measured on the
  nonlinear model by central differences of its responses to small pulses.

The Balloon kernel carries the model's gain (BOLD fraction per unit of ``z``):
``balloon_kernel(...).sum() * dt`` is the steady-state gain for a constant input.

References
----------
Friston, Mechelli, Turner & Price (2000). Nonlinear responses in fMRI: the Balloon model,
    Volterra kernels, and other hemodynamics. NeuroImage 12:466-477.
"""

from __future__ import annotations

import math

import numpy as np

from .._validation import check_positive
from ..units import ureg
from .balloon import simulate_bold
from .kernel_grid import as_kernel, kernel_bins
from .params import resolve_params

__all__ = ["balloon_linear_system", "balloon_kernel", "volterra_kernel"]


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
    dt_s, bins = kernel_bins(dt, duration)
    resolved = resolve_params(params, **overrides)
    if resolved.shape:          # per-region parameters: one kernel per region, last axis
        columns = [balloon_kernel(resolved.region(i), dt, duration).magnitude
                   for i in np.ndindex(resolved.shape)]
        return as_kernel(np.stack(columns, axis=-1).reshape((bins,) + resolved.shape))
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
    return as_kernel(integrals / dt_s)


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
    dt_s, bins = kernel_bins(dt, duration)
    pulses = np.zeros((bins, 2))
    pulses[0] = (a, -a)
    bold = simulate_bold(pulses, ureg.Quantity(dt_s, "s"), params=params, method=method,
                         **overrides).magnitude
    return as_kernel((bold[:, 0] - bold[:, 1]) / (2.0 * a * dt_s))
