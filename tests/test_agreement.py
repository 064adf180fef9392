"""Agreement tables (balanced_stdp.agreement) on fabricated aggregates with known answers."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from balanced_stdp.agreement import ESTIMATES, TABLE_COLUMNS, agreement_dataset, agreement_table
from balanced_stdp.estimators import relaxation_time
from balanced_stdp.io import open_dataset, write_dataset_atomic

TIME = np.round(np.arange(1, 21) * 0.1, 10)          # 0.1 … 2.0 s, T = 2 s
CONFIG = {"N": 10, "duration_s": 2.0, "excitatory_fraction": 0.8,
          "plasticity": {"ee": {"rule": "kohonen"}}}


def _runs(final_weights=(1.9, 2.1), e_rates=(5.0, 7.0), diverged=(0, 0)) -> xr.Dataset:
    """Two seeds at one grid point (rule kohonen, c 0.1): mean_weight ramps to its final
    value; neurons 0-7 are E (rate e_rates[seed]), 8-9 I (20 Hz)."""
    n_seeds = len(final_weights)
    weight = np.zeros((1, 1, n_seeds, 4, TIME.size))
    for s, final in enumerate(final_weights):
        weight[0, 0, s, 0] = final + (1.0 - final) * np.exp(-TIME / 0.2)
    rates = np.zeros((1, 1, n_seeds, 10))
    for s, rate in enumerate(e_rates):
        rates[0, 0, s, :8] = rate
        rates[0, 0, s, 8:] = 20.0
    cov = np.tile(np.array([0.4, 0.2, 0.1]), (1, 1, n_seeds, 1))
    cov[0, 0, :, 0] = [0.3, 0.5, 9.0][:n_seeds]
    dims = ("rule", "c", "seed")
    return xr.Dataset(
        {"mean_weight": ((*dims, "synapse", "time"), weight),
         "neuron_rate": ((*dims, "neuron"), rates),
         "population_rate": ((*dims, "population", "time"), np.ones((1, 1, n_seeds, 2,
                                                                       TIME.size))),
         "spike_count_cov": ((*dims, "pair_type"), cov),
         "diverged": (dims, np.array(diverged, dtype=float).reshape(1, 1, n_seeds)),
         "config": (dims, np.array([[[json.dumps(CONFIG)] * n_seeds]], dtype=object))},
        coords={"rule": ["kohonen"], "c": [0.1], "seed": np.arange(1, n_seeds + 1),
                "synapse": ["ee", "ei", "ie", "ii"], "time": TIME,
                "population": ["E", "I"], "pair_type": ["ee", "ei", "ii"],
                "neuron": np.arange(10),
                "neuron_population": ("neuron", ["E"] * 8 + ["I"] * 2)},
        attrs={"experiment": "fake"})


def _theory(final_weight: float, rate_e: float, cov_ee: float, tau_s: float = 0.2,
            seeds=(1, 2)) -> xr.Dataset:
    weight = np.zeros((1, 1, len(seeds), 4, TIME.size))
    weight[..., 0, :] = final_weight + (1.0 - final_weight) * np.exp(-TIME / tau_s)
    rate = np.zeros((1, 1, len(seeds), 2, TIME.size))
    rate[..., 0, :] = rate_e
    rate[..., 0, :10] = 1000.0             # before T/2 = 1 s: outside the window
    rate[..., 1, :] = 18.0
    cov = np.zeros((1, 1, len(seeds), 3))
    cov[..., 0] = cov_ee
    dims = ("rule", "c", "seed")
    return xr.Dataset(
        {"mean_weight": ((*dims, "synapse", "time"), weight),
         "population_rate": ((*dims, "population", "time"), rate),
         "spike_count_cov": ((*dims, "pair_type"), cov),
         "finite_size_delta": ((*dims, "network_population"), np.zeros((1, 1, len(seeds), 2)))},
        coords={"rule": ["kohonen"], "c": [0.1], "seed": list(seeds),
                "synapse": ["ee", "ei", "ie", "ii"], "time": TIME,
                "population": ["E", "I"], "pair_type": ["ee", "ei", "ii"]})


def _row(table, quantity):
    rows = table[table["quantity"] == quantity]
    assert len(rows) == 1, quantity
    return rows.iloc[0]


def test_known_answers_weights_rates_covariances():
    table = agreement_table(_runs(), _theory(3.0, 9.0, 0.6), _theory(2.1, 6.6, 0.4))
    assert list(table.columns) == ["experiment", "rule", "c", *TABLE_COLUMNS]
    weight = _row(table, "final_mean_weight_ee")
    # simulation 2.0 ± 0.1414 (1.9, 2.1) over 2 seeds; theories 3.0 and 2.1
    assert weight["simulation_mean"] == pytest.approx(2.0, abs=1e-3)
    assert weight["simulation_sd"] == pytest.approx(np.std([1.9, 2.1], ddof=1), rel=1e-2)
    assert weight["n_seeds"] == 2 and weight["units"] == "mV"
    assert weight["theory"] == pytest.approx(3.0, abs=1e-3)
    assert weight["relative_difference_theory"] == pytest.approx(0.5, abs=1e-3)
    assert weight["relative_difference_finite_size"] == pytest.approx(0.05, abs=1e-3)
    assert weight["theory_order"] == "leading_order"
    rate = _row(table, "rate_E")                  # neuron_rate means 5 and 7 → 6 Hz
    assert rate["simulation_mean"] == pytest.approx(6.0)
    assert rate["theory"] == pytest.approx(9.0)   # the window (T/2, T] only
    assert rate["relative_difference_theory"] == pytest.approx(0.5)
    assert rate["relative_difference_finite_size"] == pytest.approx(0.1)
    assert _row(table, "rate_I")["simulation_mean"] == pytest.approx(20.0)
    cov = _row(table, "count_cov_ee")              # 0.3, 0.5 → 0.4
    assert cov["simulation_mean"] == pytest.approx(0.4)
    assert cov["relative_difference_theory"] == pytest.approx(0.5)
    assert cov["relative_difference_finite_size"] == pytest.approx(0.0)
    tau = _row(table, "relaxation_time_ee")
    assert tau["units"] == "s" and np.isnan(tau["simulation_sd"])
    assert tau["theory"] == pytest.approx(0.2, rel=0.05)
    assert not (table["quantity"].str.endswith("_ei") & table["quantity"].str.startswith(
        "final")).any()                           # only plastic synapse types


def test_missing_finite_size_theory_gives_nan_columns_and_diverged_runs_are_left_out():
    table = agreement_table(_runs(final_weights=(1.9, 2.1, 50.0), e_rates=(5, 7, 99),
                                  diverged=(0, 0, 1)), _theory(3.0, 9.0, 0.6, seeds=(1, 2, 3)),
                            None)
    weight = _row(table, "final_mean_weight_ee")
    assert weight["n_seeds"] == 2 and weight["simulation_mean"] == pytest.approx(2.0, abs=1e-3)
    assert np.isnan(weight["finite_size_theory"])
    assert np.isnan(weight["relative_difference_finite_size"])
    assert _row(table, "rate_E")["simulation_mean"] == pytest.approx(6.0)


def test_relaxation_time_of_an_exact_exponential():
    t = np.arange(1, 401) * 0.1                     # T = 40 s = 20 τ
    for tau, a in ((2.0, 5.0), (0.7, -3.0)):
        estimate = relaxation_time(t, 10.0 + a * np.exp(-t / tau))
        assert estimate == pytest.approx(tau, rel=0.01)


def test_relaxation_time_is_nan_without_a_meaningful_change():
    t = np.arange(1, 101) * 0.1
    assert np.isnan(relaxation_time(t, np.full(t.size, 3.0)))
    assert np.isnan(relaxation_time(t, 100.0 + 0.5 * np.exp(-t)))   # 0.5 % of its size
    assert np.isnan(relaxation_time(t, np.where(t > 9.5, 5.0, 1.0)))  # moves only at the end
    assert np.isnan(relaxation_time(t, np.where(t > 5, np.nan, np.exp(-t))))  # stopped


def test_dataset_has_cf_units_and_round_trips(tmp_path):
    table = agreement_table(_runs(), _theory(3.0, 9.0, 0.6), _theory(2.1, 6.6, 0.4))
    ds = agreement_dataset(table)
    assert ds["final_mean_weight_ee"].attrs["units"] == "mV"
    assert ds["rate_E"].attrs["units"] == "Hz" and "long_name" in ds["rate_E"].attrs
    assert list(ds["estimate"].values) == list(ESTIMATES)
    got = ds["final_mean_weight_ee"].sel(rule="kohonen", c=0.1)
    assert got.sel(estimate="finite_size_theory") == pytest.approx(2.1, abs=1e-3)
    assert ds["final_mean_weight_ee_relative_difference"].sel(
        rule="kohonen", c=0.1, theory_kind="theory") == pytest.approx(0.5, abs=1e-3)
    path = write_dataset_atomic(ds, tmp_path / "agreement.nc")
    back = open_dataset(path)
    assert back["rate_E"].attrs["units"] == "Hz"
    assert int(back["rate_E_n_seeds"].sel(rule="kohonen", c=0.1)) == 2
