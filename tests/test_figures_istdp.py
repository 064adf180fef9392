"""Tests of the iSTDP figures — the manifold of final weights (Figs 7, 8a) and optogenetic
stimulation (Fig 6) — on synthetic aggregates.

The run and theory datasets are :func:`fabricate.rule_run` / :func:`fabricate.rule_theory`,
extended with the variables these figures read (Δ-corrected theory inputs,
three-population rates and per-epoch correlations); the tests read back what was drawn by
``gid`` and compare it with values computed here from the fabricated arrays.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr

from balanced_stdp.figures import istdp_manifold, registry
from balanced_stdp.selection import ExperimentData
from fabricate import combine, rule_run, rule_theory, run
from test_figures import axes_by_gid, line, texts

INITIAL = (-250.0, -150.0, -55.0)
J0, R_I = -119.658, 23.4


# ----------------------------------------------------------------------------- fabricators
def manifold_theory(c: float, weights_ei: float) -> xr.Dataset:
    """Δ-corrected theory of one sweep point with the manifold and input variables."""
    ds = rule_theory("istdp", c, 1, weights_ei=weights_ei)
    sweep = {d: ds[d].values for d in ("rule", "c", "seed", "weights_ei")}
    synapse = ds["synapse"].values
    by_population = {"measured_mean_input": 1.0, "mean_field_input": 0.5,
                     "input_difference": 0.5, "rate_weight_cov_input": 0.4}
    for k, (name, base) in enumerate(by_population.items()):
        values = np.array([base + weights_ei / 100.0 + k, -base])
        ds[name] = xr.DataArray(values, dims="population",
                                coords={"population": ["E", "I"]}).expand_dims(sweep)
    manifold = np.where(synapse == "ei", J0 + weights_ei / 10.0, np.nan)
    ds["manifold_weight"] = xr.DataArray(manifold, dims="synapse").expand_dims(sweep)
    ds["leading_order_fixed_point_weight"] = xr.DataArray(
        np.full(synapse.size, J0), dims="synapse").expand_dims(sweep)
    ds["leading_order_fixed_point_rate"] = xr.DataArray(
        [10.0, R_I], dims="population", coords={"population": ["E", "I"]}).expand_dims(sweep)
    return ds


@pytest.fixture(scope="module")
def manifold_sweep():
    """The iSTDP initial-condition sweep at c = 0 and 0.1; one run at −55, c = 0.1 stopped."""
    runs = {(c, w): rule_run("istdp", c, 1, weights_ei=w,
                             diverged_at_s=6.1 if (c, w) == (0.1, -55.0) else None)
            for c in (0.0, 0.1) for w in INITIAL}
    theory = combine([manifold_theory(c, w) for c in (0.0, 0.1) for w in INITIAL])
    return runs, ExperimentData(combine(list(runs.values())), theory)


def final_ei(run: xr.Dataset) -> float:
    values = run["mean_weight"].sel(synapse="ei").values.ravel()
    return float(values[np.isfinite(values)][-1])


# ----------------------------------------------------------------------------- Fig 7
def test_convergence_threshold_matches_the_paper_and_scales_with_eta():
    paper_eta = 2e-4 * math.sqrt(15000) / 200
    # 1e−6 per 10-ms record of J = j/√N at the paper's η₀ and N, in mV/s
    assert istdp_manifold.convergence_threshold(paper_eta) == pytest.approx(
        1e-6 * math.sqrt(15000) / 0.01)
    assert istdp_manifold.convergence_threshold(1e-3) == pytest.approx(0.1)


def test_convergence_time_of_an_exponential_relaxation():
    time_s = 0.5 * np.arange(1, 241)
    tau, amplitude, threshold = 5.0, 130.0, 0.09
    weight = -120.0 - amplitude * np.exp(-time_s / tau)
    expected = tau * math.log(amplitude / (tau * threshold))   # |dj/dt| = threshold
    found = istdp_manifold.convergence_time(time_s, weight, threshold, window_s=1.0)
    assert found == pytest.approx(expected, abs=0.6)
    assert np.isnan(istdp_manifold.convergence_time(time_s, weight, 1e-9, window_s=1.0))


def test_fig07_panels_carry_finals_theory_manifold_and_inputs(manifold_sweep):
    runs, data = manifold_sweep
    fig = istdp_manifold.plot_istdp_manifold(data)
    ax_d = axes_by_gid(fig, "fig7-D")
    finals = [final_ei(runs[0.0, w]) for w in INITIAL]
    np.testing.assert_allclose(line(ax_d, "manifold-final").get_xdata(), INITIAL)
    np.testing.assert_allclose(line(ax_d, "manifold-final").get_ydata(), finals, rtol=1e-12)
    theory_line = line(ax_d, "manifold-theory")
    np.testing.assert_allclose(theory_line.get_ydata(), [w / 2 + 1.0 + 10.0 for w in INITIAL])
    assert theory_line.get_linestyle() == "--"
    np.testing.assert_allclose(line(ax_d, "manifold-relation").get_ydata(),
                               [J0 + w / 10.0 for w in INITIAL])
    np.testing.assert_allclose(line(ax_d, "leading-order").get_ydata(), [J0, J0])
    ax_e = axes_by_gid(fig, "fig7-E")
    for k, (name, base) in enumerate((("measured_mean_input", 1.0), ("mean_field_input", 0.5),
                                      ("input_difference", 0.5),
                                      ("rate_weight_cov_input", 0.4))):
        np.testing.assert_allclose(line(ax_e, f"input|{name}").get_ydata(),
                                   [base + w / 100.0 + k for w in INITIAL])
    scale = math.sqrt(50) * 0.1 * 0.2 / 1000.0       # √N p q_i, Hz → kHz
    np.testing.assert_allclose(line(ax_e, "input-theory").get_ydata(),
                               [scale * R_I * (J0 - f) for f in finals], rtol=1e-12)
    ax_a = axes_by_gid(fig, "fig7-A")
    assert {a.get_gid() for a in ax_a.lines} >= {f"manifold-trace|weights_ei={w:g}"
                                                 for w in INITIAL}
    np.testing.assert_allclose(line(ax_a, "manifold-trace|weights_ei=-150").get_ydata(),
                               runs[0.0, -150.0]["mean_weight"].sel(synapse="ei").values.ravel())
    ax_c = axes_by_gid(fig, "fig7-C")
    starts = [a for a in ax_c.lines if (a.get_gid() or "").startswith("phase-start|")]
    assert len(starts) == len(INITIAL) and all(a.get_color() == "red" for a in starts)
    ax_b = axes_by_gid(fig, "fig7-B")
    eta = istdp_manifold.effective_rate(data.runs)
    assert eta == pytest.approx(2e-4 * math.sqrt(50) / 200)
    converged = artists_or_none(ax_b, "convergence-time")
    if converged is not None:                      # y is t_conv × η_eff
        assert np.all(np.asarray(converged.get_ydata()) <= 15.0 * eta)


def artists_or_none(ax, gid):
    found = [a for a in ax.lines if a.get_gid() == gid]
    return found[0] if found else None


def test_fig08a_shows_both_c_with_theory_and_the_shift(manifold_sweep):
    runs, data = manifold_sweep
    fig = istdp_manifold.plot_manifold_correlated(data)
    ax_a = axes_by_gid(fig, "fig8a-A")
    for c in (0.0, 0.1):
        label = f"c={c:g}"
        expected = [np.nan if (c, w) == (0.1, -55.0) else final_ei(runs[c, w]) for w in INITIAL]
        np.testing.assert_allclose(line(ax_a, f"manifold-final|{label}").get_ydata(), expected)
        np.testing.assert_allclose(line(ax_a, f"manifold-theory|{label}").get_ydata(),
                                   [w / 2 + 3 * c + 11.0 for w in INITIAL])
    ax_b = axes_by_gid(fig, "fig8a-B")
    np.testing.assert_allclose(line(ax_b, "shift-sim").get_ydata(),
                               [final_ei(runs[0.1, w]) - final_ei(runs[0.0, w])
                                for w in INITIAL[:2]])
    np.testing.assert_allclose(line(ax_b, "shift-theory").get_ydata(), [0.3] * 3)
    assert any("diverged at 6.1 s" in t for t in texts(fig))
    assert "Fig 8 candidate" in fig.get_suptitle()


def test_fig07_and_fig08a_are_registered_as_figures_of_the_sweep_role():
    for name in ("fig07_istdp_manifold", "fig08a_manifold_correlated"):
        spec = registry.figure_spec(name)
        assert spec.stem == name and spec.roles == ("sweep",)


# ----------------------------------------------------------------------------- Fig 6
OPTO_SYNAPSES = ["ee", "ei", "ie", "ii", "e1i", "e2i"]
OPTO_PAIRS = ["ee", "ei", "ii", "e1e1", "e1e2", "e2e2", "e1i", "e2i"]
EPOCHS = ["before", "during", "after"]
ONSET, OFFSET, OPTO_T = 6.0, 12.0, 18.0


def opto_config(c: float) -> dict:
    from balanced_stdp.config import resolve_config
    return resolve_config({"N": 50, "duration_s": OPTO_T, "c": c, "seed": 1,
                           "weights": {"ee": 25.0, "ei": -250.0},
                           "plasticity": {"ei": {"rule": "istdp", "eta": 4e-3}},
                           "optogenetics": {"enabled": True, "start_s": ONSET,
                                            "stop_s": OFFSET}})


def opto_run(c: float, with_epochs: bool) -> xr.Dataset:
    """An optogenetics run: E1's inhibition deepens while the laser is on."""
    rng = np.random.default_rng(int(c * 10) + 7)
    time_s = 0.5 * np.arange(1, int(OPTO_T / 0.5) + 1)
    laser = ((time_s >= ONSET) & (time_s < OFFSET)).astype(float)
    weights = np.stack([np.full(time_s.size, w) for w in (25.0, -150.0, 112.5, -250.0)]
                       + [-200.0 - 30.0 * laser, -200.0 + 0.0 * laser])
    values = {"mean_weight": weights,
              "population_rate": np.stack([10 + rng.standard_normal(time_s.size)
                                           for _ in range(4)]),
              "mean_input": rng.standard_normal((4, 4, time_s.size))}
    coords = {"synapse": OPTO_SYNAPSES, "population": ["E", "I", "E1", "E2"]}
    if with_epochs:
        corr = 1e-3 * (np.arange(3)[:, None] + 1) * (np.arange(len(OPTO_PAIRS))[None] + 1)
        values["epoch_spike_count_corr"] = corr
        values["epoch_spike_count_cov"] = 2 * corr
        values["epoch_sampled_spike_count_corr"] = (
            0.1 * rng.standard_normal((3, len(OPTO_PAIRS), 30)) + 0.1 * np.arange(3)[:, None, None])
        coords.update(epoch=EPOCHS, pair_type=OPTO_PAIRS, pair_sample=np.arange(30))
    return run(opto_config(c), values, time_s=time_s, coords=coords)


def opto_theory(c: float) -> xr.Dataset:
    time_s = np.linspace(0, OPTO_T, 37)
    trajectory = np.stack([np.full(time_s.size, -210.0 - k) for k in range(len(OPTO_SYNAPSES))])
    return xr.Dataset({"mean_weight": (("synapse", "time"), trajectory),
                       "spike_count_corr": (("pair_type",), np.full(len(OPTO_PAIRS), 2e-3))},
                      coords={"time": time_s, "synapse": OPTO_SYNAPSES,
                              "pair_type": OPTO_PAIRS}).expand_dims(
        {"rule": ["istdp"], "c": [c], "seed": [1]})


@pytest.mark.parametrize("with_epochs", [True, False])
def test_fig06_weights_theory_epochs_and_missing_epoch_note(with_epochs):
    from balanced_stdp.figures import optogenetics
    runs = combine([opto_run(c, with_epochs) for c in (0.0, 0.1)])
    theory = combine([opto_theory(c) for c in (0.0, 0.1)])
    fig = optogenetics.plot_optogenetics(ExperimentData(runs, theory))
    ax_b = axes_by_gid(fig, "fig6-B")
    e1i = line(ax_b, "weight|e1i")
    np.testing.assert_allclose(e1i.get_xdata(), runs["time"].values - ONSET)
    np.testing.assert_allclose(e1i.get_ydata(),
                               runs["mean_weight"].sel(c=0.0, synapse="e1i").values.ravel())
    assert line(ax_b, "theory|e2i").get_linestyle() == "--"
    np.testing.assert_allclose(line(ax_b, "theory|e2i").get_ydata(), -210.0 - 5)
    window = [a for a in ax_b.patches if a.get_gid() == "laser-window"]
    assert len(window) == 1
    assert (window[0].get_x(), window[0].get_width()) == (0.0, OFFSET - ONSET)
    ax_c, ax_d = axes_by_gid(fig, "fig6-C"), axes_by_gid(fig, "fig6-D")
    if with_epochs:
        pairs = ["e1e1", "e1e2", "e1i", "e2i", "ii"]
        for k, epoch in enumerate(EPOCHS):
            bars = [p for p in ax_c.patches if p.get_gid() == f"epoch-corr|{epoch}"]
            heights = [b.get_height() for b in bars]
            expected = [1e-3 * (k + 1) * (OPTO_PAIRS.index(p) + 1) for p in pairs]
            np.testing.assert_allclose(heights, expected)
            hist = [p for p in ax_d.patches if p.get_gid() == f"epoch-hist|{epoch}"]
            assert len(hist) == 1
        np.testing.assert_allclose(line(ax_c, "epoch-corr-theory").get_ydata(), 2e-3)
    else:
        for ax in (ax_c, ax_d):
            assert [t.get_text() for t in ax.texts] == [
                "per-epoch correlations not recorded in this run"]
    ax_e = axes_by_gid(fig, "fig6-E")
    assert {"rate|E1", "rate|E2", "rate|I"} <= {a.get_gid() for a in ax_e.lines}
    ax_f = axes_by_gid(fig, "fig6-F")
    assert {"input|E", "input|X", "input|I", "input|total"} <= {a.get_gid() for a in ax_f.lines}
