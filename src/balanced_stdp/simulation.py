"""Run one simulation: set-up in NumPy, the numba kernel in chunks, a labelled dataset out.

:func:`simulate` is the single entry point. It resolves the config, draws
everything random (connectivity, V(0), external spikes, synapse samples) from
independent streams spawned from the seed — so connectivity, V(0) and input are
identical across runs that differ only in plastic parameters or initial weights
(spec §2.6) — then advances the kernel in chunks of 10 s of simulated time,
reporting progress. A :class:`~balanced_stdp.recorder.Recorder` holds what the
kernel records and assembles the dataset of ``docs/data-contract.md``.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import time
from pathlib import Path

import numba
import numpy as np
import xarray as xr

from .config import ConfigError, resolve_config
from .cost_model import estimated_memory_mb, estimated_wall_seconds
from .divergence import STATUS_MESSAGES, STATUS_RUNNING, DivergenceGuard
from .inputs import BLOCK_MS, CorrelatedPoissonInput, times_to_steps
from .kernel import InputChunk, NeuronParameters, NeuronState, RecurrentSynapses, run_steps
from .network import (Populations, SparseProjection, build_external, build_laser,
                      build_recurrent, initial_weights)
from .plasticity import build_rule, kernel_rule_table
from .recorder import Recorder

log = logging.getLogger(__name__)


class _Progress:
    """tqdm bar on a terminal, periodic log lines otherwise (e.g. Snakemake logs)."""

    def __init__(self, total_s: float, enabled: bool):
        self.enabled = enabled
        self.total_s = total_s
        self.start = time.perf_counter()
        self.bar = None
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm
            self.bar = tqdm(total=round(total_s, 6), unit="sim s", dynamic_ncols=True,
                            desc="simulating", file=sys.stderr)

    def update(self, done_s: float, step_s: float, rate_e: float, rate_i: float):
        if not self.enabled:
            return
        wall = time.perf_counter() - self.start
        if self.bar is not None:
            self.bar.update(round(step_s, 6))
            self.bar.set_postfix(E=f"{rate_e:.2f} Hz", I=f"{rate_i:.2f} Hz")
        else:
            print(f"[balanced-stdp] t = {done_s:8.1f} / {self.total_s:.1f} s simulated | "
                  f"wall {wall:7.1f} s ({wall / max(done_s, 1e-9):.3f} s per sim s) | "
                  f"E {rate_e:6.2f} Hz, I {rate_i:6.2f} Hz", file=sys.stderr, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()


class _ExternalDrive:
    """The external layer X and the optogenetic layer X2: their spike trains and projections.

    Spikes are drawn lazily, block by block, so a chunk of the run only holds its own.
    """

    def __init__(self, config: dict, pops: Populations, external: SparseProjection,
                 laser: SparseProjection | None, rng_input, rng_laser):
        sqrt_n = math.sqrt(pops.n_neurons)
        tau_x = config["synaptic_time_constants_ms"]["x"]
        weights, opto = config["weights"], config["optogenetics"]
        duration_ms = config["duration_s"] * 1000.0
        self.dt_ms = config["dt_ms"]
        self.external_input = CorrelatedPoissonInput(
            pops.n_external, config["external_rate_hz"], config["c"], config["jitter_ms"], 0.0,
            duration_ms, rng_input)
        self.laser_input = CorrelatedPoissonInput(
            pops.n_laser, opto["rate_hz"], config["c"], config["jitter_ms"],
            opto["start_s"] * 1000.0, opto["stop_s"] * 1000.0, rng_laser)
        self.external = external
        self.laser_column_start = laser.column_start if laser else np.zeros(1, np.int64)
        self.laser_targets = laser.targets if laser else np.zeros(0, np.int32)
        self.jump_ex = weights["ex"] / sqrt_n / tau_x
        self.jump_ix = weights["ix"] / sqrt_n / tau_x
        self.jump_laser = opto["weight"] / sqrt_n / tau_x

    def chunk(self, last_step: int) -> InputChunk:
        """Input spikes not yet delivered, up to the time of ``last_step``."""
        t_end_ms = last_step * self.dt_ms
        ext_times, ext_sources = self.external_input.spikes_until(t_end_ms)
        laser_times, laser_sources = self.laser_input.spikes_until(t_end_ms)
        return InputChunk(
            times_to_steps(ext_times, self.dt_ms), ext_sources, self.external.column_start,
            self.external.column_split, self.external.targets, self.jump_ex, self.jump_ix,
            times_to_steps(laser_times, self.dt_ms), laser_sources, self.laser_column_start,
            self.laser_targets, self.jump_laser)


def available_memory_mb() -> float:
    """Memory the kernel reports as available for new work (MemAvailable), in MB."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")) / 2**20


def check_size(config: dict) -> tuple[float, float]:
    """Estimated peak memory (MB) and wall time (s) of a run, refused before anything is
    allocated when the memory exceeds what is available.

    The estimates are the workflow's cost model (:mod:`balanced_stdp.cost_model`), which
    a test checks against a measured run.

    Raises
    ------
    ConfigError
        Naming the estimate and the keys that set it.
    """
    memory_mb, wall_s = estimated_memory_mb(config), estimated_wall_seconds(config)
    available = available_memory_mb()
    if memory_mb > available:
        raise ConfigError(
            f"N = {config['N']}, duration_s = {config['duration_s']:g}: estimated peak memory "
            f"{memory_mb / 1024:.1f} GB exceeds the {available / 1024:.1f} GB available; reduce "
            "N or duration_s (or raise recording.interval_s, lower recording.sampled_synapses)")
    return memory_mb, wall_s


def simulate(config: dict, progress: bool = True,
             phase_ticks: np.ndarray | None = None) -> xr.Dataset:
    """Simulate the plastic balanced network described by ``config``.

    Parameters
    ----------
    config : dict
        Run config (partial configs are completed with defaults and validated).
    progress : bool
        Show a progress bar (terminal) or periodic log lines (simulated time, wall
        time and current E/I rates).
    phase_ticks : ndarray of int64, optional
        Profile the kernel: time-stamp-counter ticks per phase of
        :data:`balanced_stdp.phase_timer.PHASES` are added to this array (used by the
        benchmark; runs a separately compiled, instrumented kernel).

    Returns
    -------
    xarray.Dataset
        The run dataset of ``docs/data-contract.md``. A run stopped by the
        divergence guard has ``status = "diverged"`` and holds everything
        recorded until then.
    """
    wall_start = time.perf_counter()
    config = resolve_config(config)
    memory_mb, kernel_s = check_size(config)
    if progress:
        print(f"[balanced-stdp] N = {config['N']}, T = {config['duration_s']:g} s: estimated "
              f"peak memory {memory_mb:.0f} MB, run time ~{kernel_s:.0f} s on one core",
              file=sys.stderr, flush=True)
    pops = Populations.from_config(config)
    n = pops.n_neurons

    # Independent random streams, all derived from the seed.
    streams = np.random.SeedSequence(config["seed"]).spawn(6)
    rng_connect, rng_voltage, rng_input, rng_laser, rng_sample, rng_pairs = (
        np.random.default_rng(s) for s in streams)

    p = config["connection_probability"]
    recurrent = build_recurrent(pops, p, rng_connect)
    external = build_external(pops, p, rng_connect)
    laser = build_laser(pops, p, rng_connect) if pops.has_subpopulations else None
    # precision: float32 doubles the SIMD width of the neuron sweep and halves its memory
    # traffic and the cache footprint of the weights (row updates are cache misses)
    real = np.float32 if config["precision"] == "float32" else np.float64
    weights = initial_weights(recurrent, config["weights"], n).astype(real, copy=False)
    rules = {s: build_rule(s, config["plasticity"][s], config["tau_stdp_ms"])
             for s in config["plasticity"]}
    synapses = RecurrentSynapses.from_connectivity(recurrent, weights,
                                                   kernel_rule_table(rules, n), pops.n_excitatory)

    neuron = NeuronParameters.from_config(config)
    state = NeuronState.initial(rng_voltage.uniform(neuron.reset_mv, neuron.threshold_mv, n),
                                real)
    recorder = Recorder(config, pops, recurrent, rng_sample, rng_pairs)
    guard = DivergenceGuard.from_config(config, recorder.group_sizes)
    drive = _ExternalDrive(config, pops, external, laser, rng_input, rng_laser)

    # threads: numba's pool is capped by NUMBA_NUM_THREADS (the workflow sets it to the
    # job's cores); one thread keeps the serial kernel
    threads = min(config["threads"], numba.config.NUMBA_NUM_THREADS)
    parallel = threads > 1
    if parallel:
        numba.set_num_threads(threads)
    grid = recorder.grid
    chunk_steps = round(BLOCK_MS / grid.dt_ms)
    setup_time_s = time.perf_counter() - wall_start
    kernel_time_s = 0.0
    kernel_cpu_time_s = 0.0
    bar = _Progress(config["duration_s"], progress)
    status, last_step = STATUS_RUNNING, 0
    step = 1
    while step <= grid.n_steps:
        last = min(step + chunk_steps - 1, grid.n_steps)
        chunk = drive.chunk(last)
        kernel_start = time.perf_counter()
        kernel_cpu_start = time.thread_time()
        status, last_step = run_steps(step, last, neuron, state, synapses, chunk,
                                      recorder.buffers, guard, parallel, phase_ticks)
        kernel_time_s += time.perf_counter() - kernel_start
        kernel_cpu_time_s += time.thread_time() - kernel_cpu_start
        bar.update(last_step * grid.dt_ms / 1000.0, (last_step - step + 1) * grid.dt_ms / 1000.0,
                   *recorder.excitatory_inhibitory_rates_hz(step, last_step))
        if status != STATUS_RUNNING:
            log.warning("run diverged at t = %.1f s: %s", last_step * grid.dt_ms / 1000.0,
                        STATUS_MESSAGES[status])
            break
        step = last + 1
    bar.close()

    ds = recorder.to_dataset(status, last_step, weights.astype(np.float64, copy=False))
    ds.attrs.update({
        "wall_time_s": round(time.perf_counter() - wall_start, 3),
        "setup_time_s": round(setup_time_s, 3),
        "kernel_time_s": round(kernel_time_s, 3),
        "kernel_cpu_time_s": round(kernel_cpu_time_s, 3),
    })
    return ds
