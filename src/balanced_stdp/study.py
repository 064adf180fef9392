"""The study of the Snakemake workflow: experiment grids, run paths, captions.

A workflow config (``config/*.yaml``, validated against
``workflow/schemas/config.schema.yaml`` with its defaults filled in) names
experiments, each a grid of run-config keys. :func:`expand_study` turns it into
every grid point's path and complete run config, checked by the simulator's own
validation; :func:`check_figures` checks the figure lists against the experiments;
:func:`load_study` does all of it, with the schema, and lists the figure targets and the
theory curves they need. :func:`experiment_summary` names an experiment's parameters in
figure captions; each job's ``resources`` come from :mod:`balanced_stdp.cost_model`.

Plain Python without Snakemake (nor a plotting library): ``workflow/rules/common.smk``
calls it while the workflow is parsed and turns :class:`StudyConfigError` into its
one-line error (:func:`invalid_config_message`).
"""

from __future__ import annotations

import copy
import itertools
import re
from pathlib import Path
from typing import Callable, Iterable, NamedTuple

import yaml

from .config import ConfigError, resolve_config
from . import contract
from .contract import SYNAPSE_TYPES, dimension_name, get_dotted, rule_label, source_digest
from .figures.registry import FigureTarget, caption_for, figure_targets

RESULTS_DIR = "results"
"""Default ``results_dir``: runs in ``<results_dir>/runs/<experiment>/<point>/<file>``,
aggregates (runs and theory) in ``<results_dir>/aggregate``, figures in
``<results_dir>/figures``, job logs in ``<results_dir>/logs``."""

ALWAYS_SWEPT = ("c", "seed")
"""Keys every experiment's grid sweeps (the schema requires them)."""


class StudyConfigError(ValueError):
    """The workflow config is invalid; the message starts with the offending key."""


# ----------------------------------------------------------------------------- schema errors
def _json_path(parts: Iterable) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "config"


def schema_error_message(error) -> str:
    """One line naming the key of a ``jsonschema.ValidationError`` of the workflow config."""
    where = _json_path(error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = next(key for key in error.instance if key not in allowed)
        key = extra if where == "config" else f"{where}.{extra}"
        return f"unknown key '{key}'" + (f"; allowed: {', '.join(allowed)}" if allowed else "")
    if "propertyNames" in error.schema_path:
        return f"{where}: invalid name {error.instance!r} ({error.message})"
    if error.validator == "pattern" and "x-pattern-meaning" in error.schema:
        return (f"{where}: {error.instance!r} is not allowed; it must be "
                f"{' '.join(error.schema['x-pattern-meaning'].split())}")
    if error.validator == "minItems" and error.instance == []:
        return f"{where}: empty list; give at least one value"
    return f"{where}: {error.message}"


# ----------------------------------------------------------------------------- grids
def _merge(base: dict, update: dict) -> dict:
    """``base`` updated by ``update``, nested mappings merged key by key (copies)."""
    out = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _set_dotted(config: dict, key: str, value) -> None:
    """Set dotted ``key`` (``plasticity.ee.beta0``) in place, creating mappings."""
    node = config
    parts = key.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise StudyConfigError(f"grid key {key}: {part} is not a mapping")
    node[parts[-1]] = value


def _has_dotted(config: dict, key: str) -> bool:
    try:
        get_dotted(config, key)
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
        raise StudyConfigError(f"grid value {text!r} cannot be part of a path")
    return text


def expand_experiment(name: str, experiment: dict, defaults: dict) -> dict[str, dict]:
    """Map every grid point's path (``rule~…/c~…/seed~…``) to its resolved run config.

    ``experiment`` is one validated ``experiments.<name>`` entry (``run`` and ``grid``
    present); grid points follow the order of ``itertools.product`` over the grid.
    """
    where = f"experiments.{name}"
    grid, run = experiment["grid"], experiment["run"]
    for key in grid:
        if _has_dotted(run, key):
            raise StudyConfigError(
                f"{where}: '{key}' is both fixed (run.{key}) and swept (grid.{key})")
    for key in ALWAYS_SWEPT:
        if key in defaults:
            raise StudyConfigError(f"defaults.{key}: every experiment sweeps it in its grid "
                                   f"({where}.grid.{key}); remove it from defaults")
    for section, given in ((f"{where}.run", run), ("defaults", defaults)):
        if "sweep_dims" in given:
            raise StudyConfigError(
                f"{section}: 'sweep_dims' is set by the workflow from the grid keys")
    base = _merge(defaults, run)
    base["sweep_dims"] = [key for key in grid if key not in ALWAYS_SWEPT]
    points = {}
    for values in itertools.product(*grid.values()):
        raw = copy.deepcopy(base)
        for key, value in zip(grid, values):
            _set_dotted(raw, key, value)
        try:
            resolved = resolve_config(raw)
        except ConfigError as error:
            at = ", ".join(f"{k}={v}" for k, v in zip(grid, values))
            raise StudyConfigError(f"{where} (grid point {at}): {error}") from None
        point = "/".join([f"rule~{rule_label(resolved)}"] + [
            f"{dimension_name(key)}~{path_value(get_dotted(resolved, key))}" for key in grid])
        if point in points:
            raise StudyConfigError(f"{where}.grid: two grid points share the path {point} "
                                   "(values equal to 6 digits)")
        points[point] = resolved
    return points


SCALED_TIME_KEYS = ("recording.interval_s", "recording.covariance_window_s",
                    "recording.raster_duration_s", "optogenetics.start_s", "optogenetics.stop_s")
"""Run-config times that scale with the duration when a smoke run shortens it."""


def shortened_run(config: dict, max_duration_s: float) -> dict:
    """A resolved run config shortened to ``max_duration_s`` for a smoke run.

    N, the grid and every rate and learning rate stay; the duration T becomes
    ``max_duration_s`` (runs already that short are unchanged) and every time that scales
    with T (:data:`SCALED_TIME_KEYS`: record interval, covariance window, raster length,
    laser window) is scaled by the same factor, rounded to whole time steps (at least one),
    so every run keeps its number of record bins, windows and epochs.
    """
    duration = config["duration_s"]
    if duration <= max_duration_s:
        return config
    factor = max_duration_s / duration
    dt_ms = config["dt_ms"]

    def scaled(value_s: float) -> float:
        return max(1, round(value_s * factor * 1000.0 / dt_ms)) * dt_ms / 1000.0

    out = copy.deepcopy(config)
    out["duration_s"] = max_duration_s
    for key in SCALED_TIME_KEYS:
        _set_dotted(out, key, min(scaled(get_dotted(config, key)), max_duration_s))
    opto = out["optogenetics"]
    if opto["enabled"] and opto["start_s"] >= opto["stop_s"]:
        opto["start_s"] = max(opto["stop_s"] - dt_ms / 1000.0, 0.0)
    return resolve_config(out)


def expand_study(config: dict) -> dict[str, dict[str, dict]]:
    """Every experiment's grid points: ``{experiment: {point path: resolved run config}}``.

    With ``smoke_duration_s`` (a smoke run of the study) every run is
    :func:`shortened_run`; the grid points and their paths are those of the full study.
    """
    grids = {name: expand_experiment(name, experiment, config["defaults"])
             for name, experiment in config["experiments"].items()}
    smoke = config.get("smoke_duration_s")
    if smoke:
        for name, points in grids.items():
            swept = [k for k in config["experiments"][name]["grid"]
                     if k in SCALED_TIME_KEYS or k == "duration_s"]
            if swept:
                raise StudyConfigError(f"smoke_duration_s: experiments.{name} sweeps "
                                       f"{swept[0]}, which a smoke run would shorten")
            for point, run in points.items():
                try:
                    points[point] = shortened_run(run, smoke)
                except ConfigError as error:
                    raise StudyConfigError(f"smoke_duration_s = {smoke}: experiments.{name} "
                                           f"({point}): {error}") from None
    return grids


def run_path(experiment: str, point: str, file: str, results_dir: str = RESULTS_DIR) -> str:
    """Path of one grid point's ``file`` (``config.yaml``, ``run.nc``)."""
    return f"{results_dir}/runs/{experiment}/{point}/{file}"


def run_files(experiment: str, points: Iterable[str], file: str,
              results_dir: str = RESULTS_DIR) -> list[str]:
    """``file`` of every grid point of an experiment."""
    return [run_path(experiment, point, file, results_dir) for point in points]


def plastic_synapses(points: dict[str, dict]) -> list[str]:
    """Plastic synapse types of an experiment (from its first grid point), in contract order."""
    return contract.plastic_synapses(next(iter(points.values())))


def check_figures(config: dict, grids: dict[str, dict[str, dict]]) -> None:
    """Every figure's experiments exist and can be drawn (plastic synapses, sweeps)."""
    for figure, names in config["figures"].items():
        if isinstance(names, bool):
            continue
        # a figure of roles maps each role to an experiment (figures.registry)
        for name in (names.values() if isinstance(names, dict) else names):
            if name not in grids:
                raise StudyConfigError(f"figures.{figure}: unknown experiment '{name}'; "
                                       f"defined: {', '.join(grids)}")
            # figures of roles (mappings) say themselves what they draw, e.g. non-plastic sweeps
            if figure != "balance" and not isinstance(config["figures"][figure], dict) \
                    and not plastic_synapses(grids[name]):
                raise StudyConfigError(
                    f"figures.{figure}: experiment '{name}' has no plastic synapses")
    for name in config["figures"]["weight_manifold"]:
        if "weights.ei" not in config["experiments"][name]["grid"]:
            raise StudyConfigError(f"figures.weight_manifold: experiment '{name}' must sweep "
                                   "grid key weights.ei (the initial-condition sweep)")


# ----------------------------------------------------------------------------- the study
AGGREGATE_SUFFIXES = {"runs": "", "theory": "_theory", "finite_size": "_theory_finite_size"}
"""Aggregate kind → the suffix of its file: ``<results_dir>/aggregate/<experiment><suffix>.nc``
(the runs, their theory, their finite-size theory)."""


class Study(NamedTuple):
    """A validated workflow config, expanded: what the workflow builds, and where."""

    config: dict
    """The workflow config, with the schema's defaults filled in."""
    grids: dict[str, dict[str, dict]]
    """Experiment → grid point path → resolved run config (:func:`expand_study`)."""
    figure_targets: dict[str, FigureTarget]
    """Figure file stem → its target (:func:`balanced_stdp.figures.figure_targets`)."""
    theory_curves: dict[str, tuple[str, ...]]
    """Experiment → the theory curves its figures draw (computed by its theory job)."""

    def path(self, path: str) -> str:
        """``path`` inside the config's results directory (``results_dir``)."""
        return f"{self.config['results_dir']}/{path}"

    def point_files(self, experiment: str, file: str) -> list[str]:
        """``file`` (``config.yaml``, ``run.nc``) of every grid point of an experiment."""
        return run_files(experiment, self.grids[experiment], file, self.config["results_dir"])

    def has_finite_size_theory(self, experiment: str) -> bool:
        """``experiments.<name>.finite_size_theory``: its finite-size theory is computed."""
        return self.config["experiments"][experiment]["finite_size_theory"]

    def aggregate_files(self, inputs: dict[str, tuple[str, str]]) -> dict[str, str]:
        """Input name → aggregate file, for (experiment, kind) pairs; the finite-size
        theory only where the experiment computes it."""
        return {name: self.path(f"aggregate/{experiment}{AGGREGATE_SUFFIXES[kind]}.nc")
                for name, (experiment, kind) in inputs.items()
                if kind != "finite_size" or self.has_finite_size_theory(experiment)}

    def all_aggregates(self) -> list[str]:
        """Every experiment's runs, theory and (where computed) finite-size aggregate."""
        return list(self.aggregate_files({f"{e} {kind}": (e, kind) for e in self.grids
                                          for kind in AGGREGATE_SUFFIXES}).values())

    def all_agreement_tables(self) -> list[str]:
        """Every experiment's agreement table (CSV, netCDF, HTML) and the summary."""
        return [self.path(f"aggregate/{e}_agreement.{ext}") for e in self.grids
                for ext in ("csv", "nc", "html")] + [
                    self.path("aggregate/agreement_summary.csv")]

    def job_configs(self, experiment: str | None = None, point: str | None = None,
                    stem: str | None = None) -> list[dict]:
        """The run configs one job is about (what its resource requests depend on): a grid
        point's for a simulation, every grid point of the experiment for its theory,
        aggregation and agreement, of the figure's experiments for a figure."""
        if point is not None:
            return [self.grids[experiment][point]]
        names = (self.figure_targets[stem].experiments if stem is not None
                 else [experiment] if experiment is not None else [])
        return [cfg for name in names for cfg in self.grids[name].values()]

    def archived_files(self) -> list[str]:
        """What a results archive holds (:mod:`balanced_stdp.archive`): everything the
        figures, agreement tables and report are made from."""
        return self.all_aggregates() + self.all_agreement_tables()

    def all_figures(self) -> list[str]:
        """Every figure target's PDF and PNG."""
        return [self.path(f"figures/{stem}.{ext}") for stem in self.figure_targets
                for ext in ("pdf", "png")]

    def run_config_yaml(self, experiment: str, point: str) -> str:
        """A grid point's resolved run config as the YAML text of its ``config.yaml``."""
        path = run_path(experiment, point, "config.yaml", self.config["results_dir"])
        return (f"# Resolved run config; reproduce with: balanced-stdp simulate {path} "
                "--out RUN.nc\n" + yaml.safe_dump(self.grids[experiment][point],
                                                  sort_keys=False))

    def figure_caption(self, stem: str) -> str:
        """A figure's report caption: its text, then what each experiment it is drawn
        from is and which parameters produced it (:func:`report_caption`)."""
        target = self.figure_targets[stem]
        return report_caption(caption_for(target.figure, None),
                              [(e, self.config["experiments"][e], self.grids[e])
                               for e in target.experiments])


def load_study(config: dict, validate_schema: Callable[[dict], None]) -> Study:
    """Validate a workflow config and expand it into its grids and figure targets.

    Parameters
    ----------
    config : dict
        The workflow config; ``validate_schema`` fills in the schema's defaults.
    validate_schema : callable
        Checks ``config`` against ``workflow/schemas/config.schema.yaml`` (Snakemake's
        ``validate``); the :class:`jsonschema.ValidationError` it raises, or wraps as
        the context of its own error, is reported by :func:`schema_error_message`.

    Raises
    ------
    StudyConfigError
        For any problem of the config, with one line naming the key
        (:func:`invalid_config_message` is the workflow's message).
    """
    try:
        validate_schema(config)
    except Exception as error:
        schema_error = _schema_error(error)
        if schema_error is None:
            raise
        raise StudyConfigError(schema_error_message(schema_error)) from None
    try:
        grids = expand_study(config)
        check_figures(config, grids)
        targets = figure_targets(config["figures"], {e: plastic_synapses(grids[e])
                                                     for e in grids})
    except ValueError as error:          # StudyConfigError too: one line, the key first
        raise StudyConfigError(str(error)) from None
    curves: dict[str, set] = {}
    for target in targets.values():
        for experiment, requests in target.theory_curves().items():
            curves.setdefault(experiment, set()).update(requests)
    return Study(config, grids, targets,
                 {e: tuple(sorted(r)) for e, r in curves.items() if r})


def _schema_error(error: BaseException):
    """The jsonschema error behind ``error`` (itself, or the one it was raised from)."""
    for candidate in (error, error.__context__):
        if candidate is not None and hasattr(candidate, "validator") \
                and hasattr(candidate, "absolute_path"):
            return candidate
    return None


def invalid_config_message(error: StudyConfigError) -> str:
    """The one line the workflow stops with for an invalid config."""
    return f"Invalid workflow config: {error}"


# ----------------------------------------------------------------------------- captions
def _caption_value(value) -> str:
    return path_value(value) if isinstance(value, (int, float)) else str(value)


def experiment_summary(experiment: dict, points: dict[str, dict]) -> str:
    """One line naming the parameters that produced an experiment's figures.

    ``experiment`` is the ``experiments.<name>`` entry, ``points`` its expansion.
    """
    first = next(iter(points.values()))
    grid = experiment["grid"]
    fmt = _caption_value
    rules = "; ".join(
        f"{syn.upper()} {params['rule']} ("
        + ", ".join(f"{k} = {fmt(v)}" for k, v in params.items() if k != "rule") + ")"
        for syn, params in first["plasticity"].items()) or "no plasticity"
    weights = ", ".join(f"j_{syn} = {fmt(first['weights'][syn])} mV" for syn in SYNAPSE_TYPES
                        if f"weights.{syn}" not in grid)
    swept = "; ".join(f"{key} ∈ {{{', '.join(fmt(v) for v in values)}}}"
                      for key, values in grid.items())
    return (f"N = {first['N']}, T = {fmt(first['duration_s'])} s, "
            f"τ_STDP = {fmt(first['tau_stdp_ms'])} ms; {rules}; initial {weights}; {swept}.")


THEORY_SENTENCES = {
    "prediction": "Theory: mean-field prediction from the run config.",
    "delta_corrected": "Theory: Δ-corrected from each finished run (spec §6.6).",
}
"""Caption sentence of each ``experiments.<name>.theory`` mode."""


def report_caption(figure_text: str, experiments: Iterable[tuple[str, dict, dict]] = ()) -> str:
    """Report caption (reStructuredText): what the figure shows, then for each experiment
    it is drawn from — ``(name, experiments.<name> entry, grid points)`` — what the
    experiment is and which parameters produced it."""
    parts = [figure_text]
    for name, experiment, points in experiments:
        description = experiment["description"].rstrip(".")
        parts.append(f"Experiment '{name}'" + (f": {description}" if description else "")
                     + f". Parameters: {experiment_summary(experiment, points)} "
                     + THEORY_SENTENCES[experiment["theory"]])
    return rst_escape(" ".join(parts))


def rst_escape(text: str) -> str:
    """Escape reStructuredText markup characters (|x| would be a substitution)."""
    return re.sub(r"([\\`*_|])", r"\\\1", text)


# ----------------------------------------------------------------------------- provenance
def source_fingerprint(subpackage: str = "") -> str:
    """Digest of the package sources (or of one subpackage, e.g. ``figures``): a change of
    the sources recompiles numba's cache once; a change of the figure code redraws the
    figures (a parameter of the figure rule)."""
    package = Path(__file__).parent / subpackage
    return source_digest(str(package))[:16]
