"""Every job's measured wall time and peak memory next to what the workflow requested.

The workflow's rules write Snakemake benchmark files (``<results_dir>/benchmarks/<rule>/…
.tsv``: wall seconds, peak resident memory, CPU time). This script reads them for a study,
computes each job's request with the same function the workflow uses
(:func:`balanced_stdp.cost_model.job_request`, first attempt) and prints a Markdown table per
rule and experiment: jobs, N, the largest measured wall time and peak memory, the requests,
their ratios, and whether any job exceeded its request — a request below a measured peak is a
bug of the cost model (on SLURM the job would be killed and retried).

Usage (in the working directory of the study)::

    python benchmarks/job_resources.py --configfile config/paper.yaml \\
        --config smoke_duration_s=2 results_dir=results/paper-smoke [--out docs/FILE.md]
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from pathlib import Path

import yaml
from snakemake.utils import validate

from balanced_stdp.cost_model import job_request
from balanced_stdp.study import load_study

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
WILDCARDS = {"simulate": ("experiment", "point"), "theory": ("experiment",),
             "theory_finite_size": ("experiment",), "aggregate_runs": ("experiment",),
             "agreement": ("experiment",), "figure": ("stem",)}


def load(configfile: str, overrides: list[str]):
    config = yaml.safe_load(Path(configfile).read_text())
    for item in overrides:
        key, value = item.split("=", 1)
        config[key] = yaml.safe_load(value)
    return load_study(config, lambda cfg: validate(cfg, str(SCHEMA), set_default=True))


def jobs(study):
    """(rule, wildcards, measured row) of every benchmark file of the study."""
    base = Path(study.path("benchmarks"))
    for rule, names in WILDCARDS.items():
        for tsv in sorted((base / rule).rglob("*.tsv")):
            relative = tsv.relative_to(base / rule).with_suffix("").as_posix()
            values = relative.split("/", 1) if len(names) == 2 else [relative]
            with open(tsv) as handle:
                row = next(csv.DictReader(handle, delimiter="\t"))
            yield rule, dict(zip(names, values)), row


def table(study, resource_scale: float) -> tuple[str, int]:
    groups = defaultdict(list)
    for rule, wildcards, row in jobs(study):
        configs = study.job_configs(**wildcards)
        request = job_request(rule, configs, resource_scale)
        group = wildcards.get("experiment", wildcards.get("stem"))
        groups[(rule, group)].append((configs, request, float(row["s"]),
                                      float(row["max_rss"]), float(row["cpu_time"])))
    lines = ["| rule | experiment / figure | jobs | N | wall max (s) | request (s) | "
             "wall/request | peak RSS max (MB) | request (MB) | RSS/request | CPU total (s) | "
             "within request |", "|" + "---|" * 12]
    violations = 0
    for (rule, group), entries in sorted(groups.items()):
        sizes = sorted({cfg["N"] for configs, *_ in entries for cfg in configs})
        wall = max(e[2] for e in entries)
        rss = max(e[3] for e in entries)
        over = [e for e in entries if e[2] > 60 * e[1]["runtime"] or e[3] > e[1]["mem_mb"]]
        violations += len(over)
        worst_wall = max(e[2] / (60 * e[1]["runtime"]) for e in entries)
        worst_rss = max(e[3] / e[1]["mem_mb"] for e in entries)
        n_text = (f"{sizes[0]}–{sizes[-1]}" if len(sizes) > 1 else str(sizes[0])) if sizes else "–"
        lines.append(
            f"| {rule} | {group} | {len(entries)} | {n_text} | {wall:.1f} | "
            f"{60 * max(e[1]['runtime'] for e in entries):.0f} | {worst_wall:.3f} | {rss:.0f} | "
            f"{max(e[1]['mem_mb'] for e in entries):.0f} | {worst_rss:.2f} | "
            f"{sum(e[4] for e in entries):.0f} | "
            f"{'yes' if not over else f'NO: {len(over)} job(s)'} |")
    return "\n".join(lines), violations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configfile", default=str(REPO / "config" / "config.yaml"))
    parser.add_argument("--config", nargs="*", default=[], metavar="KEY=VALUE")
    parser.add_argument("--out", help="also write the table to this Markdown file")
    args = parser.parse_args()
    study = load(args.configfile, args.config)
    text, violations = table(study, study.config["resource_scale"])
    print(text)
    print(f"\n{violations} job(s) above their request")
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
