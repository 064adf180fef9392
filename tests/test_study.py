"""balanced_stdp.study and balanced_stdp.cost_model: grid expansion, run paths, caption summary,
job costs.

The workflow config is validated as the workflow does it (snakemake.utils.validate
with the schema's defaults), then expanded; every assertion is on a concrete value.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys

import jsonschema
import pytest
import yaml
from snakemake.utils import validate

from balanced_stdp.config import resolve_config
from balanced_stdp.contract import get_dotted
from balanced_stdp.recorder import RASTER_CAPACITY_RATE_HZ
from balanced_stdp.cost_model import (RUNTIME_MARGIN, aggregate_memory_mb, estimated_dataset_mb,
                                      estimated_memory_mb, estimated_wall_seconds,
                                      simulate_runtime_min, simulate_threads)
from balanced_stdp.study import (StudyConfigError, check_figures, expand_experiment, expand_study,
                                 experiment_summary, path_value, plastic_synapses, rst_escape,
                                 run_files, run_path, schema_error_message)
from conftest import REPO

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"

STUDY = {
    "defaults": {"N": 300, "duration_s": 4.0, "weights": {"ie": 100.0}},
    "experiments": {
        "sweep": {
            "description": "iSTDP from two initial weights.",
            "run": {"weights": {"ee": 20.0},
                    "plasticity": {"ei": {"rule": "istdp", "eta": 0.001}}},
            "grid": {"weights.ei": [-200.0, -100.5], "c": [0.0, 0.1], "seed": [1, 2]},
        },
        "static": {"run": {}, "grid": {"c": [0.25], "seed": [3]}},
    },
    "figures": {"weight_manifold": ["sweep"], "balance": ["static"]},
}


def validated(cfg: dict) -> dict:
    cfg = copy.deepcopy(cfg)
    validate(cfg, str(SCHEMA), set_default=True)
    return cfg


@pytest.fixture
def study() -> dict:
    return validated(STUDY)


# ----------------------------------------------------------------------------- grids
def test_grid_points_have_their_paths_in_product_order(study):
    points = expand_experiment("sweep", study["experiments"]["sweep"], study["defaults"])
    assert list(points) == [
        "rule~istdp/weights_ei~-200/c~0/seed~1", "rule~istdp/weights_ei~-200/c~0/seed~2",
        "rule~istdp/weights_ei~-200/c~0.1/seed~1", "rule~istdp/weights_ei~-200/c~0.1/seed~2",
        "rule~istdp/weights_ei~-100.5/c~0/seed~1", "rule~istdp/weights_ei~-100.5/c~0/seed~2",
        "rule~istdp/weights_ei~-100.5/c~0.1/seed~1", "rule~istdp/weights_ei~-100.5/c~0.1/seed~2",
    ]
    assert list(expand_study(study)["static"]) == ["rule~none/c~0.25/seed~3"]


def test_grid_points_resolve_defaults_run_and_grid_values(study):
    points = expand_experiment("sweep", study["experiments"]["sweep"], study["defaults"])
    cfg = points["rule~istdp/weights_ei~-100.5/c~0.1/seed~2"]
    assert (cfg["c"], cfg["seed"], get_dotted(cfg, "weights.ei")) == (0.1, 2, -100.5)
    assert (cfg["N"], cfg["duration_s"]) == (300, 4.0)              # from defaults
    assert cfg["weights"]["ee"] == 20.0 and cfg["weights"]["ie"] == 100.0  # run and defaults
    assert cfg["weights"]["ii"] == resolve_config({})["weights"]["ii"]   # simulator default
    assert cfg["plasticity"]["ei"]["rule"] == "istdp"
    assert cfg["sweep_dims"] == ["weights.ei"]
    # the expansion does not touch the workflow config
    assert study["experiments"]["sweep"]["run"] == STUDY["experiments"]["sweep"]["run"]


def test_run_paths():
    point = "rule~kohonen/c~0.1/seed~1"
    assert run_path("kohonen", point, "run.nc") == f"results/runs/kohonen/{point}/run.nc"
    assert run_files("k", ["rule~a/c~0/seed~1", "rule~a/c~0/seed~2"], "theory.nc") == [
        "results/runs/k/rule~a/c~0/seed~1/theory.nc", "results/runs/k/rule~a/c~0/seed~2/theory.nc"]


@pytest.mark.parametrize("value, text", [
    (0.1, "0.1"), (-250.0, "-250"), (0.0, "0"), (-0.0, "0"), (0.123456789, "0.123457"),
    (1e-7, "1e-07"), (2000000.0, "2e+06"), (3, "3"), (True, "true"), ("kohonen", "kohonen"),
])
def test_path_value_formats_numbers_to_six_digits(value, text):
    assert path_value(value) == text


def test_path_value_rejects_text_that_cannot_be_a_path():
    with pytest.raises(StudyConfigError, match="'a/b' cannot be part of a path"):
        path_value("a/b")


def test_values_equal_to_six_digits_share_a_path(study):
    study["experiments"]["sweep"]["grid"]["c"] = [0.1, 0.1000000001]
    with pytest.raises(StudyConfigError, match=r"^experiments\.sweep\.grid: two grid points "
                                               r"share the path rule~istdp/weights_ei~-200/c~0\.1"):
        expand_study(study)


def test_key_both_fixed_and_swept_is_rejected(study):
    study["experiments"]["sweep"]["run"]["weights"]["ei"] = -150.0
    with pytest.raises(StudyConfigError, match=r"^experiments\.sweep: 'weights\.ei' is both "
                                               r"fixed \(run\.weights\.ei\) and swept"):
        expand_study(study)


@pytest.mark.parametrize("where, key, message", [
    ("defaults", "c", r"^defaults\.c: every experiment sweeps it"),
    ("run", "sweep_dims", r"^experiments\.sweep\.run: 'sweep_dims' is set by the workflow"),
])
def test_keys_the_workflow_sets_are_rejected(study, where, key, message):
    section = study["defaults"] if where == "defaults" else study["experiments"]["sweep"]["run"]
    section[key] = 0.5
    with pytest.raises(StudyConfigError, match=message):
        expand_study(study)


def test_unknown_run_key_names_the_grid_point(study):
    study["experiments"]["sweep"]["run"]["plasticity"]["ei"]["bta0"] = 2.0
    with pytest.raises(StudyConfigError) as error:
        expand_study(study)
    assert str(error.value).startswith(
        "experiments.sweep (grid point weights.ei=-200.0, c=0.0, seed=1): ")
    assert "plasticity.ei.bta0" in str(error.value)


def test_swept_key_under_a_value_is_rejected(study):
    study["experiments"]["sweep"]["grid"]["N.x"] = [1]
    with pytest.raises(StudyConfigError, match="grid key N.x: N is not a mapping"):
        expand_study(study)


def test_plastic_synapses_in_contract_order():
    cfg = validated({"experiments": {"two": {"run": {"plasticity": {
        "ie": {"rule": "soft_hebbian"}, "ee": {"rule": "kohonen"}}}, "grid": {"c": [0], "seed": [1]}}}})
    assert plastic_synapses(expand_study(cfg)["two"]) == ["ee", "ie"]


# ----------------------------------------------------------------------------- figures
def test_figure_lists_that_fit_their_experiments_pass(study):
    check_figures(study, expand_study(study))


@pytest.mark.parametrize("figure, name, message", [
    ("balance", "nosuch", "figures.balance: unknown experiment 'nosuch'; defined: sweep, static"),
    ("weight_dynamics", "static", "figures.weight_dynamics: experiment 'static' has no "
                                  "plastic synapses"),
    ("weight_manifold", "static", "figures.weight_manifold: experiment 'static' has no "
                                  "plastic synapses"),
])
def test_figure_lists_that_do_not_fit_are_rejected(study, figure, name, message):
    study["figures"][figure].append(name)
    with pytest.raises(StudyConfigError) as error:
        check_figures(study, expand_study(study))
    assert str(error.value) == message


def test_weight_manifold_needs_the_initial_weight_sweep(study):
    sweep = study["experiments"]["sweep"]["grid"]
    sweep["weights.ii"] = sweep.pop("weights.ei")
    with pytest.raises(StudyConfigError, match="must sweep grid key weights.ei"):
        check_figures(study, expand_study(study))


# ----------------------------------------------------------------------------- schema errors
def _schema_error(cfg: dict) -> str:
    validator = jsonschema.Draft202012Validator(yaml.safe_load(SCHEMA.read_text()))
    return schema_error_message(next(validator.iter_errors(cfg)))


def test_schema_errors_name_the_key():
    cfg = copy.deepcopy(STUDY)
    cfg["experiments"]["sweep"]["grdi"] = {}
    assert _schema_error(cfg) == ("unknown key 'experiments.sweep.grdi'; "
                                  "allowed: description, finite_size_theory, grid, run, "
                                  "theory")
    cfg = copy.deepcopy(STUDY)
    cfg["experiments"]["sweep"]["grid"]["c"] = [0.0, 1.5]
    assert _schema_error(cfg) == ("experiments.sweep.grid.c[1]: "
                                  "1.5 is greater than the maximum of 1")
    cfg["experiments"]["sweep"]["grid"]["c"] = []
    assert _schema_error(cfg) == "experiments.sweep.grid.c: empty list; give at least one value"
    assert _schema_error({"experiments": {"Sweep": {"grid": {"c": [0], "seed": [1]}}}}
                         ).startswith("experiments: invalid name 'Sweep'")
    assert _schema_error({"experiments": {}, "figurs": {}}).startswith("unknown key 'figurs'")


# ----------------------------------------------------------------------------- cost model
def run_config(**changes) -> dict:
    cfg = {"N": 1000, "duration_s": 10.0}
    for key, value in changes.items():
        cfg.setdefault(key.split("__")[0], {})
        if "__" in key:
            cfg[key.split("__")[0]][key.split("__")[1]] = value
        else:
            cfg[key] = value
    return resolve_config(cfg)


def test_wall_time_known_value_and_scaling():
    # N = 1000, p = 0.1, N_x = 0.2 N: 1.2e5 synapses; set-up 10 s + 2e-6 s per synapse,
    # kernel (2.5e-5 N + 1.8e-8 N^2) s per simulated second at dt = 0.1 ms
    assert estimated_wall_seconds(run_config()) == pytest.approx(10.24 + 10 * 0.043)
    setup = 10.24
    kernel = estimated_wall_seconds(run_config()) - setup
    assert estimated_wall_seconds(run_config(dt_ms=0.05)) - setup == pytest.approx(2 * kernel)
    assert estimated_wall_seconds(run_config(duration_s=20.0)) - setup == pytest.approx(2 * kernel)
    times = [estimated_wall_seconds(run_config(N=n)) for n in (500, 1000, 2000, 5000)]
    assert times == sorted(times) and times[-1] > 10 * (times[0] - 10)


def test_requested_runtime_has_a_floor_and_scales():
    small, large = run_config(), run_config(N=10000, duration_s=600.0)
    assert simulate_runtime_min(small) == 5.0
    assert simulate_runtime_min(large) == pytest.approx(2 * estimated_wall_seconds(large) / 60)
    assert simulate_runtime_min(large, scale=3.0) == pytest.approx(
        3 * simulate_runtime_min(large))


def test_simulation_jobs_take_the_run_configs_threads():
    assert simulate_threads(run_config()) == 1
    assert simulate_threads(run_config(threads=2)) == 2


def test_memory_known_value_and_monotonicity():
    # connectivity 30 B x 1.2e5, count windows (2 + 8) B x N x 5 s / 0.25 s, sampled weights
    # (4 + 8) B x 4 types x 1000 x 100 bins, traces 8 B x 100 x 32, raster ring buffer
    # (8 + 4) B x N x 1 s x the simulator's capacity rate; x2 for copies, + 600 MB
    buffers = 3.6e6 + 2.0e5 + 4.8e6 + 25600 + 12 * 1000 * RASTER_CAPACITY_RATE_HZ
    assert estimated_memory_mb(run_config()) == pytest.approx(600 + 2 * buffers / 1e6)
    for changes in ({"N": 2000}, {"duration_s": 20.0}, {"recording__sampled_synapses": 2000},
                    {"recording__raster_duration_s": 2.0}, {"connection_probability": 0.2}):
        assert estimated_memory_mb(run_config(**changes)) > estimated_memory_mb(run_config())
        assert estimated_dataset_mb(run_config(**changes)) >= estimated_dataset_mb(run_config())
    raster = estimated_memory_mb(run_config(recording__raster_duration_s=2.0)) - \
        estimated_memory_mb(run_config())
    assert raster == pytest.approx(2 * 12 * 1000 * RASTER_CAPACITY_RATE_HZ / 1e6)


def test_dataset_and_aggregate_memory():
    # time series 8 B x 100 bins x 4 x (1000 + 6), per neuron 8 B x (8 N + 3 x 1000),
    # raster (8 + 4) B x N x 1 s x capacity rate
    expected = (8 * 100 * 4 * 1006 + 8 * (8000 + 3000)
                + 12 * 1000 * RASTER_CAPACITY_RATE_HZ) / 1e6
    assert estimated_dataset_mb(run_config()) == pytest.approx(expected)
    assert aggregate_memory_mb([run_config()] * 4) == pytest.approx(1000 + 3 * 4 * expected)


# ----------------------------------------------------------------------------- captions
def test_experiment_summary_names_the_parameters(study):
    grids = expand_study(study)
    assert experiment_summary(study["experiments"]["sweep"], grids["sweep"]) == (
        "N = 300, T = 4 s, τ_STDP = 200 ms; EI istdp (eta = 0.001, j_norm = -200, "
        "target_rate_hz = 10); "
        "initial j_ee = 20 mV, j_ie = 100 mV, j_ii = -250 mV; "
        "weights.ei ∈ {-200, -100.5}; c ∈ {0, 0.1}; seed ∈ {1, 2}.")
    assert experiment_summary(study["experiments"]["static"], grids["static"]) == (
        "N = 300, T = 4 s, τ_STDP = 200 ms; no plasticity; "
        "initial j_ee = 25 mV, j_ei = -150 mV, j_ie = 100 mV, j_ii = -250 mV; "
        "c ∈ {0.25}; seed ∈ {3}.")


def test_rst_escape():
    assert rst_escape(r"|x| *a* _b `c` \d") == r"\|x\| \*a\* \_b \`c\` \\d"


def test_cost_model_bounds_a_measured_run(tmp_path):
    """One short run measured in a fresh process: the job's requests cover it — CPU time
    within the runtime margin the workflow applies (RUNTIME_MARGIN × estimate, before the
    MIN_RUNTIME_MIN floor), memory within the estimate, which is not absurdly high.

    Only the upper bound is asserted, on the process's CPU time (user + system), which
    other load on the machine does not inflate the way it inflates wall time. How tight
    the estimate is (estimate / measured) depends on the machine's speed, so
    ``benchmarks/cost_model.py`` prints it instead of a test asserting it."""
    cfg = resolve_config({"N": 2000, "duration_s": 4.0, "weights": {"ee": 1.0, "ei": -100.0},
                          "plasticity": {"ee": {"rule": "kohonen", "eta": 0.01}}})
    probe = ("import json, resource, sys\n"
             "from balanced_stdp.simulation import simulate\n"
             "simulate(json.loads(sys.argv[1]), progress=False)\n"
             "usage = resource.getrusage(resource.RUSAGE_SELF)\n"
             "print(json.dumps({'cpu_s': usage.ru_utime + usage.ru_stime,\n"
             "  'rss_mb': usage.ru_maxrss / 1024}))\n")
    env = {**os.environ, "NUMBA_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-c", probe, json.dumps(cfg)], check=True, env=env,
                   capture_output=True)                   # warm numba's cache first
    out = subprocess.run([sys.executable, "-c", probe, json.dumps(cfg)], check=True, env=env,
                         capture_output=True, text=True).stdout
    measured = json.loads(out)
    wall_s, memory_mb = estimated_wall_seconds(cfg), estimated_memory_mb(cfg)
    assert measured["cpu_s"] <= RUNTIME_MARGIN * wall_s, (measured, wall_s)
    assert simulate_runtime_min(cfg) >= RUNTIME_MARGIN * wall_s / 60
    assert measured["rss_mb"] <= memory_mb <= 4 * measured["rss_mb"], (measured, memory_mb)


def test_check_figures_accepts_role_figures_of_non_plastic_experiments():
    grids = {"static": {"p": resolve_config({})}}
    config = {"figures": {"figS3_covariance_vs_weight": {"jee": "static", "jei": "static"},
                          "weight_manifold": []}}
    check_figures(config, grids)
    config["figures"]["weight_dynamics"] = ["static"]      # a per-experiment figure still is
    with pytest.raises(StudyConfigError, match="has no plastic synapses"):
        check_figures(config, grids)


def test_smoke_run_shortens_every_run_and_keeps_grids_and_sizes():
    """smoke_duration_s: the paper study's 334 runs with their grid points, N and rules,
    every run ≤ 2 s, the times that scale with T scaled alike (same bins, windows and laser
    epoch fractions), all whole time steps."""
    paper = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
    full = expand_study(validated(copy.deepcopy(paper)))
    smoke = expand_study(validated({**copy.deepcopy(paper), "smoke_duration_s": 2.0}))
    assert {e: list(p) for e, p in smoke.items()} == {e: list(p) for e, p in full.items()}
    for name, points in full.items():
        for point, run in points.items():
            short = smoke[name][point]
            assert short["N"] == run["N"] and short["plasticity"] == run["plasticity"]
            assert short["duration_s"] == min(run["duration_s"], 2.0)
            factor = short["duration_s"] / run["duration_s"]
            for key in ("recording.interval_s", "recording.covariance_window_s"):
                value = get_dotted(short, key)
                steps = value * 1000 / short["dt_ms"]
                assert abs(steps - round(steps)) < 1e-6 and round(steps) >= 1
                expected = get_dotted(run, key) * factor
                assert value == pytest.approx(expected, abs=short["dt_ms"] / 1000), (key, point)
            if run["optogenetics"]["enabled"]:
                window = [get_dotted(short, f"optogenetics.{k}") for k in ("start_s", "stop_s")]
                assert window == pytest.approx([run["optogenetics"]["start_s"] * factor,
                                                run["optogenetics"]["stop_s"] * factor],
                                               abs=1e-4)


def test_smoke_run_refuses_an_experiment_that_sweeps_a_time():
    cfg = copy.deepcopy(STUDY)
    cfg["experiments"]["static"]["grid"]["recording.interval_s"] = [0.5, 1.0]
    cfg["smoke_duration_s"] = 1.0
    with pytest.raises(StudyConfigError, match="sweeps recording.interval_s"):
        expand_study(validated(cfg))
