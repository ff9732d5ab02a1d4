"""Parameters of the Balloon-Windkessel model and their published presets.

The hemodynamic equations (Friston et al. 2000, 2003) are, for each region, with the neural
drive ``z`` held constant over a step::

    dx/dt = z - kappa * x - gamma * (f - 1)          vasodilatory signal, s^-1 (z in s^-2)
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

from .._validation import check_option
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

# Unit of each field that has one (bare floats are read in this unit). gamma multiplies the
# dimensionless (f - 1) in dx/dt, whose unit is that of the drive z, s^-2; tau_f = 1/gamma is
# therefore, strictly, in s^2 -- the seed documentation calls it a time, and a number in
# seconds is read as the reciprocal of gamma's number in s^-2.
_FIELD_UNITS = {"kappa": "1/s", "gamma": "1/s**2", "tau": "s", "nu0": "Hz", "r0": "1/s",
                "TE": "s", "tau_s": "s", "tau_f": "s", "tau_0": "s"}

#: The fields that may hold one value per region (or per batch member and region).
ARRAY_FIELDS = ("kappa", "gamma", "tau", "alpha", "rho", "V0", "nu0", "r0", "epsilon", "TE")


@dataclass(frozen=True, init=False, eq=False)
class BalloonParams:
    """Parameters of the Balloon-Windkessel hemodynamic model (immutable).

    Every number may be given as a float in the unit stated below or as a quantity (pint,
    brainunit, or a string such as ``"0.98 s"``). Each of ``kappa, gamma, tau, alpha, rho, V0``
    and the observation's ``nu0, r0, epsilon, TE`` may also be an array: one value per region,
    shape ``(N,)`` (as DCM estimates them), or ``(B, N)`` for a batch of parameter sets; scalars
    and arrays broadcast against each other and against the regions of the input.
    Arrays are kept as read-only float64 copies.

    The seed documentation's names are accepted as aliases: ``tau_s`` (signal decay time,
    = 1/kappa, s), ``tau_f`` (autoregulation time, = 1/gamma), ``tau_0`` (= tau), ``E_0``
    (= rho) and ``V_0`` (= V0). Beware the seed's *values*: its ``tau_s = 0.8 s`` and
    ``tau_f = 0.4 s`` mean kappa = 1.25 s^-1 and gamma = 2.5 s^-2, a response that peaks near
    1.7 s, where Friston et al. (2003)'s kappa = 0.65, gamma = 0.41 (``tau_s`` = 1.54 s,
    ``tau_f`` = 2.44 s) peak near 3.1 s (see ``tests/test_params.py``).

    Parameters
    ----------
    kappa : float or array_like
        Rate of decay of the vasodilatory signal, in s^-1 (0.65 in Friston et al. 2003).
    gamma : float or array_like
        Rate constant of flow-dependent elimination (autoregulation), in s^-2 (0.41): it
        multiplies the dimensionless ``f - 1`` in ``dx/dt``, whose unit is that of ``z``.
    tau : float or array_like
        Haemodynamic transit time, in seconds (0.98).
    alpha : float or array_like
        Grubb's exponent, dimensionless, 0 < alpha < 1 (0.32).
    rho : float or array_like
        Resting oxygen extraction fraction E0, dimensionless, 0 < rho < 1 (0.34).
    V0 : float or array_like
        Resting venous blood volume fraction, dimensionless (0.02).
    observation : {"classic", "revised", "revised_linear"}
        Which BOLD observation equation to use (see the module documentation).
    nu0 : float or array_like, optional
        Frequency offset at the surface of magnetised vessels, in Hz ("revised" forms only).
    r0 : float or array_like, optional
        Slope of intravascular relaxation rate against oxygen saturation, in s^-1.
    epsilon : float or array_like, optional
        Ratio of intravascular to extravascular signal, dimensionless.
    TE : float or array_like, optional
        Echo time, in seconds.
    coefficients : sequence of 3 floats or arrays, optional
        Explicit ``(k1, k2, k3)`` that replace the ones derived from the other fields.
    name : str
        A label (the preset name) kept in output metadata.

    Notes
    -----
    ``k1``, ``k2`` and ``k3`` are properties derived from the fields above, so changing
    ``rho`` with :meth:`replace` keeps the coefficients consistent with it.
    """

    kappa: float | np.ndarray
    gamma: float | np.ndarray
    tau: float | np.ndarray
    alpha: float | np.ndarray
    rho: float | np.ndarray
    V0: float | np.ndarray
    observation: str
    nu0: float | np.ndarray | None
    r0: float | np.ndarray | None
    epsilon: float | np.ndarray | None
    TE: float | np.ndarray | None
    coefficients: tuple | None
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
            value = _values(value, alias)
            if relation == "reciprocal":
                value = 1.0 / _check_positive(value, alias, " s")
            given[target] = value
        for key, default in self._FRISTON2003.items():
            if given[key] is None:
                given[key] = default

        set_ = lambda key, value: object.__setattr__(self, key, value)  # noqa: E731
        for key in ("kappa", "gamma", "tau"):
            set_(key, _check_positive(_values(given[key], key), key, f" {_FIELD_UNITS[key]}"))
        for key in ("alpha", "rho"):
            set_(key, _check_interval(_values(given[key], key), key, 0.0, 1.0))
        set_("V0", _check_positive(_values(given["V0"], "V0"), "V0"))
        set_("observation", check_option(given["observation"], "observation", OBSERVATIONS))
        for key in ("nu0", "r0", "TE", "epsilon"):
            value = given[key]
            set_(key, None if value is None else _check_positive(_values(value, key), key))
        if self.observation != "classic" and coefficients is None:
            missing = [k for k in ("nu0", "r0", "epsilon", "TE") if getattr(self, k) is None]
            if missing:
                raise FwdModelsError(
                    f"observation={self.observation!r} derives k1, k2, k3 from nu0, r0, epsilon "
                    f"and TE; missing {', '.join(missing)} (or give `coefficients`)")
        if coefficients is not None:
            coefficients = _coefficients(coefficients)
        set_("coefficients", coefficients)
        try:
            _ = self.shape                  # every array field broadcasts against the others
        except ValueError:
            shapes = {k: np.shape(getattr(self, k)) for k in ARRAY_FIELDS
                      if np.ndim(getattr(self, k)) > 0}
            raise FwdModelsError(f"BalloonParams' per-region values must broadcast against each "
                                 f"other; got shapes {shapes}") from None
        set_("name", str(name))

    # ------------------------------------------------------------------ shape and equality
    @property
    def shape(self) -> tuple[int, ...]:
        """Broadcast shape of the per-region values: ``()`` when every value is a scalar."""
        arrays = [getattr(self, k) for k in ARRAY_FIELDS] + list(self.coefficients or ())
        return np.broadcast_shapes(*(np.shape(a) for a in arrays if a is not None))

    def __eq__(self, other) -> bool:
        if not isinstance(other, BalloonParams):
            return NotImplemented
        for field in dataclasses.fields(self):
            mine, theirs = getattr(self, field.name), getattr(other, field.name)
            if field.name == "coefficients" and (mine is None or theirs is None):
                if mine is not theirs:
                    return False
            elif isinstance(mine, str) or mine is None or theirs is None:
                if mine != theirs:
                    return False
            elif field.name == "coefficients":
                if not all(np.array_equal(a, b) for a, b in zip(mine, theirs)):
                    return False
            elif not np.array_equal(mine, theirs):
                return False
        return True

    __hash__ = None

    def member(self, b: int | None) -> "BalloonParams":
        """The parameters of batch member ``b`` (themselves when they have no batch axis or
        ``b`` is None): per-region values of shape ``(B, N)`` become row ``b``."""
        if b is None or len(self.shape) < 2:
            return self
        return self.select(b, self.shape)

    def select(self, index, shape: tuple[int, ...]) -> "BalloonParams":
        """The parameters of the regions ``index`` picks from an input of region shape
        ``shape`` (``(N,)`` or ``(B, N)``): every value broadcast to ``shape``, then indexed;
        scalars stay scalars."""
        def pick(value):
            if value is None or np.ndim(value) == 0:
                return value
            return np.ascontiguousarray(np.broadcast_to(value, shape)[index])

        current = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        for key in ARRAY_FIELDS:
            current[key] = pick(current[key])
        if self.coefficients is not None:
            current["coefficients"] = tuple(pick(c) for c in self.coefficients)
        return BalloonParams(**current)

    def region(self, index) -> "BalloonParams":
        """The scalar parameters of one region (or batch member and region): ``index`` is an
        int or a tuple of ints into :attr:`shape`."""
        shape = self.shape
        pick = lambda value: (None if value is None else  # noqa: E731
                              float(np.broadcast_to(value, shape)[index]))
        changes = {k: pick(getattr(self, k)) for k in ARRAY_FIELDS}
        if self.coefficients is not None:
            changes["coefficients"] = tuple(pick(c) for c in self.coefficients)
        current = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        current.update(changes)
        return BalloonParams(**current)

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

    def bold_coefficients(self) -> tuple:
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

        brainmass calls kappa ``k``; its rates are in s^-1 (gamma in s^-2) and tau in s, with
        the classic observation coefficients. Pass a ``brainmass.BOLDSignal`` as ``model`` to
        read its values (per-region arrays are kept as such), or give the names as keywords.
        """
        if model is not None:
            values = {name: getattr(model, name) for name in ("k", "gamma", "alpha", "tau",
                                                               "rho", "V0")}
        else:
            values = dict(k=k, gamma=gamma, alpha=alpha, tau=tau, rho=rho, V0=V0)
        read = {}
        for name, value in values.items():
            if is_brainunit_quantity(value):
                value = value.mantissa
            array = np.asarray(value, dtype=float)
            # brainmass keeps per-region arrays; one value for all regions becomes a scalar
            read[name] = float(array.flat[0]) if array.size and np.all(array == array.flat[0]) \
                else array
        return cls(kappa=read["k"], gamma=read["gamma"], tau=read["tau"], alpha=read["alpha"],
                   rho=read["rho"], V0=read["V0"], observation="classic", name="brainmass")

    def as_dict(self) -> dict:
        """All fields plus the resolved ``k1, k2, k3`` (for metadata and JSON): scalars as
        floats, per-region values as (nested) lists."""
        plain = lambda value: (value.tolist() if isinstance(value, np.ndarray)  # noqa: E731
                               else value)
        out = {f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self)}
        out["coefficients"] = ([plain(c) for c in self.coefficients] if self.coefficients
                               else None)
        out["k1"], out["k2"], out["k3"] = (plain(c) for c in self.bold_coefficients())
        return out


def _values(value, name: str):
    """A float, or a read-only float64 array of per-region values, from a number, an array or
    a quantity (converted to the field's documented unit)."""
    if isinstance(value, (str,)) or is_brainunit_quantity(value) or hasattr(value, "units"):
        unit = _FIELD_UNITS.get(name, "dimensionless")
        q = as_quantity(value, name)
        try:
            value = q.to(unit).magnitude
        except Exception:
            raise FwdModelsError(f"`{name}` must be in a unit compatible with {unit}; "
                                 f"got {q:~}") from None
    if isinstance(value, bool) or isinstance(value, np.bool_):
        raise FwdModelsError(f"`{name}` must be a real number; got {value!r}")
    try:
        array = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise FwdModelsError(f"`{name}` must be a real number or an array of them; got "
                             f"{value!r}") from None
    if np.asarray(value).dtype.kind == "c":
        raise FwdModelsError(f"`{name}` must be real; got complex values")
    if array.ndim == 0:
        return float(array)
    if array.ndim > 2 or array.size == 0:
        raise FwdModelsError(f"`{name}` must be a scalar, one value per region (N,) or per batch "
                             f"member and region (B, N); got shape {array.shape}")
    array.setflags(write=False)
    return array


def _first_bad(value, ok) -> str:
    """``"x"`` for a scalar, ``"x at index i"`` for the first offending element of an array."""
    if np.ndim(value) == 0:
        return repr(float(value))
    index = np.unravel_index(int(np.argmin(ok)), np.shape(value))
    where = index[0] if len(index) == 1 else index
    return f"{float(np.asarray(value)[index])!r} at index {where}"


def _check_positive(value, name: str, unit: str = ""):
    ok = np.isfinite(value) & (np.asarray(value) > 0)
    if not np.all(ok):
        raise FwdModelsError(f"`{name}` must be positive and finite; got "
                             f"{_first_bad(value, ok)}{unit}")
    return value


def _check_interval(value, name: str, low: float, high: float):
    ok = (np.asarray(value) > low) & (np.asarray(value) < high)
    if not np.all(ok):
        raise FwdModelsError(f"`{name}` must lie strictly between {low} and {high}; got "
                             f"{_first_bad(value, ok)}")
    return value


def _coefficients(coefficients) -> tuple:
    """``(k1, k2, k3)``: three finite numbers or per-region arrays."""
    if isinstance(coefficients, (str, bytes)) or not hasattr(coefficients, "__len__") or \
            len(coefficients) != 3:
        raise FwdModelsError(f"`coefficients` must be three finite numbers (k1, k2, k3); "
                             f"got {coefficients!r}")
    out = tuple(_values(c, "coefficients") for c in coefficients)
    if not all(np.all(np.isfinite(c)) for c in out):
        raise FwdModelsError(f"`coefficients` must be three finite numbers (k1, k2, k3); "
                             f"got {coefficients!r}")
    return out


def resolve_params(params, **overrides) -> BalloonParams:
    """Accept a preset name or a :class:`BalloonParams`, then apply ``overrides``."""
    if isinstance(params, BalloonParams):
        return params.replace(**overrides) if overrides else params
    if isinstance(params, str):
        return BalloonParams.preset(params, **overrides)
    if params is None:
        return BalloonParams.preset("friston2003", **overrides)
    raise FwdModelsError(f"`params` must be a preset name or a BalloonParams; got {params!r}")
