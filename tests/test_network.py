"""Whole-network behaviour: structure, balance, plasticity, reproducibility, divergence."""

import json
import math

import numpy as np
import pytest

from balanced_stdp.config import resolve_config
from balanced_stdp.network import Populations, build_recurrent
from balanced_stdp.simulation import simulate

SMALL = {"recording": {"sampled_synapses": 50, "sampled_pairs": 50}}


def test_connectivity_statistics_and_row_index():
    config = resolve_config({"N": 2000})
    pops = Populations.from_config(config)
    net = build_recurrent(pops, 0.1, np.random.default_rng(0))
    n, nnz = pops.n_neurons, net.columns.n_synapses
    # Bernoulli(p) over all N² ordered pairs (self-pairs included): mean p N², s.d. √(N² p q)
    assert abs(nnz - 0.1 * n * n) < 5 * math.sqrt(n * n * 0.09)
    pre = net.presynaptic_neuron()
    post = net.columns.targets
    # no multapses
    assert np.unique(pre.astype(np.int64) * n + post).size == nnz
    # the row index points at the same synapses, E partners before the split
    assert np.array_equal(np.sort(net.row_synapse), np.arange(nnz))
    rows = np.repeat(np.arange(n), np.diff(net.row_start))
    assert np.array_equal(post[net.row_synapse], rows)
    assert np.array_equal(pre[net.row_synapse], net.row_sources)
    split_ok = [np.all(net.row_sources[net.row_start[j]:net.row_split[j]] < pops.n_excitatory)
                and np.all(net.row_sources[net.row_split[j]:net.row_start[j + 1]]
                           >= pops.n_excitatory) for j in range(0, n, 97)]
    assert all(split_ok)
    # rows are sorted by presynaptic neuron (the kernel's E-first split relies on it)
    assert all(np.all(np.diff(net.row_sources[net.row_start[j]:net.row_start[j + 1]]) > 0)
               for j in range(0, n, 97))
    # synapse types follow (post, pre) populations
    expected_type = 2 * (post >= pops.n_excitatory) + (pre >= pops.n_excitatory)
    assert np.array_equal(net.synapse_type, expected_type)
    # memory: weights (8 B) + post index (4 B) + row entries (4 + 4 B) + type (1 B) per synapse
    index_bytes = (net.columns.targets.nbytes + net.row_sources.nbytes + net.row_synapse.nbytes
                   + net.synapse_type.nbytes)
    assert index_bytes / nnz <= 13


@pytest.fixture(scope="module")
def balanced_runs():
    """Non-plastic default networks at two sizes (3 s each)."""
    return {n: simulate({"N": n, "duration_s": 3.0, "seed": 11, **SMALL}, progress=False)
            for n in (2000, 5000)}


def test_synapse_sampling_is_distinct_and_in_block():
    from balanced_stdp.recorder import sample_synapses
    rng = np.random.default_rng(0)
    blocks = rng.integers(0, 4, 200_000).astype(np.int8)
    for codes, n_sample in (([1], 1000), ([0, 3], 500), ([2], 10)):
        chosen = sample_synapses(blocks, codes, n_sample, rng)
        assert chosen.size == n_sample and np.unique(chosen).size == n_sample
        assert np.isin(blocks[chosen], codes).all()
        # roughly uniform over the block: the chosen positions span the whole range
        assert chosen.min() < 0.1 * blocks.size < 0.9 * blocks.size < chosen.max() or \
            n_sample < 50
    few = np.zeros(30, np.int8)
    assert sample_synapses(few, [0], 1000, rng).size == 30


def test_balanced_rates_approach_theory(balanced_runs):
    theory = np.array([0.099 / 17, 0.27 / 17]) * 1000     # spec §6.1: 5.824, 15.882 Hz
    deviations = {}
    for n, ds in balanced_runs.items():
        rates = ds.neuron_rate.squeeze()
        measured = np.array([rates.where(rates.neuron_population == p).mean().item()
                             for p in ("E", "I")])
        deviations[n] = np.abs(measured - theory) / theory
    # Finite-size corrections are O(1/√N) with an O(1) prefactor that the theory does not
    # give; measured here: I deviates 18 % at N = 2000 and 9 % at N = 5000 (E: 8 %, 3 %).
    # Bound: 30 % at 2000 and, the real check, the deviation shrinks as N grows.
    assert np.all(deviations[2000] < 0.30)
    assert np.all(deviations[5000] < deviations[2000])


def test_mean_input_is_balanced(balanced_runs):
    ds = balanced_runs[5000]
    current = ds.mean_input.squeeze().sel(population="E").where(ds.time > 1.0).mean("time")
    excitation = float(current.sel(source="E") + current.sel(source="X"))
    inhibition = float(current.sel(source="I"))
    total = float(current.sel(source="total"))
    assert total == pytest.approx(excitation + inhibition, rel=1e-9)
    # E+X and I are O(√N): √N(w_ee r_e + w_ex r_x) ≈ 3.4 mV/ms at N = 5000; they cancel
    # to an O(1) total that sits below the rheobase g_L(V_T − E_L) ≈ 1.1 mV/ms
    assert excitation == pytest.approx(math.sqrt(5000) * (2 * 0.0058 + 3.6 * 0.010), rel=0.1)
    assert inhibition < -2.5
    assert abs(total) < 0.25 * excitation


def test_istdp_moves_excitatory_rate_to_target():
    eta0 = 5e-3     # relaxation time ≈ 1/(0.001136·η₀√N) ≈ 4 s at N = 2000 (spec §6.9)
    ds = simulate({"N": 2000, "duration_s": 24.0, "seed": 2,
                   "plasticity": {"ei": {"rule": "istdp", "eta": eta0}}, **SMALL},
                  progress=False)
    rate_e = ds.population_rate.squeeze().sel(population="E")
    early = float(rate_e.sel(time=slice(0, 2)).mean())
    late = float(rate_e.sel(time=slice(18, 24)).mean())
    assert early < 7.0                       # starts near the balanced 5.8 Hz
    assert late == pytest.approx(10.0, abs=1.0)
    # inhibition weakened (j_ei less negative) to raise the E rate; non-plastic types fixed
    weights = ds.mean_weight.squeeze()
    assert float(weights.sel(synapse="ei").isel(time=-1)) > -140
    assert float(weights.sel(synapse="ee").isel(time=-1)) == pytest.approx(25.0, rel=1e-12)


def test_same_seed_identical_other_seed_different():
    config = {"N": 600, "duration_s": 1.0, "c": 0.1,
              "plasticity": {"ee": {"rule": "kohonen", "eta": 1e-2}}, **SMALL}
    a = simulate({**config, "seed": 5}, progress=False)
    b = simulate({**config, "seed": 5}, progress=False)
    c = simulate({**config, "seed": 6}, progress=False)
    for name in a.data_vars:
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)
    assert not np.array_equal(a.raster_neuron.values[:50], c.raster_neuron.values[:50])


def test_initial_condition_sweep_shares_network_and_input():
    """Re-seeding identically (spec §2.6): only the plastic initial weight differs."""
    base = {"N": 500, "duration_s": 0.5, "seed": 9, **SMALL,
            "plasticity": {"ei": {"rule": "istdp", "eta": 1e-9}}}
    a = simulate({**base, "weights": {"ei": -150}}, progress=False)
    b = simulate({**base, "weights": {"ei": -150}, "c": 0.0}, progress=False)
    c = simulate({**base, "weights": {"ei": -200}}, progress=False)
    np.testing.assert_array_equal(a.sampled_pre_neuron, c.sampled_pre_neuron)
    np.testing.assert_array_equal(a.raster_neuron, b.raster_neuron)
    assert not np.array_equal(a.neuron_rate.values, c.neuron_rate.values)


def test_classical_hebbian_divergence_is_recorded():
    ds = simulate({"N": 1000, "duration_s": 20.0, "seed": 1,
                   "plasticity": {"ee": {"rule": "classical_hebbian", "eta": 0.2}}, **SMALL},
                  progress=False)
    assert ds.attrs["status"] == "diverged"
    stop = float(ds.diverged_at_s.squeeze())
    assert 0 < stop < 20.0 and ds.attrs["diverged_at_s"] == stop
    assert int(ds.diverged.squeeze()) == 1
    # everything recorded up to the stop is kept, and none of it is a silent NaN
    assert float(ds.time[-1]) == pytest.approx(stop)
    assert np.isfinite(ds.population_rate.values).all()
    assert np.isfinite(ds.mean_weight.values).all()
    assert json.loads(ds.attrs["config"])["plasticity"]["ee"]["rule"] == "classical_hebbian"


def test_optogenetic_layer_drives_only_e1():
    ds = simulate({"N": 1000, "duration_s": 3.0, "seed": 3, **SMALL,
                   "plasticity": {"ei": {"rule": "istdp", "eta": 5e-3}},
                   "optogenetics": {"enabled": True, "rate_hz": 20.0, "start_s": 1.0,
                                    "stop_s": 2.0}}, progress=False)
    rate = ds.population_rate.squeeze()
    assert list(ds.population.values) == ["E", "I", "E1", "E2"]
    # E is the size-weighted mean of E1 and E2 (equal halves)
    np.testing.assert_allclose(rate.sel(population="E"),
                               (rate.sel(population="E1") + rate.sel(population="E2")) / 2)
    x_input = ds.mean_input.squeeze().sel(source="X")
    before = x_input.sel(time=slice(0.3, 1.0)).mean("time")
    during = x_input.sel(time=slice(1.3, 2.0)).mean("time")
    # X2 adds (0.2N·p·20 Hz·180/√N mV) = 2.28 mV/ms to E1 only
    added = 0.2 * 1000 * 0.1 * 0.020 * 180 / math.sqrt(1000)
    assert float(during.sel(population="E1") - before.sel(population="E1")) == pytest.approx(
        added, rel=0.1)
    assert abs(float(during.sel(population="E2") - before.sel(population="E2"))) < 0.1 * added
    assert abs(float(during.sel(population="I") - before.sel(population="I"))) < 0.1 * added
    # weights per subpopulation: E1←I inhibition strengthens during the laser, E2←I weakens
    weights = ds.mean_weight.squeeze()
    change = weights.sel(time=2.0) - weights.sel(time=1.0)
    assert float(change.sel(synapse="e1i")) < -10 and float(change.sel(synapse="e2i")) > 5
    # the pooled ei mean is the count-weighted mean of the two blocks (≈ equal sizes)
    pooled = float(weights.sel(synapse="ei", time=3.0))
    parts = weights.sel(synapse=["e1i", "e2i"], time=3.0).values
    assert parts.min() < pooled < parts.max()
    assert pooled == pytest.approx(parts.mean(), abs=0.05 * abs(parts[0] - parts[1]))
    assert float(weights.sel(synapse="e1e2").isel(time=-1)) == pytest.approx(25.0)


def test_covariances_follow_correlated_theory():
    """At c = 0.1 the count covariances approach C_ab = T_win c r_a r_b / r_x (spec §6.2)."""
    ds = simulate({"N": 2000, "duration_s": 20.0, "c": 0.1, "seed": 4, **SMALL},
                  progress=False)
    rates = ds.neuron_rate.squeeze()
    r_e = rates.where(rates.neuron_population == "E").mean().item() / 1000
    r_i = rates.where(rates.neuron_population == "I").mean().item() / 1000
    cov = ds.spike_count_cov.squeeze()
    predicted = {"ee": 250 * 0.1 * r_e * r_e / 0.01, "ei": 250 * 0.1 * r_e * r_i / 0.01,
                 "ii": 250 * 0.1 * r_i * r_i / 0.01}
    # The leading-order theory fixes the *shape* C_ab ∝ r_a r_b (checked to 15 %). Its
    # amplitude carries finite-size corrections: measured/theory = 1.5, 2.1, 1.7 at
    # N = 1000, 2000, 5000 (seed 4, 20 s); we bound the ratio to [0.8, 2.5].
    ratio = {pair: float(cov.sel(pair_type=pair)) / value for pair, value in predicted.items()}
    assert ratio["ei"] / ratio["ee"] == pytest.approx(1.0, rel=0.15)
    assert ratio["ii"] / ratio["ee"] == pytest.approx(1.0, rel=0.15)
    assert all(0.8 < r < 2.5 for r in ratio.values())
    corr = ds.spike_count_corr.squeeze()
    assert 0 < float(corr.sel(pair_type="ee")) < 0.2
