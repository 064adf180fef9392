"""Kernel speed of a reference source tree (A) against this one (B), in lock-step.

Both simulations run in one process, each in its own thread, and a turnstile lets
chunk i of A and chunk i of B run back to back (order A B, B A, A B, …). Noise from
other processes on a shared machine then hits both alike, which separate runs
cannot guarantee. The reference package is copied to a temporary directory under
the name ``balanced_stdp_reference`` (its first run compiles its numba cache there).

Usage::

    PYTHONPATH=src python benchmarks/lockstep_benchmark.py OLD_CHECKOUT/src \\
        [--case ee-kohonen+ei-istdp] [--n 5000] [--duration-s 8] [--chunk-ms 500]
        [--b-config '{"precision": "float32"}']

``--b-config`` (JSON) is merged into B's run config only: with this tree as the
reference too, it compares two settings of one tree (e.g. float32 against float64).

Prints kernel CPU seconds per simulated second of A and B and their ratio (total
and median over chunks). Run it pinned to one core (``taskset -c 0``) and repeat:
two identical trees give ratios within about ±4 % on a busy 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

CASES = {
    "none": {},
    "ei-istdp": {"ei": {"rule": "istdp", "eta": 1e-4}},
    "ee-kohonen+ei-istdp": {"ee": {"rule": "kohonen", "eta": 1e-3},
                            "ei": {"rule": "istdp", "eta": 1e-4}},
    "ee-soft+ei-istdp": {"ee": {"rule": "soft_hebbian", "eta": 1e-3, "j_max": 30.0},
                         "ei": {"rule": "istdp", "eta": 1e-4}},
}
REFERENCE = "balanced_stdp_reference"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference_src", help="src directory holding the reference package")
    parser.add_argument("--case", choices=list(CASES), default="ee-kohonen+ei-istdp")
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--duration-s", type=float, default=8.0)
    parser.add_argument("--chunk-ms", type=float, default=500.0)
    parser.add_argument("--b-config", default="{}", help="JSON merged into B's run config")
    args = parser.parse_args()

    cache = Path(tempfile.gettempdir()) / "balanced_stdp_lockstep"
    copy = cache / REFERENCE
    source = Path(args.reference_src) / "balanced_stdp"
    if not copy.exists() or copy.stat().st_mtime < max(p.stat().st_mtime
                                                      for p in source.rglob("*.py")):
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(source, copy, ignore=shutil.ignore_patterns("__pycache__"))
    sys.path.insert(0, str(cache))
    reference = __import__(f"{REFERENCE}.simulation", fromlist=["simulate"])
    from balanced_stdp import simulation as current

    config = {"N": args.n, "duration_s": args.duration_s, "c": 0.0, "seed": 1,
              "plasticity": CASES[args.case], "recording": {"sampled_pairs": 100}}
    n_chunks = int(round(args.duration_s * 1000.0 / args.chunk_ms))
    order = [side for i in range(n_chunks) for side in (("A", "B") if i % 2 == 0 else "BA")]
    position = [0]
    turn = threading.Condition()
    times: dict[str, list[float]] = {"A": [], "B": []}

    def lockstep(module, side):
        kernel = module.run_steps

        def timed(*kernel_args):
            with turn:
                turn.wait_for(lambda: order[position[0]] == side)
            start = time.thread_time()
            result = kernel(*kernel_args)
            times[side].append(time.thread_time() - start)
            with turn:
                position[0] += 1
                turn.notify_all()
            return result

        module.run_steps = timed
        module.BLOCK_MS = args.chunk_ms

    b_config = {**config, **json.loads(args.b_config)}
    for module, cfg in ((reference, config), (current, b_config)):   # fill the caches first
        module.simulate({**cfg, "N": 100, "duration_s": 1.0}, progress=False)
    lockstep(reference, "A")
    lockstep(current, "B")
    threads = [threading.Thread(target=m.simulate, args=(cfg,), kwargs={"progress": False})
               for m, cfg in ((reference, config), (current, b_config))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    a, b = np.array(times["A"]), np.array(times["B"])
    print(json.dumps({"case": args.case, "N": args.n,
                      "A_kernel_cpu_s_per_sim_s": round(a.sum() / args.duration_s, 4),
                      "B_kernel_cpu_s_per_sim_s": round(b.sum() / args.duration_s, 4),
                      "ratio_B_over_A": round(b.sum() / a.sum(), 4),
                      "median_chunk_ratio": round(float(np.median(b / a)), 4)}))


if __name__ == "__main__":
    main()
