"""The EIF neuron's transfer function under the network's synaptic shot noise.

The finite-size theory (:mod:`balanced_stdp.theory.finite_size_model`) needs the
firing rate r = φ_a(u) of a neuron of population a whose time-averaged total input
current is u (mV/ms), under the input fluctuations the network gives it.

Method [derived here]. φ_a is *measured on the model neuron itself*: one EIF neuron
with exactly the simulator's forward-Euler scheme (spec §2.3–2.5: dt, current jumps
J/τ_b, Euler decay, X delivered before and recurrent spikes after the voltage update,
reset from V_th to V_re), driven by independent Poisson trains — K_b = p N_b inputs of
rate r_b and charge J_b = j_ab/√N for every presynaptic type b (E, I and the external
layers) — plus a constant current that sets the total mean input to u. The neuron is
simulated for a set of values of u *with the same input spike trains* (common random
numbers), so φ_a(u) is monotone and smooth in u up to the sampling error of the spike
count, and deterministic for a given seed.

Why not the white-noise Fokker–Planck rate (Richardson 2007; spec §11)? The
synaptic time constants (4–10 ms) are not short against τ_m = 15 ms, and the
inhibitory post-synaptic jumps are several mV at N = 2000: the diffusion
approximation with Campbell's σ overestimated the rate of Poisson-driven neurons about
twofold at σ_V ≈ 8.5 mV (measured while designing this module), which moves the
finite-N balanced rates by ~15 %. Measuring φ on the neuron costs about a second per
population and has no free parameter; its only assumption is the mean-field one
(inputs independent and Poisson). Input correlations (c > 0) enter through the
extra shared-input variance of :func:`shared_input_variance`, added as an
independent Gaussian current with the synaptic spectrum of the external input.

The effective charge of a recurrent spike is J_b (1 − dt/τ_b) in the simulator (it
is added after the voltage update and decays once before it acts), that of an
external spike J_x; :func:`effective_charge_factors` gives the factors so that the
theory's mean input is the one the simulated membrane integrates.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np
from scipy import interpolate

from ..numba_cache import jit

DEFAULT_OFFSETS_MV_PER_MS = np.linspace(-2.5, 2.5, 41)

FANO_WINDOW_MS = 100.0
"""Count window of the output Fano factor: the input spectrum that matters lies below
≈ 1/(2π τ_m) ≈ 10 Hz, where a renewal train's spectrum is ≈ r·F."""
"""Grid of total mean inputs u (mV/ms) on which φ is tabulated (relative to 0)."""


@dataclasses.dataclass(frozen=True)
class MembraneParameters:
    """EIF membrane and integration step of a run config (spec §2.3, C_m = 1)."""

    dt_ms: float
    tau_m_ms: float
    leak_reversal_mv: float
    threshold_mv: float
    slope_factor_mv: float
    spike_mv: float
    reset_mv: float

    @classmethod
    def from_config(cls, config: dict) -> "MembraneParameters":
        neuron = config["neuron"]
        return cls(float(config["dt_ms"]), float(neuron["membrane_time_constant_ms"]),
                   float(neuron["leak_reversal_mv"]), float(neuron["threshold_mv"]),
                   float(neuron["slope_factor_mv"]), float(neuron["spike_mv"]),
                   float(neuron["reset_mv"]))


@dataclasses.dataclass(frozen=True)
class InputNoise:
    """The synaptic input of one population's neurons, per presynaptic source.

    Attributes
    ----------
    total_rate_per_ms : ndarray
        Summed rate K_b r_b of all inputs of source b (spikes per ms).
    charge_mv : ndarray
        Charge J_b of one spike of source b (mV; negative for inhibition).
    tau_ms : ndarray
        Synaptic time constant τ_b of source b.
    after_voltage : ndarray of bool
        Whether source b's spikes are added after the voltage update (recurrent
        spikes, spec §2.5 step 4) or before (external spikes, step 1).
    shared_variance : float
        Variance (mV²/ms²) of an extra Gaussian current filtered with τ_shared
        (input correlations, :func:`shared_input_variance`); 0 for c = 0.
    shared_tau_ms : float
        Correlation time of that current.
    """

    total_rate_per_ms: np.ndarray
    charge_mv: np.ndarray
    tau_ms: np.ndarray
    after_voltage: np.ndarray
    shared_variance: float = 0.0
    shared_tau_ms: float = 10.0

    def mean_current(self, dt_ms: float) -> float:
        """Time-averaged current of these inputs (mV/ms) in the Euler scheme."""
        factor = np.where(self.after_voltage, 1.0 - dt_ms / self.tau_ms, 1.0)
        return float(np.sum(self.total_rate_per_ms * self.charge_mv * factor))

    def membrane_variance(self, tau_m_ms: float) -> float:
        """Free-membrane voltage variance (mV²) by Campbell's theorem (spec §11)."""
        shot = np.sum(self.total_rate_per_ms * self.charge_mv ** 2 * tau_m_ms ** 2
                      / (2.0 * (tau_m_ms + self.tau_ms)))
        shared = self.shared_variance * tau_m_ms ** 2 * self.shared_tau_ms / (
            tau_m_ms + self.shared_tau_ms)
        return float(shot + shared)


def effective_charge_factors(dt_ms: float, recurrent_tau_ms) -> np.ndarray:
    """(1 − dt/τ_b): charge of a recurrent spike relative to J in the Euler scheme."""
    return 1.0 - dt_ms / np.asarray(recurrent_tau_ms, dtype=float)


@jit
def _poisson_driven_rates(offsets, charge_jumps, decays, rates_per_step, after_voltage,
                          shared_sd_per_step, shared_decay, n_trials, n_steps, warmup_steps,
                          window_steps, dt, tau_m, e_leak, v_t, delta_t, v_spike, v_reset,
                          seed):
    """Spike counts of EIF neurons at every offset, all driven by the same inputs.

    For each trial, the input currents (one per source) follow the simulator's
    Euler scheme; the neurons at the different offsets share them. Returns the rate
    (kHz) per offset averaged over trials, per trial (for the sampling error), and the
    Fano factor of the spike counts in windows of ``window_steps``.
    """
    np.random.seed(seed)
    n_off = offsets.size
    n_src = charge_jumps.size
    counts = np.zeros((n_trials, n_off))
    window = np.zeros(n_off)
    sum_1 = np.zeros(n_off)
    sum_2 = np.zeros(n_off)
    n_windows = 0
    v = np.empty(n_off)
    current = np.empty(n_src)
    next_event = np.empty(n_src)
    for trial in range(n_trials):
        v0 = v_reset + (v_t - v_reset) * np.random.random()
        for m in range(n_off):
            v[m] = v0
            window[m] = 0.0
        for b in range(n_src):
            # start the filtered currents at their stationary mean
            current[b] = charge_jumps[b] * rates_per_step[b] / (1.0 - decays[b])
            next_event[b] = np.random.exponential(1.0) / rates_per_step[b] \
                if rates_per_step[b] > 0 else 1e300
        shared = 0.0
        for step in range(n_steps):
            t = step + 1.0
            for b in range(n_src):
                if not after_voltage[b]:
                    while next_event[b] <= t:
                        current[b] += charge_jumps[b]
                        next_event[b] += np.random.exponential(1.0) / rates_per_step[b]
            if shared_sd_per_step > 0.0:
                shared = shared * shared_decay + shared_sd_per_step * np.random.standard_normal()
            total = shared
            for b in range(n_src):
                total += current[b]
            record = step >= warmup_steps
            for m in range(n_off):
                vm = v[m]
                vm += dt * (total + offsets[m] + (e_leak - vm
                                                  + delta_t * math.exp((vm - v_t) / delta_t))
                            / tau_m)
                if vm >= v_spike:
                    vm = v_reset
                    if record:
                        counts[trial, m] += 1.0
                        window[m] += 1.0
                v[m] = vm
            if record and (step - warmup_steps) % window_steps == window_steps - 1:
                n_windows += 1
                for m in range(n_off):
                    sum_1[m] += window[m]
                    sum_2[m] += window[m] * window[m]
                    window[m] = 0.0
            for b in range(n_src):
                if after_voltage[b]:
                    while next_event[b] <= t:
                        current[b] += charge_jumps[b]
                        next_event[b] += np.random.exponential(1.0) / rates_per_step[b]
                current[b] *= decays[b]
    duration = (n_steps - warmup_steps) * dt
    per_trial = counts / duration
    fano = np.ones(n_off)
    for m in range(n_off):
        if n_windows > 1 and sum_1[m] > 0:
            mean = sum_1[m] / n_windows
            fano[m] = (sum_2[m] / n_windows - mean * mean) / mean
    return per_trial.sum(axis=0) / n_trials, per_trial, fano


@dataclasses.dataclass(frozen=True)
class TransferFunction:
    """φ(u) tabulated on a grid of total mean inputs; monotone interpolation between.

    Attributes
    ----------
    mean_input_mv_per_ms : ndarray
        Grid of total mean input u (increasing).
    rate_khz : ndarray
        Measured rate at each u (non-decreasing after :meth:`measure`'s cleaning).
    rate_error_khz : ndarray
        Standard error of each rate over the trials.
    membrane_sd_mv : float
        Campbell free-membrane s.d. of the input noise (for reference).
    """

    mean_input_mv_per_ms: np.ndarray
    rate_khz: np.ndarray
    rate_error_khz: np.ndarray
    membrane_sd_mv: float
    fano_factor: np.ndarray | None = None

    @classmethod
    def measure(cls, membrane: MembraneParameters, noise: InputNoise,
                offsets_mv_per_ms=DEFAULT_OFFSETS_MV_PER_MS, duration_ms: float = 20000.0,
                n_trials: int = 8, warmup_ms: float = 200.0, seed: int = 12345,
                fano_window_ms: float = FANO_WINDOW_MS) -> "TransferFunction":
        """Simulate the Poisson-driven neuron and tabulate φ.

        Parameters
        ----------
        membrane : MembraneParameters
        noise : InputNoise
            The inputs; their own mean current is cancelled, so the grid values are the
            *total* mean input u.
        offsets_mv_per_ms : array_like
            Grid of u.
        duration_ms, n_trials, warmup_ms : float, int, float
            Simulated time per trial (after the warm-up) and number of independent
            trials (8 × 20 s gives ≥ 1600 spikes per grid point at 10 Hz).
        seed : int
            Seed of the input trains (deterministic result).
        """
        dt = membrane.dt_ms
        grid = np.asarray(offsets_mv_per_ms, dtype=float)
        tau = np.asarray(noise.tau_ms, dtype=float)
        decays = 1.0 - dt / tau
        rates_per_step = np.asarray(noise.total_rate_per_ms, dtype=float) * dt
        jumps = np.asarray(noise.charge_mv, dtype=float) / tau
        # the inputs' own mean, measured as the simulator integrates it, is removed
        constant = grid - noise.mean_current(dt)
        shared_decay = 1.0 - dt / noise.shared_tau_ms
        # OU increments giving stationary variance shared_variance for the Euler recursion
        shared_sd = math.sqrt(max(noise.shared_variance, 0.0) * (1.0 - shared_decay ** 2))
        warm = int(round(warmup_ms / dt))
        steps = warm + int(round(duration_ms / dt))
        mean, per_trial, fano = _poisson_driven_rates(
            constant, jumps, decays, rates_per_step, np.asarray(noise.after_voltage, dtype=np.bool_),
            shared_sd, shared_decay, int(n_trials), steps, warm,
            max(int(round(fano_window_ms / dt)), 1), dt, membrane.tau_m_ms,
            membrane.leak_reversal_mv, membrane.threshold_mv, membrane.slope_factor_mv,
            membrane.spike_mv, membrane.reset_mv, int(seed))
        error = per_trial.std(axis=0, ddof=1) / math.sqrt(n_trials) if n_trials > 1 \
            else np.zeros_like(mean)
        # common random numbers make φ nearly monotone; enforce it exactly
        mean = np.maximum.accumulate(mean)
        return cls(grid, mean, error, math.sqrt(noise.membrane_variance(membrane.tau_m_ms)),
                   fano)

    def fano(self, mean_input) -> np.ndarray:
        """Fano factor of the output spike counts (``FANO_WINDOW_MS`` windows) at u."""
        if self.fano_factor is None:
            return np.ones_like(np.asarray(mean_input, dtype=float))
        return np.interp(mean_input, self.mean_input_mv_per_ms, self.fano_factor)

    @functools.cached_property
    def _log_table(self):
        """Grid points with a measured rate > 0, their log rates and a monotone cubic
        (PCHIP) interpolant of log φ through them."""
        positive = self.rate_khz > 0
        u, log_rate = self.mean_input_mv_per_ms[positive], np.log(self.rate_khz[positive])
        keep = np.concatenate([[True], np.diff(log_rate) > 0])[:u.size]  # strictly increasing
        u, log_rate = u[keep], log_rate[keep]
        spline = interpolate.PchipInterpolator(u, log_rate, extrapolate=False) \
            if u.size >= 2 else None
        return u, log_rate, spline

    def __call__(self, mean_input) -> np.ndarray:
        """φ(u) in kHz: monotone cubic interpolation of log φ in u.

        Below the lowest input with measured spikes, log φ is extrapolated with the slope
        of the two lowest such points (the exponential tail of noise-driven firing), so
        φ > 0 everywhere and the self-consistency can be solved in log rates; above the
        grid, φ is held at its last value.
        """
        u = np.asarray(mean_input, dtype=float)
        grid, log_rate, spline = self._log_table
        if spline is None:     # fewer than two inputs with spikes: silent on this grid
            return np.full(u.shape, float(self.rate_khz[-1]))
        slope = (log_rate[1] - log_rate[0]) / (grid[1] - grid[0])
        inside = spline(np.clip(u, grid[0], grid[-1]))
        out = np.where(u < grid[0], log_rate[0] + slope * (u - grid[0]), inside)
        return np.exp(np.maximum(out, -700.0))

    def inverse(self, rate_khz) -> np.ndarray:
        """u with φ(u) = rate (linear inverse between grid points; tail as in __call__)."""
        r = np.log(np.maximum(np.asarray(rate_khz, dtype=float), 1e-300))
        grid, log_rate, spline = self._log_table
        if spline is None:
            return np.full(r.shape, np.nan)
        slope = (log_rate[1] - log_rate[0]) / (grid[1] - grid[0])
        out = np.interp(r, log_rate, grid)
        return np.where(r < log_rate[0], grid[0] + (r - log_rate[0]) / slope, out)
