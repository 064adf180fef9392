"""Tests of the paper's per-rule figures (statistics Figs 3–5, Hebbian variants Fig 10,
mean-field transients Fig 11, learning windows Fig 9) on small synthetic aggregates.

The runs (:func:`fabricate.run`) follow the data contract (docs/data-contract.md) with
known values;
the tests read back what was drawn (artists carry gids) and compare it with those values.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy import stats

from balanced_stdp.config import resolve_config
from balanced_stdp.figures import registry
from balanced_stdp.selection import ExperimentData
from fabricate import combine, run

N_NEURONS = 40
N_EXCITATORY = 32
INTERVAL_S = 0.5
N_TIME = 20
N_SAMPLE = 30
N_PAIRS = 25
RULE_SETTINGS = {"kohonen": ("ee", {"rule": "kohonen", "eta": 0.01, "beta0": 2.0}),
                 "soft_hebbian": ("ee", {"rule": "soft_hebbian", "eta": 5e-3}),
                 "classical_hebbian": ("ee", {"rule": "classical_hebbian", "eta": 5e-3}),
                 "bounded_hebbian": ("ee", {"rule": "bounded_hebbian", "eta": 5e-3}),
                 "istdp": ("ei", {"rule": "istdp", "eta": 2e-4})}
SYNAPSES = ["ee", "ei", "ie", "ii"]
PAIR_TYPES = ["ee", "ei", "ii"]


# ----------------------------------------------------------------------------- fabricator
def rule_run(rule: str, c: float, seed: int, diverged_at_s: float | None = None) -> xr.Dataset:
    """A run of one rule with known values: weights relax from 5 + 10 k mV by 2 mV, E rate
    7 + seed Hz, balanced inputs, sampled pair statistics and a raster."""
    rng = np.random.default_rng([seed, int(c * 100), len(rule)])
    time_s = INTERVAL_S * np.arange(1, N_TIME + 1)
    relax = 1.0 - np.exp(-time_s / 2.0)
    mean_weight = np.stack([5.0 + 2.0 * relax + 10 * k for k in range(4)])
    spread = rng.standard_normal((4, N_SAMPLE))
    raster_neuron = rng.integers(0, N_NEURONS, 200)
    synapse, settings = RULE_SETTINGS[rule]
    config = resolve_config({"N": N_NEURONS, "duration_s": N_TIME * INTERVAL_S, "c": c,
                             "seed": seed, "plasticity": {synapse: settings},
                             "recording": {"sampled_pairs": N_PAIRS}})
    return run(config, {
        "population_rate": np.stack([np.full(N_TIME, 7.0 + seed), np.full(N_TIME, 18.0)]),
        "neuron_rate": np.r_[np.full(N_EXCITATORY, 5.0 + seed),
                             np.full(N_NEURONS - N_EXCITATORY, 20.0)],
        "mean_weight": mean_weight,
        "sampled_weight": mean_weight[:, None, :] + spread[:, :, None] * relax,
        "mean_input": np.stack([np.stack([np.full(N_TIME, 10.0), np.full(N_TIME, -15.0),
                                          np.full(N_TIME, 5.5), np.full(N_TIME, 0.5)])] * 2),
        "sampled_spike_count_cov": 0.1 + 0.05 * rng.standard_normal((3, N_PAIRS)),
        "sampled_spike_count_corr": 0.02 + 0.01 * rng.standard_normal((3, N_PAIRS)),
        "raster_time": N_TIME * INTERVAL_S - rng.uniform(0, 1, 200),
        "raster_neuron": raster_neuron},
        time_s=time_s, diverged_at_s=diverged_at_s,
        coords={"neuron": np.arange(N_NEURONS),
                "neuron_population": ("neuron", ["E"] * N_EXCITATORY
                                      + ["I"] * (N_NEURONS - N_EXCITATORY)),
                "sample": np.arange(N_SAMPLE), "pair_sample": np.arange(N_PAIRS)})


def make_theory(rule: str, c: float, seed: int, stability: str = "stable node",
                delta_corrected: bool = False) -> xr.Dataset:
    """Theory of one grid point: fixed point 7 + 10 k mV, ODE relaxing to it."""
    time_s = np.linspace(0.0, N_TIME * INTERVAL_S, 41)
    fixed = 7.0 + 10.0 * np.arange(4)
    ode = np.stack([5.0 + 10 * k + 2.0 * (1 - np.exp(-time_s / 2.0)) for k in range(4)])
    ds = xr.Dataset(
        {"mean_weight": (("synapse", "time"), ode),
         "fixed_point_weight": (("synapse",), fixed),
         "fixed_point_rate": (("population",), np.array([10.0, 23.4])),
         "stability": ((), stability),
         "spike_count_cov": (("pair_type",), np.array([0.08, 0.23, 0.63])),
         "spike_count_corr": (("pair_type",), np.array([0.01, 0.02, 0.03]))},
        coords={"time": time_s, "synapse": SYNAPSES, "population": ["E", "I"],
                "pair_type": PAIR_TYPES})
    if delta_corrected:
        ds["leading_order_fixed_point_weight"] = ("synapse", fixed - 4.0)
    return ds.expand_dims({"rule": [rule], "c": [float(c)], "seed": [seed]})


def experiment(rule: str, c_values=(0.0,), seeds=(1, 2), diverged: dict | None = None,
               **theory_options) -> ExperimentData:
    """Runs and theory aggregates of one experiment (``diverged``: seed → stop time)."""
    diverged = diverged or {}
    runs = combine([rule_run(rule, c, s, diverged.get(s)) for c in c_values
                              for s in seeds])
    theory = xr.combine_by_coords([make_theory(rule, c, s, **theory_options) for c in c_values
                                   for s in seeds])
    return ExperimentData(runs, theory)


def axes_by_gid(fig) -> dict:
    return {ax.get_gid(): ax for ax in fig.axes if ax.get_gid()}


def artists(ax, gid: str) -> list:
    return [a for a in ax.get_children() if a.get_gid() == gid]


def vline_x(ax, gid: str) -> float:
    (line,) = [a for a in ax.get_lines() if a.get_gid() == gid]
    return float(line.get_xdata()[0])


def hline_y(ax, gid: str) -> float:
    (line,) = [a for a in ax.get_lines() if a.get_gid() == gid]
    return float(line.get_ydata()[0])


# ----------------------------------------------------------------------------- statistics
def test_statistics_figure_draws_every_panel_with_theory_marks():
    data = experiment("kohonen", c_values=(0.0, 0.1))
    fig = registry.FIGURES["fig03_kohonen_statistics"].draw_function()(main=data)
    axes = axes_by_gid(fig)
    assert {"raster|c=0", "raster|c=0.1", "traces", "final-weights", "rates|E", "rates|I",
            "covariance", "correlation", "currents", "ks"} <= set(axes)
    runs = data.runs
    # raster: E dots below N_E, I dots above, both coloured by population
    (e_dots,) = artists(axes["raster|c=0"], "raster-E")
    assert (e_dots.get_offsets()[:, 1] < N_EXCITATORY).all()
    # traces: sampled synapses of one seed, the seed mean, the ODE and j*
    traces = axes["traces"]
    assert len(artists(traces, "sampled-trace")) == N_SAMPLE
    (mean,) = artists(traces, "sim-mean")
    expected = runs["mean_weight"].sel(rule="kohonen", c=0.0, synapse="ee").mean("seed")
    np.testing.assert_allclose(mean.get_ydata(), expected.values)
    assert hline_y(traces, "theory-fixed-point") == pytest.approx(7.0)
    assert "leading-order" in artists(traces, "theory-ode")[0].get_label()
    # final weight histogram: mean of the pooled last snapshots, fixed point
    final = runs["sampled_weight"].sel(rule="kohonen", c=0.0, synapse="ee").isel(time=-1)
    assert vline_x(axes["final-weights"], "sim-mean-line") == pytest.approx(
        float(final.mean()))
    assert vline_x(axes["final-weights"], "theory-fixed-point") == pytest.approx(7.0)
    # rates: E neurons only, theory rate at j*
    assert vline_x(axes["rates|E"], "sim-mean-line") == pytest.approx(np.mean([6.0, 7.0]))
    assert vline_x(axes["rates|I"], "theory-rate") == pytest.approx(23.4)
    # covariances: simulated pooled mean and theory per pair type
    cov = runs["sampled_spike_count_cov"].sel(rule="kohonen", c=0.0, pair_type="ei")
    assert vline_x(axes["covariance"], "sim-mean-ei") == pytest.approx(float(cov.mean()))
    assert vline_x(axes["covariance"], "theory-ii") == pytest.approx(0.63)
    assert vline_x(axes["correlation"], "theory-ee") == pytest.approx(0.01)
    # currents: E+X is the sum of the E and X parts
    (e_plus_x,) = artists(axes["currents"], "input-E+X")
    np.testing.assert_allclose(e_plus_x.get_ydata(), 15.5)
    # KS: the printed statistic is scipy's on the 40 % and final snapshots
    weights = runs["sampled_weight"].sel(rule="kohonen", c=0.0, synapse="ee")
    middle = int(np.argmin(np.abs(weights["time"].values - 0.4 * weights["time"].values[-1])))
    expected_ks = stats.ks_2samp(weights.isel(time=middle).values.ravel(),
                                 weights.isel(time=-1).values.ravel())
    (text,) = artists(axes["ks"], "ks-result")
    assert f"D = {expected_ks.statistic:.3f}" in text.get_text()


def test_statistics_figure_names_the_delta_corrected_theory_and_skips_missing_c():
    data = experiment("istdp", seeds=(1,), delta_corrected=True)
    fig = registry.FIGURES["fig04_istdp_statistics"].draw_function()(main=data)
    axes = axes_by_gid(fig)
    assert "raster|c=0.1" not in axes
    (ode,) = artists(axes["traces"], "theory-ode")
    assert "Δ-corrected" in ode.get_label()
    assert len(artists(axes["traces"], "sampled-trace")) == N_SAMPLE


# ----------------------------------------------------------------------------- transients
def test_transients_draw_simulation_ode_and_both_fixed_points():
    data = {"soft": experiment("soft_hebbian"), "kohonen": experiment("kohonen"),
            "istdp": experiment("istdp", delta_corrected=True)}
    fig = registry.FIGURES["fig11_mean_field_transients"].draw_function()(**data)
    axes = axes_by_gid(fig)
    for role, synapse in (("soft", "ee"), ("kohonen", "ee"), ("istdp", "ei")):
        ax = axes[f"transient|{role}"]
        runs = data[role].runs
        (mean,) = artists(ax, "sim-mean")
        expected = runs["mean_weight"].sel(c=0.0, synapse=synapse).isel(rule=0).mean("seed")
        np.testing.assert_allclose(mean.get_ydata(), expected.values)
        fixed = 7.0 + 10.0 * SYNAPSES.index(synapse)
        assert hline_y(ax, "theory-fixed-point") == pytest.approx(fixed)
        (text,) = artists(ax, "final-vs-theory")
        assert f"theory j*: {fixed:.3g}" in text.get_text()
        assert f"final sim.: {float(expected.values[-1]):.3g}" in text.get_text()
    istdp_ax = axes["transient|istdp"]
    assert hline_y(istdp_ax, "leading-order-fixed-point") == pytest.approx(17.0 - 4.0)
    assert "Δ-corrected" in artists(istdp_ax, "theory-ode")[0].get_label()
    assert not artists(axes["transient|kohonen"], "leading-order-fixed-point")


# ----------------------------------------------------------------------------- Hebbian variants
def test_hebbian_variants_mark_divergence_and_draw_no_fixed_point_without_one():
    data = {"classical": experiment("classical_hebbian", diverged={1: 4.0}, stability="neutral"),
            "bounded": experiment("bounded_hebbian"), "soft": experiment("soft_hebbian")}
    fig = registry.FIGURES["fig10_hebbian_variants"].draw_function()(**data)
    axes = axes_by_gid(fig)
    # classical: no fixed point anywhere, divergence marked, snapshot before the stop
    for row in ("weights-final", "traces", "rates"):
        ax = axes[f"{row}|classical"]
        assert not artists(ax, "theory-fixed-point") and not artists(ax, "theory-rate-E")
    (stop,) = artists(axes["traces|classical"], "diverged-at")
    assert stop.get_xdata()[0] == pytest.approx(4.0)
    runs = data["classical"].runs
    weights = runs["sampled_weight"].sel(synapse="ee", c=0.0).isel(rule=0)
    half = int(np.argmin(np.abs(weights["time"].values - weights["time"].values[-1] / 2)))
    expected = np.concatenate([weights.sel(seed=1).sel(time=4.0).values,
                               weights.sel(seed=2).isel(time=half).values])
    assert vline_x(axes["weights-final|classical"], "sim-mean-line") == pytest.approx(
        expected.mean())
    insets = {a.get_gid(): a for a in axes["currents|classical"].child_axes}
    assert insets["currents-inset|classical"].get_xlim()[1] == pytest.approx(0.95 * 4.0)
    assert "rates-inset|classical" in {a.get_gid() for a in axes["rates|classical"].child_axes}
    # bounded/soft: second-half time average, fixed point and fixed-point rates drawn
    for role in ("bounded", "soft"):
        weights = data[role].runs["sampled_weight"].sel(synapse="ee", c=0.0).isel(rule=0)
        second_half = weights.sel(time=weights["time"] > weights["time"].values[-1] / 2)
        assert vline_x(axes[f"weights-final|{role}"], "sim-mean-line") == pytest.approx(
            float(second_half.mean()))
        assert vline_x(axes[f"weights-final|{role}"], "theory-fixed-point") == 7.0
        assert hline_y(axes[f"rates|{role}"], "theory-rate-I") == pytest.approx(23.4)
        assert not axes[f"currents|{role}"].child_axes


def test_hebbian_variants_put_runaway_weights_on_symmetric_log_axes():
    classical = experiment("classical_hebbian", diverged={1: 4.0}, stability="neutral")
    runs = classical.runs.copy(deep=True)
    runaway = runs["sampled_weight"].sel(seed=1, time=4.0) * 1e4     # the blow-up record
    runs["sampled_weight"].loc[{"seed": 1, "time": 4.0}] = runaway
    runs["mean_weight"].loc[{"seed": 1, "time": 4.0}] = 1e5
    fig = registry.FIGURES["fig10_hebbian_variants"].draw_function()(
        classical=ExperimentData(runs, classical.theory), bounded=experiment("bounded_hebbian"),
        soft=experiment("soft_hebbian"))
    axes = axes_by_gid(fig)
    assert axes["traces|classical"].get_yscale() == "symlog"
    assert axes["weights-final|classical"].get_xscale() == "symlog"
    assert axes["traces|soft"].get_yscale() == "linear"
    assert artists(axes["traces|classical"], "diverged-at")
