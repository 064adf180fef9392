"""Tests of the covariance-vs-weight figure (figS3) and the count statistics it draws: mean
spike-count covariances of non-plastic networks with correlated input against the
closed forms of spec §6.2, on small synthetic aggregates (:func:`fabricate.sweep_run`).

The theory datasets are what the workflow computes: the closed form at each simulated
weight (per-point theory) and the curve dense in the weight (``count_statistics:…``).
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from balanced_stdp.config import resolve_config, with_dotted
from balanced_stdp.figures import registry
from balanced_stdp.selection import ExperimentData
from balanced_stdp.theory.count_sweep import count_statistics, count_statistics_along
from drawn import axes_by_gid, line, texts
from fabricate import SWEEP_INTERVAL_S as INTERVAL_S
from fabricate import SWEEP_N_TIME as N_TIME
from fabricate import combine, sweep_config, sweep_run, theory, with_curves

PAIRS = ["ee", "ei", "ii"]


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


def workflow_theory(user: dict, key: str, values, runs: xr.Dataset) -> xr.Dataset:
    """The theory aggregate the workflow computes for a sweep of ``key``: the closed form at
    each simulated weight and the curve dense in the weight (``count_statistics:<key>``)."""
    points = combine([theory(sweep_config(user, {key: value}),
                             {"spike_count_cov": _closed_form(user, key, value)})
                      for value in values])
    return with_curves(points, runs, [f"count_statistics:{key}"])


@pytest.fixture(scope="module")
def covariance_sweeps():
    base_jee = {"N": 2000, "duration_s": N_TIME * INTERVAL_S, "c": 0.1, "weights": {"ei": -100.0}}
    base_jei = {"N": 2000, "duration_s": N_TIME * INTERVAL_S, "c": 0.1, "weights": {"ee": 25.0}}
    jee_runs, jei_runs = [], []
    for value in JEE_VALUES:
        # simulated covariances exactly 0.8 × the closed form at each weight
        cov = 0.8 * _closed_form(base_jee, "weights.ee", value)
        jee_runs.append(sweep_run(base_jee, {"weights.ee": value}, cov=cov, rates=(6.0, 16.0),
                                  diverged_at_s=4.0 if value == 20.0 else None))
    for value in JEI_VALUES:
        jei_runs.append(sweep_run(base_jei, {"weights.ei": value},
                                  cov=_closed_form(base_jei, "weights.ei", value)))
    jee, jei = combine(jee_runs), combine(jei_runs)
    return (ExperimentData(jee, workflow_theory(base_jee, "weights.ee", JEE_VALUES, jee)),
            ExperimentData(jei, workflow_theory(base_jei, "weights.ei", JEI_VALUES, jei)),
            base_jee, base_jei)


def test_figS3_points_theory_curve_and_ratios(covariance_sweeps):
    jee, jei, base_jee, _ = covariance_sweeps
    fig = registry.FIGURES["figS3_covariance_vs_weight"].draw_function()(jee=jee, jei=jei)
    ax = axes_by_gid(fig, "jee;cov")
    sim = line(ax, "sim-cov|ei")
    np.testing.assert_allclose(sim.get_xdata(), JEE_VALUES)
    expected = [0.8 * _closed_form(base_jee, "weights.ee", v)[1] for v in JEE_VALUES[:2]]
    np.testing.assert_allclose(sim.get_ydata()[:2], expected, rtol=1e-9)
    assert np.isnan(sim.get_ydata()[2])                 # the diverged run has no statistics
    curve = line(ax, "theory-cov|ii")
    assert curve.get_linestyle() == "--" and len(curve.get_xdata()) > 100
    x, y = curve.get_xdata(), curve.get_ydata()
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
    constant = xr.Dataset({"spike_count_cov": (("weights_ei", "pair_type"),
                                               np.full((2, 3), 2.0))},
                          coords={"weights_ei": list(JEI_VALUES), "pair_type": PAIRS})
    fig = registry.FIGURES["figS3_covariance_vs_weight"].draw_function()(
        jee=jee, jei=ExperimentData(jei.runs, constant))
    ratio = line(axes_by_gid(fig, "jei;ratio"), "ratio|ii")
    sim = line(axes_by_gid(fig, "jei;cov"), "sim-cov|ii").get_ydata()
    np.testing.assert_allclose(ratio.get_ydata(), sim / 2.0)


def test_figS3_caption_and_targets(covariance_sweeps):
    jee, _, _, _ = covariance_sweeps
    text = registry.caption_for("figS3_covariance_vs_weight", jee.runs)
    assert "T_win c r_a r_b / r_x" in text and "ratio" in text
    targets = registry.figure_targets(
        {"figS3_covariance_vs_weight": {"jee": "a", "jei": "b"}}, {"a": [], "b": []})
    assert targets["figS3_covariance_vs_weight"].inputs()["jee_runs"] == ("a", "runs")
