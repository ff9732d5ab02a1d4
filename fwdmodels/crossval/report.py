"""Two results side by side, and the report that says where they differ (see the package)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pint

from ..errors import FwdModelsError
from ..units import from_brainunit, is_brainunit_quantity, ureg


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
    for side, values in (("reference", r), ("candidate", c)):
        bad = ~np.isfinite(values)
        if bad.any():
            flat = int(np.argmax(bad.ravel()))
            notes.append(f"the {side} holds {float(values.ravel()[flat])!r} at "
                         f"{_where(index(flat))} (its first non-finite value; "
                         f"{int(bad.sum())} in all)")
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
