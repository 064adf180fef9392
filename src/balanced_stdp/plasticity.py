"""Spike-timing-dependent plasticity rules, each described once, as data.

Every rule of the paper (spec §4.3) fits the general pair-based form of spec §4.2,
written here for the *unscaled* weight j = √N·J of the synapse k → j:

    Δj = η_eff · [ a_pre(j)  + b_pre(j)  · x_post ]            on a presynaptic spike
    Δj = η_eff · [ a_post(j) + b_post(j) · x_pre ** p ]        on a postsynaptic spike

with coefficients *affine in the weight* (``a_pre(j) = a_pre[0] + a_pre[1]·j`` …),
the trace power p (1 for pair rules, 2 for the optional triplet rule), optional
strict "gates" (an update is applied only while lower < j < upper; they never
clip) and a learning rate ``η_eff = η · N^(sqrt_n_scaling/2) / divisor``
(spec §4.5: √N growth for the additive Hebbian and homeostatic rules).

A :class:`RuleDescription` is the single source of truth for a rule:

* :meth:`RuleDescription.kernel_parameters` converts it to the flat float array
  read by the numba kernel (scaled weights J = j/√N);
* :meth:`RuleDescription.mean_drift` is the mean-field right-hand side of
  spec §6.4 used by the theory module;
* :meth:`RuleDescription.pair_update` is the exact update a single pre/post
  spike pair produces (the learning window of spec Fig 9).

Named rules (``kohonen``, ``istdp``, …) are small factories mapping their
physical parameters to coefficients; ``custom`` lets a user give the
coefficients directly in the config, so a new rule is a few lines of YAML.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable

import numpy as np

from .contract import SYNAPSE_TYPES  # the kernel's block order (post-pre, spec §1)

# Layout of one row of the kernel's rule-parameter array.
KERNEL_FIELDS = (
    "active",
    "eta_eff",
    "a_pre0", "a_pre1", "b_pre0", "b_pre1",
    "a_post0", "a_post1", "b_post0", "b_post1",
    "pre_lower", "pre_upper", "post_lower", "post_upper",
    "post_trace_power",
)
KERNEL_INDEX = {name: i for i, name in enumerate(KERNEL_FIELDS)}
N_KERNEL_FIELDS = len(KERNEL_FIELDS)


@dataclasses.dataclass(frozen=True)
class RuleDescription:
    """A plasticity rule in the general affine form of spec §4.2 (unscaled weights).

    Parameters
    ----------
    name : str
        Rule name as written in the config.
    synapse : str
        Synapse type it acts on (``ee``, ``ei``, ``ie`` or ``ii``).
    eta : float
        Learning rate as given in the config (η, or η₀ for homeostatic rules).
    a_pre, b_pre, a_post, b_post : tuple of float
        ``(constant, slope)`` of each coefficient as an affine function of j (mV).
    sqrt_n_scaling : bool
        If true, η_eff grows like √N (spec §4.5).
    eta_divisor : float
        η_eff is divided by this (j_norm of the homeostatic rules, mV).
    pre_gate, post_gate : tuple of float
        Strict bounds (lower, upper) on j for the pre- and postsynaptic update to apply.
    post_trace_power : int
        Power of the presynaptic trace in the postsynaptic-spike update.
    parameters : dict
        The resolved physical parameters, recorded in the output.
    """

    name: str
    synapse: str
    eta: float
    a_pre: tuple[float, float] = (0.0, 0.0)
    b_pre: tuple[float, float] = (0.0, 0.0)
    a_post: tuple[float, float] = (0.0, 0.0)
    b_post: tuple[float, float] = (0.0, 0.0)
    sqrt_n_scaling: bool = False
    eta_divisor: float = 1.0
    pre_gate: tuple[float, float] = (-math.inf, math.inf)
    post_gate: tuple[float, float] = (-math.inf, math.inf)
    post_trace_power: int = 1
    parameters: dict = dataclasses.field(default_factory=dict)

    # ------------------------------------------------------------------ scaling
    def eta_effective(self, n_neurons: int) -> float:
        """Learning rate η_eff multiplying the bracket of spec §4.2 (per spike)."""
        scale = math.sqrt(n_neurons) if self.sqrt_n_scaling else 1.0
        return self.eta * scale / self.eta_divisor

    def kernel_parameters(self, n_neurons: int) -> np.ndarray:
        """Flat parameter row for the numba kernel, in scaled weights J = j/√N.

        With j = √N·J, an unscaled update Δj = η_eff(c0 + c1·j + …) becomes
        ΔJ = η_eff(c0/√N + c1·J + …): constants are divided by √N, slopes kept.
        """
        sqrt_n = math.sqrt(n_neurons)
        row = np.zeros(N_KERNEL_FIELDS)
        row[KERNEL_INDEX["active"]] = 1.0
        row[KERNEL_INDEX["eta_eff"]] = self.eta_effective(n_neurons)
        for key in ("a_pre", "b_pre", "a_post", "b_post"):
            constant, slope = getattr(self, key)
            row[KERNEL_INDEX[key + "0"]] = constant / sqrt_n
            row[KERNEL_INDEX[key + "1"]] = slope
        row[KERNEL_INDEX["pre_lower"]] = self.pre_gate[0] / sqrt_n
        row[KERNEL_INDEX["pre_upper"]] = self.pre_gate[1] / sqrt_n
        row[KERNEL_INDEX["post_lower"]] = self.post_gate[0] / sqrt_n
        row[KERNEL_INDEX["post_upper"]] = self.post_gate[1] / sqrt_n
        row[KERNEL_INDEX["post_trace_power"]] = self.post_trace_power
        return row

    # ------------------------------------------------------------ single pairs
    def pair_update(self, weight: float, lag_ms: float, tau_stdp_ms: float,
                    n_neurons: int) -> float:
        """Unscaled weight change Δj produced by one isolated pre/post spike pair.

        Parameters
        ----------
        weight : float
            Unscaled weight j before the pair (mV).
        lag_ms : float
            t_pre − t_post. Negative: pre before post (causal side).
        tau_stdp_ms : float
            Trace time constant τ.
        n_neurons : int
            Network size N (enters η_eff).

        Returns
        -------
        float
            Δj summed over both spikes of the pair (the second spike sees the trace
            of the first, decayed by exp(−|lag|/τ); single-spike terms apply to both).
        """
        eta = self.eta_effective(n_neurons)
        trace = math.exp(-abs(lag_ms) / tau_stdp_ms)

        def affine(coef, j):
            return coef[0] + coef[1] * j

        def pre(j, x_post):
            if not self.pre_gate[0] < j < self.pre_gate[1]:
                return j
            return j + eta * (affine(self.a_pre, j) + affine(self.b_pre, j) * x_post)

        def post(j, x_pre):
            if not self.post_gate[0] < j < self.post_gate[1]:
                return j
            return j + eta * (affine(self.a_post, j)
                              + affine(self.b_post, j) * x_pre ** self.post_trace_power)

        if lag_ms < 0:   # pre first: its update sees an empty post trace
            j = post(pre(weight, 0.0), trace)
        else:            # post first (or simultaneous: same-step spikes never pair)
            j = pre(post(weight, 0.0), trace if lag_ms > 0 else 0.0)
        return j - weight

    # -------------------------------------------------------------- mean field
    def mean_drift(self, weight, rate_post, rate_pre, tau_stdp_ms: float,
                   n_neurons: int, k_plus=0.0, k_minus=0.0):
        """Mean-field drift dj̄/dt (mV/ms) of spec §6.4 for this synapse type.

        Uses ⟨S⟩ = r, ⟨x⟩ = τr, ⟨x_post S_pre⟩ = τ r_post r_pre + K⁻ and
        ⟨x_pre S_post⟩ = τ r_post r_pre + K⁺ (rates in kHz, K in kHz). For trace
        power 2, ⟨x_pre² S_post⟩ ≈ r_post (τ² r_pre² + τ r_pre / 2) (Poisson shot noise,
        correlations neglected). Gates are ignored (they only act at the bounds).
        """
        j = np.asarray(weight, dtype=float)
        tau = tau_stdp_ms
        causal = tau * rate_post * rate_pre + k_plus
        if self.post_trace_power == 2:
            causal = rate_post * (tau**2 * rate_pre**2 + tau * rate_pre / 2.0)
        drift = (
            (self.a_post[0] + self.a_post[1] * j) * rate_post
            + (self.a_pre[0] + self.a_pre[1] * j) * rate_pre
            + (self.b_pre[0] + self.b_pre[1] * j) * (tau * rate_post * rate_pre + k_minus)
            + (self.b_post[0] + self.b_post[1] * j) * causal
        )
        return self.eta_effective(n_neurons) * drift


# ---------------------------------------------------------------------------
# Named rules: physical parameters → coefficients. Each entry lists the synapse
# types the rule may act on, its parameter defaults, and the factory.
# ---------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class RuleSpec:
    """Catalogue entry of a named rule: allowed synapse types, defaults and factory."""

    synapses: tuple[str, ...]
    defaults: dict[str, Any]
    build: Callable[..., dict]
    doc: str


def _classical(p, tau, sign=1.0):
    return dict(b_pre=(-sign, 0.0), b_post=(sign, 0.0), sqrt_n_scaling=True,
                pre_gate=(p["j_min"], math.inf), post_gate=(p["j_min"], p["j_max"]))


def _homeostatic(p, tau):
    alpha = 2.0 * (p["target_rate_hz"] / 1000.0) * tau
    return dict(a_pre=(0.0, alpha), b_pre=(0.0, -1.0), b_post=(0.0, -1.0),
                sqrt_n_scaling=True, eta_divisor=p["j_norm"])


def _soft(p, tau):
    return dict(b_pre=(0.0, -1.0), b_post=(p["j_max"], 0.0))


RULES: dict[str, RuleSpec] = {
    "classical_hebbian": RuleSpec(
        ("ee",), {"eta": 5e-3, "j_min": -1e20, "j_max": 1e20},
        lambda p, tau: _classical(p, tau),
        "Additive Hebbian, unbounded (spec §4.3a); step ±η√N·x."),
    "bounded_hebbian": RuleSpec(
        ("ee",), {"eta": 1e-3, "j_min": 0.0, "j_max": 50.0},
        lambda p, tau: _classical(p, tau),
        "Additive Hebbian with hard gating bounds [j_min, j_max] (spec §4.3b); "
        "bounds gate, never clip, as in the authors' code."),
    "anti_hebbian": RuleSpec(
        ("ee",), {"eta": 1e-3, "j_min": -1e20, "j_max": 1e20},
        lambda p, tau: _classical(p, tau, sign=-1.0),
        "Classical rule with both pair terms' signs swapped (spec §4.3k)."),
    "soft_hebbian": RuleSpec(
        ("ee", "ie"), {"eta": 1e-3, "j_max": None},
        _soft,
        "Weight-dependent Hebbian (spec §4.3c, i): −η x_post j on pre spikes, "
        "+η x_pre j_max on post spikes. j_max defaults to 30 (ee) or 112.5 (ie)."),
    "kohonen": RuleSpec(
        ("ee",), {"eta": 1e-3, "beta0": 2.0},
        lambda p, tau: dict(b_pre=(p["beta0"], 0.0), a_post=(0.0, -1.0)),
        "Kohonen's rule (spec §4.3d): +η β₀ x_post on pre spikes, −η j on post spikes."),
    "oja": RuleSpec(
        ("ee",), {"eta": 1e-2, "beta0": 25.0, "gamma": 1.0},
        lambda p, tau: dict(b_pre=(p["gamma"] * p["beta0"], 0.0),
                            b_post=(0.0, -p["gamma"])),
        "Oja-type rule (spec §4.3e)."),
    "istdp": RuleSpec(
        ("ei", "ii"), {"eta": 1e-4, "target_rate_hz": None, "j_norm": -200.0},
        _homeostatic,
        "Homeostatic inhibitory STDP, Vogels et al. 2011 (spec §4.3f, g); "
        "α = 2ρτ; η_eff = η₀√N/j_norm. target_rate_hz defaults to 10 (ei) or 23 (ii)."),
    "homeostatic": RuleSpec(
        ("ie",), {"eta": 1e-4, "target_rate_hz": 23.0, "j_norm": 200.0},
        _homeostatic,
        "Homeostatic E→I rule (spec §4.3h), same form as iSTDP."),
    "triplet": RuleSpec(
        ("ee",), {"eta": 1e-4, "v_theta": None, "gamma1": -1.0, "gamma2": -1.0},
        lambda p, tau: dict(b_pre=(-p["v_theta"] * p["gamma1"], 0.0),
                            b_post=(p["gamma2"], 0.0), sqrt_n_scaling=True,
                            pre_gate=(0.0, math.inf), post_gate=(0.0, math.inf),
                            post_trace_power=2),
        "Triplet/BCM-like EE rule (spec §4.3j, optional); v_theta defaults to 0.010·τ."),
    "custom": RuleSpec(
        SYNAPSE_TYPES,
        {"eta": 1e-3, "a_pre": [0.0, 0.0], "b_pre": [0.0, 0.0], "a_post": [0.0, 0.0],
         "b_post": [0.0, 0.0], "sqrt_n_scaling": False, "eta_divisor": 1.0,
         "pre_gate": [-1e300, 1e300], "post_gate": [-1e300, 1e300], "post_trace_power": 1},
        lambda p, tau: dict(a_pre=tuple(p["a_pre"]), b_pre=tuple(p["b_pre"]),
                            a_post=tuple(p["a_post"]), b_post=tuple(p["b_post"]),
                            sqrt_n_scaling=bool(p["sqrt_n_scaling"]),
                            eta_divisor=p["eta_divisor"], pre_gate=tuple(p["pre_gate"]),
                            post_gate=tuple(p["post_gate"]),
                            post_trace_power=int(p["post_trace_power"])),
        "Any rule of the general form, coefficients [constant, slope] given directly."),
}

# Synapse-type dependent defaults (spec §4.3).
_TYPE_DEFAULTS = {
    ("soft_hebbian", "ee"): {"j_max": 30.0},
    ("soft_hebbian", "ie"): {"j_max": 112.5},
    ("istdp", "ei"): {"target_rate_hz": 10.0},
    ("istdp", "ii"): {"target_rate_hz": 23.0},
}


def rule_parameter_defaults(rule: str, synapse: str, tau_stdp_ms: float) -> dict:
    """Default parameters of ``rule`` on ``synapse`` (with τ-dependent ones resolved)."""
    params = dict(RULES[rule].defaults)
    params.update(_TYPE_DEFAULTS.get((rule, synapse), {}))
    if rule == "triplet" and params.get("v_theta") is None:
        params["v_theta"] = 0.010 * tau_stdp_ms
    return params


def build_rule(synapse: str, settings: dict, tau_stdp_ms: float) -> RuleDescription:
    """Build the :class:`RuleDescription` of one ``plasticity.<synapse>`` config entry.

    ``settings`` must already be validated (see :mod:`balanced_stdp.config`): it holds
    ``rule`` and every parameter of that rule.
    """
    name = settings["rule"]
    params = {k: v for k, v in settings.items() if k != "rule"}
    coefficients = RULES[name].build(params, tau_stdp_ms)
    return RuleDescription(name=name, synapse=synapse, eta=float(params["eta"]),
                           parameters=params, **coefficients)


def kernel_rule_table(rules: dict[str, RuleDescription], n_neurons: int) -> np.ndarray:
    """(4, N_KERNEL_FIELDS) array in block order ee, ei, ie, ii; inactive rows are 0."""
    table = np.zeros((len(SYNAPSE_TYPES), N_KERNEL_FIELDS))
    for index, synapse in enumerate(SYNAPSE_TYPES):
        if synapse in rules:
            table[index] = rules[synapse].kernel_parameters(n_neurons)
    return table


# ----------------------------------------------------------------------------- learning windows
@dataclasses.dataclass(frozen=True)
class LearningWindow:
    """A rule's window of isolated spike pairs, as drawn in spec Fig 9.

    Attributes
    ----------
    rule, synapse : str
        Rule name and the synapse type it acts on.
    overrides : dict
        Parameters that differ from the rule's defaults (e.g. ``{"beta0": 2.0}``).
    weight_mv : float
        Unscaled weight j (mV) the pair meets.
    per_weight : bool
        Divide the window by |j| as well (multiplicative rules: iSTDP's window is then
        e^{−|Δt|/τ} − α).
    """

    rule: str
    synapse: str
    overrides: dict
    weight_mv: float
    per_weight: bool = False

    def description(self, tau_stdp_ms: float) -> RuleDescription:
        """The rule with its defaults and :attr:`overrides`, η chosen so that
        |η_eff(N = 1)| = :data:`LEARNING_WINDOW_ETA_EFF`."""
        settings = {"rule": self.rule,
                    **rule_parameter_defaults(self.rule, self.synapse, tau_stdp_ms),
                    **self.overrides, "eta": 1.0}
        unit = abs(build_rule(self.synapse, settings, tau_stdp_ms).eta_effective(1))
        settings["eta"] = LEARNING_WINDOW_ETA_EFF / unit
        return build_rule(self.synapse, settings, tau_stdp_ms)

    def values(self, lags_ms, tau_stdp_ms: float) -> np.ndarray:
        """Δj/η_eff (divided by |j| if :attr:`per_weight`) of one isolated pair per lag.

        Parameters
        ----------
        lags_ms : array_like
            Lags Δt = t_pre − t_post (ms); negative: pre before post.
        tau_stdp_ms : float
            Trace time constant τ (ms).

        Returns
        -------
        numpy.ndarray
            The window, from :meth:`RuleDescription.pair_update` at N = 1 (so η_eff
            carries no √N). Single-spike terms of both spikes are part of a pair's
            update, so they appear on both sides of the window.
        """
        description = self.description(tau_stdp_ms)
        scale = description.eta_effective(1) * (abs(self.weight_mv) if self.per_weight else 1.0)
        return np.array([description.pair_update(self.weight_mv, float(lag), tau_stdp_ms, 1)
                         / scale for lag in np.asarray(lags_ms, dtype=float)])


LEARNING_WINDOW_ETA_EFF = 1e-8
"""|η_eff| of the windows (N = 1): small, so the second spike of a pair sees the initial
weight to ~1e-8 relative accuracy, yet large enough that Δj is not lost to rounding
in j + Δj − j (the two errors balance near 1e-8)."""

SPEC_LEARNING_WINDOWS = (
    LearningWindow("classical_hebbian", "ee", {}, 25.0),
    LearningWindow("soft_hebbian", "ee", {"j_max": 30.0}, 25.0),
    LearningWindow("kohonen", "ee", {"beta0": 2.0}, 1.0),
    LearningWindow("oja", "ee", {"beta0": 30.0, "gamma": 1.0}, 29.0),
    LearningWindow("istdp", "ei", {"target_rate_hz": 10.0}, -150.0, per_weight=True),
)
"""The windows of spec Fig 9: rules, parameters and the weights the pairs meet."""

