"""The tiny study through profiles/slurm on a real single-node SLURM cluster.

The module's fixture starts a one-node cluster (tests/slurm_cluster.py) and stops it
afterwards, leaving /etc/slurm as it found it. Without root or without the Slurm
packages the test is skipped with the reason; CI sets BALANCED_STDP_REQUIRE_SLURM=1,
which installs missing packages (as root) and turns any skip into a failure. The run
must give the same data as the local run and every job must have gone through SLURM.
"""

from __future__ import annotations

import os
import subprocess

import pytest
import xarray as xr

from balanced_stdp.io import open_dataset
from conftest import REPO, load_test_config, run_snakemake
from slurm_cluster import REQUIRE_ENV, SlurmCluster, ensure_installed, unavailable_reason
from test_workflow import RESULTS, comparable, expected_figure_stems, study_grids

pytestmark = pytest.mark.slurm


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory):
    reason = unavailable_reason()
    if reason:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{REQUIRE_ENV}=1 but {reason}")
        pytest.skip(reason)
    ensure_installed()
    with SlurmCluster(tmp_path_factory.mktemp("slurm_state")) as cluster:
        yield cluster


SLURM_EXPERIMENTS = ("kohonen", "istdp_initial_conditions")
"""Experiments of the test study run through SLURM: every rule kind (run config, warm-up,
simulation, both theory modes, aggregation, figures of one and of several experiments) at a
job count a 2-CPU test cluster finishes in a few minutes (each SLURM job restarts Snakemake)."""
SLURM_FIGURES = ("weight_dynamics_kohonen_ee", "fig07_istdp_manifold")


def test_slurm_profile_reproduces_the_local_run(slurm_cluster, local_study, workflow_env,
                                                tmp_path):
    workdir = tmp_path / "slurm_study"
    workdir.mkdir()
    cfg = load_test_config()
    targets = [f"{RESULTS}/aggregate/{name}{suffix}.nc" for name in SLURM_EXPERIMENTS
               for suffix in ("", "_theory")]
    targets += [f"{RESULTS}/figures/{stem}.{ext}" for stem in SLURM_FIGURES
                for ext in ("pdf", "png")]
    assert set(SLURM_FIGURES) <= set(expected_figure_stems(cfg))
    # Only what this test cluster needs on top of the profile: a short first status
    # check (the profile's 20 s suits real clusters) and few parallel jobs (2 CPUs).
    run_snakemake(workdir, "--profile", str(REPO / "profiles" / "slurm"),
                  "--slurm-init-seconds-before-status-checks", "2", "--jobs", "4", *targets,
                  env=workflow_env)

    for target in targets:
        if target.endswith(".nc"):
            xr.testing.assert_identical(comparable(open_dataset(workdir / target)),
                                        comparable(open_dataset(local_study / target)))
        else:
            assert (workdir / target).stat().st_size > 5000

    # every non-local job ran as a SLURM job (the plugin puts the rule in the comment):
    # one per simulation, the warm-up, one theory and one finite-size theory job per
    # experiment, all completed
    jobs = subprocess.run(["squeue", "--states", "all", "--noheader", "--format", "%k %T"],
                          capture_output=True, text=True, check=True).stdout.splitlines()
    states = {line.split()[1] for line in jobs}
    rules = [line.split()[0] for line in jobs]
    grids = study_grids(cfg)
    n_points = sum(len(grids[name]) for name in SLURM_EXPERIMENTS)
    assert states == {"COMPLETED"}, jobs
    assert sum(r.startswith("rule_simulate_wildcards_") for r in rules) == n_points, rules
    assert rules.count("rule_compile_numba") == 1, rules
    assert sum(r.startswith("rule_theory_wildcards_") for r in rules) == len(SLURM_EXPERIMENTS), \
        rules
    finite_size = [name for name in SLURM_EXPERIMENTS
                   if cfg["experiments"][name].get("finite_size_theory", True)]
    assert sum(r.startswith("rule_theory_finite_size_wildcards_") for r in rules) == \
        len(finite_size), rules
    assert sum(r.startswith("rule_figure") for r in rules) == len(SLURM_FIGURES), rules


def without_timings(run: xr.Dataset) -> xr.Dataset:
    """A run dataset without its run-time measurements (variables and attributes)."""
    run = comparable(run)
    run.attrs = {k: v for k, v in run.attrs.items() if not k.endswith("_time_s")}
    return run


def _slurm_jobs_after(job_id: int) -> list[tuple[int, str, str, float]]:
    """(job id, rule comment, state, requested memory in MB) of the jobs after ``job_id``."""
    lines = subprocess.run(["squeue", "--states", "all", "--noheader", "--format", "%i %k %T %m"],
                           capture_output=True, text=True, check=True).stdout.splitlines()
    units = {"K": 1 / 1024, "M": 1.0, "G": 1024.0, "T": 1024.0**2}
    jobs = []
    for line in lines:
        job, comment, state, memory = line.split()
        if int(job) > job_id:
            jobs.append((int(job), comment, state, float(memory[:-1]) * units[memory[-1]]))
    return sorted(jobs)


def test_a_job_over_its_memory_request_is_killed_and_retried_with_more(
        slurm_cluster, local_study, workflow_env, tmp_path):
    """SLURM kills a simulation job whose memory passes its request (the test cluster
    enforces --mem like a real one); the profile's ``retries: 1`` resubmits it with the
    attempt number in its resource functions, and the retried job gives the local result.
    The first attempt's request is set to half of the job's measured peak (its Snakemake
    benchmark file in the local study), the second to plenty."""
    cfg = load_test_config()
    point = sorted(study_grids(cfg)["kohonen"])[0]
    run = f"{RESULTS}/runs/kohonen/{point}/run.nc"
    benchmark = local_study / RESULTS / "benchmarks" / "simulate" / "kohonen" / f"{point}.tsv"
    header, values = benchmark.read_text().splitlines()[:2]
    peak_mb = float(dict(zip(header.split("\t"), values.split("\t")))["max_rss"])
    first_mb, retry_mb = int(0.5 * peak_mb), int(4 * peak_mb) + 1000
    before = max([job for job, *_ in _slurm_jobs_after(-1)], default=0)

    workdir = tmp_path / "retried_study"
    workdir.mkdir()
    # (one "=" argument: --set-resources would take the target as another assignment)
    run_snakemake(workdir, "--profile", str(REPO / "profiles" / "slurm"),
                  "--slurm-init-seconds-before-status-checks", "2", "--jobs", "2",
                  f"--set-resources=simulate:mem_mb=[{first_mb},{retry_mb}][min(attempt,2)-1]",
                  run, env=workflow_env)

    simulations = [(job, state, memory) for job, comment, state, memory
                   in _slurm_jobs_after(before) if comment.startswith("rule_simulate_wildcards_")]
    assert len(simulations) == 2, simulations
    (killed, first_state, first_request), (_, last_state, last_request) = simulations
    # slurmd kills the step over its --mem; the job is then FAILED or OUT_OF_MEMORY
    assert first_state in ("FAILED", "OUT_OF_MEMORY") and last_state == "COMPLETED", simulations
    slurmd_log = (slurm_cluster.state_dir / "log" / "slurmd.log").read_text()
    assert f"StepId={killed}.batch exceeded memory limit" in slurmd_log
    assert (first_request, last_request) == (first_mb, retry_mb)
    xr.testing.assert_identical(without_timings(open_dataset(workdir / run)),
                                without_timings(open_dataset(local_study / run)))
