# Config validation, the experiment grids, the get_* input/param/resource functions and
# the targets. The study's logic (grid expansion, run paths, cost model, captions) is
# balanced_stdp.study and the figure table is balanced_stdp.figures; this file wires them
# to Snakemake.
#
# Everything here runs when the workflow is parsed, i.e. before any job starts: a bad
# workflow config (unknown key, c outside [0, 1], empty grid, a run-config key the
# simulator does not know) stops Snakemake with one message naming the key.

import math
import os
import re
import sys
from dataclasses import asdict
from pathlib import Path

import jsonschema
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from balanced_stdp import MODEL_VERSION  # a change reruns simulations and theory
from balanced_stdp.contract import SYNAPSE_TYPES
from balanced_stdp.figures import caption_for, figure_targets
from balanced_stdp.cost_model import (
    aggregate_memory_mb,
    estimated_memory_mb,
    finite_size_theory_runtime_min,
    simulate_runtime_min,
    simulate_threads,
    theory_memory_mb,
    theory_runtime_min,
)
from balanced_stdp.study import (
    StudyConfigError,
    check_figures,
    expand_study,
    plastic_synapses,
    report_caption,
    run_files,
    run_path,
    schema_error_message,
    source_fingerprint,
)

# Software environment of every job under --software-deployment-method conda; its
# post-deploy script installs the package from this repository (BALANCED_STDP_SOURCE).
SOFTWARE_ENV = "../envs/balanced-stdp.yaml"


class ConfigInvalid(WorkflowError):
    """The workflow config is invalid; the message names the offending key."""

    def __init__(self, message: str):
        super().__init__(f"Invalid workflow config: {message}")


# --------------------------------------------------------------------------- config, grids
try:
    validate(config, "../schemas/config.schema.yaml", set_default=True)
    GRIDS = expand_study(config)
    check_figures(config, GRIDS)
    FIGURE_TARGETS = figure_targets(
        config["figures"], {e: plastic_synapses(GRIDS[e]) for e in GRIDS}
    )
except WorkflowError as error:
    # snakemake's validate raises it while handling the jsonschema error it reports
    if not isinstance(error.__context__, jsonschema.ValidationError):
        raise
    raise ConfigInvalid(schema_error_message(error.__context__)) from None
except (StudyConfigError, ValueError) as error:
    raise ConfigInvalid(str(error)) from None
EXPERIMENTS = list(GRIDS)
RESULTS = config["results_dir"]


def results(path: str) -> str:
    """``path`` inside this config's results directory (``results_dir``)."""
    return f"{RESULTS}/{path}"


# Jobs call the `balanced-stdp` CLI of the environment Snakemake itself runs in (also
# inside SLURM jobs, which rerun the same interpreter), even if it is not activated;
# every job shares one numba cache, so the kernel is compiled once (rule compile_numba).
os.environ.update(
    PATH=os.pathsep.join(
        [str(Path(sys.executable).parent), os.environ.get("PATH", os.defpath)]
    ),
    BALANCED_STDP_SOURCE=str(Path(workflow.basedir).resolve()),
)
os.environ.setdefault("NUMBA_CACHE_DIR", os.path.abspath(config["numba_cache_dir"]))
# Let HDF5 open files on shared filesystems and files another process has open. HDF5
# reads it once, when it loads, so every job needs it in its environment.
os.environ.setdefault("HDF5_USE_FILE_LOCKING", "FALSE")


# --------------------------------------------------------------------------- get_* helpers
def get_run_config(wildcards) -> dict:
    """The resolved run config of one grid point."""
    try:
        return GRIDS[wildcards.experiment][wildcards.point]
    except KeyError:
        raise WorkflowError(
            f"no grid point {wildcards.point} in experiment {wildcards.experiment}"
        ) from None


def get_run_files(wildcards) -> list[str]:
    return run_files(
        wildcards.experiment, GRIDS[wildcards.experiment], "run.nc", RESULTS
    )


def get_theory_inputs(wildcards) -> dict:
    """Every point's config; for Δ-corrected theory also every finished run."""
    experiment = wildcards.experiment
    points = GRIDS[experiment]
    inputs = {"configs": run_files(experiment, points, "config.yaml", RESULTS)}
    if config["experiments"][experiment]["theory"] == "delta_corrected":
        inputs["runs"] = run_files(experiment, points, "run.nc", RESULTS)
    return inputs


def has_finite_size_theory(experiment: str) -> bool:
    """experiments.<name>.finite_size_theory: the finite-size theory is computed."""
    return config["experiments"][experiment]["finite_size_theory"]


def get_finite_size_theory_configs(wildcards) -> list[str]:
    """Every point's config (the finite-size theory is never fitted to the runs)."""
    experiment = wildcards.experiment
    if not has_finite_size_theory(experiment):
        raise WorkflowError(
            f"experiments.{experiment}.finite_size_theory is false: no finite-size theory"
        )
    return run_files(experiment, GRIDS[experiment], "config.yaml", RESULTS)


def get_agreement_inputs(wildcards) -> dict:
    """The runs and theory aggregates, and the finite-size theory where it is computed."""
    experiment = wildcards.experiment
    inputs = {
        "runs": results(f"aggregate/{experiment}.nc"),
        "theory": results(f"aggregate/{experiment}_theory.nc"),
    }
    if has_finite_size_theory(experiment):
        inputs["finite_size"] = results(f"aggregate/{experiment}_theory_finite_size.nc")
    return inputs


def get_agreement_labels(wildcards) -> dict:
    return {"experiment": wildcards.experiment}


def get_run_config_yaml(wildcards) -> str:
    """The point's resolved run config as the YAML text of its config.yaml."""
    path = run_path(wildcards.experiment, wildcards.point, "config.yaml", RESULTS)
    return (
        f"# Resolved run config; reproduce with: balanced-stdp simulate {path} --out RUN.nc\n"
        + yaml.safe_dump(get_run_config(wildcards), sort_keys=False)
    )


# --------------------------------------------------------------------------- resources
# Estimates of balanced_stdp.cost_model; a retried job gets `attempt` times more.
def simulate_runtime(wildcards, attempt) -> int:
    cfg = get_run_config(wildcards)
    return math.ceil(attempt * simulate_runtime_min(cfg, config["resource_scale"]))


def get_simulate_threads(wildcards) -> int:
    """Cores of a simulation job: the run config's `threads` (default 1)."""
    return simulate_threads(get_run_config(wildcards))


def simulate_mem_mb(wildcards, attempt) -> int:
    return math.ceil(attempt * estimated_memory_mb(get_run_config(wildcards)))


def theory_runtime(wildcards, attempt) -> int:
    return math.ceil(attempt * theory_runtime_min(GRIDS[wildcards.experiment].values()))


def finite_size_theory_runtime(wildcards, attempt) -> int:
    points = GRIDS[wildcards.experiment].values()
    return math.ceil(attempt * finite_size_theory_runtime_min(points))


def theory_mem_mb(wildcards, attempt) -> int:
    return math.ceil(attempt * theory_memory_mb(GRIDS[wildcards.experiment].values()))


def aggregate_mem_mb(wildcards, attempt) -> int:
    """Aggregation and figures hold every run of the experiment, plus the combined copy."""
    points = GRIDS[wildcards.experiment].values()
    return math.ceil(attempt * aggregate_memory_mb(points))


# --------------------------------------------------------------------------- figures
def _figure_target(wildcards):
    return FIGURE_TARGETS[wildcards.stem]


def get_figure_target(wildcards) -> dict:
    """The figure target of the output's stem (as a dict, for the script)."""
    return asdict(_figure_target(wildcards))


def get_figure_input(wildcards) -> dict:
    """The aggregates the figure reads (``runs``/``theory`` of its experiment or roles, and
    ``finite_size`` where the experiment computes the finite-size theory)."""
    suffix = {"runs": "", "theory": "_theory", "finite_size": "_theory_finite_size"}
    return {
        name: results(f"aggregate/{experiment}{suffix[kind]}.nc")
        for name, (experiment, kind) in _figure_target(wildcards).inputs().items()
        if kind != "finite_size" or has_finite_size_theory(experiment)
    }


def get_figure_caption(wildcards) -> str:
    target = _figure_target(wildcards)
    return report_caption(
        caption_for(target.figure, None),
        [(e, config["experiments"][e], GRIDS[e]) for e in target.experiments],
    )


def get_figure_category(wildcards) -> str:
    return _figure_target(wildcards).report_category


def get_figure_labels(wildcards) -> dict:
    return _figure_target(wildcards).labels


def get_figure_mem_mb(wildcards, attempt) -> int:
    """As aggregation of every experiment the figure reads, else 1 GB."""
    target = _figure_target(wildcards)
    points = [cfg for e in target.experiments for cfg in GRIDS[e].values()]
    if not points:
        return 1000 * attempt
    return math.ceil(attempt * aggregate_memory_mb(points))


# --------------------------------------------------------------------------- targets
def all_aggregates() -> list[str]:
    return [
        results(f"aggregate/{e}{suffix}.nc")
        for e in EXPERIMENTS
        for suffix in ("", "_theory")
    ] + [
        results(f"aggregate/{e}_theory_finite_size.nc")
        for e in EXPERIMENTS
        if has_finite_size_theory(e)
    ]


def all_agreement_tables() -> list[str]:
    """Every experiment's agreement table (CSV, netCDF, HTML) and the study's summary."""
    return [
        results(f"aggregate/{e}_agreement.{ext}")
        for e in EXPERIMENTS
        for ext in ("csv", "nc", "html")
    ] + [results("aggregate/agreement_summary.csv")]


def all_figures() -> list[str]:
    return [
        results(f"figures/{stem}.{ext}")
        for stem in FIGURE_TARGETS
        for ext in ("pdf", "png")
    ]


wildcard_constraints:
    experiment="|".join(re.escape(name) for name in EXPERIMENTS),
    point=r"rule~[^/]+(/[A-Za-z0-9_]+~[^/]+)*",
    stem="|".join(re.escape(stem) for stem in FIGURE_TARGETS) or "(?!)",
