"""Published Balloon-Windkessel parameter sets, each equal to the code it cites.

Each entry of :data:`PRESETS` is a dictionary of :class:`~fwdmodels.BalloonParams` fields;
``BalloonParams.preset(name)`` builds it. Units: kappa in s^-1, gamma in s^-2, tau and TE in s,
nu0 in Hz, r0 in s^-1; the rest is dimensionless. V0 is a fraction (SPM writes 4 for 4 %).

Every preset is one released piece of code, at its parameters' prior means (log-scaled
parameters at exp(0) = 1 times their fixed values), cited by repository, commit, file and
line, and ``tests/test_presets.py`` compares each with its own transcription of those lines.
The two that combine sources say so. SPM integrates f, v and q (and from 2007 on s) in log
space; here they are integrated directly, which is the same ODE.

Sources
-------
``"friston2000"``
    SPM's hemodynamic model (HDM) as released with Friston, Mechelli, Turner & Price (2000),
    NeuroImage 12:466 -- github.com/spm/spm at commit 16d6b56c6 (2000-10-04):
    ``spm_hdm_ui.m`` line 119, ``M.pE = [0.65 0.41 0.98 0.32 0.34 ...]`` (kappa, gamma, tau,
    alpha, E0 = rho); ``spm_lambda_HRF.m`` lines 17-24, ``V0 = 0.02; E0 = P(5);
    k1 = 7*E0; k2 = 2; k3 = 2*E0 - 0.2`` (classic coefficients, one E0 for the state and the
    observation, ``spm_fx_HRF.m`` line 37).
``"friston2003"`` (the default)
    SPM2's dynamic causal model of Friston, Harrison & Penny (2003), NeuroImage 19:1273 --
    github.com/spm/spm at commit 42f2790aa (2003-02-18): ``spm_hdm_priors.m`` line 32,
    ``pE = [0.65 0.41 0.98 0.32 0.34]``; ``spm_lx_dcm.m`` lines 17-24,
    ``V0 = 100*0.02; E0 = 0.34; k1 = 7*E0; k2 = 2; k3 = 2*E0 - 0.2`` (V0 in per cent: 0.02
    here). Numerically the same as ``"friston2000"``.
``"stephan2007"``
    The revised observation equation of Stephan, Weiskopf, Drysdale, Robinson & Friston
    (2007), NeuroImage 38:387, eq. 12, as its authors committed it to SPM5 the week the paper
    was accepted -- github.com/spm/spm at commit 0902545b2 (2007-08-09, SPM r880):
    ``spm_gx_dcm.m`` line 30 ``TE = 0.04``, 33 ``V0 = 100*0.04``, 36 ``r0 = 25``, 38
    ``nu0 = 40.3``, 46 ``E0 = H(:,5)``, 50 ``epsilon = exp(H(:,6))``, 54-56
    ``k1 = 4.3*nu0*E0*TE; k2 = epsilon*r0*E0*TE; k3 = 1 - epsilon``; the state equation
    ``spm_fx_dcm.m`` lines 65-78 with the same ``H(:,5)``; the priors ``spm_hdm_priors.m``
    line 39 ``pE = [0.65 0.41 0.98 0.32 0.34]`` and line 60 (log epsilon 0, epsilon = 1).
    So E0 = **0.34** (the estimated E0 at its prior mean, the same in the state and the
    observation equation), not the fixed 0.4 that SPM8's DCM10 introduced later.
``"stephan2007_3T"``, ``"stephan2007_7T"`` (mixed sources)
    ``"stephan2007"`` (above) with the field-strength constants of BayespRF (Zeidman et al.
    2018) -- github.com/pzeidman/BayespRF at commit b65c47d, ``toolbox/spm_prf_gx.m`` lines
    53-69: ``nu0 = 28.265 * B0`` Hz (84.795 Hz at 3 T, 197.855 Hz at 7 T) and ``r0 = 110``,
    ``340`` s^-1 (Uludag et al. 2009; Heinzle et al. 2016). Everything else is the 2007 code:
    E0 0.34, epsilon 1 (BayespRF's field-dependent epsilon is *not* used; ``"heinzle2016"``
    is BayespRF throughout), TE 0.04 s. Give your own echo time with
    ``BalloonParams.preset("stephan2007_3T", TE="30 ms")``.
``"heinzle2016"``
    BayespRF at 3 T (its default field strength), the code that applies Heinzle, Koopmans,
    den Ouden, Raman & Stephan (2016), NeuroImage 125:556 -- github.com/pzeidman/BayespRF at
    commit b65c47d (files unchanged since 2b45b39, 2016-12-01):

    * state equation, ``toolbox/spm_prf_fx.m`` line 45: ``H = [0.64 0.32 2.00 0.32 0.32]``
      (kappa, gamma, tau, alpha, E0), so **rho = 0.32** in ``E(f)/rho`` of dq/dt;
    * observation, ``toolbox/spm_prf_gx.m`` line 38 ``TE = 0.04`` (default), 42 ``V0 = 4``,
      48 ``ep = exp(P.epsilon)``, 55 ``r0 = 110``, 68 ``nu0 = 28.265 * B0``, 73 **E0 = 0.4**,
      77-79 ``k1 = 4.3*nu0*E0*TE; k2 = ep*r0*E0*TE; k3 = 1 - ep``;
    * priors, ``toolbox/spm_prf_analyse.m`` line 249 (``B0 = 3``), 628-629 (log decay and
      transit 0) and 642 (``pE.epsilon = -0.78`` at 3 T): **epsilon = exp(-0.78)** = 0.4584.

    The state equation and the observation use different E0 (0.32 and 0.4): BayespRF copied
    ``H`` from SPM8's ``spm_fx_fmri.m``, which SPM changed to 0.4 in 2014 "to make it
    consistent with spm_gx_fmri" (github.com/spm/spm commit 30c74e696). ``rho`` is the state
    equation's E0, and the coefficients are given explicitly (``coefficients``), computed
    from the observation's E0 = 0.4; they do **not** follow a later change of ``TE``,
    ``nu0``, ``r0``, ``epsilon`` or ``rho``. For another echo time, give the coefficients:
    ``BalloonParams.preset("heinzle2016", TE=te, coefficients=heinzle2016_coefficients(te))``.
``"spm12"``
    SPM12's DCM for fMRI -- github.com/spm/spm12 at commit 3085dac (SPM12 r7771):
    ``spm_fx_fmri.m`` line 176 ``H = [0.64 0.32 2.00 0.32 0.4]`` (kappa, gamma, tau, alpha,
    E0); ``spm_gx_fmri.m`` lines 26 ``TE = 0.04``, 30 ``V0 = 4``, 34 ``ep = exp(P.epsilon)``,
    39 ``r0 = 25``, 43 ``nu0 = 40.3``, 47 ``E0 = 0.4``, 51-53 (k1, k2, k3 as above);
    ``spm_dcm_fmri_priors.m`` lines 126-128 (log transit, decay and epsilon 0).

Other codes differ in ways worth knowing: The Virtual Brain's ``BalloonModel`` uses 0.65 and
0.41 as time constants (kappa = 1/0.65 s^-1), which shortens the response; brainmass's
``BOLDSignal`` starts from x = 1 and writes q/rho in the k2 term.
"""

from __future__ import annotations

import math

from ..errors import FwdModelsError

__all__ = ["PRESETS", "heinzle2016_coefficients"]

_NU0_PER_TESLA = 28.265  # Hz/T, BayespRF spm_prf_gx.m line 68

# friston2000 / friston2003: SPM 2000 HDM and SPM2 DCM (rates, alpha, E0; classic observation)
_FRISTON = dict(kappa=0.65, gamma=0.41, tau=0.98, alpha=0.32, rho=0.34, V0=0.02,
                observation="classic")
# stephan2007: SPM5 r880, the revised observation at 1.5 T with the priors' E0 and epsilon
_STEPHAN2007 = {**_FRISTON, "V0": 0.04, "observation": "revised", "nu0": 40.3, "r0": 25.0,
                "TE": 0.04, "epsilon": 1.0}

# heinzle2016: BayespRF at 3 T (spm_prf_fx.m, spm_prf_gx.m, spm_prf_analyse.m)
_HEINZLE_B0 = 3.0                      # spm_prf_analyse.m line 249
_HEINZLE_NU0 = _NU0_PER_TESLA * _HEINZLE_B0
_HEINZLE_R0 = 110.0                    # spm_prf_gx.m line 55
_HEINZLE_EPSILON = math.exp(-0.78)     # spm_prf_analyse.m line 642, spm_prf_gx.m line 48
_HEINZLE_E0_OBSERVATION = 0.4          # spm_prf_gx.m line 73
_HEINZLE_E0_STATE = 0.32               # spm_prf_fx.m line 45, H(5)


def heinzle2016_coefficients(TE=0.04) -> tuple[float, float, float]:
    """BayespRF's BOLD coefficients ``(k1, k2, k3)`` at 3 T for the echo time ``TE``.

    ``k1 = 4.3 nu0 E0 TE``, ``k2 = epsilon r0 E0 TE``, ``k3 = 1 - epsilon`` with the
    observation's own E0 = 0.4, nu0 = 84.795 Hz, r0 = 110 s^-1 and epsilon = exp(-0.78)
    (``spm_prf_gx.m`` lines 77-79; see the module documentation). ``TE`` is a time with its
    unit (``"30 ms"``) or, as for :class:`~fwdmodels.BalloonParams`, a number in seconds.
    """
    if isinstance(TE, (int, float)) and not isinstance(TE, bool):
        te = float(TE)
    else:
        from ..units import to_si
        te = to_si(TE, "TE", "[time]")
    if not (isinstance(te, float) and math.isfinite(te) and te > 0):
        raise FwdModelsError(f"`TE` must be one positive, finite echo time; got {TE!r}")
    e0 = _HEINZLE_E0_OBSERVATION
    return (4.3 * _HEINZLE_NU0 * e0 * te, _HEINZLE_EPSILON * _HEINZLE_R0 * e0 * te,
            1.0 - _HEINZLE_EPSILON)


PRESETS: dict[str, dict] = {
    "friston2003": dict(_FRISTON),
    "friston2000": dict(_FRISTON),
    "stephan2007": dict(_STEPHAN2007),
    "stephan2007_3T": {**_STEPHAN2007, "nu0": _NU0_PER_TESLA * 3.0, "r0": 110.0},
    "stephan2007_7T": {**_STEPHAN2007, "nu0": _NU0_PER_TESLA * 7.0, "r0": 340.0},
    "heinzle2016": dict(kappa=0.64, gamma=0.32, tau=2.0, alpha=0.32, rho=_HEINZLE_E0_STATE,
                        V0=0.04, observation="revised", nu0=_HEINZLE_NU0, r0=_HEINZLE_R0,
                        epsilon=_HEINZLE_EPSILON, TE=0.04,
                        coefficients=heinzle2016_coefficients(0.04)),
    "spm12": dict(kappa=0.64, gamma=0.32, tau=2.0, alpha=0.32, rho=0.4, V0=0.04,
                  observation="revised", nu0=40.3, r0=25.0, TE=0.04, epsilon=1.0),
}
