"""The runaway-threshold figure (figures.runaway_threshold, figS4) on fabricated sweeps
whose runaway fractions and thresholds are known."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import fabricate
from balanced_stdp.figures import registry
from balanced_stdp.figures.runaway_threshold import (runaway_fractions,
                                                     simulated_threshold)
from balanced_stdp.selection import ExperimentData
from drawn import axes_by_gid, line, lines

USER = {"duration_s": fabricate.SWEEP_N_TIME * fabricate.SWEEP_INTERVAL_S,
        "weights": {"ee": 1.0, "ei": -100.0},
        "plasticity": {"ee": {"rule": "kohonen", "eta": 2e-2}}}
BETAS = (4.0, 5.0, 6.0, 7.0)
RAN_AWAY = {(1000, 6.0, 2), (1000, 7.0, 1), (1000, 7.0, 2),
            (2000, 5.0, 1), (2000, 6.0, 1), (2000, 6.0, 2), (2000, 7.0, 1), (2000, 7.0, 2)}
"""(N, β₀, seed) of the runs the divergence guard stopped: fractions 0, 0, ½, 1 at
N = 1000 and 0, ½, 1, 1 at N = 2000 — thresholds 6.0 (bracket 5–7) and 5.0 (4–6)."""


@pytest.fixture(scope="module")
def sweep():
    runs = fabricate.combine(
        fabricate.sweep_run(USER, {"N": n, "plasticity.ee.beta0": beta, "c": 0.0, "seed": seed},
                            diverged_at_s=3.0 if (n, beta, seed) in RAN_AWAY else None)
        for n in (1000, 2000) for beta in BETAS for seed in (1, 2))
    along = np.array([1000, 1415, 2000])
    theory = xr.Dataset(
        {"finite_size_runaway_threshold_along": ("along", np.array([6.3, 5.8, 5.4])),
         "leading_order_saddle_node_along": ("along", np.full(3, 8.04))},
        coords={"along": along})
    return ExperimentData(runs, theory, None)


def test_runaway_fractions_and_thresholds(sweep):
    fractions = runaway_fractions(sweep.runs)
    np.testing.assert_allclose(fractions[1000][1], [0, 0, 0.5, 1])
    np.testing.assert_allclose(fractions[2000][1], [0, 0.5, 1, 1])
    assert fractions[1000][2] == 2
    assert simulated_threshold(*fractions[1000][:2]) == (6.0, 5.0, 7.0)
    assert simulated_threshold(*fractions[2000][:2]) == (5.0, 4.0, 6.0)
    # between grid values: 0 → ¾ reaches one half two thirds of the way
    assert simulated_threshold(np.array([1.0, 2.0]), np.array([0.0, 0.75])).estimate == \
        pytest.approx(1.0 + 2.0 / 3.0)
    never = simulated_threshold(np.array([1.0, 2.0]), np.array([0.0, 0.25]))
    assert np.isnan(never.estimate) and never.low == 2.0


def test_figure_draws_simulation_finite_size_and_leading_order(sweep):
    fig = registry.FIGURES["figS4_runaway_threshold"].draw_function()(sweep=sweep)
    fraction = axes_by_gid(fig, "fraction")
    np.testing.assert_allclose(line(fraction, "sim-fraction|N=2000").get_ydata(), [0, 0.5, 1, 1])
    assert line(fraction, "fs-threshold|N=1000").get_xdata()[0] == pytest.approx(6.3)
    assert line(fraction, "fs-threshold|N=2000").get_xdata()[0] == pytest.approx(5.4)
    assert line(fraction, "lo-saddle-node").get_xdata()[0] == pytest.approx(8.04)
    threshold = axes_by_gid(fig, "threshold")
    sim = line(threshold, "sim-threshold")
    np.testing.assert_allclose(sim.get_xdata(), [1000, 2000])
    np.testing.assert_allclose(sim.get_ydata(), [6.0, 5.0])
    np.testing.assert_allclose(line(threshold, "fs-threshold").get_ydata(), [6.3, 5.8, 5.4])
    assert lines(threshold, "lo-saddle-node")
    spec = registry.FIGURES["figS4_runaway_threshold"]
    assert spec.theory_curves == {"sweep": ("runaway_threshold:N",)}
    assert "finite-size" in spec.caption_text(None)


def test_figure_needs_a_sweep_over_n_and_beta(sweep):
    draw = registry.FIGURES["figS4_runaway_threshold"].draw_function()
    one_n = ExperimentData(sweep.runs.sel(N=[1000]).squeeze("N", drop=True), None, None)
    with pytest.raises(ValueError, match="must sweep N"):
        draw(sweep=one_n)
    empty = draw(sweep=None)
    assert axes_by_gid(empty, "threshold").texts
