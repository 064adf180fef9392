# Config validation, the experiment grids, the get_* input/param/resource functions and
# the targets. The study's logic (grid expansion, run paths, cost model, captions) is
# balanced_stdp.study; this file wires it to Snakemake.
#
# Everything here runs when the workflow is parsed, i.e. before any job starts: a bad
# workflow config (unknown key, c outside [0, 1], empty grid, a run-config key the
# simulator does not know) stops Snakemake with one message naming the key.

import math
import os
import re
import sys
from pathlib import Path

import jsonschema
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from balanced_stdp import MODEL_VERSION  # a change reruns simulations and theory
from balanced_stdp.contract import SYNAPSE_TYPES
from balanced_stdp.study import (
    StudyConfigError,
    aggregate_memory_mb,
    check_figures,
    estimated_memory_mb,
    expand_study,
    experiment_summary,
    plastic_synapses,
    rst_escape,
    run_files,
    run_path,
    schema_error_message,
    simulate_runtime_min,
    source_fingerprint,
    theory_memory_mb,
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
except WorkflowError as error:
    # snakemake's validate raises it while handling the jsonschema error it reports
    if not isinstance(error.__context__, jsonschema.ValidationError):
        raise
    raise ConfigInvalid(schema_error_message(error.__context__)) from None
except StudyConfigError as error:
    raise ConfigInvalid(str(error)) from None
EXPERIMENTS = list(GRIDS)

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
# reads this once, when it loads (import netCDF4), so jobs need it in their environment:
# balanced_stdp.io sets it too, but after importing netCDF4 (only its children see it).
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
    return run_files(wildcards.experiment, GRIDS[wildcards.experiment], "run.nc")


def get_theory_files(wildcards) -> list[str]:
    return run_files(wildcards.experiment, GRIDS[wildcards.experiment], "theory.nc")


def get_theory_input(wildcards) -> dict:
    """The point's config; for Δ-corrected theory also its finished run."""
    experiment, point = wildcards.experiment, wildcards.point
    inputs = {"config": run_path(experiment, point, "config.yaml")}
    if config["experiments"][experiment]["theory"] == "delta_corrected":
        inputs["run"] = run_path(experiment, point, "run.nc")
    return inputs


def get_theory_arguments(wildcards, input) -> str:
    if "run" in input.keys():
        return f"--from-simulation {input.run}"
    return str(input.config)


def get_run_config_yaml(wildcards) -> str:
    """The point's resolved run config as the YAML text of its config.yaml."""
    path = run_path(wildcards.experiment, wildcards.point, "config.yaml")
    return (
        f"# Resolved run config; reproduce with: balanced-stdp simulate {path} --out RUN.nc\n"
        + yaml.safe_dump(get_run_config(wildcards), sort_keys=False)
    )


# --------------------------------------------------------------------------- resources
# Estimates of balanced_stdp.study's cost model; a retried job gets `attempt` times more.
def simulate_runtime(wildcards, attempt) -> int:
    cfg = get_run_config(wildcards)
    return math.ceil(attempt * simulate_runtime_min(cfg, config["resource_scale"]))


def simulate_mem_mb(wildcards, attempt) -> int:
    return math.ceil(attempt * estimated_memory_mb(get_run_config(wildcards)))


def theory_mem_mb(wildcards, attempt) -> int:
    return math.ceil(attempt * theory_memory_mb(get_run_config(wildcards)))


def aggregate_mem_mb(wildcards, attempt) -> int:
    """Aggregation and figures hold every run of the experiment, plus the combined copy."""
    return math.ceil(
        attempt * aggregate_memory_mb(GRIDS[wildcards.experiment].values())
    )


# --------------------------------------------------------------------------- captions
def report_caption(figure: str, experiment: str | None = None) -> str:
    """Report caption: what the figure shows (from its registry entry in
    balanced_stdp.figures) and which parameters produced it (from the config), as
    reStructuredText."""
    from balanced_stdp.figures import caption_for

    text = caption_for(figure, None)
    if experiment is not None:
        exp = config["experiments"][experiment]
        theory = {
            "prediction": "Theory: mean-field prediction from the run config.",
            "delta_corrected": "Theory: Δ-corrected from each finished run (spec §6.6).",
        }[exp["theory"]]
        text = (
            f"Experiment '{experiment}'"
            + (f": {exp['description'].rstrip('.')}" if exp["description"] else "")
            + f". {text} Parameters: {experiment_summary(exp, GRIDS[experiment])} {theory}"
        )
    return rst_escape(text)


# --------------------------------------------------------------------------- targets
def figure_files(stem: str) -> list[str]:
    return [f"results/figures/{stem}.pdf", f"results/figures/{stem}.png"]


def figure_table() -> dict:
    """Figure targets of the config's `figures:` section, by file stem."""
    from balanced_stdp.figures import figure_targets

    try:
        return figure_targets(
            config["figures"], {e: plastic_synapses(GRIDS[e]) for e in EXPERIMENTS}
        )
    except ValueError as error:
        raise ConfigInvalid(str(error)) from None


FIGURE_TARGETS = figure_table()


def all_figures() -> list[str]:
    return [path for stem in FIGURE_TARGETS for path in figure_files(stem)]


def figure_stem_pattern() -> str:
    """Wildcard constraint of the figure rule: exactly the stems of the targets."""
    return "|".join(re.escape(stem) for stem in FIGURE_TARGETS) or "(?!)"


def _figure_target(wildcards):
    return FIGURE_TARGETS[wildcards.stem]


def get_figure_target(wildcards) -> dict:
    """The figure target of the output's stem (as a dict, for the script)."""
    from dataclasses import asdict

    return asdict(_figure_target(wildcards))


def get_figure_input(wildcards) -> dict:
    """The aggregates the figure needs (``runs``, ``theory``) of its experiment."""
    target = _figure_target(wildcards)
    suffix = {"runs": "", "theory": "_theory"}
    return {
        name: f"results/aggregate/{target.experiment}{suffix[name]}.nc"
        for name in target.spec.inputs
    }


def get_figure_caption(wildcards) -> str:
    target = _figure_target(wildcards)
    return report_caption(target.figure, target.experiment)


def get_figure_category(wildcards) -> str:
    return _figure_target(wildcards).spec.category


def get_figure_labels(wildcards) -> dict:
    return _figure_target(wildcards).labels


def get_figure_mem_mb(wildcards, attempt) -> int:
    """As aggregation for a figure drawn from an experiment's aggregates, else 1 GB."""
    from types import SimpleNamespace

    target = _figure_target(wildcards)
    if not target.spec.inputs:
        return 1000 * attempt
    return aggregate_mem_mb(SimpleNamespace(experiment=target.experiment), attempt)


def all_aggregates() -> list[str]:
    return [
        f"results/aggregate/{e}{suffix}.nc"
        for e in EXPERIMENTS
        for suffix in ("", "_theory")
    ]


wildcard_constraints:
    experiment="|".join(re.escape(name) for name in EXPERIMENTS),
    point=r"rule~[^/]+(/[A-Za-z0-9_]+~[^/]+)*",
    synapse="|".join(SYNAPSE_TYPES),
