"""Spike-count statistics computed without the N×N matrix agree with the direct matrix."""

import threading

import numpy as np
import pytest

from balanced_stdp.measurements import (block_mean_covariance, block_weight_rate_moments,
                                        group_variance, off_diagonal_pair_count,
                                        sample_off_diagonal_pairs, sampled_pair_statistics,
                                        weight_rate_covariance)


@pytest.fixture(scope="module")
def counts():
    rng = np.random.default_rng(0)
    shared = rng.poisson(2.0, size=(300, 1))
    counts = rng.poisson(3.0, size=(300, 60)) + shared * (np.arange(60) % 3 == 0)
    counts[:, 5] = 0                                         # a silent neuron
    return counts.astype(np.uint16)


def direct_block_mean(matrix, a, b):
    block = matrix[np.ix_(a, b)]
    if np.array_equal(a, b):
        off = ~np.eye(len(a), dtype=bool)
        return np.nanmean(block[off])
    return np.nanmean(block)


def test_block_means_equal_direct_covariance(counts):
    full = np.cov(counts.T.astype(float))
    a, b = np.arange(0, 40), np.arange(40, 60)
    assert block_mean_covariance(counts, a, a) == pytest.approx(direct_block_mean(full, a, a),
                                                                rel=1e-10)
    assert block_mean_covariance(counts, a, b) == pytest.approx(direct_block_mean(full, a, b),
                                                                rel=1e-10)
    assert group_variance(counts, a) == pytest.approx(np.diag(full)[a].mean(), rel=1e-12)


def test_block_mean_correlation_excludes_silent_neurons(counts):
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.corrcoef(counts.T.astype(float))
    a = np.arange(0, 40)
    assert block_mean_covariance(counts, a, a, standardize=True) == pytest.approx(
        direct_block_mean(corr, a, a), rel=1e-10)


def test_sampled_pairs_are_entries_of_the_matrix(counts):
    full = np.cov(counts.T.astype(float))
    rng = np.random.default_rng(1)
    a, b = np.arange(0, 40), np.arange(0, 40)
    cov, corr = sampled_pair_statistics(counts, a, b, 200, rng)
    entries = full[np.ix_(a, b)][~np.eye(40, dtype=bool)]
    # every sample is some off-diagonal entry (never a variance)
    assert all(np.isclose(entries, c, rtol=1e-12, atol=1e-12).any() for c in cov)
    assert np.isnan(corr).any() == bool((counts[:, a].std(axis=0) == 0).any())


def finishes_within(seconds, function, *args):
    """Run ``function(*args)`` in a daemon thread; fail (not hang) if it does not return."""
    result = {}
    worker = threading.Thread(target=lambda: result.setdefault("value", function(*args)),
                              daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"{function.__name__} did not return within {seconds} s"
    return result["value"]


def test_pair_sampling_of_tiny_groups_terminates_and_pads_only_missing_pairs(counts):
    # Regression: a one-neuron group (N = 5 gives one I neuron; one E1 neuron under
    # optogenetics) has no off-diagonal pair with itself, and the old redraw loop spun
    # forever looking for one.
    rng = np.random.default_rng(2)
    full = np.cov(counts.T.astype(float))
    one, two = np.array([3]), np.array([7, 8])
    cov, corr = finishes_within(10, sampled_pair_statistics, counts, one, one, 5, rng)
    assert cov.shape == corr.shape == (5,) and np.isnan(cov).all() and np.isnan(corr).all()
    cov, _ = finishes_within(10, sampled_pair_statistics, counts, two, two, 5, rng)
    # both existing pairs (7, 8) and (8, 7) are returned, and only the 3 missing are NaN
    np.testing.assert_allclose(cov[:2], [full[7, 8]] * 2, rtol=1e-12)
    assert np.isnan(cov[2:]).all()
    cov, _ = finishes_within(10, sampled_pair_statistics, counts, one, two, 5, rng)
    np.testing.assert_allclose(np.sort(cov[:2]), np.sort([full[3, 7], full[3, 8]]), rtol=1e-12)
    assert np.isnan(cov[2:]).all()


@pytest.mark.parametrize("a,b", [(np.arange(10), np.arange(10)),      # within a group
                                 (np.arange(10), np.arange(10, 13)),  # disjoint groups
                                 (np.arange(10), np.arange(5, 15)),   # overlapping groups
                                 (np.array([4]), np.array([4]))])     # nothing off-diagonal
def test_pair_sampling_without_replacement_covers_exactly_the_off_diagonal_pairs(a, b):
    expected = {(j, k) for j in a for k in b if j != k}
    assert off_diagonal_pair_count(a, b) == len(expected)
    rng = np.random.default_rng(5)
    j, k = sample_off_diagonal_pairs(a, b, len(expected) + 7, rng)   # ask for more than exist
    drawn = list(zip(j.tolist(), k.tolist()))
    assert len(drawn) == len(set(drawn)) == len(expected) and set(drawn) == expected
    j, k = sample_off_diagonal_pairs(a, b, len(expected) // 2, rng)
    drawn = list(zip(j.tolist(), k.tolist()))
    assert len(set(drawn)) == len(expected) // 2 and set(drawn) <= expected


def test_pair_sampling_of_a_large_group_is_distinct_and_uniform():
    members = np.arange(4000)                  # 16 million pairs: never enumerated
    j, k = sample_off_diagonal_pairs(members, members, 20000, np.random.default_rng(9))
    assert j.size == 20000 and not np.any(j == k)
    assert np.unique(j * 4000 + k).size == 20000
    # uniform over rows and columns: mean index ≈ 1999.5 (s.e. ≈ 8)
    assert abs(j.mean() - 1999.5) < 50 and abs(k.mean() - 1999.5) < 50


def test_weight_rate_covariance_per_block():
    rng = np.random.default_rng(3)
    n, n_exc = 40, 30
    column_start = np.concatenate([[0], np.cumsum(rng.integers(0, 8, n))]).astype(np.int64)
    targets = np.concatenate([np.sort(rng.choice(n, column_start[k + 1] - column_start[k],
                                                 replace=False))
                              for k in range(n)]).astype(np.int32)
    weights = rng.normal(size=targets.size)
    rates = rng.uniform(1, 20, n)
    pre = np.repeat(np.arange(n), np.diff(column_start))
    block = (2 * (targets >= n_exc) + (pre >= n_exc)).astype(np.int8)
    moments = block_weight_rate_moments(weights, column_start, block, 4, rates)
    for post_inh in (0, 1):
        for pre_inh in (0, 1):
            mask = ((targets >= n_exc) == post_inh) & ((pre >= n_exc) == pre_inh)
            expected = np.mean((weights[mask] - weights[mask].mean())
                               * (rates[pre[mask]] - rates[pre[mask]].mean()))
            got = weight_rate_covariance(moments, [2 * post_inh + pre_inh])
            assert got == pytest.approx(expected, rel=1e-9, abs=1e-12)
