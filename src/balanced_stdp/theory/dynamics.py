"""Mean-field weight dynamics, fixed points, stability and bifurcations (spec §6.4–§6.9).

The plastic variables are the mean unscaled weights j̄_ab of every population block
(post a, pre b) whose synapse type has a rule in ``config['plasticity']`` — one
variable per type for two populations, and e.g. j_E1I and j_E2I for EI iSTDP in the
three-population optogenetic network. Their drift is *only* ever computed by
:meth:`balanced_stdp.plasticity.RuleDescription.mean_drift` (the single description
of each rule), with

* rates r(j̄) from the balance equations (spec §6.1, with Δ of §6.6 when given),
  re-evaluated at every evaluation of the right-hand side;
* K⁺_ab, K⁻_ab from the cross-spectrum at the current weights when c > 0 (§6.3);
* η_eff = :meth:`RuleDescription.eta_effective` (N), i.e. with the √N factor of
  §4.5, so time is the simulator's real time and no rescaling is needed.

Time is in ms and rates in kHz internally.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from scipy import integrate, optimize

from ..plasticity import RuleDescription, build_rule
from .covariance import network_kernel_integrals
from .mean_field_network import Network, NoBalancedStateError

MAX_RATE_KHZ = 1.0
"""Rates above this (1000 Hz) mean the balanced state has been lost (trajectories stop)."""


@dataclasses.dataclass(frozen=True)
class PlasticBlock:
    """One plastic mean weight: population block (post, pre) and its rule."""

    post: int
    pre: int
    label: str
    synapse: str
    rule: RuleDescription


@dataclasses.dataclass
class Trajectory:
    """Mean-field trajectory on a time grid.

    Attributes
    ----------
    time_ms : ndarray (n_time,)
    block_weights : ndarray (n_time, n_pop, n_pop)
        All block weights (plastic ones integrated, others constant); NaN after
        ``balance_lost_ms``.
    rates_khz : ndarray (n_time, n_pop)
    balance_lost_ms : float
        Time at which the balanced state was lost (NaN if never).
    """

    time_ms: np.ndarray
    block_weights: np.ndarray
    rates_khz: np.ndarray
    balance_lost_ms: float


@dataclasses.dataclass
class FixedPoint:
    """A fixed point of the weight dynamics and its linear stability.

    Attributes
    ----------
    block_weights : ndarray (n_pop, n_pop)
    rates_khz : ndarray (n_pop,)
    eigenvalues_per_ms : ndarray (n_plastic,) complex
        Eigenvalues of the Jacobian of the weight drift (rates slaved), per ms.
    label : str
        ``stable node``, ``stable focus``, ``unstable``, ``saddle``, ``neutral``,
        ``static`` (no plastic weights) or ``none`` (no fixed point found).
    """

    block_weights: np.ndarray
    rates_khz: np.ndarray
    eigenvalues_per_ms: np.ndarray
    label: str

    @property
    def stable(self) -> bool:
        return self.label.startswith("stable") or self.label == "static"


def stability_label(eigenvalues: np.ndarray, tolerance: float = 1e-12) -> str:
    """Name the linear stability of a fixed point from its Jacobian eigenvalues."""
    if eigenvalues.size == 0:
        return "static"
    re = eigenvalues.real
    scale = max(np.max(np.abs(eigenvalues)), tolerance)
    if np.all(np.abs(re) <= 1e-9 * scale) or np.max(np.abs(eigenvalues)) <= tolerance:
        return "neutral"
    if np.all(re < 0):
        oscillating = np.any(np.abs(eigenvalues.imag) > 1e-9 * scale)
        return "stable focus" if oscillating else "stable node"
    if np.all(re > 0):
        return "unstable"
    return "saddle" if np.any(re < 0) else "neutral"


class MeanFieldModel:
    """Mean-field weight dynamics of one run config.

    Parameters
    ----------
    config : dict
        Resolved run config.
    delta : ndarray (n_pop,), optional
        Finite-size correction Δ (mV/ms), in the order of ``network.populations``.
    excitatory_gain_khz_per_mv_ms : float, optional
        E f–I gain of the three-population regularisation (see :mod:`.network`).
    shared_input_kernels : bool
        Include the O(1/N) shared-input term in K (off: the authors' convention).
    """

    def __init__(self, config: dict, delta=None, excitatory_gain_khz_per_mv_ms=None,
                 shared_input_kernels: bool = False):
        self.config = config
        self.network = Network.from_config(config, excitatory_gain_khz_per_mv_ms)
        net = self.network
        self.delta = None if delta is None else np.asarray(delta, dtype=float)
        self.shared_input_kernels = shared_input_kernels
        self.n_neurons = net.n_neurons
        self.tau = net.tau_stdp_ms
        blocks = []
        for synapse, settings in config["plasticity"].items():
            rule = build_rule(synapse, settings, config["tau_stdp_ms"])
            for a in net.kind_index(synapse[0]):
                for b in net.kind_index(synapse[1]):
                    label = (net.populations[a] + net.populations[b]).lower()
                    if net.n_populations == 2:
                        label = synapse
                    blocks.append(PlasticBlock(a, b, label, synapse, rule))
        order = {"ee": 0, "ei": 1, "ie": 2, "ii": 3}
        self.blocks = sorted(blocks, key=lambda blk: (order[blk.synapse], blk.post, blk.pre))
        self._uses_kernels = net.correlation > 0 or shared_input_kernels

    # --------------------------------------------------------------- state
    @property
    def n_plastic(self) -> int:
        return len(self.blocks)

    def initial_state(self) -> np.ndarray:
        """Initial plastic weights (mV), one per plastic block."""
        return np.array([self.network.initial_weights[b.post, b.pre] for b in self.blocks])

    def block_weights(self, state) -> np.ndarray:
        """Full (n_pop, n_pop) block weight matrix for plastic weights ``state``."""
        weights = self.network.initial_weights.copy()
        for value, blk in zip(np.atleast_1d(state), self.blocks):
            weights[blk.post, blk.pre] = value
        return weights

    # --------------------------------------------------------------- drift
    def rates(self, state, laser_on: bool = False) -> np.ndarray:
        """Balanced rates (kHz) at plastic weights ``state``; raises NoBalancedStateError."""
        return self.network.balanced_rates(self.block_weights(state), self.delta, laser_on)

    def kernels(self, weights: np.ndarray, laser_on: bool = False):
        """(K, K⁺, K⁻) population matrices (kHz) at block weights ``weights``."""
        return network_kernel_integrals(self.network, weights, laser_on,
                                        shared_input=self.shared_input_kernels)

    def drift_at_rates(self, state, rates_khz, laser_on: bool = False,
                       kernels=None) -> np.ndarray:
        """dj̄/dt (mV/ms) of each plastic block at given weights and rates."""
        weights = self.block_weights(state)
        if kernels is None:
            if self._uses_kernels:
                _, k_plus, k_minus = self.kernels(weights, laser_on)
            else:
                k_plus = k_minus = np.zeros_like(weights)
        else:
            k_plus, k_minus = kernels
        out = np.empty(self.n_plastic)
        for index, blk in enumerate(self.blocks):
            out[index] = blk.rule.mean_drift(
                weights[blk.post, blk.pre], rates_khz[blk.post], rates_khz[blk.pre],
                self.tau, self.n_neurons, k_plus=k_plus[blk.post, blk.pre],
                k_minus=k_minus[blk.post, blk.pre])
        return out

    def drift(self, state, laser_on: bool = False) -> np.ndarray:
        """dj̄/dt (mV/ms) with rates (and K) re-evaluated at ``state``."""
        return self.drift_at_rates(state, self.rates(state, laser_on), laser_on)

    def jacobian(self, state, laser_on: bool = False, relative_step: float = 1e-6) -> np.ndarray:
        """Jacobian ∂(dj̄/dt)/∂j̄ (per ms) by central differences, rates slaved."""
        state = np.asarray(state, dtype=float)
        jac = np.empty((self.n_plastic, self.n_plastic))
        for k in range(self.n_plastic):
            h = relative_step * max(1.0, abs(state[k]))
            up, down = state.copy(), state.copy()
            up[k] += h
            down[k] -= h
            jac[:, k] = (self.drift(up, laser_on) - self.drift(down, laser_on)) / (2 * h)
        return jac

    # ---------------------------------------------------------- trajectory
    def _rate_margin(self, state, laser_on: bool) -> float:
        """> 0 while a positive balanced state with bounded rates exists."""
        weights = self.block_weights(state)
        rates = self.network.rates_unchecked(weights, self.delta, laser_on)
        if self.network.balance_problem(weights, self.delta, laser_on, rates):
            finite = rates[np.isfinite(rates)]
            return float(min(finite.min(), -1e-12)) if finite.size else -1.0
        return float(min(self.network.positivity_margin(rates), MAX_RATE_KHZ - rates.max()))

    def trajectory(self, time_ms: np.ndarray, state0=None, rtol: float = 1e-8) -> Trajectory:
        """Integrate the weight ODE and report weights and rates on ``time_ms``.

        The right-hand side re-evaluates rates (and K when c > 0) at every call;
        integration is adaptive RK45 (``scipy.integrate.solve_ivp``), piecewise over the
        laser epochs. If the balanced state is lost (a rate reaches 0 or 1000 Hz, or no
        balanced solution exists) integration stops and later values are NaN.

        Parameters
        ----------
        time_ms : ndarray
            Output times (ms), increasing, > 0 (the simulator's record grid).
        state0 : ndarray, optional
            Initial plastic weights (mV); the config's by default.
        """
        time_ms = np.asarray(time_ms, dtype=float)
        state = self.initial_state() if state0 is None else np.asarray(state0, dtype=float)
        n_pop = self.network.n_populations
        weights_out = np.full((time_ms.size, n_pop, n_pop), np.nan)
        rates_out = np.full((time_ms.size, n_pop), np.nan)
        breaks = [0.0]
        if self.network.laser_window_ms is not None:
            breaks += [t for t in self.network.laser_window_ms if 0 < t < time_ms[-1]]
        breaks.append(max(float(time_ms[-1]), 0.0))
        lost = math.nan
        for seg_start, seg_stop in zip(breaks[:-1], breaks[1:]):
            if seg_stop <= seg_start:
                continue
            laser_on = self.network.laser_on_at(seg_start)
            # a record at a laser switch time belongs to the epoch that ends there
            mask = (time_ms > seg_start) & (time_ms <= seg_stop)
            if self._rate_margin(state, laser_on) <= 0:
                lost = seg_start
                break
            if self.n_plastic == 0:
                self._fill(weights_out, rates_out, np.flatnonzero(mask),
                           np.tile(state, (int(mask.sum()), 1)), laser_on)
                continue
            event = lambda t, y, on=laser_on: self._rate_margin(y, on)  # noqa: E731
            event.terminal = True
            event.direction = -1
            solution = integrate.solve_ivp(
                lambda t, y, on=laser_on: self._safe_drift(y, on), (seg_start, seg_stop), state,
                method="RK45", events=event, rtol=rtol,
                atol=1e-10 * np.maximum(np.abs(state), 1.0), dense_output=True)
            if solution.status < 0:
                raise RuntimeError(f"mean-field integration failed: {solution.message}")
            t_end = solution.t[-1]
            idx = np.flatnonzero(mask & (time_ms <= t_end))
            if idx.size:
                self._fill(weights_out, rates_out, idx, solution.sol(time_ms[idx]).T, laser_on)
            if solution.status == 1:   # terminal event: balance lost
                lost = float(t_end)
                break
            state = solution.y[:, -1]
        return Trajectory(time_ms, weights_out, rates_out, lost)

    def _safe_drift(self, state, laser_on):
        """Drift with unchecked rates: the terminal event stops integration at balance loss."""
        weights = self.block_weights(state)
        rates = self.network.rates_unchecked(weights, self.delta, laser_on)
        if not np.all(np.isfinite(rates)):
            return np.zeros(self.n_plastic)
        return self.drift_at_rates(state, rates, laser_on)

    def _fill(self, weights_out, rates_out, index, states, laser_on):
        for i, st in zip(index, states):
            w = self.block_weights(st)
            weights_out[i] = w
            rates_out[i] = self.network.rates_unchecked(w, self.delta, laser_on)

    # ---------------------------------------------------------- fixed points
    def _is_degenerate(self, state, laser_on) -> bool:
        """True if the drift vanishes identically (e.g. classical Hebbian: K⁺ = K⁻)."""
        base = np.asarray(state, dtype=float)
        probes = [base, base * 1.1 + 0.5, base * 0.9 - 0.5]
        evaluated = False
        for probe in probes:
            try:
                d = self.drift(probe, laser_on)
            except NoBalancedStateError:
                continue
            evaluated = True
            etas = np.array([max(b.rule.eta_effective(self.n_neurons), 1e-300)
                             for b in self.blocks])
            if np.any(np.abs(d) / etas > 1e-13):
                return False
        return evaluated          # no balanced probe: nothing shows a vanishing drift

    def fixed_point(self, guesses=(), laser_on: bool = False) -> FixedPoint:
        """Find a fixed point of the plastic weights and its linear stability.

        Solves the balance rows and the drift equations jointly for (rates, plastic
        weights) — this stays well posed where W is singular (three populations,
        j_E1I = j_E2I; spec §6.10) — from each guess in turn (plastic-weight vectors,
        then the initial weights) and returns the first root with positive, finite
        rates. The Jacobian of the weight drift (rates slaved) gives the eigenvalues.

        Returns
        -------
        FixedPoint
            ``label == "none"`` with NaN values if no root is found, ``"neutral"``
            with the initial weights if the drift vanishes identically.
        """
        n_pop = self.network.n_populations
        if self.n_plastic == 0:
            weights = self.network.initial_weights
            rates = self.network.balanced_rates(weights, self.delta, laser_on)
            return FixedPoint(weights, rates, np.zeros(0, complex), "static")
        candidates = [np.asarray(g, dtype=float) for g in guesses if g is not None
                      and np.all(np.isfinite(g))]
        candidates.append(self.initial_state())
        # rescaled initial weights as fallbacks: the initial state may admit no balanced
        # solution (e.g. j_ei(0) = −55 in the iSTDP sweep) while the fixed point does
        candidates += [factor * self.initial_state() for factor in (2.0, 1.5, 0.5, 3.0)]
        if self._is_degenerate(candidates[0], laser_on):
            state = candidates[0]
            rates = self.rates(state, laser_on)
            return FixedPoint(self.block_weights(state), rates,
                              np.zeros(self.n_plastic, complex), "neutral")
        etas = np.array([b.rule.eta_effective(self.n_neurons) or 1.0 for b in self.blocks])
        drive = self.network.external_drive(laser_on) + (0 if self.delta is None else self.delta)

        def equations(x):
            rates = x[:n_pop] / 1000.0          # unknowns in Hz for conditioning
            state = x[n_pop:]
            weights = self.block_weights(state)
            balance = self.network.recurrent_matrix(weights) @ rates + drive
            if self._uses_kernels:
                _, k_plus, k_minus = self.kernels(weights, laser_on)
                drift = self.drift_at_rates(state, rates, laser_on, (k_plus, k_minus))
            else:
                drift = self.drift_at_rates(state, rates, laser_on)
            # balance rows ×1000 (mV/ms per √N → ~O(1)); drift per unit η_eff, ×1e4
            return np.concatenate([1000.0 * balance, 1e4 * drift / etas])

        for guess in candidates:
            start_rates = self.network.rates_unchecked(self.block_weights(guess), self.delta,
                                                       laser_on)
            if not np.all(np.isfinite(start_rates)):
                start_rates = np.full(n_pop, 0.01)
            x0 = np.concatenate([1000.0 * np.clip(start_rates, 1e-4, 0.5), guess])
            sol = optimize.root(equations, x0, method="hybr", options={"xtol": 1e-13})
            if not sol.success:
                sol = optimize.root(equations, x0, method="lm", options={"xtol": 1e-14})
            if not sol.success or np.max(np.abs(equations(sol.x))) > 1e-7:
                continue
            rates = sol.x[:n_pop] / 1000.0
            state = sol.x[n_pop:]
            if not np.all(rates > 0) or self.network.balance_problem(
                    self.block_weights(state), self.delta, laser_on):
                continue   # e.g. the j = 0 root of a multiplicative rule
            try:
                eigenvalues = np.linalg.eigvals(self.jacobian(state, laser_on))
            except NoBalancedStateError:
                continue
            return FixedPoint(self.block_weights(state), rates, eigenvalues,
                              stability_label(eigenvalues))
        nan_w = np.full((n_pop, n_pop), np.nan)
        return FixedPoint(nan_w, np.full(n_pop, np.nan), np.full(self.n_plastic, np.nan + 0j),
                          "none")
