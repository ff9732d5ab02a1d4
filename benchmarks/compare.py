"""Time two versions of fwdmodels side by side: this checkout and a git revision.

    python benchmarks/compare.py REV                  # e.g. HEAD~1, a tag, a commit
    python benchmarks/compare.py REV --threads 1 --rounds 7
    python benchmarks/compare.py REV --quick          # small sizes, a smoke test

A change to a kernel, or to how it is compiled, can cost speed that no test sees: the numbers
stay the same. This script shows it. The revision's files are written to a temporary directory
(``git archive``) and each version runs in its own long-lived worker process that imports
fwdmodels from its own tree and keeps its own, new Numba cache. Each worker compiles and warms
every case before the first timing. The cases are then timed in rounds, each version in turn
(A first in one round, B first in the next), so that a busy period of a shared machine falls
on both. The best time of each is kept, with the system time of that call (page faults,
mostly), and the ratio ``checkout / REV`` is printed (below 1: the checkout is faster),
with the largest difference between the two versions' BOLD outputs as a fraction of its range
(0 when the change left the numbers alone).

The cases are the ones whose speed the project promises (``benchmarks/run.py`` has the whole
table and the peers): Heun and RK4 at a 1-ms input step, the default split method at a 0.1-ms
step with one row per input sample and at a 2-s TR, each on one thread and on all of them;
and the step-by-step API (``BOLDSignal.update`` then ``.bold`` for each of 2,000 samples),
whose cost is mostly Python's, not the kernels'.
The first compilation of each tree is timed as well, with its cache emptied beforehand.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from run import make_input  # the input run.py times: block design, 10-Hz rhythm, noise

HERE = Path(__file__).resolve()
ROOT = HERE.parent.parent

#: name: (simulate_bold options, input step in s, which of the two lengths)
CASES = {
    "heun, 1 ms": (dict(method="heun"), 1e-3, "steps"),
    "rk4, 1 ms": (dict(method="rk4"), 1e-3, "steps"),
    "split, 0.1 ms, every sample": (dict(method="split"), 1e-4, "fast_steps"),
    "split, 0.1 ms, TR 2 s": (dict(method="split", tr="2 s"), 1e-4, "fast_steps"),
    # BOLDSignal.update and .bold once per sample, as the seed documentation's loop does
    "update and bold, 1 ms": (dict(step_by_step=True), 1e-3, "steps"),
}
#: Samples of the step-by-step case (a Python loop: about 0.2 ms per sample on 90 regions).
STEP_SAMPLES = 2000


# --------------------------------------------------------------------------- the worker
def worker(sizes: dict, outdir: Path, tag: str) -> None:
    """Serve requests on stdin, one JSON object per line, answer one per line on stdout."""
    import numba

    import fwdmodels

    inputs = {}

    def run(name):
        options, dt, length = CASES[name]
        key = (dt, length)
        if key not in inputs:
            inputs[key] = make_input(sizes[length], sizes["regions"], dt)
        if options.get("step_by_step"):
            model = fwdmodels.BOLDSignal(sizes["regions"], f"{dt!r} s", backend="numba")
            model.init_all_states()
            rows = []
            for zt in inputs[key][:STEP_SAMPLES]:
                model.update(zt)
                rows.append(model.bold().magnitude)
            return fwdmodels.ureg.Quantity(np.stack(rows), "dimensionless")
        return fwdmodels.simulate_bold(inputs[key], f"{dt!r} s", backend="numba", **options)

    reply = {"file": fwdmodels.__file__}
    for line in sys.stdin:
        request = json.loads(line)
        if request["do"] == "compile":
            start = time.perf_counter()
            fwdmodels.simulate_bold(np.zeros((300, 2)), "1 ms", method="heun", backend="numba")
            fwdmodels.simulate_bold(np.zeros((300, 2)), "1 ms", method="split", backend="numba")
            reply = {"seconds": time.perf_counter() - start}
        elif request["do"] == "time":
            numba.set_num_threads(request["threads"])
            before = resource.getrusage(resource.RUSAGE_SELF).ru_stime
            start = time.perf_counter()
            out = run(request["case"])
            reply = {"seconds": time.perf_counter() - start,
                     "system": resource.getrusage(resource.RUSAGE_SELF).ru_stime - before}
            if request.get("save"):
                path = outdir / f"{tag}-{sorted(CASES).index(request['case'])}.npy"
                np.save(path, out.magnitude)
                reply["output"] = str(path)
        print(json.dumps(reply), flush=True)
        reply = {}


# --------------------------------------------------------------------------- the parent
class Worker:
    def __init__(self, tree: Path, cache: Path, sizes: dict, outdir: Path, tag: str):
        env = dict(os.environ, PYTHONPATH=str(tree), NUMBA_CACHE_DIR=str(cache))
        cmd = [sys.executable, str(HERE), "--worker", "--sizes", json.dumps(sizes),
               "--outdir", str(outdir), "--tag", tag]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, env=env, cwd=outdir)
        self.file = self.ask({"do": "hello"})["file"]

    def ask(self, request: dict) -> dict:
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"a worker stopped (request {request}); its error is above")
        return json.loads(line)

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def _tree_of(rev: str, where: Path) -> Path:
    """The files of ``rev`` under ``where`` (``git archive``: no checkout is touched)."""
    tree = where / "rev"
    tree.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", rev],
                             capture_output=True, check=False)
    if archive.returncode != 0:
        raise SystemExit(f"compare.py: git archive {rev!r} failed: "
                         f"{archive.stderr.decode().strip()}")
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    return tree


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rev", nargs="?", help="git revision to compare this checkout with")
    parser.add_argument("--regions", type=int, default=90, help="regions N (default 90)")
    parser.add_argument("--steps", type=int, default=100_000,
                        help="input steps at 1 ms (default 100000)")
    parser.add_argument("--fast-steps", type=int, default=400_000,
                        help="input steps at 0.1 ms (default 400000)")
    parser.add_argument("--threads", default=None,
                        help="thread counts, comma-separated (default: 1 and all)")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds (default 5)")
    parser.add_argument("--cases", default="",
                        help="only the cases whose name contains this text (e.g. split)")
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--sizes", help=argparse.SUPPRESS)
    parser.add_argument("--outdir", help=argparse.SUPPRESS)
    parser.add_argument("--tag", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(json.loads(args.sizes), Path(args.outdir), args.tag)
        return 0
    if args.rev is None:
        parser.error("the argument rev is required (a git revision such as HEAD~1)")
    if args.quick:
        args.steps, args.fast_steps, args.rounds = 3000, 30000, 2
    import numba
    threads = ([1, numba.config.NUMBA_NUM_THREADS] if args.threads is None
               else [int(t) for t in args.threads.split(",")])
    threads = sorted(set(threads))
    cases = [case for case in CASES if args.cases in case]
    if not cases:
        parser.error(f"--cases {args.cases!r} matches none of {sorted(CASES)}")
    sizes = dict(regions=args.regions, steps=args.steps, fast_steps=args.fast_steps)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        trees = {"checkout": ROOT, args.rev: _tree_of(args.rev, tmp)}
        workers = {}
        for tag, tree in trees.items():
            cache = tmp / f"cache-{len(workers)}"
            cache.mkdir()
            # a new, empty cache: compiled code left beside either tree's sources is not used
            workers[tag] = Worker(tree, cache, sizes, tmp, f"w{len(workers)}")
        try:
            _compare(workers, cases, threads, args)
        finally:
            for w in workers.values():
                w.close()
    return 0


def _compare(workers: dict, cases: list[str], threads: list[int], args) -> None:
    (a, wa), (b, wb) = workers.items()
    print(f"A = {a}: {wa.file}\nB = {b}: {wb.file}")
    print(f"N = {args.regions}; {args.steps} steps at 1 ms, {args.fast_steps} at 0.1 ms; "
          f"best of {args.rounds} alternating rounds\n")
    compile_a = wa.ask({"do": "compile"})["seconds"]
    compile_b = wb.ask({"do": "compile"})["seconds"]
    print(f"first call, compilation included: A {compile_a:.1f} s, B {compile_b:.1f} s\n")
    best = {}
    outputs = {}
    for case in cases:                          # warm-up, and the outputs for the difference
        for tag, w in workers.items():
            outputs[case, tag] = w.ask({"do": "time", "case": case, "threads": threads[-1],
                                        "save": True})["output"]
    for round_ in range(args.rounds):
        for case in cases:
            for n in threads:
                order = list(workers.items())   # A first in even rounds, B first in odd ones
                for tag, w in (order if round_ % 2 == 0 else order[::-1]):
                    reply = w.ask({"do": "time", "case": case, "threads": n})
                    if reply["seconds"] < best.get((case, n, tag), (np.inf,))[0]:
                        best[case, n, tag] = reply["seconds"], reply["system"]
    print(f"{'case':30s} {'threads':>7s} {'A s':>9s} {'B s':>9s} {'A / B':>7s} "
          f"{'max |A-B| / range':>18s} {'system s, A B':>14s}")
    for case in cases:
        out_a, out_b = np.load(outputs[case, a]), np.load(outputs[case, b])
        diff = (float(np.abs(out_a - out_b).max() / np.ptp(out_b))
                if out_a.shape == out_b.shape else float("nan"))
        for n in threads:
            (ta, sa), (tb, sb) = best[case, n, a], best[case, n, b]
            print(f"{case:30s} {n:7d} {ta:9.3f} {tb:9.3f} {ta / tb:7.3f} {diff:18.2e} "
                  f"{sa:7.2f}{sb:7.2f}")


if __name__ == "__main__":
    sys.exit(main())
