"""Where the split method's time goes, per region and input sample, on one thread.

    python benchmarks/split_parts.py                 # 400,000 x 90 at 0.1 ms
    python benchmarks/split_parts.py --steps 100000 --repeats 5
    python benchmarks/split_parts.py --quick         # small sizes, for a smoke test

Side by side in one run (each the best of ``--repeats`` calls after a warm-up, interleaved so
that all see the same machine): reading the input once (``z.sum(axis=0)``), copying it, the
whole split method with one output row per TR (2 s) and with one per input sample (the
default), at a TR with hemodynamic steps of 5 to 50 ms (whose times, fitted, split the cost
into a part per sample and a part per step), and the loop over samples of its pass alone,
compiled as in the kernel (work-array groups of 16 regions,
:mod:`fwdmodels.hemodynamics._split_pass`), without and with the integrals read off at every
sample as the one-row-per-sample output needs them. Prints nanoseconds per region-sample and
each time over the read.

The pass alone is the floor of the method: every sample costs its hold recursion, the
expansion of the forcing of q and four sums, whatever the output; per-step work (the RK4
step on the remainder, the quarter nodes) comes on top, and one row per sample adds the
integrals, the interpolation and the writing of the row.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def make_input(steps: int, regions: int, dt: float) -> np.ndarray:
    """The input of ``benchmarks/run.py``: block design, 10-Hz activity and noise."""
    rng = np.random.default_rng(0)
    t = np.arange(steps) * dt
    blocks = ((t % 20.0) < 10.0).astype(float)[:, None] * rng.uniform(0.5, 1.0, regions)
    alpha = 0.3 * np.sin(2 * np.pi * 10.0 * t)[:, None] * rng.uniform(0.5, 1.5, regions)
    return blocks + alpha + 0.2 * rng.standard_normal((steps, regions))


def pass_loops():
    """Compiled loops over the samples of the pass, for ``G`` groups of lanes."""
    from fwdmodels._numba import njit
    from fwdmodels.hemodynamics import _split_pass as sp
    from fwdmodels.hemodynamics._kernels import _KERNEL_OPTIONS

    def make(read):
        @njit(**_KERNEL_OPTIONS)
        def run(G, n, dt, column, z):
            W = np.zeros((G, sp._ROWS, sp.LANES))   # allocated here, as in the kernel
            for g in range(G):
                for k in range(sp._ROWS):
                    for i in range(sp.LANES):
                        W[g, k, i] = column[k]
            for s in range(n):
                for g in range(G):
                    for i in range(sp.LANES):
                        W[g, sp._Z, i] = z[s]
                if read:
                    for g in range(G):
                        sp._sample_read(W, g, s + 1, dt)
                else:
                    for g in range(G):
                        sp._sample(W, g)
            return W[0, sp._X, 0]
        return run

    return make(False), make(True)


def work_column(dt: float) -> np.ndarray:
    """One lane's rows of the work array: the default parameters, their hold coefficients,
    the expansion about rest."""
    from fwdmodels.hemodynamics import _split_pass as sp
    from fwdmodels.hemodynamics.equations import pack_params
    from fwdmodels.hemodynamics.forcing import taylor_coefficients
    from fwdmodels.hemodynamics.params import BalloonParams
    from fwdmodels.hemodynamics.split import hold_coefficients

    params = BalloonParams()
    p = pack_params(params)
    column = np.zeros(sp._ROWS)
    column[sp._C:sp._C + 6] = hold_coefficients(params.kappa, params.gamma, dt)[0, :, 0]
    column[sp._BETA:sp._BETA + 8] = taylor_coefficients(0.0, p)
    column[sp._BOUND] = 0.05
    column[sp._P:sp._P + p.size] = p
    return column


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--regions", type=int, default=90)
    parser.add_argument("--steps", type=int, default=400_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1,
                        help="Numba threads for the whole method (default 1)")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.repeats = 20_000, 1
    import numba

    import fwdmodels
    from fwdmodels.hemodynamics import _split_pass as sp

    numba.set_num_threads(args.threads)
    dt = 1e-4
    z = make_input(args.steps, args.regions, dt)
    groups = -(-args.regions // sp.LANES)
    plain, read = pass_loops()
    column = work_column(dt)
    drive = np.ascontiguousarray(z[:, 0])
    contenders = {
        "read the input once": lambda: z.sum(axis=0),
        "copy the input": lambda: z.copy(),
        "split, TR 2 s": lambda: fwdmodels.simulate_bold(z, f"{dt} s", tr="2 s"),
        "split, every sample (default)": lambda: fwdmodels.simulate_bold(z, f"{dt} s"),
        **{f"split, TR 2 s, {ms} ms step": (lambda ms=ms: fwdmodels.simulate_bold(
            z, f"{dt} s", tr="2 s", hemo_dt=f"{ms} ms")) for ms in STEPS_MS},
        "pass alone": lambda: plain(groups, args.steps, dt, column, drive),
        "pass alone, integrals read off": lambda: read(groups, args.steps, dt, column, drive),
    }
    best = dict.fromkeys(contenders, np.inf)
    for func in contenders.values():
        func()                                    # compile or load, page in
    for _ in range(args.repeats):
        for name, func in contenders.items():
            start = time.perf_counter()
            func()
            best[name] = min(best[name], time.perf_counter() - start)
    samples = args.steps * args.regions
    print(f"{args.steps} x {args.regions} at 0.1 ms, {args.threads} thread(s), best of "
          f"{args.repeats}; the pass alone runs {groups} groups of {sp.LANES} lanes (its time "
          f"per region-sample is per lane)")
    print(f"  {'':34s} {'seconds':>9s} {'ns / region-sample':>19s} {'x read':>8s}")
    for name, seconds in best.items():
        lanes = groups * sp.LANES if name.startswith("pass") else args.regions
        print(f"  {name:34s} {seconds:9.3f} {seconds / (args.steps * lanes) * 1e9:19.2f} "
              f"{seconds / best['read the input once']:8.1f}")
    # time = steps * regions * (per sample + per step / samples per step): least squares
    per = np.array([best[f"split, TR 2 s, {ms} ms step"] / samples for ms in STEPS_MS])
    r = np.array([ms * 1e-3 / dt for ms in STEPS_MS])
    (a, b), *_ = np.linalg.lstsq(np.column_stack([np.ones_like(r), 1.0 / r]), per, rcond=None)
    print(f"  at a TR, fitted over hemodynamic steps of {', '.join(map(str, STEPS_MS))} ms: "
          f"{a * 1e9:.2f} ns per region-sample + {b * 1e9:.0f} ns per region-step")
    return 0


#: Hemodynamic steps (ms) over which the per-sample and per-step costs are fitted.
STEPS_MS = (5, 10, 20, 50)


if __name__ == "__main__":
    sys.exit(main())
