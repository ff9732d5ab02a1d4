"""Multi-rate hemodynamics: integrate the Balloon model at a step much longer than the input's.

The hemodynamic time constants are near a second, while neural input often comes every 0.1 to
1 ms. With ``hemo_dt = r dt`` the input is averaged over each block of ``r`` samples and the
ODE takes one step of ``hemo_dt`` per block, holding that mean. Output row ``k`` is then the
state at ``t = (k + 1) hemo_dt``; a trailing partial block becomes one shorter step, so no
input is lost.

Error. Holding the block mean instead of the samples changes the state at the block's end by
the response to the mean-free part of the input within the block: the vasodilatory signal
``x`` integrates it with weight ``exp(-kappa s)``, so the first-order effect is the input's
first moment about the block centre times ``kappa``, and ``f, v, q`` see it once more
smoothed. It is second order in ``hemo_dt`` for smooth input and bounded by
``hemo_dt * max|z - mean|`` for any input; RK4 adds ``O(hemo_dt**4)``. In practice, on 0.1-ms
input mixing a block design with 10-Hz noisy activity, ``hemo_dt = 20 ms`` gives a largest
BOLD error near 1e-5 of the signal's range (``tests/test_multirate.py``).

``hemo_dt="auto"`` estimates the error instead of assuming it: it integrates at a ladder of
steps from ``max_hemo_dt`` down, compares each result with the next finer one at their common
times, and keeps the largest step whose difference is at most half the tolerance (times the
signal's range). Because each finer step is at least twice as fine and the error shrinks at
least linearly with the step, half the difference bounds the finer result's error, so the
kept result's error is at most the tolerance.
"""

from __future__ import annotations

import numpy as np

from .._validation import check_finite, check_positive
from ..errors import FwdModelsError
from ..units import to_si
from .engine import integrate

__all__ = ["block_means", "integrate_multirate", "auto_hemo_dt", "resolve_hemo_steps",
           "DEFAULT_TOLERANCE", "MAX_HEMO_DT"]

#: Default tolerance of ``hemo_dt="auto"``: a fraction of the BOLD signal's range.
DEFAULT_TOLERANCE = 1e-4
#: Longest step ``"auto"`` tries, in seconds.
MAX_HEMO_DT = 0.05


def block_means(z: np.ndarray, r: int) -> np.ndarray:
    """Means of ``z`` (T, N) over consecutive blocks of ``r`` rows (the last may be shorter)."""
    sums, lengths = _block_sums(z, r)
    return sums / lengths[:, None]


def _block_sums(z: np.ndarray, r: int) -> tuple[np.ndarray, np.ndarray]:
    """Sums of ``z`` over blocks of ``r`` rows and the blocks' lengths (one pass over z).

    Also the finiteness check of ``z``: a block holding NaN or inf has a non-finite sum, and
    then the error names the first non-finite sample (see :func:`check_finite`).
    """
    T = z.shape[0]
    full = T // r
    sums = z[: full * r].reshape(full, r, z.shape[1]).sum(axis=1)
    lengths = np.full(full, float(r))
    if full * r < T:
        sums = np.vstack([sums, z[full * r:].sum(axis=0, keepdims=True)])
        lengths = np.append(lengths, float(T - full * r))
    if not np.isfinite(sums).all():
        check_finite(z, "z")
    return sums, lengths


def _coarsen(sums: np.ndarray, lengths: np.ndarray, k: int):
    """Block sums over ``k`` times longer blocks, from finer block sums (no pass over z)."""
    n = sums.shape[0]
    full = n // k
    coarse = sums[: full * k].reshape(full, k, sums.shape[1]).sum(axis=1)
    coarse_len = lengths[: full * k].reshape(full, k).sum(axis=1)
    if full * k < n:
        coarse = np.vstack([coarse, sums[full * k:].sum(axis=0, keepdims=True)])
        coarse_len = np.append(coarse_len, lengths[full * k:].sum())
    return coarse, coarse_len


def integrate_multirate(z, dt, p, state, method, backend, r, store_states=False, means=None,
                        t0_index=0):
    """Integrate at ``r * dt`` on block means; returns ``(bold, states)`` at the coarse rows.

    ``means`` may give the block means when they are already known; ``t0_index`` counts the
    coarse rows before this call, for the time named in a domain error.
    """
    T = z.shape[0]
    if means is None:
        means = block_means(z, r) if r > 1 else check_finite(z, "z")
    full = T // r
    bold, states = integrate(means[:full], r * dt, p, state, method, backend,
                             store_states=store_states, t0_index=t0_index)
    if full * r == T:
        return bold, states
    tail_bold, tail_states = integrate(means[full:], (T - full * r) * dt, p, state, method,
                                       backend, store_states=store_states,
                                       t0_index=t0_index + full)
    bold = np.vstack([bold, tail_bold])
    if store_states:
        states = np.concatenate([states, tail_states], axis=1)
    return bold, states


def resolve_hemo_steps(hemo_dt, dt: float, tr_steps: int | None) -> int:
    """``hemo_dt`` (a time quantity) as a whole number of input steps; checked against TR."""
    seconds = to_si(hemo_dt, "hemo_dt", "[time]")
    check_positive(seconds, "hemo_dt", " s")
    ratio = seconds / dt
    r = int(round(ratio))
    if r < 1 or abs(ratio - r) > 1e-9 * max(1.0, ratio):
        raise FwdModelsError(f"`hemo_dt` must be a whole multiple of dt; got hemo_dt = "
                             f"{seconds:g} s and dt = {dt:g} s (ratio {ratio:.9g})")
    if tr_steps is not None and tr_steps % r:
        raise FwdModelsError(f"`tr` must be a whole multiple of hemo_dt; got tr = "
                             f"{tr_steps * dt:g} s and hemo_dt = {seconds:g} s")
    return r


def _ladder(dt: float, tr_steps: int | None, max_hemo_dt: float) -> list[int]:
    """Candidate block lengths r, longest first, each at least twice the next."""
    r_max = max(1, int(np.floor(max_hemo_dt / dt + 1e-9)))
    if tr_steps is not None:  # r must divide the TR
        r_max = max(d for d in range(1, min(r_max, tr_steps) + 1) if tr_steps % d == 0)
    ladder = [r_max]
    while ladder[-1] > 1:
        r = ladder[-1]
        finer = [d for d in range(1, r // 2 + 1) if r % d == 0]
        ladder.append(max(finer))
    return ladder


def auto_hemo_dt(z, dt, p, state, method, backend, tol=DEFAULT_TOLERANCE, tr_steps=None,
                 max_hemo_dt=MAX_HEMO_DT, store_states=False):
    """Pick the longest step meeting ``tol`` (see the module documentation).

    Returns ``(r, bold, states)``: the chosen block length and its result; ``state`` is
    advanced as if that run had been done.
    """
    check_positive(tol, "hemo_tol")
    start = state.copy()
    ladder = _ladder(dt, tr_steps, max_hemo_dt)
    sums = {}
    runs = {}
    # One pass over z gives the sums at the finest step of at least 1 ms; every longer step
    # of the ladder is a multiple of it, so its sums follow without reading z again.
    base = min((r for r in ladder if r * dt >= 1e-3 and r > 1), default=None)
    if base is not None:
        sums[base] = _block_sums(z, base)

    def run(r):
        if r not in runs:
            finer = [f for f in sums if r % f == 0]
            if finer:
                f = max(finer)
                sums[r] = _coarsen(*sums[f], r // f)
            elif r > 1:
                sums[r] = _block_sums(z, r)
            means = sums[r][0] / sums[r][1][:, None] if r > 1 else check_finite(z, "z")
            s = start.copy()
            bold, states = integrate_multirate(z, dt, p, s, method, backend, r, store_states,
                                               means=means)
            runs[r] = (bold, states, s)
        return runs[r]

    T = z.shape[0]
    chosen = ladder[-1]
    for coarse, fine in zip(ladder[:-1], ladder[1:]):
        bold_f = run(fine)[0]          # the finer one first: the coarse means come from it
        bold_c = run(coarse)[0]
        k = coarse // fine
        full = T // coarse
        # common times: the ends of the coarse blocks (fine rows k-1, 2k-1, ...), and T dt
        diff = np.abs(bold_c[:full] - bold_f[k - 1: full * k: k]).max() if full else 0.0
        if T % coarse:
            diff = max(diff, np.abs(bold_c[-1] - bold_f[-1]).max())
        scale = np.ptp(bold_f) if bold_f.size else 0.0
        if diff <= 0.5 * tol * scale or scale == 0.0:
            chosen = coarse
            break
    bold, states, final = run(chosen)
    state[...] = final
    return chosen, bold, states
