"""The cost model of the study's jobs: wall time and memory from the run config alone.

A simulation's wall time and peak memory (:func:`estimated_wall_seconds`,
:func:`estimated_memory_mb`) are what the simulator checks before it allocates anything
(:func:`balanced_stdp.simulation.check_size`) and what the workflow requests as a job's
``resources``, with the requests of its theory, aggregation and figure jobs. Plain
arithmetic on run configs; a test checks the estimates against a measured run.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from .contract import SYNAPSE_TYPES
from .recorder import RASTER_CAPACITY_RATE_HZ

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
    # spike counts per window and neuron over the analysis window (T/2, T], and the
    # float64 copies of a population's counts that the covariance estimates centre
    # (measurements.block_mean_covariance; seen in the paper study's smoke run)
    windows = (WINDOW_COUNT_BYTES + FLOAT_BYTES) * n * (duration_s / 2.0) \
        / rec["covariance_window_s"]
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


FIXED_REQUESTS = {
    # rule: (runtime in minutes, memory in MB); memory None: from the job's run configs
    "compile_numba": (15.0, 2000.0),
    "aggregate_runs": (30.0, None),
    "agreement": (10.0, None),
    "agreement_summary": (5.0, 1000.0),
    "figure": (20.0, None),
    "archive": (30.0, 1000.0),
    "restore_archive": (30.0, 1000.0),
}
"""Requests of the jobs whose cost does not grow with N and T (aggregation, agreement and
figures hold every run they read: their memory does)."""


def job_request(rule: str, configs: list[dict], resource_scale: float = 1.0) -> dict:
    """What the workflow requests for one job of ``rule`` (first attempt; a retry asks
    for the attempt number times as much).

    Parameters
    ----------
    rule : str
        The workflow rule.
    configs : list of dict
        The run configs the job is about: one grid point's for ``simulate``, every grid
        point of the experiment(s) otherwise (none for a figure of no experiment).
    resource_scale : float
        Workflow-config key ``resource_scale`` (slower cores): scales simulation runtimes.

    Returns
    -------
    dict
        ``runtime`` (minutes) and ``mem_mb``.
    """
    if rule == "simulate":
        (cfg,) = configs
        return {"runtime": simulate_runtime_min(cfg, resource_scale),
                "mem_mb": estimated_memory_mb(cfg)}
    if rule == "theory":
        return {"runtime": theory_runtime_min(configs), "mem_mb": theory_memory_mb(configs)}
    if rule == "theory_finite_size":
        return {"runtime": finite_size_theory_runtime_min(configs),
                "mem_mb": theory_memory_mb(configs)}
    runtime, memory = FIXED_REQUESTS[rule]
    if memory is None:
        memory = aggregate_memory_mb(configs) if configs else 1000.0
    return {"runtime": runtime, "mem_mb": memory}
