"""Where the finite-size theory loses balance along a parameter: the runaway threshold.

Kohonen's rule runs away in simulations at β₀ ≈ 3.6–3.8 (N = 5000, η = 1e-2, 200 s;
spec §6.5) although its leading-order fixed point is stable up to the saddle-node at
β₀ = 8.04. The finite-size theory (:mod:`.finite_size_model`) loses balance much
earlier, through two effects the leading order leaves out: the rate–weight covariance
(each Kohonen weight tracks its presynaptic rate, so the E input is ∝ ⟨r²⟩ = r̄²(1 + CV²)
with a rate CV of order one at every N), and a transient amplification of the
heterogeneity that grows with √N (while the weights are below their targets, a neuron
that fires more relaxes its incoming weights faster, which raises its input by
√N p q_e δw r̄). The net input a neuron needs to fire keeps small networks stabler.
So the threshold falls with N: the predicted β₀_c(N) is :func:`runaway_threshold`,
the smallest β₀ at which the finite-size trajectory of the run's duration loses balance
(bisection; loss is monotone in β₀ in every case checked).
"""

from __future__ import annotations

import copy
import math

import numpy as np

from ..config import resolve_config, with_dotted
from .finite_size_model import FiniteSizeModel
from .finite_size_network import BalanceLost
from .mean_field_network import NoBalancedStateError

BETA_KEY = "plasticity.ee.beta0"
"""The parameter of Kohonen's rule whose threshold is sought by default."""

THRESHOLD_TOLERANCE = 0.02
"""Bisection stops when the bracket is this narrow (units of the parameter)."""


def loses_balance(config: dict, key: str = BETA_KEY, value: float | None = None) -> float:
    """Time (s) at which the finite-size trajectory of ``config`` (with ``key`` set to
    ``value``) loses balance within the run's duration; NaN if it stays balanced (0 if
    the initial weights have no balanced state)."""
    cfg = resolve_config(copy.deepcopy(config if value is None
                                       else with_dotted(config, key, float(value))))
    model = FiniteSizeModel(cfg)
    try:
        run = model.trajectory(np.array([1000.0 * float(cfg["duration_s"])]))
    except (BalanceLost, NoBalancedStateError):
        return 0.0
    return run["loss"].time_ms / 1000.0


def runaway_threshold(config: dict, key: str = BETA_KEY, low: float = 0.5,
                      high: float = 20.0, tolerance: float = THRESHOLD_TOLERANCE) -> float:
    """Smallest value of ``key`` in [low, high] at which the finite-size theory loses
    balance within the run's duration (bisection to ``tolerance``).

    Returns
    -------
    float
        The threshold (midpoint of the final bracket); ``low`` if balance is lost there
        already, NaN if it holds up to ``high``.
    """
    if not math.isnan(loses_balance(config, key, low)):
        return float(low)
    if math.isnan(loses_balance(config, key, high)):
        return math.nan
    while high - low > tolerance:
        middle = 0.5 * (low + high)
        if math.isnan(loses_balance(config, key, middle)):
            low = middle
        else:
            high = middle
    return 0.5 * (low + high)
