"""Learning windows: prescribed spike pairs driven through the kernel's update code.

Expected values are written out by hand from spec §4.3 (not taken from
``RuleDescription``), for the discrete Euler trace of spec §2.5: a trace that
jumps by 1 at step n is (1 − dt/τ)^m when read m steps later.
"""

import math

import numpy as np
import pytest

from balanced_stdp.config import resolve_config
from balanced_stdp.kernel import RecurrentSynapses
from balanced_stdp.plasticity import build_rule, kernel_rule_table
from balanced_stdp.synapse_update import replay_plasticity

DT = 0.1
TAU = 200.0
DECAY = 1.0 - DT / TAU


def one_synapse(post_is_exc: bool, pre_is_exc: bool):
    """Two neurons and the single synapse pre → post, in the kernel's sparse layout."""
    # neuron order: E first. Choose indices so the types come out right.
    if post_is_exc and pre_is_exc:
        n_exc, pre, post = 2, 0, 1
    elif post_is_exc:                      # I → E
        n_exc, pre, post = 1, 1, 0
    elif pre_is_exc:                       # E → I
        n_exc, pre, post = 1, 0, 1
    else:                                  # I → I
        n_exc, pre, post = 0, 0, 1
    n = 2
    column_start = np.zeros(n + 1, np.int64)
    column_start[pre + 1:] = 1
    column_split = column_start[:-1].copy()
    if post < n_exc:                       # the E post comes before the split
        column_split[pre] = column_start[pre] + 1
    targets = np.array([post], np.int32)
    row_start = np.zeros(n + 1, np.int64)
    row_start[post + 1:] = 1
    row_split = row_start[:-1].copy()
    if pre < n_exc:
        row_split[post] = row_start[post] + 1
    return dict(n_exc=n_exc, pre=pre, post=post, column_start=column_start,
                column_split=column_split, targets=targets, row_start=row_start,
                row_split=row_split, row_sources=np.array([pre], np.int32),
                row_synapse=np.array([0], np.int32))


def replay(synapse: str, settings: dict, weight_mv: float, pre_steps, post_steps, n_neurons=5000):
    """Final unscaled weight after prescribed pre/post spikes on one synapse."""
    net = one_synapse(synapse[0] == "e", synapse[1] == "e")
    rule = build_rule(synapse, resolve_config({"plasticity": {synapse: settings}})["plasticity"][
        synapse], TAU)
    table = kernel_rule_table({synapse: rule}, n_neurons)
    events = sorted([(s, net["pre"]) for s in pre_steps] + [(s, net["post"]) for s in post_steps])
    steps = np.array([e[0] for e in events], np.int64)
    neurons = np.array([e[1] for e in events], np.int32)
    weights = np.array([weight_mv / math.sqrt(n_neurons)])
    synapses = RecurrentSynapses(net["column_start"], net["column_split"], net["targets"],
                                 net["row_start"], net["row_split"], net["row_sources"],
                                 net["row_synapse"], weights, table, net["n_exc"])
    replay_plasticity(steps, neurons, int(steps.max()) + 2, synapses, DECAY)
    return weights[0] * math.sqrt(n_neurons)


LAGS_STEPS = [1, 37, 100, 500, 1500]   # 0.1 ms … 150 ms


@pytest.mark.parametrize("lag", LAGS_STEPS)
def test_kohonen_window(lag):
    eta, beta0, j0 = 1e-3, 2.0, 3.0
    x = DECAY ** lag
    # pre then post: the pre spike sees an empty post trace; the post spike gives −η j
    assert replay("ee", {"rule": "kohonen", "eta": eta, "beta0": beta0}, j0, [10], [10 + lag]) \
        == pytest.approx(j0 - eta * j0, rel=1e-13)
    # post then pre: −η j, then +η β₀ x_post
    assert replay("ee", {"rule": "kohonen", "eta": eta, "beta0": beta0}, j0, [10 + lag], [10]) \
        == pytest.approx(j0 * (1 - eta) + eta * beta0 * x, rel=1e-13)


@pytest.mark.parametrize("lag", LAGS_STEPS)
def test_classical_hebbian_window_and_sqrt_n(lag):
    eta, j0 = 1e-3, 25.0
    x = DECAY ** lag
    for n in (1000, 4000):
        causal = replay("ee", {"rule": "classical_hebbian", "eta": eta}, j0, [10], [10 + lag], n)
        acausal = replay("ee", {"rule": "classical_hebbian", "eta": eta}, j0, [10 + lag], [10], n)
        assert causal - j0 == pytest.approx(eta * math.sqrt(n) * x, rel=1e-9)
        assert acausal - j0 == pytest.approx(-eta * math.sqrt(n) * x, rel=1e-9)
    # the discrete trace is the learning window exp(−|Δt|/τ) to O(m (dt/τ)²)
    assert x == pytest.approx(math.exp(-lag * DT / TAU), rel=lag * (DT / TAU) ** 2)


def test_hard_bounds_gate_but_do_not_clip():
    eta = 0.02
    # at j = 49.9 a causal pair at N = 5000 adds η√N ≈ 1.41 > 0.1: it overshoots 50 once …
    j1 = replay("ee", {"rule": "bounded_hebbian", "eta": eta}, 49.9, [10], [11])
    assert j1 == pytest.approx(49.9 + eta * math.sqrt(5000) * DECAY, rel=1e-12)
    # … and a further causal pair is then gated off (j ≥ j_max)
    assert replay("ee", {"rule": "bounded_hebbian", "eta": eta}, j1, [10], [11]) == \
        pytest.approx(j1, rel=1e-15)
    # a weight below 0 is frozen (both updates need j > 0)
    assert replay("ee", {"rule": "bounded_hebbian", "eta": eta}, -0.5, [10, 30], [20, 40]) \
        == pytest.approx(-0.5, rel=1e-15)


@pytest.mark.parametrize("lag", LAGS_STEPS)
def test_soft_hebbian_window(lag):
    eta, j_max, j0 = 1e-3, 30.0, 25.0
    x = DECAY ** lag
    assert replay("ee", {"rule": "soft_hebbian", "eta": eta}, j0, [10], [10 + lag]) \
        == pytest.approx(j0 + eta * x * j_max, rel=1e-13)
    assert replay("ee", {"rule": "soft_hebbian", "eta": eta}, j0, [10 + lag], [10]) \
        == pytest.approx(j0 - eta * x * j0, rel=1e-13)
    # same rule on E→I uses j_max = 112.5 by default
    assert replay("ie", {"rule": "soft_hebbian", "eta": eta}, 100.0, [10], [10 + lag]) \
        == pytest.approx(100.0 + eta * x * 112.5, rel=1e-13)


@pytest.mark.parametrize("lag", LAGS_STEPS)
def test_oja_window(lag):
    eta, beta0, gamma, j0 = 1e-2, 25.0, 1.0, 20.0
    x = DECAY ** lag
    assert replay("ee", {"rule": "oja", "eta": eta}, j0, [10], [10 + lag]) \
        == pytest.approx(j0 - eta * gamma * x * j0, rel=1e-13)
    assert replay("ee", {"rule": "oja", "eta": eta}, j0, [10 + lag], [10]) \
        == pytest.approx(j0 + eta * gamma * beta0 * x, rel=1e-13)


@pytest.mark.parametrize("synapse,target_hz,j_norm", [("ei", 10.0, -200.0), ("ii", 23.0, -200.0)])
@pytest.mark.parametrize("lag", LAGS_STEPS)
def test_istdp_window_and_sqrt_n(synapse, target_hz, j_norm, lag):
    eta0, j0 = 1e-4, -150.0
    x = DECAY ** lag
    alpha = 2 * target_hz / 1000 * TAU
    for n in (1000, 4000):
        eta_h = eta0 * math.sqrt(n) / j_norm
        # pre (I) first: its column update sees x_post = 0: j ← j − η_h(0 − α) j;
        # then the post spike: j ← j − η_h x_pre j
        j1 = j0 - eta_h * (0 - alpha) * j0
        expected = j1 - eta_h * x * j1
        got = replay(synapse, {"rule": "istdp", "eta": eta0}, j0, [10], [10 + lag], n)
        assert got == pytest.approx(expected, rel=1e-12)
        # post first: no pre trace yet → unchanged; then the pre spike with x_post
        got = replay(synapse, {"rule": "istdp", "eta": eta0}, j0, [10 + lag], [10], n)
        assert got == pytest.approx(j0 - eta_h * (x - alpha) * j0, rel=1e-12)
    # relative step grows like √N
    small = replay(synapse, {"rule": "istdp", "eta": eta0}, j0, [10 + lag], [10], 1000) - j0
    large = replay(synapse, {"rule": "istdp", "eta": eta0}, j0, [10 + lag], [10], 4000) - j0
    assert large / small == pytest.approx(2.0, rel=1e-9)   # Δj is a difference of O(100) numbers


def test_homeostatic_ie_sign():
    eta0, j0, n = 1e-4, 112.5, 5000
    eta_h = eta0 * math.sqrt(n) / 200.0
    alpha = 2 * 0.023 * TAU
    # a lone E (pre) spike with an empty I trace: j ← j − η_h(0 − α) j (potentiation)
    got = replay("ie", {"rule": "homeostatic", "eta": eta0}, j0, [10], [])
    assert got == pytest.approx(j0 + eta_h * alpha * j0, rel=1e-12)


def test_triplet_uses_squared_trace():
    eta, j0, n = 1e-4, 20.0, 5000
    lag = 100
    x = DECAY ** lag
    got = replay("ee", {"rule": "triplet", "eta": eta}, j0, [10], [10 + lag], n)
    # post spike: +η γ₂ x_pre² (γ₂ = −1) in scaled units, i.e. −η√N x² unscaled
    assert got == pytest.approx(j0 - eta * math.sqrt(n) * x * x, rel=1e-12)


def test_same_step_spikes_do_not_pair():
    # spikes in the same dt bin see each other's traces only from the next step on
    j0 = 3.0
    got = replay("ee", {"rule": "kohonen", "eta": 1e-3}, j0, [10], [10])
    assert got == pytest.approx(j0 * (1 - 1e-3), rel=1e-14)


def test_custom_rule_equals_named_rule():
    pre, post = [10, 400, 900], [200, 410, 1300]
    named = replay("ee", {"rule": "kohonen", "eta": 2e-3, "beta0": 2.5}, 4.0, pre, post)
    custom = replay("ee", {"rule": "custom", "eta": 2e-3, "b_pre": [2.5, 0.0],
                           "a_post": [0.0, -1.0]}, 4.0, pre, post)
    assert custom == named


def test_pair_update_matches_kernel():
    """RuleDescription.pair_update (used by figures and theory) agrees with the kernel."""
    for synapse, settings, j0 in [("ee", {"rule": "kohonen", "eta": 1e-3}, 2.0),
                                  ("ee", {"rule": "soft_hebbian", "eta": 1e-3}, 25.0),
                                  ("ei", {"rule": "istdp", "eta": 1e-4}, -150.0)]:
        rule = build_rule(synapse, resolve_config({"plasticity": {synapse: settings}})[
            "plasticity"][synapse], TAU)
        for lag in (37, 500):
            for sign in (-1, 1):   # lag = t_pre − t_post
                pre, post = ([10], [10 + lag]) if sign < 0 else ([10 + lag], [10])
                kernel = replay(synapse, settings, j0, pre, post) - j0
                # pair_update uses exp(−|Δt|/τ), the kernel the Euler trace (1 − dt/τ)^m;
                # they differ by ≈ m(dt/τ)²/2 relative in x (plus ≤ 1e-7 absolute where
                # two terms of Δj nearly cancel, as for Kohonen post-before-pre)
                expected = rule.pair_update(j0, sign * lag * DT, TAU, 5000)
                assert kernel == pytest.approx(expected, rel=lag * (DT / TAU) ** 2, abs=1e-7)
