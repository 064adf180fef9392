"""Tests of the data contract: layout labels and pooling, record grid, generated docs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from balanced_stdp.config import resolve_config
from balanced_stdp.contract import (Layout, RecordGrid, dimension_name, render_document,
                                    squeeze_swept, swept_dims, swept_values)

DOC = Path(__file__).resolve().parents[1] / "docs" / "data-contract.md"


def test_document_tables_are_generated_from_the_contract():
    text = DOC.read_text()
    assert render_document(text) == text, (
        "docs/data-contract.md is out of date: run "
        "`python -m balanced_stdp.contract docs/data-contract.md`")


def test_two_population_layout_labels():
    layout = Layout.from_config(resolve_config({}))
    assert layout.groups == ("E", "I")
    assert list(layout.synapses) == ["ee", "ei", "ie", "ii"]
    assert list(layout.pair_types) == ["ee", "ei", "ii"]
    assert layout.synapse_blocks("ie") == [(1, 0)]
    assert layout.fractions == pytest.approx((0.8, 0.2))


def test_split_layout_pools_by_counts():
    cfg = resolve_config({"optogenetics": {"enabled": True, "stimulated_fraction": 0.25,
                                           "start_s": 1.0, "stop_s": 2.0}})
    layout = Layout.from_config(cfg)
    assert layout.groups == ("E1", "E2", "I")
    assert list(layout.populations) == ["E", "I", "E1", "E2"]
    assert layout.synapse_blocks("ee") == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert layout.synapse_blocks("e2i") == [(1, 2)]
    q1, q2 = 0.2, 0.6                       # 0.25 and 0.75 of the 0.8 excitatory
    rates = np.array([4.0, 8.0, 20.0])
    pooled = layout.pool_populations(rates)
    assert pooled == pytest.approx([(q1 * 4 + q2 * 8) / (q1 + q2), 20.0, 4.0, 8.0])
    block = np.arange(9.0).reshape(3, 3)
    synapses = dict(zip(layout.synapses, layout.pool_synapses(block)))
    expected_ee = (q1 * q1 * 0 + q1 * q2 * 1 + q2 * q1 * 3 + q2 * q2 * 4) / (q1 + q2) ** 2
    assert synapses["ee"] == pytest.approx(expected_ee)
    assert synapses["ei"] == pytest.approx((q1 * 2 + q2 * 5) / (q1 + q2))
    assert synapses["e1i"] == pytest.approx(2.0)
    assert synapses["ie2"] == pytest.approx(7.0)
    pairs = dict(zip(layout.pair_types, layout.pool_pairs(block)))
    assert pairs["ii"] == 8.0 and pairs["e1e2"] == 1.0


@pytest.mark.parametrize("duration_s, interval_s, n_bins, last_s", [
    (2.0, 0.1, 20, 2.0), (1.05, 0.1, 11, 1.05), (0.35, 0.25, 2, 0.35)])
def test_record_grid(duration_s, interval_s, n_bins, last_s):
    grid = RecordGrid.from_config(resolve_config({
        "duration_s": duration_s, "recording": {"interval_s": interval_s,
                                                "covariance_window_s": 0.1}}))
    times = grid.times_s()
    assert times.size == grid.n_bins == n_bins
    assert times[-1] == pytest.approx(last_s)
    assert np.all(np.diff(times) > 0)
    assert grid.half_step == grid.n_steps // 2
    # a run stopped by the divergence guard: its last, partial bin ends at the stop
    stop = grid.record_steps + 7
    assert grid.bin_end_steps(last_step=stop).tolist() == [grid.record_steps, stop]


def test_swept_values_and_names():
    cfg = resolve_config({"c": 0.1, "seed": 4, "weights": {"ei": -120.0},
                          "plasticity": {"ei": {"rule": "istdp", "eta": 1e-3}},
                          "sweep_dims": ["weights.ei"]})
    sweep = swept_values(cfg)
    assert list(sweep) == ["rule", "c", "seed", "weights_ei"]
    assert sweep["weights_ei"] == [-120.0] and sweep["c"] == [0.1] and sweep["seed"] == [4]
    assert dimension_name("plasticity.ee.beta0") == "plasticity_ee_beta0"


def test_swept_dims_of_a_theory_dataset_and_squeeze():
    from balanced_stdp.theory import predict
    cfg = {"N": 1000, "duration_s": 1.0, "weights": {"ee": 1.0, "ei": -100.0},
           "plasticity": {"ee": {"rule": "kohonen", "eta": 1e-2}}, "sweep_dims": ["weights.ee"]}
    ds = predict(cfg)
    assert ds.attrs["kind"] == "theory"
    assert swept_dims(ds) == ["rule", "c", "seed", "weights_ee"]
    squeezed = squeeze_swept(ds)
    assert "seed" not in squeezed.dims and squeezed["mean_weight"].dims == ("synapse", "time")
    assert float(squeezed["fixed_point_weight"].sel(synapse="ee")) == pytest.approx(3.0, abs=1e-3)
