"""Integration of the hemodynamic state over a (T, N) input: method and backend dispatch.

This is the one place that chooses between the Numba kernel, the NumPy stepper and the
``solve_ivp`` reference, and the one place that turns a kernel's failure status into a
:class:`~fwdmodels.errors.DomainError`. Everything here is unitless SI floats.
"""

from __future__ import annotations

import numpy as np

from .._validation import check_option
from ..errors import DomainError
from .equations import observe, rhs
from .integrators import METHOD_CODES, TABLEAUX, rk_step
from .split import integrate_split_numpy

__all__ = ["METHODS", "BACKENDS", "STATE_NAMES", "integrate", "integrate_split",
           "resolve_backend"]

#: Integration methods: the split scheme (the default) and the classical fixed-step ones.
METHODS = ("split", "euler", "heun", "rk4", "reference")
BACKENDS = ("auto", "numba", "numpy")

#: Tolerances of the ``"reference"`` method (``solve_ivp`` with DOP853).
REFERENCE_RTOL = 1e-12
REFERENCE_ATOL = 1e-14

#: The four hemodynamic states, in the order of every state array: vasodilatory signal x
#: (s^-1), normalised inflow f, volume v and deoxyhemoglobin q.
STATE_NAMES = ("x", "f", "v", "q")


def resolve_backend(backend: str) -> str:
    """``"auto"`` is Numba when numba is installed and compiling, NumPy otherwise."""
    check_option(backend, "backend", BACKENDS)
    if backend == "numba":
        from .. import _numba

        if not _numba.HAVE_NUMBA:
            from ..errors import MissingDependencyError

            raise MissingDependencyError("numba", "numba", "backend='numba'")
        return "numba"
    if backend == "auto":
        from .. import _numba

        return "numba" if _numba.JIT_ENABLED else "numpy"
    return backend


def _input(z: np.ndarray) -> np.ndarray:
    """``z`` as a C-contiguous read-only view (a copy only when it is not contiguous).

    Numba compiles one version of a kernel per memory layout and writeability of its array
    arguments; handing every kernel the same kind of array (and its parameters C-contiguous)
    keeps it to one compilation, whatever the caller's array.
    """
    view = np.ascontiguousarray(z).view()
    view.flags.writeable = False
    return view


def integrate_split(z: np.ndarray, dt: float, p: np.ndarray, hold: np.ndarray,
                    state: np.ndarray, hemo_steps: int, backend: str = "auto",
                    store_states: bool = False, t0_index: int = 0, out_every: int = 1,
                    out_mean: bool = False):
    """The split method (:mod:`.split`) over ``z`` (T, N) from ``state`` (4, N), advanced in
    place; one output row every ``out_every`` samples (their mean with ``out_mean``).

    Returns ``(bold, states, error)``: ``bold`` (T // out_every, N), ``states`` (4, rows, N)
    or None, and ``error`` (N,), the largest error estimate of each region. On a domain
    failure, ``state`` is restored and a DomainError names the time index and region.
    """
    T, N = z.shape
    rows = T // out_every
    start = state.copy()
    if resolve_backend(backend) == "numba":
        from . import _split_kernels

        bold = np.empty((rows, N))
        states = np.empty((4, rows, N)) if store_states else np.empty((4, 0, N))
        error = np.zeros(N)
        flat = _split_kernels.integrate(_input(z), float(dt), np.ascontiguousarray(p),
                                        np.ascontiguousarray(hold), state, hemo_steps,
                                        out_every, out_mean, bold, states, error)
        failure = None if flat < 0 else divmod(int(flat), N)
        states = states if store_states else None
    else:
        bold, states, error, failure = integrate_split_numpy(
            z, dt, p, hold, state, hemo_steps, out_every, out_mean, store_states)
    if failure is not None:
        t, i = failure
        state[...] = start
        x, f, v, q = _split_state_at(z[:t + 1, i:i + 1], dt, p[:, i:i + 1],
                                     hold[:, :, i:i + 1], start[:, i:i + 1], hemo_steps)
        bad = _first_bad((x, f, v, q))
        raise DomainError(
            f"the hemodynamic state left its domain by time index {t0_index + t} "
            f"(t = {(t0_index + t + 1) * dt:.6g} s), region {i}: {bad} (v and f must stay "
            f"positive and every state finite). Check the input's scale near that time; a "
            f"shorter hemo_dt resolves a fast excursion better",
            time_index=t0_index + t, region=i)
    return bold, states, error


def _split_state_at(z, dt, p, hold, start, hemo_steps):
    """Region state after ``z`` by the NumPy split path, whatever happens (for messages)."""
    state = start.copy()
    with np.errstate(all="ignore"):
        integrate_split_numpy(z, dt, p, hold, state, hemo_steps)
    return tuple(state[k, 0] for k in range(4))


def integrate(z: np.ndarray, dt: float, p: np.ndarray, state: np.ndarray, method: str,
              backend: str = "auto", store_states: bool = False, t0_index: int = 0):
    """Integrate ``z`` (T, N) from ``state`` (4, N) with a fixed-step method, which is
    advanced in place.

    Returns ``(bold, states)``: ``bold`` (T, N) float64 and ``states`` (4, T, N) or None.
    On a domain failure, ``state`` is restored to its value on entry and a DomainError
    names the time index (counted from ``t0_index``) and region.
    """
    check_option(method, "method", METHODS[1:])
    T, N = z.shape
    start = state.copy()
    bold = np.empty((T, N))
    states = np.empty((4, T, N)) if store_states else None
    if method == "reference":
        failure = _integrate_reference(z, dt, p, state, bold, states)
    elif resolve_backend(backend) == "numba":
        from . import _kernels

        scratch = states if store_states else np.empty((4, 0, N))
        flat = _kernels.integrate(_input(z), float(dt), np.ascontiguousarray(p), state, bold,
                                  scratch, METHOD_CODES[method])
        failure = None if flat < 0 else divmod(int(flat), N)
    else:
        failure = _integrate_numpy(z, dt, p, state, bold, states, TABLEAUX[method])
    if failure is not None:
        t, i = failure
        bad = _first_bad(state_after_failure(z, dt, p, start, t, i, method, backend))
        state[...] = start
        raise DomainError(
            f"the hemodynamic state left its domain at time index {t0_index + t} "
            f"(t = {(t0_index + t + 1) * dt:.6g} s), region {i}: {bad} "
            f"(v and f must stay positive and every state finite). Use a smaller dt or "
            f"method='rk4', and check the input's scale near that time",
            time_index=t0_index + t, region=i)
    return bold, states


def state_after_failure(z, dt, p, start, t, i, method, backend):
    """Recompute region ``i`` up to step ``t`` with NumPy to report the offending values."""
    y = tuple(start[k, i] for k in range(4))
    with np.errstate(all="ignore"):
        if method == "reference":
            return y
        for n in range(t + 1):
            y = rk_step(y, z[n, i], dt, p[:, i], TABLEAUX[method])
    return y


def _first_bad(y) -> str:
    for name, value in zip(STATE_NAMES, y):
        if not np.isfinite(value) or (name in ("f", "v") and value <= 0):
            return f"{name} = {float(value)!r}"
    return "a stage of the step left the domain"


def _valid(y) -> np.ndarray:
    x, f, v, q = y
    return (v > 0) & (f > 0) & np.isfinite(x) & np.isfinite(f) & np.isfinite(v) & np.isfinite(q)


def _integrate_numpy(z, dt, p, state, bold, states, tableau):
    y = tuple(state[k].copy() for k in range(4))
    with np.errstate(all="ignore"):
        for n in range(z.shape[0]):
            y_new = rk_step(y, z[n], dt, p, tableau)
            ok = _valid(y_new)
            if not ok.all():
                return n, int(np.argmin(ok))
            y = y_new
            bold[n] = observe(y[2], y[3], p)
            if states is not None:
                for k in range(4):
                    states[k, n] = y[k]
    for k in range(4):
        state[k] = y[k]
    return None


def _integrate_reference(z, dt, p, state, bold, states):
    """``solve_ivp`` (DOP853, rtol 1e-12, atol 1e-14) over each run of constant input."""
    from scipy.integrate import solve_ivp  # imported here: it is slow to import

    T, N = z.shape
    y0 = state.reshape(-1).copy()
    # Runs of identical input rows are integrated in one call each.
    change = np.ones(T, dtype=bool)
    change[1:] = np.any(z[1:] != z[:-1], axis=1)
    starts = np.flatnonzero(change)
    ends = np.append(starts[1:], T)
    for a, b in zip(starts, ends):
        zrow = z[a]

        def fun(_t, y, zrow=zrow):
            x, f, v, q = y.reshape(4, N)
            return np.concatenate(rhs(x, f, v, q, zrow, p))

        t_eval = (np.arange(a, b) + 1 - a) * dt
        with np.errstate(all="ignore"):
            sol = solve_ivp(fun, (0.0, (b - a) * dt), y0, method="DOP853", t_eval=t_eval,
                            rtol=REFERENCE_RTOL, atol=REFERENCE_ATOL)
        if sol.status != 0 or sol.y.shape[1] != b - a:
            return a + sol.y.shape[1], 0
        ys = sol.y.reshape(4, N, b - a).transpose(0, 2, 1)
        ok = _valid(tuple(ys))
        if not ok.all():
            t, i = np.unravel_index(int(np.argmin(ok)), ok.shape)
            return a + int(t), int(i)
        bold[a:b] = observe(ys[2], ys[3], p)
        if states is not None:
            states[:, a:b] = ys
        y0 = sol.y[:, -1].copy()
    state[...] = y0.reshape(4, N)
    return None

