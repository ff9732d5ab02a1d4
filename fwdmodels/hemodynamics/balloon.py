"""The BOLD forward model: :class:`BOLDSignal` (step by step) and :func:`simulate_bold` (offline).

Time convention (shared by both): output row ``n`` is the state at ``t = (n + 1) dt``, after
the input ``z[n]`` was held constant over ``[n dt, (n + 1) dt)``: the order of ``update(z)``
then ``bold()`` in the step API.

The neural input ``z`` drives the vasodilatory signal, ``dx/dt = z - kappa x - gamma (f - 1)``.
It is usually a normalised activity (a firing rate or a synaptic activity divided by a
reference), so a bare array is taken as it is. A pint or brainunit Quantity is accepted when
it is dimensionless, a rate (Hz, read in s^-1) or in s^-2 (the drive's own unit); its SI
magnitude is used.
"""

from __future__ import annotations

import numpy as np

from .._validation import as_float_array, check_dtype, check_finite, check_int, check_option
from ..errors import FwdModelsError
from ..units import as_quantity, is_brainunit_quantity, parse_unit, to_si, ureg
from .engine import METHODS, integrate, resolve_backend
from .multirate import (DEFAULT_TOLERANCE, MAX_HEMO_DT, auto_hemo_dt, integrate_multirate,
                        resolve_hemo_steps)
from .equations import observe, pack_params
from .params import resolve_params
from .sampling import TR_MODES, sample_tr, tr_ratio
from .steady_state import steady_state_arrays

__all__ = ["BOLDSignal", "simulate_bold", "choose_hemo_dt"]

STATE_NAMES = ("x", "f", "v", "q")
INITS = ("rest", "steady", "brainmass")
_INPUT_DIMENSIONS = ("[]", "1/[time]", "1/[time]**2")


def read_neural_input(z, name: str = "z", ndims=(2, 3), check: bool = True) -> np.ndarray:
    """Return the neural input as a finite float64 array (units stripped, see module doc).

    With ``check=False`` the caller checks finiteness itself (the multi-rate path does it on
    the block sums, which are non-finite exactly when a block holds a non-finite value).
    """
    if is_brainunit_quantity(z) or hasattr(z, "dimensionality"):
        q = as_quantity(z, name)
        if not any(q.check(d) for d in _INPUT_DIMENSIONS):
            raise FwdModelsError(
                f"`{name}` must be dimensionless, a rate (e.g. Hz) or in s^-2; got unit "
                f"{q.units:~}")
        z = q.to_base_units().magnitude
    array = as_float_array(z, name, ndims)
    if not check:
        return array
    axes = ("time index", "region") if array.ndim >= 2 else ("region",)
    return check_finite(array, name, axes)


def read_dt(dt) -> float:
    """dt in seconds from a time quantity; positive."""
    seconds = to_si(dt, "dt", "[time]")
    if not (np.isfinite(seconds) and seconds > 0):
        raise FwdModelsError(f"`dt` must be positive; got {seconds!r} s")
    return seconds


def _initial_state(init, params, shape: tuple[int, ...], z_first: np.ndarray | None) -> np.ndarray:
    """Return the (4, prod(shape)) initial state for ``init``."""
    n = int(np.prod(shape))
    if isinstance(init, str):
        check_option(init, "init", INITS)
        if init == "rest":
            return np.vstack([np.zeros(n), np.ones(n), np.ones(n), np.ones(n)])
        if init == "brainmass":  # brainmass.BOLDSignal starts every state, x too, at 1.0
            return np.ones((4, n))
        if z_first is None:
            raise FwdModelsError("init='steady' needs the constant input it is the steady state "
                                 "of: pass `z` (one value per region)")
        z0 = np.broadcast_to(read_neural_input(z_first, "z", (0, 1, 2)), shape).reshape(n)
        fixed = steady_state_arrays(z0, params)
        return np.vstack([fixed[k] for k in STATE_NAMES])
    if isinstance(init, dict):
        unknown = set(init) - set(STATE_NAMES)
        missing = set(STATE_NAMES) - set(init)
        if unknown or missing:
            raise FwdModelsError(
                f"`init` as a dict must have exactly the keys 'x', 'f', 'v', 'q'; got "
                f"{sorted(init)}")
        rows = []
        for key in STATE_NAMES:
            value = read_neural_input(init[key], f"init[{key!r}]", (0, 1, 2))
            try:
                rows.append(np.broadcast_to(value, shape).reshape(n).astype(float))
            except ValueError:
                raise FwdModelsError(f"`init[{key!r}]` must be a scalar or have shape {shape}; "
                                     f"got shape {np.shape(value)}") from None
        state = np.vstack(rows)
        for key, row in zip("fv", (state[1], state[2])):
            if np.any(row <= 0):
                raise FwdModelsError(f"`init[{key!r}]` must be positive; got {float(row.min())!r}")
        return state
    raise FwdModelsError(f"`init` must be 'rest', 'steady' or a dict of x, f, v, q; got {init!r}")


def _output(values: np.ndarray, unit, dtype) -> "ureg.Quantity":
    unit = parse_unit(unit, "unit")
    if not unit.dimensionality == ureg.dimensionless.dimensionality:
        raise FwdModelsError(f"`unit` must be dimensionless (e.g. 'dimensionless', 'percent'); "
                             f"got {unit:~}")
    factor = ureg.Quantity(1.0, "dimensionless").to(unit).magnitude
    out = values * factor if factor != 1.0 else values
    return ureg.Quantity(out.astype(dtype, copy=False), unit)


class BOLDSignal:
    """Balloon-Windkessel BOLD model with a step-by-step API (the seed documentation's).

    Parameters
    ----------
    in_size : int or tuple of int
        Number of regions (or the shape of one input sample).
    dt : pint.Quantity or str
        Integration step, a time with its unit (``"1 ms"``, ``0.1 * fwdmodels.ureg.ms``).
    params : str or BalloonParams
        A preset name (default ``"friston2003"``) or a parameter set.
    method : {"rk4", "heun", "euler", "reference"}
        Time stepping. ``"heun"`` is brainmass's scheme; ``"reference"`` uses ``solve_ivp`` at
        tight tolerance and is meant for checking on short inputs.
    backend : {"auto", "numba", "numpy"}
        Numba kernels when numba is installed (``"auto"``), or the NumPy stepper.
    hemo_dt : pint.Quantity or str, optional
        Multi-rate :meth:`run` (see :func:`simulate_bold`): the input is averaged over blocks
        of ``hemo_dt`` (a whole multiple of ``dt``) and the ODE steps at ``hemo_dt``; each run
        returns one row per block. Pieces of a series give the same numbers as the whole when
        every piece but the last holds a whole number of blocks.
    **overrides
        Single parameter values changed from the preset (e.g. ``tau_s=1.5``).

    Examples
    --------
    >>> import numpy as np, fwdmodels
    >>> model = fwdmodels.BOLDSignal(in_size=3, dt="1 ms")
    >>> model.init_all_states()
    >>> for z in np.zeros((10, 3)):
    ...     model.update(z)
    >>> model.bold().magnitude
    array([0., 0., 0.])
    """

    def __init__(self, in_size, dt, params="friston2003", method="rk4", backend="auto",
                 hemo_dt=None, **overrides):
        if isinstance(in_size, (tuple, list)):
            shape = tuple(check_int(s, "in_size", 1) for s in in_size)
        else:
            shape = (check_int(in_size, "in_size", 1),)
        self.in_size = shape
        self.dt = read_dt(dt)
        self.params = resolve_params(params, **overrides)
        self.method = check_option(method, "method", METHODS)
        self.backend = resolve_backend(backend)
        self.hemo_steps = 1 if hemo_dt is None else resolve_hemo_steps(hemo_dt, self.dt, None)
        self._p = pack_params(self.params)
        self._state = None
        self.n_steps = 0

    # ------------------------------------------------------------------ state
    def init_all_states(self, init="rest", z=None) -> None:
        """Set the hemodynamic state.

        Parameters
        ----------
        init : {"rest", "steady", "brainmass"} or dict
            ``"rest"``: x = 0, f = v = q = 1 (BOLD 0). ``"steady"``: the fixed point for the
            constant input ``z``. ``"brainmass"``: x = f = v = q = 1, the start of
            ``brainmass.BOLDSignal`` (x = 1 s^-1 is away from rest and adds a transient).
            A dict gives ``x, f, v, q`` (scalars or arrays of ``in_size``).
        z : array_like, optional
            The constant input for ``init="steady"``.
        """
        self._state = _initial_state(init, self.params, self.in_size, z)
        self.n_steps = 0

    def _require_state(self) -> np.ndarray:
        if self._state is None:
            raise FwdModelsError("the model has no state yet: call `init_all_states()` first")
        return self._state

    def _state_view(self, k: int) -> np.ndarray:
        return self._require_state()[k].reshape(self.in_size).copy()

    @property
    def x(self) -> np.ndarray:
        """Vasodilatory signal, in s^-1 (a copy)."""
        return self._state_view(0)

    @property
    def f(self) -> np.ndarray:
        """Normalised blood inflow, dimensionless (a copy)."""
        return self._state_view(1)

    @property
    def v(self) -> np.ndarray:
        """Normalised venous volume, dimensionless (a copy)."""
        return self._state_view(2)

    @property
    def q(self) -> np.ndarray:
        """Normalised deoxyhemoglobin content, dimensionless (a copy)."""
        return self._state_view(3)

    @property
    def time(self):
        """Time since the last ``init_all_states``, a Quantity in seconds."""
        return ureg.Quantity(self.n_steps * self.dt, "s")

    # ------------------------------------------------------------------ stepping
    def _as_rows(self, z, single: bool) -> np.ndarray:
        n = int(np.prod(self.in_size))
        if single:
            array = read_neural_input(z, "z", tuple(range(0, len(self.in_size) + 1)))
            try:
                return np.broadcast_to(array, self.in_size).reshape(1, n)
            except ValueError:
                raise FwdModelsError(f"`z` must have shape {self.in_size} (one sample); got "
                                     f"{array.shape}") from None
        array = read_neural_input(z, "z", (len(self.in_size) + 1,))
        if array.shape[1:] != self.in_size:
            raise FwdModelsError(f"`z` must have shape (T, {', '.join(map(str, self.in_size))}); "
                                 f"got {array.shape}")
        return array.reshape(array.shape[0], n)

    def update(self, z) -> None:
        """Advance one step of ``dt`` with ``z`` held constant over it."""
        if self.hemo_steps > 1:
            raise FwdModelsError("update() advances one input step, which a multi-rate model "
                                 "(hemo_dt) does not take; pass whole blocks to run()")
        state = self._require_state()
        integrate(self._as_rows(z, single=True), self.dt, self._p, state, self.method,
                  self.backend, t0_index=self.n_steps)
        self.n_steps += 1

    def bold(self, unit="dimensionless"):
        """The BOLD signal of the current state, a dimensionless Quantity of shape ``in_size``."""
        state = self._require_state()
        values = observe(state[2], state[3], self._p).reshape(self.in_size)
        return _output(values, unit, np.float64)

    def run(self, z, return_states: bool = False, unit="dimensionless"):
        """Integrate a whole ``(T, *in_size)`` input, continuing from the current state.

        Returns the BOLD signal ``(T, *in_size)`` (a dimensionless Quantity) and, with
        ``return_states=True``, also a dict of state arrays. Running in pieces gives the same
        numbers as running the whole series at once. If the state leaves its domain, a
        :class:`~fwdmodels.errors.DomainError` is raised and the state is left as it was
        before this call.
        """
        state = self._require_state()
        rows = self._as_rows(z, single=False)
        if self.hemo_steps > 1:
            bold, states = integrate_multirate(rows, self.dt, self._p, state, self.method,
                                               self.backend, self.hemo_steps, return_states,
                                               t0_index=self.n_steps // self.hemo_steps)
        else:
            bold, states = integrate(rows, self.dt, self._p, state, self.method, self.backend,
                                     store_states=return_states, t0_index=self.n_steps)
        self.n_steps += rows.shape[0]
        shape = (bold.shape[0],) + self.in_size
        out = _output(bold.reshape(shape), unit, np.float64)
        if not return_states:
            return out
        return out, {k: states[i].reshape(shape) for i, k in enumerate(STATE_NAMES)}


def simulate_bold(z, dt, *, params="friston2003", method="rk4", init="rest", tr=None,
                  tr_mode="sample", return_states=False, backend="auto", dtype=np.float64,
                  unit="dimensionless", hemo_dt=None, hemo_tol=DEFAULT_TOLERANCE,
                  **overrides):
    """Compute the BOLD signal of a whole neural time series.

    Parameters
    ----------
    z : array_like, shape (T, N) or (B, T, N)
        Neural input, time first (see the module documentation for its meaning and units).
    dt : pint.Quantity or str
        Time between input samples, with its unit (``"1 ms"``).
    params : str or BalloonParams
        Preset name or parameter set; ``**overrides`` change single values.
    method : {"rk4", "heun", "euler", "reference"}
        Time stepping (see :class:`BOLDSignal`).
    init : {"rest", "steady", "brainmass"} or dict
        Initial state: rest, the fixed point of the first input sample ``z[0]``, brainmass's
        start (every state at 1.0), or a dict of ``x, f, v, q`` arrays (shape ``(N,)``, or
        ``(B, N)`` for a batch).
    tr : pint.Quantity or str, optional
        Repetition time; a whole multiple of ``dt``. When given, the output is at
        ``t = TR, 2 TR, ...``.
    tr_mode : {"sample", "mean"}
        ``"sample"`` takes the value at each TR; ``"mean"`` averages each TR window.
    return_states : bool
        Also return the states ``x, f, v, q`` (sampled like the output).
    backend : {"auto", "numba", "numpy"}
        Numba kernel or NumPy stepper (same numbers to ~1e-12).
    dtype : float64 or float32
        Dtype of the returned arrays (the integration always runs in float64).
    unit : str or pint.Unit
        A dimensionless unit for the output, e.g. ``"percent"``.
    hemo_dt : pint.Quantity, str or "auto", optional
        Multi-rate integration (see :mod:`fwdmodels.hemodynamics.multirate`): the input is
        averaged over blocks of ``hemo_dt`` (a whole multiple of ``dt``, dividing ``tr``) and
        the ODE steps at ``hemo_dt``; output row ``k`` is then at ``t = (k + 1) hemo_dt``.
        ``"auto"`` picks the longest step (up to 50 ms) whose estimated error is at most
        ``hemo_tol`` times the signal's range; :func:`choose_hemo_dt` tells which.
    hemo_tol : float
        Tolerance of ``hemo_dt="auto"``, a fraction of the BOLD signal's range (1e-4).

    Returns
    -------
    bold : pint.Quantity, shape (T, N) or (B, T, N) (or T // r rows at TR)
        The BOLD signal, row ``n`` at ``t = (n + 1) dt`` (or ``(n + 1) hemo_dt``).
    states : dict of ndarray
        Only with ``return_states=True``.
    """
    dt_s = read_dt(dt)
    params = resolve_params(params, **overrides)
    check_option(method, "method", METHODS)
    check_option(tr_mode, "tr_mode", TR_MODES)
    dtype = check_dtype(dtype)
    # the multi-rate path checks finiteness on its block sums, saving a pass over a 2-D input
    array = read_neural_input(z, check=False)
    if hemo_dt is None or array.ndim == 3:
        check_finite(array, "z", ("time index", "region"))
    steps = tr_ratio(tr, dt_s)[1] if tr is not None else None
    batched = array.ndim == 3
    B = array.shape[0] if batched else 1
    T, N = array.shape[-2], array.shape[-1]
    rows = array.transpose(1, 0, 2).reshape(T, B * N) if batched else array
    shape = (B, N) if batched else (N,)
    state = _initial_state(init, params, shape, array[:, 0] if batched else array[0])
    p = pack_params(params)
    if hemo_dt is None:
        bold, states = integrate(rows, dt_s, p, state, method, backend,
                                 store_states=return_states)
    else:
        if isinstance(hemo_dt, str) and hemo_dt.strip() == "auto":
            r, bold, states = auto_hemo_dt(rows, dt_s, p, state, method, backend, hemo_tol,
                                           steps, store_states=return_states)
        else:
            r = resolve_hemo_steps(hemo_dt, dt_s, steps)
            bold, states = integrate_multirate(rows, dt_s, p, state, method, backend, r,
                                               store_states=return_states)
        T = bold.shape[0]
        steps = None if steps is None else steps // r

    def arrange(values: np.ndarray) -> np.ndarray:
        if batched:
            values = values.reshape(T, B, N).transpose(1, 0, 2)
        if steps is not None:
            values = sample_tr(values, steps, tr_mode, axis=-2)
        return np.ascontiguousarray(values)

    out = _output(arrange(bold), unit, dtype)
    if not return_states:
        return out
    return out, {k: arrange(states[i]).astype(dtype, copy=False)
                 for i, k in enumerate(STATE_NAMES)}


def choose_hemo_dt(z, dt, *, params="friston2003", method="rk4", init="rest", tr=None,
                   tol=DEFAULT_TOLERANCE, max_hemo_dt=MAX_HEMO_DT, backend="auto", **overrides):
    """The step ``simulate_bold(..., hemo_dt="auto")`` takes for this input, a Quantity in s.

    Parameters are those of :func:`simulate_bold`; ``tol`` is ``hemo_tol`` there and
    ``max_hemo_dt`` (seconds or a time quantity) the longest step tried.
    """
    dt_s = read_dt(dt)
    params = resolve_params(params, **overrides)
    check_option(method, "method", METHODS)
    array = read_neural_input(z)
    steps = tr_ratio(tr, dt_s)[1] if tr is not None else None
    longest = max_hemo_dt if isinstance(max_hemo_dt, (int, float)) else \
        to_si(max_hemo_dt, "max_hemo_dt", "[time]")
    batched = array.ndim == 3
    rows = array.transpose(1, 0, 2).reshape(array.shape[1], -1) if batched else array
    shape = (array.shape[0], array.shape[2]) if batched else (array.shape[1],)
    state = _initial_state(init, params, shape, array[:, 0] if batched else array[0])
    r, _, _ = auto_hemo_dt(rows, dt_s, pack_params(params), state, method, backend, tol, steps,
                           max_hemo_dt=longest)
    return ureg.Quantity(r * dt_s, "s")
