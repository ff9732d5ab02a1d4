"""The options of a BOLD computation, resolved once into a :class:`BOLDPlan`.

Every entry point (:func:`~fwdmodels.simulate_bold`, :class:`~fwdmodels.BOLDSignal`, the
chunked pipeline, :mod:`fwdmodels.distributed` and the command line) builds its plan with
:func:`make_plan` and passes it down, so that the same options give the same numbers
everywhere: the input step in seconds, the parameters, the method, the hemodynamic step of the
split method in whole samples, and the TR in whole samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._validation import check_option
from ..errors import FwdModelsError
from ..units import to_si
from .engine import METHODS, integrate, integrate_split, resolve_backend
from .equations import pack_params
from .params import BalloonParams, resolve_params
from .sampling import TR_MODES, sample_tr, tr_ratio
from .split import DEFAULT_HEMO_DT, MAX_HEMO_DT, hold_coefficients

__all__ = ["BOLDPlan", "make_plan", "read_dt", "DEFAULT_METHOD", "MIN_DT"]

#: The default method, for the library and the command line alike.
DEFAULT_METHOD = "split"
#: Shortest input step accepted, in seconds (1 ns): anything shorter is a unit mistake.
MIN_DT = 1e-9


def read_dt(dt, name: str = "dt") -> float:
    """An input step in seconds from a time quantity: finite, at least 1 ns."""
    seconds = to_si(dt, name, "[time]")
    if not (np.isfinite(seconds) and seconds > 0):
        raise FwdModelsError(f"`{name}` must be positive and finite; got {seconds!r} s")
    if seconds < MIN_DT:
        raise FwdModelsError(f"`{name}` must be at least 1 ns (a shorter step is a unit "
                             f"mistake); got {seconds!r} s")
    return seconds


@dataclass(frozen=True)
class BOLDPlan:
    """Resolved options of a BOLD computation (build it with :func:`make_plan`).

    Attributes
    ----------
    dt : float
        Time between input samples, in seconds.
    params : BalloonParams
        The model's parameters (scalars or per-region arrays).
    method : str
        ``"split"`` or a fixed-step method (``"euler"``, ``"heun"``, ``"rk4"``,
        ``"reference"``).
    backend : str
        ``"numba"`` or ``"numpy"`` (resolved from ``"auto"``).
    hemo_steps : int
        Input samples per hemodynamic step of the split method (1 for the other methods).
    tr_steps : int or None
        Input samples per TR, or None for one output row per input sample.
    tr_mode : str
        ``"sample"`` or ``"mean"``.
    """

    dt: float
    params: BalloonParams
    method: str
    backend: str
    hemo_steps: int
    tr_steps: int | None
    tr_mode: str

    @property
    def hemo_dt(self) -> float | None:
        """The split method's hemodynamic step in seconds (None for the other methods)."""
        return self.hemo_steps * self.dt if self.method == "split" else None

    @property
    def tr(self) -> float | None:
        """The TR in seconds, or None."""
        return None if self.tr_steps is None else self.tr_steps * self.dt

    @property
    def piece(self) -> int:
        """Samples a piece of a series must be a whole multiple of, so that computing it in
        pieces gives the numbers of the whole, bit for bit: the hemodynamic step and TR."""
        step = self.hemo_steps if self.method == "split" else 1
        return step * (self.tr_steps or 1) // math.gcd(step, self.tr_steps or 1)

    def packed(self, shape: tuple[int, ...]) -> np.ndarray:
        """The parameters as the kernels read them, one column per region of ``shape``."""
        return pack_params(self.params, shape)

    def hold(self, shape: tuple[int, ...]) -> np.ndarray:
        """The split method's exact (x, f) recursion coefficients, (4, 6, prod(shape))."""
        n = int(np.prod(shape, dtype=np.int64))
        kappa = np.broadcast_to(self.params.kappa, shape).reshape(n)
        gamma = np.broadcast_to(self.params.gamma, shape).reshape(n)
        return hold_coefficients(kappa, gamma, self.dt)

    def run(self, rows: np.ndarray, state: np.ndarray, p: np.ndarray, hold, *,
            store_states: bool = False, t0_index: int = 0, hemo_steps: int | None = None,
            reduce: bool = True):
        """Integrate ``rows`` (T, n) from ``state`` (4, n), advanced in place.

        ``p`` and ``hold`` are :meth:`packed` and :meth:`hold` for the regions; with
        ``reduce`` the output is reduced to the TR (one row per TR window), otherwise one row
        per sample; ``hemo_steps`` overrides the plan's (the step API's one-sample steps).
        Returns ``(bold, states, error)``: ``bold`` (rows, n), ``states`` (4, rows, n) or
        None, ``error`` (n,) the split method's largest error estimate or None.
        """
        every = self.tr_steps if (reduce and self.tr_steps) else 1
        if self.method == "split":
            return integrate_split(rows, self.dt, p, hold, state,
                                   self.hemo_steps if hemo_steps is None else hemo_steps,
                                   self.backend, store_states, t0_index, every,
                                   every > 1 and self.tr_mode == "mean")
        bold, states = integrate(rows, self.dt, p, state, self.method, self.backend,
                                 store_states, t0_index)
        if every > 1:
            bold = sample_tr(bold, every, self.tr_mode, axis=0)
            states = None if states is None else sample_tr(states, every, self.tr_mode, axis=1)
        return bold, states, None

    def metadata(self) -> dict:
        """The options as plain JSON-ready values, for output files."""
        return {"method": self.method, "dt": self.dt, "hemo_dt": self.hemo_dt, "tr": self.tr,
                "tr_mode": self.tr_mode if self.tr_steps else None,
                "params": self.params.as_dict()}


def make_plan(dt, *, params="friston2003", method=DEFAULT_METHOD, tr=None, tr_mode="sample",
              hemo_dt=None, backend="auto", **overrides) -> BOLDPlan:
    """Resolve the options of a BOLD computation once.

    Parameters are those of :func:`~fwdmodels.simulate_bold`; ``hemo_dt`` (a time, a whole
    multiple of ``dt``, at most 50 ms unless ``dt`` itself is longer) is the split method's
    hemodynamic step, by default the longest whole number of samples within 20 ms (``"auto"``
    says the same).
    """
    dt_s = read_dt(dt)
    resolved = resolve_params(params, **overrides)
    check_option(method, "method", METHODS)
    check_option(tr_mode, "tr_mode", TR_MODES)
    tr_steps = tr_ratio(tr, dt_s)[1] if tr is not None else None
    return BOLDPlan(dt=dt_s, params=resolved, method=method, backend=resolve_backend(backend),
                    hemo_steps=_hemo_steps(hemo_dt, dt_s, method), tr_steps=tr_steps,
                    tr_mode=tr_mode)


def _hemo_steps(hemo_dt, dt: float, method: str) -> int:
    if hemo_dt is None or (isinstance(hemo_dt, str) and hemo_dt.strip() == "auto"):
        return max(1, int(math.floor(DEFAULT_HEMO_DT / dt * (1 + 1e-12))))
    if method != "split":
        raise FwdModelsError(f"`hemo_dt` applies to method='split' only; got hemo_dt = "
                             f"{hemo_dt!r} with method={method!r}")
    seconds = to_si(hemo_dt, "hemo_dt", "[time]")
    if not (np.isfinite(seconds) and seconds > 0):
        raise FwdModelsError(f"`hemo_dt` must be positive and finite; got {seconds!r} s")
    ratio = seconds / dt
    r = int(round(ratio)) if ratio < 2 ** 53 else 0
    if r < 1 or abs(ratio - r) > 1e-9 * max(1.0, ratio):
        raise FwdModelsError(f"`hemo_dt` must be a whole multiple of dt; got hemo_dt = "
                             f"{seconds:g} s and dt = {dt:g} s (ratio {ratio:.9g})")
    if r > 1 and seconds > MAX_HEMO_DT * (1 + 1e-12):
        raise FwdModelsError(f"`hemo_dt` must be at most {MAX_HEMO_DT * 1e3:g} ms (the longest "
                             f"step whose accuracy is tested) or equal to dt; got "
                             f"{seconds:g} s")
    return r
