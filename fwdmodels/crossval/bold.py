"""BOLD against brainmass: brainmass's own run (:class:`BrainmassBOLD`), its observation
equation (:func:`brainmass_bold`), and the diagnosis of a disagreement (:func:`diagnose_bold`):
fwdmodels recomputed under each known cause."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..errors import DomainError, FwdModelsError
from ..units import ureg
from ..hemodynamics.engine import STATE_NAMES
from .report import Diagnosis, Report, Trial, _split, compare


# ====================================================================== brainmass's run
class BrainmassBOLD:
    """brainmass's ``BOLDSignal`` run over a whole input, as a comparison needs it.

    One object holds one ``brainmass.BOLDSignal`` of ``n_regions`` regions and one compiled
    run: from brainmass's own start (``init_state()``: x, f, v, q all 1.0), ``update(z[n])``
    then ``bold()`` at each step, the order of fwdmodels' time convention (row ``n`` at
    ``t = (n + 1) dt``). brainmass steps with Heun at ``dt`` read as a bare number of
    seconds; the run is traced and compiled by JAX once per input shape.

    Parameters
    ----------
    n_regions : int
        Number of regions (columns of the input).
    dt : pint.Quantity or str
        Time step, with its unit (``"1 ms"``); brainmass gets it in seconds.
    precision : {64, 32}
        Floating-point precision of brainmass's run (``brainstate.environ``).
    states : bool
        Also return the states x, f, v, q at each step (else the BOLD signal only).

    Calling the object runs it over a ``(T, N)`` input and returns NumPy arrays; ``model`` is
    the ``brainmass.BOLDSignal`` (for :meth:`~fwdmodels.BalloonParams.from_brainmass`);
    :meth:`as_input` and :meth:`run` time the compiled run alone::

        runner = BrainmassBOLD(2, "10 ms")
        out = runner(z)                 # {"bold", "x", "f", "v", "q"}: (T, N) float arrays
        params = fwdmodels.BalloonParams.from_brainmass(runner.model)
    """

    def __init__(self, n_regions: int, dt, *, precision: int = 64, states: bool = True):
        from .._validation import check_int
        from ..errors import optional_import
        from ..hemodynamics.plan import read_dt

        feature = "fwdmodels.crossval.BrainmassBOLD"
        self._brainmass = optional_import("brainmass", "crossval", feature)
        self._brainstate = optional_import("brainstate", "crossval", feature)
        self._jax = optional_import("jax", "crossval", feature)
        self.dt_s = read_dt(dt)
        if isinstance(precision, bool) or precision not in (64, 32):
            raise FwdModelsError(f"`precision` must be 64 or 32 (bits); got {precision!r}")
        self.precision = int(precision)
        self.states = bool(states)
        with self._context():
            self.model = self._brainmass.BOLDSignal(check_int(n_regions, "n_regions", 1))
        self._compiled = self._brainstate.transform.jit(self._trace)

    def _context(self):
        return self._brainstate.environ.context(precision=self.precision, dt=self.dt_s)

    def _trace(self, z):
        model = self.model
        model.init_state()

        def step(z_t):
            model.update(z_t)
            if not self.states:
                return model.bold()
            return {"bold": model.bold(), "x": model.x.value, "f": model.f.value,
                    "v": model.v.value, "q": model.q.value}

        return self._brainstate.transform.for_loop(step, z)

    def as_input(self, z):
        """``z`` (T, N) as a JAX array of the run's precision."""
        dtype = self._jax.numpy.float64 if self.precision == 64 else self._jax.numpy.float32
        with self._context():
            return self._jax.numpy.asarray(z, dtype=dtype)

    def run(self, z):
        """The compiled run on a JAX input (:meth:`as_input`), finished: JAX arrays out."""
        with self._context():
            return self._jax.block_until_ready(self._compiled(z))

    def __call__(self, z) -> dict:
        """Run over ``z`` (T, N): ``{"bold": (T, N)}`` and, with ``states``, x, f, v, q."""
        out = self.run(self.as_input(z))
        out = out if self.states else {"bold": out}
        return {k: np.asarray(v) for k, v in out.items()}


# ====================================================================== BOLD diagnosis
def brainmass_bold(states: Mapping, params=None) -> np.ndarray:
    """BOLD as brainmass 0.1.1's ``BOLDSignal.bold()`` computes it: ``q/rho`` in the k2 term.

    ``V0 (k1 (1 - q) + k2 (1 - q/rho) + k3 (1 - v))`` from the states ``v`` and ``q`` (a dict
    of arrays, as ``simulate_bold(..., return_states=True)`` returns). At rest it reads
    ``-V0 k2 (1/rho - 1)`` (-0.0776 with Friston's values), not 0.
    """
    from ..hemodynamics.params import resolve_params

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


def _check_first_row(ref: dict) -> None:
    """Refuse a reference that is non-finite from its first row: nothing can be compared."""
    for name, value in ref.items():
        r = _split(value, f"reference[{name!r}]")[0]
        if r.ndim == 0 or r.shape[0] == 0:
            continue
        first = r[0].ravel()
        bad = np.flatnonzero(~np.isfinite(first))
        if bad.size:
            raise FwdModelsError(
                f"`reference` ({name!r}) holds {float(first[bad[0]])!r} at time index 0, "
                f"channel {int(bad[0])}: it is not finite from its first row, so there is "
                f"nothing to compare or diagnose; check the reference run (a time step far "
                f"too long can make it diverge at once)")


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
    from ..hemodynamics import simulate_bold
    from ..hemodynamics.plan import read_dt
    from ..hemodynamics.params import resolve_params

    ref = _as_bold_reference(reference)
    params = resolve_params(params)
    dt_s = read_dt(dt)
    _check_first_row(ref)
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
        key = ("kappa,gamma inverted" in names, factor,
               start if isinstance(start, str) else id(start), scheme)
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
