"""How tight the workflow's cost model is on this machine (prints a table; not a test).

The cost model (:mod:`balanced_stdp.cost_model`) sizes every simulation job's requests:
runtime = max(RUNTIME_MARGIN × estimated wall time, MIN_RUNTIME_MIN), memory = the
estimated peak. The test suite asserts only that the requests cover a measured run (the
property SLURM needs); how far above the measurement the estimate lies depends on the
machine's speed, so it is printed here. Each case runs ``balanced-stdp``'s ``simulate`` in
a fresh single-threaded subprocess, after a warm-up run that fills numba's cache, exactly
as a workflow job does.

Columns: measured wall and CPU seconds of the whole process (imports, set-up, kernel,
writing nothing), estimated wall seconds, their ratio (the tightness: > 1 means the
estimate is above the measurement), the runtime request in seconds and its ratio to the
measured wall time, measured and estimated peak memory (MiB) and their ratio.

Usage::

    python benchmarks/cost_model.py [--duration-s 4] [--sizes 1000 2000 5000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from balanced_stdp.config import resolve_config
from balanced_stdp.cost_model import estimated_memory_mb, estimated_wall_seconds, simulate_runtime_min

CASES = {
    "kohonen": {"weights": {"ee": 1.0, "ei": -100.0},
                "plasticity": {"ee": {"rule": "kohonen", "eta": 0.01}}},
    "soft+istdp": {"plasticity": {"ee": {"rule": "soft_hebbian", "eta": 1e-3, "j_max": 30.0},
                                  "ei": {"rule": "istdp", "eta": 1e-4}}},
}

PROBE = """
import json, resource, sys, time
start = time.perf_counter()
from balanced_stdp.simulation import simulate
simulate(json.loads(sys.argv[1]), progress=False)
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"wall_s": time.perf_counter() - start,
                  "cpu_s": usage.ru_utime + usage.ru_stime,
                  "rss_mib": usage.ru_maxrss / 1024}))
"""


def measure(cfg: dict) -> dict:
    """Wall, CPU seconds and peak memory of one simulate job in a fresh process."""
    env = {**os.environ, "NUMBA_NUM_THREADS": "1"}
    command = [sys.executable, "-c", PROBE, json.dumps(cfg)]
    subprocess.run(command, check=True, env=env, capture_output=True)      # warm the cache
    out = subprocess.run(command, check=True, env=env, capture_output=True, text=True)
    return json.loads(out.stdout)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration-s", type=float, default=4.0)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000, 5000])
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    args = parser.parse_args(argv)
    header = (f"{'N':>6} {'case':<11} {'wall s':>7} {'CPU s':>7} {'est. s':>7} "
              f"{'est/wall':>8} {'request s':>9} {'req/wall':>8} {'RSS MiB':>8} "
              f"{'est. MiB':>8} {'est/RSS':>7}")
    print(header)
    print("-" * len(header))
    for n in args.sizes:
        for case in args.cases:
            cfg = resolve_config({"N": n, "duration_s": args.duration_s, **CASES[case]})
            got = measure(cfg)
            estimate_s = estimated_wall_seconds(cfg)
            request_s = 60.0 * simulate_runtime_min(cfg)
            memory_mib = estimated_memory_mb(cfg) * 1e6 / 2**20
            print(f"{n:>6} {case:<11} {got['wall_s']:7.1f} {got['cpu_s']:7.1f} "
                  f"{estimate_s:7.1f} {estimate_s / got['wall_s']:8.2f} {request_s:9.0f} "
                  f"{request_s / got['wall_s']:8.1f} {got['rss_mib']:8.0f} {memory_mib:8.0f} "
                  f"{memory_mib / got['rss_mib']:7.2f}", flush=True)


if __name__ == "__main__":
    main()
