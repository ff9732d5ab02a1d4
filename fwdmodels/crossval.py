r"""Cross-validation against the JAX implementation (brainmass): compare, then diagnose.

:func:`compare` puts two results side by side, quantity by quantity, and returns a
:class:`Report`: the largest absolute and relative error, where the first sample out of
tolerance is (time index, channel), and pass or fail. ``print(report)`` shows a text table;
``report.as_dict()`` is JSON-serialisable.

When the two disagree, :func:`diagnose_bold`, :func:`diagnose_leadfield` and
:func:`diagnose_noise` recompute fwdmodels' output under each known cause of disagreement
(and, for BOLD, under combinations of them) and name the one that brings agreement:

* BOLD: ``q/rho`` in place of ``q/v`` in the k2 term of the observation (brainmass's
  ``bold()``); a start from x = f = v = q = 1 (brainmass's initial state) instead of rest, or
  the reverse; kappa and gamma inverted (1/0.65 s^-1, 1/0.41 s^-1); a time step off by a factor
  of 1000 or 10 (dt in ms read as s); another integration scheme.
* Lead fields: a power-of-ten unit factor (V against mV, T against fT, brainmass's fixed
  1 nA·m/mV scale applied to a bare input); a transposed lead field (square L), or an
  ``(M, R)`` lead field reshaped to ``(R, M)`` instead of transposed.
* Noise: drawn as ``z·Lc`` (covariance ``Lcᵀ·Lc``, brainmass) instead of ``z·Lcᵀ`` (``C``),
  judged from the sample covariance of noise-only outputs.

Inputs may be NumPy or JAX arrays, pint or brainunit Quantities (converted to the reference's
unit), dicts of them, ``.npz`` files opened with :func:`numpy.load`, or the ``(bold, states)``
pair that ``simulate_bold(..., return_states=True)`` returns.

Tolerances: a sample agrees when ``|candidate - reference| <= atol + rtol * |reference|``.
By default ``rtol`` is 1e-9 when both sides are float64 and 1e-4 when either is float32, and
``atol`` is ``rtol`` times the largest magnitude of that quantity in the reference, so that a
signal that crosses zero (BOLD) is not failed on its zero crossings. An explicit ``atol`` is
in the reference's unit (a Quantity is converted to it).

The command ``fwdmodels crossval bold|eeg|meg ...`` (:func:`add_parser`, :func:`run`) prints
the report and exits 0 when the two agree, 1 when they do not.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pint

from .errors import DomainError, FwdModelsError
from .units import from_brainunit, is_brainunit_quantity, parse_unit, ureg

__all__ = ["compare", "Report", "Row", "Diagnosis", "Trial", "diagnose_bold",
           "diagnose_leadfield", "diagnose_noise", "brainmass_bold", "add_parser", "run"]

STATE_NAMES = ("x", "f", "v", "q")


# ====================================================================== reading the inputs
def _is_quantity(obj) -> bool:
    return isinstance(obj, pint.Quantity) or is_brainunit_quantity(obj)


def _named(obj, names, side: str) -> dict:
    """``{name: value}`` from a dict, an npz file, a (bold, states) pair or a single array."""
    if isinstance(obj, tuple) and len(obj) == 2 and isinstance(obj[1], Mapping):
        return {"bold": obj[0], **obj[1]}
    if isinstance(obj, Mapping) or isinstance(obj, np.lib.npyio.NpzFile):
        return {str(k): obj[k] for k in obj.keys()}
    if isinstance(names, str):
        return {names: obj}
    if names is not None and len(names) == 1:
        return {names[0]: obj}
    if names is not None:
        raise FwdModelsError(f"`names` lists {len(names)} quantities but the {side} is a single "
                             f"array; pass a dict of arrays or one name")
    return {"value": obj}


def _split(value, name: str):
    """(float64 array, pint unit or None, original dtype) of one quantity."""
    unit = None
    if is_brainunit_quantity(value):
        value = from_brainunit(value)
    if isinstance(value, pint.Quantity):
        unit = value.units
        value = value.magnitude
    try:
        array = np.asarray(value)
    except Exception as exc:
        raise FwdModelsError(f"`{name}` must be an array of numbers; got "
                             f"{type(value).__name__} ({exc})") from None
    if array.dtype.kind not in "biuf":
        raise FwdModelsError(f"`{name}` must hold real numbers; got dtype {array.dtype}")
    dtype = array.dtype if array.dtype.kind == "f" else np.dtype(np.float64)
    return array.astype(np.float64), unit, dtype


def _align(name, ref, cand):
    """Both magnitudes in the reference's unit; return (r, c, unit, note)."""
    r, ur, _ = ref
    c, uc, _ = cand
    note = ""
    if ur is not None and uc is not None:
        if ur != uc:
            try:
                c = (c * ureg.Quantity(1.0, uc)).to(ur).magnitude
            except pint.DimensionalityError:
                raise FwdModelsError(
                    f"`{name}`: the reference is in {ur:~} and the candidate in {uc:~}, which "
                    f"have different dimensions") from None
        unit = ur
    elif ur is not None or uc is not None:
        unit = ur if ur is not None else uc
        if not unit.dimensionless:
            note = f"{'candidate' if ur is not None else 'reference'} is a bare array, read in " \
                   f"{unit:~}"
    else:
        unit = None
    if r.shape != c.shape:
        hint = ""
        if r.ndim == 2 and r.shape == c.shape[::-1]:
            hint = "; the reference looks transposed (time must be the first axis)"
        raise FwdModelsError(f"`{name}`: the reference has shape {r.shape} and the candidate "
                             f"{c.shape}; they must be equal{hint}")
    return r, np.asarray(c, dtype=np.float64), unit, note


def default_rtol(*dtypes) -> float:
    """1e-9 when every array is float64, 1e-4 when one is float32 (or narrower)."""
    return 1e-9 if all(np.dtype(d).itemsize >= 8 for d in dtypes) else 1e-4


def _tolerance(value, name: str, unit, kind: str):
    if isinstance(value, Mapping):
        value = value.get(name)
    if value is None:
        return None
    if _is_quantity(value):
        q = from_brainunit(value) if is_brainunit_quantity(value) else value
        if kind == "rtol":
            return float(q.to("dimensionless").magnitude)
        try:
            return float(q.to(unit if unit is not None else "dimensionless").magnitude)
        except pint.DimensionalityError:
            raise FwdModelsError(f"`atol` for {name!r} must be in a unit compatible with "
                                 f"{unit:~}; got {q:~}") from None
    number = float(value)
    if not (number >= 0 and math.isfinite(number)):
        raise FwdModelsError(f"`{kind}` must be a non-negative number; got {value!r}")
    return number


# ====================================================================== the report
def _axis_labels(ndim: int) -> tuple[str, ...]:
    return {0: (), 1: ("channel",), 2: ("time", "channel"),
            3: ("batch", "time", "channel")}.get(ndim, tuple(f"axis{i}" for i in range(ndim)))


def _jsonable(value):
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _fmt(x: float) -> str:
    return f"{x:.3g}" if math.isfinite(x) and x != 0 else str(x) if x != 0 else "0"


def _where(index: dict | None) -> str:
    if index is None:
        return "-"
    short = {"time": "t", "channel": "ch"}
    return ", ".join(f"{short.get(k, k)}={v}" for k, v in index.items())


@dataclass
class Row:
    """The comparison of one quantity.

    ``first_failure`` and ``worst`` are dicts of axis name to index (``time``, ``channel``,
    and ``batch`` for a batch); time index ``n`` is the row of the arrays compared.
    """

    name: str
    unit: str
    shape: tuple
    max_abs: float
    max_rel: float
    worst: dict | None
    first_failure: dict | None
    n_failed: int
    rtol: float
    atol: float
    passed: bool
    note: str = ""
    criterion: str = ""     # replaces "rtol, atol" when the test is of another kind

    def as_dict(self) -> dict:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["shape"] = list(self.shape)
        return _jsonable(out)


@dataclass
class Trial:
    """One hypothesis tried by a diagnosis, and how close it brought the two."""

    name: str
    description: str
    passed: bool
    max_abs: float
    max_rel: float
    note: str = ""


@dataclass
class Diagnosis:
    """The known causes tried on a disagreement, and the one that explains it (if any)."""

    subject: str
    trials: list[Trial]
    explanation: Trial | None
    alternatives: list[Trial] = field(default_factory=list)

    @property
    def explained(self) -> bool:
        return self.explanation is not None

    def as_dict(self) -> dict:
        return _jsonable({
            "subject": self.subject, "explained": self.explained,
            "explanation": None if self.explanation is None else self.explanation.__dict__,
            "alternatives": [t.__dict__ for t in self.alternatives],
            "trials": [t.__dict__ for t in self.trials]})

    def __str__(self) -> str:
        lines = [f"Diagnosis ({self.subject}):"]
        if self.explanation is not None:
            lines.append(f"  explained by: {self.explanation.description}")
            for alt in self.alternatives:
                lines.append(f"  (equally explained by: {alt.description})")
        else:
            best = min(self.trials, key=lambda t: (t.max_rel, t.max_abs), default=None)
            lines.append("  no known cause explains the difference"
                         + (f"; closest: {best.name} (max rel {_fmt(best.max_rel)})"
                            if best is not None else ""))
        width = max([len(t.name) for t in self.trials] + [10])
        lines.append(f"  {'hypothesis':<{width}}  {'max |Δ|':>9}  {'max rel':>9}  result")
        # Every single cause is listed; of the combinations, only those that agree.
        shown = [t for t in self.trials if " + " not in t.name or t.passed]
        for t in shown:
            verdict = "agrees" if t.passed else "differs"
            lines.append(f"  {t.name:<{width}}  {_fmt(t.max_abs):>9}  {_fmt(t.max_rel):>9}  "
                         f"{verdict}{'  (' + t.note + ')' if t.note else ''}")
        hidden = len(self.trials) - len(shown)
        if hidden:
            lines.append(f"  (and {hidden} combinations of these causes that do not agree)")
        return "\n".join(lines)


@dataclass
class Report:
    """Result of :func:`compare`: one :class:`Row` per quantity, and diagnoses if any.

    ``bool(report)`` and ``report.passed`` are True when every quantity is within tolerance.
    """

    rows: list[Row]
    title: str = "reference vs candidate"
    diagnoses: list[Diagnosis] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.rows)

    def __bool__(self) -> bool:
        return self.passed

    def __getitem__(self, name: str) -> Row:
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(name)

    @property
    def explanations(self) -> list[str]:
        """Names of the causes that the diagnoses found (empty when none or not diagnosed)."""
        return [d.explanation.name for d in self.diagnoses if d.explanation is not None]

    def as_dict(self) -> dict:
        return {"title": self.title, "passed": self.passed,
                "quantities": [r.as_dict() for r in self.rows],
                "diagnoses": [d.as_dict() for d in self.diagnoses]}

    def __str__(self) -> str:
        head = ("quantity", "unit", "shape", "max |Δ|", "max rel", "worst at",
                "first out of tol.", "result")
        body = []
        for r in self.rows:
            body.append((r.name, r.unit or "-", "x".join(map(str, r.shape)) or "scalar",
                         _fmt(r.max_abs), _fmt(r.max_rel), _where(r.worst),
                         _where(r.first_failure), "ok" if r.passed else f"FAIL ({r.n_failed})"))
        widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h)
                  for i, h in enumerate(head)]
        fmt = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa
        lines = [f"Cross-check: {self.title}", fmt(head), fmt(["-" * w for w in widths])]
        lines += [fmt(b) for b in body]
        plain = [r for r in self.rows if not r.criterion]
        rtols = {r.rtol for r in plain}
        if len(rtols) == 1:
            text = f"rtol={rtols.pop():.3g}; atol: " + ", ".join(
                f"{r.name} {r.atol:.3g}" for r in plain)
        else:
            text = "; ".join(f"{r.name}: rtol={r.rtol:.3g}, atol={r.atol:.3g}" for r in plain)
        text = "; ".join(([text] if plain else []) +
                         [f"{r.name}: {r.criterion}" for r in self.rows if r.criterion])
        lines.append(f"tolerance |Δ| <= atol + rtol·|ref|: {text}")
        notes = {r.note for r in self.rows if r.note}
        if len(notes) == 1 and all(r.note for r in self.rows) and len(self.rows) > 1:
            lines.append(f"note (all): {notes.pop()}")
        else:
            lines += [f"note ({r.name}): {r.note}" for r in self.rows if r.note]
        n_bad = sum(not r.passed for r in self.rows)
        lines.append("AGREE: every quantity is within tolerance" if self.passed else
                     f"DISAGREE: {n_bad} of {len(self.rows)} quantities out of tolerance")
        for d in self.diagnoses:
            lines.append(str(d))
        return "\n".join(lines)


def _row(name, r, c, unit, note, rtol, atol, rdtype, cdtype) -> Row:
    rtol_v = _tolerance(rtol, name, unit, "rtol")
    if rtol_v is None:
        rtol_v = default_rtol(rdtype, cdtype)
    atol_v = _tolerance(atol, name, unit, "atol")
    finite_ref = np.abs(r[np.isfinite(r)])
    peak = float(finite_ref.max()) if finite_ref.size else 0.0
    if atol_v is None:
        atol_v = rtol_v * peak
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(c - r)
        ok = diff <= atol_v + rtol_v * np.abs(r)
        ok |= (r == c)                          # equal infinities
        diff = np.where(np.isnan(diff) & ~ok, np.inf, np.where(ok & ~np.isfinite(diff), 0, diff))
        big = np.abs(r) > atol_v
        rel = np.where(big, diff / np.where(big, np.abs(r), 1.0), 0.0)
    labels = _axis_labels(r.ndim)
    index = lambda flat: dict(zip(labels, map(int, np.unravel_index(flat, r.shape))))  # noqa
    max_abs = float(diff.max()) if diff.size else 0.0
    worst = index(int(np.argmax(diff))) if diff.size and max_abs > 0 else None
    n_failed = int(ok.size - np.count_nonzero(ok))
    first = index(int(np.argmin(ok.ravel()))) if n_failed else None
    notes = [note] if note else []
    if np.dtype(rdtype) != np.dtype(cdtype):
        notes.append(f"reference {np.dtype(rdtype)}, candidate {np.dtype(cdtype)}")
    plain = unit is None or str(unit) == "dimensionless"
    return Row(name=name, unit="" if plain else f"{unit:~}", shape=tuple(r.shape), max_abs=max_abs,
               max_rel=float(rel.max()) if rel.size else 0.0, worst=worst, first_failure=first,
               n_failed=n_failed, rtol=rtol_v, atol=atol_v, passed=n_failed == 0,
               note="; ".join(notes))


def compare(reference, candidate, *, rtol=None, atol=None, names=None,
            title: str = "reference vs candidate") -> Report:
    """Compare two results quantity by quantity.

    Parameters
    ----------
    reference, candidate : array_like, Quantity, dict of them, npz file or (bold, states)
        The two results. Dicts are matched by key; a single array is one quantity (named by
        ``names``, or ``"value"``). Quantities (pint or brainunit) are compared in the
        reference's unit; a bare array facing a Quantity is read in the Quantity's unit (the
        report says so). JAX arrays are read with :func:`numpy.asarray`.
    rtol : float or dict of float, optional
        Relative tolerance (per quantity with a dict). Default: 1e-9 for float64 against
        float64, 1e-4 when either side is float32.
    atol : float, Quantity or dict, optional
        Absolute tolerance in the reference's unit. Default: ``rtol`` times the largest
        magnitude of the quantity in the reference.
    names : str or list of str, optional
        Which quantities to compare (default: every key of the reference that the candidate
        also has), or the name of a single array.
    title : str
        First line of the printed report.

    Returns
    -------
    Report
        ``print(report)`` for the table; ``report.passed``; ``report.as_dict()`` for JSON.
    """
    ref = _named(reference, names, "reference")
    cand = _named(candidate, names, "candidate")
    if isinstance(names, str):
        names = [names]
    if names is None:
        names = [k for k in ref if k in cand]
        if not names:
            raise FwdModelsError(f"the reference ({sorted(ref)}) and the candidate "
                                 f"({sorted(cand)}) have no quantity name in common")
    rows = []
    for name in names:
        for side, d in (("reference", ref), ("candidate", cand)):
            if name not in d:
                raise FwdModelsError(f"`names`: {name!r} is not in the {side} (it has "
                                     f"{sorted(d)})")
        rs = _split(ref[name], f"reference[{name!r}]")
        cs = _split(cand[name], f"candidate[{name!r}]")
        r, c, unit, note = _align(name, rs, cs)
        rows.append(_row(name, r, c, unit, note, rtol, atol, rs[2], cs[2]))
    return Report(rows=rows, title=title)


# ====================================================================== BOLD diagnosis
def brainmass_bold(states: Mapping, params=None) -> np.ndarray:
    """BOLD as brainmass 0.1.1's ``BOLDSignal.bold()`` computes it: ``q/rho`` in the k2 term.

    ``V0 (k1 (1 - q) + k2 (1 - q/rho) + k3 (1 - v))`` from the states ``v`` and ``q`` (a dict
    of arrays, as ``simulate_bold(..., return_states=True)`` returns). At rest it reads
    ``-V0 k2 (1/rho - 1)`` (-0.0776 with Friston's values), not 0.
    """
    from .hemodynamics.params import resolve_params

    p = resolve_params(params)
    k1, k2, k3 = p.bold_coefficients()
    v = np.asarray(states["v"], dtype=np.float64)
    q = np.asarray(states["q"], dtype=np.float64)
    return p.V0 * (k1 * (1.0 - q) + k2 * (1.0 - q / p.rho) + k3 * (1.0 - v))


@dataclass(frozen=True)
class _Cause:
    name: str
    description: str
    group: str          # causes of one group are mutually exclusive


def _bold_causes(init, method) -> list[_Cause]:
    other_init = "rest" if init == "brainmass" else "brainmass"
    start = ("start from x = f = v = q = 1 (brainmass's initial state) instead of rest"
             if other_init == "brainmass" else
             "start from rest (x = 0, f = v = q = 1) instead of brainmass's x = 1")
    causes = [
        _Cause("q/rho in k2", "q/ρ in the k2 term of the BOLD equation: k2·(1 − q/ρ) "
               "(brainmass's bold()) instead of k2·(1 − q/v)", "observation"),
        _Cause(f"init={other_init}", start, "init"),
        _Cause("kappa,gamma inverted", "κ and γ inverted: κ = 1/0.65, γ = 1/0.41 s⁻¹ "
               "(time constants used as rates)", "rates"),
    ]
    for factor, text in ((1000.0, "dt 1000× longer (a time in ms read as s)"),
                         (10.0, "dt 10× longer"), (0.1, "dt 10× shorter"),
                         (0.001, "dt 1000× shorter (a time in s read as ms)")):
        causes.append(_Cause(f"dt×{factor:g}", f"{text}: the reference's time is stretched",
                             "dt"))
    for other in ("heun", "rk4", "euler"):
        if other != method:
            causes.append(_Cause(f"method={other}", f"the reference integrates with "
                                 f"{other} instead of {method}", "method"))
    return causes


def _as_bold_reference(reference) -> dict:
    if isinstance(reference, tuple) and len(reference) == 2 and isinstance(reference[1], Mapping):
        reference = {"bold": reference[0], **reference[1]}
    if isinstance(reference, Mapping) or isinstance(reference, np.lib.npyio.NpzFile):
        keys = set(reference.keys())
        ref = {k: reference[k] for k in ("bold",) + STATE_NAMES if k in keys}
        if not ref:
            raise FwdModelsError(f"`reference` must hold 'bold' and/or the states 'x', 'f', "
                                 f"'v', 'q'; got keys {sorted(reference.keys())}")
        return ref
    return {"bold": reference}


def _first_nonfinite_row(array: np.ndarray, start: int) -> int | None:
    rows = ~np.isfinite(array[start:]).reshape(max(array.shape[0] - start, 0), -1).all(axis=1)
    hits = np.flatnonzero(rows)
    return int(hits[0]) + start if hits.size else None


def diagnose_bold(z, dt, reference, *, params="friston2003", method="heun", init="rest",
                  rtol=None, atol=None, max_causes: int = 3) -> Report:
    """Compare a reference BOLD run with fwdmodels' and, if they differ, name the cause.

    Parameters
    ----------
    z : array_like, shape (T, N)
        The neural input both runs were given.
    dt : pint.Quantity or str
        The time step the reference was *meant* to use (``"1 ms"``).
    reference : array_like (the BOLD signal), or dict with ``bold`` and/or ``x, f, v, q``
        The reference's output, row ``n`` at ``t = (n + 1) dt`` (brainmass's ``update`` then
        ``bold()`` order). States make a diagnosis sharper (the q/ρ term leaves them equal).
    params, method, init
        fwdmodels' settings, as for :func:`~fwdmodels.simulate_bold` (Heun reproduces
        brainmass's scheme; ``init="brainmass"`` its initial state).
    rtol, atol
        Tolerances, as for :func:`compare`.
    max_causes : int
        Largest number of causes combined in one hypothesis (1 to 3).

    Returns
    -------
    Report
        The comparison as given; when it fails, ``report.diagnoses[0]`` lists every hypothesis
        tried and names the simplest one that brings agreement (``report.explanations``).
    """
    from .hemodynamics import simulate_bold
    from .hemodynamics.balloon import read_dt
    from .hemodynamics.params import resolve_params

    ref = _as_bold_reference(reference)
    params = resolve_params(params)
    dt_s = read_dt(dt)
    cache: dict = {}

    def run(causes: tuple[_Cause, ...]):
        """fwdmodels' output under ``causes``; (dict, None), or (prefix dict, k) on divergence."""
        names = {c.name for c in causes}
        p = params
        if "kappa,gamma inverted" in names:
            p = params.replace(kappa=1.0 / params.kappa, gamma=1.0 / params.gamma)
        factor = next((float(c.name[3:]) for c in causes if c.group == "dt"), 1.0)
        start = next((c.name[5:] for c in causes if c.group == "init"), init)
        scheme = next((c.name[7:] for c in causes if c.group == "method"), method)
        key = (p, factor, start if isinstance(start, str) else id(start), scheme)
        if key not in cache:
            stop = None
            try:
                bold, states = simulate_bold(z, dt_s * factor * ureg.s, params=p,
                                             method=scheme, init=start, return_states=True)
            except DomainError as exc:        # keep the rows before the state left its domain
                stop = exc.time_index
                if stop == 0:
                    bold, states = np.empty((0,) + np.shape(z)[1:]), {
                        k: np.empty((0,) + np.shape(z)[1:]) for k in STATE_NAMES}
                else:
                    bold, states = simulate_bold(z[:stop], dt_s * factor * ureg.s, params=p,
                                                 method=scheme, init=start, return_states=True)
            cache[key] = (bold.magnitude if hasattr(bold, "magnitude") else bold, states, stop)
        bold, states, stop = cache[key]
        if "q/rho in k2" in names:
            bold = brainmass_bold(states, p)
        out = {"bold": bold, **states}
        return {k: out[k] for k in ref}, stop

    title = f"reference vs fwdmodels simulate_bold (method={method}, init={init}, dt={dt_s:g} s)"
    report = compare(ref, run(())[0], rtol=rtol, atol=atol, title=title)
    if report.passed:
        return report
    causes = _bold_causes(init if isinstance(init, str) else "rest", method)
    trials, best = [], []
    for size in range(1, max(1, min(int(max_causes), 3)) + 1):
        for combo in itertools.combinations(causes, size):
            if len({c.group for c in combo}) < size:
                continue
            name = " + ".join(c.name for c in combo)
            desc = "; and ".join(c.description for c in combo)
            out, stop = run(combo)
            note = ""
            if stop is None:
                rep = compare(ref, out, rtol=rtol, atol=atol)
                passed = rep.passed
            else:
                # fwdmodels refuses to go on; the reference agrees if it matches up to there
                # and is itself non-finite afterwards (an unstable step, e.g. dt in ms read as s).
                rep = compare({k: v[:stop] for k, v in ref.items()}, out, rtol=rtol, atol=atol)
                bad = [i for i in (_first_nonfinite_row(_split(v, k)[0], stop)
                                   for k, v in ref.items()) if i is not None]
                passed = rep.passed and bool(bad) if stop > 0 else bool(bad) and min(bad) == 0
                note = (f"fwdmodels' state leaves its domain at time index {stop}; the "
                        f"reference " + (f"becomes non-finite at {min(bad)}" if bad else
                                         "stays finite"))
            trial = Trial(name, desc + (f" ({note})" if passed and note else ""), passed,
                          max((r.max_abs for r in rep.rows), default=0.0),
                          max((r.max_rel for r in rep.rows), default=0.0), note=note)
            trials.append(trial)
            if passed:
                best.append(trial)
        if best:
            break
    report.diagnoses.append(Diagnosis("BOLD", trials, best[0] if best else None, best[1:]))
    return report


# ====================================================================== lead-field diagnosis
_PREFIX_HINTS = {3: "a factor of 1000, as between V and mV (or brainmass's fixed "
                    "1 nA·m/mV scale on a bare input)",
                 6: "a factor of 1e6, as between V and µV",
                 9: "a factor of 1e9, as between A·m and nA·m",
                 12: "a factor of 1e12, as between T and pT",
                 15: "a factor of 1e15, as between T and fT"}


def _power_of_ten(r: np.ndarray, c: np.ndarray) -> tuple[int | None, float]:
    """(k, ratio): the least-squares ratio r/c and the k with ratio ≈ 10**k (None if not near)."""
    denom = float(np.vdot(c, c))
    if denom == 0.0 or not np.all(np.isfinite(c)) or not np.all(np.isfinite(r)):
        return None, math.nan
    ratio = float(np.vdot(c, r)) / denom
    if ratio <= 0:
        return None, ratio
    k = round(math.log10(ratio))
    return (k if k != 0 and abs(math.log10(ratio) - k) < 0.01 else None), ratio


def diagnose_leadfield(model, x, reference, *, rtol=None, atol=None, noise_only=None,
                       noise_cov=None) -> Report:
    """Compare a reference's sensor output with a fwdmodels lead-field model; name the cause.

    Parameters
    ----------
    model : fwdmodels.LeadFieldModel (or EEGLeadFieldModel, MEGLeadFieldModel)
        fwdmodels' model with the lead field ``(R, M)``, dipole scale, sensor unit and
        reference as intended. Its output is recomputed without noise.
    x : array_like or Quantity, shape (T, R)
        The input both were given (read by ``model`` as it documents).
    reference : array_like or Quantity, shape (T, M)
        The reference's noise-free output (a bare array is read in ``model.sensor_unit``).
    noise_only : array_like or Quantity, shape (T, M), optional
        The reference's output for a zero input with its noise on; its sample covariance is
        checked by :func:`diagnose_noise` against ``noise_cov`` (default ``model.noise_cov``).
    rtol, atol
        Tolerances, as for :func:`compare`.

    Returns
    -------
    Report
        Row ``sensors`` (and ``noise covariance`` with ``noise_only``); the diagnoses name a
        power-of-ten unit factor, a transposed lead field (square L), an ``(M, R)`` lead field
        reshaped instead of transposed (alone or with a unit factor), or the noise factor.
    """
    if not hasattr(model, "L") or not hasattr(model, "sensor_unit") or np.ndim(model.L) != 2:
        raise FwdModelsError("`model` must be a fwdmodels lead-field model with a fixed-"
                             "orientation (R, M) lead field")
    r_, m_ = model.in_size, model.out_size
    noise_cov = model.noise_cov if noise_cov is None else noise_cov
    if noise_only is not None and noise_cov is None:
        raise FwdModelsError("`noise_only` needs the covariance that was asked for: pass "
                             "`noise_cov` (or build `model` with it)")

    def noise_free(L_var):
        return type(model)(r_, m_, L_var, dipole_scale=model.dipole_scale,
                           sensor_unit=model.sensor_unit, reference=model.reference,
                           dtype=model.dtype)

    ref = reference
    if not _is_quantity(ref):
        ref = ureg.Quantity(np.asarray(ref), model.sensor_unit)
    title = f"reference vs fwdmodels {type(model).__name__} ({model.sensor_unit:~})"
    report = compare(ref, noise_free(model.L)(x), rtol=rtol, atol=atol, names="sensors",
                     title=title)
    if not report.passed:
        variants = [("as given", "", model.L)]
        if r_ == m_:
            variants.append(("transposed L", "a transposed lead field (L.T used as L)",
                             model.L.T))
        else:
            variants.append(("reshaped L", "an (M, R) lead field reshaped to (R, M) instead "
                             "of transposed", model.L.T.reshape(r_, m_)))
        trials, best = [], []
        rmag = _split(ref, "reference")
        for name, desc, L_var in variants:
            cand = noise_free(L_var)(x)
            attempts = [] if name == "as given" else [(name, desc, cand)]
            r_al, c_al, _, _ = _align("sensors", rmag, _split(cand, "candidate"))
            k, ratio = _power_of_ten(r_al, c_al)
            if k is not None:
                hint = _PREFIX_HINTS.get(abs(k), f"a factor of 1e{abs(k)}")
                text = (f"a unit factor: the reference is 1e{k} × fwdmodels "
                        f"({'' if k > 0 else 'the inverse of '}{hint})")
                attempts.append((f"×1e{k}" if name == "as given" else f"{name} + ×1e{k}",
                                 text if name == "as given" else f"{desc}; and {text}",
                                 cand * 10.0 ** k))
            elif name == "as given":
                trials.append(Trial("×10^k", "a power-of-ten unit factor", False, math.inf,
                                    math.inf, note=f"the best-fitting factor is {ratio:.4g}, "
                                                   f"not a power of ten"))
            for tname, tdesc, tcand in attempts:
                rep = compare(ref, tcand, rtol=rtol, atol=atol, names="sensors")
                trial = Trial(tname, tdesc, rep.passed, rep.rows[0].max_abs, rep.rows[0].max_rel)
                trials.append(trial)
                if rep.passed:
                    best.append(trial)
        best.sort(key=lambda t: t.name.count("+"))
        report.diagnoses.append(Diagnosis("lead field", trials, best[0] if best else None,
                                          best[1:]))
    if noise_only is not None:
        noise = diagnose_noise(noise_cov, noise_only, sensor_unit=model.sensor_unit)
        report.rows += noise.rows
        report.diagnoses += noise.diagnoses
    return report


def _cov_row(name, S, C, n, unit_text) -> tuple[Row, float]:
    """Row comparing a sample covariance with ``C`` using its sampling spread (Gaussian)."""
    d = np.sqrt(np.diag(C))
    sd = np.sqrt((np.outer(d, d) ** 2 + C ** 2) / n)
    m = C.shape[0]
    z_crit = math.sqrt(2.0 * math.log(max(m * m, 2))) + 3.0
    diff = np.abs(S - C)
    tol = z_crit * sd + 1e-12 * float(np.abs(C).max() or 1.0)
    ok = diff <= tol
    with np.errstate(invalid="ignore", divide="ignore"):
        zscore = np.where(sd > 0, diff / np.where(sd > 0, sd, 1.0), np.where(diff > 0, np.inf, 0))
        rel = np.where(np.abs(C) > 0, diff / np.where(np.abs(C) > 0, np.abs(C), 1.0), 0.0)
    labels = ("row", "column")
    at = lambda flat: dict(zip(labels, map(int, np.unravel_index(flat, C.shape))))  # noqa
    n_failed = int(ok.size - np.count_nonzero(ok))
    row = Row(name=name, unit=unit_text, shape=C.shape, max_abs=float(diff.max()),
              max_rel=float(rel.max()), worst=at(int(np.argmax(zscore))),
              first_failure=at(int(np.argmin(ok.ravel()))) if n_failed else None,
              n_failed=n_failed, rtol=0.0, atol=float("nan"), passed=n_failed == 0,
              criterion=f"|Δ| <= {z_crit:.2f} sampling standard deviations per entry",
              note=f"sample covariance of {n} noise samples against the covariance asked "
                   f"for; largest deviation {float(zscore.max()):.3g} standard deviations")
    return row, float(zscore.max())


def diagnose_noise(noise_cov, samples, *, sensor_unit=None) -> Report:
    """Check that noise-only outputs have the covariance asked for; name the factor slip.

    Parameters
    ----------
    noise_cov : array_like or Quantity, shape (M, M)
        The covariance that was asked for (a bare array is in ``sensor_unit``²).
    samples : array_like or Quantity, shape (T, M)
        Noise-only outputs of the reference (T of a few thousand or more).
    sensor_unit : str or pint.Unit, optional
        Unit of bare ``samples`` and of the comparison (default: that of ``samples``, else
        dimensionless).

    Returns
    -------
    Report
        Row ``noise covariance``; if it fails, the diagnosis tries the brainmass draw
        ``z·Lc`` (covariance ``Lcᵀ·Lc`` with ``Lc`` the lower Cholesky factor of ``C``)
        and a power-of-ten factor. With a diagonal ``C`` the two draws cannot be told apart
        and the diagnosis says so.
    """
    from .leadfield.noise import read_noise_cov

    y, yu, _ = _split(samples, "samples")
    unit = parse_unit(sensor_unit, "sensor_unit") if sensor_unit is not None else (
        yu if yu is not None else ureg.dimensionless)
    if yu is not None:
        y = (y * ureg.Quantity(1.0, yu)).to(unit).magnitude
    if y.ndim != 2 or y.shape[0] < 2:
        raise FwdModelsError(f"`samples` must have shape (T, M) with T >= 2; got {y.shape}")
    C = read_noise_cov(noise_cov, y.shape[1], unit)
    n = y.shape[0]
    S = np.cov(y, rowvar=False, bias=False).reshape(C.shape)
    unit_text = f"{unit ** 2:~P}" if not unit.dimensionless else ""
    row, _ = _cov_row("noise covariance", S, C, n, unit_text)
    report = Report([row], title="reference noise vs the covariance asked for")
    lc = np.linalg.cholesky(C + 1e-300 * np.eye(C.shape[0]))
    same = np.allclose(lc.T @ lc, C, rtol=1e-9, atol=1e-12 * float(np.abs(C).max() or 1))
    hyps = [("z·Lc", "noise drawn as z·Lc (covariance Lcᵀ·Lc, brainmass) instead of z·Lcᵀ "
             "(covariance C)", lc.T @ lc)]
    ratio = float(np.trace(S) / np.trace(C)) if np.trace(C) > 0 else 0.0
    k = round(math.log10(ratio) / 2) if ratio > 0 else 0
    if k != 0:
        unit_desc = f"a unit factor 1e{k} on the noise (covariance ×1e{2 * k})"
        hyps.append((f"×1e{2 * k}", unit_desc, C * 100.0 ** k))
        hyps.append((f"z·Lc + ×1e{2 * k}", f"{hyps[0][1]}; and {unit_desc}",
                     lc.T @ lc * 100.0 ** k))
    if row.passed:
        if same:
            row.note += ("; C is diagonal (Lc = Lcᵀ), so a z·Lc draw could not be told apart: "
                         "use a covariance with off-diagonal entries to check the factor")
        return report
    trials, best = [], []
    for name, desc, Ch in hyps:
        hrow, _ = _cov_row(name, S, Ch, n, unit_text)
        trial = Trial(name, desc, hrow.passed, hrow.max_abs, hrow.max_rel)
        trials.append(trial)
        if hrow.passed:
            best.append(trial)
    report.diagnoses.append(Diagnosis("noise", trials, best[0] if best else None, best[1:]))
    return report


# ====================================================================== command line
def _load(path: str, key: str | None, what: str):
    """An array (.npy) or a dict / one array (.npz, ``key`` selects) from a file."""
    import os

    if not os.path.exists(path):
        raise FwdModelsError(f"{what}: no such file {path!r}")
    try:
        data = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise FwdModelsError(f"{what}: cannot read {path!r} as .npy or .npz ({exc})") from None
    if isinstance(data, np.lib.npyio.NpzFile):
        with data:
            arrays = {k: data[k] for k in data.files}
        if key is not None:
            if key not in arrays:
                raise FwdModelsError(f"{what}: {path!r} has no array {key!r} (it has "
                                     f"{sorted(arrays)})")
            return arrays[key]
        return arrays
    if key is not None:
        raise FwdModelsError(f"{what}: a key ({key!r}) only applies to .npz files; {path!r} "
                             f"is a .npy file")
    return data


def _single(value, what: str, prefer: str):
    if isinstance(value, dict):
        if prefer in value:
            return value[prefer]
        if len(value) == 1:
            return next(iter(value.values()))
        raise FwdModelsError(f"{what}: the .npz file holds {sorted(value)}; choose one with "
                             f"--{what.split()[0].lower()}-key")
    return value


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``crossval`` sub-command (with ``bold``, ``eeg`` and ``meg``) to a CLI."""
    p = subparsers.add_parser(
        "crossval", help="cross-check a reference (e.g. brainmass) against fwdmodels",
        description="Compare a reference's output with fwdmodels' on the same input; when they "
                    "disagree, name the known cause that explains it. Exit 0: agree; 1: "
                    "disagree; 2: bad input.")
    sub = p.add_subparsers(dest="crossval_kind", metavar="{bold,eeg,meg}")
    sub.required = True
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--rtol", type=float, default=None,
                        help="relative tolerance (default 1e-9 for float64, 1e-4 for float32)")
    common.add_argument("--atol", type=float, default=None,
                        help="absolute tolerance in the reference's unit (default rtol × peak)")
    common.add_argument("--format", choices=("text", "json"), default="text",
                        help="print the report as a text table or as JSON")
    common.add_argument("--no-diagnose", action="store_true",
                        help="only compare; do not try the known causes")
    common.add_argument("--input-key", default=None, help="array name in an .npz INPUT")
    common.add_argument("--reference-key", default=None,
                        help="array name in an .npz REFERENCE (default: all of bold, x, f, v, q "
                             "it holds, for bold)")
    b = sub.add_parser("bold", parents=[common], help="BOLD signal (and states) against "
                       "simulate_bold", description="INPUT: neural input (T, N); REFERENCE: "
                       "the reference BOLD (T, N), or an .npz with bold and/or x, f, v, q.")
    b.add_argument("input", metavar="INPUT")
    b.add_argument("reference", metavar="REFERENCE")
    b.add_argument("--dt", required=True, help="time step with its unit, e.g. '1 ms'")
    b.add_argument("--method", default="heun", choices=("heun", "rk4", "euler"),
                   help="fwdmodels' scheme (heun is brainmass's; default)")
    b.add_argument("--init", default="rest", choices=("rest", "brainmass"),
                   help="fwdmodels' initial state (brainmass: every state at 1.0)")
    b.add_argument("--params", default="friston2003", help="parameter preset")
    for kind, unit in (("eeg", "V/(nA*m)"), ("meg", "T/(nA*m)")):
        e = sub.add_parser(kind, parents=[common], help=f"{kind.upper()} sensors against "
                           f"{kind.upper()}LeadFieldModel",
                           description="INPUT: source activity (T, R); LEADFIELD: (R, M); "
                                       "REFERENCE: the reference's sensor output (T, M).")
        e.add_argument("input", metavar="INPUT")
        e.add_argument("leadfield", metavar="LEADFIELD")
        e.add_argument("reference", metavar="REFERENCE")
        e.add_argument("--leadfield-unit", required=True, help=f"unit of L, e.g. '{unit}'")
        e.add_argument("--scale", default=None,
                       help="dipole scale, e.g. '1 nA*m/mV' (INPUT is then in its denominator "
                            "unit); without it INPUT is in nA*m")
        e.add_argument("--input-unit", default=None, help="unit of INPUT (default: see --scale)")
        e.add_argument("--reference-unit", default=None,
                       help="unit of REFERENCE (default: the sensor unit)")
        e.add_argument("--sensor-unit", default=None, help="unit to compare in")
        e.add_argument("--noise-cov", default=None, help="(M, M) covariance asked for, .npy, "
                       "in the sensor unit squared")
        e.add_argument("--noise-only", default=None,
                       help="reference output for a zero input with noise on (T, M), .npy")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    """Run ``fwdmodels crossval``: print the report; 0 if they agree, 1 if not.

    Mistakes in the input raise :class:`~fwdmodels.errors.FwdModelsError` (exit status 2).
    """
    if args.crossval_kind == "bold":
        report = _run_bold(args)
    else:
        report = _run_leadfield(args)
    if args.format == "json":
        print(json.dumps(report.as_dict(), indent=2, allow_nan=False))
    else:
        print(report)
    return 0 if report.passed else 1


def _run_bold(args) -> Report:
    from .hemodynamics.balloon import read_dt

    z = _single(_load(args.input, args.input_key, "INPUT"), "input", "z")
    ref = _load(args.reference, args.reference_key, "REFERENCE")
    if isinstance(ref, dict):
        ref = {k: v for k, v in ref.items() if k in ("bold",) + STATE_NAMES}
        if not ref:
            raise FwdModelsError("REFERENCE: the .npz file must hold 'bold' and/or 'x', 'f', "
                                 "'v', 'q' (or choose an array with --reference-key)")
    read_dt(args.dt)
    if args.no_diagnose:
        return _bold_compare_only(z, ref, args)
    return diagnose_bold(z, args.dt, ref, params=args.params, method=args.method,
                         init=args.init, rtol=args.rtol, atol=args.atol)


def _bold_compare_only(z, ref, args) -> Report:
    from .hemodynamics import simulate_bold

    bold, states = simulate_bold(z, args.dt, params=args.params, method=args.method,
                                 init=args.init, return_states=True)
    ref = _as_bold_reference(ref)
    out = {"bold": bold, **states}
    return compare(ref, {k: out[k] for k in ref}, rtol=args.rtol, atol=args.atol,
                   title=f"reference vs fwdmodels simulate_bold (method={args.method}, "
                         f"init={args.init}, dt={args.dt})")


def _run_leadfield(args) -> Report:
    from .leadfield import EEGLeadFieldModel, MEGLeadFieldModel

    cls = EEGLeadFieldModel if args.crossval_kind == "eeg" else MEGLeadFieldModel
    x = _single(_load(args.input, args.input_key, "INPUT"), "input", "x")
    L = _single(_load(args.leadfield, None, "LEADFIELD"), "leadfield", "L")
    ref = _single(_load(args.reference, args.reference_key, "REFERENCE"), "reference", "y")
    L = ureg.Quantity(np.asarray(L, dtype=float), parse_unit(args.leadfield_unit,
                                                             "--leadfield-unit"))
    if np.ndim(L) != 2:
        raise FwdModelsError(f"LEADFIELD must be 2-D (R, M); got shape {np.shape(L)}")
    x = np.asarray(x, dtype=float)
    if x.ndim != 2:
        raise FwdModelsError(f"INPUT must be 2-D (T, R); got shape {x.shape}")
    model = cls(L.shape[0], L.shape[1], L, dipole_scale=args.scale,
                sensor_unit=args.sensor_unit)
    if args.input_unit is not None:
        x = ureg.Quantity(x, parse_unit(args.input_unit, "--input-unit"))
    ref_unit = parse_unit(args.reference_unit, "--reference-unit") if args.reference_unit \
        else model.sensor_unit
    ref = ureg.Quantity(np.asarray(ref, dtype=float), ref_unit)
    noise_only = noise_cov = None
    if args.noise_cov is not None or args.noise_only is not None:
        if args.noise_cov is None or args.noise_only is None:
            raise FwdModelsError("--noise-cov and --noise-only go together")
        cov = _single(_load(args.noise_cov, None, "--noise-cov"), "noise", "C")
        noise = _single(_load(args.noise_only, None, "--noise-only"), "noise", "y")
        noise_only = ureg.Quantity(np.asarray(noise, dtype=float), ref_unit)
        noise_cov = ureg.Quantity(np.asarray(cov, dtype=float), model.sensor_unit ** 2)
    if args.no_diagnose:
        return compare(ref, model(x), rtol=args.rtol, atol=args.atol, names="sensors",
                       title=f"reference vs fwdmodels {cls.__name__}")
    return diagnose_leadfield(model, x, ref, rtol=args.rtol, atol=args.atol,
                              noise_only=noise_only, noise_cov=noise_cov)
