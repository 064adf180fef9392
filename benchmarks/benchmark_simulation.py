"""Speed and memory of the simulator (prints a table; not a test).

Every case runs in a fresh subprocess pinned to one core (``NUMBA_NUM_THREADS=1``;
``taskset`` when available), with the numba cache warm and after a warm-up run of the
same case (so page faults of first touches and lazily compiled variants are not
counted). Columns:

* kernel CPU (thread) seconds and wall seconds per simulated second (the time stepping
  only: its marginal cost; on a shared machine the CPU time is the fairer measure, the
  wall time also counts waiting for the core),
* the per-phase split of the CPU time, from a second, instrumented run of the case (the
  kernel's ``phase_ticks`` profile, which production runs do not compile in): input
  delivery, voltage update (EIF pass and spike collection), recurrent delivery, column
  (presynaptic) and row (postsynaptic) plasticity updates, recording,
* peak resident memory of the process (MiB),
* the run's mean E and I rates,
* with ``brian2`` importable (``pip install balanced-stdp[benchmark]``), Brian2's C++
  standalone time for the same network (``brian2_network.py``, float64 rows only) and
  how many times faster this simulator is,
* with ``--floor-source FILE.c`` (a C microbenchmark of the per-step operations, such as
  the speed anchor ``limit_microbench.c`` this project's targets were set with; it is not
  part of the repository), its single-core "static network" floor (neuron updates and
  all spike propagation) and "plastic network" floor (with eager pre- and postsynaptic
  updates) at the same N and the rates this simulator measured, compiled with
  ``gcc -O3 -march=native -ffast-math`` (``-DREAL=float`` for float32 rows) and run in
  the same session, and the ratio of this simulator's CPU time to the static floor.

Speed targets are ratios measured in one run (machines differ up to 2×): this
simulator's CPU time against the static floor of the C program at the same N, and
against Brian2; see README "Performance".

Usage::

    python benchmarks/benchmark_simulation.py [--duration-s 20] [--sizes 5000 10000]
        [--cases none ei-istdp ee-soft+ei-istdp] [--precisions float64 float32]
        [--threads 1] [--no-profile] [--no-brian2] [--brian2-python PYTHON]
        [--floor-source limit_microbench.c]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import re
import shutil
import subprocess
import sys
import tempfile
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
DEFAULT_CASES = ["none", "ei-istdp", "ee-soft+ei-istdp"]
BRIAN2 = Path(__file__).with_name("brian2_network.py")


def case_config(n: int, case: str, c: float, duration_s: float, precision: str,
                threads: int) -> dict:
    return {"N": n, "duration_s": duration_s, "c": c, "seed": 1, "plasticity": CASES[case],
            "precision": precision, "threads": threads, "recording": {"sampled_pairs": 100}}


def run_case(n: int, case: str, c: float, duration_s: float, precision: str = "float64",
             threads: int = 1, profile_s: float = 0.0) -> dict:
    """Simulate in this process (warm-up, measured run, optional profile run)."""
    from balanced_stdp.phase_timer import PHASES
    from balanced_stdp.simulation import simulate

    warmup = case_config(n, case, c, 2.0, precision, threads)
    simulate(warmup, progress=False)
    ds = simulate(case_config(n, case, c, duration_s, precision, threads), progress=False)
    rates = ds.neuron_rate.squeeze()
    by_population = rates.groupby("neuron_population").mean()
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kernel = ds.attrs["kernel_cpu_time_s"] / duration_s
    kernel_wall = ds.attrs["kernel_time_s"] / duration_s
    out = {
        "kernel_s_per_sim_s": kernel_wall,
        "kernel_cpu_s_per_sim_s": ds.attrs["kernel_cpu_time_s"] / duration_s,
        "total_s_per_sim_s": ds.attrs["wall_time_s"] / duration_s,
        "setup_s": ds.attrs["setup_time_s"],
        "peak_mib": peak_mib,
        "rate_e_hz": float(by_population.sel(neuron_population="E")),
        "rate_i_hz": float(by_population.sel(neuron_population="I")),
        "mean_weight": {str(k): float(v) for k, v in
                        ds.mean_weight.isel(time=-1).squeeze().to_series().items()},
        "status": ds.attrs["status"],
    }
    if profile_s > 0:
        # the split of the measured kernel CPU time in the proportions of the profiled run
        ticks = np.zeros(len(PHASES), np.int64)
        simulate(case_config(n, case, c, 1.0, precision, threads), progress=False,
                 phase_ticks=ticks.copy())                      # compile the variant
        simulate(case_config(n, case, c, profile_s, precision, threads), progress=False,
                 phase_ticks=ticks)
        out["phases"] = {p: kernel * t / ticks.sum() for p, t in zip(PHASES, ticks)}
    return out


def brian2_available(python: str) -> bool:
    """Whether ``python`` can import brian2 (a separate interpreter may be given: Brian2
    releases can lag behind this project's NumPy)."""
    return subprocess.run([python, "-c", "import brian2"], capture_output=True).returncode == 0


def run_brian2(python: str, n: int, case: str, duration_s: float, pin: list[str],
               env: dict) -> float | None:
    """Brian2 C++ standalone CPU seconds per simulated second (None if it failed)."""
    out = subprocess.run(pin + [python, str(BRIAN2), "--n", str(n), "--case", case,
                                "--duration-s", str(duration_s)],
                         env=env, capture_output=True, text=True)
    if out.returncode != 0:
        print(f"# brian2 N={n} {case} failed: {out.stderr.strip().splitlines()[-1:]}",
              file=sys.stderr)
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])["cpu_s_per_sim_s"]


def build_floor(source: str, directory: str) -> dict:
    """Compile the C floor program for float64 and float32: {precision: binary path}."""
    binaries = {}
    for precision, real in (("float64", "double"), ("float32", "float")):
        binary = str(Path(directory) / f"floor_{precision}")
        subprocess.run(["gcc", "-O3", "-march=native", "-ffast-math", f"-DREAL={real}", "-o",
                        binary, source, "-lm"], check=True)
        binaries[precision] = binary
    return binaries


def run_floor(binary: str, n: int, rate_e: float, rate_i: float, pin: list[str]) -> dict:
    """The floor program's static and plastic seconds per simulated second."""
    out = subprocess.run(pin + [binary, str(n), f"{rate_e:.2f}", f"{rate_i:.2f}"],
                         capture_output=True, text=True, check=True).stdout
    found = {key: float(m.group(1)) for key in ("static", "plastic")
             if (m := re.search(rf"{key} network\s*:\s*([0-9.]+) s", out))}
    if len(found) != 2:
        raise RuntimeError(f"{binary}: no 'static network' / 'plastic network' lines in:\n{out}")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration-s", type=float, default=20.0)
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 10000])
    parser.add_argument("--correlations", type=float, nargs="+", default=[0.0])
    parser.add_argument("--cases", nargs="+", default=DEFAULT_CASES, choices=list(CASES))
    parser.add_argument("--precisions", nargs="+", default=["float64", "float32"],
                        choices=["float64", "float32"])
    parser.add_argument("--threads", type=int, default=1,
                        help="run-config threads (and cores given to each case)")
    parser.add_argument("--profile-duration-s", type=float, default=5.0)
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--no-brian2", action="store_true")
    parser.add_argument("--brian2-python", default=sys.executable,
                        help="interpreter with brian2 installed (default: this one)")
    parser.add_argument("--floor-source", default=None,
                        help="C floor program to compile and run beside each case (e.g. the "
                             "speed anchor limit_microbench.c)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:                       # child process: one case, JSON on stdout
        n, case, c, *rest = args.worker.split(":")
        precision = rest[0] if rest else "float64"
        profile_s = 0.0 if args.no_profile else args.profile_duration_s
        print(json.dumps(run_case(int(n), case, float(c), args.duration_s, precision,
                                  args.threads, profile_s)))
        return

    threads = str(args.threads)
    env = dict(os.environ, NUMBA_NUM_THREADS=threads, OMP_NUM_THREADS=threads,
               OPENBLAS_NUM_THREADS="1")
    subprocess.run([sys.executable, "-m", "balanced_stdp.cli", "compile", "--quiet"], env=env,
                   check=True)
    cores = ",".join(str(i) for i in range(args.threads))
    pin = ["taskset", "-c", cores] if shutil.which("taskset") else []
    with_brian2 = not args.no_brian2 and brian2_available(args.brian2_python)
    floor_dir = tempfile.TemporaryDirectory()
    floors = build_floor(args.floor_source, floor_dir.name) if args.floor_source else {}
    print(f"# balanced-stdp simulator benchmark: T = {args.duration_s:g} s simulated per case, "
          f"{args.threads} thread(s){f' (taskset -c {cores})' if pin else ''}, numba cache "
          f"warm, after a warm-up run; phases split the kernel time"
          + ("" if with_brian2 else "; no brian2 column (--no-brian2 or not installed)"))
    from balanced_stdp.phase_timer import PHASES as phases
    header = (f"{'N':>6} {'plasticity':<17} {'c':>4} {'precision':<8} {'cpu s/s':>7} "
              f"{'wall s/s':>8} "
              + (f"{'static floor':>12} {'cpu/static':>10} {'plastic floor':>13} " if floors
                 else "")
              + " ".join(f"{p[:9]:>9}" for p in phases)
              + f" {'peak MiB':>8} {'E Hz':>6} {'I Hz':>6}"
              + (f" {'brian2 cpu s/s':>14} {'brian2/cpu':>10}" if with_brian2 else ""))
    print(header)
    print("-" * len(header))
    for n in args.sizes:
        for case in args.cases:
            for c in args.correlations:
                for precision in args.precisions:
                    command = pin + [sys.executable, __file__, "--duration-s",
                                     str(args.duration_s), "--threads", threads,
                                     "--profile-duration-s", str(args.profile_duration_s),
                                     "--worker", f"{n}:{case}:{c}:{precision}"]
                    if args.no_profile:
                        command.append("--no-profile")
                    out = subprocess.run(command, env=env, capture_output=True, text=True,
                                         check=True)
                    r = json.loads(out.stdout.strip().splitlines()[-1])
                    split = r.get("phases", {})
                    cpu = r['kernel_cpu_s_per_sim_s']
                    line = (f"{n:>6} {case:<17} {c:>4.1f} {precision:<8} "
                            f"{cpu:>7.3f} "
                            f"{r['kernel_s_per_sim_s']:>8.3f} ")
                    if floors:
                        floor = run_floor(floors[precision], n, r["rate_e_hz"], r["rate_i_hz"],
                                          pin)
                        line += (f"{floor['static']:>12.3f} {cpu / floor['static']:>10.2f} "
                                 f"{floor['plastic']:>13.3f} ")
                    line += (" ".join(f"{split[p]:>9.3f}" if p in split else f"{'-':>9}"
                                      for p in phases)
                             + f" {r['peak_mib']:>8.0f} {r['rate_e_hz']:>6.2f} "
                             f"{r['rate_i_hz']:>6.2f}")
                    if with_brian2:
                        b2 = (run_brian2(args.brian2_python, n, case, args.duration_s, pin,
                                         env)
                              if precision == "float64" and c == 0.0
                              and case in ("none", "ei-istdp", "ee-soft+ei-istdp") else None)
                        line += (f" {b2:>14.3f} {b2 / cpu:>10.2f}" if b2 is not None
                                 else f" {'-':>14} {'-':>10}")
                    print(line, flush=True)


if __name__ == "__main__":
    main()
