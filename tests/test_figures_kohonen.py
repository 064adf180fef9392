"""Tests of the figures of Kohonen's rule — network scaling (Fig 1), stability over β₀
(Fig 2), dependence on the input correlation (Fig S1) and the Kohonen line of the
rate–weight figure — on tiny synthetic aggregates: each figure is drawn from runs with
known values (:mod:`fabricate`), and the artists read back by ``gid`` must carry those
values and the theory they claim (the theory curves as the experiment's theory job
computes them)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from balanced_stdp.config import resolve_config
from balanced_stdp.figures import kohonen_stability, registry
from balanced_stdp.figures.check import assert_readable
from balanced_stdp.selection import ExperimentData
from balanced_stdp.theory import curves
from fabricate import combine, run, theory, with_curves

INTERVAL_S = 0.5
N_TIME = 20
N_SAMPLE = 12
TIME_S = INTERVAL_S * np.arange(1, N_TIME + 1)
SYNAPSES = ["ee", "ei", "ie", "ii"]


# ----------------------------------------------------------------------------- fabricator
def kohonen_config(seed=1, c=0.0, n=200, beta0=2.0, initial_ee=1.0, sweep=()) -> dict:
    return resolve_config({
        "N": n, "duration_s": N_TIME * INTERVAL_S, "c": c, "seed": seed,
        "weights": {"ee": initial_ee, "ei": -100.0}, "sweep_dims": list(sweep),
        "plasticity": {"ee": {"rule": "kohonen", "eta": 0.02, "beta0": beta0}}})


def course(start: float, final: float) -> np.ndarray:
    """Mean weight of a fabricated run: relaxes from ``start`` towards ``final``."""
    return final + (start - final) * np.exp(-TIME_S / 2.0)


def relaxing_run(config: dict, final: float, diverged_at_s: float | None = None) -> xr.Dataset:
    """A run whose mean EE weight relaxes towards ``final``; sampled weights spread ±0.5."""
    mean_weight = np.tile(course(config["weights"]["ee"], final), (4, 1))
    offsets = np.linspace(-0.5, 0.5, N_SAMPLE)
    return run(config, {"mean_weight": mean_weight,
                        "sampled_weight": mean_weight[:, None, :] + offsets[None, :, None]},
               time_s=TIME_S, diverged_at_s=diverged_at_s, coords={"sample": np.arange(N_SAMPLE)})


def point_theory(config: dict, synapse_values: dict) -> xr.Dataset:
    """A grid point's theory: each variable the same on every synapse type."""
    return theory(config, {name: np.full(4, value) for name, value in synapse_values.items()})


def leading_order_j_star(beta0: float) -> float:
    """Spec §6.5: stable root of j² − 45 j + 63 β₀ = 0 (j_ei = −100)."""
    return (45 - np.sqrt(2025 - 252 * beta0)) / 2


def artists(ax, gid):
    return [a for a in ax.get_children() if a.get_gid() == gid]


def axes_by_gid(fig, gid):
    found = [ax for ax in fig.axes if ax.get_gid() == gid]
    assert len(found) == 1, f"expected one axes {gid!r}, found {[a.get_gid() for a in fig.axes]}"
    return found[0]


def line(ax, gid):
    found = [a for a in ax.lines if a.get_gid() == gid]
    assert len(found) == 1, f"expected one line {gid!r}, found {len(found)}"
    return found[0]


# ----------------------------------------------------------------------------- Fig 2
SWEEP_BETAS = (1.0, 1.6, 2.4, 3.4, 3.6)
SWEEP_DIVERGED = {3.6: 4.2}
REPLICATE_DIVERGED = {(3.4, 2): 6.3}


def stability_data(betas, seeds, diverged, curves: bool = True) -> ExperimentData:
    runs, theories = [], []
    for beta0 in betas:
        for seed in seeds:
            cfg = kohonen_config(seed=seed, beta0=beta0, sweep=["plasticity.ee.beta0"])
            stop = diverged.get(beta0) if len(seeds) == 1 else diverged.get((beta0, seed))
            runs.append(relaxing_run(cfg, 1.1 * leading_order_j_star(beta0) + 0.1 * seed,
                                     stop))
            theories.append(point_theory(cfg, {"fixed_point_weight": leading_order_j_star(beta0)}))
    runs = combine(runs)
    # the sweep's theory job adds the stability curves its figure draws (theory.curves)
    return ExperimentData(runs, with_curves(combine(theories), runs,
                                            ["kohonen_stability"] if curves else []))


@pytest.fixture(scope="module")
def stability_figure():
    sweep = stability_data(SWEEP_BETAS, (1,), SWEEP_DIVERGED)
    replicates = stability_data((3.4, 3.6), (2, 3), REPLICATE_DIVERGED, curves=False)
    runs, theories = [], []
    for initial in (0.5, 6.0):
        cfg = kohonen_config(initial_ee=initial, sweep=["weights.ee"])
        runs.append(relaxing_run(cfg, 3.1))
        theories.append(point_theory(cfg, {"fixed_point_weight": 3.0}))
    initial = ExperimentData(combine(runs), combine(theories))
    return kohonen_stability.plot_kohonen_stability(sweep, replicates, initial)


def test_fig02_weight_panels_take_the_nearest_betas_and_say_so(stability_figure):
    fig = stability_figure
    for beta0, paper in ((1.0, "1.2"), (2.4, None), (3.4, None), (3.6, None)):
        ax = axes_by_gid(fig, f"weights-beta={beta0:g}")
        if paper:
            assert f"paper: {paper}" in ax.get_title(loc="left")
        mean = line(ax, "sim-mean").get_ydata()
        expected = 1.1 * leading_order_j_star(beta0) + 0.1
        expected = np.where(TIME_S <= SWEEP_DIVERGED.get(beta0, np.inf), course(1.0, expected),
                            np.nan)
        assert np.allclose(mean, expected, equal_nan=True)
        assert len(artists(ax, "sampled-trace")) == N_SAMPLE
        assert line(ax, "theory-fixed-point").get_ydata()[0] == pytest.approx(
            leading_order_j_star(beta0))
    ran_away = axes_by_gid(fig, "weights-beta=3.6")
    assert [line.get_xdata()[0] for line in artists(ran_away, "diverged-at")] == [4.2]


def test_fig02_a_sample_near_the_runaway_shows_each_of_its_betas_and_no_empty_panel():
    # the paper-scale sample (config/paper-samples.yaml): four β₀ around the runaway,
    # several seeds, no initial-weight sweep
    betas = (3.2, 3.4, 3.6, 3.8)
    fig = kohonen_stability.plot_kohonen_stability(
        stability_data(betas, (1, 2), {(3.6, 2): 4.2, (3.8, 1): 3.0, (3.8, 2): 3.5}))
    for beta0 in betas:
        title = axes_by_gid(fig, f"weights-beta={beta0:g}").get_title(loc="left")
        assert title.endswith(f"β₀ = {beta0:g}")           # its own value, no "paper:" note
    assert not [ax for ax in fig.axes if ax.get_gid() == "uniqueness"]
    assert_readable(fig, "fig02 of a four-β₀ sample")


def test_fig02_mean_panel_marks_the_divergence_time(stability_figure):
    ax = axes_by_gid(stability_figure, "mean-vs-time")
    marker, = artists(ax, "diverged-marker")
    assert marker.get_xdata()[0] == pytest.approx(4.2)
    assert line(ax, "theory-beta=2.4").get_ydata()[0] == pytest.approx(leading_order_j_star(2.4))


def test_fig02_final_weights_pool_replicates_and_keep_runs_that_ran_away(stability_figure):
    ax = axes_by_gid(stability_figure, "final-vs-beta")
    finals = line(ax, "sim-final")
    # sweep: 4 completed; replicates: 3.4 seed 3, 3.6 seeds 2 and 3 completed
    expected = sorted([(b, course(1.0, 1.1 * leading_order_j_star(b) + 0.1 * seed)[-1])
                       for b, seed in [(1.0, 1), (1.6, 1), (2.4, 1), (3.4, 1), (3.4, 3),
                                       (3.6, 2), (3.6, 3)]])
    assert np.allclose(sorted(zip(finals.get_xdata(), finals.get_ydata())), expected)
    assert sorted(line(ax, "ran-away").get_xdata()) == [3.4, 3.6]
    theory_line = line(ax, "theory-fixed-point")
    assert np.allclose(theory_line.get_ydata(),
                       [leading_order_j_star(b) for b in theory_line.get_xdata()], atol=1e-6)
    fraction = axes_by_gid(stability_figure, "ran-away-fraction")
    heights = {round(bar.get_x() + bar.get_width() / 2, 6): bar.get_height()
               for bar in fraction.patches if bar.get_gid() == "ran-away-fraction"}
    assert heights == pytest.approx({1.0: 0, 1.6: 0, 2.4: 0, 3.4: 1 / 3, 3.6: 1 / 3})


def test_fig02_phase_plot_is_the_spec_drift_with_its_roots():
    fig_cfg = kohonen_config()
    ax_fig = kohonen_stability.plot_kohonen_stability(
        stability_data((2.0,), (1,), {}))
    ax = axes_by_gid(ax_fig, "phase-plot")
    for beta0 in curves.DRIFT_BETAS:
        drift = line(ax, f"drift-beta={beta0:g}")
        j = np.asarray(drift.get_xdata())
        rate = 0.315 / (45 - j)
        expected = beta0 * fig_cfg["tau_stdp_ms"] * rate ** 2 - j * rate
        assert np.allclose(drift.get_ydata(), expected, rtol=1e-6, atol=1e-12)
    # two roots for β₀ = 3, 5, 8 (j* and 45 − j*, grid-resolved), none beyond 8.04
    below_fold = [leading_order_j_star(b) for b in (3.0, 5.0, 8.0)]
    stable = sorted(a.get_xdata()[0] for a in artists(ax, "stable-root"))
    unstable = sorted(a.get_xdata()[0] for a in artists(ax, "unstable-root"))
    assert np.allclose(stable, below_fold, atol=0.1)
    assert np.allclose(unstable, sorted(45 - j for j in below_fold), atol=0.1)


def test_fig02_bifurcation_branches_meet_at_the_saddle_node(stability_figure):
    ax = axes_by_gid(stability_figure, "bifurcation")
    stable, unstable = line(ax, "stable-branch"), line(ax, "unstable-branch")
    beta = np.asarray(stable.get_xdata())
    below = beta < 8.0
    assert np.allclose(np.asarray(stable.get_ydata())[below],
                       [leading_order_j_star(b) for b in beta[below]], atol=1e-6)
    assert np.allclose(np.asarray(unstable.get_ydata())[below],
                       [45 - leading_order_j_star(b) for b in beta[below]], atol=1e-6)
    assert np.isnan(np.asarray(stable.get_ydata())[beta > 8.1]).all()
    fold = line(ax, "saddle-node")
    assert fold.get_xdata()[0] == pytest.approx(2025 / 252, abs=1e-4)
    assert fold.get_ydata()[0] == pytest.approx(22.5, abs=1e-3)
    assert sorted(line(ax, "ran-away").get_xdata()) == [3.4, 3.6]


def test_fig02_theory_scatter_and_uniqueness_panel(stability_figure):
    ax = axes_by_gid(stability_figure, "theory-vs-sim")
    points = line(ax, "theory-vs-sim")
    assert len(points.get_xdata()) == 7
    assert np.allclose(points.get_ydata(), 1.1 * np.asarray(points.get_xdata()), atol=0.31)
    unique = axes_by_gid(stability_figure, "uniqueness")
    for initial in (0.5, 6.0):
        trace = line(unique, f"sim-mean-initial={initial:g}").get_ydata()
        assert trace[-1] == pytest.approx(course(initial, 3.1)[-1])
    assert line(unique, "theory-fixed-point").get_ydata()[0] == 3.0


def test_fig02_is_registered_as_a_figure_of_roles():
    spec = registry.figure_spec("fig02_kohonen_stability")
    assert spec.roles == ("sweep",)
    assert set(spec.optional_roles) == {"replicates", "initial_conditions"}


# ----------------------------------------------------------------------------- Fig 1
N_VALUES = (100, 200, 400)
COV_AT_100 = {"ee": 4e-3, "ei": 1e-2, "ii": 3e-2}
RATES = {"E": 5.0, "I": 12.0}


def scaling_run(n: int, seed: int) -> xr.Dataset:
    """A run of the size sweep: covariances ∝ 1/N (and one negative II mean at N = 400)."""
    cfg = kohonen_config(seed=seed, n=n, sweep=["N"])
    mean_weight = np.tile(course(cfg["weights"]["ee"], 2.5), (4, 1))
    cov = np.array([COV_AT_100[p] * 100 / n * (1 + 0.1 * seed) for p in ("ee", "ei", "ii")])
    if n == 400:
        cov[2] = -1e-4
    spikes = np.arange(2 * n)
    inputs = np.stack([np.full(N_TIME, v) for v in (2.0, -3.0, 1.5, 0.5)])
    return run(cfg, {
        "mean_weight": mean_weight,
        "sampled_weight": (mean_weight[:, None, :]
                           + np.linspace(-0.5, 0.5, N_SAMPLE)[None, :, None]),
        "population_rate": np.stack([np.full(N_TIME, RATES["E"] + 0.1 * seed),
                                     np.full(N_TIME, RATES["I"] + 0.1 * seed)]),
        "spike_count_cov": cov,
        "spike_count_corr": cov * 10,
        "spike_count_var": np.array([1.2, 3.0]) * seed,
        "raster_time": 0.5 * spikes / spikes.size + 9.5,
        "raster_neuron": spikes // 2,
        "mean_input": np.stack([inputs, 2 * inputs])},
        time_s=TIME_S, coords={"sample": np.arange(N_SAMPLE)})


def scaling_theory(n: int) -> xr.Dataset:
    cfg = kohonen_config(n=n, sweep=["N"])
    return theory(cfg, {"fixed_point_weight": np.full(4, 3.0),
                        "fixed_point_rate": np.array([7.5, 18.9]),
                        "spike_count_cov": np.array([COV_AT_100[p] * 100 / n
                                                     for p in ("ee", "ei", "ii")]),
                        "spike_count_corr": np.array([0.1, 0.2, 0.3]) * 100 / n})


@pytest.fixture(scope="module")
def scaling_figure():
    from balanced_stdp.figures import network_scaling
    runs = combine([scaling_run(n, s) for n in N_VALUES for s in (1, 2)])
    theories = combine([scaling_theory(n) for n in N_VALUES])
    return network_scaling.plot_network_scaling(ExperimentData(runs, theories))


def test_fig01_has_a_drawn_schematic(scaling_figure):
    ax = axes_by_gid(scaling_figure, "schematic")
    assert {p.get_gid() for p in ax.patches} >= {"population-E", "population-I", "population-X"}
    assert {"E", "I"} <= {t.get_text() for t in ax.texts}


def test_fig01_rates_and_weights_against_theory(scaling_figure):
    ax = axes_by_gid(scaling_figure, "rates-vs-N")
    for population, theory_rate in (("E", 7.5), ("I", 18.9)):
        sim = line(ax, f"sim-rate-{population}")
        assert list(sim.get_xdata()) == list(N_VALUES)
        assert np.allclose(sim.get_ydata(), RATES[population] + 0.15)      # mean of seeds 1, 2
        assert np.allclose(line(ax, f"theory-rate-{population}").get_ydata(), theory_rate)
    weights = axes_by_gid(scaling_figure, "weight-vs-time")
    assert np.allclose(line(weights, "sim-mean-N=200").get_ydata(), course(1.0, 2.5))
    assert line(weights, "theory-fixed-point").get_ydata()[0] == 3.0


def test_fig01_covariances_follow_the_one_over_n_theory_on_log_axes(scaling_figure):
    ax = axes_by_gid(scaling_figure, "cov-vs-N")
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    for pair in ("ee", "ei"):
        theory_line = line(ax, f"theory-{pair}")
        assert np.allclose(np.asarray(theory_line.get_ydata()) * np.asarray(N_VALUES),
                           COV_AT_100[pair] * 100)
        assert np.allclose(line(ax, f"sim-{pair}").get_ydata(),
                           [COV_AT_100[pair] * 100 / n * 1.15 for n in N_VALUES])
    assert list(line(ax, "sim-ii").get_xdata()) == [100, 200]   # negative mean at 400 hidden
    assert "1 mean(s) ≤ 0 not shown" in [t.get_text() for t in ax.texts]
    corr = axes_by_gid(scaling_figure, "corr-vs-N")
    assert np.allclose(line(corr, "theory-ii").get_ydata(), [0.3, 0.15, 0.075])
    var = axes_by_gid(scaling_figure, "var-vs-N")
    assert np.allclose(line(var, "sim-var-I").get_ydata(), 4.5)
    assert np.allclose(line(var, "theory-var-E").get_ydata(), 7.5 * 0.25)   # r T_win


def test_fig01_raster_colours_and_currents(scaling_figure):
    ax = axes_by_gid(scaling_figure, "raster")
    assert "N = 400" in ax.get_title(loc="left")            # nearest to RASTER_N
    e_points, = artists(ax, "raster-E")
    i_points, = artists(ax, "raster-I")
    assert e_points.get_offsets()[:, 1].max() < 320 <= i_points.get_offsets()[:, 1].min()
    currents = axes_by_gid(scaling_figure, "currents")
    for source, value in zip(("E", "I", "X", "total"), (2.0, -3.0, 1.5, 0.5)):
        assert np.allclose(line(currents, f"current-{source}").get_ydata(), value)


# ----------------------------------------------------------------------------- Fig S1
S1_C = (0.0, 0.5, 1.0)


def correlation_runs(rule_settings: dict, initial: float, finals, diverged=()) -> ExperimentData:
    runs = []
    for n in (100, 200):
        for c, final in zip(S1_C, finals):
            cfg = resolve_config({"N": n, "duration_s": N_TIME * INTERVAL_S, "c": c, "seed": 1,
                                  "weights": {"ee": initial, "ei": -100.0}, "sweep_dims": ["N"],
                                  "plasticity": {"ee": rule_settings}})
            runs.append(relaxing_run(cfg, final + 0.01 * n,
                                     4.0 if (n, c) in diverged else None))
    runs = combine(runs)
    # the roles' theory jobs add the fixed points along c their figure draws
    return ExperimentData(runs, with_curves(None, runs, ["fixed_points:c"]))


@pytest.fixture(scope="module")
def correlation_figure():
    from balanced_stdp.figures import correlation_dependence
    kohonen = correlation_runs({"rule": "kohonen", "eta": 0.05, "beta0": 2.0}, 5.0,
                               (3.0, 3.4, 3.8), diverged={(200, 1.0)})
    soft = correlation_runs({"rule": "soft_hebbian", "eta": 5e-3, "j_max": 25.0}, 20.0,
                            (25.0, 25.0, 25.0))
    return correlation_dependence.plot_correlation_dependence(kohonen, soft)


def test_figS1_final_weights_per_n_and_theory_dense_in_c(correlation_figure):
    ax = axes_by_gid(correlation_figure, "final-vs-c-kohonen")
    for n in (100, 200):
        sim = line(ax, f"sim-N={n}")
        expected = [course(5.0, f + 0.01 * n)[-1] for f in (3.0, 3.4, 3.8)]
        if n == 200:
            expected[-1] = np.nan                              # ran away: no final value
        assert np.allclose(sim.get_ydata(), expected, equal_nan=True)
    ran_away, = [a for a in ax.lines if a.get_gid() == "ran-away"]
    assert list(ran_away.get_xdata()) == [1.0]
    theory_line = line(ax, "theory-N=100")                     # same for both N: drawn once
    assert not [a for a in ax.lines if a.get_gid() == "theory-N=200"]
    c_dense = np.asarray(theory_line.get_xdata())
    assert c_dense.size > 20 and theory_line.get_ydata()[0] == pytest.approx(3.0, abs=1e-6)
    assert np.all(np.diff(theory_line.get_ydata()) > 0)       # rises with c (K⁻ term)
    soft = axes_by_gid(correlation_figure, "final-vs-c-soft")
    assert np.allclose(line(soft, "theory-N=100").get_ydata(), 25.0)


# ----------------------------------------------------------------------------- rate–weight
def test_rate_weight_kohonen_panel_has_the_presynaptic_rate_theory_line():
    from balanced_stdp.figures import rate_weight
    runs = []
    for seed in (1, 2):
        cfg = kohonen_config(seed=seed, beta0=2.5)
        ds = relaxing_run(cfg, 3.0)
        rates = np.linspace(2.0, 20.0, N_SAMPLE)
        ds["sampled_pre_rate"] = xr.DataArray(np.tile(rates, (1, 1, 1, 4, 1)),
                                              dims=("rule", "c", "seed", "synapse", "sample"))
        runs.append(ds)
    fig = rate_weight.plot_rate_weight_correlation(combine(runs))
    ax = axes_by_gid(fig, "rule=kohonen;c=0;ee")
    theory_line = line(ax, "kohonen-theory")
    x, y = np.asarray(theory_line.get_xdata()), np.asarray(theory_line.get_ydata())
    slope = 2.5 * 200.0 * 1e-3                                  # β₀ τ in mV/Hz
    assert np.allclose(np.diff(y) / np.diff(x), slope) and y[0] == pytest.approx(slope * x[0])
    assert r"\beta_0 \tau r_\mathrm{pre}" in theory_line.get_label()     # j = β₀ τ r_pre
