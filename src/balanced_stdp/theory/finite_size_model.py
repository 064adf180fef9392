"""Finite-size theory, part 2: class weights in time, fixed points and where balance is lost.

A second theory order beyond the paper (issues 12, 19; spec §11 pointers, all checked
here). The leading-order theory (spec §6) fixes the population rates by exact
cancellation of the O(√N) inputs and uses one rate per population. At N = 1000–15000
three effects it leaves out decide what a simulation shows:

1. **Net input.** A neuron firing at r needs a mean input u = φ⁻¹(r) of order one; the
   rates solve ū_a(r) = Φ_a⁻¹(r̄_a) instead of ū = 0 (recurrent charges J(1 − dt/τ_b)
   as the Euler scheme integrates them, :func:`~.transfer.effective_charge_factors`).
2. **Rate heterogeneity.** Bernoulli in-degrees and unequal presynaptic rates give every
   neuron its own mean input ū_a + σ_a z, z ~ N(0, 1), with σ_a self-consistent with
   the rate distribution it produces; φ_a is the model neuron's transfer function under
   the population's synaptic shot noise (:mod:`.transfer_table`). The heterogeneity is
   O(1) at every N, so it does not vanish at large N.
3. **Weights over the rate distribution.** Each population is represented by
   ``n_classes`` neuron classes at equal-probability quantiles of the quenched input
   (:mod:`.finite_size_network`). A plastic block is a class matrix w[m, n] evolving by
   the rule's mean drift (:meth:`RuleDescription.mean_drift`) at the class rates; the
   weights feed back on each class's input through ⟨w r⟩_m, so the population input
   includes the rate–weight covariance of spec §6.7. For Kohonen's rule, whose weights
   track the *presynaptic* rate, that covariance is Cov(w, r) ≈ β₀ τ Var(r) and enters
   the balance at O(√N): it is why the simulated network runs away at β₀ ≈ 3.6 (N = 5000)
   while the leading order is stable up to its saddle-node at 8.04.

Stability verdict. The trajectory stops where the class rates have no self-consistent
balanced solution (a fold of the rate equations, or mean rates above 100 Hz:
:class:`~.finite_size_network.BalanceLost`); the time and the classes that leave (the
largest components of the critical mode of the rate Jacobian at the last balanced
state, or the classes the failed solve drove up) are reported. The fixed point is the
end of the dynamics continued for up to ``FIXED_POINT_SEARCH_IN_T`` run durations (then
Newton sweeps for rules with a restoring root); if the balanced state is lost on the
way, there is no finite-size fixed point.

Correlations (c > 0). The K⁺/K⁻ terms of spec §6.3 at the current mean weights are
shared over the classes ∝ r_post r_pre. Input correlations also raise every neuron's
input variance [derived here]: (i) balance cancels the correlated external input only up
to the finite population gains L_a = dΦ_a/dū, so the population inputs keep a
fluctuation δu = (I − √N W̃(ω) L)⁻¹ √N W̃_x(ω) δr_x; (ii) a neuron's Binomial in-degrees
differ from the mean ones, so its share of each population's common fluctuation is not
cancelled: Σ_b (1 − p) p q_b j_ab² |η̃_b|² C̃_bb(ω). That Gaussian current enters the
transfer function through its variance and correlation time.

The opposite c-trend of the spec's Δ-corrected iSTDP theory (issue 12) is an artefact
of that correction: Δ contains the net input μ the E cells need to fire and makes
balance cancel it (a bias −W⁻¹μ/√N ≈ −25 mV at N = 2000 that shrinks with c). Here the
net input is φ⁻¹(r), required rather than cancelled; the trend has the simulated sign.

Three populations (optogenetics). E1, E2 and I each get their classes; the laser layer
X2 drives E1 on its window (the trajectory is integrated piecewise over the laser
epochs), adding its shot noise to E1's input. No regularisation is needed: the E1−E2
difference is fixed by their own transfer functions.

No quantity is fitted to simulations: the inputs are the run config only. The datasets
of the theory are :mod:`.finite_size_prediction`.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from .finite_size_network import (DEFAULT_CLASSES, BalanceLost, ClassState,
                                  FiniteSizeNetwork)
from .mean_field_network import NoBalancedStateError

QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)
"""Quantiles of the predicted rate and final weight distributions."""

SHARED_NOISE_EVERY = 20
"""Integration steps between updates of the correlated-input noise (c > 0)."""

STEP_TOLERANCE = 1e-3
"""Largest relative difference per step between the midpoint and the embedded Euler
weights (:meth:`FiniteSizeModel._advance`)."""

MAX_STEP_MS = 5000.0
"""Longest integration step."""

MAX_STEPS = 20000
"""Integration steps after which settling stops (the weights still creep)."""

__all__ = ["QUANTILES", "DEFAULT_CLASSES", "FiniteSizeModel", "ClassState", "BalanceLost",
           "LossReport", "FiniteSizeUnsupported"]


class FiniteSizeUnsupported(ValueError):
    """The finite-size theory does not cover this network (the message says why)."""


@dataclasses.dataclass
class LossReport:
    """Where and why the finite-size balanced state is lost.

    Attributes
    ----------
    time_ms : float
        Model time of the last balanced state (NaN if never lost).
    reason : str
    classes : dict
        Population label → indices of the classes that leave (0 = lowest quenched input).
    """

    time_ms: float = math.nan
    reason: str = ""
    classes: dict = dataclasses.field(default_factory=dict)

    @property
    def lost(self) -> bool:
        return math.isfinite(self.time_ms)

    def describe_classes(self, n_classes: int) -> str:
        """E.g. ``E classes 13–16 of 16, I classes 16 of 16`` (1-based, by input)."""
        parts = []
        for name, index in self.classes.items():
            index = sorted(int(i) + 1 for i in index)
            if not index:
                continue
            text = f"{index[0]}–{index[-1]}" if len(index) > 1 and \
                index[-1] - index[0] == len(index) - 1 else ", ".join(map(str, index))
            parts.append(f"{name} classes {text} of {n_classes}")
        return "; ".join(parts)


class FiniteSizeModel(FiniteSizeNetwork):
    """Class-resolved finite-size weight dynamics of one run config (module docstring);
    parameters as :class:`.finite_size_network.FiniteSizeNetwork`."""

    def __init__(self, config: dict, n_classes: int = DEFAULT_CLASSES,
                 shot_correction: bool = True):
        super().__init__(config, n_classes, shot_correction)
        self._next_step: float | None = None

    # ------------------------------------------------------------------ drift
    def drift_coefficients(self, state: ClassState, kernels) -> list[tuple]:
        """(α, β) per plastic block: dw/dt = α + β w (mV/ms) for every class weight at the
        class rates (every rule is affine in the weight, spec §4.2)."""
        k_plus, k_minus = kernels
        out = []
        for blk in self.blocks:
            r_post = state.class_rates[blk.post][:, None]
            r_pre = state.class_rates[blk.pre][None, :]
            share = r_post * r_pre / (state.mean_rates[blk.post] * state.mean_rates[blk.pre])
            args = (r_post, r_pre, self.network.tau_stdp_ms, self.network.n_neurons)
            kw = {"k_plus": k_plus[blk.post, blk.pre] * share,
                  "k_minus": k_minus[blk.post, blk.pre] * share}
            alpha = blk.rule.mean_drift(0.0, *args, **kw)
            beta = blk.rule.mean_drift(1.0, *args, **kw) - alpha
            shape = (self.n_classes, self.n_classes)
            out.append((np.broadcast_to(alpha, shape), np.broadcast_to(beta, shape)))
        return out

    def class_drift(self, class_weights, state: ClassState, kernels) -> list[np.ndarray]:
        """dw/dt (mV/ms) of every class weight."""
        return [alpha + beta * w for w, (alpha, beta)
                in zip(class_weights, self.drift_coefficients(state, kernels))]

    def _clip(self, w, blk):
        """Hard bounds of rules with gates (bounded Hebbian) keep the weights inside."""
        lo, hi = blk.rule.post_gate
        if math.isfinite(lo) or math.isfinite(hi):
            return np.clip(w, lo if math.isfinite(lo) else -np.inf,
                           hi if math.isfinite(hi) else np.inf)
        return w

    def _exponential_step(self, coefficients, h, start):
        """w(h) = w + (α + β w) h φ₁(β h), φ₁(x) = (eˣ − 1)/x: exact for the affine drift
        at frozen rates, so fast classes never make the step unstable."""
        out = []
        for w0, (alpha, beta), blk in zip(start, coefficients, self.blocks):
            x = beta * h
            small = np.abs(x) < 1e-8
            phi = np.where(small, 1.0 + 0.5 * x, np.expm1(x) / np.where(small, 1.0, x))
            out.append(self._clip(w0 + (alpha + beta * w0) * h * phi, blk))
        return out

    def _first_step(self, weights, coefficients) -> float:
        """10 % of the time in which the fastest class weight moves by its size (≤ 5 s)."""
        speed = 1e-12
        for w, (alpha, beta) in zip(weights, coefficients):
            speed = max(speed, float(np.max(np.abs(alpha + beta * w) / np.maximum(np.abs(w), 1.0))))
        return float(min(0.1 / speed, MAX_STEP_MS))

    def _advance(self, weights, state, h_max, min_step_ms: float = 1.0):
        """One exponential midpoint step of length ≤ h_max with error control.

        The exponential Euler step from the same start is the embedded lower-order
        estimate: a step whose weights differ from it by more than ``STEP_TOLERANCE``
        (relative, per class) is retried shorter, and the next step is sized from the
        error (the rates slaved to the weights make the dynamics stiff near homeostatic
        fixed points; the control keeps the step inside its stability range). A step
        whose rates have no solution is halved; BalanceLost below ``min_step_ms``.

        Returns (class_weights, state, h_taken).
        """
        kernels = self.kernels(weights)
        coefficients = self.drift_coefficients(state, kernels)
        h = self._next_step or self._first_step(weights, coefficients)
        h = max(min(h, h_max, MAX_STEP_MS), min(min_step_ms, h_max))
        while True:
            try:
                mid = self._exponential_step(coefficients, 0.5 * h, weights)
                mid_state = self.solve_rates(mid, state, refresh=False)
                # the drift linearised at the midpoint, applied from the start
                new = self._exponential_step(self.drift_coefficients(mid_state, kernels), h,
                                             weights)
                euler = self._exponential_step(coefficients, h, weights)
                error = max((float(np.max(np.abs(n - e) / np.maximum(np.abs(n), 1.0)))
                             for n, e in zip(new, euler)), default=0.0)
                factor = 0.9 * math.sqrt(STEP_TOLERANCE / max(error, 1e-300))
                if error > STEP_TOLERANCE and h > min_step_ms:
                    h = max(h * max(factor, 0.2), min_step_ms)
                    continue
                new_state = self.solve_rates(new, mid_state)
                self._next_step = h * min(factor, 2.0)
                return new, new_state, h
            except BalanceLost:
                if h <= min_step_ms:
                    raise
                h = max(0.5 * h, min_step_ms)

    # ------------------------------------------------------------------ trajectory
    def _switch_laser(self, on: bool, weights, state):
        """Turn the optogenetic layer on or off and re-solve the rates (a jump)."""
        if on == self.laser_on:
            return state
        self.laser_on = on
        return self.solve_rates(weights, state)

    def _loss(self, error: BalanceLost, state: ClassState, t: float) -> LossReport:
        """The loss at time t: classes from the failed solve, else the critical mode of
        the last balanced state."""
        classes = {name: idx for name, idx in error.classes.items() if len(idx)}
        if not classes:
            mode, _ = state.critical_mode()
            for a, name in enumerate(self.network.populations):
                idx = np.flatnonzero(mode[a] > 0.5)
                if idx.size:
                    classes[name] = idx
        return LossReport(t, str(error), classes)

    def trajectory(self, times_ms: np.ndarray) -> dict:
        """Class weights and rates on a time grid (rates slaved to the weights).

        The integrator takes its own steps (:meth:`_advance`) and the results are
        interpolated linearly onto ``times_ms``; the laser epochs are integrated piecewise.

        Returns
        -------
        dict
            ``weights`` (n_time, n_blocks) block means, ``rates``, ``rate_sd`` (n_time,
            n_pop), ``class_weights`` and ``state`` at the last time reached, ``loss``
            (:class:`LossReport`), ``balance_lost_ms`` (NaN if never).
        """
        times_ms = np.asarray(times_ms, dtype=float)
        end = float(times_ms[-1]) if times_ms.size else 0.0
        self.laser_on = self.network.laser_on_at(0.0)
        self._next_step = None
        weights = self.initial_class_weights()
        state = self.solve_rates(weights)
        if self.network.correlation > 0:
            self.update_shared_noise(weights, state)
            state = self.solve_rates(weights, state)
        samples = {"t": [0.0], "w": [], "r": [], "sd": []}

        def sample(t):
            samples["w"].append([w.mean() for w in weights])
            samples["r"].append(state.mean_rates.copy())
            samples["sd"].append(state.rate_sd.copy())
            if t is not None:
                samples["t"].append(t)

        sample(None)
        breaks = sorted({t for t in (self.network.laser_window_ms or ()) if 0 < t < end})
        loss, t, steps = LossReport(), 0.0, 0
        for stop in breaks + [end]:
            while t < stop - 1e-9:
                if not self.blocks:
                    t = stop
                    sample(t)
                    break
                try:
                    weights, state, h = self._advance(weights, state, stop - t)
                except BalanceLost as error:
                    loss = self._loss(error, state, t)
                    break
                t += h
                steps += 1
                if self.network.correlation > 0 and steps % SHARED_NOISE_EVERY == 0:
                    self.update_shared_noise(weights, state)
                sample(t)
            if loss.lost or stop >= end:
                break
            try:                 # a laser switch: the rates jump (sampled just after it)
                state = self._switch_laser(self.network.laser_on_at(stop), weights, state)
                self._next_step = None
            except BalanceLost as error:
                loss = self._loss(error, state, stop)
                break
            sample(stop + 1e-6)
        st = np.asarray(samples["t"])
        n_time = st.size
        sw = np.asarray(samples["w"]).reshape(n_time, len(self.blocks))
        sr, ssd = np.asarray(samples["r"]), np.asarray(samples["sd"])

        def on_grid(values):
            if not values.shape[1]:
                return np.empty((times_ms.size, 0))
            out = np.stack([np.interp(times_ms, st, values[:, k])
                            for k in range(values.shape[1])], axis=1)
            if loss.lost:
                out[times_ms > loss.time_ms] = np.nan
            return out

        return {"weights": on_grid(sw), "rates": on_grid(sr), "rate_sd": on_grid(ssd),
                "class_weights": weights, "state": state, "loss": loss,
                "balance_lost_ms": loss.time_ms}

    # ------------------------------------------------------------------ fixed points
    def settle(self, class_weights, state: ClassState, max_time_ms: float,
               tolerance: float = 1e-6):
        """Continue the dynamics until the class weights stop moving (or ``max_time_ms``).

        For rules whose fixed point is set through the rates (iSTDP's manifold), this is
        how the fixed point is found: the point reached from the trajectory's end.

        Returns
        -------
        class_weights, state, loss : list, ClassState, LossReport
            ``loss.time_ms`` counts from the start of the settling.
        """
        weights, t = class_weights, 0.0
        for _ in range(MAX_STEPS):
            if t >= max_time_ms or not self.blocks:
                break
            try:
                new, state, h = self._advance(weights, state, max_time_ms - t)
            except BalanceLost as error:
                return weights, state, self._loss(error, state, t)
            change = max(float(np.max(np.abs(n - w) / np.maximum(np.abs(w), 1.0)))
                         for n, w in zip(new, weights))
            weights, t = new, t + h
            if change < tolerance * max(h / 1000.0, 1.0):
                break
        return weights, state, LossReport()

    def fixed_point(self, class_weights, state: ClassState, iterations: int = 60,
                    tolerance: float = 1e-5):
        """Stationary class weights, from the end of the settled dynamics.

        Each class's drift is α + β w at fixed rates. Where that has a restoring root of
        its own (β < 0 and a root w* = −α/β ≠ 0: Kohonen, soft-bound Hebbian, Oja),
        classes take damped Newton steps (0.8 of the way, at most 20 % per sweep)
        towards it, with the rates re-solved after each sweep. Multiplicative homeostatic
        rules (iSTDP: the fixed point is set by the rates reaching the target) and rules
        without a restoring drift keep the settled end.

        Returns
        -------
        class_weights, state, converged : list, ClassState, bool
        """
        weights = [w.copy() for w in class_weights]
        converged = False
        for _ in range(iterations):
            coefficients = self.drift_coefficients(state, self.kernels(weights))
            change = 0.0
            for index, (w, (alpha, beta)) in enumerate(zip(weights, coefficients)):
                restoring = beta < 0
                root = -alpha / np.where(restoring, beta, -1.0)
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

    def has_restoring_drift(self, state: ClassState) -> bool:
        """Whether the weight drift has a fixed point to relax to: False for rules whose
        mean drift vanishes identically (classical and bounded Hebbian at c = 0)."""
        coefficients = self.drift_coefficients(state, self.kernels(self.initial_class_weights()))
        scale = max((blk.rule.eta_effective(self.network.n_neurons) for blk in self.blocks),
                    default=0.0)
        return any(np.max(np.abs(alpha)) + np.max(np.abs(beta)) > 1e-13 * max(scale, 1e-300)
                   for alpha, beta in coefficients)


def solve_initial(model: FiniteSizeModel) -> ClassState:
    """The rates at the initial weights (laser as at t = 0); NoBalancedStateError if none."""
    model.laser_on = model.network.laser_on_at(0.0)
    try:
        return model.solve_rates(model.initial_class_weights())
    except BalanceLost as error:
        raise NoBalancedStateError(f"{error} at the initial weights") from None
