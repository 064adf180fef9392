"""CPU time of the Snakemake main process against the whole study's (prints a line).

Runs ``snakemake ARGS`` in a fresh working directory copy of nothing (``--directory``), polls
the main process's own user + system CPU time (psutil; the jobs are child processes and
not counted) until it exits, and reads the CPU time of all of its finished descendants
(``getrusage(RUSAGE_CHILDREN)``). Prints both and the main process's share: the
orchestration overhead a study pays on top of its simulations.

Usage::

    python benchmarks/snakemake_overhead.py --directory /tmp/study -- --cores 2 \\
        --configfile config/test.yaml [--scheduler greedy]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--directory", required=True, help="working directory of the study")
    parser.add_argument("snakemake_args", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    extra = [a for a in args.snakemake_args if a != "--"]
    Path(args.directory).mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
               "--directory", args.directory, *extra]
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    main_process = psutil.Process(process.pid)
    own = 0.0
    while process.poll() is None:
        try:
            times = main_process.cpu_times()
            own = times.user + times.system
        except psutil.NoSuchProcess:
            break
        time.sleep(0.5)
    wall = time.perf_counter() - start
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = children.ru_utime + children.ru_stime        # main process and every job
    print(f"exit {process.returncode}; wall {wall:.0f} s; Snakemake main process {own:.1f} CPU-s "
          f"of {total:.1f} CPU-s in all ({100 * own / total:.1f} %)")


if __name__ == "__main__":
    main()
