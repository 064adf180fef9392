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
from balanced_stdp.figures.common import plot_finite_size
from balanced_stdp.figures.registry import ExperimentData
from balanced_stdp.figures.style import FINITE_SIZE_LABEL, FINITE_SIZE_STYLE, new_figure

import test_figures as base
import test_figures_figB as figb

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
    theory = base.combine([base.make_theory("kohonen", c, s) for c in (0.0, 0.5)
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
    fig = registry.FIGURES["fig03_kohonen_statistics"].draw(main=data)
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
    fig = registry.FIGURES["fig11_mean_field_transients"].draw(**data)
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
