"""How ``fwdmodels batch`` throughput scales with the number of Dask workers on this machine.

    python benchmarks/batch_scaling.py                      # 1 and 2 workers, prints a table
    python benchmarks/batch_scaling.py --workers 1 2 4 --files 16 --json scaling.json
    python benchmarks/batch_scaling.py --quick              # small sizes, for a smoke test

A folder of ``--files`` saved simulations (``.npz``, ``--steps`` × ``--regions`` at 1 ms, what
a neural-mass sweep writes) is processed like ``fwdmodels batch`` does it (the same
:func:`fwdmodels.cli.batch.process_file` tasks, one per file, on a ``LocalCluster`` of worker
processes on loopback, each with ``cores / workers`` threads for its kernels). For each worker
count the cluster is started and warmed up (imports, kernels loaded from Numba's cache) before
the clock starts; the table gives the start-up time apart, the wall time of the batch, files
and region-steps per second, and the speed-up and parallel efficiency against one worker.
Each configuration runs ``--repeats`` times on fresh outputs and keeps the best.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def make_files(folder: Path, n_files: int, steps: int, regions: int) -> list[Path]:
    rng = np.random.default_rng(0)
    t = np.arange(steps) * 1e-3
    paths = []
    for i in range(n_files):
        block = ((t % 20.0) < 10.0).astype(float)
        z = 0.5 * block[:, None] + 0.1 * np.sin(2 * np.pi * 10 * t)[:, None] \
            + 0.05 * rng.standard_normal((steps, regions))
        path = folder / f"sim{i:03d}.npz"
        np.savez(path, z=z, dt="1 ms")
        paths.append(path)
    return paths


def measure(n_workers: int, folder: Path, outdir: Path, model_args: list, repeats: int):
    from distributed import wait

    from fwdmodels.cli import batch

    parser = argparse.ArgumentParser()
    batch.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["batch", str(folder / "*.npz"), "-o", str(outdir),
                              "--workers", str(n_workers), *model_args])
    jobs, _ = batch._plan(args)
    t0 = time.perf_counter()
    client, cluster = batch._client(args)
    try:
        client.wait_for_workers(n_workers)
        warm = dict(jobs[0], output=str(outdir / "warm-up.npz"), force=True)
        wait([client.submit(batch.process_file, warm, pure=False, workers=[w])
              for w in client.scheduler_info()["workers"]])
        startup = time.perf_counter() - t0
        best = None
        for _ in range(repeats):
            for job in jobs:
                Path(job["output"]).unlink(missing_ok=True)
            start = time.perf_counter()
            results = client.gather(client.map(batch.process_file, jobs, pure=False))
            elapsed = time.perf_counter() - start
            failed = [r for r in results if r["status"] != "done"]
            if failed:
                raise SystemExit(f"a benchmark file failed: {failed[0]['error']}")
            best = elapsed if best is None else min(best, elapsed)
    finally:
        client.close()
        cluster.close()
    return startup, best


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2],
                        help="worker counts to measure (default 1 2)")
    parser.add_argument("--files", type=int, default=8, help="files in the batch (default 8)")
    parser.add_argument("--steps", type=int, default=120_000,
                        help="time steps per file at 1 ms (default 120000: 2 minutes)")
    parser.add_argument("--regions", type=int, default=68, help="regions (default 68)")
    parser.add_argument("--model", choices=("bold", "bold-fine"), default="bold",
                        help="bold: the CLI's default (hemo-dt auto, TR 2 s); bold-fine: "
                             "RK4 at every input step (--hemo-dt none), more work per file")
    parser.add_argument("--repeats", type=int, default=2, help="best of this many runs")
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    parser.add_argument("--json", type=Path, help="write the results here as JSON")
    opts = parser.parse_args(argv)
    if opts.quick:
        opts.files, opts.steps, opts.regions, opts.repeats = 4, 5000, 8, 1
    model_args = ["--model", "bold", "--tr", "2s", "--force"]
    if opts.model == "bold-fine":
        model_args += ["--hemo-dt", "none"]
    work = Path(tempfile.mkdtemp(prefix="fwdmodels-batch-bench-"))
    try:
        folder, outdir = work / "in", work / "out"
        folder.mkdir()
        outdir.mkdir()
        make_files(folder, opts.files, opts.steps, opts.regions)
        rows = []
        for n in opts.workers:
            startup, elapsed = measure(n, folder, outdir, model_args, opts.repeats)
            rows.append({"workers": n, "startup_s": startup, "batch_s": elapsed,
                         "files_per_s": opts.files / elapsed,
                         "region_steps_per_s": opts.files * opts.steps * opts.regions / elapsed})
    finally:
        shutil.rmtree(work, ignore_errors=True)
    base = next((r for r in rows if r["workers"] == 1), rows[0])
    for r in rows:
        r["speedup"] = base["batch_s"] / r["batch_s"]
        r["efficiency"] = r["speedup"] * base["workers"] / r["workers"]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"fwdmodels batch: {opts.files} files of {opts.steps} steps x {opts.regions} regions "
          f"at 1 ms ({opts.model}), {cores} cores, best of {opts.repeats}")
    print(f"{'workers':>7} {'start-up s':>10} {'batch s':>8} {'files/s':>8} "
          f"{'Mregion-steps/s':>16} {'speed-up':>8} {'efficiency':>10}")
    for r in rows:
        print(f"{r['workers']:>7} {r['startup_s']:>10.2f} {r['batch_s']:>8.2f} "
              f"{r['files_per_s']:>8.2f} {r['region_steps_per_s'] / 1e6:>16.1f} "
              f"{r['speedup']:>8.2f} {r['efficiency']:>10.2f}")
    if opts.json:
        import fwdmodels

        opts.json.write_text(json.dumps({
            "benchmark": "batch_scaling", "fwdmodels": fwdmodels.__version__,
            "python": sys.version.split()[0], "machine": platform.machine(), "cores": cores,
            "files": opts.files, "steps": opts.steps, "regions": opts.regions,
            "model": opts.model, "repeats": opts.repeats, "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
