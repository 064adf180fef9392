"""The EIF transfer function tabulated once and reused: φ(u; σ_V, τ) plus a shot correction.

The finite-size theory needs the rate φ_a(u) of a neuron of population a at total
mean input u (mV/ms) under its population's input fluctuations, for every neuron class,
time step and grid point. Measuring it on Poisson-driven model neurons at every change
of the input noise (:meth:`.transfer.TransferFunction.measure`) made the theory cost
5–60 s per grid point and minutes at N = 15000. Here it is measured once:

1. **Gaussian table** [derived here]. The synaptic input of a population is a sum of
   filtered shot noises, one per presynaptic source b (rate R_b, charge J_b, time
   constant τ_b). Its first two moments are those of a Gaussian current with two
   numbers besides the mean: the free-membrane s.d. σ_V (Campbell:
   σ_V² = Σ_b v_b τ_m² τ_b/(τ_m + τ_b), v_b = R_b J_b²/(2τ_b) the current variance of
   source b) and an effective correlation time τ_eff, the τ of one Ornstein–Uhlenbeck
   current with the same σ_V *and* the same current variance v = Σ_b v_b (the two
   moments that set the rate of upward crossings: Var V and Var dV/dt).
   φ_G(u; σ_V, τ) is measured for that OU current on the model neuron itself (the
   simulator's Euler scheme, spec §2.3–2.5) on a fixed grid of u, and on fixed grids of
   σ_V and τ — one *tile* per (σ_V, τ) with common random numbers, so the table is
   smooth in all three coordinates and deterministic. A tile depends on the neuron
   model only (membrane, dt), never on a network: it is written to a disk cache
   (:func:`cache_directory`) and read by every later grid point, experiment and study.
   Between tiles log φ_G is interpolated bilinearly in (log σ_V, log τ).
2. **Shot correction** [derived here]. The one-OU table matches two moments of the
   input; the network's input is a sum of sources with τ = 4, 8 and 10 ms (a spectrum
   the single Lorentzian only approximates) and, at N = 2000, inhibitory jumps of
   several mV skew the voltage distribution. Both lower the rate at a given
   (u, σ_V, τ_eff): the shot-noise neuron needs 0.02–0.14 mV/ms more input than the
   table's at 1–10 Hz (measured while designing this module; about half of it from the
   spectrum's shape), enough to move the balanced rates by several per cent; at
   N = 15000 it is ≤ 0.02. So each population's actual shot noise is measured once at
   a few inputs around its working point (:meth:`.transfer.TransferFunction.measure`)
   and the extra input d(r) = u_shot(r) − u_G(r) it needs at each rate is kept:
   φ_a = the table at (σ_V, τ_eff) shifted by d. d is re-measured only when a source's
   share of the variance, the skewness or the variance-weighted jump size moves by
   more than ``SHARE_TOLERANCE``, ``SKEW_TOLERANCE`` or ``GRANULARITY_TOLERANCE``; it is
   cached on disk keyed by the exact noise, so grid points with
   the same initial network (e.g. every c of a sweep: the Gaussian correlated part is
   left out of the measurement) share it.

:class:`PopulationTransfer` is what the finite-size model evaluates: log φ and its slope
on a dense uniform grid of u, rebuilt when σ_V or τ_eff move, so a class rate costs one
linear interpolation.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import tempfile

import numpy as np
from scipy import interpolate

from ..numba_cache import jit
from .transfer import InputNoise, MembraneParameters, TransferFunction

TABLE_VERSION = 1
"""Part of every tile's cache key: raise it when the measurement changes."""

U_GRID = np.round(np.concatenate([np.arange(-4.0, 6.0, 0.2), np.arange(6.0, 12.001, 0.5)]), 10)
"""Total mean inputs u (mV/ms) of every tile (rheobase of the noiseless neuron: 1.07;
the EIF fires at ≈ 200 Hz at u = 6 and ≈ 400 Hz at u = 12)."""

SIGMA_GRID_MV = np.exp(np.arange(math.log(1.0), math.log(60.0) + 1e-9, math.log(1.08)))
"""Free-membrane s.d. σ_V of the tiles (mV), ratio 1.08."""

TAU_GRID_MS = np.exp(np.arange(math.log(1.0), math.log(80.0) + 1e-9, math.log(1.25)))
"""Correlation times τ_eff of the tiles (ms), ratio 1.25."""

TILE_SECONDS = 20.0
TILE_TRIALS = 8
TILE_WARMUP_MS = 200.0
TILE_SEED = 4242
MIN_SPIKES = 40
"""A tile's rate at an input enters log φ only with this many spikes over all trials
(below, log φ is extrapolated with the exponential tail of the lowest such inputs)."""

DENSE_STEP = 0.005
"""Spacing (mV/ms) of the dense grid on which a population's log φ is evaluated."""

CALIBRATION_OFFSETS = np.linspace(-1.2, 1.2, 9)
CALIBRATION_SECONDS = 20.0
CALIBRATION_TRIALS = 16
CALIBRATION_SEED = 777
SKEW_TOLERANCE = 0.04
"""Absolute change of the shot noise's voltage skewness (κ₃/σ_V³) that triggers
re-measuring its correction (skewness at N = 2000: −0.15 to +0.1)."""

GRANULARITY_TOLERANCE = 0.03
"""Relative change of the variance-weighted jump size Σ_b share_b |J_b| that triggers
re-measuring the correction (the jumps' effect grows faster than the skewness: I charges
15 % larger move the I population's correction by 0.04 mV/ms at 3 Hz)."""

MAX_CALIBRATIONS = 5
"""Shot-noise measurements per population and model at most (the first and four
re-measurements; later changes keep the last one): a runaway changes the noise at every
step, and past the fourth re-measurement the trajectory is leaving the balanced state."""

SHARE_TOLERANCE = 0.04
"""Absolute change of any source's share of the membrane variance that triggers
re-measuring the correction: the one-OU table matches two moments of a sum of filtered
sources with τ = 4, 8 and 10 ms; the rest of the spectrum's shape is in the correction
(at N = 2000 it is most of it)."""

CACHE_ENV = "BALANCED_STDP_TRANSFER_CACHE"


def cache_directory(environ=os.environ) -> str:
    """Where tiles and shot corrections are cached.

    ``$BALANCED_STDP_TRANSFER_CACHE`` when set; else ``transfer-tables`` beside numba's
    cache (``$NUMBA_CACHE_DIR``: the workflow sets it to its ``numba_cache_dir``); else
    ``$XDG_CACHE_HOME/balanced_stdp/transfer-tables`` (``~/.cache`` by default). Entries are
    keyed by everything they depend on, so any of them can be deleted at any time.
    """
    if environ.get(CACHE_ENV):
        return environ[CACHE_ENV]
    if environ.get("NUMBA_CACHE_DIR"):
        return os.path.join(environ["NUMBA_CACHE_DIR"], "transfer-tables")
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "balanced_stdp", "transfer-tables")


def _key(payload: dict) -> str:
    text = json.dumps(payload, sort_keys=True, default=lambda x: np.asarray(x).tolist())
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _cached_array(kind: str, payload: dict, compute) -> np.ndarray:
    """Load ``kind/<key>.npy`` or compute, write atomically and return it."""
    directory = os.path.join(cache_directory(), kind)
    path = os.path.join(directory, _key({"version": TABLE_VERSION, **payload}) + ".npy")
    try:
        return np.load(path)
    except (OSError, ValueError):
        pass
    value = np.asarray(compute(), dtype=float)
    try:
        os.makedirs(directory, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=directory, suffix=".tmp")
        with os.fdopen(handle, "wb") as stream:
            np.save(stream, value)
        os.replace(temporary, path)
    except OSError:
        pass                     # a read-only cache only costs the recomputation
    return value


# ----------------------------------------------------------------------------- moments
def psp_cubed_integral(tau_m: float, tau_s) -> np.ndarray:
    """∫ h³ dt of the unit-charge PSP h(t) = τ_m/(τ_m − τ_s)(e^{−t/τ_m} − e^{−t/τ_s})."""
    tau_s = np.asarray(tau_s, dtype=float)
    tau_s = np.where(np.abs(tau_s - tau_m) < 1e-6, tau_m * (1 + 1e-6), tau_s)
    a, b = 1.0 / tau_m, 1.0 / tau_s
    integral = 1 / (3 * a) - 3 / (2 * a + b) + 3 / (a + 2 * b) - 1 / (3 * b)
    return (tau_m / (tau_m - tau_s)) ** 3 * integral


@dataclasses.dataclass(frozen=True)
class NoiseMoments:
    """The numbers of an input noise the table is indexed by.

    Attributes
    ----------
    sigma_mv : float
        Free-membrane s.d. σ_V (Campbell, :meth:`.transfer.InputNoise.membrane_variance`).
    tau_ms : float
        Correlation time of the OU current with the same σ_V and current variance.
    skewness : float
        κ₃/σ_V³ of the free membrane potential under the shot noise (0 for Gaussian input).
    shares : tuple of float
        Each shot source's share of the shot noise's membrane variance.
    granularity : float
        Σ_b share_b |J_b| (mV): the variance-weighted jump size.
    """

    sigma_mv: float
    tau_ms: float
    skewness: float
    shares: tuple = ()
    granularity: float = 0.0

    @classmethod
    def of(cls, noise: InputNoise, tau_m_ms: float,
           shot_variance_factor: float = 1.0) -> "NoiseMoments":
        """The moments of ``noise``, its shot part's variance scaled by
        ``shot_variance_factor`` (the skewness is that of the unscaled shot noise)."""
        rates = np.asarray(noise.total_rate_per_ms, dtype=float)
        charges = np.asarray(noise.charge_mv, dtype=float)
        taus = np.asarray(noise.tau_ms, dtype=float)
        shot_current = float(np.sum(rates * charges ** 2 / (2 * taus)))
        shot_membrane = float(np.sum(rates * charges ** 2 * tau_m_ms ** 2
                                     / (2.0 * (tau_m_ms + taus))))
        shared_membrane = noise.membrane_variance(tau_m_ms) - shot_membrane
        current_variance = shot_variance_factor * shot_current + noise.shared_variance
        membrane_variance = shot_variance_factor * shot_membrane + shared_membrane
        if membrane_variance <= 0 or current_variance <= 0:
            return cls(0.0, float(np.min(taus)) if taus.size else 1.0, 0.0)
        ratio = membrane_variance / (current_variance * tau_m_ms ** 2)   # τ/(τ_m + τ)
        tau = ratio * tau_m_ms / max(1.0 - ratio, 1e-12)
        third = float(np.sum(rates * charges ** 3 * psp_cubed_integral(tau_m_ms, taus)))
        shares = rates * charges ** 2 * tau_m_ms ** 2 / (2.0 * (tau_m_ms + taus)) \
            / max(shot_membrane, 1e-300)
        return cls(math.sqrt(membrane_variance), float(tau),
                   third / max(shot_membrane, 1e-300) ** 1.5, tuple(shares),
                   float(np.sum(shares * np.abs(charges))))

    def calibrates(self, other: "NoiseMoments | None") -> bool:
        """Whether a shot correction measured at ``other`` still applies here."""
        return (other is not None and len(other.shares) == len(self.shares)
                and abs(self.skewness - other.skewness) <= SKEW_TOLERANCE
                and abs(self.granularity / max(other.granularity, 1e-300) - 1)
                <= GRANULARITY_TOLERANCE
                and max((abs(a - b) for a, b in zip(self.shares, other.shares)),
                        default=0.0) <= SHARE_TOLERANCE)


def ou_current_variance(sigma_mv: float, tau_ms: float, tau_m_ms: float) -> float:
    """Current variance (mV²/ms²) of an OU current of time constant τ giving σ_V."""
    return sigma_mv ** 2 * (tau_m_ms + tau_ms) / (tau_m_ms ** 2 * tau_ms)


# ----------------------------------------------------------------------------- tiles
@jit
def _ou_driven_counts(u_grid, sd_per_step, decay, stationary_sd, n_trials, n_steps,
                      warmup_steps, dt, tau_m, e_leak, v_t, delta_t, v_spike, v_reset, seed):
    """Spike counts (trial, u) of EIF neurons at every u, driven by one shared OU current
    per trial (the simulator's Euler scheme; the current is updated before the voltage)."""
    np.random.seed(seed)
    n_u = u_grid.size
    counts = np.zeros((n_trials, n_u))
    v = np.empty(n_u)
    for trial in range(n_trials):
        v0 = v_reset + (v_t - v_reset) * np.random.random()
        for m in range(n_u):
            v[m] = v0
        x = stationary_sd * np.random.standard_normal()
        for step in range(n_steps):
            x = x * decay + sd_per_step * np.random.standard_normal()
            record = step >= warmup_steps
            for m in range(n_u):
                vm = v[m]
                vm += dt * (x + u_grid[m] + (e_leak - vm
                                             + delta_t * math.exp((vm - v_t) / delta_t)) / tau_m)
                if vm >= v_spike:
                    vm = v_reset
                    if record:
                        counts[trial, m] += 1.0
                v[m] = vm
    return counts


def _membrane_payload(membrane: MembraneParameters) -> dict:
    return dataclasses.asdict(membrane)


def measure_tile(membrane: MembraneParameters, sigma_mv: float, tau_ms: float,
                 seconds: float = TILE_SECONDS, trials: int = TILE_TRIALS,
                 seed: int = TILE_SEED) -> np.ndarray:
    """Spike counts summed over trials at every input of ``U_GRID`` (OU input, σ_V, τ).

    All tiles share ``seed``: the same unit OU path scaled by σ (common random numbers),
    so the table is smooth across σ_V.
    """
    dt = membrane.dt_ms
    decay = 1.0 - dt / tau_ms
    variance = ou_current_variance(sigma_mv, tau_ms, membrane.tau_m_ms)
    # the Euler recursion x ← d x + s ξ has stationary variance s²/(1 − d²)
    sd_step = math.sqrt(variance * (1.0 - decay ** 2))
    warm = int(round(TILE_WARMUP_MS / dt))
    steps = warm + int(round(1000.0 * seconds / dt))
    counts = _ou_driven_counts(U_GRID, sd_step, decay, math.sqrt(variance), int(trials),
                               steps, warm, dt, membrane.tau_m_ms, membrane.leak_reversal_mv,
                               membrane.threshold_mv, membrane.slope_factor_mv,
                               membrane.spike_mv, membrane.reset_mv, int(seed))
    return counts.sum(axis=0)


def _log_rate_curve(u, counts, duration_ms, dense_u) -> np.ndarray:
    """log φ on ``dense_u`` from spike counts at ``u``: monotone cubic through the inputs
    with ≥ MIN_SPIKES spikes, exponential tail (slope of the lowest two) below, held
    above."""
    counts = np.maximum.accumulate(np.asarray(counts, dtype=float))
    good = counts >= MIN_SPIKES
    if good.sum() < 2:
        return np.full(dense_u.shape, -700.0)
    x, y = u[good], np.log(counts[good] / duration_ms)
    keep = np.concatenate([[True], np.diff(y) > 0])
    x, y = x[keep], y[keep]
    if x.size < 2:
        return np.full(dense_u.shape, float(y[-1]))
    spline = interpolate.PchipInterpolator(x, y, extrapolate=False)
    slope = (y[1] - y[0]) / (x[1] - x[0])
    inside = spline(np.clip(dense_u, x[0], x[-1]))
    return np.where(dense_u < x[0], y[0] + slope * (dense_u - x[0]), inside)


class GaussianTable:
    """log φ_G(u; σ_V, τ) of one neuron model, tile by tile from the disk cache.

    Parameters
    ----------
    membrane : MembraneParameters
    dense_u : ndarray
        The uniform grid of u on which log φ is returned.
    """

    def __init__(self, membrane: MembraneParameters, dense_u: np.ndarray):
        self.membrane = membrane
        self.dense_u = dense_u
        self._tiles: dict[tuple[int, int], np.ndarray] = {}
        self.tiles_loaded = 0

    def tile(self, i: int, j: int) -> np.ndarray:
        """log φ_G on the dense grid at SIGMA_GRID_MV[i], TAU_GRID_MS[j]."""
        if (i, j) not in self._tiles:
            sigma, tau = float(SIGMA_GRID_MV[i]), float(TAU_GRID_MS[j])
            payload = {"membrane": _membrane_payload(self.membrane), "sigma": sigma,
                       "tau": tau, "u": U_GRID, "seconds": TILE_SECONDS,
                       "trials": TILE_TRIALS, "seed": TILE_SEED}
            counts = _cached_array("tiles", payload,
                                   lambda: measure_tile(self.membrane, sigma, tau))
            duration = TILE_TRIALS * 1000.0 * TILE_SECONDS
            self._tiles[i, j] = _log_rate_curve(U_GRID, counts, duration, self.dense_u)
            self.tiles_loaded += 1
        return self._tiles[i, j]

    def log_rate(self, sigma_mv: float, tau_ms: float) -> np.ndarray:
        """log φ_G (φ in kHz) on the dense grid: bilinear in (log σ_V, log τ)."""
        def bracket(grid, value):
            x = np.log(np.clip(value, grid[0], grid[-1]))
            logs = np.log(grid)
            i = int(min(max(np.searchsorted(logs, x) - 1, 0), grid.size - 2))
            return i, (x - logs[i]) / (logs[i + 1] - logs[i])

        i, fs = bracket(SIGMA_GRID_MV, sigma_mv)
        j, ft = bracket(TAU_GRID_MS, tau_ms)
        return ((1 - fs) * (1 - ft) * self.tile(i, j) + fs * (1 - ft) * self.tile(i + 1, j)
                + (1 - fs) * ft * self.tile(i, j + 1) + fs * ft * self.tile(i + 1, j + 1))


def shot_correction(membrane: MembraneParameters, noise: InputNoise, centre: float,
                    table: GaussianTable) -> tuple[np.ndarray, np.ndarray]:
    """The extra input d(r) = u_shot(r) − u_G(r) the shot-noise neuron needs to fire at r
    (module docstring, 2), measured on inputs around ``centre``.

    Only the shot part of ``noise`` is measured (its Gaussian shared part, c > 0, is the
    table's own business), so grid points that differ only in c share the measurement.

    Returns
    -------
    log_rates, offsets : ndarray
        log r (kHz) at the inputs with enough spikes, increasing, and d there (mV/ms);
        cached on disk by the exact noise and inputs.
    """
    noise = dataclasses.replace(noise, shared_variance=0.0)
    grid = np.round(centre, 2) + CALIBRATION_OFFSETS
    noise_payload = {f.name: np.asarray(getattr(noise, f.name)).tolist()
                     for f in dataclasses.fields(noise)}
    payload = {"membrane": _membrane_payload(membrane), "noise": noise_payload, "u": grid,
               "seconds": CALIBRATION_SECONDS, "trials": CALIBRATION_TRIALS,
               "seed": CALIBRATION_SEED}

    def measure():
        shot = TransferFunction.measure(membrane, noise, grid,
                                        duration_ms=1000.0 * CALIBRATION_SECONDS,
                                        n_trials=CALIBRATION_TRIALS, seed=CALIBRATION_SEED)
        return shot.rate_khz

    rates = _cached_array("shot", payload, measure)
    moments = NoiseMoments.of(noise, membrane.tau_m_ms)
    log_gauss = np.maximum.accumulate(table.log_rate(moments.sigma_mv, moments.tau_ms))
    spikes = rates * CALIBRATION_TRIALS * 1000.0 * CALIBRATION_SECONDS
    good = spikes >= MIN_SPIKES
    good[good] = np.concatenate([[True], np.diff(rates[good]) > 0])   # strictly increasing
    if not np.any(good):
        return np.array([0.0]), np.array([0.0])
    log_rates = np.log(rates[good])
    # the Gaussian input with the same rate: inverse of the (increasing) dense table
    u_gauss = np.interp(log_rates, log_gauss, table.dense_u)
    return log_rates, grid[good] - u_gauss


class PopulationTransfer:
    """φ_a of one population at its current noise: dense log φ and slope, rebuilt on demand.

    Parameters
    ----------
    membrane : MembraneParameters
    table : GaussianTable
        Shared by the populations of a model (and its tiles by every model).
    shot : bool
        Apply the shot correction (False: Gaussian input, for tests and comparisons).
    """

    REBUILD = 1e-3
    """Relative change of σ_V or τ_eff that rebuilds the dense table."""

    def __init__(self, membrane: MembraneParameters, table: GaussianTable, shot: bool = True):
        self.membrane = membrane
        self.table = table
        self.shot = shot
        self.u0 = float(table.dense_u[0])
        self.du = float(table.dense_u[1] - table.dense_u[0])
        self.moments: NoiseMoments | None = None
        self._correction: tuple[np.ndarray, np.ndarray] | None = None
        self._calibrated_at: NoiseMoments | None = None
        self.log_rate = None
        self.slope = None
        self.calibrations = 0

    def update(self, noise: InputNoise, centre: float,
               shot_variance_factor: float = 1.0) -> None:
        """Set the noise (``centre``: the working input, where a new shot correction is
        measured; ``shot_variance_factor``: the part of the shot noise's variance a
        network neuron keeps, :mod:`.finite_size_network`)."""
        moments = NoiseMoments.of(noise, self.membrane.tau_m_ms, shot_variance_factor)
        correct = self.shot and moments.sigma_mv > 0
        recalibrate = correct and (self._correction is None or (
            self.calibrations < MAX_CALIBRATIONS and not moments.calibrates(self._calibrated_at)))
        if recalibrate:
            self._correction = shot_correction(self.membrane, noise, centre, self.table)
            self._calibrated_at = moments
            self.calibrations += 1
        old = self.moments
        if (old is not None and not recalibrate
                and abs(moments.sigma_mv / max(old.sigma_mv, 1e-12) - 1) < self.REBUILD
                and abs(moments.tau_ms / old.tau_ms - 1) < self.REBUILD):
            return
        self.moments = moments
        log_gauss = np.maximum.accumulate(
            self.table.log_rate(max(moments.sigma_mv, SIGMA_GRID_MV[0]), moments.tau_ms))
        u = self.table.dense_u
        if correct:
            # the shot neuron needs u_G(r) + d(r) to fire at r (d held beyond its range)
            log_rates, offsets = self._correction
            shifted = u + np.interp(log_gauss, log_rates, offsets)
            log_rate = np.interp(u, np.maximum.accumulate(shifted), log_gauss)
        else:
            log_rate = log_gauss
        self.log_rate = np.maximum.accumulate(log_rate)
        self.slope = np.gradient(self.log_rate, self.du)

    def __call__(self, u) -> np.ndarray:
        """φ(u) in kHz."""
        return np.exp(self.log_phi_and_slope(u)[0])

    def log_phi(self, u) -> np.ndarray:
        return self.log_phi_and_slope(u)[0]

    def log_phi_and_slope(self, u) -> tuple[np.ndarray, np.ndarray]:
        """log φ and d log φ/du at u: cubic Hermite interpolation on the dense grid
        (continuous slope, so Newton's method on the rate equations converges fast);
        below the grid the exponential tail continues, above it φ is held."""
        u = np.asarray(u, dtype=float)
        position = (u - self.u0) / self.du
        last = self.log_rate.size - 1
        index = np.clip(np.floor(position).astype(int), 0, last - 1)
        t = np.clip(position - index, 0.0, 1.0)
        y0, y1 = self.log_rate[index], self.log_rate[index + 1]
        d0, d1 = self.slope[index] * self.du, self.slope[index + 1] * self.du
        t2, t3 = t * t, t * t * t
        value = ((2 * t3 - 3 * t2 + 1) * y0 + (t3 - 2 * t2 + t) * d0
                 + (3 * t2 - 2 * t3) * y1 + (t3 - t2) * d1)
        slope = ((6 * t2 - 6 * t) * (y0 - y1) + (3 * t2 - 4 * t + 1) * d0
                 + (3 * t2 - 2 * t) * d1) / self.du
        below = position < 0
        if np.any(below):
            value = np.where(below, self.log_rate[0] + self.slope[0] * (u - self.u0), value)
            slope = np.where(below, self.slope[0], slope)
        above = position > last
        if np.any(above):
            value = np.where(above, self.log_rate[-1], value)
            slope = np.where(above, 0.0, slope)
        return value, slope

    def inverse(self, rate_khz) -> np.ndarray:
        """u with φ(u) = rate."""
        return np.interp(np.log(np.maximum(rate_khz, 1e-300)), self.log_rate,
                         self.table.dense_u)


def dense_grid() -> np.ndarray:
    """The dense u grid every population's log φ lives on (the tiles' range)."""
    return np.round(np.arange(U_GRID[0], U_GRID[-1] + 1e-9, DENSE_STEP), 10)
