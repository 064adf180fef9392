"""The study of the Snakemake workflow: experiment grids, run paths, job costs, captions.

A workflow config (``config/*.yaml``, validated against
``workflow/schemas/config.schema.yaml`` with its defaults filled in) names
experiments, each a grid of run-config keys. :func:`expand_study` turns it into
every grid point's path and complete run config, checked by the simulator's own
validation; :func:`check_figures` checks the figure lists against the experiments.
The cost model estimates each job's wall time and memory for its ``resources``, and
:func:`experiment_summary` names an experiment's parameters in figure captions.

Plain Python without Snakemake: ``workflow/rules/common.smk`` calls it while the
workflow is parsed and turns :class:`StudyConfigError` into its one-line error.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import re
from pathlib import Path
from typing import Iterable

import numpy as np

from .config import ConfigError, resolve_config
from .contract import SYNAPSE_TYPES, dimension_name, get_dotted, rule_label
from .recorder import RASTER_CAPACITY_RATE_HZ

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


def expand_study(config: dict) -> dict[str, dict[str, dict]]:
    """Every experiment's grid points: ``{experiment: {point path: resolved run config}}``."""
    return {name: expand_experiment(name, experiment, config["defaults"])
            for name, experiment in config["experiments"].items()}


def run_path(experiment: str, point: str, file: str, results_dir: str = RESULTS_DIR) -> str:
    """Path of one grid point's ``file`` (``config.yaml``, ``run.nc``)."""
    return f"{results_dir}/runs/{experiment}/{point}/{file}"


def run_files(experiment: str, points: Iterable[str], file: str,
              results_dir: str = RESULTS_DIR) -> list[str]:
    """``file`` of every grid point of an experiment."""
    return [run_path(experiment, point, file, results_dir) for point in points]


def plastic_synapses(points: dict[str, dict]) -> list[str]:
    """Plastic synapse types of an experiment (from its first grid point), in contract order."""
    first = next(iter(points.values()))
    return [s for s in SYNAPSE_TYPES if s in first["plasticity"]]


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


# ----------------------------------------------------------------------------- job costs
# Wall time of one simulation, measured with `balanced-stdp simulate` on the 2-core
# development machine (single-threaded kernel, Kohonen rule, p = 0.1, dt = 0.1 ms): the
# kernel took 0.036, 0.080, 0.40 and 1.38 s per simulated second at N = 1000, 2000, 5000
# and 10000, i.e. a part linear in N (neuron updates) plus one in N^2 (spike delivery
# and plasticity over p N synapses per spike), ~1.6e-5 N + 1.2e-8 N^2. The estimate is
# 50 % above that; other jobs on the same cores slowed runs by up to 2x, which the
# factor RUNTIME_MARGIN of the runtime request covers.
RUNTIME_MARGIN = 2.0
MIN_RUNTIME_MIN = 5.0

# Memory: the simulator's buffers (balanced_stdp.simulation.simulate and network.py).
# Their dtypes are not exported there, so the assumptions are stated once here.
SAMPLED_WEIGHT_BYTES = np.dtype(np.float32).itemsize   # sampled_weights buffer
WINDOW_COUNT_BYTES = np.dtype(np.uint16).itemsize      # window_counts (spike counts per window)
RASTER_BUFFER_BYTES = np.dtype(np.int64).itemsize + np.dtype(np.int32).itemsize  # step, neuron
FLOAT_BYTES = np.dtype(np.float64).itemsize            # dataset variables, traces
RASTER_DATASET_BYTES = FLOAT_BYTES + np.dtype(np.int32).itemsize  # raster_time, raster_neuron
# network.py stores 21 B per synapse (int32 target, row index and source, int8 type,
# float64 weight); construction temporaries bring the peak to about 30 B.
CONNECTIVITY_BYTES_PER_SYNAPSE = 30.0
BASE_MEMORY_MB = 600.0       # interpreter, numpy, numba, xarray and the compiled kernel
                             # (568 MB measured for a 4-s N = 2000 run in a fresh clone)
PEAK_FACTOR = 2.0            # copies while the dataset is assembled and written


def _synapse_count(cfg: dict) -> float:
    """Expected recurrent plus external synapses."""
    return cfg["connection_probability"] * cfg["N"] ** 2 * (1.0 + cfg["external_fraction"])


def _record_bins(cfg: dict) -> float:
    return cfg["duration_s"] / cfg["recording"]["interval_s"]


def _raster_capacity(cfg: dict) -> float:
    """Entries of the simulator's raster ring buffer (and at most of the raster sample)."""
    return cfg["N"] * cfg["recording"]["raster_duration_s"] * RASTER_CAPACITY_RATE_HZ


def estimated_wall_seconds(cfg: dict) -> float:
    """Expected wall time of one simulation job (s), including start-up and set-up."""
    n = cfg["N"]
    steps_per_ms = 0.1 / cfg["dt_ms"]
    per_sim_second = steps_per_ms * (
        2.5e-5 * n + 1.8e-8 * n**2 * cfg["connection_probability"] / 0.1)
    setup = 10.0 + 2.0e-6 * _synapse_count(cfg)
    return setup + per_sim_second * cfg["duration_s"]


def estimated_memory_mb(cfg: dict) -> float:
    """Expected peak memory of one simulation job (MB)."""
    n, duration_s, rec = cfg["N"], cfg["duration_s"], cfg["recording"]
    bins = _record_bins(cfg)
    connectivity = CONNECTIVITY_BYTES_PER_SYNAPSE * _synapse_count(cfg)
    # spike counts per window and neuron over the analysis window (T/2, T]
    windows = WINDOW_COUNT_BYTES * n * (duration_s / 2.0) / rec["covariance_window_s"]
    # sampled weights while recording, plus their float64 copy in the dataset
    samples = ((SAMPLED_WEIGHT_BYTES + FLOAT_BYTES) * len(SYNAPSE_TYPES)
               * rec["sampled_synapses"] * bins)
    traces = FLOAT_BYTES * bins * (4 * len(SYNAPSE_TYPES) + 16)
    raster = RASTER_BUFFER_BYTES * _raster_capacity(cfg)
    buffers = connectivity + windows + samples + traces + raster
    return BASE_MEMORY_MB + PEAK_FACTOR * buffers / 1e6


def estimated_dataset_mb(cfg: dict) -> float:
    """Expected size of one run dataset in memory (MB): the time series dominate."""
    rec = cfg["recording"]
    time_series = FLOAT_BYTES * _record_bins(cfg) * len(SYNAPSE_TYPES) * (
        rec["sampled_synapses"] + 6)
    per_neuron = FLOAT_BYTES * (8 * cfg["N"] + 3 * rec["sampled_pairs"])
    raster = RASTER_DATASET_BYTES * _raster_capacity(cfg)
    return (time_series + per_neuron + raster) / 1e6


def simulate_threads(cfg: dict) -> int:
    """Cores of one simulation job: the run config's ``threads`` (1 unless an experiment
    asks for more, for a single large run)."""
    return int(cfg.get("threads", 1))


def simulate_runtime_min(cfg: dict, scale: float = 1.0) -> float:
    """Runtime to request for one simulation job (min): a margin over the estimate."""
    return max(RUNTIME_MARGIN * scale * estimated_wall_seconds(cfg) / 60.0, MIN_RUNTIME_MIN)


def theory_memory_mb(cfgs: Iterable[dict]) -> float:
    """Memory of an experiment's theory job (MB); the Δ-corrected theory opens its runs
    one at a time."""
    return 800.0 + 0.5 * max(estimated_memory_mb(cfg) for cfg in cfgs)


THEORY_MINUTES_PER_POINT = 0.5
"""Generous per-point time of the theory (measured: 0.1–3 s, the slowest with c > 0)."""


def theory_runtime_min(cfgs: Iterable[dict]) -> float:
    """Runtime request of an experiment's theory job (min)."""
    return max(MIN_RUNTIME_MIN, THEORY_MINUTES_PER_POINT * len(list(cfgs)))


FINITE_SIZE_THEORY_MINUTES_PER_POINT = 0.5
"""Per-point time request of the finite-size theory: measured 5–15 s per point (N ≤ 5000,
one core, shared machine); seeds of a point share one computation, so this is generous."""


def finite_size_theory_runtime_min(cfgs: Iterable[dict]) -> float:
    """Runtime request of an experiment's finite-size theory job (min)."""
    return max(MIN_RUNTIME_MIN, FINITE_SIZE_THEORY_MINUTES_PER_POINT * len(list(cfgs)))


def aggregate_memory_mb(cfgs: Iterable[dict]) -> float:
    """Memory of an aggregation or figure job (MB): every run of the experiment plus the
    combined copy."""
    return 1000.0 + 3.0 * sum(estimated_dataset_mb(cfg) for cfg in cfgs)


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
def source_fingerprint() -> str:
    """Hash of the package sources: a change recompiles numba's cache once (not reruns)."""
    digest = hashlib.sha256()
    package = Path(__file__).parent
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
