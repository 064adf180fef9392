"""The Snakemake workflow end to end on config/test.yaml, and its static checks.

What is checked: the aggregates span the configured grid, hold exactly the per-run
values and are finite; both theory modes are wired (Δ measured only where asked for);
every configured figure exists as a real PDF and PNG; the report holds every figure
with a caption naming its parameters; a finished study is up to date, and changing one
grid value schedules only that point; dry runs of the default and paper configs list
the jobs their grids imply; lint and snakefmt are clean; bad configs stop Snakemake
before any job with a message naming the key; a run killed (a job, then Snakemake
with all its jobs) and resumed with the same command equals an uninterrupted run.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml
from snakemake.utils import validate

from balanced_stdp.agreement import TABLE_COLUMNS
from balanced_stdp.config import describe_fields
from balanced_stdp.contract import dimension_name, rule_label, swept_values
from balanced_stdp.io import open_dataset
from balanced_stdp.figures import figure_targets
from balanced_stdp.study import expand_study, plastic_synapses, run_path
from balanced_stdp.theory import predict_point
from conftest import HANG_GUARD_S, REPO, job_counts, load_test_config, run_snakemake, snakemake_command

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
RESULTS = load_test_config()["results_dir"]
"""The test study's own results directory (results/test: never the default study's)."""


# ----------------------------------------------------------------------------- helpers
def study_grids(cfg: dict) -> dict[str, dict[str, dict]]:
    """Every experiment's grid points (path -> resolved run config) as the workflow
    expands them: the schema's defaults filled in, then balanced_stdp.study."""
    cfg = copy.deepcopy(cfg)
    validate(cfg, str(SCHEMA), set_default=True)
    return expand_study(cfg)


def expected_figure_stems(cfg: dict) -> list[str]:
    """The figure files the registry makes of the config's ``figures:`` section."""
    grids = study_grids(cfg)
    plastic = {name: plastic_synapses(points) for name, points in grids.items()}
    return list(figure_targets(cfg.get("figures", {}), plastic))


def comparable(ds: xr.Dataset) -> xr.Dataset:
    """A dataset without the run-time measurements (which differ between identical runs)."""
    return ds.drop_vars([v for v in ds.variables if str(v).endswith("_time_s")])


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def write_config(path: Path, cfg: dict) -> Path:
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


# ----------------------------------------------------------------------------- end to end
def test_aggregates_span_the_grid_and_equal_the_runs(local_study):
    cfg = load_test_config()
    grids = study_grids(cfg)
    for name, experiment in cfg["experiments"].items():
        runs = open_dataset(local_study / RESULTS / f"aggregate/{name}.nc", kind="run")
        theory = open_dataset(local_study / RESULTS / f"aggregate/{name}_theory.nc", kind="theory")
        labels = sorted({rule_label(point) for point in grids[name].values()})
        for ds in (runs, theory):
            assert ds["rule"].values.tolist() == labels, name
            for key, values in experiment["grid"].items():
                assert ds[dimension_name(key)].values.tolist() == sorted(values), (name, key)
        assert np.isfinite(runs["population_rate"].isel(time=0)).all(), name
        # Δ is measured from the run only for Δ-corrected experiments (and points whose
        # run did not diverge: theory_status says why one has only the leading order)
        delta = theory["finite_size_delta"]
        status = theory["theory_status"]
        if experiment.get("theory", "prediction") == "delta_corrected":
            assert bool(((delta != 0) | (status != "ok")).all()), name
        else:
            assert np.all(delta.values == 0), name
        # every grid point of the aggregate holds exactly its run's data ...
        for point, run_config in grids[name].items():
            selection = {dim: values[0] for dim, values in swept_values(run_config).items()}
            run = open_dataset(local_study / run_path(name, point, "run.nc", RESULTS))
            swept = [d for d in run["diverged"].dims]
            for var in ("mean_weight", "sampled_weight", "neuron_rate", "mean_input"):
                expected = run[var].squeeze(swept)
                # the outer join pads a shorter run (a diverged one: time; a smaller N:
                # neuron) with NaN; the point's own coordinates hold its data
                got = runs[var].sel(selection).sel(
                    {d: expected[d] for d in ("time", "neuron", "sample") if d in expected.dims})
                xr.testing.assert_equal(got, expected)
            # ... and the theory aggregate exactly this point's prediction
            delta_corrected = experiment.get("theory", "prediction") == "delta_corrected"
            single = predict_point(run_config, run if delta_corrected else None)
            for var in ("mean_weight", "fixed_point_weight", "finite_size_delta",
                        "theory_status"):
                xr.testing.assert_equal(theory[var].sel(selection), single[var].squeeze(swept))
    # the original tiny experiments run to the end and keep every population firing
    for name in ("kohonen", "istdp_initial_conditions"):
        runs = open_dataset(local_study / RESULTS / f"aggregate/{name}.nc")
        assert (runs["status"] == "ok").all(), f"{name}: a tiny run diverged"
        assert (runs["population_rate"].mean("time") > 0).all(), f"{name}: silent population"


def test_every_experiment_has_its_agreement_table_and_finite_size_theory(local_study):
    cfg = load_test_config()
    aggregate_dir = local_study / RESULTS / "aggregate"
    header = None
    for name, experiment in cfg["experiments"].items():
        table = (aggregate_dir / f"{name}_agreement.csv").read_text().splitlines()
        header = table[0].split(",")
        assert header[0] == "experiment" and header[-10:] == list(TABLE_COLUMNS), name
        assert len(table) > 1, f"{name}: empty agreement table"
        assert all(line.startswith(f"{name},") for line in table[1:])
        agreement = open_dataset(aggregate_dir / f"{name}_agreement.nc")
        assert all("units" in agreement[v].attrs for v in agreement.data_vars
                   if v != "theory_order")
        assert (aggregate_dir / f"{name}_agreement.html").read_text().count("<tr") == len(table)
        if experiment.get("finite_size_theory", True):
            finite = open_dataset(aggregate_dir / f"{name}_theory_finite_size.nc", kind="theory")
            theory = open_dataset(aggregate_dir / f"{name}_theory.nc", kind="theory")
            assert finite.attrs["theory_order"] == "finite_size"
            assert {"rate_quantile", "final_weight_quantile"} <= set(finite.data_vars)
            for dim in ("rule", "c", "seed", "time", "synapse", "population"):
                assert finite[dim].values.tolist() == theory[dim].values.tolist(), (name, dim)
    summary = (aggregate_dir / "agreement_summary.csv").read_text().splitlines()
    rows = sum(len((aggregate_dir / f"{n}_agreement.csv").read_text().splitlines()) - 1
               for n in cfg["experiments"])
    assert len(summary) == rows + 1


def test_every_figure_is_a_nonempty_pdf_and_png(local_study):
    figures = local_study / RESULTS / "figures"
    stems = expected_figure_stems(load_test_config())
    assert sorted(p.name for p in figures.iterdir()) == sorted(
        f"{stem}.{ext}" for stem in stems for ext in ("pdf", "png"))
    for stem in stems:
        pdf = (figures / f"{stem}.pdf").read_bytes()
        assert pdf.startswith(b"%PDF") and pdf.rstrip().endswith(b"%%EOF"), stem
        assert len(pdf) > 5000, stem
        width, height = png_size(figures / f"{stem}.png")
        assert width >= 400 and height >= 200, (stem, width, height)


def test_numba_compiled_once_before_the_simulations(local_study, workflow_env):
    # the warm-up job wrote the whole cache; no simulation job compiled anything after it
    warmed = (local_study / RESULTS / "numba" / "compiled.txt").stat().st_mtime
    # (numba's index and code files; the theory's transfer tables share the cache directory)
    cache = [p for p in Path(workflow_env["NUMBA_CACHE_DIR"]).rglob("*")
             if p.suffix in (".nbi", ".nbc")]
    assert any(p.suffix == ".nbc" for p in cache)
    late = [p.name for p in cache if p.stat().st_mtime > warmed]
    assert late == [], late


def test_report_holds_every_figure_with_its_parameters(local_study, workflow_env):
    report = local_study / "report.html"
    run_snakemake(local_study, "--report", str(report), env=workflow_env)
    html = report.read_text()
    cfg = load_test_config()
    for stem in expected_figure_stems(cfg):
        assert f"{stem}.png" in html, stem
    for name in cfg["experiments"]:
        assert f"Experiment '{name}'" in html
    assert f"N = {cfg['defaults']['N']}" in html
    for name in cfg["experiments"]:                 # the agreement tables, shown as HTML
        assert f"{name}_agreement.html" in html and f"{name}_agreement.csv" in html
    assert "Agreement" in html
    assert "c \\u2208 {0, 0.1}" in html  # the kohonen grid, in the caption's JSON


def test_finished_study_is_up_to_date(local_study, workflow_env):
    result = run_snakemake(local_study, "--dry-run", env=workflow_env)
    assert "Nothing to be done" in result.stdout + result.stderr


def test_changing_one_grid_value_reruns_only_that_point(local_study, workflow_env, tmp_path):
    cfg = load_test_config()
    sweep = cfg["experiments"]["istdp_initial_conditions"]["grid"]
    assert sweep["weights.ei"] == [-200.0, -100.0]
    sweep["weights.ei"] = [-200.0, -90.0]
    result = run_snakemake(local_study, "--dry-run", env=workflow_env,
                           configfile=write_config(tmp_path / "changed.yaml", cfg))
    counts = job_counts(result.stdout)
    assert counts["run_config"] == counts["simulate"] == 1
    assert counts["theory"] == counts["aggregate_runs"] == 1    # of that experiment only
    assert counts["theory_finite_size"] == counts["agreement"] == 1
    assert counts["agreement_summary"] == 1
    # only the figures drawn from that experiment are redrawn
    readers = [stem for stem, target in figure_targets(
        cfg["figures"], {name: plastic_synapses(points)
                         for name, points in study_grids(cfg).items()}).items()
        if "istdp_initial_conditions" in target.experiments]
    assert counts["figure"] == len(readers) >= 1
    assert (f"output: {RESULTS}/figures/weight_manifold_istdp_initial_conditions.pdf"
            in result.stdout)
    assert "compile_numba" not in counts
    new_run = (f"{RESULTS}/runs/istdp_initial_conditions/rule~istdp/weights_ei~-90/c~0/seed~1"
               "/run.nc")
    assert f"output: {new_run}" in result.stdout
    assert "kohonen/rule~kohonen" not in result.stdout


@pytest.mark.parametrize("config_name", ["config.yaml", "paper.yaml", "paper-samples.yaml"])
def test_dry_run_lists_the_jobs_of_the_grid(config_name, tmp_path):
    # a copy of the repository's workflow, run as a user would: no --configfile for
    # the default study (config/config.yaml is the workflow's config file)
    for item in ("Snakefile", "workflow", "config", "profiles"):
        source = REPO / item
        (shutil.copytree if source.is_dir() else shutil.copy)(source, tmp_path / item)
    cfg = yaml.safe_load((REPO / "config" / config_name).read_text())
    args = ["--dry-run", "--cores", "2"]
    if config_name != "config.yaml":
        args += ["--configfile", f"config/{config_name}"]
    result = subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=tmp_path,
                            capture_output=True, text=True, timeout=HANG_GUARD_S)
    assert result.returncode == 0, result.stderr[-3000:]
    counts = job_counts(result.stdout)
    grids = study_grids(cfg)
    n_points = sum(len(points) for points in grids.values())
    n_experiments = len(cfg["experiments"])
    n_finite_size = sum(e.get("finite_size_theory", True) for e in cfg["experiments"].values())
    expected = {
        "compile_numba": 1, "run_config": n_points, "simulate": n_points,
        "theory": n_experiments, "aggregate_runs": n_experiments,
        "theory_finite_size": n_finite_size, "agreement": n_experiments,
        "agreement_summary": 1,
        "figure": len(expected_figure_stems(cfg)), "all": 1,
    }
    assert counts == expected
    results_dir = cfg.get("results_dir", "results")
    for stem in expected_figure_stems(cfg):
        assert f"output: {results_dir}/figures/{stem}.pdf" in result.stdout
    for name in grids:
        assert f"{results_dir}/aggregate/{name}_agreement.csv" in result.stdout
    for name, points in grids.items():
        for point in (list(points)[0], list(points)[-1]):
            assert f"output: {run_path(name, point, 'run.nc', results_dir)}" in result.stdout


def test_finite_size_theory_off_drops_its_job_and_inputs(tmp_path, workflow_env):
    cfg = copy.deepcopy(load_test_config())
    cfg["experiments"]["kohonen"]["finite_size_theory"] = False
    workdir = tmp_path / "work"
    workdir.mkdir()
    result = run_snakemake(workdir, "--dry-run", "--cores", "1", env=workflow_env,
                           configfile=write_config(tmp_path / "off.yaml", cfg))
    counts = job_counts(result.stdout)
    assert counts["theory_finite_size"] == len(cfg["experiments"]) - 1
    assert counts["agreement"] == len(cfg["experiments"])
    assert f"{RESULTS}/aggregate/kohonen_theory_finite_size.nc" not in result.stdout
    assert f"{RESULTS}/aggregate/soft_hebbian_theory_finite_size.nc" in result.stdout


PAPER_FIGURES = ("fig01_network_scaling", "fig02_kohonen_stability", "fig03_kohonen_statistics",
                 "fig04_istdp_statistics", "fig05_soft_hebbian_statistics", "fig06_optogenetics",
                 "fig07_istdp_manifold", "fig08a_manifold_correlated",
                 "fig08b_timescale_separation", "fig09_learning_windows",
                 "fig10_hebbian_variants", "fig11_mean_field_transients",
                 "fig12_inhibitory_pair", "figS1_correlation_dependence",
                 "figS2_inhibitory_scaling", "figS3_covariance_vs_weight")
"""Every figure of the paper (spec §8, both Fig 8 candidates) and the c-dependence,
scaling-with-N and covariance figures of the issues."""


@pytest.mark.parametrize("config_name", ["config.yaml", "paper.yaml"])
def test_studies_draw_every_paper_figure_from_every_spec_experiment(config_name):
    """Both studies hold all 19 experiments of spec §7 (by rule and swept key) and draw
    every paper figure; the headline rules sweep c ∈ {0, 0.1, 0.5} with ≥ 2 seeds."""
    cfg = yaml.safe_load((REPO / "config" / config_name).read_text())
    figures = cfg["figures"]
    assert set(PAPER_FIGURES) <= set(figures)
    grids = study_grids(cfg)
    rules = {rule_label(point) for points in grids.values() for point in points.values()}
    assert {"kohonen", "istdp", "soft_hebbian", "classical_hebbian", "bounded_hebbian", "oja",
            "none", "ei-istdp+ii-istdp"} <= rules, rules
    swept = {key for e in cfg["experiments"].values() for key in e["grid"]}
    assert {"N", "plasticity.ee.beta0", "weights.ee", "weights.ei", "plasticity.ee.eta",
            "plasticity.ei.eta", "plasticity.ii.eta"} <= swept, swept
    assert any(point["optogenetics"]["enabled"] for points in grids.values()
               for point in points.values())
    for name in ("kohonen", "istdp", "soft_hebbian"):
        grid = cfg["experiments"][name]["grid"]
        assert {0.0, 0.1, 0.5} <= set(grid["c"]) and len(grid["seed"]) >= 2, name


def test_config_readme_documents_every_key():
    text = (REPO / "config" / "README.md").read_text()
    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    keys = list(schema["properties"])
    keys += list(schema["properties"]["experiments"]["additionalProperties"]["properties"])
    keys += list(schema["properties"]["figures"]["properties"])
    keys += [key.replace("|", "\\|") for key, _, _ in describe_fields()]
    missing = [key for key in keys if f"| `{key}` |" not in text]
    assert missing == []


def test_lint_and_snakefmt_are_clean():
    lint = subprocess.run([sys.executable, "-m", "snakemake", "--lint"], cwd=REPO,
                          capture_output=True, text=True, timeout=HANG_GUARD_S)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert "Lints for" not in lint.stdout + lint.stderr
    fmt = subprocess.run([sys.executable, "-m", "snakefmt", "--check", "Snakefile", "workflow"],
                         cwd=REPO, capture_output=True, text=True, timeout=HANG_GUARD_S)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


# ----------------------------------------------------------------------------- bad configs
def _unknown_key(cfg):
    cfg["experiments"]["kohonen"]["grdi"] = {"c": [0.0]}
    return "experiments.kohonen.grdi"


def _c_out_of_range(cfg):
    cfg["experiments"]["kohonen"]["grid"]["c"] = [0.0, 1.5]
    return "experiments.kohonen.grid.c[1]: 1.5 is greater than the maximum of 1"


def _empty_grid(cfg):
    cfg["experiments"]["kohonen"]["grid"]["seed"] = []
    return "experiments.kohonen.grid.seed: empty list"


def _unknown_run_key(cfg):
    cfg["experiments"]["kohonen"]["run"]["plasticity"]["ee"]["bta0"] = 2.0
    return "plasticity.ee.bta0"


def _unknown_figure(cfg):
    cfg["figures"]["balanse"] = ["kohonen"]
    return "figures.balanse: unknown figure 'balanse'; known: fig01_network_scaling"


@pytest.mark.parametrize("break_config", [_unknown_key, _c_out_of_range, _empty_grid,
                                          _unknown_run_key, _unknown_figure])
def test_bad_config_is_rejected_before_any_job(break_config, tmp_path, workflow_env):
    cfg = copy.deepcopy(load_test_config())
    expected = break_config(cfg)
    workdir = tmp_path / "work"
    workdir.mkdir()
    result = run_snakemake(workdir, "--cores", "1", env=workflow_env, check=False,
                           configfile=write_config(tmp_path / "bad.yaml", cfg))
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Invalid workflow config" in output and expected in output, output[-2000:]
    assert not (workdir / "results").exists()


# ----------------------------------------------------------------------------- reliability
def _descendants(pid: int) -> list[int]:
    """PIDs of all live descendants of ``pid`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, stack = [], [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _running_simulation(pid: int) -> int | None:
    """PID of a `balanced-stdp simulate` process started by Snakemake ``pid``, if any."""
    for child in _descendants(pid):
        words = _cmdline(child).split()
        if len(words) > 2 and words[1].endswith("balanced-stdp") and words[2] == "simulate":
            return child
    return None


def _wait_for(predicate, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_killed_run_resumes_to_the_uninterrupted_result(local_study, workflow_env, tmp_path):
    workdir = tmp_path / "resumed"
    workdir.mkdir()
    targets = [f"{RESULTS}/aggregate/{name}.nc" for name in (
        "kohonen", "kohonen_theory", "istdp_initial_conditions",
        "istdp_initial_conditions_theory")]
    command = snakemake_command(workdir, "--cores", "2", *targets)
    grids = study_grids(load_test_config())
    n_runs = sum(len(grids[name]) for name in ("kohonen", "istdp_initial_conditions"))

    def finished_runs() -> list[Path]:
        return list((workdir / RESULTS / "runs").rglob("run.nc"))

    def start() -> subprocess.Popen:
        return subprocess.Popen(command, cwd=workdir, env=workflow_env, start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    # 1. Snakemake and all its jobs are killed as soon as the first simulation is done
    first = start()
    _wait_for(finished_runs, HANG_GUARD_S, "a finished simulation")
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(timeout=HANG_GUARD_S)
    assert len(finished_runs()) < n_runs - 1, "the kill came too late to interrupt anything"
    for path in finished_runs():  # whatever exists is complete (atomic writes)
        open_dataset(path)

    # 2. the same command (after the unlock Snakemake asks for); one simulation job is
    #    killed: Snakemake reports the failure, finishes the rest and exits non-zero
    run_snakemake(workdir, "--unlock", env=workflow_env)
    second = start()
    victim = _wait_for(lambda: _running_simulation(second.pid), HANG_GUARD_S, "a running simulation")
    os.kill(victim, signal.SIGKILL)
    assert second.wait(timeout=HANG_GUARD_S) != 0
    assert len(finished_runs()) < n_runs

    # 3. the same command once more finishes the study, equal to the uninterrupted run
    run_snakemake(workdir, "--cores", "2", *targets, env=workflow_env)
    assert len(finished_runs()) == n_runs
    leftovers = [p for p in (workdir / RESULTS).rglob("*") if ".tmp" in p.name]
    assert leftovers == [], leftovers
    for target in targets:
        xr.testing.assert_identical(comparable(open_dataset(workdir / target)),
                                    comparable(open_dataset(local_study / target)))
