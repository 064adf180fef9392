"""Finite-size theory: O(1) net input, rate heterogeneity and weights over the rate distribution.

A second theory order beyond the paper (issue 12; spec §11 pointers, all checked
here). The leading-order theory (spec §6) fixes the population rates by exact
cancellation of the O(√N) inputs and uses one rate per population. At N = 2000–5000
three O(1) effects it leaves out decide what a simulation shows:

1. **Net input.** A neuron firing at r needs a mean input u = φ⁻¹(r) of order one. With
   the population mean input ū_a = √N [W r̄ + W_x r_x]_a (recurrent charges J(1 − dt/τ_b)
   as the Euler scheme integrates them, :func:`~.transfer.effective_charge_factors`),
   the rates solve ū_a(r̄) = Φ_a⁻¹(r̄_a) instead of ū = 0.
2. **Rate heterogeneity.** Bernoulli in-degrees and unequal presynaptic rates give every
   neuron its own mean input ū_a + s_a z, z ~ N(0, 1), with the quenched variance
   s_a² = Σ_b q_b p [(1 − p) ⟨j r⟩_b² + Var_n(j r)_b] (spec §11, with the charge of the
   synapses' own weights), self-consistent with the rate variance it produces. The
   rate of a neuron is φ_a(ū_a + s_a z), φ_a the transfer function of the model neuron
   under the population's synaptic shot noise (:mod:`.transfer`); the population rate
   Φ_a is its average over z. The rate distribution (quantiles) is a prediction.
3. **Weights over the rate distribution.** Each population is represented by
   ``n_classes`` neuron classes at equal-probability quantiles z_m of the quenched
   input. A plastic block (post a, pre b) is a class matrix of weights w[m, n] that
   evolves by the rule's mean drift (:meth:`RuleDescription.mean_drift`, the one
   description of each rule) at the class rates (r_a,m, r_b,n). The weights feed
   back: class m's mean input deviates from ū_a by s_a z_m plus
   √N p q_b (1 − dt/τ_b)(⟨w r⟩_m − ⟨w r⟩) for every plastic block, so homeostatic
   rules that equalise the rates (iSTDP) and rules whose relaxation rate scales with
   the postsynaptic rate (Kohonen: ∝ r_post) are both represented; the population
   input uses ⟨w r⟩, i.e. it includes the rate–weight covariance of spec §6.7.

Correlations. For c > 0 the K⁺/K⁻ terms of spec §6.3 are evaluated from the
leading-order cross-spectrum at the current mean weights and distributed over the
classes ∝ r_post r_pre. Input correlations also raise every neuron's input variance
[derived here]: (i) balance cancels the correlated external input only up to the
finite population gains L_a = dΦ_a/dū, so the population inputs keep a fluctuation
δu = (I − √N W̃(ω) L)⁻¹ √N W̃_x(ω) δr_x (→ 0 as √N L → ∞, the leading order); (ii) a
neuron's Binomial in-degrees differ from the mean ones, so its share of each
population's common fluctuation is not cancelled: Σ_b (1 − p) p q_b j_ab² |η̃_b|² C̃_bb(ω).
Their summed spectrum enters the transfer-function measurement as a Gaussian current
with the same variance and correlation time (:class:`~.transfer.InputNoise`).

The opposite c-trend of the spec's Δ-corrected iSTDP theory (issue 12) is an artefact
of that correction, not of the simulator: Δ = (R_sims − R_mean)/√N contains the net
input μ the E cells need to fire and makes balance cancel it, which biases the fixed
point by −W⁻¹μ/√N (≈ −25 mV at N = 2000). μ falls with c (measured R_sims,E: 0.79,
0.72, 0.47 mV/ms at c = 0, 0.1, 0.5: correlated input is extra noise, so less mean
input is needed), so the bias shrinks and the corrected weight becomes *less* negative
with c (−141.0, −138.0, −134.5 mV) while the simulated one becomes more negative (−114.6,
−117.4, −121.2). Here the net input is φ⁻¹(r), required rather than cancelled, and the
c-dependence comes from K_ei and the extra noise; the finite-size (and leading-order)
trend has the simulated sign.

No quantity is fitted to simulations: the inputs are the run config only. Scope:
two-population networks (E, I) with any of the rules; the three-population
optogenetic network falls back to the leading order (``theory_status`` says so).
The datasets of the theory are :mod:`.finite_size_prediction`.
"""

from __future__ import annotations

import copy
import dataclasses
import math

import numpy as np
from scipy import optimize
from scipy.stats import norm

from ..config import resolve_config
from .covariance import external_cross_spectrum, network_kernel_integrals, synaptic_filter
from .dynamics import MeanFieldModel
from .mean_field_network import Network, NoBalancedStateError
from .transfer import InputNoise, MembraneParameters, TransferFunction, effective_charge_factors

QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)
"""Quantiles of the predicted rate and final weight distributions."""

DEFAULT_CLASSES = 16
"""Neuron classes per population (equal-probability quantiles of the quenched input)."""

NOISE_REFRESH = 0.05
"""Relative change of a population's membrane noise s.d. that triggers re-measuring φ."""

_GRID_HALF_WIDTH_MV_PER_MS = 3.0


class FiniteSizeUnsupported(ValueError):
    """The finite-size theory does not cover this network (the message says why)."""


@dataclasses.dataclass
class ClassState:
    """Rates of every neuron class at given class weights (kHz, mV/ms).

    Attributes
    ----------
    class_rates : ndarray (n_pop, n_classes)
    mean_rates : ndarray (n_pop,)
    rate_sd : ndarray (n_pop,)
    mean_input : ndarray (n_pop,)
        Population mean input ū_a (mV/ms).
    quenched_sd : ndarray (n_pop,)
        s_a (mV/ms).
    class_inputs : ndarray (n_pop, n_classes)
    """

    class_rates: np.ndarray
    mean_rates: np.ndarray
    rate_sd: np.ndarray
    mean_input: np.ndarray
    quenched_sd: np.ndarray
    class_inputs: np.ndarray


class FiniteSizeModel:
    """Class-resolved finite-size mean field of one run config (see module docstring).

    Parameters
    ----------
    config : dict
        Run config (resolved here).
    n_classes : int
        Neuron classes per population.
    transfer_seconds : float
        Simulated seconds per trial of each transfer-function measurement.
    """

    def __init__(self, config: dict, n_classes: int = DEFAULT_CLASSES,
                 transfer_seconds: float = 10.0):
        self.config = resolve_config(copy.deepcopy(config))
        self.leading = MeanFieldModel(self.config)
        self.network: Network = self.leading.network
        net = self.network
        if net.n_populations != 2:
            raise FiniteSizeUnsupported(
                "the finite-size theory covers two-population networks; the optogenetic "
                "three-population network uses the leading order")
        self.membrane = MembraneParameters.from_config(self.config)
        self.sqrt_n = math.sqrt(net.n_neurons)
        self.charge_factor = effective_charge_factors(self.membrane.dt_ms, net.synaptic_tau_ms)
        self.n_classes = int(n_classes)
        self.z = norm.ppf((np.arange(self.n_classes) + 0.5) / self.n_classes)
        self.z *= 1.0 / math.sqrt(np.mean(self.z ** 2))     # unit variance over the classes
        self.blocks = self.leading.blocks
        self.transfer_seconds = float(transfer_seconds)
        self._transfer: list[TransferFunction | None] = [None] * net.n_populations
        self._noise_sd = np.full(net.n_populations, np.nan)
        self._shared = np.zeros(net.n_populations)
        self._shared_tau = np.full(net.n_populations, 10.0)
        self.transfer_measurements = 0
        self.last_state: ClassState | None = None

    # ------------------------------------------------------------------ weights
    def initial_class_weights(self) -> list[np.ndarray]:
        """One (n_classes, n_classes) matrix per plastic block, at the initial weight."""
        j0 = self.leading.initial_state()
        return [np.full((self.n_classes, self.n_classes), float(v)) for v in j0]

    def block_means(self, class_weights) -> np.ndarray:
        """Block mean weights (n_pop, n_pop) with the plastic blocks' class means."""
        return self.leading.block_weights([w.mean() for w in class_weights])

    # ------------------------------------------------------------------ inputs
    def _weighted_rates(self, class_weights, class_rates):
        """⟨w r⟩ per post class and block (n_pop, n_pop, n_classes), mV·kHz."""
        net = self.network
        means = self.block_means(class_weights)
        out = np.empty((net.n_populations, net.n_populations, self.n_classes))
        for a in range(net.n_populations):
            for b in range(net.n_populations):
                out[a, b] = means[a, b] * class_rates[b].mean()
        for w, blk in zip(class_weights, self.blocks):
            out[blk.post, blk.pre] = w @ class_rates[blk.pre] / self.n_classes
        return out

    def _quenched_sd(self, class_weights, class_rates) -> np.ndarray:
        """s_a: s.d. over neurons of the time-averaged input from random connectivity."""
        net = self.network
        p = net.connection_probability
        means = self.block_means(class_weights)
        plastic = {(blk.post, blk.pre): w for w, blk in zip(class_weights, self.blocks)}
        out = np.empty(net.n_populations)
        x_rates = net.external_rates()
        for a in range(net.n_populations):
            s2 = 0.0
            for b in range(net.n_populations):
                w_pre = plastic[(a, b)].mean(axis=0) if (a, b) in plastic \
                    else np.full(self.n_classes, means[a, b])
                x = w_pre * class_rates[b] * self.charge_factor[b]
                s2 += net.fractions[b] * p * ((1 - p) * x.mean() ** 2 + x.var())
            s2 += np.sum(net.external_weights[a] ** 2 * net.layer_fractions * p * (1 - p)
                         * x_rates ** 2)
            out[a] = math.sqrt(s2)
        return out

    def _noise(self, a: int, class_weights, mean_rates) -> InputNoise:
        """Shot noise of population a's inputs (mean rates, charges with ⟨w² r⟩)."""
        net = self.network
        n = net.n_neurons
        p = net.connection_probability
        means = self.block_means(class_weights)
        plastic = {(blk.post, blk.pre): w for w, blk in zip(class_weights, self.blocks)}
        rates, charges = [], []
        for b in range(net.n_populations):
            count = p * n * net.fractions[b]
            if (a, b) in plastic:
                # Campbell's variance needs Σ J² r: keep ⟨w²⟩ of the block at the mean rate
                mean_square = float(np.mean(plastic[(a, b)] ** 2))
                charge = math.copysign(math.sqrt(mean_square), means[a, b]) / self.sqrt_n
            else:
                charge = means[a, b] / self.sqrt_n
            rates.append(count * mean_rates[b])
            charges.append(charge)
        taus = list(net.synaptic_tau_ms)
        after = [True] * net.n_populations
        for layer in range(len(net.layers)):
            rates.append(p * n * net.layer_fractions[layer] * net.external_rates()[layer])
            charges.append(net.external_weights[a, layer] / self.sqrt_n)
            taus.append(net.external_tau_ms)
            after.append(False)
        return InputNoise(np.array(rates), np.array(charges), np.array(taus, dtype=float),
                          np.array(after), float(self._shared[a]), float(self._shared_tau[a]))

    def _refresh_transfer(self, class_weights, mean_rates, centre) -> None:
        """Re-measure φ_a where the input noise moved by more than NOISE_REFRESH."""
        for a in range(self.network.n_populations):
            noise = self._noise(a, class_weights, mean_rates)
            sd = math.sqrt(noise.membrane_variance(self.membrane.tau_m_ms))
            table = self._transfer[a]
            grid_ok = table is not None and (
                table.mean_input_mv_per_ms[0] + 0.8 < centre[a] < table.mean_input_mv_per_ms[-1] - 0.8)
            if table is not None and grid_ok and abs(sd / self._noise_sd[a] - 1) < NOISE_REFRESH:
                continue
            grid = centre[a] + np.linspace(-_GRID_HALF_WIDTH_MV_PER_MS, _GRID_HALF_WIDTH_MV_PER_MS, 41)
            self._transfer[a] = TransferFunction.measure(
                self.membrane, noise, grid, duration_ms=1000.0 * self.transfer_seconds,
                seed=1000 + a)
            self._noise_sd[a] = sd
            self.transfer_measurements += 1

    # ------------------------------------------------------------------ rates
    def _class_inputs(self, class_weights, class_rates, quenched_sd):
        net = self.network
        wr = self._weighted_rates(class_weights, class_rates)     # (post, pre, class)
        wr_pop = wr.mean(axis=2)
        scale = self.sqrt_n * net.connection_probability * net.fractions * self.charge_factor
        external = self.sqrt_n * net.external_matrix() @ net.external_rates()
        mean_input = wr_pop @ scale + external
        deviation = np.einsum("abm,b->am", wr - wr_pop[:, :, None], scale)
        inputs = mean_input[:, None] + quenched_sd[:, None] * self.z[None, :] + deviation
        return mean_input, inputs

    def solve_rates(self, class_weights, guess: ClassState | None = None,
                    refresh: bool = True) -> ClassState:
        """Self-consistent class rates at given class weights.

        Raises
        ------
        NoBalancedStateError
            When no self-consistent state with finite rates is found.
        """
        net = self.network
        k = self.n_classes
        if guess is None:
            try:
                r0 = net.balanced_rates(self.block_means(class_weights))
            except NoBalancedStateError:
                r0 = np.array([0.005, 0.015])
            class_rates = np.repeat(r0[:, None], k, axis=1)
            quenched = self._quenched_sd(class_weights, class_rates)
            centre = np.array([0.3, 0.3])
        else:
            class_rates = guess.class_rates.copy()
            quenched = guess.quenched_sd.copy()
            centre = guess.mean_input
        for outer in range(4 if guess is None else 1):
            if refresh or self._transfer[0] is None:
                self._refresh_transfer(class_weights, class_rates.mean(axis=1), centre)
            phis = self._transfer

            def residual(log_rates):
                rates = np.exp(log_rates.reshape(net.n_populations, k))
                _, inputs = self._class_inputs(class_weights, rates, quenched)
                out = np.empty_like(rates)
                for a in range(net.n_populations):
                    out[a] = phis[a](inputs[a])
                return (np.log(np.maximum(out, 1e-300)) - np.log(rates)).ravel()

            x0 = np.log(np.maximum(class_rates, 1e-12)).ravel()
            sol = optimize.root(residual, x0, method="hybr", options={"xtol": 1e-10})
            if not sol.success or np.max(np.abs(residual(sol.x))) > 1e-5:
                sol = optimize.root(residual, x0, method="lm", options={"xtol": 1e-12})
            class_rates = np.exp(sol.x.reshape(net.n_populations, k))
            if (not np.all(np.isfinite(sol.x)) or np.max(np.abs(residual(sol.x))) > 1e-4
                    or np.any(class_rates > 0.5)):
                raise NoBalancedStateError(
                    "no self-consistent finite-size rates (the balanced state is lost)")
            mean_input, inputs = self._class_inputs(class_weights, class_rates, quenched)
            quenched = self._quenched_sd(class_weights, class_rates)
            centre = mean_input
        mean_input, inputs = self._class_inputs(class_weights, class_rates, quenched)
        state = ClassState(class_rates, class_rates.mean(axis=1), class_rates.std(axis=1),
                           mean_input, quenched, inputs)
        self.last_state = state
        return state

    def population_gains(self, state: ClassState) -> np.ndarray:
        """L_a = dΦ_a/dū: population-rate gain (kHz per mV/ms) over the classes."""
        h = 1e-3
        return np.array([(np.mean(phi(state.class_inputs[a] + h))
                          - np.mean(phi(state.class_inputs[a] - h))) / (2 * h)
                         for a, phi in enumerate(self._transfer)])

    def _input_transfer(self, class_weights, state: ClassState, omega):
        """T(ω) = (I − √N W̃ L)⁻¹ √N W̃_x (n_omega, n_pop, n_layers) and the gains L."""
        net = self.network
        weights = self.block_means(class_weights)
        gains = np.maximum(self.population_gains(state), 1e-9)
        w = (net.recurrent_matrix(weights) * self.charge_factor[None, :])[None] \
            * synaptic_filter(omega, net.synaptic_tau_ms)[:, None, :]
        wx = net.external_matrix()[None] * synaptic_filter(omega, net.external_tau_ms)[:, None, :]
        system = np.eye(net.n_populations)[None] - self.sqrt_n * w * gains[None, None, :]
        return np.linalg.solve(system, self.sqrt_n * wx), gains

    def input_spectrum(self, class_weights, state: ClassState, omega):
        """Shared-input spectrum per population at finite N (module docstring).

        The population mean inputs obey δu = √N (W̃ δr + W̃_x δr_x) with δr = L δu (static
        gains L), so δu = (I − √N W̃ L)⁻¹ √N W̃_x δr_x: balance cancels the correlated
        external input only up to the finite gain. Returns the spectra (n_omega, n_pop)
        of δu (mV²/ms) and of the population rates L² |δu|² (kHz).
        """
        net = self.network
        transfer, gains = self._input_transfer(class_weights, state, omega)
        cx = external_cross_spectrum(omega, net.correlation, net.external_rates(),
                                     net.jitter_ms)
        input_spectrum = np.real(np.einsum("wal,wl,wal->wa", transfer, cx, transfer.conj()))
        return input_spectrum, input_spectrum * gains[None, :] ** 2

    def update_shared_noise(self, class_weights, state: ClassState) -> None:
        """Input variance from input correlations (c > 0), module docstring."""
        net = self.network
        if net.correlation <= 0:
            return
        weights = self.block_means(class_weights)
        p = net.connection_probability
        omega = np.linspace(0.0, 3.0, 3001)        # rad/ms; the jitter Gaussian ends ≈ 0.5
        shared_all, rate_spectrum = self.input_spectrum(class_weights, state, omega)
        external = external_cross_spectrum(omega, net.correlation, net.external_rates(),
                                           net.jitter_ms)
        filters = np.abs(synaptic_filter(omega, net.synaptic_tau_ms)) ** 2
        x_filter = np.abs(synaptic_filter(omega, net.external_tau_ms)) ** 2
        for a in range(net.n_populations):
            shared = shared_all[:, a].copy()
            # a neuron's in-degrees differ from the mean ones (Binomial), so its share of
            # each population's common fluctuation is not cancelled: variance
            # Σ_b (1 − p) p q_b j_ab² |η̃_b|² C̃_bb(ω) [derived here]
            j_eff = weights[a] * self.charge_factor
            shared += (1 - p) * p * np.sum(
                net.fractions * j_eff ** 2 * filters * rate_spectrum, axis=1)
            shared += (1 - p) * p * np.sum(
                net.layer_fractions * net.external_weights[a] ** 2 * x_filter * external,
                axis=1)
            variance = np.trapezoid(shared, omega) / math.pi
            self._shared[a] = variance
            self._shared_tau[a] = max(shared[0] / (2.0 * variance), self.membrane.dt_ms)

    # ------------------------------------------------------------------ dynamics
    def class_drift(self, class_weights, state: ClassState, kernels) -> list[np.ndarray]:
        """dw/dt (mV/ms) of every class weight, from each rule's one description."""
        k_plus, k_minus = kernels
        out = []
        for w, blk in zip(class_weights, self.blocks):
            r_post = state.class_rates[blk.post][:, None]
            r_pre = state.class_rates[blk.pre][None, :]
            share = r_post * r_pre / (state.mean_rates[blk.post] * state.mean_rates[blk.pre])
            drift = blk.rule.mean_drift(w, r_post, r_pre, self.network.tau_stdp_ms,
                                        self.network.n_neurons,
                                        k_plus=k_plus[blk.post, blk.pre] * share,
                                        k_minus=k_minus[blk.post, blk.pre] * share)
            out.append(np.broadcast_to(drift, w.shape).copy())
        return out

    def kernels(self, class_weights, state: ClassState):
        """(K⁺, K⁻) population matrices (kHz): spec §6.3 at the current mean weights.

        The leading-order cross-spectrum is kept (zero at c = 0, as in the paper): the
        finite-gain response of :meth:`input_spectrum` would lower the rate covariances,
        while the simulated count covariances at N ≥ 2000 lie at or above the
        leading-order ones (fig S2, S3), and it moved the c = 0.5 iSTDP rate away
        from the simulation (+7.6 % instead of +3.4 %).
        """
        net = self.network
        if net.correlation <= 0:
            zero = np.zeros((net.n_populations,) * 2)
            return zero, zero
        _, k_plus, k_minus = network_kernel_integrals(net, self.block_means(class_weights))
        return k_plus, k_minus

    def trajectory(self, times_ms: np.ndarray) -> dict:
        """Class weights and rates on a time grid (RK2 with rates slaved to the weights).

        The integrator takes its own steps (at most 10 % of the fastest class relaxation
        time) and the results are interpolated linearly onto ``times_ms``.

        Returns
        -------
        dict
            ``weights`` (n_time, n_blocks) block means, ``rates`` and ``rate_sd``
            (n_time, n_pop), ``class_weights`` and ``state`` at the last time reached,
            ``balance_lost_ms`` (NaN if never).
        """
        times_ms = np.asarray(times_ms, dtype=float)
        weights = self.initial_class_weights()
        state = self.solve_rates(weights)
        if self.network.correlation > 0:
            self.update_shared_noise(weights, state)
            self._transfer = [None] * self.network.n_populations   # φ changes with it
            state = self.solve_rates(weights)
        samples_t, samples_w, samples_r, samples_sd = [0.0], [], [], []

        def sample():
            samples_w.append([w.mean() for w in weights])
            samples_r.append(state.mean_rates.copy())
            samples_sd.append(state.rate_sd.copy())

        sample()
        lost = math.nan
        t, end = 0.0, float(times_ms[-1]) if times_ms.size else 0.0
        refresh_at = 0
        while t < end - 1e-9 and self.blocks:
            try:
                h = min(self._step_size(weights, state, end), end - t)
                weights, state, h = self._advance(weights, state, h)
                t += h
                refresh_at += 1
                if self.network.correlation > 0 and refresh_at % 20 == 0:
                    self.update_shared_noise(weights, state)
            except NoBalancedStateError:
                lost = t
                break
            samples_t.append(t)
            sample()
        st = np.asarray(samples_t)
        sw = np.asarray(samples_w).reshape(st.size, len(self.blocks))
        sr, ssd = np.asarray(samples_r), np.asarray(samples_sd)

        def on_grid(values):
            out = np.stack([np.interp(times_ms, st, values[:, k]) for k in range(values.shape[1])],
                           axis=1) if values.shape[1] else np.empty((times_ms.size, 0))
            if math.isfinite(lost):
                out[times_ms > lost] = np.nan
            return out

        return {"weights": on_grid(sw), "rates": on_grid(sr), "rate_sd": on_grid(ssd),
                "class_weights": weights, "state": state, "balance_lost_ms": lost}

    def fixed_point(self, class_weights, state: ClassState, iterations: int = 60,
                    tolerance: float = 1e-5):
        """Stationary class weights, from the end of a trajectory.

        Every rule is affine in the weight at fixed rates (spec §4.2), so each class's
        drift is α + β w. Where that has a restoring root of its own (β < 0 and a root
        w* = −α/β ≠ 0: Kohonen, soft-bound Hebbian, Oja), classes take damped Newton
        steps (0.8 of the way, at most 20 % per sweep) towards it, with the rates re-solved after each
        sweep. Multiplicative homeostatic rules (iSTDP: root w = 0 at fixed rates; the
        fixed point is set by the rates reaching the target) and rules without a
        restoring drift (classical Hebbian) keep the trajectory's end.

        Returns
        -------
        class_weights, state, converged : list, ClassState, bool
        """
        weights = [w.copy() for w in class_weights]
        converged = False
        for _ in range(iterations):
            kern = self.kernels(weights, state)
            drift = self.class_drift(weights, state, kern)
            shifted = self.class_drift([w + 1.0 for w in weights], state, kern)
            change = 0.0
            for index, (w, d, d1) in enumerate(zip(weights, drift, shifted)):
                beta = d1 - d
                restoring = beta < 0
                root = w - d / np.where(restoring, beta, -1.0)
                if not np.any(restoring) or np.all(
                        np.abs(root[restoring]) < 1e-6 * np.max(np.abs(w))):
                    continue                 # no own root: homeostatic or neutral rule
                limit = 0.2 * np.maximum(np.abs(w), 1.0)
                step = np.where(restoring, np.clip(0.8 * (root - w), -limit, limit), 0.0)
                weights[index] = self._clip(w + step, self.blocks[index])
                change = max(change, float(np.max(np.abs(step) / np.maximum(np.abs(w), 1.0))))
            state = self.solve_rates(weights, state)
            if change < tolerance:
                converged = True
                break
        return weights, state, converged

    def _clip(self, w, blk):
        """Hard bounds of rules with gates (bounded Hebbian) keep the weights inside."""
        lo, hi = blk.rule.post_gate
        if math.isfinite(lo) or math.isfinite(hi):
            return np.clip(w, lo if math.isfinite(lo) else -np.inf, hi if math.isfinite(hi) else np.inf)
        return w

    def settle(self, class_weights, state: ClassState, max_time_ms: float,
               tolerance: float = 1e-6):
        """Continue the dynamics until the class weights stop moving (or ``max_time_ms``).

        For rules whose fixed point is set through the rates (iSTDP's manifold), this is
        how the fixed point is found: the point reached from the trajectory's end.

        Returns
        -------
        class_weights, state
        """
        weights, t = class_weights, 0.0
        while t < max_time_ms:
            h = self._step_size(weights, state, max_time_ms)
            new, state, h = self._advance(weights, state, h)
            change = max(float(np.max(np.abs(n - w) / np.maximum(np.abs(w), 1.0)))
                         for n, w in zip(new, weights))
            weights, t = new, t + h
            if change < tolerance:
                break
        return weights, state

    def _advance(self, weights, state, h, min_step_ms: float = 1.0):
        """One exponential midpoint step of length ≤ h; the step is halved while the rates
        at its end have no self-consistent solution (the φ tables of one step are fixed),
        and NoBalancedStateError is raised only below ``min_step_ms``.

        Returns
        -------
        class_weights, state, h_taken
        """
        while True:
            try:
                kern = self.kernels(weights, state)
                mid = self._exponential_step(weights, state, kern, 0.5 * h, weights)
                mid_state = self.solve_rates(mid, state, refresh=False)
                new = self._exponential_step(mid, mid_state, kern, h, weights)
                return new, self.solve_rates(new, state), h
            except NoBalancedStateError:
                if h <= min_step_ms:
                    raise
                h = max(0.5 * h, min_step_ms)

    def _exponential_step(self, at, state, kernels, h, start):
        """Advance ``start`` by h with the drift α + β w linearised at ``at``.

        w(h) = w + (α + β w) h φ₁(β h), φ₁(x) = (eˣ − 1)/x: the exact solution of the
        affine class drift at frozen rates (every rule is affine in w, spec §4.2).
        """
        drift = self.class_drift(at, state, kernels)
        shifted = self.class_drift([w + 1.0 for w in at], state, kernels)
        out = []
        for w_at, w0, d, d1, blk in zip(at, start, drift, shifted, self.blocks):
            beta = d1 - d
            rate = d + beta * (w0 - w_at)                 # drift at the start point
            x = beta * h
            small = np.abs(x) < 1e-8
            phi = np.where(small, 1.0 + 0.5 * x, np.expm1(x) / np.where(small, 1.0, x))
            out.append(self._clip(w0 + rate * h * phi, blk))
        return out

    def _step_size(self, weights, state, duration_ms: float) -> float:
        """Step: 10 % of the time in which the fastest class weight moves by its size,
        between duration/400 and 5 s (the exponential step is stable at any length)."""
        kern = self.kernels(weights, state)
        drift = self.class_drift(weights, state, kern)
        speed = 1e-12
        for w, d in zip(weights, drift):
            speed = max(speed, float(np.max(np.abs(d) / np.maximum(np.abs(w), 1.0))))
        return float(min(max(0.1 / speed, duration_ms / 400.0), 5000.0))
