"""Parameters of the Balloon-Windkessel model and their published presets.

The hemodynamic equations (Friston et al. 2000, 2003) are, for each region, with the neural
drive ``z`` held constant over a step::

    dx/dt = z - kappa * x - gamma * (f - 1)          vasodilatory signal, s^-1
    df/dt = x                                        normalised inflow
    tau dv/dt = f - v**(1/alpha)                     normalised venous volume
    tau dq/dt = f * E(f) / rho - v**(1/alpha) * q / v    normalised deoxyhemoglobin
    E(f) = 1 - (1 - rho)**(1/f)                      oxygen extraction at inflow f

and the BOLD signal (a fraction of the resting signal, dimensionless) is one of

* ``"classic"``  (Friston et al. 2000; Buxton et al. 1998)::

      y = V0 * (k1 * (1 - q) + k2 * (1 - q/v) + k3 * (1 - v)),
      k1 = 7 rho,  k2 = 2,  k3 = 2 rho - 0.2

* ``"revised"``  (Stephan et al. 2007, eq. 12; Obata et al. 2004), the same nonlinear form
  with coefficients from the physics of the acquisition::

      k1 = 4.3 nu0 rho TE,  k2 = epsilon r0 rho TE,  k3 = 1 - epsilon

* ``"revised_linear"`` (Stephan et al. 2007, eq. 11): the first-order expansion of the revised
  form about rest, ``y = V0 * ((k1 + k2) * (1 - q) + (k3 - k2) * (1 - v))``.

Here ``nu0`` is the frequency offset at the outer surface of magnetised vessels (Hz) at the
field strength, ``r0`` the slope of the intravascular relaxation rate against oxygen
saturation (s^-1), ``epsilon`` the ratio of intra- to extravascular signal, and ``TE`` the echo
time (s).

References
----------
Buxton, Wong & Frank (1998). Dynamics of blood flow and oxygenation changes during brain
    activation: the balloon model. Magn. Reson. Med. 39:855-864.
Friston, Mechelli, Turner & Price (2000). Nonlinear responses in fMRI: the Balloon model,
    Volterra kernels, and other hemodynamics. NeuroImage 12:466-477.
Friston, Harrison & Penny (2003). Dynamic causal modelling. NeuroImage 19:1273-1302.
Obata et al. (2004). Discrepancies between BOLD and flow dynamics in primary and
    supplementary motor areas. NeuroImage 21:144-153.
Stephan, Weiskopf, Drysdale, Robinson & Friston (2007). Comparing hemodynamic models with
    DCM. NeuroImage 38:387-401.
Heinzle, Koopmans, den Ouden, Raman & Stephan (2016). A hemodynamic model for layered BOLD
    signals. NeuroImage 125:556-570.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .._validation import check_open_interval, check_option, check_positive
from ..errors import FwdModelsError
from ..units import as_quantity, is_brainunit_quantity

__all__ = ["BalloonParams", "OBSERVATIONS", "resolve_params"]

#: The observation equations that :class:`BalloonParams` knows.
OBSERVATIONS = ("classic", "revised", "revised_linear")

# Seed-documentation (brainmass) names -> canonical names and the map between them.
_ALIASES = {
    "tau_s": ("kappa", "reciprocal"),
    "tau_f": ("gamma", "reciprocal"),
    "tau_0": ("tau", "same"),
    "E_0": ("rho", "same"),
    "E0": ("rho", "same"),
    "V_0": ("V0", "same"),
}

# Unit of each field that has one (bare floats are read in this unit).
_FIELD_UNITS = {"kappa": "1/s", "gamma": "1/s", "tau": "s", "nu0": "Hz", "r0": "1/s", "TE": "s",
                "tau_s": "s", "tau_f": "s", "tau_0": "s"}


@dataclass(frozen=True, init=False)
class BalloonParams:
    """Parameters of the Balloon-Windkessel hemodynamic model (immutable).

    Every number may be given as a float in the unit stated below or as a quantity (pint,
    brainunit, or a string such as ``"0.98 s"``). The seed documentation's names are accepted
    as aliases: ``tau_s`` (signal decay time, = 1/kappa, s), ``tau_f`` (autoregulation time,
    = 1/gamma, s), ``tau_0`` (= tau), ``E_0`` (= rho) and ``V_0`` (= V0).

    Parameters
    ----------
    kappa : float
        Rate of decay of the vasodilatory signal, in s^-1 (0.65 in Friston et al. 2003).
    gamma : float
        Rate of flow-dependent elimination (autoregulation), in s^-1 (0.41).
    tau : float
        Haemodynamic transit time, in seconds (0.98).
    alpha : float
        Grubb's exponent, dimensionless, 0 < alpha < 1 (0.32).
    rho : float
        Resting oxygen extraction fraction E0, dimensionless, 0 < rho < 1 (0.34).
    V0 : float
        Resting venous blood volume fraction, dimensionless (0.02).
    observation : {"classic", "revised", "revised_linear"}
        Which BOLD observation equation to use (see the module documentation).
    nu0 : float, optional
        Frequency offset at the surface of magnetised vessels, in Hz ("revised" forms only).
    r0 : float, optional
        Slope of intravascular relaxation rate against oxygen saturation, in s^-1.
    epsilon : float, optional
        Ratio of intravascular to extravascular signal, dimensionless.
    TE : float, optional
        Echo time, in seconds.
    coefficients : tuple of 3 floats, optional
        Explicit ``(k1, k2, k3)`` that replace the ones derived from the other fields.
    name : str
        A label (the preset name) kept in output metadata.

    Notes
    -----
    ``k1``, ``k2`` and ``k3`` are properties derived from the fields above, so changing
    ``rho`` with :meth:`replace` keeps the coefficients consistent with it.
    """

    kappa: float
    gamma: float
    tau: float
    alpha: float
    rho: float
    V0: float
    observation: str
    nu0: float | None
    r0: float | None
    epsilon: float | None
    TE: float | None
    coefficients: tuple[float, float, float] | None
    name: str

    _FRISTON2003: ClassVar[dict] = dict(kappa=0.65, gamma=0.41, tau=0.98, alpha=0.32, rho=0.34,
                                        V0=0.02, observation="classic")

    def __init__(self, kappa=None, gamma=None, tau=None, alpha=None, rho=None, V0=None,
                 observation=None, nu0=None, r0=None, epsilon=None, TE=None,
                 coefficients=None, name="custom", **aliases):
        given = dict(kappa=kappa, gamma=gamma, tau=tau, alpha=alpha, rho=rho, V0=V0,
                     observation=observation, nu0=nu0, r0=r0, epsilon=epsilon, TE=TE)
        for alias, value in aliases.items():
            if alias not in _ALIASES:
                known = ", ".join(sorted([f.name for f in dataclasses.fields(self)] +
                                         list(_ALIASES)))
                raise FwdModelsError(
                    f"BalloonParams got an unknown parameter {alias!r}; known names are {known}")
            target, relation = _ALIASES[alias]
            if given.get(target) is not None:
                raise FwdModelsError(f"BalloonParams got both {alias!r} and {target!r}, which "
                                     f"set the same parameter; give one of them")
            value = _number(value, alias)
            if relation == "reciprocal":
                value = 1.0 / check_positive(value, alias, " s")
            given[target] = value
        for key, default in self._FRISTON2003.items():
            if given[key] is None:
                given[key] = default

        set_ = lambda key, value: object.__setattr__(self, key, value)  # noqa: E731
        for key in ("kappa", "gamma", "tau"):
            set_(key, check_positive(_number(given[key], key), key, f" {_FIELD_UNITS[key]}"))
        set_("alpha", check_open_interval(_number(given["alpha"], "alpha"), "alpha", 0.0, 1.0))
        set_("rho", check_open_interval(_number(given["rho"], "rho"), "rho", 0.0, 1.0))
        set_("V0", check_positive(_number(given["V0"], "V0"), "V0"))
        set_("observation", check_option(given["observation"], "observation", OBSERVATIONS))
        for key in ("nu0", "r0", "TE"):
            value = given[key]
            set_(key, None if value is None else check_positive(_number(value, key), key))
        eps = given["epsilon"]
        set_("epsilon", None if eps is None else check_positive(_number(eps, "epsilon"),
                                                                "epsilon"))
        if self.observation != "classic" and coefficients is None:
            missing = [k for k in ("nu0", "r0", "epsilon", "TE") if getattr(self, k) is None]
            if missing:
                raise FwdModelsError(
                    f"observation={self.observation!r} derives k1, k2, k3 from nu0, r0, epsilon "
                    f"and TE; missing {', '.join(missing)} (or give `coefficients`)")
        if coefficients is not None:
            coeffs = tuple(float(_number(c, "coefficients")) for c in np.ravel(coefficients))
            if len(coeffs) != 3 or not all(np.isfinite(coeffs)):
                raise FwdModelsError(f"`coefficients` must be three finite numbers (k1, k2, k3); "
                                     f"got {coefficients!r}")
            coefficients = coeffs
        set_("coefficients", coefficients)
        set_("name", str(name))

    # ------------------------------------------------------------------ derived quantities
    @property
    def k1(self) -> float:
        """First BOLD coefficient (intravascular, on 1 - q)."""
        return self.bold_coefficients()[0]

    @property
    def k2(self) -> float:
        """Second BOLD coefficient (extravascular concentration, on 1 - q/v)."""
        return self.bold_coefficients()[1]

    @property
    def k3(self) -> float:
        """Third BOLD coefficient (volume, on 1 - v)."""
        return self.bold_coefficients()[2]

    def bold_coefficients(self) -> tuple[float, float, float]:
        """Return ``(k1, k2, k3)`` for this parameter set's observation equation."""
        if self.coefficients is not None:
            return self.coefficients
        if self.observation == "classic":
            return (7.0 * self.rho, 2.0, 2.0 * self.rho - 0.2)
        return (4.3 * self.nu0 * self.rho * self.TE,
                self.epsilon * self.r0 * self.rho * self.TE,
                1.0 - self.epsilon)

    @property
    def tau_s(self) -> float:
        """Signal decay time constant 1/kappa, in seconds (the seed documentation's name)."""
        return 1.0 / self.kappa

    @property
    def tau_f(self) -> float:
        """Autoregulation time constant 1/gamma, in seconds (the seed documentation's name)."""
        return 1.0 / self.gamma

    # ------------------------------------------------------------------ constructors
    def replace(self, **changes) -> "BalloonParams":
        """Return a copy with some fields changed (aliases such as ``tau_s`` accepted)."""
        current = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        for alias, (target, _) in _ALIASES.items():
            if alias in changes:
                current.pop(target, None)
        if "name" not in changes:
            current["name"] = self.name + "+custom" if changes else self.name
        current.update(changes)
        return BalloonParams(**current)

    @classmethod
    def preset(cls, name: str, **overrides) -> "BalloonParams":
        """Return a published parameter set, optionally with some values changed.

        See :data:`PRESETS` in this module for every name and its source.
        """
        from .presets import PRESETS

        check_option(name, "params", PRESETS)
        params = cls(**PRESETS[name], name=name)
        return params.replace(**overrides) if overrides else params

    @classmethod
    def from_brainmass(cls, model=None, *, k=0.65, gamma=0.41, alpha=0.32, tau=0.98, rho=0.34,
                       V0=0.02) -> "BalloonParams":
        """Parameters under brainmass's names (``brainmass.BOLDSignal``), or read from a model.

        brainmass calls kappa ``k``; its rates are in s^-1 and tau in s, with the classic
        observation coefficients. Pass a ``brainmass.BOLDSignal`` as ``model`` to read its
        values (they must be the same for every region), or give the names as keywords.
        """
        if model is not None:
            values = {name: getattr(model, name) for name in ("k", "gamma", "alpha", "tau",
                                                               "rho", "V0")}
        else:
            values = dict(k=k, gamma=gamma, alpha=alpha, tau=tau, rho=rho, V0=V0)
        scalars = {}
        for name, value in values.items():
            if is_brainunit_quantity(value):
                value = value.mantissa
            array = np.unique(np.asarray(value, dtype=float))
            if array.size != 1:
                raise FwdModelsError(f"`{name}` must be one value for all regions; got "
                                     f"{array.size} different values")
            scalars[name] = float(array[0])
        return cls(kappa=scalars["k"], gamma=scalars["gamma"], tau=scalars["tau"],
                   alpha=scalars["alpha"], rho=scalars["rho"], V0=scalars["V0"],
                   observation="classic", name="brainmass")

    def as_dict(self) -> dict:
        """All fields plus the resolved ``k1, k2, k3`` (for metadata and JSON)."""
        out = dataclasses.asdict(self)
        out["coefficients"] = list(self.coefficients) if self.coefficients else None
        out["k1"], out["k2"], out["k3"] = self.bold_coefficients()
        return out


def _number(value, name: str) -> float:
    """A float from a number or a quantity (converted to the field's documented unit)."""
    if isinstance(value, (str,)) or is_brainunit_quantity(value) or hasattr(value, "units"):
        unit = _FIELD_UNITS.get(name, "dimensionless")
        q = as_quantity(value, name)
        try:
            return float(q.to(unit).magnitude)
        except Exception:
            raise FwdModelsError(f"`{name}` must be in a unit compatible with {unit}; "
                                 f"got {q:~}") from None
    if isinstance(value, bool):
        raise FwdModelsError(f"`{name}` must be a real number; got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise FwdModelsError(f"`{name}` must be a real number; got {value!r}") from None


def resolve_params(params, **overrides) -> BalloonParams:
    """Accept a preset name or a :class:`BalloonParams`, then apply ``overrides``."""
    if isinstance(params, BalloonParams):
        return params.replace(**overrides) if overrides else params
    if isinstance(params, str):
        return BalloonParams.preset(params, **overrides)
    if params is None:
        return BalloonParams.preset("friston2003", **overrides)
    raise FwdModelsError(f"`params` must be a preset name or a BalloonParams; got {params!r}")
