"""Tests of fwdmodels.hemodynamics.hrf: linear views of the hemodynamic response.

Oracles are independent of the code under test: the nonlinear ODE (simulate_bold), the
closed-form steady state, a finite-difference Jacobian of the published Balloon equations
integrated by solve_ivp, direct (non-FFT) convolution, and the published formulas and
statements for the classical kernels (all transcribed in tests/naive.py, SPM12's spm_hrf.m
line by line among them).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.integrate
import scipy.optimize

import naive
from fwdmodels.errors import FwdModelsError
from fwdmodels.hemodynamics.balloon import simulate_bold
from fwdmodels.hemodynamics.hrf import (balloon_kernel, balloon_linear_system, convolve_hrf,
                                        gamma_hrf, glover_hrf, kernel_times, spm_hrf,
                                        spm_hrf_bin_average, volterra_kernel)
from fwdmodels.hemodynamics.params import resolve_params
from fwdmodels.hemodynamics.sampling import sample_tr
from fwdmodels.hemodynamics.steady_state import steady_state
from fwdmodels.units import ureg

PRESETS = ["friston2003", "stephan2007", "spm12"]


def _peak_time(kernel, dt):
    """Bin centre of the kernel's maximum, in seconds."""
    return (int(np.argmax(kernel.magnitude)) + 0.5) * dt


def _trough_time(kernel, dt):
    return (int(np.argmin(kernel.magnitude)) + 0.5) * dt


def _fd_linearisation(params):
    """A, C by central differences at rest of the published equations (naive.py)."""
    p = resolve_params(params)
    H = (p.kappa, p.gamma, p.tau, p.alpha, p.rho)
    k = naive.bold_coefficients(p.observation.removesuffix("_linear"), p.rho, p.nu0, p.r0,
                                p.TE, p.epsilon)
    rest = np.array([0.0, 1.0, 1.0, 1.0])
    h = 1e-6
    A = np.empty((4, 4))
    C = np.empty(4)
    for j in range(4):
        up, down = rest.copy(), rest.copy()
        up[j] += h
        down[j] -= h
        A[:, j] = (np.array(naive.balloon_rhs(up, 0.0, H))
                   - np.array(naive.balloon_rhs(down, 0.0, H))) / (2 * h)
        C[j] = (naive.balloon_bold(up[2], up[3], p.V0, k)
                - naive.balloon_bold(down[2], down[3], p.V0, k)) / (2 * h)
    return A, C


# ---------------------------------------------------------------------- Balloon kernel
@pytest.mark.parametrize("preset", PRESETS)
def test_small_inputs_converge_to_the_kernel_at_first_order(preset):
    # A block input at four amplitudes, one per column: the relative gap between the
    # nonlinear ODE and the convolution must halve when the amplitude halves.
    dt = "0.05 s"
    T = 900
    amplitudes = np.array([0.2, 0.1, 0.05, 0.025])
    z = np.zeros((T, amplitudes.size))
    z[20:140] = amplitudes
    z[300:320] = -0.5 * amplitudes
    kernel = balloon_kernel(preset, dt, "45 s")
    linear = convolve_hrf(z, dt, kernel).magnitude
    nonlinear = simulate_bold(z, dt, params=preset, method="rk4").magnitude
    gap = np.linalg.norm(linear - nonlinear, axis=0) / np.linalg.norm(nonlinear, axis=0)
    orders = np.log2(gap[:-1] / gap[1:])
    assert np.all(gap[1:] < gap[:-1])
    np.testing.assert_allclose(orders, 1.0, atol=0.1)
    assert gap[-1] < 0.05


def test_kernel_integral_is_the_steady_state_gain():
    # Gain from the closed-form steady state (steady_state.py), by a central difference.
    eps = 1e-4
    bold_up = steady_state(eps)["bold"].magnitude
    bold_down = steady_state(-eps)["bold"].magnitude
    gain = float((bold_up - bold_down) / (2 * eps))
    dt = 0.1
    kernel = balloon_kernel("friston2003", f"{dt} s", "90 s")
    assert kernel.units == ureg("1/s").units
    np.testing.assert_allclose(kernel.magnitude.sum() * dt, gain, rtol=1e-7)
    # and the same by hand: -C A^{-1} B from the finite-difference Jacobian
    A, C = _fd_linearisation("friston2003")
    by_hand = -C @ np.linalg.solve(A, np.array([1.0, 0.0, 0.0, 0.0]))
    np.testing.assert_allclose(gain, by_hand, rtol=1e-6)


@pytest.mark.parametrize("preset", PRESETS)
def test_kernel_matches_solve_ivp_of_the_linearised_ode(preset):
    # Independent linear system: Jacobian of the nonlinear rhs by finite differences; a
    # unit pulse held over [0, dt); the response at t = (k+1) dt equals dt * kernel[k].
    A, C = _fd_linearisation(preset)
    dt, n_bins = 0.2, 150
    B = np.array([1.0, 0.0, 0.0, 0.0])
    first = scipy.integrate.solve_ivp(lambda t, y: A @ y + B, (0, dt), np.zeros(4),
                                      method="DOP853", rtol=1e-12, atol=1e-14)
    times = np.arange(1, n_bins) * dt
    rest = scipy.integrate.solve_ivp(lambda t, y: A @ y, (dt, n_bins * dt), first.y[:, -1],
                                     t_eval=np.concatenate([[dt], dt + times]),
                                     method="DOP853", rtol=1e-12, atol=1e-14)
    expected = C @ rest.y / dt
    kernel = balloon_kernel(preset, f"{dt} s", f"{n_bins * dt} s").magnitude
    assert kernel.shape == (n_bins,)
    np.testing.assert_allclose(kernel, expected, rtol=1e-6, atol=1e-7 * np.abs(expected).max())


def test_linear_system_matches_the_finite_difference_jacobian():
    for preset in PRESETS:
        A, B, C = balloon_linear_system(preset)
        A_fd, C_fd = _fd_linearisation(preset)
        np.testing.assert_allclose(A, A_fd, rtol=1e-7, atol=1e-8)
        np.testing.assert_allclose(C, C_fd, rtol=1e-7, atol=1e-10)
        np.testing.assert_array_equal(B, [1, 0, 0, 0])


def test_kernel_is_well_defined_at_critical_damping():
    # kappa^2 = 4 gamma: a repeated eigenvalue, where a modal sum would divide by zero.
    params = resolve_params("friston2003").replace(gamma=0.65 ** 2 / 4)
    kernel = balloon_kernel(params, "0.1 s", "120 s").magnitude
    assert np.all(np.isfinite(kernel))
    A, B, C = balloon_linear_system(params)
    np.testing.assert_allclose(kernel.sum() * 0.1, -C @ np.linalg.solve(A, B), rtol=1e-8)


def test_kernel_does_not_depend_on_how_the_grid_is_split():
    # The block evaluation (exp(A j L dt) exp(A i dt)) must give the same samples whatever K.
    long = balloon_kernel("friston2003", "0.1 s", "30 s").magnitude
    short = balloon_kernel("friston2003", "0.1 s", "7.3 s").magnitude
    np.testing.assert_allclose(short, long[:short.size], rtol=1e-12, atol=1e-15)
    assert short.size == 73


def test_friston_balloon_kernel_peaks_near_3_s():
    # A linear Balloon response with the Friston 2003 values peaks at ~3 s (with kappa and
    # gamma inverted it would peak near 2 s).
    dt = 0.01
    assert 2.7 < _peak_time(balloon_kernel("friston2003", f"{dt} s", "32 s"), dt) < 3.4
    inverted = resolve_params("friston2003").replace(kappa=1 / 0.65, gamma=1 / 0.41)
    assert _peak_time(balloon_kernel(inverted, f"{dt} s", "32 s"), dt) < 2.3


# ---------------------------------------------------------------------- Volterra kernel
def test_analytic_volterra_kernel_is_the_balloon_kernel():
    a = volterra_kernel("friston2003", "0.1 s", "20 s")
    b = balloon_kernel("friston2003", "0.1 s", "20 s")
    np.testing.assert_array_equal(a.magnitude, b.magnitude)


def test_numerical_volterra_kernel_converges_at_second_order():
    dt = "0.1 s"
    analytic = balloon_kernel("friston2003", dt, "30 s").magnitude
    errors = []
    for amplitude in (1.0, 0.5, 0.25):
        numerical = volterra_kernel("friston2003", dt, "30 s", amplitude=amplitude,
                                    method="reference").magnitude
        errors.append(np.abs(numerical - analytic).max() / np.abs(analytic).max())
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    np.testing.assert_allclose(orders, 2.0, atol=0.15)


# ---------------------------------------------------------------------- classical kernels
def _spm_formula(t, dt):
    """SPM's double gamma (naive.spm_double_gamma) on an array of times t (s)."""
    return np.array([naive.spm_double_gamma(x, dt) for x in np.atleast_1d(t)])


def _glover_formula(t, **shape):
    return np.array([naive.glover_formula(x, **shape) for x in np.atleast_1d(t)])


@pytest.mark.parametrize("RT", [2.0, 0.5, 1.0, 2.5, 3.0, 0.72, 1 / 16, 7.0])
def test_spm_hrf_is_spm12s_vector(RT):
    # naive.spm12_hrf transcribes SPM12's spm_hrf.m (microtime grid RT/16, every 16th value).
    expected = naive.spm12_hrf(RT)
    hrf = spm_hrf(f"{RT!r} s")
    assert hrf.units == ureg.dimensionless
    assert hrf.shape == expected.shape == (math.floor(32 / RT) + 1,)
    np.testing.assert_allclose(hrf.magnitude, expected, rtol=1e-12, atol=1e-15)
    assert hrf.magnitude.sum() == pytest.approx(1.0, abs=1e-13)


def test_spm_hrf_printed_values_and_other_parameters():
    # SPM12: spm_hrf(2) = 0, 0.0866, 0.3749, 0.3849, 0.2161, ... (17 values, 0 to 32 s)
    hrf = spm_hrf("2 s").magnitude
    np.testing.assert_allclose(hrf[:5], [0, 0.0866, 0.3749, 0.3849, 0.2161], atol=5e-5)
    assert hrf.size == 17
    # every parameter of p: spm_hrf(1.5, [5 15 0.9 1.1 4 1.3 30])
    p = (5, 15, 0.9, 1.1, 4, 1.3, 30)
    ours = spm_hrf("1.5 s", "30 s", delay="5 s", undershoot="15 s", dispersion="0.9 s",
                   undershoot_dispersion="1.1 s", ratio=1 / 4, onset="1.3 s").magnitude
    np.testing.assert_allclose(ours, naive.spm12_hrf(1.5, p), rtol=1e-12, atol=1e-15)
    # SPM's microtime resolution T does not change the values (they sit at t = k RT)
    np.testing.assert_allclose(naive.spm12_hrf(2.0, T=26), hrf, rtol=1e-12, atol=1e-15)


def test_spm_hrf_differs_from_the_bin_average_by_39_percent_at_2_s():
    spm = naive.spm12_hrf(2.0)
    bins = spm_hrf_bin_average("2 s").magnitude * 2.0   # unit sum, 16 bins of [2k, 2k + 2)
    gap = np.abs(bins - spm[:16]).max() / spm.max()
    assert 0.385 < gap < 0.40
    # and they converge as dt -> 0 (bin average ~ the sample at the bin's centre)
    fine = naive.spm12_hrf(0.01)
    fine_bins = spm_hrf_bin_average("0.01 s").magnitude * 0.01
    assert np.abs(fine_bins - 0.5 * (fine[:-1] + fine[1:])).max() < 1e-4 * fine.max()


def test_spm_hrf_convolution_is_spms_design_column():
    # SPM: X[n] = sum_m hrf[n - m] u[m]; convolve_hrf with spm_hrf(dt) / dt gives it row by row
    rng = np.random.default_rng(5)
    u = rng.normal(size=(60, 2))
    dt = ureg.Quantity(2.0, "s")
    hrf = spm_hrf(dt)
    direct = np.stack([np.convolve(u[:, j], naive.spm12_hrf(2.0))[:60] for j in range(2)], 1)
    np.testing.assert_allclose(convolve_hrf(u, dt, hrf / dt).magnitude, direct, atol=1e-13)


def test_spm_hrf_bin_average_matches_the_spm_formula_and_its_peaks():
    dt = 0.01
    kernel = spm_hrf_bin_average(f"{dt} s")
    assert kernel.units == ureg("1/s").units and kernel.shape == (3200,)
    np.testing.assert_allclose(kernel.magnitude.sum() * dt, 1.0, rtol=1e-12)
    centres = (np.arange(3200) + 0.5) * dt
    reference = _spm_formula(centres, dt)
    reference /= reference.sum() * dt
    # bin averages vs midpoint samples: equal to O(dt^2)
    np.testing.assert_allclose(kernel.magnitude, reference, atol=2e-5 * reference.max())
    # Published facts: the response peaks at (6/1 - 1) * 1 = 5 s (the gamma's mode), the
    # undershoot's trough lies between 15 and 16 s; locate them on the formula itself.
    peak = scipy.optimize.minimize_scalar(lambda t: -naive.spm_double_gamma(t), (3, 5, 8)).x
    trough = scipy.optimize.minimize_scalar(lambda t: naive.spm_double_gamma(t),
                                            (12, 15.5, 20)).x
    assert abs(peak - 5.0) < 0.05 and 15.0 < trough < 16.0
    assert abs(_peak_time(kernel, dt) - peak) <= dt
    assert abs(_trough_time(kernel, dt) - trough) <= dt
    # exactly the bin integrals of the formula (by quadrature), at a coarse dt
    coarse = spm_hrf_bin_average("2 s").magnitude
    integrals = np.array([scipy.integrate.quad(naive.spm_double_gamma, 2 * k, 2 * k + 2,
                                               epsabs=1e-14)[0] for k in range(16)])
    np.testing.assert_allclose(coarse * 2, integrals / integrals.sum(), rtol=1e-9,
                               atol=1e-12)


def test_glover_hrf_matches_the_paper():
    dt = 0.01
    kernel = glover_hrf(f"{dt} s")
    centres = (np.arange(kernel.size) + 0.5) * dt
    reference = _glover_formula(centres)
    reference /= reference.sum() * dt
    np.testing.assert_allclose(kernel.magnitude, reference, atol=2e-5 * reference.max())
    # The response term alone: peak at n1 t1 = 5.4 s, FWHM 5.2 s (fmristat's summary of
    # Glover's fit); the undershoot term alone: trough at n2 t2 = 10.8 s.
    response = glover_hrf(f"{dt} s", a2=0.0)
    assert abs(_peak_time(response, dt) - 5.4) <= dt
    above = centres[response.magnitude >= response.magnitude.max() / 2]
    assert abs((above[-1] - above[0]) - 5.2) < 0.1
    undershoot = glover_hrf(f"{dt} s", n1=12.0, a2=0.0)   # same shape as the undershoot term
    assert abs(_peak_time(undershoot, dt) - 10.8) <= dt
    # The composite: its extrema where the paper's formula has them.
    peak = scipy.optimize.minimize_scalar(lambda t: -naive.glover_formula(t), (3, 5.3, 8)).x
    trough = scipy.optimize.minimize_scalar(lambda t: naive.glover_formula(t), (9, 12, 20)).x
    assert abs(_peak_time(kernel, dt) - peak) <= dt
    assert abs(_trough_time(kernel, dt) - trough) <= dt
    # The undershoot's depth relative to the peak follows from the formula.
    depth = -naive.glover_formula(trough) / naive.glover_formula(peak)
    np.testing.assert_allclose(-kernel.magnitude.min() / kernel.magnitude.max(), depth,
                               rtol=1e-3)


def test_gamma_hrf_peaks_at_delay_plus_shape_minus_one_times_scale():
    dt = 0.01
    # Boynton et al. (1996): n = 3, tau = 1.25 s, delta = 2.5 s -> peak 2.5 + 2 * 1.25 = 5 s.
    assert abs(_peak_time(gamma_hrf(f"{dt} s"), dt) - 5.0) <= dt
    # A plain gamma density: peak at (shape - 1) * scale, mean shape * scale.
    kernel = gamma_hrf(f"{dt} s", "60 s", shape=4.5, scale="1.5 s", delay="0 s")
    assert abs(_peak_time(kernel, dt) - 3.5 * 1.5) <= dt
    centres = (np.arange(kernel.size) + 0.5) * dt
    mean = (kernel.magnitude * centres).sum() * dt
    np.testing.assert_allclose(mean, 4.5 * 1.5, rtol=1e-4)
    # nothing before the delay
    delayed = gamma_hrf(f"{dt} s", delay="2.5 s").magnitude
    assert np.all(delayed[:250] == 0) and delayed[251] > 0


def test_gamma_hrf_is_the_bin_average_of_boyntons_formula():
    # Bin integrals of Boynton et al.'s eq. 3 by quadrature, scaled to unit area.
    kernel = gamma_hrf("0.5 s", "20 s", shape=3.5, scale="1.1 s", delay="1.2 s").magnitude
    edges = np.arange(41) * 0.5
    integrals = np.array([scipy.integrate.quad(naive.boynton_gamma, a, b, args=(3.5, 1.1, 1.2),
                                               epsabs=1e-14)[0]
                          for a, b in zip(edges[:-1], edges[1:])])
    np.testing.assert_allclose(kernel * 0.5, integrals / integrals.sum(), rtol=1e-9,
                               atol=1e-13)


def test_kernel_times():
    t = kernel_times("0.5 s", "3 s")
    assert t.units == ureg.s
    np.testing.assert_allclose(t.magnitude, [0, 0.5, 1, 1.5, 2, 2.5])


# ---------------------------------------------------------------------- convolution
def test_convolution_matches_a_direct_sum():
    rng = np.random.default_rng(3)
    z = rng.normal(size=(200, 3))
    kernel = balloon_kernel("friston2003", "0.1 s", "15 s")
    h = kernel.magnitude
    expected = np.stack([np.convolve(z[:, j], h)[:200] * 0.1 for j in range(3)], axis=1)
    out = convolve_hrf(z, "100 ms", kernel)
    assert out.units == ureg.dimensionless and out.shape == (200, 3)
    np.testing.assert_allclose(out.magnitude, expected, atol=1e-13)
    # a kernel longer than the series, a (K, N) kernel, a batch, TR sampling
    short = convolve_hrf(z[:40], "0.1 s", kernel)
    np.testing.assert_allclose(short.magnitude, expected[:40], atol=1e-13)
    per_region = ureg.Quantity(np.stack([h, 2 * h, 0 * h], axis=1), "1/s")
    scaled = convolve_hrf(z, "0.1 s", per_region).magnitude
    np.testing.assert_allclose(scaled, expected * [1, 2, 0], atol=1e-13)
    batch = convolve_hrf(np.stack([z, -z]), "0.1 s", kernel).magnitude
    np.testing.assert_allclose(batch[0], expected, atol=1e-13)
    np.testing.assert_allclose(batch[1], -expected, atol=1e-13)
    for mode in ("sample", "mean"):
        at_tr = convolve_hrf(z, "0.1 s", kernel, tr="2 s", tr_mode=mode).magnitude
        np.testing.assert_allclose(at_tr, sample_tr(expected, 20, mode), atol=1e-13)
    # kernel in other units of 1/time, output in percent
    per_ms = ureg.Quantity(h / 1000.0, "1/ms")
    pct = convolve_hrf(z, "0.1 s", per_ms, unit="percent")
    np.testing.assert_allclose(pct.magnitude, 100 * expected, atol=1e-11)


def test_tr_sampling_matches_simulate_bold_grid():
    # At TR, the linear output is sampled on the same rows as simulate_bold's.
    z = np.zeros((400, 1))
    z[10:30] = 0.01
    kernel = balloon_kernel("friston2003", "0.05 s", "25 s")
    lin = convolve_hrf(z, "0.05 s", kernel, tr="1 s").magnitude
    sim = simulate_bold(z, "0.05 s", tr="1 s").magnitude
    assert lin.shape == sim.shape == (20, 1)
    np.testing.assert_allclose(lin, sim, rtol=0, atol=0.02 * np.abs(sim).max())


# ---------------------------------------------------------------------- bad inputs
@pytest.mark.parametrize("call, message", [
    (lambda: balloon_kernel("friston2003", 0.1), r"`dt` must carry a unit"),
    (lambda: balloon_kernel("friston2003"), r"`dt` is required"),
    (lambda: balloon_kernel("friston2003", "0.1 s", "0.01 s"), r"`duration` must be at least"),
    (lambda: balloon_kernel("friston2003", "0.1 s", "-3 s"), r"`duration` must be positive"),
    (lambda: balloon_kernel("friston2003", "0.1 s", "3 m"), r"`duration` must have the dim"),
    (lambda: balloon_kernel("friston2003", "-0.1 s"), r"`dt` must be positive"),
    (lambda: balloon_kernel("nope", "0.1 s"), r"`params` must be one of"),
    (lambda: spm_hrf("0.1 s", delay=6), r"`delay` must carry a unit"),
    (lambda: spm_hrf("0.1 s", ratio=float("nan")), r"`ratio` must be finite"),
    (lambda: spm_hrf(), r"`dt` is required"),
    (lambda: spm_hrf("2 s", "1 s"), r"`duration` must be at least one step"),
    (lambda: spm_hrf("0.1 s", delay="0.5 s"), r"spm_hrf: the samples have no finite positive"),
    (lambda: spm_hrf_bin_average("0.1 s", dispersion=1), r"`dispersion` must carry a unit"),
    (lambda: spm_hrf_bin_average("0.1 s", onset="-1 s"), r"`onset` must be non-negative"),
    (lambda: glover_hrf("0.1 s", n1=-1), r"`n1` must be positive"),
    (lambda: gamma_hrf("0.1 s", delay="-1 s"), r"`delay` must be non-negative"),
    (lambda: gamma_hrf("0.1 s", "2 s", delay="5 s"), r"no positive area"),
    (lambda: volterra_kernel("friston2003", "0.1 s", amplitude=-1.0),
     r"`amplitude` must be positive"),
])
def test_bad_kernel_arguments(call, message):
    with pytest.raises(FwdModelsError, match=message):
        call()


def _kernel():
    return balloon_kernel("friston2003", "0.1 s", "5 s")


@pytest.mark.parametrize("call, message", [
    (lambda: convolve_hrf(np.zeros((10, 2)), 0.1, _kernel()), r"`dt` must carry a unit"),
    (lambda: convolve_hrf(np.zeros((10, 2)), "0.1 s", _kernel().magnitude),
     r"`kernel` must carry a unit of 1/time"),
    (lambda: convolve_hrf(np.zeros((10, 2)), "0.1 s", ureg.Quantity(np.ones(5), "s")),
     r"`kernel` must have the dimension 1/\[time\]"),
    (lambda: convolve_hrf(np.zeros((10, 2)), "0.1 s", ureg.Quantity(np.ones((5, 3)), "1/s")),
     r"one column per region .*N = 2"),
    (lambda: convolve_hrf(np.zeros((10, 2)), "0.1 s", ureg.Quantity(np.ones((5, 2, 2)), "Hz")),
     r"`kernel` must be 1-D"),
    (lambda: convolve_hrf(np.zeros((10, 2)), "0.1 s", ureg.Quantity([1.0, np.nan], "Hz")),
     r"`kernel` must be finite; found nan at flat index 1"),
    (lambda: convolve_hrf(np.zeros(10), "0.1 s", _kernel()), r"`z` must be 2-D or 3-D"),
    (lambda: convolve_hrf(np.zeros((10, 2)), "0.1 s", _kernel(), tr="0.25 s"),
     r"`tr` must be a whole multiple of dt"),
    (lambda: convolve_hrf(np.zeros((10, 2)), "0.1 s", _kernel(), tr_mode="max"),
     r"`tr_mode` must be one of"),
    (lambda: convolve_hrf(np.zeros((10, 2)), "0.1 s", _kernel(), unit="mV"),
     r"`unit` must be dimensionless"),
])
def test_bad_convolution_arguments(call, message):
    with pytest.raises(FwdModelsError, match=message):
        call()


def test_convolution_does_not_modify_its_input():
    z = np.ones((20, 2))
    before = z.copy()
    convolve_hrf(z, "0.1 s", _kernel())
    np.testing.assert_array_equal(z, before)
    assert convolve_hrf(z, "0.1 s", _kernel(), dtype=np.float32).magnitude.dtype == np.float32
