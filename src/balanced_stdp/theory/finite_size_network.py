"""Finite-size theory, part 1: the self-consistent class rates at given class weights.

The network of :mod:`.mean_field_network` (two populations E, I, or three E1, E2, I with
the optogenetic layer) with every population split into ``n_classes`` neuron classes at
equal-probability quantiles z_m of its quenched input (the finite-size model,
:mod:`.finite_size_model`, explains the three effects this resolves). At given class
weights w_ab[m, n] (post class m, pre class n; a constant for non-plastic blocks) the
mean input of class m of population a is

    u_am = Σ_b s_b ⟨w_ab r_b⟩_m + √N [W_x r_x]_a + σ_a z_m,   s_b = √N p q_b (1 − dt/τ_b),

with ⟨w r⟩_m = Σ_n w[m, n] r_bn / n_classes (the rate–weight covariance of spec §6.7
included) and the quenched input s.d. σ_a² = Σ_b q_b p [⟨x²⟩ − p ⟨x⟩²] + (external),
x_n = w̄_ab[n] r_bn (1 − dt/τ_b) (Bernoulli in-degrees and unequal presynaptic rates).
The rates solve r_am = φ_a(u_am), φ_a the transfer function under population a's input
noise (:mod:`.transfer_table`). u is linear in r and σ_a is an explicit function of r,
so the Jacobian is analytic: Newton's method in log rates converges in a few steps from
the previous state (:meth:`FiniteSizeNetwork.solve_rates`), about a millisecond per
solve for two populations of 16 classes.

Input noise [derived here]. A neuron of population a receives K_b = p N_b shot-noise
inputs from every source b (E, I, the external layers). Were its presynaptic neurons
independent, a fraction K_b/N_b = p of each source's variance would be the common mode
(the population's own rate fluctuation, which all K_b inputs share). In the balanced
network that common mode is cancelled by the recurrent response (spec §6.2: balance holds
at every frequency), so a network neuron keeps (1 − p) of the independent shot-noise
variance; the residual of the cancellation at finite gain is neglected. This lowers the
rates of strongly coupled networks (j_ee = 25–30) by 2 %, towards the simulated ones.
Correlated input (c > 0) adds a Gaussian input current per population
(:meth:`FiniteSizeNetwork.update_shared_noise`, derivation in :mod:`.finite_size_model`).
"""

from __future__ import annotations

import copy
import dataclasses
import math

import numpy as np
from scipy.stats import norm

from ..config import resolve_config
from .covariance import external_cross_spectrum, network_kernel_integrals, synaptic_filter
from .dynamics import MeanFieldModel
from .mean_field_network import Network, NoBalancedStateError
from .transfer import InputNoise, MembraneParameters, effective_charge_factors
from .transfer_table import U_GRID, GaussianTable, PopulationTransfer, dense_grid

DEFAULT_CLASSES = 16
"""Neuron classes per population (equal-probability quantiles of the quenched input)."""

SATURATION_MARGIN_MV_PER_MS = 1.0
"""A class whose input comes this close to the top of the transfer table (where the EIF
fires at ≈ 200 Hz and φ is held) is saturated: not a balanced state."""

NEWTON_TOLERANCE = 1e-9
"""max |log φ(u) − log r| of a solution."""

_TABLES: dict[MembraneParameters, GaussianTable] = {}


def gaussian_table(membrane: MembraneParameters) -> GaussianTable:
    """The one Gaussian transfer table of a neuron model in this process (tiles shared)."""
    if membrane not in _TABLES:
        _TABLES[membrane] = GaussianTable(membrane, dense_grid())
    return _TABLES[membrane]


class BalanceLost(NoBalancedStateError):
    """No self-consistent finite-size state: the message says why; ``classes`` names the
    neuron classes that leave (population label → class indices, lowest rate first)."""

    def __init__(self, message: str, classes: dict | None = None):
        super().__init__(message)
        self.classes = classes or {}


@dataclasses.dataclass
class ClassState:
    """Rates of every neuron class at given class weights (kHz, mV/ms).

    Attributes
    ----------
    class_rates : ndarray (n_pop, n_classes)
    mean_rates, rate_sd : ndarray (n_pop,)
    mean_input : ndarray (n_pop,)
        Population mean input ū_a (mV/ms).
    quenched_sd : ndarray (n_pop,)
    class_inputs : ndarray (n_pop, n_classes)
    jacobian : ndarray (n_pop·n_classes, n_pop·n_classes)
        ∂(log φ(u) − log r)/∂ log r at the solution (singular at a fold of the rate
        equations, where the balanced solution disappears).
    """

    class_rates: np.ndarray
    mean_rates: np.ndarray
    rate_sd: np.ndarray
    mean_input: np.ndarray
    quenched_sd: np.ndarray
    class_inputs: np.ndarray
    jacobian: np.ndarray

    def critical_mode(self) -> tuple[np.ndarray, float]:
        """|eigenvector| (n_pop, n_classes, max 1) of the Jacobian eigenvalue closest to 0
        — the direction in which the classes leave at a fold — and that eigenvalue's
        modulus."""
        eigenvalues, vectors = np.linalg.eig(self.jacobian)
        critical = int(np.argmin(np.abs(eigenvalues)))
        mode = np.abs(vectors[:, critical]).reshape(self.class_rates.shape)
        return mode / max(mode.max(), 1e-300), float(abs(eigenvalues[critical]))


class FiniteSizeNetwork:
    """Class-resolved network of one run config: inputs, noise and self-consistent rates.

    Parameters
    ----------
    config : dict
        Run config (resolved here).
    n_classes : int
        Neuron classes per population.
    shot_correction : bool
        Correct the Gaussian transfer table for the shot noise's finite jumps
        (:mod:`.transfer_table`); False only for comparisons.
    """

    def __init__(self, config: dict, n_classes: int = DEFAULT_CLASSES,
                 shot_correction: bool = True):
        self.config = resolve_config(copy.deepcopy(config))
        self.leading = MeanFieldModel(self.config)
        self.network: Network = self.leading.network
        net = self.network
        if int(n_classes) < 2:
            raise ValueError(f"n_classes must be at least 2, got {n_classes}")
        self.n_pop = net.n_populations
        self.membrane = MembraneParameters.from_config(self.config)
        self.sqrt_n = math.sqrt(net.n_neurons)
        self.charge_factor = effective_charge_factors(self.membrane.dt_ms, net.synaptic_tau_ms)
        self.n_classes = int(n_classes)
        z = norm.ppf((np.arange(self.n_classes) + 0.5) / self.n_classes)
        self.z = z / math.sqrt(np.mean(z ** 2))              # unit variance over the classes
        self.blocks = self.leading.blocks
        self._plastic = {(blk.post, blk.pre): k for k, blk in enumerate(self.blocks)}
        self.scale = (self.sqrt_n * net.connection_probability * net.fractions
                      * self.charge_factor)
        table = gaussian_table(self.membrane)
        self.transfer = [PopulationTransfer(self.membrane, table, shot_correction)
                         for _ in range(self.n_pop)]
        self.laser_on = net.laser_on_at(0.0)
        self._shared = np.zeros(self.n_pop)
        self._shared_tau = np.full(self.n_pop, 10.0)
        self._external_variance: dict[bool, np.ndarray] = {}
        # the simulator's divergence guard: a population rate above it is a runaway
        self.max_rate_khz = float(self.config["divergence"]["max_bin_rate_hz"]) / 1000.0
        self.last_state: ClassState | None = None

    # ------------------------------------------------------------------ weights
    def initial_class_weights(self) -> list[np.ndarray]:
        """One (n_classes, n_classes) matrix per plastic block, at the initial weight."""
        return [np.full((self.n_classes, self.n_classes), float(v))
                for v in self.leading.initial_state()]

    def block_means(self, class_weights) -> np.ndarray:
        """Block mean weights (n_pop, n_pop) with the plastic blocks' class means."""
        return self.leading.block_weights([w.mean() for w in class_weights])

    def _block_matrix(self, class_weights, a: int, b: int, means) -> np.ndarray | float:
        k = self._plastic.get((a, b))
        return class_weights[k] if k is not None else float(means[a, b])

    # ------------------------------------------------------------------ inputs
    def external_input(self) -> np.ndarray:
        """√N [W_x r_x]_a (mV/ms) with the laser layer as it is now."""
        net = self.network
        return self.sqrt_n * net.external_matrix() @ net.external_rates(self.laser_on)

    def input_matrix(self, class_weights) -> np.ndarray:
        """A with u = A r + (external) + σ z: (n_pop·K, n_pop·K), rates in kHz."""
        k = self.n_classes
        means = self.block_means(class_weights)
        out = np.empty((self.n_pop * k, self.n_pop * k))
        for a in range(self.n_pop):
            for b in range(self.n_pop):
                w = self._block_matrix(class_weights, a, b, means)
                out[a * k:(a + 1) * k, b * k:(b + 1) * k] = self.scale[b] * w / k
        return out

    def _presynaptic_charges(self, class_weights):
        """w̄_ab[n] (1 − dt/τ_b): mean charge factor of pre class n onto population a."""
        means = self.block_means(class_weights)
        out = np.empty((self.n_pop, self.n_pop, self.n_classes))
        for a in range(self.n_pop):
            for b in range(self.n_pop):
                w = self._block_matrix(class_weights, a, b, means)
                pre = w.mean(axis=0) if isinstance(w, np.ndarray) else np.full(self.n_classes, w)
                out[a, b] = pre * self.charge_factor[b]
        return out

    def _external_quenched_variance(self) -> np.ndarray:
        """Σ_layer j_a,layer² q_layer p (1 − p) r_layer²: the in-degree part of the
        external input (per laser state)."""
        key = bool(self.laser_on)
        if key not in self._external_variance:
            net = self.network
            p = net.connection_probability
            rates = net.external_rates(self.laser_on)
            self._external_variance[key] = np.sum(
                net.external_weights ** 2 * net.layer_fractions[None, :] * p * (1 - p)
                * rates[None, :] ** 2, axis=1)
        return self._external_variance[key]

    def quenched_sd(self, charges, class_rates) -> tuple[np.ndarray, np.ndarray]:
        """σ_a and dσ_a/dr_bn (n_pop, n_pop, n_classes) at class rates (module docstring)."""
        net = self.network
        p = net.connection_probability
        k = self.n_classes
        x = charges * class_rates[None, :, :]                  # (a, b, n)
        mean = x.sum(axis=2) / k
        weight = net.fractions[None, :] * p
        variance = np.sum(weight * (np.einsum("abn,abn->ab", x, x) / k - p * mean ** 2),
                          axis=1) + self._external_quenched_variance()
        sd = np.sqrt(np.maximum(variance, 1e-30))
        d_variance = weight[:, :, None] * (2 * x / k - 2 * p * mean[:, :, None] / k) * charges
        return sd, d_variance / (2 * sd[:, None, None])

    # ------------------------------------------------------------------ noise
    def noise(self, a: int, class_weights, mean_rates) -> InputNoise:
        """Shot noise of population a's inputs: the mean rates and the charges with
        ⟨w²⟩ of each plastic block (Campbell's variance needs Σ J² r)."""
        net = self.network
        n, p = net.n_neurons, net.connection_probability
        means = self.block_means(class_weights)
        rates, charges = [], []
        for b in range(self.n_pop):
            k = self._plastic.get((a, b))
            if k is not None:
                rms = math.sqrt(float(np.mean(class_weights[k] ** 2)))
                charge = math.copysign(rms, means[a, b]) / self.sqrt_n
            else:
                charge = means[a, b] / self.sqrt_n
            rates.append(p * n * net.fractions[b] * mean_rates[b])
            charges.append(charge)
        taus = list(net.synaptic_tau_ms)
        after = [True] * self.n_pop
        layer_rates = net.external_rates(self.laser_on)
        for layer in range(len(net.layers)):
            if net.external_weights[a, layer] == 0 or layer_rates[layer] == 0:
                continue
            rates.append(p * n * net.layer_fractions[layer] * layer_rates[layer])
            charges.append(net.external_weights[a, layer] / self.sqrt_n)
            taus.append(net.external_tau_ms)
            after.append(False)
        return InputNoise(np.array(rates), np.array(charges), np.array(taus, dtype=float),
                          np.array(after), float(self._shared[a]), float(self._shared_tau[a]))

    def update_transfer(self, class_weights, mean_rates, mean_input) -> None:
        """Point every population's φ at its current input noise: the independent shot
        noise less its common mode (module docstring), plus the correlated part."""
        keep = 1.0 - self.network.connection_probability
        for a in range(self.n_pop):
            self.transfer[a].update(self.noise(a, class_weights, mean_rates),
                                    float(mean_input[a]), keep)

    @property
    def calibrations(self) -> int:
        """Shot-noise measurements made so far (cached ones included)."""
        return sum(t.calibrations for t in self.transfer)

    # ------------------------------------------------------------------ rates
    def _newton(self, matrix, external, charges, log_rates, iterations: int = 60):
        """Solve log r = log φ(A r + external + σ(r) z) by damped Newton (analytic
        Jacobian). Returns (log rates, converged, inputs, σ, Jacobian)."""
        n_pop, k = self.n_pop, self.n_classes
        z = self.z

        def evaluate(x):
            rates = np.exp(x).reshape(n_pop, k)
            sd, d_sd = self.quenched_sd(charges, rates)
            u = (matrix @ rates.ravel()).reshape(n_pop, k) + external[:, None] \
                + sd[:, None] * z[None, :]
            log_phi = np.empty_like(u)
            slope = np.empty_like(u)
            for a in range(n_pop):
                log_phi[a], slope[a] = self.transfer[a].log_phi_and_slope(u[a])
            return rates, u, sd, d_sd, log_phi.ravel() - x, slope

        x = log_rates.copy()
        rates, u, sd, d_sd, residual, slope = evaluate(x)
        norm_now = np.max(np.abs(residual))
        for _ in range(iterations):
            # du/dr: A plus the quenched part z_m dσ_a/dr_bn
            du_dr = matrix + (z[None, :, None, None] * d_sd[:, None, :, :]).reshape(
                n_pop * k, n_pop * k)
            jac = slope.ravel()[:, None] * du_dr * rates.ravel()[None, :] - np.eye(n_pop * k)
            if norm_now < NEWTON_TOLERANCE:
                return x, True, u, sd, jac
            try:
                step = np.linalg.solve(jac, -residual)
            except np.linalg.LinAlgError:
                break
            step *= min(1.0, 2.0 / max(np.max(np.abs(step)), 1e-300))
            for _ in range(30):                  # backtracking on max |residual|
                trial = x + step
                evaluated = evaluate(trial)
                trial_norm = np.max(np.abs(evaluated[4]))
                if trial_norm < norm_now or trial_norm < NEWTON_TOLERANCE:
                    break
                step *= 0.5
            else:
                break
            x = trial
            rates, u, sd, d_sd, residual, slope = evaluated
            norm_now = trial_norm
        return x, False, u, sd, None

    def solve_rates(self, class_weights, guess: ClassState | None = None,
                    refresh: bool = True) -> ClassState:
        """Self-consistent class rates at given class weights.

        ``guess``: the state to continue from (warm start); ``refresh``: re-point the
        transfer functions at the new noise (off for the midpoint of an integration step).

        Raises
        ------
        BalanceLost
            When there is no self-consistent balanced state: no solution, classes
            saturated at the top of the transfer table (≈ 200 Hz), or a population mean
            rate above the run's divergence limit (``divergence.max_bin_rate_hz``: the
            simulator would stop there).
        """
        net = self.network
        k = self.n_classes
        matrix = self.input_matrix(class_weights)
        external = self.external_input()
        charges = self._presynaptic_charges(class_weights)
        if guess is None:
            x = self._first_guess(class_weights, matrix, external, charges)
            refresh = True
        else:
            x = np.log(np.maximum(guess.class_rates, 1e-300)).ravel()
        for _ in range(8):
            x, converged, u, sd, jac = self._newton(matrix, external, charges, x)
            rates = np.exp(x).reshape(self.n_pop, k)
            saturated = converged and u.max() > U_GRID[-1] - SATURATION_MARGIN_MV_PER_MS
            if not converged or saturated or rates.mean(axis=1).max() > self.max_rate_khz:
                raise self._lost(rates, converged, saturated)
            if not refresh:
                break
            before = [t.moments for t in self.transfer]
            self.update_transfer(class_weights, rates.mean(axis=1), u.mean(axis=1))
            if all(t.moments is m for t, m in zip(self.transfer, before)):
                break
        state = ClassState(rates, rates.mean(axis=1), rates.std(axis=1), u.mean(axis=1), sd, u,
                           jac)
        self.last_state = state
        return state

    def _first_guess(self, class_weights, matrix, external, charges) -> np.ndarray:
        """Log class rates to start from without a previous state: the leading-order
        balanced rates (clipped to 1–50 Hz) if Newton converges from them, else the
        first of a few uniform guesses from which it does (strong excitation, e.g.
        j_ei = −55, has only a high-rate state), else the leading-order guess."""
        net = self.network
        try:
            r0 = np.clip(net.balanced_rates(self.block_means(class_weights),
                                            laser_on=self.laser_on), 1e-3, 0.05)
        except NoBalancedStateError:
            r0 = np.full(self.n_pop, 0.005)
        guesses = [r0] + [np.where(np.array(net.kinds) == "e", 1.0, 2.0) * r
                          for r in (0.01, 0.03, 0.06)]
        for rates in guesses:
            x = np.log(np.repeat(rates[:, None], self.n_classes, axis=1)).ravel()
            self.update_transfer(class_weights, rates, np.full(self.n_pop, 0.3))
            solution, converged, *_ = self._newton(matrix, external, charges, x)
            if converged:
                return solution
        x = np.log(np.repeat(r0[:, None], self.n_classes, axis=1)).ravel()
        self.update_transfer(class_weights, r0, np.full(self.n_pop, 0.3))
        return x

    def _lost(self, rates, converged, saturated) -> BalanceLost:
        """BalanceLost naming the classes that leave: those whose rates the failed solve
        drove up (above 3× the population's median class rate, or all classes of a
        population whose mean exceeds the limit)."""
        classes = {}
        for a, name in enumerate(self.network.populations):
            high = np.flatnonzero(rates[a] > 3 * np.median(rates[a]))
            if rates[a].mean() > self.max_rate_khz or high.size:
                classes[name] = high if high.size else np.arange(self.n_classes)
        limit = 1000.0 * self.max_rate_khz
        reason = ("no self-consistent finite-size rates" if not converged
                  else "classes saturated" if saturated
                  else f"finite-size rates above {limit:g} Hz")
        return BalanceLost(f"{reason} (the balanced state is lost)", classes)

    def population_gains(self, state: ClassState) -> np.ndarray:
        """L_a = dΦ_a/dū: population-rate gain (kHz per mV/ms) over the classes."""
        out = np.empty(self.n_pop)
        for a in range(self.n_pop):
            log_phi, slope = self.transfer[a].log_phi_and_slope(state.class_inputs[a])
            out[a] = np.mean(np.exp(log_phi) * slope)
        return out

    # ------------------------------------------------------------------ correlations
    def _input_transfer(self, class_weights, state: ClassState, omega):
        """T(ω) = (I − √N W̃ L)⁻¹ √N W̃_x (n_omega, n_pop, n_layers) and the gains L."""
        net = self.network
        weights = self.block_means(class_weights)
        gains = np.maximum(self.population_gains(state), 1e-9)
        w = (net.recurrent_matrix(weights) * self.charge_factor[None, :])[None] \
            * synaptic_filter(omega, net.synaptic_tau_ms)[:, None, :]
        wx = net.external_matrix()[None] * synaptic_filter(omega, net.external_tau_ms)[:, None, :]
        system = np.eye(self.n_pop)[None] - self.sqrt_n * w * gains[None, None, :]
        return np.linalg.solve(system, self.sqrt_n * wx), gains

    def input_spectrum(self, class_weights, state: ClassState, omega):
        """Shared-input spectrum per population at finite N (:mod:`.finite_size_model`):
        δu = (I − √N W̃ L)⁻¹ √N W̃_x δr_x. Returns the spectra (n_omega, n_pop) of δu
        (mV²/ms) and of the population rates L² |δu|² (kHz)."""
        net = self.network
        transfer, gains = self._input_transfer(class_weights, state, omega)
        cx = external_cross_spectrum(omega, net.correlation, net.external_rates(self.laser_on),
                                     net.jitter_ms)
        spectrum = np.real(np.einsum("wal,wl,wal->wa", transfer, cx, transfer.conj()))
        return spectrum, spectrum * gains[None, :] ** 2

    def update_shared_noise(self, class_weights, state: ClassState) -> None:
        """Input variance and correlation time from input correlations (c > 0)."""
        net = self.network
        if net.correlation <= 0:
            return
        weights = self.block_means(class_weights)
        p = net.connection_probability
        omega = np.linspace(0.0, 3.0, 3001)        # rad/ms; the jitter Gaussian ends ≈ 0.5
        shared_all, rate_spectrum = self.input_spectrum(class_weights, state, omega)
        external = external_cross_spectrum(omega, net.correlation,
                                           net.external_rates(self.laser_on), net.jitter_ms)
        filters = np.abs(synaptic_filter(omega, net.synaptic_tau_ms)) ** 2
        x_filter = np.abs(synaptic_filter(omega, net.external_tau_ms)) ** 2
        for a in range(self.n_pop):
            shared = shared_all[:, a].copy()
            # a neuron's in-degrees differ from the mean ones (Binomial): its share of each
            # population's common fluctuation is not cancelled [derived here]
            j_eff = weights[a] * self.charge_factor
            shared += (1 - p) * p * np.sum(net.fractions * j_eff ** 2 * filters * rate_spectrum,
                                           axis=1)
            shared += (1 - p) * p * np.sum(
                net.layer_fractions * net.external_weights[a] ** 2 * x_filter * external, axis=1)
            variance = np.trapezoid(shared, omega) / math.pi
            self._shared[a] = variance
            self._shared_tau[a] = max(shared[0] / (2.0 * variance), self.membrane.dt_ms)

    def kernels(self, class_weights):
        """(K⁺, K⁻) population matrices (kHz): spec §6.3 at the current mean weights.

        The leading-order cross-spectrum is kept (zero at c = 0, as in the paper): the
        finite-gain response of :meth:`input_spectrum` would lower the rate covariances,
        while the simulated count covariances at N ≥ 2000 lie at or above the
        leading-order ones (fig S2, S3).
        """
        net = self.network
        if net.correlation <= 0:
            zero = np.zeros((self.n_pop,) * 2)
            return zero, zero
        _, k_plus, k_minus = network_kernel_integrals(net, self.block_means(class_weights),
                                                      self.laser_on)
        return k_plus, k_minus
