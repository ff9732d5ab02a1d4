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

import functools
import math

import numpy as np

from .._validation import as_float_array, check_dtype, check_finite, check_int, check_option
from ..errors import FwdModelsError
from ..units import as_quantity, is_brainunit_quantity, parse_unit, ureg
from .engine import STATE_NAMES
from .equations import observe
from .plan import DEFAULT_METHOD, BOLDPlan, make_plan
from .steady_state import steady_state_arrays

__all__ = ["BOLDSignal", "simulate_bold", "STATE_NAMES"]

#: Initial states ``init`` accepts.
INITS = ("rest", "steady", "brainmass")
_INPUT_DIMENSIONS = ("[]", "1/[time]", "1/[time]**2")


def read_neural_input(z, name: str = "z", ndims=(2, 3), check: bool = True) -> np.ndarray:
    """Return the neural input as a finite float64 array (units stripped, see module doc).

    With ``check=False`` the caller checks finiteness itself (the pipeline does it on each
    block it reads, naming the file and the sample).
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


def initial_state(init, params, shape: tuple[int, ...], z_first: np.ndarray | None) -> np.ndarray:
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


def _dimensionless(unit) -> tuple:
    """``(pint Unit, factor from dimensionless to it)`` for an output ``unit``."""
    unit = parse_unit(unit, "unit")
    if not unit.dimensionality == ureg.dimensionless.dimensionality:
        raise FwdModelsError(f"`unit` must be dimensionless (e.g. 'dimensionless', 'percent'); "
                             f"got {unit:~}")
    return unit, float(ureg.Quantity(1.0, "dimensionless").to(unit).magnitude)


# the same few units are asked for at every step of a step-by-step loop (BOLDSignal.bold);
# only names are kept: unit objects of different registries compare as errors
_dimensionless_named = functools.lru_cache(maxsize=64)(_dimensionless)


def _output(values: np.ndarray, unit, dtype) -> ureg.Quantity:
    unit, factor = (_dimensionless_named if isinstance(unit, str) else _dimensionless)(unit)
    out = values * factor if factor != 1.0 else values
    return ureg.Quantity(out.astype(dtype, copy=False), unit)


class BOLDSignal:
    """Balloon-Windkessel BOLD model with a step-by-step API (the seed documentation's).

    Parameters
    ----------
    in_size : int or tuple of int
        Number of regions (or the shape of one input sample).
    dt : pint.Quantity or str
        Time between input samples, a time with its unit (``"1 ms"``,
        ``0.1 * fwdmodels.ureg.ms``).
    params : str or BalloonParams
        A preset name (default ``"friston2003"``) or a parameter set (scalars, or one value
        per region of ``in_size``).
    method : {"split", "rk4", "heun", "euler", "reference"}
        Time stepping (see :func:`simulate_bold`). With ``"split"`` (the default),
        :meth:`update` takes one exact step of the linear part and one hemodynamic step of
        ``dt``; :meth:`run` steps the remainder at ``hemo_dt``. ``"heun"`` is brainmass's
        scheme, for step-by-step comparisons with it.
    backend : {"auto", "numba", "numpy"}
        Numba kernels when numba is installed (``"auto"``), or the NumPy path.
    hemo_dt : pint.Quantity or str, optional
        The split method's hemodynamic step in :meth:`run` (see :func:`simulate_bold`). Pieces
        of a series give the same numbers as the whole, bit for bit, when every piece but the
        last holds a whole number of hemodynamic steps; other pieces give numbers within the
        method's accuracy of the whole.
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

    def __init__(self, in_size, dt, params="friston2003", method=DEFAULT_METHOD,
                 backend="auto", hemo_dt=None, **overrides):
        if isinstance(in_size, (tuple, list)):
            shape = tuple(check_int(s, "in_size", 1) for s in in_size)
        else:
            shape = (check_int(in_size, "in_size", 1),)
        self.in_size = shape
        self.plan = make_plan(dt, params=params, method=method, hemo_dt=hemo_dt,
                              backend=backend, **overrides)
        self._p = self.plan.packed(shape)
        self._hold = self.plan.hold(shape) if self.plan.method == "split" else None
        self._state = None
        self.n_steps = 0

    @property
    def dt(self) -> float:
        """Time between input samples, in seconds."""
        return self.plan.dt

    @property
    def params(self):
        """The model's :class:`~fwdmodels.BalloonParams`."""
        return self.plan.params

    @property
    def method(self) -> str:
        """The integration method."""
        return self.plan.method

    @property
    def backend(self) -> str:
        """``"numba"`` or ``"numpy"``."""
        return self.plan.backend

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
        self._state = initial_state(init, self.params, self.in_size, z)
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
        n = math.prod(self.in_size)
        if single:
            array = read_neural_input(z, "z", tuple(range(len(self.in_size) + 1)))
            if array.shape == self.in_size:
                rows = array.reshape(1, n)
                rows.flags.writeable = False         # a view of the caller's sample
                return rows
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
        state = self._require_state()
        self.plan.run(self._as_rows(z, single=True), state, self._p, self._hold,
                      t0_index=self.n_steps, hemo_steps=1, reduce=False)
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
        bold, states, _ = self.plan.run(rows, state, self._p, self._hold,
                                        store_states=return_states, t0_index=self.n_steps,
                                        reduce=False)
        self.n_steps += rows.shape[0]
        shape = (bold.shape[0],) + self.in_size
        out = _output(bold.reshape(shape), unit, np.float64)
        if not return_states:
            return out
        return out, {k: states[i].reshape(shape) for i, k in enumerate(STATE_NAMES)}


def simulate_bold(z, dt, *, params="friston2003", method=DEFAULT_METHOD, init="rest", tr=None,
                  tr_mode="sample", return_states=False, backend="auto", dtype=np.float64,
                  unit="dimensionless", hemo_dt=None, time_axis=None, **overrides):
    """Compute the BOLD signal of a whole neural time series.

    Parameters
    ----------
    z : array_like, shape (T, N) or (B, T, N)
        Neural input, time first (see the module documentation for its meaning and units).
    dt : pint.Quantity or str
        Time between input samples, with its unit (``"1 ms"``).
    params : str or BalloonParams
        Preset name or parameter set; ``**overrides`` change single values. Any parameter may
        be one value per region, shape ``(N,)``, or per batch member and region ``(B, N)``.
    method : {"split", "rk4", "heun", "euler", "reference"}
        Time stepping. ``"split"`` (the default): the linear (x, f) part solved exactly for the
        input held over each sample, v and q by RK4 with Richardson extrapolation at the
        hemodynamic step ``hemo_dt`` on what the forcing leaves (see
        :mod:`fwdmodels.hemodynamics.split`); its largest BOLD error against RK4 at the input
        step is below 1e-6 of the signal's range for ``hemo_dt`` up to 50 ms on any input,
        oscillations that fit the step included. ``"rk4"``, ``"heun"`` (brainmass's scheme)
        and ``"euler"`` step every state at ``dt``; ``"reference"`` is ``solve_ivp`` at tight
        tolerance, for checks on short inputs.
    init : {"rest", "steady", "brainmass"} or dict
        Initial state: rest, the fixed point of the first input sample ``z[0]``, brainmass's
        start (every state at 1.0), or a dict of ``x, f, v, q`` arrays (shape ``(N,)``, or
        ``(B, N)`` for a batch).
    tr : pint.Quantity or str, optional
        Repetition time; a whole multiple of ``dt``. When given, the output is at
        ``t = TR, 2 TR, ...``; otherwise one row per input sample.
    tr_mode : {"sample", "mean"}
        ``"sample"`` takes the value at each TR; ``"mean"`` averages each TR window.
    return_states : bool
        Also return the states ``x, f, v, q`` (sampled like the output).
    backend : {"auto", "numba", "numpy"}
        Numba kernel or NumPy path (same numbers to ~1e-12).
    dtype : float64 or float32
        Dtype of the returned arrays (the integration always runs in float64).
    unit : str or pint.Unit
        A dimensionless unit for the output, e.g. ``"percent"``.
    hemo_dt : pint.Quantity or str, optional
        The split method's hemodynamic step: a whole multiple of ``dt``, at most 50 ms (or
        ``dt`` itself). By default (or ``"auto"``) the longest whole number of samples within
        20 ms. It sets the accuracy, not the output grid.
    time_axis : int, optional
        The axis of ``z`` that is time, when it is not the default (0 for ``(T, N)``, 1 for
        ``(B, T, N)``); for an input saved regions-first.

    Returns
    -------
    bold : pint.Quantity, shape (T, N) or (B, T, N) (or T // r rows at TR)
        The BOLD signal, row ``n`` at ``t = (n + 1) dt`` (or ``(n + 1) TR``).
    states : dict of ndarray
        Only with ``return_states=True``.
    """
    plan = make_plan(dt, params=params, method=method, tr=tr, tr_mode=tr_mode,
                     hemo_dt=hemo_dt, backend=backend, **overrides)
    dtype = check_dtype(dtype)
    array = time_first(read_neural_input(z), time_axis, plan)
    batched = array.ndim == 3
    B = array.shape[0] if batched else 1
    T, N = array.shape[-2], array.shape[-1]
    rows = array.transpose(1, 0, 2).reshape(T, B * N) if batched else array
    shape = (B, N) if batched else (N,)
    state = initial_state(init, plan.params, shape, array[:, 0] if batched else array[0])
    bold, states, _ = plan.run(rows, state, plan.packed(shape), plan.hold(shape),
                               store_states=return_states)

    def arrange(values: np.ndarray) -> np.ndarray:
        if batched:
            values = values.reshape(values.shape[0], B, N).transpose(1, 0, 2)
        return np.ascontiguousarray(values)

    out = _output(arrange(bold), unit, dtype)
    if not return_states:
        return out
    return out, {k: arrange(states[i]).astype(dtype, copy=False)
                 for i, k in enumerate(STATE_NAMES)}


def time_first(array: np.ndarray, time_axis, plan: BOLDPlan) -> np.ndarray:
    """``array`` with time on axis 0 of ``(T, N)`` (1 of ``(B, T, N)``), checked to give at
    least one output row."""
    default = array.ndim - 2
    if time_axis is not None:
        axis = check_int(time_axis, "time_axis")
        if not -array.ndim <= axis < array.ndim:
            raise FwdModelsError(f"`time_axis` must be an axis of `z` (ndim {array.ndim}); got "
                                 f"{time_axis}")
        array = np.moveaxis(array, axis, default)
    T = array.shape[default]
    where = f"axis {default if time_axis is None else time_axis}"
    if T == 0 or array.shape[-1] == 0:
        raise FwdModelsError(f"`z` must hold at least one time sample and one region; got shape "
                             f"{array.shape} (time on {where})")
    if plan.tr_steps is not None and T < plan.tr_steps:
        raise FwdModelsError(
            f"`z` must hold at least one TR of samples along its time axis ({where}): it has "
            f"{T} samples, a TR is {plan.tr_steps} (tr = {plan.tr:g} s, dt = {plan.dt:g} s). "
            f"If time runs along another axis of z (regions first), pass `time_axis`")
    return array
