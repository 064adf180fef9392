"""The run-config keys ``precision`` and ``threads`` of the simulation kernel."""

import numba
import numpy as np
import pytest
import xarray as xr

from balanced_stdp.config import ConfigError, resolve_config
from balanced_stdp.simulation import simulate

RECORDING = {"interval_s": 0.1, "covariance_window_s": 0.25, "sampled_synapses": 50,
             "sampled_pairs": 50, "raster_duration_s": 0.5}
RULES = {
    "kohonen": ({"ee": {"rule": "kohonen", "eta": 0.01, "beta0": 2.0}},
                {"ee": 1.0, "ei": -100.0}, "ee"),
    "soft_hebbian": ({"ee": {"rule": "soft_hebbian", "eta": 0.02, "j_max": 30.0}}, {}, "ee"),
    "istdp": ({"ei": {"rule": "istdp", "eta": 0.001}}, {}, "ei"),
}


def _run(**config):
    return simulate({"recording": RECORDING, **config}, progress=False)


def _rates_and_weight(ds, synapse):
    rates = ds.neuron_rate.squeeze().groupby("neuron_population").mean()
    weight = ds.mean_weight.isel(time=-1).squeeze().sel(synapse=synapse)
    return float(rates.sel(neuron_population="E")), float(rates.sel(neuron_population="I")), \
        float(weight)


@pytest.mark.parametrize("rule", list(RULES))
def test_float32_rates_and_weights_match_float64(rule):
    # Same seed, so the same connectivity and input; the runs drift apart by rounding
    # only. Measured at N = 1000, T = 3 s: rates within 0.6 %, mean weights within 0.1 %
    # (the seed-to-seed spread of the rates is 4 %). 100-s runs at N = 5000: README.
    plasticity, weights, synapse = RULES[rule]
    config = {"N": 1000, "duration_s": 3.0, "seed": 2, "plasticity": plasticity,
              "weights": weights}
    single = _run(**config, precision="float32")
    double = _run(**config, precision="float64")
    rate_e32, rate_i32, weight32 = _rates_and_weight(single, synapse)
    rate_e64, rate_i64, weight64 = _rates_and_weight(double, synapse)
    assert rate_e32 == pytest.approx(rate_e64, rel=0.02)
    assert rate_i32 == pytest.approx(rate_i64, rel=0.02)
    assert weight32 == pytest.approx(weight64, rel=0.005)
    # float32 really was used (a run bit-identical to float64 would mean it was not)
    assert not np.array_equal(single.neuron_rate.values, double.neuron_rate.values) or \
        weight32 != weight64
    assert single.mean_weight.dtype == double.mean_weight.dtype == np.float64


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 numba threads")
def test_threads_give_results_identical_to_one_thread():
    config = {"N": 600, "duration_s": 1.0, "seed": 4, "c": 0.1,
              "plasticity": {"ee": {"rule": "soft_hebbian", "eta": 0.02, "j_max": 30.0},
                             "ei": {"rule": "istdp", "eta": 0.001},
                             "ie": {"rule": "soft_hebbian", "eta": 0.001}}}
    one = _run(**config, threads=1)
    two = _run(**config, threads=2)
    assert float(one.neuron_rate.sum()) > 0
    xr.testing.assert_identical(one.drop_attrs(deep=False), two.drop_attrs(deep=False))


def test_precision_and_threads_are_validated():
    assert resolve_config({})["precision"] == "float64"
    assert resolve_config({})["threads"] == 1
    with pytest.raises(ConfigError, match="precision: 'float16' not allowed"):
        resolve_config({"precision": "float16"})
    with pytest.raises(ConfigError, match="threads"):
        resolve_config({"threads": 0})
