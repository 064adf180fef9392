"""A/B kernel speed of two source trees of balanced-stdp, alternating so that machine
noise hits both alike.

Each repetition runs every case once per tree, in alternating order (A B, then B A, …),
each in a fresh process pinned to one core by ``benchmark_simulation.py --worker``.
Reports kernel wall and kernel CPU (thread) seconds per simulated second: min and
spread (max − min) over the repetitions.

Usage::

    python benchmarks/ab_benchmark.py A_SRC B_SRC [--repetitions 3] [--duration-s 10]
        [--sizes 5000] [--cases none ei-istdp ee-kohonen+ei-istdp] [--correlations 0.0]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

HARNESS = Path(__file__).with_name("benchmark_simulation.py")


def run_worker(src: str, n: int, case: str, c: float, duration_s: float) -> dict:
    env = dict(os.environ, PYTHONPATH=src, NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1")
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    out = subprocess.run(pin + [sys.executable, str(HARNESS), "--duration-s", str(duration_s),
                                "--no-profile", "--worker", f"{n}:{case}:{c}"],
                         env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a_src")
    parser.add_argument("b_src")
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--duration-s", type=float, default=10.0)
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000])
    parser.add_argument("--cases", nargs="+", default=["none", "ei-istdp", "ee-kohonen+ei-istdp"])
    parser.add_argument("--correlations", type=float, nargs="+", default=[0.0])
    args = parser.parse_args()
    trees = {"A": args.a_src, "B": args.b_src}
    for src in trees.values():           # fill each tree's numba cache first
        subprocess.run([sys.executable, "-m", "balanced_stdp.cli", "compile", "--quiet"],
                       env=dict(os.environ, PYTHONPATH=src), check=True)
    results: dict = {}
    for rep in range(args.repetitions):
        order = "AB" if rep % 2 == 0 else "BA"
        for n in args.sizes:
            for case in args.cases:
                for c in args.correlations:
                    for side in order:
                        r = run_worker(trees[side], n, case, c, args.duration_s)
                        results.setdefault((n, case, c), {}).setdefault(side, []).append(r)
                        print(f"rep {rep} {side} N={n} {case} c={c}: kernel "
                              f"{r['kernel_s_per_sim_s']:.3f} s/sim s, cpu "
                              f"{r['kernel_cpu_s_per_sim_s']:.3f}", flush=True)
    print(f"\n# A = {args.a_src}\n# B = {args.b_src}\n# T = {args.duration_s:g} s, "
          f"{args.repetitions} repetitions, min (spread) of kernel s per simulated s")
    print(f"{'N':>6} {'case':<20} {'c':>4} {'A wall':>15} {'B wall':>15} {'A cpu':>15} "
          f"{'B cpu':>15}")
    for (n, case, c), sides in results.items():
        cells = []
        for key in ("kernel_s_per_sim_s", "kernel_cpu_s_per_sim_s"):
            for side in "AB":
                values = [r[key] for r in sides[side]]
                cells.append(f"{min(values):.3f} ({max(values) - min(values):.3f})")
        print(f"{n:>6} {case:<20} {c:>4.1f} " + " ".join(f"{cell:>15}" for cell in cells))


if __name__ == "__main__":
    main()
