"""Figures draw the finite-size theory (issue 12) next to the leading-order / Δ-corrected one.

Each figure is drawn from small fabricated aggregates plus a finite-size theory aggregate
with known, distinct values; the dash-dot lines read back by gid must carry exactly those
values and the label "finite-size theory", and nothing is drawn without the aggregate.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from balanced_stdp.figures import registry
from balanced_stdp.figures.panels import plot_finite_size
from balanced_stdp.selection import ExperimentData
from balanced_stdp.figures.labels import FINITE_SIZE_LABEL
from balanced_stdp.figures.style import FINITE_SIZE_STYLE, new_figure

import test_figures as base
import test_figures_per_rule as figb
from fabricate import combine, rule_run, rule_theory

SHIFT = 3.25
"""The fabricated finite-size theory: the leading-order theory's weights + SHIFT mV and
rates + SHIFT Hz."""


def finite_size_of(theory: xr.Dataset) -> xr.Dataset:
    out = theory.copy(deep=True)
    for name in ("mean_weight", "fixed_point_weight", "fixed_point_rate"):
        if name in out:
            out[name] = out[name] + SHIFT
    out.attrs["theory_order"] = "finite_size"
    return out


def lines_with(ax, gid):
    return [a for a in ax.lines if a.get_gid() == gid]


def only_line(ax, gid):
    found = lines_with(ax, gid)
    assert len(found) == 1, (gid, [a.get_gid() for a in ax.lines])
    return found[0]


def assert_finite_size_style(line):
    assert line.get_linestyle() == FINITE_SIZE_STYLE["linestyle"]
    assert line.get_color() == FINITE_SIZE_STYLE["color"]


# ----------------------------------------------------------------------------- the helper
def test_helper_draws_time_courses_sweeps_and_values_and_nothing_without_data():
    theory = combine([rule_theory("kohonen", c, s) for c in (0.0, 0.5)
                      for s in (1, 2)])
    finite = finite_size_of(theory)
    fig = new_figure(4, 3)
    ax = fig.subplots()
    key = {"rule": "kohonen", "c": 0.5}
    drawn = plot_finite_size(ax, finite, "mean_weight", key, synapse="ee")
    line = only_line(ax, "finite-size-mean_weight")
    expected = theory["mean_weight"].sel(rule="kohonen", c=0.5, synapse="ee").isel(seed=0)
    np.testing.assert_allclose(line.get_ydata(), expected.values + SHIFT)
    np.testing.assert_allclose(line.get_xdata(), expected["time"].values)
    assert line.get_label() == FINITE_SIZE_LABEL and drawn is not None
    assert_finite_size_style(line)
    plot_finite_size(ax, finite, "fixed_point_weight", {"rule": "kohonen"}, along="c",
                     at=[0.0, 0.25, 0.5], synapse="ee", gid="vs-c")
    vs_c = only_line(ax, "vs-c")
    np.testing.assert_allclose(vs_c.get_xdata(), [0.0, 0.5])     # 0.25: no theory, skipped
    np.testing.assert_allclose(vs_c.get_ydata(), [2.5 + 1.0 + SHIFT, 2.5 + 1.5 + 1.0 + SHIFT])
    plot_finite_size(ax, finite, "fixed_point_rate", key, vertical=True, population="I",
                     gid="rate")
    assert only_line(ax, "rate").get_xdata()[0] == pytest.approx(23.4 - 0.5 + SHIFT)
    n_lines = len(ax.lines)
    assert plot_finite_size(ax, None, "mean_weight", key, synapse="ee") is None
    assert plot_finite_size(ax, finite, "no_such_variable", key) is None
    assert len(ax.lines) == n_lines


def test_helper_skips_a_fixed_point_the_theory_calls_unstable():
    data = figb.experiment("kohonen", stability="unstable saddle")
    fig = new_figure(4, 3)
    ax = fig.subplots()
    assert plot_finite_size(ax, finite_size_of(data.theory), "fixed_point_weight",
                            {"rule": "kohonen", "c": 0.0}, synapse="ee") is None
    assert len(ax.lines) == 0


# ----------------------------------------------------------------------------- figures
def test_weight_dynamics_overlays_the_finite_size_trajectory_and_fixed_points(study):
    _, aggregate_ds, theory = study
    finite = finite_size_of(theory)
    target = registry.figure_targets({"weight_dynamics": ["kohonen"]},
                                     {"kohonen": ["ee"]})["weight_dynamics_kohonen_ee"]
    assert target.inputs()["finite_size"] == ("kohonen", "finite_size")
    fig = target.draw({"runs": aggregate_ds, "theory": theory, "finite_size": finite})
    ax = base.axes_by_gid(fig, "rule=kohonen;c=0.5")
    reference = theory["mean_weight"].sel(rule="kohonen", c=0.5, synapse="ee").isel(seed=0)
    trajectory = only_line(ax, "finite-size-mean_weight")
    np.testing.assert_allclose(trajectory.get_ydata(), reference.values + SHIFT)
    assert_finite_size_style(trajectory)
    assert only_line(ax, "finite-size-fixed-point").get_ydata()[0] == pytest.approx(
        2.5 + 1.5 + 1.0 + SHIFT)
    assert "leading-order" in only_line(ax, "theory-ode").get_label()
    final_ax = base.axes_by_gid(fig, "rule=kohonen;final-vs-c")
    vs_c = only_line(final_ax, "finite-size-vs-c")
    np.testing.assert_allclose(vs_c.get_ydata(), [2.5 + 1.0 + SHIFT, 2.5 + 1.5 + 1.0 + SHIFT])
    labels = {h.get_label() for h in fig.legends[0].legend_handles} if fig.legends else set()
    assert any("finite-size" in label for label in labels) or "finite-size" in \
        trajectory.get_label()
    # without the aggregate (finite_size_theory: false) the figure has no such line
    plain = target.draw({"runs": aggregate_ds, "theory": theory})
    assert not lines_with(base.axes_by_gid(plain, "rule=kohonen;c=0.5"),
                          "finite-size-mean_weight")


def test_statistics_figure_marks_the_finite_size_theory():
    data = figb.experiment("kohonen", c_values=(0.0, 0.1))
    data = ExperimentData(data.runs, data.theory, finite_size_of(data.theory))
    fig = registry.FIGURES["fig03_kohonen_statistics"].draw_function()(main=data)
    axes = figb.axes_by_gid(fig)
    trajectory = only_line(axes["traces"], "finite-size-mean_weight")
    expected = data.theory["mean_weight"].sel(rule="kohonen", c=0.0, synapse="ee").isel(seed=0)
    np.testing.assert_allclose(trajectory.get_ydata(), expected.values + SHIFT)
    assert figb.hline_y(axes["traces"], "finite-size-fixed-point") == pytest.approx(
        7.0 + SHIFT)
    assert figb.vline_x(axes["final-weights"], "finite-size-fixed-point") == pytest.approx(
        7.0 + SHIFT)
    assert figb.vline_x(axes["rates|E"], "finite-size-rate") == pytest.approx(10.0 + SHIFT)
    assert figb.vline_x(axes["rates|I"], "finite-size-rate") == pytest.approx(23.4 + SHIFT)
    assert "finite-size" in only_line(axes["rates|I"], "finite-size-rate").get_label()


def test_transients_overlay_and_print_the_finite_size_theory():
    data = {role: figb.experiment(rule) for role, rule in
            (("soft", "soft_hebbian"), ("kohonen", "kohonen"), ("istdp", "istdp"))}
    data["kohonen"] = ExperimentData(data["kohonen"].runs, data["kohonen"].theory,
                                     finite_size_of(data["kohonen"].theory))
    fig = registry.FIGURES["fig11_mean_field_transients"].draw_function()(**data)
    axes = figb.axes_by_gid(fig)
    ax = axes["transient|kohonen"]
    expected = data["kohonen"].theory["mean_weight"].sel(c=0.0, synapse="ee").isel(
        rule=0, seed=0)
    np.testing.assert_allclose(only_line(ax, "finite-size-mean_weight").get_ydata(),
                               expected.values + SHIFT)
    assert figb.hline_y(ax, "finite-size-fixed-point") == pytest.approx(7.0 + SHIFT)
    (text,) = figb.artists(ax, "final-vs-theory")
    assert f"finite-size theory: {7.0 + SHIFT:.3g} mV" in text.get_text()
    assert not lines_with(axes["transient|soft"], "finite-size-mean_weight")


@pytest.fixture(scope="module")
def study():
    return base.study.__wrapped__()


# ----------------------------------------------------------------------------- paper figures
def test_fig02_final_vs_beta_draws_the_finite_size_fixed_point_per_beta():
    import test_figures_kohonen as figa
    from balanced_stdp.figures import kohonen_stability
    sweep = figa.stability_data(figa.SWEEP_BETAS, (1,), figa.SWEEP_DIVERGED)
    finite = finite_size_of(sweep.theory)
    fig = kohonen_stability.plot_kohonen_stability(
        ExperimentData(sweep.runs, sweep.theory, finite))
    line = only_line(figa.axes_by_gid(fig, "final-vs-beta"), "finite-size-fixed-point")
    np.testing.assert_allclose(line.get_xdata(), figa.SWEEP_BETAS)
    np.testing.assert_allclose(line.get_ydata(), [figa.leading_order_j_star(b) + SHIFT
                                                  for b in figa.SWEEP_BETAS])
    assert line.get_label() == "j*(β₀), finite-size theory"
    assert line.get_color() == FINITE_SIZE_STYLE["color"]      # a fixed point: dotted
    assert line.get_linestyle() != FINITE_SIZE_STYLE["linestyle"]


def test_fig01_rates_and_weight_against_the_finite_size_theory_per_n():
    import test_figures_kohonen as figa
    from balanced_stdp.figures import network_scaling
    runs = combine([figa.scaling_run(n, s) for n in figa.N_VALUES for s in (1, 2)])
    theories = combine([figa.scaling_theory(n) for n in figa.N_VALUES])
    finite = finite_size_of(theories)
    finite["fixed_point_rate"] = finite["fixed_point_rate"] + 0.01 * finite["N"]  # N-dependent
    fig = network_scaling.plot_network_scaling(ExperimentData(runs, theories, finite))
    rates = figa.axes_by_gid(fig, "rates-vs-N")
    line = only_line(rates, "finite-size-rate-I")
    np.testing.assert_allclose(line.get_xdata(), figa.N_VALUES)
    np.testing.assert_allclose(line.get_ydata(), [18.9 + SHIFT + 0.01 * n for n in figa.N_VALUES])
    weight = figa.axes_by_gid(fig, "weight-vs-time")
    for n in figa.N_VALUES:
        assert only_line(weight, f"finite-size-fixed-point-N={n}").get_ydata()[0] == \
            pytest.approx(3.0 + SHIFT)


def test_figS1_draws_the_finite_size_fixed_point_vs_c_per_n():
    import test_figures_kohonen as figa
    from balanced_stdp.figures import correlation_dependence
    kohonen = figa.correlation_runs({"rule": "kohonen", "eta": 0.05, "beta0": 2.0}, 5.0,
                                    (3.0, 3.4, 3.8))
    theories = []
    for n in (100, 200):
        for c in figa.S1_C:
            cfg = figa.kohonen_config(c=c, n=n, sweep=["N"])
            theories.append(figa.point_theory(cfg, {"fixed_point_weight": 3.0 + c + n / 1000}))
    finite = combine(theories)
    fig = correlation_dependence.plot_correlation_dependence(
        ExperimentData(kohonen.runs, None, finite), None)
    ax = figa.axes_by_gid(fig, "final-vs-c-kohonen")
    for n in (100, 200):
        line = only_line(ax, f"finite-size-N={n}")
        np.testing.assert_allclose(line.get_xdata(), figa.S1_C)
        np.testing.assert_allclose(line.get_ydata(), [3.0 + c + n / 1000 for c in figa.S1_C])
        assert "finite-size theory" in line.get_label()


def test_fig08b_overlays_the_finite_size_ode_per_eta():
    import test_figures_timescale as figc
    data = {"kohonen": figc.timescale_data("kohonen"), "soft": figc.timescale_data("soft_hebbian"),
            "istdp": figc.timescale_data("istdp")}
    data["kohonen"] = ExperimentData(data["kohonen"].runs, data["kohonen"].theory,
                                     finite_size_of(data["kohonen"].theory))
    fig = registry.FIGURES["fig08b_timescale_separation"].draw_function()(**data)
    lines = [a for ax in fig.axes for a in ax.lines
             if str(a.get_gid()).startswith("finite-size|eta=")]
    assert len(lines) == len(figc.ETAS)
    reference = data["kohonen"].theory["mean_weight"].sel(synapse="ee").isel(
        rule=0, c=0, seed=0, plasticity_ee_eta=0)
    np.testing.assert_allclose(lines[0].get_ydata(), reference.values + SHIFT)
    legends = [text.get_text() for ax in fig.axes if ax.get_legend()
               for text in ax.get_legend().get_texts()]
    assert "finite-size theory, same η" in legends


def test_fig07_final_vs_initial_draws_the_finite_size_fixed_point():
    import test_figures_istdp as figc
    runs = {(c, w): rule_run("istdp", c, 1, weights_ei=w) for c in (0.0,)
            for w in figc.INITIAL}
    theory = combine([figc.manifold_theory(0.0, w) for w in figc.INITIAL])
    sweep = ExperimentData(combine(list(runs.values())), theory, finite_size_of(theory))
    fig = registry.FIGURES["fig07_istdp_manifold"].draw_function()(sweep=sweep)
    ax = base.axes_by_gid(fig, "fig7-D")
    line = only_line(ax, "finite-size-fixed-point")
    np.testing.assert_allclose(line.get_xdata(), figc.INITIAL)
    expected = theory["fixed_point_weight"].sel(synapse="ei").mean(["rule", "c", "seed"])
    np.testing.assert_allclose(line.get_ydata(), expected.values + SHIFT)
