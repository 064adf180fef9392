"""Mean-field description of the network: populations, weight matrices, balanced rates.

The mean input to population a is √N [W r + W_x r_x]_a + O(1) (spec §6.1), with
mean-field weights w_ab = p · j_ab · q_b built from *unscaled* block weights j_ab (mV)
and population fractions q_b. Balance (cancellation of the O(√N) terms) gives
r = −W⁻¹ (W_x r_x + Δ), where Δ is the finite-size correction of spec §6.6 (zero at
leading order).

Two network layouts come from the same run config:

* **two populations** E, I with one external layer X (the default);
* **three populations** E1, E2, I with external layers X1 (to all) and X2 (the
  optogenetic "laser", to E1 only, active on [start_s, stop_s); spec §6.10), when
  ``optogenetics.enabled`` is true.

Three-population regularisation [derived here]. E1 and E2 are identical neurons
with identical inputs from E and I, so while j_E1I = j_E2I the E1 and E2 rows of W
coincide and W is singular (spec §6.10). At leading order only their *pooled*
balance is determined; their rate difference is fixed by the O(1) difference of
their mean inputs through the neurons' f–I gain g:
r_E1 − r_E2 = g · √N ([W r + W_x r_x + Δ]_E1 − [W r + W_x r_x + Δ]_E2).
We therefore solve (W − E) r = −(W_x r_x + Δ) with the rank-one matrix
E = (1/(g√N)) v uᵀ, u = (1, −1, 0), v = (q̄_E2, −q̄_E1, 0) (q̄ = fractions within E),
which keeps the pooled E row and the I row at leading order and replaces the
singular E1−E2 difference row by the gain relation. Consequences: (i) with the
laser off and equal weights the solution is exactly the two-population one; (ii)
every fixed point at which r_E1 = r_E2 (e.g. iSTDP, r_E1 = r_E2 = ρ_e) is the
leading-order fixed point whatever g is — g only shapes the transients after laser
onset and offset.

Rectification [derived here]. Right after laser onset (and offset) the linear solution
can ask an E subpopulation for a negative rate: with j_E1I = j_E2I, E1's extra drive
from X2 can only be balanced by silencing E2. Rates are non-negative, so that group is
set silent (r = 0; its net input is then negative) and the other two groups balance
alone, using their rows of W − E (continuous at the switch). The state stays balanced —
I and one E group fire — and the iSTDP drift of the silent group's inhibition (∝ −α)
weakens it until the group fires again. This lets the mean-field trajectory run through
the stimulation window and back (spec §6.10, Fig 6B).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..contract import Layout

DEFAULT_EXCITATORY_GAIN_KHZ_PER_MV_MS = 0.01
"""f–I gain dr/dμ of the E neurons (kHz per mV/ms) used to regularise the E1−E2
difference mode of the three-population model when no simulation is available.
Order of magnitude of the EIF gain at 5–10 Hz under the balanced-state input noise
(σ_V ≈ 10 mV): a few-mV/ms current change moves the rate by tens of Hz.
:func:`balanced_stdp.theory.measured_corrections.excitatory_gain` measures it from a run."""

SINGULAR_TOLERANCE = 1e-10
"""Relative smallest singular value below which a balance matrix counts as singular."""


class NoBalancedStateError(ValueError):
    """No positive balanced solution exists (spec §6.1); the message names the failing condition."""


@dataclasses.dataclass(frozen=True)
class Network:
    """Mean-field network built from a resolved run config.

    Attributes
    ----------
    layout : balanced_stdp.contract.Layout
        Groups, fractions and dataset labels (the simulator's layout too).
    populations : tuple of str
        ``("E", "I")`` or ``("E1", "E2", "I")``.
    kinds : tuple of str
        ``"e"`` or ``"i"`` per population (selects rules, weights and τ_syn).
    fractions : ndarray
        q_a = N_a / N.
    layers : tuple of str
        External layers, ``("X",)`` or ``("X1", "X2")``.
    layer_fractions : ndarray
        N_layer / N.
    layer_rates_khz : ndarray
        Rate of each layer while active (kHz).
    external_weights : ndarray (n_pop, n_layers)
        Unscaled external weights j_a,layer (mV); 0 where a layer does not project.
    initial_weights : ndarray (n_pop, n_pop)
        Unscaled recurrent block weights j_ab (post a, pre b) at t = 0 (mV).
    connection_probability, n_neurons : float, int
        p and N.
    synaptic_tau_ms : ndarray
        τ_b of each population's outgoing synapses; ``external_tau_ms`` for X.
    correlation, jitter_ms, tau_stdp_ms : float
        c, τ_jitter and τ_STDP.
    laser_window_ms : tuple of float or None
        [start, stop) of the optogenetic layer, or None without optogenetics.
    regularisation : ndarray (n_pop, n_pop)
        The matrix E of the module docstring (zero for two populations).
    excitatory_gain_khz_per_mv_ms : float
        The gain g in E (NaN for two populations).
    """

    layout: Layout
    populations: tuple
    kinds: tuple
    fractions: np.ndarray
    layers: tuple
    layer_fractions: np.ndarray
    layer_rates_khz: np.ndarray
    external_weights: np.ndarray
    initial_weights: np.ndarray
    connection_probability: float
    n_neurons: int
    synaptic_tau_ms: np.ndarray
    external_tau_ms: float
    correlation: float
    jitter_ms: float
    tau_stdp_ms: float
    laser_window_ms: tuple | None
    regularisation: np.ndarray
    excitatory_gain_khz_per_mv_ms: float = math.nan

    # ----------------------------------------------------------------- building
    @classmethod
    def from_config(cls, config: dict,
                    excitatory_gain_khz_per_mv_ms: float | None = None) -> "Network":
        """Build the two- or three-population network of a resolved run config.

        Parameters
        ----------
        config : dict
            Resolved run config (:func:`balanced_stdp.config.resolve_config`).
        excitatory_gain_khz_per_mv_ms : float, optional
            E-neuron f–I gain for the three-population regularisation; defaults to
            :data:`DEFAULT_EXCITATORY_GAIN_KHZ_PER_MV_MS`. Ignored for two populations.
        """
        n = int(config["N"])
        layout = Layout.from_config(config)
        w = config["weights"]
        tau = config["synaptic_time_constants_ms"]
        opto = config["optogenetics"]
        populations = layout.groups
        kinds = tuple(name[0].lower() for name in populations)
        fractions = np.array(layout.fractions)
        if layout.is_split:
            layers = ("X1", "X2")
            layer_fractions = np.array([config["external_fraction"], opto["layer_fraction"]])
            layer_rates = np.array([config["external_rate_hz"], opto["rate_hz"]]) / 1000.0
            external = np.array([[w["ex"], opto["weight"]], [w["ex"], 0.0], [w["ix"], 0.0]])
            laser = (1000.0 * opto["start_s"], 1000.0 * opto["stop_s"])
        else:
            layers = ("X",)
            layer_fractions = np.array([config["external_fraction"]])
            layer_rates = np.array([config["external_rate_hz"]]) / 1000.0
            external = np.array([[w["ex"]], [w["ix"]]])
            laser = None
        initial = np.array([[w[a + b] for b in kinds] for a in kinds], dtype=float)
        regularisation = np.zeros((len(populations),) * 2)
        gain = math.nan
        if len(populations) == 3:
            gain = (DEFAULT_EXCITATORY_GAIN_KHZ_PER_MV_MS if excitatory_gain_khz_per_mv_ms is None
                    else float(excitatory_gain_khz_per_mv_ms))
            if not gain > 0:
                raise ValueError(f"excitatory gain must be > 0, got {gain}")
            q_bar = fractions[:2] / fractions[:2].sum()
            v = np.array([q_bar[1], -q_bar[0], 0.0])
            u = np.array([1.0, -1.0, 0.0])
            regularisation = np.outer(v, u) / (gain * math.sqrt(n))
        return cls(
            layout=layout, populations=populations, kinds=kinds, fractions=fractions,
            layers=layers,
            layer_fractions=layer_fractions, layer_rates_khz=layer_rates,
            external_weights=external, initial_weights=initial,
            connection_probability=float(config["connection_probability"]), n_neurons=n,
            synaptic_tau_ms=np.array([tau[k] for k in kinds], dtype=float),
            external_tau_ms=float(tau["x"]), correlation=float(config["c"]),
            jitter_ms=float(config["jitter_ms"]), tau_stdp_ms=float(config["tau_stdp_ms"]),
            laser_window_ms=laser, regularisation=regularisation,
            excitatory_gain_khz_per_mv_ms=gain,
        )

    # ------------------------------------------------------------- matrices
    @property
    def n_populations(self) -> int:
        return len(self.populations)

    def recurrent_matrix(self, weights: np.ndarray) -> np.ndarray:
        """W with w_ab = p j_ab q_b for unscaled block weights ``weights`` (mV)."""
        return self.connection_probability * np.asarray(weights) * self.fractions[None, :]

    def external_matrix(self) -> np.ndarray:
        """W_x with entries p j_a,layer q_layer (n_pop × n_layers)."""
        return self.connection_probability * self.external_weights * self.layer_fractions[None, :]

    def external_rates(self, laser_on: bool = False) -> np.ndarray:
        """Rates of the external layers (kHz); X2 is silent unless ``laser_on``."""
        rates = self.layer_rates_khz.copy()
        if len(self.layers) > 1 and not laser_on:
            rates[1:] = 0.0
        return rates

    def laser_on_at(self, time_ms: float) -> bool:
        """Whether the optogenetic layer is active at ``time_ms`` (window [start, stop))."""
        if self.laser_window_ms is None:
            return False
        start, stop = self.laser_window_ms
        return start <= time_ms < stop

    def external_drive(self, laser_on: bool = False) -> np.ndarray:
        """W_x r_x (mV/ms per √N)."""
        return self.external_matrix() @ self.external_rates(laser_on)

    def kind_index(self, kind: str) -> list[int]:
        """Indices of the populations of kind ``"e"`` or ``"i"``."""
        return list(self.layout.kind_groups(kind))

    # ------------------------------------------------------------- rates
    def rates_unchecked(self, weights: np.ndarray, delta: np.ndarray | None = None,
                        laser_on: bool = False) -> np.ndarray:
        """Solution of (W − E) r = −(W_x r_x + Δ) in kHz, without positivity checks.

        Returns NaN when the system is singular (no unique solution).
        """
        matrix = self.recurrent_matrix(weights) - self.regularisation
        rhs = -(self.external_drive(laser_on) + (0.0 if delta is None else np.asarray(delta)))
        rates = _solve(matrix, rhs)
        if self.layout.is_split and np.all(np.isfinite(rates)) and min(rates[:2]) < 0:
            # Rectification: the under-driven E subpopulation falls silent and the other
            # two groups balance alone (module docstring).
            active = [int(np.argmax(rates[:2])), 2]
            restricted = _solve(matrix[np.ix_(active, active)], rhs[active])
            if np.all(restricted > 0):
                rates = np.zeros(self.n_populations)
                rates[active] = restricted
        return rates

    def positivity_margin(self, rates: np.ndarray) -> float:
        """> 0 while the rates describe a balanced state (kHz).

        Every population must fire, except that one E subpopulation of the
        three-population network may be silent (rectified, see the module docstring).
        """
        rates = np.asarray(rates, dtype=float)
        if self.layout.is_split:
            excitatory = rates[:2]
            if excitatory.min() < 0:
                return float(excitatory.min())
            return float(min(rates[2], excitatory.max()))
        return float(rates.min())

    def balanced_rates(self, weights: np.ndarray | None = None, delta: np.ndarray | None = None,
                       laser_on: bool = False) -> np.ndarray:
        """Balanced rates (kHz), spec §6.1 (with Δ of §6.6 when given).

        Parameters
        ----------
        weights : ndarray (n_pop, n_pop), optional
            Unscaled block weights (mV); the config's initial weights by default.
        delta : ndarray (n_pop,), optional
            Finite-size correction Δ (mV/ms), zero by default.
        laser_on : bool
            Whether the optogenetic layer X2 is active.

        Raises
        ------
        NoBalancedStateError
            If no positive balanced solution exists; the message names the condition
            of spec §6.1 that fails (D > 0, w_ex/w_ix > w_ei/w_ii > w_ee/w_ie).
        """
        weights = self.initial_weights if weights is None else np.asarray(weights, float)
        rates = self.rates_unchecked(weights, delta, laser_on)
        problem = self.balance_problem(weights, delta, laser_on, rates)
        if problem:
            raise NoBalancedStateError(problem)
        return rates

    def balance_problem(self, weights: np.ndarray, delta=None, laser_on: bool = False,
                        rates: np.ndarray | None = None) -> str:
        """Empty string if a positive balanced state exists, else the reason why not."""
        if rates is None:
            rates = self.rates_unchecked(weights, delta, laser_on)
        corrected = "" if delta is None or not np.any(delta) else " (with the Δ correction)"
        if self.n_populations == 2:
            w = self.recurrent_matrix(weights)
            h = self.external_drive(laser_on) + (0.0 if delta is None else np.asarray(delta))
            det = w[0, 0] * w[1, 1] - w[0, 1] * w[1, 0]
            values = (f"w_ee={w[0, 0]:.4g}, w_ei={w[0, 1]:.4g}, w_ie={w[1, 0]:.4g}, "
                      f"w_ii={w[1, 1]:.4g}")
            if not det > 0:
                return (f"no balanced state: D = w_ee·w_ii − w_ei·w_ie = {det:.4g} is not > 0 "
                        f"({values}; spec §6.1)")
            ratio_x = h[0] / h[1] if h[1] != 0 else math.inf
            ratio_i = w[0, 1] / w[1, 1] if w[1, 1] != 0 else math.inf
            ratio_e = w[0, 0] / w[1, 0] if w[1, 0] != 0 else math.inf
            if not rates[0] > 0:
                return (f"no positive balanced state{corrected}: r_e = {1000 * rates[0]:.4g} Hz; "
                        f"condition w_ex/w_ix > w_ei/w_ii fails ({ratio_x:.4g} vs {ratio_i:.4g}; "
                        f"{values}; spec §6.1)")
            if not rates[1] > 0:
                return (f"no positive balanced state{corrected}: r_i = {1000 * rates[1]:.4g} Hz; "
                        f"condition w_ex/w_ix > w_ee/w_ie (implied by w_ex/w_ix > w_ei/w_ii > "
                        f"w_ee/w_ie) fails ({ratio_x:.4g}, {ratio_i:.4g}, {ratio_e:.4g}; "
                        f"{values}; spec §6.1)")
            return ""
        if not np.all(np.isfinite(rates)):
            return ("no balanced state: the three-population balance matrix W − E is singular "
                    "(spec §6.10)")
        if not self.positivity_margin(rates) > 0:
            bad = [f"r_{p} = {1000 * r:.4g} Hz" for p, r in zip(self.populations, rates) if r <= 0]
            return (f"no positive balanced state{corrected}: {', '.join(bad)} "
                    "(three-population network, spec §6.10)")
        return ""


def _solve(matrix: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """``matrix⁻¹ rhs``, or NaN when ``matrix`` is singular (no unique solution)."""
    singular_values = np.linalg.svd(matrix, compute_uv=False)
    if singular_values[-1] <= SINGULAR_TOLERANCE * singular_values[0]:
        return np.full(rhs.shape, np.nan)
    return np.linalg.solve(matrix, rhs)
