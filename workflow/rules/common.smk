# Config validation, the get_* input/param functions, resources and targets. The study's
# logic (validation, grids, file layout, figure targets, captions) is balanced_stdp.study,
# the job costs balanced_stdp.cost_model; this file wires them to Snakemake. Neither
# imports a plotting library, so parsing the workflow stays light.
#
# Everything here runs when the workflow is parsed, i.e. before any job starts: a bad
# workflow config (unknown key, c outside [0, 1], empty grid, a run-config key the
# simulator does not know) stops Snakemake with one message naming the key.

import math
import os
import re
import sys
import threading
from dataclasses import asdict
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from balanced_stdp import MODEL_VERSION  # a change reruns simulations and theory
from balanced_stdp import cost_model
from balanced_stdp.study import (
    AGGREGATE_SUFFIXES,
    StudyConfigError,
    invalid_config_message,
    load_study,
    source_fingerprint,
)

# Software environment of every job under --software-deployment-method conda; its
# post-deploy script installs the package from this repository (BALANCED_STDP_SOURCE).
SOFTWARE_ENV = "../envs/balanced-stdp.yaml"


class ConfigInvalid(WorkflowError):
    """The workflow config is invalid; the message names the offending key."""


# --------------------------------------------------------------------------- config, grids
def validate_schema(cfg):
    validate(cfg, "../schemas/config.schema.yaml", set_default=True)


try:
    STUDY = load_study(config, validate_schema)
except StudyConfigError as error:
    raise ConfigInvalid(invalid_config_message(error)) from None
GRIDS, FIGURE_TARGETS = STUDY.grids, STUDY.figure_targets
results = STUDY.path  # a path inside this config's results directory (results_dir)

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


def get_run_config_yaml(wildcards) -> str:
    get_run_config(wildcards)  # an unknown grid point fails with its name
    return STUDY.run_config_yaml(wildcards.experiment, wildcards.point)


def get_run_files(wildcards) -> list[str]:
    return STUDY.point_files(wildcards.experiment, "run.nc")


def get_theory_inputs(wildcards) -> dict:
    """Every point's config; for Δ-corrected theory also every finished run."""
    inputs = {"configs": STUDY.point_files(wildcards.experiment, "config.yaml")}
    if config["experiments"][wildcards.experiment]["theory"] == "delta_corrected":
        inputs["runs"] = STUDY.point_files(wildcards.experiment, "run.nc")
    return inputs


def get_theory_curves(wildcards) -> list[str]:
    """The theory curves the experiment's figures draw (balanced_stdp.theory.curves)."""
    return list(STUDY.theory_curves.get(wildcards.experiment, ()))


def get_finite_size_theory_configs(wildcards) -> list[str]:
    """Every point's config (the finite-size theory is never fitted to the runs)."""
    if not STUDY.has_finite_size_theory(wildcards.experiment):
        raise WorkflowError(
            f"experiments.{wildcards.experiment}.finite_size_theory is false: no "
            "finite-size theory"
        )
    return STUDY.point_files(wildcards.experiment, "config.yaml")


def get_agreement_inputs(wildcards) -> dict:
    """The runs and theory aggregates, and the finite-size theory where it is computed."""
    return STUDY.aggregate_files(
        {k: (wildcards.experiment, k) for k in AGGREGATE_SUFFIXES}
    )


def get_agreement_labels(wildcards) -> dict:
    return {"experiment": wildcards.experiment}


def get_figure_target(wildcards) -> dict:
    """The figure target of the output's stem (as a dict, for the script)."""
    return asdict(FIGURE_TARGETS[wildcards.stem])


def get_figure_input(wildcards) -> dict:
    """The aggregates the figure reads (``runs``/``theory``/``finite_size`` of its
    experiment, or ``<role>_runs`` etc. for a figure of roles)."""
    return STUDY.aggregate_files(FIGURE_TARGETS[wildcards.stem].inputs())


def get_figure_caption(wildcards) -> str:
    return STUDY.figure_caption(wildcards.stem)


def get_figure_category(wildcards) -> str:
    return FIGURE_TARGETS[wildcards.stem].report_category


def get_figure_labels(wildcards) -> dict:
    return FIGURE_TARGETS[wildcards.stem].labels


# --------------------------------------------------------------------------- resources
def job_configs(wildcards) -> list[dict]:
    """The run configs a job's requests depend on (Study.job_configs)."""
    keys = [k for k in ("experiment", "point", "stem") if k in wildcards.keys()]
    return STUDY.job_configs(**{k: getattr(wildcards, k) for k in keys})


def request(rule_name: str, key: str):
    """A resource function: the cost model's request (balanced_stdp.cost_model.job_request)
    for the job's run configs, times the attempt (a retried job gets more), rounded up.
    """

    def resource(wildcards, attempt):
        configs = job_configs(wildcards)
        estimate = cost_model.job_request(rule_name, configs, config["resource_scale"])
        return math.ceil(attempt * estimate[key])

    return resource


def get_simulate_threads(wildcards) -> int:
    """Cores of a simulation job: the run config's `threads` (default 1)."""
    return cost_model.simulate_threads(get_run_config(wildcards))


# --------------------------------------------------------------------------- targets
all_aggregates = STUDY.all_aggregates
all_agreement_tables = STUDY.all_agreement_tables
all_figures = STUDY.all_figures


wildcard_constraints:
    experiment="|".join(re.escape(name) for name in GRIDS),
    point=r"rule~[^/]+(/[A-Za-z0-9_]+~[^/]+)*",
    stem="|".join(re.escape(stem) for stem in FIGURE_TARGETS) or "(?!)",


# --------------------------------------------------------------------------- end of a run
def stop_rate_limiter_timers() -> None:
    """End the job-rate limiter's re-evaluation timers once every job is done.

    With the profile's 100-s limiter span (profiles/default/config.yaml) the last timer,
    a non-daemon thread, would keep Snakemake alive up to 100 s after its last job with
    nothing left to schedule. Only Snakemake's scheduler timers are cancelled (matched by
    the function they run); if Snakemake renames it, nothing is cancelled and the run just
    ends later, as before.
    """
    for thread in threading.enumerate():
        function = getattr(thread, "function", None)
        if isinstance(thread, threading.Timer) and "_schedule_reevalutation" in getattr(
            function, "__qualname__", ""
        ):
            thread.cancel()
