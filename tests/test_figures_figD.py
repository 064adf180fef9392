"""Tests of the figD figures (figS3 covariances vs weight, fig12 EI + II iSTDP, figS2
inhibitory scaling with N) on small synthetic aggregates following the data contract.

Each run dataset is fabricated with known values, combined with the workflow's
aggregation, drawn, and the artists (found by ``gid``) are compared with those values
and with the spec's reference numbers (spec §9).
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from balanced_stdp import aggregate
from balanced_stdp.config import config_to_json, resolve_config, with_dotted
from balanced_stdp.contract import dimension_name
from balanced_stdp.figures import registry
from balanced_stdp.figures.registry import ExperimentData
from balanced_stdp.theory.count_sweep import count_statistics, count_statistics_along

PAIRS = ["ee", "ei", "ii"]
SYNAPSES = ["ee", "ei", "ie", "ii"]
INTERVAL_S = 0.5
N_TIME = 20
N_SAMPLE = 60


def axes_by_gid(fig, gid):
    found = [ax for ax in fig.axes if ax.get_gid() == gid]
    assert len(found) == 1, f"expected one axes with gid {gid!r}, found {len(found)}"
    return found[0]


def line(ax, gid):
    found = [a for a in ax.lines if a.get_gid() == gid]
    assert len(found) == 1, f"expected one line {gid!r}, found {len(found)}"
    return found[0]


def lines(ax, gid):
    return [a for a in ax.lines if a.get_gid() == gid]


def texts(ax, gid):
    return [t.get_text() for t in ax.texts if t.get_gid() == gid]


def make_run(user: dict, sweep: dict, *, rule: str = "none", cov=None, rates=(5.0, 15.0),
             mean_weight=None, sampled_weight=None, diverged_at_s: float | None = None
             ) -> xr.Dataset:
    """One run dataset: ``user`` config, the swept ``{key: value}`` and known values.

    A diverged run has NaN after ``diverged_at_s`` and a time axis ending there.
    """
    config = dict(user)
    for key, value in sweep.items():
        config = with_dotted(resolve_config(config), key, value)
    config["sweep_dims"] = [k for k in sweep if k not in ("c", "seed")]
    config = resolve_config(config)
    time_s = INTERVAL_S * np.arange(1, N_TIME + 1)
    cov = np.array([0.1, 0.2, 0.5]) if cov is None else np.asarray(cov, float)
    mean_weight = np.zeros((4, N_TIME)) if mean_weight is None else mean_weight
    sampled_weight = np.zeros((4, N_SAMPLE, N_TIME)) if sampled_weight is None \
        else sampled_weight
    population_rate = np.array(rates, float)[:, None] * np.ones(N_TIME)
    mean_input = np.zeros((2, 4, N_TIME))
    mean_input[:, 0], mean_input[:, 1], mean_input[:, 2] = 10.0, -14.0, 5.0
    mean_input[:, 3] = 1.0
    ds = xr.Dataset(
        {"population_rate": (("population", "time"), population_rate, {"units": "Hz"}),
         "mean_weight": (("synapse", "time"), mean_weight, {"units": "mV"}),
         "sampled_weight": (("synapse", "sample", "time"), sampled_weight, {"units": "mV"}),
         "mean_input": (("population", "source", "time"), mean_input, {"units": "mV/ms"}),
         "spike_count_cov": (("pair_type",), cov, {"units": "spikes2"}),
         "spike_count_corr": (("pair_type",), cov / 5.0, {"units": "1"}),
         "spike_count_var": (("population",), [2.0, 8.0], {"units": "spikes2"}),
         "diverged": ((), np.int8(diverged_at_s is not None)),
         "diverged_at_s": ((), np.nan if diverged_at_s is None else diverged_at_s)},
        coords={"time": time_s, "population": ["E", "I"], "synapse": SYNAPSES,
                "source": ["E", "I", "X", "total"], "pair_type": PAIRS,
                "sample": np.arange(N_SAMPLE)})
    swept = {"rule": [rule], "c": [float(config["c"])], "seed": [int(config["seed"])]}
    swept.update({dimension_name(k): [float(v)] for k, v in sweep.items()
                  if k not in ("c", "seed")})
    ds = ds.expand_dims(swept)
    if diverged_at_s is not None:
        stopped = ds["time"] > diverged_at_s
        ds = ds.sel(time=~stopped.values)
        ds["spike_count_cov"] = ds["spike_count_cov"] * np.nan
    ds.attrs = {"config": config_to_json(config), "rule": rule, "seed": int(config["seed"]),
                "status": "diverged" if diverged_at_s else "ok"}
    return ds


# ----------------------------------------------------------------------------- theory helper
def test_count_statistics_reproduce_spec_reference_numbers():
    rates, cov, corr = count_statistics(resolve_config({"c": 0.1, "N": 2000}))
    np.testing.assert_allclose(rates, [5.824, 15.882], atol=1e-3)
    np.testing.assert_allclose(cov, [0.08478, 0.23123, 0.63062], rtol=1e-4)
    np.testing.assert_allclose(corr, 0.1 * np.sqrt([rates[0] ** 2, rates[0] * rates[1],
                                                    rates[1] ** 2]) / 10.0, rtol=1e-9)
    _, cov0, _ = count_statistics(resolve_config({"c": 0.0, "N": 5000}))
    np.testing.assert_allclose(cov0, [8.478e-4, 2.312e-3, 6.306e-3], rtol=1e-3)
    sweep = count_statistics_along({"c": 0.1, "weights": {"ei": -100.0}}, "weights.ee", [1.0])
    np.testing.assert_allclose(sweep["balanced_rate"].values[0], [7.16, 18.29], atol=0.01)


# ----------------------------------------------------------------------------- figS3
JEE_VALUES = (1.0, 10.0, 20.0)
JEI_VALUES = (-150.0, -100.0)


def _closed_form(config_user: dict, key: str, value: float) -> np.ndarray:
    return count_statistics(resolve_config(with_dotted(resolve_config(config_user), key,
                                                       value)))[1]


@pytest.fixture(scope="module")
def covariance_sweeps():
    base_jee = {"N": 2000, "duration_s": N_TIME * INTERVAL_S, "c": 0.1, "weights": {"ei": -100.0}}
    base_jei = {"N": 2000, "duration_s": N_TIME * INTERVAL_S, "c": 0.1, "weights": {"ee": 25.0}}
    jee_runs, jei_runs = [], []
    for value in JEE_VALUES:
        # simulated covariances exactly 0.8 × the closed form at each weight
        cov = 0.8 * _closed_form(base_jee, "weights.ee", value)
        jee_runs.append(make_run(base_jee, {"weights.ee": value}, cov=cov, rates=(6.0, 16.0),
                                 diverged_at_s=4.0 if value == 20.0 else None))
    for value in JEI_VALUES:
        jei_runs.append(make_run(base_jei, {"weights.ei": value},
                                 cov=_closed_form(base_jei, "weights.ei", value)))
    return (aggregate.combine(jee_runs), aggregate.combine(jei_runs), base_jee, base_jei)


def test_figS3_points_theory_curve_and_ratios(covariance_sweeps):
    jee, jei, base_jee, _ = covariance_sweeps
    fig = registry.FIGURES["figS3_covariance_vs_weight"].draw(
        jee=ExperimentData(jee, None), jei=ExperimentData(jei, None))
    ax = axes_by_gid(fig, "jee;cov")
    sim = line(ax, "sim-cov|ei")
    np.testing.assert_allclose(sim.get_xdata(), JEE_VALUES)
    expected = [0.8 * _closed_form(base_jee, "weights.ee", v)[1] for v in JEE_VALUES[:2]]
    np.testing.assert_allclose(sim.get_ydata()[:2], expected, rtol=1e-9)
    assert np.isnan(sim.get_ydata()[2])                 # the diverged run has no statistics
    theory = line(ax, "theory-cov|ii")
    assert theory.get_linestyle() == "--" and len(theory.get_xdata()) > 100
    x, y = theory.get_xdata(), theory.get_ydata()
    # closed form C_ii = T_win c r_i² / r_x with r_i = (0.81 − 0.0054 j)/(45 − j) kHz
    r_i = (0.81 - 0.0054 * x) / (45.0 - x)
    np.testing.assert_allclose(y, 250.0 * 0.1 * r_i ** 2 / 0.01, rtol=1e-9)
    ratio = line(axes_by_gid(fig, "jee;ratio"), "ratio|ee")
    np.testing.assert_allclose(ratio.get_ydata()[:2], 0.8, rtol=1e-6)
    # theory covariance over the measured count variances (fabricated: Var_E 2, Var_I 8)
    over_var = line(axes_by_gid(fig, "jee;corr"), "theory-corr-var|ei")
    theory_ei = [_closed_form(base_jee, "weights.ee", v)[1] for v in JEE_VALUES[:2]]
    np.testing.assert_allclose(over_var.get_ydata()[:2], np.array(theory_ei) / 4.0, rtol=1e-9)
    (text,) = texts(axes_by_gid(fig, "jee;ratio"), "ratio-text")
    assert "$C_{ee}$: 0.80 (0.80–0.80)" in text
    (text,) = texts(axes_by_gid(fig, "jei;ratio"), "ratio-text")
    assert "$C_{ii}$: 1.00" in text
    (diverged,) = texts(ax, "diverged-text")
    assert "seed 1: diverged at 4" in diverged and "20" in diverged
    assert any(a.get_gid() == "diverged-at" and a.get_xdata()[0] == 20.0 for a in ax.lines)
    corr = line(axes_by_gid(fig, "jei;corr"), "theory-corr|ee")
    np.testing.assert_allclose(corr.get_xdata()[[0, -1]], [-150.0, -100.0])


def test_figS3_theory_aggregate_sets_the_ratio(covariance_sweeps):
    jee, jei, _, _ = covariance_sweeps
    theory = xr.Dataset({"spike_count_cov": (("weights_ei", "pair_type"),
                                             np.full((2, 3), 2.0))},
                        coords={"weights_ei": list(JEI_VALUES), "pair_type": PAIRS})
    fig = registry.FIGURES["figS3_covariance_vs_weight"].draw(
        jee=ExperimentData(jee, None), jei=ExperimentData(jei, theory))
    ratio = line(axes_by_gid(fig, "jei;ratio"), "ratio|ii")
    sim = line(axes_by_gid(fig, "jei;cov"), "sim-cov|ii").get_ydata()
    np.testing.assert_allclose(ratio.get_ydata(), sim / 2.0)


def test_figS3_caption_and_targets(covariance_sweeps):
    jee, _, _, _ = covariance_sweeps
    text = registry.caption_for("figS3_covariance_vs_weight", jee)
    assert "T_win c r_a r_b / r_x" in text and "ratio" in text
    targets = registry.figure_targets(
        {"figS3_covariance_vs_weight": {"jee": "a", "jei": "b"}}, {"a": [], "b": []})
    assert targets["figS3_covariance_vs_weight"].inputs()["jee_runs"] == ("a", "runs")


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
            runs.append(make_run(EI_II_USER, {"plasticity.ei.eta": eta_ei,
                                              "plasticity.ii.eta": eta_ii},
                                 rule=EI_II_RULE, mean_weight=mean, sampled_weight=sampled,
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
    return aggregate.combine(runs), xr.combine_by_coords(theories)


def test_fig12_columns_weights_theory_and_targets(ei_ii_study):
    runs, theory = ei_ii_study
    fig = registry.FIGURES["fig12_inhibitory_pair"].draw(variants=ExperimentData(runs, theory))
    slow_slow = "eta_ei=0.005;eta_ii=0.005"
    ax = axes_by_gid(fig, f"{slow_slow};ei")
    assert "Equal η (slow)" in ax.get_title() and "stable focus" in ax.get_title()
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
    assert "Slow EI" in axes_by_gid(fig, f"{slow_ei};ei").get_title()
    assert "unstable" in axes_by_gid(fig, f"{slow_ei};ei").get_title()
    for row in ("ei", "ii", "input", "rate"):
        ax = axes_by_gid(fig, f"{slow_ei};{row}")
        assert texts(ax, "diverged-text") == ["seed 1: diverged at 4 s"]
        assert line(ax, "diverged-at").get_xdata()[0] == pytest.approx(4.0)
    assert "Slow II" in axes_by_gid(fig, "eta_ei=0.05;eta_ii=0.005;ei").get_title()
    runaway = axes_by_gid(fig, "eta_ei=0.05;eta_ii=0.005;ii")
    assert texts(runaway, "runaway-text") == ["mean ran away at 6 s\n(|j̄| up to 1.0e+06 mV)"]
    assert runaway.get_ylim()[0] > -2.0 * 254.3 - 60          # axis bounded, not to −1e6
    rate_row = axes_by_gid(fig, "eta_ei=0.05;eta_ii=0.005;rate")
    assert line(rate_row, "runaway-at").get_xdata()[0] == pytest.approx(6.0)
    assert not texts(axes_by_gid(fig, f"{slow_slow};ii"), "runaway-text")
    assert "Equal η (fast)" in axes_by_gid(fig, "eta_ei=0.05;eta_ii=0.05;ei").get_title()
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
        istdp_runs.append(make_run(ISTDP_USER, {"N": n}, rule="istdp",
                                   mean_weight=_final_mean_weight(n),
                                   rates=(9.0, 20.0 + n / 1000), cov=[0.1, 0.2, 0.4]))
        pair_runs.append(make_run(PAIR_USER, {"N": n}, rule=EI_II_RULE,
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
    return (aggregate.combine(istdp_runs), xr.combine_by_coords(delta),
            aggregate.combine(pair_runs))


def test_figS2_simulation_leading_order_and_delta_theory(scaling_study):
    istdp, delta, pair = scaling_study
    fig = registry.FIGURES["figS2_inhibitory_scaling"].draw(
        istdp=ExperimentData(istdp, delta), ei_ii=ExperimentData(pair, None))
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


def test_check_figures_accepts_role_figures_of_non_plastic_experiments():
    from balanced_stdp.study import StudyConfigError, check_figures
    grids = {"static": {"p": resolve_config({})}}
    config = {"figures": {"figS3_covariance_vs_weight": {"jee": "static", "jei": "static"},
                          "weight_manifold": []}}
    check_figures(config, grids)
    config["figures"]["weight_dynamics"] = ["static"]      # a per-experiment figure still is
    with pytest.raises(StudyConfigError, match="has no plastic synapses"):
        check_figures(config, grids)
