"""Published Balloon-Windkessel parameter sets.

Each entry of :data:`PRESETS` is a dictionary of :class:`~fwdmodels.BalloonParams` fields;
``BalloonParams.preset(name)`` builds it. Units: kappa and gamma in s^-1, tau and TE in s,
nu0 in Hz, r0 in s^-1; the rest is dimensionless. V0 is a fraction (SPM writes 4 for 4 %).

Sources
-------
``"friston2003"`` (the default)
    Friston, Harrison & Penny (2003), NeuroImage 19:1273, Table 1 priors: kappa 0.65,
    gamma 0.41, tau 0.98, alpha 0.32, rho 0.34, with V0 0.02 and the classic coefficients
    k1 = 7 rho, k2 = 2, k3 = 2 rho - 0.2 of Friston et al. (2000). The same means are SPM's
    ``spm_hdm_priors.m`` (``pE = [0.65 0.41 0.98 0.32 0.34]``).
``"friston2000"``
    Friston, Mechelli, Turner & Price (2000), NeuroImage 12:466: the values they estimated
    from data (the means SPM's ``spm_hdm_priors.m`` takes, whose covariances it labels
    "sample covariances from Friston et al (2000)"), with V0 0.02 and the classic
    coefficients (``spm_gx_hdm.m`` of 2007: ``V0 = 0.02; k1 = 7*E0; k2 = 2;
    k3 = 2*E0 - 0.2``). Numerically the same as ``"friston2003"``, kept under its own name for
    provenance.
``"stephan2007"``
    Stephan, Weiskopf, Drysdale, Robinson & Friston (2007), NeuroImage 38:387: the revised
    nonlinear observation equation (their eq. 12-13) with the 1.5 T constants of Obata et al.
    (2004) as the paper's author coded them in SPM's ``spm_gx_dcm.m``: nu0 = 40.3 Hz,
    r0 = 25 s^-1, TE = 0.04 s, V0 = 0.04, epsilon = 1 (the prior mean, exp(0)). The hemodynamic
    rates are the Friston (2003) priors.
``"stephan2007_3T"``, ``"stephan2007_7T"``
    The same model at 3 T and 7 T: nu0 = 28.265 Hz/T * B0 (84.795 Hz, 197.855 Hz) and r0 = 110
    and 340 s^-1 (Uludag et al. 2009; Heinzle et al. 2016), as coded in
    ``spm_prf_gx.m`` of BayespRF (Zeidman et al. 2018). TE stays 0.04 s; give your own echo
    time with ``BalloonParams.preset("stephan2007_3T", TE="30 ms")``.
``"heinzle2016"``
    Heinzle, Koopmans, den Ouden, Raman & Stephan (2016), NeuroImage 125:556, field-strength
    constants at 3 T (nu0 = 84.795 Hz, r0 = 110 s^-1) with E0 = 0.4 and V0 = 0.04, combined with
    the SPM12 hemodynamic rates, as in ``spm_prf_gx.m`` (above).
``"spm12"``
    SPM12's DCM defaults: ``spm_fx_fmri.m`` ``H = [0.64 0.32 2.00 0.32 0.4]`` (kappa, gamma,
    tau, alpha, E0) and ``spm_gx_fmri.m`` ``TE = 0.04; V0 = 4; r0 = 25; nu0 = 40.3;
    ep = exp(0)``. SPM integrates f, v and q in log space; here they are integrated directly,
    which is the same ODE.

Other codes differ in ways worth knowing: The Virtual Brain's ``BalloonModel`` uses 0.65 and
0.41 as time constants (kappa = 1/0.65 s^-1), which shortens the response; brainmass's
``BOLDSignal`` starts from x = 1 and writes q/rho in the k2 term.
"""

from __future__ import annotations

__all__ = ["PRESETS"]

_FRISTON = dict(kappa=0.65, gamma=0.41, tau=0.98, alpha=0.32, rho=0.34, V0=0.02,
                observation="classic")
_SPM12_RATES = dict(kappa=0.64, gamma=0.32, tau=2.0, alpha=0.32, rho=0.4)
_REVISED_1P5T = dict(observation="revised", V0=0.04, nu0=40.3, r0=25.0, TE=0.04, epsilon=1.0)
_NU0_PER_TESLA = 28.265  # Hz/T

PRESETS: dict[str, dict] = {
    "friston2003": dict(_FRISTON),
    "friston2000": dict(_FRISTON),
    "stephan2007": {**_FRISTON, **_REVISED_1P5T},
    "stephan2007_3T": {**_FRISTON, **_REVISED_1P5T, "nu0": _NU0_PER_TESLA * 3.0, "r0": 110.0},
    "stephan2007_7T": {**_FRISTON, **_REVISED_1P5T, "nu0": _NU0_PER_TESLA * 7.0, "r0": 340.0},
    "heinzle2016": {**_SPM12_RATES, **_REVISED_1P5T, "nu0": _NU0_PER_TESLA * 3.0, "r0": 110.0},
    "spm12": {**_SPM12_RATES, **_REVISED_1P5T},
}
