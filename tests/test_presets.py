"""Each preset equals the released code it cites (fwdmodels/hemodynamics/presets.py).

The expected values are transcribed here, by hand, from the cited lines: they are not read
from fwdmodels. A dynamic check integrates SPM's own log-space state equation and revised
output (tests/naive.py) and compares it with simulate_bold for the presets whose source has
that form.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.integrate

import naive
from fwdmodels.errors import FwdModelsError
from fwdmodels.hemodynamics import PRESETS, BalloonParams, simulate_bold
from fwdmodels.hemodynamics.presets import heinzle2016_coefficients

# ---------------------------------------------------------------------- transcriptions
# Each: the state equation's (kappa, gamma, tau, alpha, E0), V0 as a fraction, and the
# observation: ("classic", E0) or ("revised", E0, nu0, r0, TE, epsilon).

# github.com/spm/spm 16d6b56c6 (2000-10-04): spm_hdm_ui.m:119
#   M.pE = [0.65 0.41 0.98 0.32 0.34 ...]; spm_lambda_HRF.m:17-24 V0 = 0.02; E0 = P(5);
#   k1 = 7*E0; k2 = 2; k3 = 2*E0 - 0.2
FRISTON2000 = dict(H=(0.65, 0.41, 0.98, 0.32, 0.34), V0=0.02, observation=("classic", 0.34))
# github.com/spm/spm 42f2790aa (2003-02-18): spm_hdm_priors.m:32
#   pE = [0.65 0.41 0.98 0.32 0.34]; spm_lx_dcm.m:17-24 V0 = 100*0.02; E0 = 0.34; k1 = 7*E0...
FRISTON2003 = dict(H=(0.65, 0.41, 0.98, 0.32, 0.34), V0=100 * 0.02 / 100,
                   observation=("classic", 0.34))
# github.com/spm/spm 0902545b2 (2007-08-09, r880): spm_hdm_priors.m:39 pE = [0.65 0.41 0.98
#   0.32 0.34], :60 log epsilon 0; spm_gx_dcm.m:30 TE = 0.04, :33 V0 = 100*0.04, :36 r0 = 25,
#   :38 nu0 = 40.3, :46 E0 = H(:,5), :50 epsilon = exp(H(:,6))
STEPHAN2007 = dict(H=(0.65, 0.41, 0.98, 0.32, 0.34), V0=100 * 0.04 / 100,
                   observation=("revised", 0.34, 40.3, 25.0, 0.04, math.exp(0.0)))
# stephan2007 with github.com/pzeidman/BayespRF b65c47d toolbox/spm_prf_gx.m:53-69
#   r0 = 110 (B0 = 3), 340 (B0 = 7); nu0 = 28.265 * B0   (documented as a mix)
STEPHAN2007_3T = dict(H=STEPHAN2007["H"], V0=0.04,
                      observation=("revised", 0.34, 28.265 * 3, 110.0, 0.04, 1.0))
STEPHAN2007_7T = dict(H=STEPHAN2007["H"], V0=0.04,
                      observation=("revised", 0.34, 28.265 * 7, 340.0, 0.04, 1.0))
# github.com/pzeidman/BayespRF b65c47d: toolbox/spm_prf_fx.m:45 H = [0.64 0.32 2.00 0.32 0.32];
#   toolbox/spm_prf_gx.m:38 TE = 0.04, :42 V0 = 4, :48 ep = 1*exp(P.epsilon), :55 r0 = 110,
#   :68 nu0 = 28.265 * B0, :73 E0 = 0.4; toolbox/spm_prf_analyse.m:249 B0 = 3,
#   :628-629 pE.transit = pE.decay = 0, :642 pE.epsilon = -0.78
HEINZLE2016 = dict(H=(0.64, 0.32, 2.00, 0.32, 0.32), V0=4 / 100,
                   observation=("revised", 0.4, 28.265 * 3, 110.0, 0.04, math.exp(-0.78)))
# github.com/spm/spm12 3085dac (r7771): spm_fx_fmri.m:176 H = [0.64 0.32 2.00 0.32 0.4];
#   spm_gx_fmri.m:26 TE = 0.04, :30 V0 = 4, :34 ep = exp(P.epsilon), :39 r0 = 25,
#   :43 nu0 = 40.3, :47 E0 = 0.4; spm_dcm_fmri_priors.m:126-128 log transit/decay/epsilon 0
SPM12 = dict(H=(0.64, 0.32, 2.00, 0.32, 0.4), V0=4 / 100,
             observation=("revised", 0.4, 40.3, 25.0, 0.04, math.exp(0.0)))

SOURCES = {"friston2000": FRISTON2000, "friston2003": FRISTON2003, "stephan2007": STEPHAN2007,
           "stephan2007_3T": STEPHAN2007_3T, "stephan2007_7T": STEPHAN2007_7T,
           "heinzle2016": HEINZLE2016, "spm12": SPM12}


def test_every_preset_has_a_transcribed_source():
    assert set(SOURCES) == set(PRESETS)


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_preset_equals_its_source(name):
    source = SOURCES[name]
    p = BalloonParams.preset(name)
    kappa, gamma, tau, alpha, e0_state = source["H"]
    assert (p.kappa, p.gamma, p.tau, p.alpha) == pytest.approx((kappa, gamma, tau, alpha),
                                                               rel=1e-15)
    assert p.rho == pytest.approx(e0_state, rel=1e-15)    # E0 of the state equation
    assert p.V0 == pytest.approx(source["V0"], rel=1e-15)
    observation = source["observation"]
    assert p.observation == observation[0]
    assert p.bold_coefficients() == pytest.approx(naive.bold_coefficients(*observation), rel=1e-14)
    if observation[0] == "revised":
        _, _, nu0, r0, te, eps = observation
        assert (p.nu0, p.r0, p.TE, p.epsilon) == pytest.approx((nu0, r0, te, eps), rel=1e-14)


def test_heinzle2016_uses_two_oxygen_extractions_as_bayesprf_does():
    # The state equation's E0 (0.32) is not the observation's (0.4): one rho cannot give both.
    p = BalloonParams.preset("heinzle2016")
    assert p.rho == 0.32
    assert p.k1 == pytest.approx(4.3 * 84.795 * 0.4 * 0.04, rel=1e-14)
    assert p.k1 != pytest.approx(4.3 * 84.795 * p.rho * 0.04, rel=1e-3)


def test_heinzle2016_coefficients_at_another_echo_time():
    te = 0.028
    expected = naive.bold_coefficients("revised", 0.4, 28.265 * 3, 110.0, te, math.exp(-0.78))
    assert heinzle2016_coefficients(te) == pytest.approx(expected, rel=1e-14)
    assert heinzle2016_coefficients("28 ms") == pytest.approx(expected, rel=1e-14)
    p = BalloonParams.preset("heinzle2016", TE="28 ms", coefficients=heinzle2016_coefficients(te))
    assert p.bold_coefficients() == pytest.approx(expected, rel=1e-14)
    for bad in (-0.03, float("nan"), "3 m"):
        with pytest.raises(FwdModelsError, match="`TE`"):
            heinzle2016_coefficients(bad)


def _spm_bold(source, z_block, t_on, t_end, dt):
    """BOLD fraction at t = (n + 1) dt from SPM's log-space equations (naive.py), solve_ivp."""
    H = source["H"]
    _, e0, nu0, r0, te, eps = source["observation"]
    times = (np.arange(int(round(t_end / dt))) + 1) * dt
    state, out = np.zeros(4), []
    for z, (a, b) in ((z_block, (0.0, t_on)), (0.0, (t_on, t_end))):
        keep = times[(times > a + 1e-9) & (times < b - 1e-9)]
        sol = scipy.integrate.solve_ivp(lambda t, y, z=z: naive.spm_log_balloon_rhs(y, z, H),
                                        (a, b), state, t_eval=np.append(keep, b),
                                        method="DOP853", rtol=1e-11, atol=1e-13)
        out += [naive.spm_revised_bold(lv, lq, 100 * source["V0"], e0, nu0, r0, te, eps) / 100
                for lv, lq in zip(sol.y[2], sol.y[3])]   # the points of keep, then b
        state = sol.y[:, -1]
    return np.array(out)


@pytest.mark.parametrize("name", ["heinzle2016", "spm12", "stephan2007"])
def test_simulated_response_matches_the_sources_equations(name):
    # A 2-s block of z = 0.5, then rest, 30 s at dt = 0.1 s: the whole nonlinear response.
    dt, t_on, t_end = 0.1, 2.0, 30.0
    expected = _spm_bold(SOURCES[name], 0.5, t_on, t_end, dt)
    z = np.zeros((expected.size, 1))
    z[:int(round(t_on / dt))] = 0.5
    bold = simulate_bold(z, f"{dt} s", params=name, method="reference").magnitude[:, 0]
    np.testing.assert_allclose(bold, expected, rtol=0, atol=1e-7 * np.abs(expected).max())
