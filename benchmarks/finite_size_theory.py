"""Cost of the finite-size theory (prints tables; not a test).

Two tables:

1. **Per point**: CPU seconds of one finite-size prediction
   (:func:`balanced_stdp.theory.predict_finite_size`) of the paper's manifold experiment
   (spec §7 #10: EI iSTDP, η₀ = 2e-4, ρ_e = 10 Hz, T = 400 s, j_ee = 25, initial
   j_ei = −250) at N = 2000, 5000 and 15000, each in a fresh single-threaded process
   whose transfer-function cache starts empty (``cold``) and again with the cache the
   first process left (``warm``: what every later point of a study costs), plus the
   number of transfer-function measurements made.
2. **Per experiment** (``--study CONFIG``): CPU seconds of every finite-size job of a
   workflow config (one process per experiment, as the workflow runs it, sharing one
   transfer-function cache directory that starts empty), and their sum in CPU-minutes.

The transfer-function cache is a temporary directory (``BALANCED_STDP_TRANSFER_CACHE``);
numba's cache is the caller's, so run it once first to compile.

Usage::

    NUMBA_NUM_THREADS=1 python benchmarks/finite_size_theory.py [--sizes 2000 5000 15000]
        [--study config/config.yaml] [--experiments kohonen istdp]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

import yaml

MANIFOLD_POINT = {"duration_s": 400.0, "weights": {"ee": 25.0, "ei": -250.0},
                  "recording": {"interval_s": 0.1},
                  "plasticity": {"ei": {"rule": "istdp", "eta": 2e-4, "target_rate_hz": 10.0}}}

POINT_PROBE = """
import json, resource, sys
from balanced_stdp.theory import predict_finite_size
ds = predict_finite_size(json.loads(sys.argv[1]))
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"cpu_s": usage.ru_utime + usage.ru_stime,
                  "measurements": ds.attrs["transfer_function_measurements"],
                  "status": ds.attrs.get("finite_size_status", "")}))
"""

STUDY_PROBE = """
import json, resource, sys, time
from balanced_stdp.theory.finite_size_prediction import predict_finite_size_points
configs = json.loads(sys.argv[1])
start = time.perf_counter()
out = predict_finite_size_points(configs)
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"cpu_s": usage.ru_utime + usage.ru_stime,
                  "theory_s": time.perf_counter() - start,
                  "statuses": sorted({str(d["theory_status"].values.ravel()[0]) for d in out})}))
"""


def _run(probe: str, argument, cache_dir: str) -> dict:
    env = {**os.environ, "NUMBA_NUM_THREADS": "1", "BALANCED_STDP_TRANSFER_CACHE": cache_dir}
    out = subprocess.run([sys.executable, "-c", probe, json.dumps(argument)], check=True,
                         env=env, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def per_point(sizes) -> None:
    print("Per point: manifold experiment (EI iSTDP, T = 400 s, j_ei(0) = -250)")
    print(f"{'N':>7} {'cold CPU s':>11} {'warm CPU s':>11} {'measurements':>13}")
    for n in sizes:
        with tempfile.TemporaryDirectory() as cache:
            cold = _run(POINT_PROBE, {**MANIFOLD_POINT, "N": int(n)}, cache)
            warm = _run(POINT_PROBE, {**MANIFOLD_POINT, "N": int(n)}, cache)
        print(f"{n:>7} {cold['cpu_s']:>11.1f} {warm['cpu_s']:>11.1f} "
              f"{cold['measurements']:>6} / {warm['measurements']:<5}")


def per_experiment(study_path: str, only) -> None:
    from balanced_stdp.study import expand_experiment
    with open(study_path) as handle:
        study = yaml.safe_load(handle)
    print(f"\nPer experiment: finite-size jobs of {study_path} (one process each, shared "
          "transfer-function cache, starting empty)")
    print(f"{'experiment':<30} {'points':>6} {'CPU s':>8}  statuses")
    total = 0.0
    with tempfile.TemporaryDirectory() as cache:
        for name, experiment in study["experiments"].items():
            if only and name not in only:
                continue
            if not experiment.get("finite_size_theory", True) and not only:
                print(f"{name:<30} {'-':>6} {'off':>8}")
                continue
            experiment = {"run": {}, **experiment}
            points = expand_experiment(name, experiment, study.get("defaults", {}))
            result = _run(STUDY_PROBE, list(points.values()), cache)
            total += result["cpu_s"]
            statuses = "; ".join(s[:60] for s in result["statuses"])
            print(f"{name:<30} {len(points):>6} {result['cpu_s']:>8.1f}  {statuses}")
    print(f"{'total':<30} {'':>6} {total:>8.1f}  = {total / 60:.2f} CPU-minutes")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[2000, 5000, 15000])
    parser.add_argument("--study", default=None, help="workflow config (e.g. config/config.yaml)")
    parser.add_argument("--experiments", nargs="*", default=None,
                        help="only these experiments of --study (even if switched off)")
    args = parser.parse_args(argv)
    if args.sizes:
        per_point(args.sizes)
    if args.study:
        per_experiment(args.study, set(args.experiments or ()))


if __name__ == "__main__":
    main()
