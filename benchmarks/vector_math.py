"""What a Heun or RK4 step at the input step costs, and how much of it is ``exp`` and ``log``.

    python benchmarks/vector_math.py                 # 96 regions, 200,000 rows
    python benchmarks/vector_math.py --regions 48 --rows 100000

Side by side in one run, on one thread, each the best of ``--repeats`` interleaved calls
after a warm-up (compilation is not timed), in nanoseconds per element of a row of
``--regions`` float64 values, in compiled loops written as the kernels' loops are (one row
after another, the loop over the row vectorised): a multiply-add (the floor of any loop), a
division, fwdmodels' ``exp`` and ``log`` (:mod:`fwdmodels._vecmath`), and one step of the
Heun and RK4 methods (:func:`fwdmodels.hemodynamics._kernels._heun_row`, ``_rk4_row``) with
the model's default parameters. NumPy's ``np.exp`` and ``np.log`` on a whole array of the
same size are printed beside them for scale (a different loop: one call over all rows).

Each stage of Heun or RK4 evaluates two ``exp``, one ``log`` and three divisions (the
observation adds one per step), which is why these functions set the methods' speed.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def _kernels():
    from numba import njit

    from fwdmodels import _vecmath
    from fwdmodels.hemodynamics import _kernels as K

    options = K._KERNEL_OPTIONS
    exp, log = _vecmath.exp, _vecmath.log

    @njit(**options)
    def multiply_add(a, out, rows):
        for _ in range(rows):
            for i in range(a.size):
                out[i] = a[i] * 0.3 + 1.0

    @njit(**options)
    def divide(a, out, rows):
        for _ in range(rows):
            for i in range(a.size):
                out[i] = 1.0 / (a[i] + 1.5)

    @njit(**options)
    def exp_(a, out, rows):
        for _ in range(rows):
            for i in range(a.size):
                out[i] = exp(a[i] * 0.3)

    @njit(**options)
    def log_(a, out, rows):
        for _ in range(rows):
            for i in range(a.size):
                out[i] = log(a[i] + 1.5)

    @njit(**options)
    def steps(z, dt, P, sx, sf, sv, sq, bt, rk4):
        for t in range(z.shape[0]):
            if rk4:
                K._rk4_row(z[t], dt, P, sx, sf, sv, sq, bt)
            else:
                K._heun_row(z[t], dt, P, sx, sf, sv, sq, bt)

    return multiply_add, divide, exp_, log_, steps


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--regions", type=int, default=96, help="elements per row (default 96)")
    parser.add_argument("--rows", type=int, default=200_000, help="rows (default 200,000)")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls (default 5)")
    args = parser.parse_args(argv)
    if args.regions < 1 or args.rows < 1 or args.repeats < 1:
        parser.error("--regions, --rows and --repeats must be at least 1")

    from numba import config, set_num_threads

    from fwdmodels.hemodynamics import equations
    from fwdmodels.hemodynamics.params import BalloonParams

    if config.NUMBA_NUM_THREADS > 1:
        set_num_threads(1)
    multiply_add, divide, exp_, log_, steps = _kernels()
    m, rows = args.regions, args.rows
    rng = np.random.default_rng(0)
    a, out = rng.random(m), np.empty(m)
    P = np.ascontiguousarray(np.repeat(equations.pack_params(BalloonParams())[:, None], m, 1))
    z = 0.1 * rng.standard_normal((rows // 10, m))   # the step kernels: a tenth of the rows

    def state():
        return np.zeros(m), np.ones(m), np.ones(m), np.ones(m), np.empty(m)

    whole = rng.random((rows // 10, m)) + 0.5
    cases = [
        ("multiply-add", lambda r: multiply_add(a, out, r), rows),
        ("division", lambda r: divide(a, out, r), rows),
        ("fwdmodels exp", lambda r: exp_(a, out, r), rows),
        ("fwdmodels log", lambda r: log_(a, out, r), rows),
        ("NumPy np.exp, one call", lambda r: np.exp(whole), rows // 10),
        ("NumPy np.log, one call", lambda r: np.log(whole), rows // 10),
        ("Heun step (per region)", lambda r: steps(z, 1e-3, P, *state(), False), rows // 10),
        ("RK4 step (per region)", lambda r: steps(z, 1e-3, P, *state(), True), rows // 10),
    ]
    for _, call, _ in cases:                      # compile and warm up
        call(1)
    best = {name: np.inf for name, _, _ in cases}
    for _ in range(args.repeats):
        for name, call, count in cases:
            start = time.perf_counter()
            call(count)
            best[name] = min(best[name], time.perf_counter() - start)
    print(f"{m} elements per row, one thread, best of {args.repeats}")
    print(f"  {'':28s} {'ns / element':>13s}  {'x multiply-add':>15s}")
    floor = best["multiply-add"] / (rows * m)
    for name, _, count in cases:
        ns = best[name] / (count * m)
        print(f"  {name:28s} {ns * 1e9:13.2f}  {ns / floor:15.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
