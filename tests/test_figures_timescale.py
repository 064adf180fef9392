"""Tests of the timescale-separation figure (Fig 8b): each learning rate's simulated mean
weight against its mean-field ODE, and the late deviation, on synthetic aggregates of
:func:`fabricate.rule_run` runs whose mean drifts from the ODE as η grows.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from balanced_stdp.figures import registry
from balanced_stdp.selection import ExperimentData
from fabricate import combine, rule_run, rule_theory
from test_figures import axes_by_gid, line


# ----------------------------------------------------------------------------- Fig 8b
ETAS = (1e-3, 1e-2, 1e-1, 1.0)


def timescale_data(rule: str, diverged_eta: float | None = None) -> ExperimentData:
    """A rule's η sweep: the simulated mean drifts away from the ODE as η grows."""
    synapse = {"kohonen": "ee", "soft_hebbian": "ee", "istdp": "ei"}[rule]
    dim = f"plasticity_{synapse}_eta"
    runs, theories = [], []
    for eta in ETAS:
        run = rule_run(rule, 0.0, 1, diverged_at_s=4.2 if eta == diverged_eta else None)
        run["mean_weight"] = run["mean_weight"] * (1.0 + eta)
        config = json.loads(run.attrs["config"])
        config["plasticity"][synapse]["eta"] = eta
        config["sweep_dims"] = [f"plasticity.{synapse}.eta"]
        run.attrs["config"] = json.dumps(config)
        runs.append(run.expand_dims({dim: [eta]}))
        theories.append(rule_theory(rule, 0.0, 1).expand_dims({dim: [eta]}))
    return ExperimentData(combine(runs), combine(theories))


def test_fig08b_draws_each_eta_against_its_ode_and_the_late_deviation():
    from balanced_stdp.figures import timescale
    data = {role: timescale_data(rule, 1.0 if role == "soft" else None) for role, rule in
            (("kohonen", "kohonen"), ("soft", "soft_hebbian"), ("istdp", "istdp"))}
    fig = timescale.plot_timescale_separation(**data)
    ax_all, ax_largest = axes_by_gid(fig, "istdp-all"), axes_by_gid(fig, "istdp-largest")
    assert {a.get_gid() for a in ax_all.lines} == (
        {f"sim|eta={e:g}" for e in ETAS[:-1]} | {f"theory|eta={e:g}" for e in ETAS[:-1]})
    assert {a.get_gid() for a in ax_largest.lines} == {"sim|eta=1", "theory|eta=1"}
    runs, theory = data["istdp"].runs, data["istdp"].theory
    sim = runs["mean_weight"].sel(synapse="ei", plasticity_ei_eta=1e-2).values.ravel()
    np.testing.assert_allclose(line(ax_all, "sim|eta=0.01").get_ydata(), sim)
    ode = theory["mean_weight"].sel(synapse="ei", plasticity_ei_eta=1e-2).values.ravel()
    np.testing.assert_allclose(line(ax_all, "theory|eta=0.01").get_ydata(), ode)
    assert line(ax_all, "theory|eta=0.01").get_linestyle() == "--"
    time_s = runs["time"].values
    late = time_s >= time_s[-1] - 0.25 * (time_s[-1] - time_s[0])
    predicted = np.interp(time_s[late], theory["time"].values, ode)
    expected = (sim[late].mean() - predicted.mean()) / abs(predicted.mean())
    deviation = line(axes_by_gid(fig, "istdp-deviation"), "late-deviation")
    np.testing.assert_allclose(deviation.get_xdata(), ETAS)
    assert deviation.get_ydata()[1] == pytest.approx(expected)
    assert "exactly-zero weight" in registry.caption_for("fig08b_timescale_separation", None)
    soft = axes_by_gid(fig, "soft-deviation")
    np.testing.assert_allclose(line(soft, "diverged-eta").get_xdata(), [1.0])
    assert np.isnan(line(soft, "late-deviation").get_ydata()[-1])      # no late mean
    assert any("seed 1: diverged at 4.2 s" in t.get_text()
               for t in axes_by_gid(fig, "soft-largest").texts)
