"""Speed and memory of the simulator (prints a table; not a test).

For each case the simulation runs in a fresh subprocess pinned to one core
(``NUMBA_NUM_THREADS=1``; ``taskset`` when available), after the numba cache has
been warmed, and reports

* kernel wall seconds per simulated second (the time stepping only),
* total wall seconds per simulated second (including network set-up and
  measurements, which do not grow with T),
* peak resident memory of the process (MiB),
* the run's mean E and I rates.

Targets (one core, after compilation): N = 5000 with EI iSTDP ≤ 0.25 s per
simulated second, N = 10⁴ ≤ 0.8 s, memory < 1 GiB at N = 10⁴.

Usage::

    python benchmarks/benchmark_simulation.py [--duration-s 20] [--sizes 5000 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys

CASES = {
    "none": {},
    "ei-istdp": {"ei": {"rule": "istdp", "eta": 1e-4}},
    "ee-kohonen+ei-istdp": {"ee": {"rule": "kohonen", "eta": 1e-3},
                            "ei": {"rule": "istdp", "eta": 1e-4}},
    "ee-soft+ei-istdp": {"ee": {"rule": "soft_hebbian", "eta": 1e-3, "j_max": 30.0},
                         "ei": {"rule": "istdp", "eta": 1e-4}},
}


def run_case(n: int, plasticity: dict, c: float, duration_s: float) -> dict:
    """Simulate in this process and return timing, memory and rates."""
    from balanced_stdp.simulation import simulate

    ds = simulate({"N": n, "duration_s": duration_s, "c": c, "seed": 1,
                   "plasticity": plasticity,
                   "recording": {"sampled_pairs": 100}}, progress=False)
    rates = ds.neuron_rate.squeeze()
    by_population = rates.groupby("neuron_population").mean()
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "kernel_s_per_sim_s": ds.attrs["kernel_time_s"] / duration_s,
        "kernel_cpu_s_per_sim_s": ds.attrs["kernel_cpu_time_s"] / duration_s,
        "total_s_per_sim_s": ds.attrs["wall_time_s"] / duration_s,
        "setup_s": ds.attrs["setup_time_s"],
        "peak_mib": peak_mib,
        "rate_e_hz": float(by_population.sel(neuron_population="E")),
        "rate_i_hz": float(by_population.sel(neuron_population="I")),
        "status": ds.attrs["status"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration-s", type=float, default=20.0)
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 10000])
    parser.add_argument("--correlations", type=float, nargs="+", default=[0.0, 0.1])
    parser.add_argument("--cases", nargs="+", default=list(CASES))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:                       # child process: one case, JSON on stdout
        n, case, c = args.worker.split(":")
        print(json.dumps(run_case(int(n), CASES[case], float(c), args.duration_s)))
        return

    env = dict(os.environ, NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1")
    subprocess.run([sys.executable, "-m", "balanced_stdp.cli", "compile", "--quiet"], env=env,
                   check=True)
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    print(f"# balanced-stdp simulator benchmark: T = {args.duration_s:g} s simulated per case, "
          f"one core{' (taskset -c 0)' if pin else ''}, after compilation")
    header = (f"{'N':>6} {'plasticity':<20} {'c':>4} {'kernel s/sim s':>14} "
              f"{'total s/sim s':>13} {'peak MiB':>9} {'E Hz':>6} {'I Hz':>6}")
    print(header)
    print("-" * len(header))
    for n in args.sizes:
        for case in args.cases:
            for c in args.correlations:
                out = subprocess.run(
                    pin + [sys.executable, __file__, "--duration-s", str(args.duration_s),
                           "--worker", f"{n}:{case}:{c}"],
                    env=env, capture_output=True, text=True, check=True)
                r = json.loads(out.stdout.strip().splitlines()[-1])
                print(f"{n:>6} {case:<20} {c:>4.1f} {r['kernel_s_per_sim_s']:>14.3f} "
                      f"{r['total_s_per_sim_s']:>13.3f} {r['peak_mib']:>9.0f} "
                      f"{r['rate_e_hz']:>6.2f} {r['rate_i_hz']:>6.2f}", flush=True)


if __name__ == "__main__":
    main()
