"""BOLD with the conventions of The Virtual Brain and neurolib, as named options.

fwdmodels' own convention (:mod:`fwdmodels.hemodynamics.balloon`): output row ``n`` is the
state at ``t = (n + 1) dt`` after the input ``z[n]`` was held over ``[n dt, (n + 1) dt)``,
from rest (x = 0, f = v = q = 1); with a TR, rows ``r - 1, 2r - 1, ...`` (``t = TR, 2 TR``).
Two simulators do otherwise, and :func:`simulate_bold_like` reproduces each of them:

``like="tvb"``: The Virtual Brain's ``BalloonModel`` (``tvb.analyzers.fmri_balloon``,
tvb-library 2.x)
    * its parameters (:func:`tvb_params`): time constants ``tau_s = 1.54 s`` and
      ``tau_f = 1.44 s`` (kappa = 1/1.54 s^-1, gamma = 1/1.44 s^-2), ``tau_o = 0.98 s``,
      ``alpha = 0.32``, ``E0 = 0.4`` (in the state equation and the observation), the revised
      coefficients of Stephan et al. (2007) with ``nu_0 = 40.3 Hz``, ``r_0 = 25 s^-1``,
      ``epsilon = 0.5``, ``TE = 0.04 s``, and ``V0 = 4``: its BOLD is in **percent**;
    * its scheme, Heun (``HeunDeterministic``) at the input step, from rest;
    * its alignment: TVB's row ``n`` is the state after the step that *ends* at input sample
      ``n``, taken with input ``z[n]``; its row 0 is the initial rest state (BOLD exactly 0)
      and ``z[0]`` is never used. Here row ``n`` is TVB's row ``n + 1``: the same time axis
      as every fwdmodels output (row ``n`` at ``t = (n + 1) dt`` from the first sample), so
      ``simulate_bold_like("tvb", z, dt)`` equals TVB's ``data[1:, 0, :, 0]`` and has
      ``T - 1`` rows; with a TR, rows at ``t = TR, 2 TR, ...`` are TVB's rows ``r, 2r, ...``.

``like="neurolib"``: neurolib's ``BOLDModel`` (``neurolib.models.bold``, neurolib 0.6)
    * parameters of Friston et al. (2003), the ``"friston2003"`` preset;
    * every state, x too, starting at 1 (``init="brainmass"``);
    * its own scheme, ``method="neurolib"``: an Euler step in which f is advanced with the
      *new* x (x first, then v and q from the old f and v, then ``f += dt x``; f kept above
      1e-120). fwdmodels' ``"euler"`` uses the old x and differs by about 1e-5 of the
      signal's range at 0.1 ms;
    * sampling: neurolib keeps the rows ``1, 1 + r, 1 + 2r, ...`` of its per-sample BOLD
      (``r = TR / dt``, TR fixed at 2 s in neurolib), which it labels ``t = dt, TR + dt, ...``:
      in fwdmodels' time (row ``n`` at ``(n + 1) dt``) the samples are at ``2 dt + k TR``,
      one TR (less two samples) earlier than fwdmodels' ``t = TR, 2 TR``. Without a TR every
      row is kept (neurolib's per-sample BOLD);
    * its models' input transforms (``boldInputTransform``, fixed in each model's code):
      ``"neurolib:fhn"`` and ``"neurolib:wc"`` feed ``x * 50``, ``"neurolib:hopf"``
      ``(x + 1) * 4``; ``"neurolib"`` (ALN, Wong-Wang, thalamus...) feeds the output as it is.
      Pass the model's default output (``model.x``, ``model.exc``, ``model.rates_exc``;
      neurolib stores (region, time), so ``time_axis=1``).

Every option of :func:`~fwdmodels.simulate_bold` that the simulator leaves open is still
available: ``method`` (e.g. ``"split"`` for an accurate run with the simulator's other
conventions), ``params`` and single parameter overrides (per-region values too), ``tr``.

References
----------
Sanz Leon et al. (2013), The Virtual Brain: a simulator of primate brain network dynamics.
    Front. Neuroinform. 7:10 -- ``tvb/analyzers/fmri_balloon.py`` (tvb-library 2.10).
Cakan, Jajcay & Obermayer (2021), neurolib: a simulation framework for whole-brain neural
    mass modeling. Cogn. Comput. -- ``neurolib/models/bold/model.py`` and
    ``timeIntegration.py`` (neurolib 0.6.2).
Stephan et al. (2007) NeuroImage 38:387 (revised coefficients); Friston et al. (2003)
    NeuroImage 19:1273.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._validation import check_option
from ..errors import DomainError, FwdModelsError
from .balloon import _output, initial_state, read_neural_input, time_first
from .engine import METHODS
from .params import BalloonParams, resolve_params
from .plan import BOLDPlan, make_plan
from .sampling import TR_MODES, tr_ratio

__all__ = ["LIKES", "simulate_bold_like", "tvb_params", "resolve_like", "LikePlan",
           "NEUROLIB_INPUT_TRANSFORMS"]

#: The conventions :func:`simulate_bold_like` knows.
LIKES = ("tvb", "neurolib", "neurolib:fhn", "neurolib:wc", "neurolib:hopf")

#: neurolib's ``boldInputTransform`` of each model that has one (neurolib 0.6.2,
#: ``models/fhn/model.py``, ``models/wc/model.py``, ``models/hopf/model.py``).
NEUROLIB_INPUT_TRANSFORMS = {
    "fhn": lambda x: x * 50,
    "wc": lambda x: x * 50,
    "hopf": lambda x: (x + 1) * 4,
}
_TRANSFORM_TEXT = {"fhn": "x * 50", "wc": "x * 50", "hopf": "(x + 1) * 4"}

#: TVB BalloonModel's defaults, in its own names (tvb-library 2.10).
TVB_DEFAULTS = dict(tau_s=1.54, tau_f=1.44, tau_o=0.98, alpha=0.32, E0=0.4, V0=4.0,
                    epsilon=0.5, nu_0=40.3, r_0=25.0, TE=0.04)


def tvb_params(**overrides) -> BalloonParams:
    """The parameters of TVB's ``BalloonModel`` as a :class:`~fwdmodels.BalloonParams`.

    TVB writes ``V0 = 4`` (its BOLD in percent); here ``V0 = 0.04`` (a fraction) and the
    output of ``like="tvb"`` is given in percent, the same numbers. ``overrides`` are
    fwdmodels names (``kappa``, ``tau``, ``rho``, ``V0``, ``epsilon``...; per-region arrays
    allowed), e.g. ``tvb_params(rho=0.34)``.
    """
    d = TVB_DEFAULTS
    values = dict(kappa=1.0 / d["tau_s"], gamma=1.0 / d["tau_f"], tau=d["tau_o"],
                  alpha=d["alpha"], rho=d["E0"], V0=d["V0"] / 100.0, observation="revised",
                  nu0=d["nu_0"], r0=d["r_0"], epsilon=d["epsilon"], TE=d["TE"], name="tvb")
    return resolve_params(BalloonParams(**values), **overrides)


def _split_like(like, model):
    check_option(like, "like", LIKES)
    base, _, suffix = like.partition(":")
    if model is not None:
        if base != "neurolib":
            raise FwdModelsError(f"`model` applies to like='neurolib' (neurolib's models' input "
                                 f"transforms); got model={model!r} with like={like!r}")
        if suffix and suffix != model:
            raise FwdModelsError(f"`model` {model!r} conflicts with like={like!r}; give one")
        known = ("aln", "ww", "thalamus", "kuramoto", *NEUROLIB_INPUT_TRANSFORMS)
        check_option(model, "model", known)
        suffix = model if model in NEUROLIB_INPUT_TRANSFORMS else ""
    return base, suffix or None


@dataclass(frozen=True)
class LikePlan:
    """A simulator's conventions resolved for one input step (build with :func:`resolve_like`).

    Attributes
    ----------
    like : str
        ``"tvb"`` or ``"neurolib"`` (with ``model`` the neurolib model whose input transform
        applies, or None).
    plan : BOLDPlan
        The fwdmodels plan of the hemodynamics (its method ``"neurolib"`` is run here).
    init : str
        Initial state (``"rest"`` for TVB, ``"brainmass"``, every state at 1, for neurolib).
    skip : int
        Input samples not used at the start (TVB never uses ``z[0]``).
    tr_steps : int or None
        Input samples per TR.
    unit : str
        Output unit (``"percent"`` for TVB, as its ``V0 = 4``).
    """

    like: str
    model: str | None
    plan: BOLDPlan
    method: str
    init: str
    skip: int
    tr_steps: int | None
    tr_mode: str
    unit: str
    notes: dict = field(default_factory=dict)

    @property
    def dt(self) -> float:
        return self.plan.dt

    @property
    def piece(self) -> int:
        """Samples a chunk of the (skipped) input must be a multiple of for whole-run numbers."""
        if self.method == "neurolib":
            return 1
        return self.plan.piece

    def transform(self, block: np.ndarray) -> np.ndarray:
        """The neural input as the simulator feeds it to its BOLD model."""
        if self.model is None:
            return block
        return NEUROLIB_INPUT_TRANSFORMS[self.model](block)

    def n_rows(self, n_times: int) -> int:
        """Output rows for ``n_times`` input samples."""
        used = n_times - self.skip
        if self.tr_steps is None:
            return max(used, 0)
        if self.like == "tvb":
            return used // self.tr_steps
        return 0 if used < 2 else (used - 2) // self.tr_steps + 1

    def times(self, n_times: int) -> np.ndarray:
        """Time of each output row in seconds from the first input sample (a row is at the
        end of the step that produced it, as in every fwdmodels output)."""
        n = self.n_rows(n_times)
        if self.tr_steps is None:
            return (np.arange(n) + 1.0) * self.dt
        if self.like == "tvb":
            return (np.arange(n) + 1.0) * self.tr_steps * self.dt
        return (np.arange(n) * self.tr_steps + 2.0) * self.dt

    @property
    def t0(self) -> float:
        """Time of the first output row, in seconds (see :meth:`times`)."""
        if self.tr_steps is None:
            return self.dt
        return self.dt * (self.tr_steps if self.like == "tvb" else 2)

    @property
    def row_dt(self) -> float:
        return self.dt * (self.tr_steps or 1)

    def run(self, rows: np.ndarray, state: np.ndarray, p, hold, t0_index: int = 0,
            params: BalloonParams | None = None, shape: tuple | None = None):
        """Output rows of the input ``rows`` (already skipped and transformed), from
        ``state`` (advanced in place); ``t0_index`` is the index of ``rows[0]`` in the used
        input. Chunks must start at multiples of :attr:`piece` (and of the TR for TVB).
        ``p`` and ``hold`` are the plan's packed parameters and split coefficients of the
        columns; ``params`` and ``shape`` (the columns' region shape) those of neurolib's
        scheme (default: the plan's, one column per region)."""
        if self.like == "tvb":
            return self.plan.run(rows, state, p, hold, t0_index=t0_index)[0]
        if self.method == "neurolib":
            bold = neurolib_steps(rows, self.dt, params or self.plan.params, state, t0_index,
                                  shape)
        else:
            bold = self.plan.run(rows, state, p, hold, t0_index=t0_index, reduce=False)[0]
        if self.tr_steps is None:
            return bold
        g = t0_index + np.arange(rows.shape[0])
        keep = (g >= 1) & ((g - 1) % self.tr_steps == 0)
        return bold[keep]

    def metadata(self) -> dict:
        meta = self.plan.metadata()
        meta.update(like=self.like if self.model is None else f"{self.like}:{self.model}",
                    method=self.method, init=self.init, tr=None if self.tr_steps is None else
                    self.tr_steps * self.dt, tr_mode=self.tr_mode if self.tr_steps else None,
                    **self.notes)
        return meta


def resolve_like(like: str, dt, *, tr=None, tr_mode="sample", method=None, params=None,
                 model=None, hemo_dt=None, backend="auto", **overrides) -> LikePlan:
    """Resolve a simulator's conventions (see the module documentation) into a
    :class:`LikePlan`; arguments are those of :func:`simulate_bold_like`."""
    base, model = _split_like(like, model)
    check_option(tr_mode, "tr_mode", TR_MODES)
    if method is not None:
        check_option(method, "method", METHODS + ("neurolib",))
    if base == "tvb":
        method = method or "heun"
        if method == "neurolib":
            raise FwdModelsError("`method` 'neurolib' is neurolib's scheme; with like='tvb' "
                                 "use 'heun' (TVB's), 'split', 'euler', 'rk4' or 'reference'")
        chosen = tvb_params(**overrides) if params is None else resolve_params(params,
                                                                              **overrides)
        plan = make_plan(dt, params=chosen, method=method, tr=tr, tr_mode=tr_mode,
                         hemo_dt=hemo_dt, backend=backend)
        notes = {"alignment": "input n drives the step ending at sample n (TVB); row n is "
                              "TVB's row n + 1; z[0] unused",
                 "time_convention": "row n is the state at t = (n + 1) dt after the first "
                                    "input sample" if tr is None else
                                    "rows at t = TR, 2 TR, ... after the first input sample"}
        return LikePlan("tvb", None, plan, method, "rest", 1, plan.tr_steps, tr_mode,
                        "percent", notes)
    method = method or "neurolib"
    if method == "neurolib" and hemo_dt is not None and str(hemo_dt).strip() != "auto":
        raise FwdModelsError(f"`hemo_dt` applies to method='split' only; got hemo_dt = "
                             f"{hemo_dt!r} with neurolib's scheme (method='neurolib')")
    chosen = resolve_params("friston2003" if params is None else params, **overrides)
    plan = make_plan(dt, params=chosen, method="euler" if method == "neurolib" else method,
                     hemo_dt=None if method == "neurolib" else hemo_dt, backend=backend)
    tr_steps = None
    if tr is not None:
        tr_steps = tr_ratio(tr, plan.dt)[1]
        if tr_mode != "sample":
            raise FwdModelsError(f"`tr_mode` must be 'sample' with like='neurolib' (neurolib "
                                 f"takes one sample per TR); got {tr_mode!r}")
    notes = {"input_transform": _TRANSFORM_TEXT.get(model, "none"),
             "time_convention": "row n is the state at t = (n + 1) dt after the first input "
                                "sample" if tr is None else
                                "rows at t = 2 dt + k TR (neurolib's samples 1 + k TR/dt, "
                                "which it labels t = dt + k TR)"}
    return LikePlan("neurolib", model, plan, method, "brainmass", 0, tr_steps, tr_mode,
                    "dimensionless", notes)


def simulate_bold_like(like: str, z, dt, *, tr=None, tr_mode="sample", method=None,
                       params=None, model=None, unit=None, hemo_dt=None, backend="auto",
                       time_axis=None, return_times: bool = False, **overrides):
    """BOLD as The Virtual Brain or neurolib computes it (see the module documentation).

    Parameters
    ----------
    like : {"tvb", "neurolib", "neurolib:fhn", "neurolib:wc", "neurolib:hopf"}
        Whose conventions: TVB's ``BalloonModel``, or neurolib's ``BOLDModel`` (with the
        input transform of its FHN, Wilson-Cowan or Hopf model after the colon).
    z : array_like, shape (T, N) or (B, T, N)
        Neural input, time first (or along ``time_axis``): TVB's first state variable of one
        mode (``data[:, 0, :, mode]``), or neurolib's default output transposed
        (``model.x.T``, or ``time_axis=1``).
    dt : pint.Quantity or str
        Time between input samples, with its unit (TVB and neurolib both store ms).
    tr : pint.Quantity or str, optional
        Repetition time, a whole multiple of ``dt`` (neurolib's is 2 s). Default: one row per
        input sample.
    tr_mode : {"sample", "mean"}
        ``"mean"`` averages each TR window (TVB-like only; neurolib samples).
    method : str, optional
        Default: the simulator's own scheme (``"heun"`` for TVB, ``"neurolib"`` for
        neurolib); any method of :func:`~fwdmodels.simulate_bold` may be chosen instead.
    params : str or BalloonParams, optional
        Default: the simulator's (:func:`tvb_params`, or ``"friston2003"`` for neurolib);
        ``**overrides`` change single values (per-region arrays allowed).
    model : str, optional
        The neurolib model (``"fhn"``, ``"wc"``, ``"hopf"``, ``"aln"``, ...), the same as
        ``like="neurolib:<model>"``.
    unit : str, optional
        Output unit; default percent for TVB (its numbers), dimensionless for neurolib.
    hemo_dt, backend
        As for :func:`~fwdmodels.simulate_bold`.
    time_axis : int, optional
        The axis of ``z`` that is time, when not the default.
    return_times : bool
        Also return the time of each row in seconds from the first input sample.

    Returns
    -------
    pint.Quantity, shape (rows, N) or (B, rows, N); and the times with ``return_times``.
    """
    lp = resolve_like(like, dt, tr=tr, tr_mode=tr_mode, method=method, params=params,
                      model=model, hemo_dt=hemo_dt, backend=backend, **overrides)
    array = time_first(read_neural_input(z), time_axis, lp.plan)
    batched = array.ndim == 3
    B = array.shape[0] if batched else 1
    T, N = array.shape[-2], array.shape[-1]
    if lp.n_rows(T) < 1:
        raise FwdModelsError(f"`z` must give at least one output row with like={like!r}: it "
                             f"has {T} samples" + ("" if lp.tr_steps is None else
                                                   f", a TR is {lp.tr_steps}"))
    rows = array.transpose(1, 0, 2).reshape(T, B * N) if batched else array
    rows = np.ascontiguousarray(lp.transform(rows[lp.skip:]))
    shape = (B, N) if batched else (N,)
    state = initial_state(lp.init, lp.plan.params, shape, None)
    hold = lp.plan.hold(shape) if lp.plan.method == "split" else None
    bold = lp.run(rows, state, lp.plan.packed(shape), hold, params=lp.plan.params, shape=shape)
    if batched:
        bold = np.ascontiguousarray(bold.reshape(bold.shape[0], B, N).transpose(1, 0, 2))
    out = _output(bold, unit or lp.unit, np.float64)
    return (out, lp.times(T)) if return_times else out


# --------------------------------------------------------------------------- neurolib scheme
#: neurolib's floor on f (``EPS`` in ``integrateBOLD_numba``).
F_FLOOR = 1e-120


def _per_region(params: BalloonParams, shape: tuple) -> list:
    """The parameters neurolib's scheme reads, one flat float64 array each over ``shape``."""
    k1, k2, k3 = params.bold_coefficients()
    values = (params.kappa, params.gamma, params.tau, params.alpha, params.rho, params.V0,
              k1, k2, k3)
    n = int(np.prod(shape))
    try:
        return [np.ascontiguousarray(np.broadcast_to(np.asarray(v, dtype=float),
                                                     shape).reshape(n)) for v in values]
    except ValueError:
        raise FwdModelsError(f"`params` must hold scalars or values that broadcast to the "
                             f"regions' shape {shape}; got parameters of shape "
                             f"{params.shape}") from None


def neurolib_steps(z: np.ndarray, dt: float, params: BalloonParams, state: np.ndarray,
                   t0_index: int = 0, shape: tuple | None = None) -> np.ndarray:
    """neurolib's Euler variant over ``z`` (T, n) from ``state`` (4, n), advanced in place.

    Per step, with the input ``z[t]``: ``x += dt (z - kappa x - gamma (f - 1))``; then, from
    the old f and v, ``q += dt/tau (f E(f)/rho - q v^(1/alpha - 1))`` and
    ``v += dt/tau (f - v^(1/alpha))``; then ``f += dt x`` with the new x, and f is kept above
    1e-120. Row t of the result is the BOLD of the new state (classic or revised
    coefficients as ``params`` say); ``shape`` is the columns' region shape (default one
    column per region, ``(n,)``). Written from the equations of neurolib 0.6.2's
    ``integrateBOLD_numba`` (Cakan et al. 2021); Numba-compiled when available.
    """
    if params.observation == "revised_linear":
        raise FwdModelsError("`params` observation 'revised_linear' is not neurolib's; use "
                             "'classic' or 'revised' with method='neurolib'")
    z = np.ascontiguousarray(z, dtype=np.float64)
    per = _per_region(params, (z.shape[1],) if shape is None else tuple(shape))
    out = np.empty_like(z)
    from .._numba import JIT_ENABLED

    start = state.copy()
    if JIT_ENABLED:
        from ._conventions_kernels import neurolib_kernel

        # one compiled version whatever the layout of z and of the per-region arrays
        frozen = z.view()
        frozen.flags.writeable = False
        neurolib_kernel(frozen, float(dt), *(np.ascontiguousarray(a) for a in per), state, out,
                        F_FLOOR)
    else:
        _neurolib_numpy(z, float(dt), *per, state, out)
    bad = ~np.isfinite(out)
    if bad.any():
        t, i = np.unravel_index(int(np.argmax(bad.ravel())), bad.shape)
        state[...] = start
        raise DomainError(f"the hemodynamic state left its domain (BOLD {out[t, i]!r}) at time "
                          f"index {t0_index + t}, region {i}, with neurolib's scheme; the input "
                          f"is too large for its step dt = {dt:g} s: use a smaller dt or "
                          f"method='split'", t0_index + int(t), int(i))
    return out


def _neurolib_numpy(z, dt, kappa, gamma, tau, alpha, rho, V0, k1, k2, k3, state, out):
    x, f, v, q = (state[k].copy() for k in range(4))
    step = dt / tau
    outflow_exp, q_exp, inv_f_base = 1 / alpha, 1 / alpha - 1, 1 - rho
    with np.errstate(all="ignore"):
        for t in range(z.shape[0]):
            x = x + dt * (z[t] - kappa * x - gamma * (f - 1))
            q = q + step * (f / rho * (1 - inv_f_base ** (1 / f)) - q * v ** q_exp)
            v = v + step * (f - v ** outflow_exp)
            f = np.maximum(f + dt * x, F_FLOOR)
            out[t] = V0 * (k1 * (1 - q) + k2 * (1 - q / v) + k3 * (1 - v))
    state[0], state[1], state[2], state[3] = x, f, v, q
