# Config validation, the experiment grids, and the get_* input/param/resource functions.
#
# Everything here runs when the workflow is parsed, i.e. before any job starts: a bad
# workflow config (unknown key, c outside [0, 1], empty grid, a run-config key the
# simulator does not know) stops Snakemake with one message naming the key.

import copy
import hashlib
import itertools
import math
import os
import re
import sys
from pathlib import Path

import jsonschema
import yaml
from snakemake.exceptions import WorkflowError

import balanced_stdp
from balanced_stdp.config import ConfigError, get_dotted, resolve_config, rule_label
from balanced_stdp.plasticity import SYNAPSE_TYPES

SCHEMA_PATH = Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml"

# Bumped by the model's authors whenever results change; a change reruns every simulation
# and theory job on purpose (editing other package code does not).
MODEL_VERSION = str(getattr(balanced_stdp, "MODEL_VERSION", balanced_stdp.__version__))

# Jobs call the `balanced-stdp` CLI of the environment Snakemake itself runs in (also
# inside SLURM jobs, which rerun the same interpreter), even if it is not activated.
os.environ.update(
    PATH=os.pathsep.join(
        [str(Path(sys.executable).parent), os.environ.get("PATH", os.defpath)]
    )
)


class ConfigInvalid(WorkflowError):
    """The workflow config is invalid; the message names the offending key."""

    def __init__(self, message: str):
        super().__init__(f"Invalid workflow config: {message}")


# --------------------------------------------------------------------------- validation
def _json_path(parts) -> str:
    out = ""
    for part in parts:
        out += (
            f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
        )
    return out or "config"


def _with_defaults(validator_class):
    """A validator that also fills in the schema's defaults (jsonschema FAQ recipe)."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema:
                    instance.setdefault(name, copy.deepcopy(subschema["default"]))
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


def _schema_message(error) -> str:
    where = _json_path(error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = set(error.schema.get("properties", {}))
        extra = [k for k in error.instance if k not in allowed]
        hint = f"; allowed: {', '.join(sorted(allowed))}" if allowed else ""
        key = extra[0] if where == "config" else f"{where}.{extra[0]}"
        return f"unknown key '{key}'{hint}"
    if error.validator == "propertyNames":
        return f"{where}: invalid name {error.instance!r} ({error.message})"
    if error.validator == "minItems" and error.instance == []:
        return f"{where}: empty list; give at least one value"
    return f"{where}: {error.message}"


def validate_workflow_config(cfg: dict) -> None:
    """Check ``cfg`` against the JSON schema (filling defaults in place)."""
    schema = yaml.safe_load(SCHEMA_PATH.read_text())
    validator_class = _with_defaults(jsonschema.Draft202012Validator)
    errors = sorted(
        validator_class(schema).iter_errors(cfg), key=lambda e: list(e.absolute_path)
    )
    if errors:
        best = jsonschema.exceptions.best_match(errors)
        raise ConfigInvalid(_schema_message(best))


# --------------------------------------------------------------------------- grids
def _merge(base: dict, update: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _set_dotted(cfg: dict, key: str, value) -> None:
    node = cfg
    parts = key.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigInvalid(f"grid key {key}: {part} is not a mapping")
    node[parts[-1]] = value


def _has_dotted(cfg: dict, key: str) -> bool:
    try:
        get_dotted(cfg, key)
    except KeyError:
        return False
    return True


def path_value(value) -> str:
    """A grid value as written in paths: numbers to 6 significant digits, no trailing .0."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = f"{value:.6g}"
        return "0" if text == "-0" else text
    text = str(value)
    if not re.fullmatch(r"[A-Za-z0-9_.+-]+", text):
        raise ConfigInvalid(f"grid value {text!r} cannot be part of a path")
    return text


def dimension_name(key: str) -> str:
    """Dataset dimension of a swept dotted key (``weights.ei`` -> ``weights_ei``)."""
    return key.replace(".", "_")


def expand_experiment(name: str, experiment: dict, defaults: dict) -> dict:
    """Map every grid point's path (``rule~…/c~…/seed~…``) to its resolved run config."""
    where = f"experiments.{name}"
    grid = experiment["grid"]
    run = experiment["run"]
    for key in grid:
        if _has_dotted(run, key):
            raise ConfigInvalid(
                f"{where}: '{key}' is both fixed (run.{key}) and swept (grid.{key})"
            )
    for key in ("c", "seed"):
        if key in defaults:
            raise ConfigInvalid(
                f"defaults.{key}: every experiment sweeps it in its "
                f"grid ({where}.grid.{key}); remove it from defaults"
            )
    if "sweep_dims" in run or "sweep_dims" in defaults:
        raise ConfigInvalid(
            f"{where}.run: 'sweep_dims' is set by the workflow from the grid keys"
        )
    base = _merge(defaults, run)
    base["sweep_dims"] = [key for key in grid if key not in ("c", "seed")]
    points = {}
    for values in itertools.product(*grid.values()):
        raw = copy.deepcopy(base)
        for key, value in zip(grid, values):
            _set_dotted(raw, key, value)
        try:
            resolved = resolve_config(raw)
        except ConfigError as error:
            at = ", ".join(f"{k}={v}" for k, v in zip(grid, values))
            raise ConfigInvalid(f"{where} (grid point {at}): {error}")
        parts = [f"rule~{rule_label(resolved)}"] + [
            f"{dimension_name(key)}~{path_value(get_dotted(resolved, key))}"
            for key in grid
        ]
        point = "/".join(parts)
        if point in points:
            raise ConfigInvalid(
                f"{where}.grid: two grid points share the path {point} (values equal to 6 digits)"
            )
        points[point] = resolved
    return points


def _check_figures(cfg: dict, grids: dict) -> None:
    for figure, names in cfg["figures"].items():
        if isinstance(names, bool):
            continue
        for name in names:
            if name not in cfg["experiments"]:
                raise ConfigInvalid(
                    f"figures.{figure}: unknown experiment '{name}'; "
                    f"defined: {', '.join(cfg['experiments'])}"
                )
            first = next(iter(grids[name].values()))
            if not first["plasticity"] and figure != "balance":
                raise ConfigInvalid(
                    f"figures.{figure}: experiment '{name}' has no plastic synapses"
                )
    for name in cfg["figures"]["weight_manifold"]:
        if "weights.ei" not in cfg["experiments"][name]["grid"]:
            raise ConfigInvalid(
                f"figures.weight_manifold: experiment '{name}' must "
                "sweep grid key weights.ei (the initial-condition sweep)"
            )


validate_workflow_config(config)
GRIDS = {
    name: expand_experiment(name, experiment, config["defaults"])
    for name, experiment in config["experiments"].items()
}
_check_figures(config, GRIDS)
EXPERIMENTS = list(GRIDS)
# Software environment of every job under --software-deployment-method conda; its
# post-deploy script installs the package from this repository.
SOFTWARE_ENV = "../envs/balanced-stdp.yaml"
os.environ.update(BALANCED_STDP_SOURCE=str(Path(workflow.basedir).resolve()))

# Model code is imported by every job; make its numba cache explicit and shared, and let
# HDF5 open files another process is writing (shared filesystems, readers during writes).
os.environ.setdefault("NUMBA_CACHE_DIR", os.path.abspath(config["numba_cache_dir"]))
os.environ.update(HDF5_USE_FILE_LOCKING="FALSE")


# --------------------------------------------------------------------------- get_* helpers
def get_run_config(wildcards) -> dict:
    """The resolved run config of one grid point."""
    try:
        return GRIDS[wildcards.experiment][wildcards.point]
    except KeyError:
        raise WorkflowError(
            f"no grid point {wildcards.point} in experiment {wildcards.experiment}"
        ) from None


def run_files(experiment: str, name: str = "run.nc") -> list[str]:
    """Per-point output files of an experiment (``run.nc``, ``theory.nc``, …)."""
    return [f"results/runs/{experiment}/{point}/{name}" for point in GRIDS[experiment]]


def get_run_files(wildcards) -> list[str]:
    return run_files(wildcards.experiment, "run.nc")


def get_theory_files(wildcards) -> list[str]:
    return run_files(wildcards.experiment, "theory.nc")


def get_theory_input(wildcards) -> dict:
    """The point's config; for Δ-corrected theory also its finished run."""
    inputs = {
        "config": f"results/runs/{wildcards.experiment}/{wildcards.point}/config.yaml"
    }
    if config["experiments"][wildcards.experiment]["theory"] == "delta_corrected":
        inputs["run"] = f"results/runs/{wildcards.experiment}/{wildcards.point}/run.nc"
    return inputs


def get_theory_arguments(wildcards, input) -> str:
    if "run" in input.keys():
        return f"--from-simulation {input.run}"
    return str(input.config)


def get_run_config_yaml(wildcards) -> str:
    """The point's resolved run config as the YAML text of its config.yaml."""
    path = f"results/runs/{wildcards.experiment}/{wildcards.point}/config.yaml"
    return (
        f"# Resolved run config; reproduce with: balanced-stdp simulate {path} --out RUN.nc\n"
        + yaml.safe_dump(get_run_config(wildcards), sort_keys=False)
    )


def plastic_synapses(experiment: str) -> list[str]:
    first = next(iter(GRIDS[experiment].values()))
    return [s for s in SYNAPSE_TYPES if s in first["plasticity"]]


# --------------------------------------------------------------------------- resources
# Cost model of one simulation, measured with `balanced-stdp simulate` on the 2-core
# development machine (single-threaded kernel, Kohonen rule, p = 0.1, dt = 0.1 ms): the
# kernel took 0.036, 0.080, 0.40 and 1.38 s per simulated second at N = 1000, 2000,
# 5000 and 10000, i.e. a part linear in N (neuron updates) plus one in N^2 (spike
# delivery and plasticity over p N synapses per spike), ~1.6e-5 N + 1.2e-8 N^2. The
# estimate below is 50 % above that; other jobs on the same cores slowed runs by up to
# 2x, which the factor 2 of the runtime request covers.
def estimated_wall_seconds(cfg: dict) -> float:
    """Expected wall time of one simulation job (s), including start-up and set-up."""
    n = cfg["N"]
    steps_per_ms = 0.1 / cfg["dt_ms"]
    per_sim_second = steps_per_ms * (
        2.5e-5 * n + 1.8e-8 * n**2 * cfg["connection_probability"] / 0.1
    )
    setup = 10.0 + 2.0e-6 * _synapse_count(cfg)
    return setup + per_sim_second * cfg["duration_s"]


def _synapse_count(cfg: dict) -> float:
    return (
        cfg["connection_probability"] * cfg["N"] ** 2 * (1.0 + cfg["external_fraction"])
    )


def estimated_memory_mb(cfg: dict) -> float:
    """Expected peak memory of one simulation job (MB)."""
    n, duration_s, rec = cfg["N"], cfg["duration_s"], cfg["recording"]
    bins = duration_s / rec["interval_s"]
    connectivity = 30.0 * _synapse_count(cfg)
    # spike-count windows (uint16) over the second half, per neuron
    windows = 2.0 * n * (duration_s / 2.0) / rec["covariance_window_s"]
    # sampled weights (float32) plus the float64 copy in the dataset
    samples = 12.0 * len(SYNAPSE_TYPES) * rec["sampled_synapses"] * bins
    traces = 8.0 * bins * (4 * len(SYNAPSE_TYPES) + 16)
    return 500.0 + 2.0 * (connectivity + windows + samples + traces) / 1e6


def simulate_runtime(wildcards, attempt) -> int:
    cfg = get_run_config(wildcards)
    minutes = 2.0 * config["resource_scale"] * estimated_wall_seconds(cfg) / 60.0
    return int(math.ceil(attempt * max(minutes, 5.0)))


def simulate_mem_mb(wildcards, attempt) -> int:
    return int(math.ceil(attempt * estimated_memory_mb(get_run_config(wildcards))))


def theory_mem_mb(wildcards, attempt) -> int:
    # the Δ-corrected theory opens the run dataset
    return int(
        math.ceil(
            attempt * (800.0 + 0.5 * estimated_memory_mb(get_run_config(wildcards)))
        )
    )


def estimated_dataset_mb(cfg: dict) -> float:
    """Expected size of one run dataset in memory (MB): the time series dominate."""
    n, rec = cfg["N"], cfg["recording"]
    bins = cfg["duration_s"] / rec["interval_s"]
    time_series = 8.0 * bins * len(SYNAPSE_TYPES) * (rec["sampled_synapses"] + 6)
    per_neuron = 8.0 * n * 8 + 8.0 * 3 * rec["sampled_pairs"]
    raster = 12.0 * n * rec["raster_duration_s"] * 60.0
    return (time_series + per_neuron + raster) / 1e6


def aggregate_mem_mb(wildcards, attempt) -> int:
    """Aggregation and figures hold every run of the experiment, plus the combined copy."""
    total = sum(
        estimated_dataset_mb(cfg) for cfg in GRIDS[wildcards.experiment].values()
    )
    return int(math.ceil(attempt * (1000.0 + 3.0 * total)))


# --------------------------------------------------------------------------- captions
def _fmt(value) -> str:
    return path_value(value) if isinstance(value, (int, float)) else str(value)


def experiment_summary(experiment: str) -> str:
    """One line naming the parameters that produced an experiment's figures."""
    first = next(iter(GRIDS[experiment].values()))
    grid = config["experiments"][experiment]["grid"]
    rules = (
        "; ".join(
            f"{syn.upper()} {params['rule']} ("
            + ", ".join(f"{k} = {_fmt(v)}" for k, v in params.items() if k != "rule")
            + ")"
            for syn, params in first["plasticity"].items()
        )
        or "no plasticity"
    )
    weights = ", ".join(
        f"j_{syn} = {_fmt(first['weights'][syn])} mV"
        for syn in SYNAPSE_TYPES
        if syn not in grid and f"weights.{syn}" not in grid
    )
    swept = "; ".join(
        f"{key} ∈ {{{', '.join(_fmt(v) for v in values)}}}"
        for key, values in grid.items()
    )
    return (
        f"N = {first['N']}, T = {_fmt(first['duration_s'])} s, "
        f"τ_STDP = {_fmt(first['tau_stdp_ms'])} ms; {rules}; initial {weights}; {swept}."
    )


def rst_escape(text: str) -> str:
    """Escape reStructuredText markup characters (|x| would be a substitution)."""
    return re.sub(r"([\\`*_|])", r"\\\1", text)


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
            + f". {text} Parameters: {experiment_summary(experiment)} {theory}"
        )
    return rst_escape(text)


# --------------------------------------------------------------------------- targets
def source_fingerprint() -> str:
    """Hash of the package sources: a change recompiles numba's cache once (not reruns)."""
    digest = hashlib.sha256()
    package = Path(balanced_stdp.__file__).parent
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def figure_files(stem: str) -> list[str]:
    return [f"results/figures/{stem}.pdf", f"results/figures/{stem}.png"]


def figure_table() -> dict:
    """Figure targets of the config's `figures:` section, by file stem."""
    from balanced_stdp.figures import figure_targets

    try:
        return figure_targets(
            config["figures"], {e: plastic_synapses(e) for e in EXPERIMENTS}
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
