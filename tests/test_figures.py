"""Tests of the figures package on small synthetic aggregates that follow the data contract:
seed statistics, the per-experiment diagnostics (weight dynamics, balance, rate–weight,
weight manifold), learning windows, saving, captions and the figure registry.

Run datasets with known values (:func:`fabricate.rule_run`) are combined with the
workflow's aggregation (:func:`balanced_stdp.aggregate.combine`, i.e.
``xr.combine_by_coords`` with an outer join), and the tests read back what was drawn
(artists carry gids) and compare it with statistics computed here directly from the
fabricated arrays.
"""

from __future__ import annotations

import math
import re
import struct

import matplotlib as mpl
import matplotlib.pyplot as plt
from matplotlib.figure import Figure
import numpy as np
import pytest
import xarray as xr

from balanced_stdp import estimators, figures
from balanced_stdp.figures import registry, weight_dynamics
from balanced_stdp.plasticity import SPEC_LEARNING_WINDOWS, rule_parameter_defaults
from balanced_stdp.selection import ExperimentData, rule_synapses
from drawn import title
from fabricate import INTERVAL_S, N_SAMPLE, N_TIME, combine, rule_run, rule_theory


def combine_by_coords_raw(datasets, combine_attrs="drop_conflicts") -> xr.Dataset:
    """Plain ``xr.combine_by_coords`` (as a user might aggregate by hand)."""
    return xr.combine_by_coords(datasets, combine_attrs=combine_attrs, data_vars="all",
                                coords="different", compat="no_conflicts", join="outer")


SEEDS = (1, 2, 3)
C_VALUES = (0.0, 0.5)
DIVERGED = {("classical_hebbian", 0.5, 2): 7.3}


@pytest.fixture(scope="module")
def study():
    """Kohonen, iSTDP and classical Hebbian over c and seeds; one classical run diverged."""
    runs, theories = {}, []
    for rule in ("kohonen", "istdp", "classical_hebbian"):
        for c in C_VALUES:
            for seed in SEEDS:
                runs[rule, c, seed] = rule_run(rule, c, seed,
                                               diverged_at_s=DIVERGED.get((rule, c, seed)))
                theories.append(rule_theory(rule, c, seed))
    return runs, combine(list(runs.values())), combine(theories)


def test_aggregate_of_unaligned_time_axes_is_rejected():
    full = rule_run("classical_hebbian", 0.5, 1)
    truncated = rule_run("classical_hebbian", 0.5, 2).isel(time=slice(0, 14))
    with pytest.raises(ValueError, match="reindexing each to the full time grid"):
        figures.plot_balance(combine_by_coords_raw([full, truncated]), None)


def axes_by_gid(fig, gid):
    found = [ax for ax in fig.axes if ax.get_gid() == gid]
    assert len(found) == 1, f"expected one axes with gid {gid!r}, found {len(found)}"
    return found[0]


def artists(ax, gid):
    return [a for a in ax.get_children() if a.get_gid() == gid]


def line(ax, gid):
    found = [a for a in ax.lines if a.get_gid() == gid]
    assert len(found) == 1, f"expected one line {gid!r}, found {len(found)}"
    return found[0]


def texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts]


# ----------------------------------------------------------------------------- statistics
def test_running_mean_drops_stopped_runs_and_off_grid_points():
    nan = np.nan
    values = np.array([[1.0, 2.0, nan, 3.0],
                       [3.0, 4.0, nan, 5.0],
                       [5.0, 9.0, 7.0, nan]])       # run 3 stopped at an off-grid time
    mean, sd, n = estimators.running_mean(values)
    np.testing.assert_allclose(mean, [3.0, 5.0, nan, 4.0])
    np.testing.assert_allclose(sd, [2.0, np.std([2, 4, 9], ddof=1), nan, math.sqrt(2.0)])
    np.testing.assert_array_equal(n, [3, 3, 3, 2])


def test_final_values_take_last_finite_and_drop_diverged():
    values = np.array([[1.0, 2.0, np.nan], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])
    np.testing.assert_allclose(estimators.final_values(values, [False, False, True]),
                               [2.0, 6.0, np.nan])


# ----------------------------------------------------------------------------- weight dynamics
def test_weight_dynamics_lines_equal_seed_mean_and_theory(study):
    runs, aggregate, theory = study
    fig = figures.plot_weight_dynamics(aggregate, theory, "ee")
    ax = axes_by_gid(fig, "rule=kohonen;c=0.5")
    expected = np.mean([runs["kohonen", 0.5, s]["mean_weight"].sel(synapse="ee").values.ravel()
                        for s in SEEDS], axis=0)
    sim = line(ax, "sim-mean")
    np.testing.assert_allclose(sim.get_xdata(), INTERVAL_S * np.arange(1, N_TIME + 1))
    np.testing.assert_allclose(sim.get_ydata(), expected, rtol=1e-12)
    ode = line(ax, "theory-ode")
    reference = theory["mean_weight"].sel(rule="kohonen", c=0.5, synapse="ee").isel(seed=0)
    np.testing.assert_allclose(ode.get_ydata(), reference.values)
    assert ode.get_linestyle() == "--"
    fixed = line(ax, "theory-fixed-point")
    assert fixed.get_ydata()[0] == pytest.approx(2.5 + 1.5 + 1.0)
    sampled = [a for a in ax.lines if a.get_gid() == "sampled-trace"]
    assert len(sampled) == weight_dynamics.TRACES.n_traces
    first = runs["kohonen", 0.5, 1]["sampled_weight"].sel(synapse="ee").values.reshape(
        N_SAMPLE, -1)[0]
    np.testing.assert_allclose(sampled[0].get_ydata(), first)
    assert "Exc weight" in ax.get_ylabel() and "(mV)" in ax.get_ylabel()
    rows = {ax.get_gid().split(";")[0] for ax in fig.axes if ax.get_gid()}
    assert rows == {"rule=kohonen", "rule=classical_hebbian"}     # EE is not plastic in iSTDP
    assert ax.get_xlabel() == "Time (s)"


def test_final_weight_vs_c_errorbars_are_mean_and_sd_over_seeds(study):
    runs, aggregate, theory = study
    fig = figures.plot_weight_dynamics(aggregate, theory, "ei")
    ax = axes_by_gid(fig, "rule=istdp;final-vs-c")
    finals = np.array([[runs["istdp", c, s]["mean_weight"].sel(synapse="ei").values.ravel()[-1]
                        for s in SEEDS] for c in C_VALUES])
    mean_line = line(ax, "final-mean")
    np.testing.assert_allclose(mean_line.get_xdata(), C_VALUES)
    np.testing.assert_allclose(mean_line.get_ydata(), finals.mean(axis=1), rtol=1e-12)
    (bars,) = artists(ax, "final-sd")
    half_lengths = [abs(seg[1, 1] - seg[0, 1]) / 2 for seg in bars.get_segments()]
    np.testing.assert_allclose(half_lengths, finals.std(axis=1, ddof=1), rtol=1e-10)
    theory_line = line(ax, "theory-vs-c")
    np.testing.assert_allclose(theory_line.get_ydata(), [2.5 + 1.0 + 10, 2.5 + 1.5 + 1.0 + 10])


def test_diverged_run_is_annotated_and_left_out_of_final_values(study):
    runs, aggregate, theory = study
    fig = figures.plot_weight_dynamics(aggregate, theory, "ee")
    ax = axes_by_gid(fig, "rule=classical_hebbian;c=0.5")
    assert "seed 2: diverged at 7.3 s" in [t.get_text() for t in ax.texts]
    (marker,) = [a for a in ax.lines if a.get_gid() == "diverged-at"]
    assert marker.get_xdata()[0] == pytest.approx(7.3)
    # After the stop the mean is over the two runs still running.
    sim = line(ax, "sim-mean")
    series = {s: runs["classical_hebbian", 0.5, s]["mean_weight"].sel(synapse="ee").values.ravel()
              for s in SEEDS}
    np.testing.assert_allclose(sim.get_xdata(), INTERVAL_S * np.arange(1, N_TIME + 1))
    late = sim.get_xdata() > 7.3
    assert series[2].size == (~late).sum()           # the stopped run's records end at 7.3 s
    others = np.mean([series[s] for s in (1, 3)], axis=0)
    np.testing.assert_allclose(sim.get_ydata()[late], others[late], rtol=1e-12)
    everyone = np.mean([series[s][:series[2].size] for s in SEEDS], axis=0)
    np.testing.assert_allclose(sim.get_ydata()[~late], everyone, rtol=1e-12)
    final_ax = axes_by_gid(fig, "rule=classical_hebbian;final-vs-c")
    mean_line = line(final_ax, "final-mean")
    np.testing.assert_allclose(mean_line.get_ydata()[1], others[-1], rtol=1e-12)
    assert any("seed 2: diverged at 7.3 s" in t.get_text() for t in final_ax.texts)


# ----------------------------------------------------------------------------- balance
def test_balance_currents_rates_bars_and_divergence(study):
    runs, aggregate, theory = study
    fig = figures.plot_balance(aggregate, theory)
    ax = axes_by_gid(fig, "rule=kohonen;c=0;input")
    for source in ("E", "X", "I", "total"):
        expected = np.mean([runs["kohonen", 0.0, s]["mean_input"].sel(population="E",
                            source=source).values.ravel() for s in SEEDS], axis=0)
        np.testing.assert_allclose(line(ax, f"input-{source}").get_ydata(), expected,
                                   rtol=1e-12)
    assert line(ax, "input-total").get_color() == "black"
    assert ax.get_ylabel() == "Input to E (mV/ms)"
    rate_ax = axes_by_gid(fig, "rule=kohonen;c=0;rate")
    expected_e = np.mean([runs["kohonen", 0.0, s]["population_rate"].sel(population="E")
                          .values.ravel() for s in SEEDS], axis=0)
    np.testing.assert_allclose(line(rate_ax, "rate-E").get_ydata(), expected_e, rtol=1e-12)
    theory_e = line(rate_ax, "theory-rate-E")
    assert theory_e.get_ydata()[0] == pytest.approx(10.0) and theory_e.get_linestyle() == "--"
    bars_ax = axes_by_gid(fig, "rule=kohonen;balance-bars")
    for source, parts in (("E+X", ("E", "X")), ("I", ("I",)), ("total", ("total",))):
        per_seed = [sum(runs["kohonen", 0.5, s]["mean_input"].sel(population="E", source=p)
                        .values.mean() for p in parts) for s in SEEDS]
        (bar,) = artists(bars_ax, f"bar|c=0.5|{source}")
        assert bar.get_height() == pytest.approx(abs(np.mean(per_seed)), rel=1e-12)
    (total,) = artists(bars_ax, "bar|c=0.5|total")
    (ex,) = artists(bars_ax, "bar|c=0.5|E+X")
    assert total.get_height() < 0.2 * ex.get_height()   # balance: the parts cancel
    all_text = texts(fig)
    assert sum("seed 2: diverged at 7.3 s" in t for t in all_text) >= 2   # inputs and rates


# ----------------------------------------------------------------------------- rate–weight
def test_rate_weight_panels_show_pearson_r_of_the_plotted_points(study):
    runs, aggregate, _ = study
    fig = figures.plot_rate_weight_correlation(aggregate)
    for rule, synapse in (("kohonen", "ee"), ("istdp", "ei")):
        ax = axes_by_gid(fig, f"rule={rule};c=0.5;{synapse}")
        rate = np.concatenate([runs[rule, 0.5, s]["sampled_pre_rate"].sel(synapse=synapse)
                               .values.ravel() for s in SEEDS])
        weight = np.concatenate([runs[rule, 0.5, s]["sampled_weight"].sel(synapse=synapse)
                                 .values[..., -1].ravel() for s in SEEDS])
        (points,) = artists(ax, "rate-weight-points")
        np.testing.assert_allclose(points.get_offsets(), np.column_stack([rate, weight]))
        (label,) = artists(ax, "pearson-r")
        r = np.corrcoef(rate, weight)[0, 1]
        assert label.get_text().startswith(f"r = {r:.2f}\n")
        assert f"n = {rate.size}" in label.get_text()
    # The diverged classical run has no final weight; its status is shown.
    ax = axes_by_gid(fig, "rule=classical_hebbian;c=0.5;ee")
    (points,) = artists(ax, "rate-weight-points")
    assert len(points.get_offsets()) == 2 * N_SAMPLE
    assert "seed 2: diverged at 7.3 s" in [t.get_text() for t in ax.texts]


def test_plastic_synapse_comes_from_config_or_label():
    run = combine([rule_run("istdp", 0.0, 1)])
    assert rule_synapses(run, "istdp") == ["ei"]
    bare = run.drop_vars("config")
    bare.attrs = {}
    assert rule_synapses(bare, "kohonen") == ["ee"]
    assert rule_synapses(bare, "ee-kohonen+ei-istdp") == ["ee", "ei"]
    assert rule_synapses(bare, "none") == []


# ----------------------------------------------------------------------------- manifold
def test_weight_manifold_final_vs_initial_and_theory():
    initial = (-250.0, -150.0, -55.0)
    runs = {(w, s): rule_run("istdp", 0.0, s, weights_ei=w,
                             diverged_at_s=6.1 if (w, s) == (-55.0, 2) else None)
            for w in initial for s in (1, 2)}
    theory = combine([rule_theory("istdp", 0.0, s, weights_ei=w) for w in initial
                      for s in (1, 2)])
    fig = figures.plot_weight_manifold(combine(list(runs.values())), theory)
    ax_final = axes_by_gid(fig, "rule=istdp;c=0;final-vs-initial")
    expected = [np.mean([runs[w, s]["mean_weight"].sel(synapse="ei").values.ravel()[-1]
                         for s in ((1,) if w == -55.0 else (1, 2))]) for w in initial]
    final = line(ax_final, "manifold-final")
    np.testing.assert_allclose(final.get_xdata(), initial)
    np.testing.assert_allclose(final.get_ydata(), expected, rtol=1e-12)
    theory_line = line(ax_final, "manifold-theory")
    np.testing.assert_allclose(theory_line.get_ydata(), [w / 2 + 1.0 + 10.0 for w in initial])
    assert theory_line.get_linestyle() == "--"
    ax_time = axes_by_gid(fig, "rule=istdp;c=0;trajectories")
    assert {a.get_gid() for a in ax_time.lines} == {f"manifold-trace|weights_ei={w:g}"
                                                    for w in initial}
    assert any("seed 2: diverged at 6.1 s" in t for t in texts(fig))


def test_weight_manifold_requires_the_initial_weight_dimension(study):
    with pytest.raises(ValueError, match="weights_ei"):
        figures.plot_weight_manifold(study[1], study[2])


# ----------------------------------------------------------------------------- windows
@pytest.mark.parametrize("tau", [20.0, 200.0])
def test_learning_windows_are_pair_updates_and_match_spec_fig9(tau):
    fig = figures.plot_learning_windows()            # rows τ = 200 ms and 20 ms
    for window in SPEC_LEARNING_WINDOWS:
        ax = axes_by_gid(fig, f"window|{window.rule}|tau={tau:g}")
        assert f"τ = {tau:g} ms" in title(ax)
        description = window.description(tau)
        assert description.parameters == {
            **rule_parameter_defaults(window.rule, window.synapse, tau), **window.overrides,
            "eta": description.eta}
        scale = description.eta_effective(1) * (abs(window.weight_mv) if window.per_weight
                                                else 1.0)
        for gid in ("window-causal", "window-acausal"):
            drawn = line(ax, gid)
            lags = drawn.get_xdata()[::37]
            expected = [description.pair_update(window.weight_mv, lag, tau, 1) / scale
                        for lag in lags]
            np.testing.assert_allclose(drawn.get_ydata()[::37], expected, rtol=1e-9)
    # Spec Fig 9 shapes, including the single-spike terms on both sides.
    kohonen = axes_by_gid(fig, f"window|kohonen|tau={tau:g}")
    decay = {gid: np.exp(-np.abs(line(kohonen, gid).get_xdata()) / tau)
             for gid in ("window-causal", "window-acausal")}
    alpha = 2 * 0.010 * tau
    shapes = {"classical_hebbian": (lambda e: e, lambda e: -e),
              "soft_hebbian": (lambda e: 30 * e, lambda e: -25 * e),
              "kohonen": (lambda e: -1.0 + 0 * e, lambda e: 2 * e - 1.0),
              "oja": (lambda e: -29 * e, lambda e: 30 * e),
              "istdp": (lambda e: e - alpha, lambda e: e - alpha)}
    for rule, (causal, acausal) in shapes.items():
        ax = axes_by_gid(fig, f"window|{rule}|tau={tau:g}")
        np.testing.assert_allclose(line(ax, "window-causal").get_ydata(),
                                   causal(decay["window-causal"]), rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(line(ax, "window-acausal").get_ydata(),
                                   acausal(decay["window-acausal"]), rtol=1e-6, atol=1e-6)
    assert line(kohonen, "window-causal").get_xdata()[0] == pytest.approx(-5 * tau)


# ----------------------------------------------------------------------------- output
def png_size(data: bytes) -> tuple[int, int]:
    return struct.unpack(">II", data[16:24])


def test_save_figure_writes_pdf_and_150_dpi_png_with_caption(tmp_path):
    fig = figures.plot_learning_windows()
    width_in, height_in = fig.get_size_inches()
    caption = "Learning windows, η_eff-normalised"
    pdf, png = tmp_path / "figs" / "w.pdf", tmp_path / "figs" / "w.png"
    figures.save_figure(fig, pdf, png, caption=caption)
    pdf_bytes, png_bytes = pdf.read_bytes(), png.read_bytes()
    assert pdf_bytes.startswith(b"%PDF-") and pdf_bytes.rstrip().endswith(b"%%EOF")
    assert png_bytes.startswith(b"\x89PNG\r\n\x1a\n")
    assert png_size(png_bytes) == (round(width_in * 150), round(height_in * 150))
    assert caption.encode("utf-8") in png_bytes
    assert sorted(p.name for p in pdf.parent.iterdir()) == ["w.pdf", "w.png"]   # no temp files
    reference = tmp_path / "plain.txt"
    reference.write_text("x")                  # permissions an ordinary write gets (umask)
    assert pdf.stat().st_mode & 0o777 == reference.stat().st_mode & 0o777
    assert png.stat().st_mode & 0o777 == reference.stat().st_mode & 0o777
    assert fig.axes == []                                                       # closed


def test_figures_leave_no_pyplot_figures_or_rc_changes(study):
    _, aggregate, theory = study
    before = dict(mpl.rcParams)
    drawn = [figures.plot_weight_dynamics(aggregate, theory, "ee"),
             figures.plot_balance(aggregate, None),          # theory is optional
             figures.plot_rate_weight_correlation(aggregate),
             figures.plot_learning_windows()]
    assert plt.get_fignums() == []
    assert dict(mpl.rcParams) == before
    assert all(isinstance(f, mpl.figure.Figure) for f in drawn)


# ----------------------------------------------------------------------------- captions
@pytest.mark.parametrize("aggregation", ["workflow", "override"])
def test_caption_names_the_parameters(aggregation):
    runs = [rule_run("kohonen", c, s) for c in C_VALUES for s in SEEDS]
    aggregate_ds = (combine(runs) if aggregation == "workflow"
                    else combine_by_coords_raw(runs, combine_attrs="override"))
    assert ("config" in aggregate_ds.data_vars) == (aggregation == "workflow")
    caption = figures.caption_for("weight_dynamics", aggregate_ds)
    for fragment in ("N = 50", "T = 15 s", "τ_STDP = 200 ms",
                     "Kohonen on EE (η = 0.01, β₀ = 2, initial j_ee = 25 mV)", "c ∈ {0, 0.5}",
                     "3 seeds (1, 2, 3) per grid point", "mean-field ODE"):
        assert fragment in caption, (fragment, caption)


def test_caption_of_the_manifold_lists_initial_weights_and_divergence():
    runs = [rule_run("istdp", 0.0, 1, weights_ei=w,
                     diverged_at_s=4.0 if w == -55.0 else None) for w in (-250.0, -55.0)]
    caption = figures.caption_for("weight_manifold", combine(runs))
    assert "initial j_ei ∈ {-250, -55} mV" in caption
    assert "iSTDP on EI (η = 0.0002, ρ = 10 Hz)" in caption
    assert "1 seed (1)" in caption and "1 run stopped by the divergence guard" in caption
    assert "j_ei =" not in caption           # the swept weight is not listed as fixed


def test_caption_rejects_unknown_figures():
    with pytest.raises(ValueError, match="weight_dynamics"):
        figures.caption_for("weights", None)


# ----------------------------------------------------------------------------- registry
PLASTIC = {"kohonen": ["ee"], "istdp": ["ei"], "two_rules": ["ee", "ei"], "static": []}


def test_figure_targets_expand_per_experiment_synapse_and_study():
    config = {"weight_dynamics": ["kohonen", "two_rules"], "balance": ["static", "istdp"],
              "weight_manifold": [], "fig09_learning_windows": True}
    targets = registry.figure_targets(config, PLASTIC)
    assert list(targets) == ["weight_dynamics_kohonen_ee", "weight_dynamics_two_rules_ee",
                             "weight_dynamics_two_rules_ei", "balance_static",
                             "balance_istdp", "fig09_learning_windows"]
    assert targets["weight_dynamics_two_rules_ei"] == registry.FigureTarget(
        "weight_dynamics_two_rules_ei", "weight_dynamics", "two_rules", "ei")
    assert targets["balance_istdp"].labels == {"experiment": "istdp"}
    assert targets["weight_dynamics_kohonen_ee"].labels == {"experiment": "kohonen",
                                                            "synapse": "ee"}
    assert targets["fig09_learning_windows"] == registry.FigureTarget(
        "fig09_learning_windows", "fig09_learning_windows")
    assert targets["fig09_learning_windows"].labels == {"figure": "Learning windows"}
    assert registry.figure_targets({"fig09_learning_windows": False}, PLASTIC) == {}


@pytest.mark.parametrize("config, message", [
    ({"weight_dynamics": ["kohonen"], "weights": ["kohonen"]},
     "figures.weights: unknown figure 'weights'; known: fig01_network_scaling, fig02"),
    ({"balance": ["kohonnen"]}, "figures.balance: unknown experiment 'kohonnen'"),
    ({"weight_dynamics": ["static"]}, "experiment 'static' has no plastic synapses"),
    ({"fig09_learning_windows": ["kohonen"]},
     "figures.fig09_learning_windows: expected true or false"),
    ({"balance": True}, "figures.balance: expected a list of experiments"),
    ({"balance": "kohonen"}, "figures.balance: expected a list of experiments"),
])
def test_figure_targets_reject_bad_figures_sections(config, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        registry.figure_targets(config, PLASTIC)


def test_registry_specs_are_complete_and_consistent():
    for name, spec in registry.FIGURES.items():
        assert spec.name == name and callable(spec.draw_function()) and spec.category
        assert set(spec.inputs) <= set(registry.DATASET_INPUTS)
        assert spec.caption_text(None)                     # parameter-free report caption
    with pytest.raises(ValueError, match="placeholders"):
        registry.FigureSpec("bad", figures.plot_balance, ("runs",),
                            registry.Expansion.PER_EXPERIMENT, "Bad", lambda runs: "",
                            stem="bad_{experiment}_{synapse}")
    with pytest.raises(ValueError, match="unknown inputs"):
        registry.FigureSpec("bad", figures.plot_balance, ("aggregate",),
                            registry.Expansion.ONCE_PER_STUDY, "Bad", lambda runs: "",
                            stem="bad")


def test_target_draws_its_figure_from_the_inputs_it_needs(study):
    _, aggregate_ds, theory = study
    datasets = {"runs": aggregate_ds, "theory": theory}
    targets = registry.figure_targets({"weight_dynamics": ["kohonen"],
                                       "rate_weight_correlation": ["kohonen"],
                                       "fig09_learning_windows": True}, PLASTIC)
    fig = targets["weight_dynamics_kohonen_ee"].draw(datasets)
    assert line(axes_by_gid(fig, "rule=kohonen;c=0.5"), "theory-ode").get_linestyle() == "--"
    assert fig.get_suptitle().startswith("Mean EE weight")
    fig = targets["rate_weight_correlation_kohonen"].draw(datasets)
    assert artists(axes_by_gid(fig, "rule=kohonen;c=0.5;ee"), "pearson-r")
    fig = targets["fig09_learning_windows"].draw({})
    assert axes_by_gid(fig, "window|kohonen|tau=200")



def test_figure_of_roles_reads_each_roles_aggregates_and_draws_them(monkeypatch):
    """A figure combining experiments (Fig 10, 11 …): one file, one ExperimentData per role."""
    received = {}

    def draw(first, second, extra=None):
        received.update(first=first, second=second, extra=extra)
        return Figure()

    spec = registry.FigureSpec("combined", draw, ("runs", "theory"), registry.Expansion.ROLES,
                               "Combined", lambda runs: "caption", stem="figXX_combined",
                               roles=("first", "second"), optional_roles=("extra",))
    monkeypatch.setitem(registry.FIGURES, "combined", spec)
    target, = spec.targets({"second": "istdp", "first": "kohonen"}, PLASTIC)
    assert target.stem == "figXX_combined" and target.roles == (("first", "kohonen"),
                                                               ("second", "istdp"))
    assert target.experiments == ["kohonen", "istdp"]
    assert target.inputs() == {"first_runs": ("kohonen", "runs"),
                               "first_theory": ("kohonen", "theory"),
                               "second_runs": ("istdp", "runs"),
                               "second_theory": ("istdp", "theory")}
    # the workflow passes the target as a dict (Snakemake params): pairs come back as lists
    from dataclasses import asdict
    rebuilt = registry.FigureTarget(**{**asdict(target),
                                       "roles": [list(p) for p in target.roles]})
    assert rebuilt == target
    marker = xr.Dataset(attrs={"name": "kohonen runs"})
    target.draw({"first_runs": marker})
    assert received["first"].runs is marker and received["first"].theory is None
    assert received["second"] == ExperimentData(None, None)
    assert received["extra"] is None                   # optional role not configured
    for selection, message in [(["kohonen"], "expected a mapping of roles"),
                               ({"first": "kohonen"}, "no experiment for role 'second'"),
                               ({"first": "kohonen", "second": "x"}, "unknown experiment 'x'"),
                               ({"first": "kohonen", "second": "istdp", "third": "istdp"},
                                "unknown role 'third'")]:
        with pytest.raises(ValueError, match=re.escape(message)):
            spec.targets(selection, PLASTIC)


def test_report_lists_paper_figures_by_number():
    targets = registry.figure_targets({"fig09_learning_windows": True,
                                       "weight_dynamics": ["kohonen"]}, PLASTIC)
    assert targets["fig09_learning_windows"].report_category == "Fig 09 · Learning windows"
    assert targets["weight_dynamics_kohonen_ee"].report_category == "Weight dynamics"
