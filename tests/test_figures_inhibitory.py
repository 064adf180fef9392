"""Tests of the inhibitory-plasticity figures — EI + II iSTDP (fig12) and inhibitory
plasticity against N (figS2) — on small synthetic aggregates (:func:`fabricate.sweep_run`):
each figure is drawn, and the artists (found by ``gid``) are compared with the fabricated
values and with the spec's reference numbers (spec §9).
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from balanced_stdp.figures import registry
from balanced_stdp.selection import ExperimentData
from drawn import axes_by_gid, line, lines, texts, title
from fabricate import SWEEP_INTERVAL_S as INTERVAL_S
from fabricate import SWEEP_N_SAMPLE as N_SAMPLE
from fabricate import SWEEP_N_TIME as N_TIME
from fabricate import combine, sweep_run, with_curves

PAIRS = ["ee", "ei", "ii"]
SYNAPSES = ["ee", "ei", "ie", "ii"]


# ----------------------------------------------------------------------------- fig12
ETAS = (5e-3, 5e-2)
EI_II_USER = {"N": 2000, "duration_s": N_TIME * INTERVAL_S, "c": 0.0,
              "weights": {"ee": 25.0, "ei": -150.0, "ii": -250.0},
              "plasticity": {"ei": {"rule": "istdp", "target_rate_hz": 10.0},
                             "ii": {"rule": "istdp", "target_rate_hz": 23.0}}}
EI_II_RULE = "ei-istdp+ii-istdp"
STABILITY = {(5e-3, 5e-3): "stable focus", (5e-3, 5e-2): "unstable",
             (5e-2, 5e-3): "stable node", (5e-2, 5e-2): "stable focus"}


def _ei_ii_weights(eta_ei, eta_ii):
    """Known mean and sampled weights: mean_weight[ei] = −150 + 1000 η_ei t, etc."""
    time_s = INTERVAL_S * np.arange(1, N_TIME + 1)
    mean = np.zeros((4, N_TIME))
    mean[1] = -150.0 + 1000 * eta_ei * time_s
    mean[3] = -250.0 + 1000 * eta_ii * time_s
    offsets = np.linspace(-5, 5, N_SAMPLE)
    sampled = mean[:, None, :] + offsets[None, :, None]
    return mean, sampled


@pytest.fixture(scope="module")
def ei_ii_study():
    runs, theories = [], []
    for eta_ei in ETAS:
        for eta_ii in ETAS:
            mean, sampled = _ei_ii_weights(eta_ei, eta_ii)
            if (eta_ei, eta_ii) == (5e-2, 5e-3):              # II runs away, guard silent
                mean[3, INTERVAL_S * np.arange(1, N_TIME + 1) >= 6.0] = -1e6
            slow_ei = eta_ei < eta_ii
            runs.append(sweep_run(EI_II_USER, {"plasticity.ei.eta": eta_ei,
                                               "plasticity.ii.eta": eta_ii},
                                  mean_weight=mean, sampled_weight=sampled,
                                  rates=(10.0 + 100 * eta_ei, 23.0),
                                  diverged_at_s=4.0 if slow_ei else None))
            time_s = np.linspace(0, N_TIME * INTERVAL_S, 41)
            ode = np.zeros((4, time_s.size))
            ode[1], ode[3] = -150.0 + 2.0 * time_s, -250.0 + 3.0 * time_s
            theory = xr.Dataset(
                {"mean_weight": (("synapse", "time"), ode),
                 "fixed_point_weight": (("synapse",), [25.0, -121.7, 112.5, -254.3]),
                 "stability": ((), STABILITY[eta_ei, eta_ii])},
                coords={"synapse": SYNAPSES, "time": time_s})
            theories.append(theory.expand_dims({
                "rule": [EI_II_RULE], "c": [0.0], "seed": [1],
                "plasticity_ei_eta": [eta_ei], "plasticity_ii_eta": [eta_ii]}))
    return combine(runs), xr.combine_by_coords(theories)


def test_fig12_columns_weights_theory_and_targets(ei_ii_study):
    runs, theory = ei_ii_study
    fig = registry.FIGURES["fig12_inhibitory_pair"].draw_function()(variants=ExperimentData(runs, theory))
    slow_slow = "eta_ei=0.005;eta_ii=0.005"
    ax = axes_by_gid(fig, f"{slow_slow};ei")
    assert "Equal η (slow)" in title(ax) and "stable focus" in title(ax)
    traces = lines(ax, "sampled-trace")
    assert len(traces) == 50 and traces[0].get_color() == "#2e8b3a"      # EI green
    mean, _ = _ei_ii_weights(5e-3, 5e-3)
    np.testing.assert_allclose(line(ax, "sim-mean").get_ydata(), mean[1])
    ode = line(ax, "theory-ode")
    assert ode.get_linestyle() == "--"
    np.testing.assert_allclose(ode.get_ydata()[[0, -1]], [-150.0, -150.0 + 2.0 * 10.0])
    assert line(ax, "theory-fixed-point").get_ydata()[0] == pytest.approx(-121.7)
    ii = axes_by_gid(fig, f"{slow_slow};ii")
    assert lines(ii, "sampled-trace")[0].get_color() == "#7b3294"         # II purple
    assert line(ii, "theory-fixed-point").get_ydata()[0] == pytest.approx(-254.3)
    # the slow-EI column: unstable in theory, diverged run marked on every row
    slow_ei = "eta_ei=0.005;eta_ii=0.05"
    assert "Slow EI" in title(axes_by_gid(fig, f"{slow_ei};ei"))
    assert "unstable" in title(axes_by_gid(fig, f"{slow_ei};ei"))
    for row in ("ei", "ii", "input", "rate"):
        ax = axes_by_gid(fig, f"{slow_ei};{row}")
        assert texts(ax, "diverged-text") == ["seed 1: diverged at 4 s"]
        assert line(ax, "diverged-at").get_xdata()[0] == pytest.approx(4.0)
    assert "Slow II" in title(axes_by_gid(fig, "eta_ei=0.05;eta_ii=0.005;ei"))
    runaway = axes_by_gid(fig, "eta_ei=0.05;eta_ii=0.005;ii")
    assert texts(runaway, "runaway-text") == ["mean ran away at 6 s\n(|j̄| up to 1.0e+06 mV)"]
    assert runaway.get_ylim()[0] > -2.0 * 254.3 - 60          # axis bounded, not to −1e6
    rate_row = axes_by_gid(fig, "eta_ei=0.05;eta_ii=0.005;rate")
    assert line(rate_row, "runaway-at").get_xdata()[0] == pytest.approx(6.0)
    assert not texts(axes_by_gid(fig, f"{slow_slow};ii"), "runaway-text")
    assert "Equal η (fast)" in title(axes_by_gid(fig, "eta_ei=0.05;eta_ii=0.05;ei"))
    rate = axes_by_gid(fig, f"{slow_slow};rate")
    assert line(rate, "target-E").get_ydata()[0] == 10.0
    assert line(rate, "target-I").get_ydata()[0] == 23.0
    np.testing.assert_allclose(line(rate, "rate-E").get_ydata(), 10.5)
    inputs = axes_by_gid(fig, f"{slow_slow};input")
    np.testing.assert_allclose(line(inputs, "input-E+X").get_ydata(), 15.0)
    np.testing.assert_allclose(line(inputs, "input-total").get_ydata(), 1.0)
    caption = registry.caption_for("fig12_inhibitory_pair", runs)
    assert "swaps them" in caption and "EI green / II purple" in caption


# ----------------------------------------------------------------------------- figS2
N_VALUES = (1000, 2000, 4000)
ISTDP_USER = {"duration_s": N_TIME * INTERVAL_S, "c": 0.1, "tau_stdp_ms": 50.0,
              "weights": {"ee": 25.0, "ei": -100.0},
              "plasticity": {"ei": {"rule": "istdp", "eta": 1e-2, "target_rate_hz": 10.0}}}
PAIR_USER = {"duration_s": N_TIME * INTERVAL_S, "c": 0.0,
             "weights": {"ee": 25.0, "ei": -100.0, "ii": -200.0},
             "plasticity": {"ei": {"rule": "istdp", "eta": 1e-2, "target_rate_hz": 10.0},
                            "ii": {"rule": "istdp", "eta": 1e-2, "target_rate_hz": 20.0,
                                   "j_norm": -500.0}}}


def _final_mean_weight(n):
    mean = np.zeros((4, N_TIME))
    mean[1] = -100.0 - n / 100.0             # final j_ei = −100 − N/100
    mean[3] = -200.0 - n / 50.0
    return mean


@pytest.fixture(scope="module")
def scaling_study():
    istdp_runs, pair_runs, delta = [], [], []
    for n in N_VALUES:
        istdp_runs.append(sweep_run(ISTDP_USER, {"N": n},
                                    mean_weight=_final_mean_weight(n),
                                    rates=(9.0, 20.0 + n / 1000), cov=[0.1, 0.2, 0.4]))
        pair_runs.append(sweep_run(PAIR_USER, {"N": n},
                                   mean_weight=_final_mean_weight(n), rates=(10.0, 20.0),
                                   cov=np.array([1.0, 2.0, 4.0]) / n,
                                   diverged_at_s=3.0 if n == 4000 else None))
        delta.append(xr.Dataset(
            {"fixed_point_weight": (("synapse",), [25.0, -110.0 - n / 1000, 112.5, -250.0]),
             "fixed_point_rate": (("population",), [9.5, 21.0]),
             "spike_count_cov": (("pair_type",), [0.09, 0.2, 0.5]),
             "leading_order_fixed_point_weight": (("synapse",), [25.0, -123.7, 112.5, -250.0])},
            coords={"synapse": SYNAPSES, "population": ["E", "I"], "pair_type": PAIRS}
        ).expand_dims({"rule": ["istdp"], "c": [0.1], "seed": [1], "N": [n]}))
    istdp_runs, pair_runs = combine(istdp_runs), combine(pair_runs)
    # the roles' theory jobs add the leading-order fixed points along N (fixed_points:N)
    return (istdp_runs, with_curves(xr.combine_by_coords(delta), istdp_runs, ["fixed_points:N"]),
            pair_runs, with_curves(None, pair_runs, ["fixed_points:N"]))


def test_figS2_simulation_leading_order_and_delta_theory(scaling_study):
    istdp, delta, pair, pair_curves = scaling_study
    fig = registry.FIGURES["figS2_inhibitory_scaling"].draw_function()(
        istdp=ExperimentData(istdp, delta), ei_ii=ExperimentData(pair, pair_curves))
    ax = axes_by_gid(fig, "istdp;weight")
    assert ax.get_xscale() == "log"
    sim = line(ax, "sim-weight|ei")
    np.testing.assert_allclose(sim.get_xdata(), N_VALUES)
    np.testing.assert_allclose(sim.get_ydata(), [-100.0 - n / 100.0 for n in N_VALUES])
    lead = line(ax, "theory-weight|ei")
    assert lead.get_linestyle() == "--"
    # leading order with c = 0.1, τ = 50 ms: N-independent, shifted from −119.66 by K_ei
    np.testing.assert_allclose(lead.get_ydata(), lead.get_ydata()[0])
    assert -130 < lead.get_ydata()[0] < -119.66
    np.testing.assert_allclose(line(ax, "delta-weight|ei").get_ydata(),
                               [-110.0 - n / 1000 for n in N_VALUES])
    rate = axes_by_gid(fig, "istdp;rate")
    np.testing.assert_allclose(line(rate, "sim-rate|I").get_ydata(),
                               [20.0 + n / 1000 for n in N_VALUES])
    cov = axes_by_gid(fig, "istdp;cov")
    theory_cov = line(cov, "theory-cov|ee").get_ydata()
    np.testing.assert_allclose(theory_cov, theory_cov[0])          # O(1) at c = 0.1
    r_e = line(rate, "theory-rate|E").get_ydata()[0] / 1000
    np.testing.assert_allclose(theory_cov[0], 250 * 0.1 * r_e ** 2 / 0.01, rtol=1e-9)
    # EI + II at c = 0: fixed point (−140, −292.5) only at ρ_i = 20 Hz and τ = 200 ms
    pair_weight = axes_by_gid(fig, "ei_ii;weight")
    np.testing.assert_allclose(line(pair_weight, "theory-weight|ii").get_ydata(), -292.5,
                               rtol=1e-4)
    np.testing.assert_allclose(line(pair_weight, "theory-weight|ei").get_ydata(), -140.0,
                               rtol=1e-4)
    assert not [a for a in pair_weight.lines if a.get_gid() == "delta-weight|ei"]
    pair_cov = axes_by_gid(fig, "ei_ii;cov")
    curve = line(pair_cov, "theory-cov|ii")
    x, y = curve.get_xdata(), curve.get_ydata()
    np.testing.assert_allclose(y * x, y[0] * x[0], rtol=1e-9)        # ∝ 1/N at c = 0
    np.testing.assert_allclose(y[0], 250 / x[0] * 0.02 ** 2 / (0.2 * 0.01), rtol=1e-9)
    sim_cov = line(pair_cov, "sim-cov|ii").get_ydata()
    np.testing.assert_allclose(sim_cov[:2], [4.0 / 1000, 4.0 / 2000])
    assert np.isnan(sim_cov[2])                                     # diverged: left out
    assert "N = 4000, seed 1: diverged at 3" in texts(pair_cov, "diverged-text")[0]
