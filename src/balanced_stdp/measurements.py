"""Measurements of a finished run (spec §5): rates, currents, covariances, weights.

Functions here turn the raw accumulators filled by the kernel into physical
quantities. Spike-count covariances are computed without forming the N×N
matrix: the mean over all distinct pairs of a block follows from the variance
of the population-summed counts minus the neurons' own variances, which is exact
and O(N · windows). Off-diagonal means are used for every pair type
(spec §5.2 recommendation; the authors' EE mean included the diagonal).
"""

from __future__ import annotations

import math

import numba
import numpy as np


def block_mean_covariance(counts: np.ndarray, members_a: np.ndarray, members_b: np.ndarray,
                          standardize: bool = False) -> float:
    """Mean off-diagonal spike-count covariance (or correlation) between two groups.

    Parameters
    ----------
    counts : ndarray (n_windows, n_neurons)
        Spike counts per window.
    members_a, members_b : ndarray of int
        Neuron indices of the two groups; identical arrays mean a within-group block.
    standardize : bool
        If true, return the mean correlation coefficient; silent neurons (zero
        variance) are excluded, as their correlations are undefined.

    Returns
    -------
    float
        Mean over all pairs j ≠ k (j in a, k in b); NaN with fewer than 2 windows.
    """
    n_windows = counts.shape[0]
    if n_windows < 2:
        return float("nan")
    same = members_a.shape == members_b.shape and np.array_equal(members_a, members_b)

    def centred(members):
        x = counts[:, members].astype(np.float64)
        x -= x.mean(axis=0)
        if standardize:
            sd = np.sqrt((x * x).sum(axis=0) / (n_windows - 1))
            keep = sd > 0
            x = x[:, keep] / sd[keep]
        return x

    xa = centred(members_a)
    xb = xa if same else centred(members_b)
    na, nb = xa.shape[1], xb.shape[1]
    sum_a, sum_b = xa.sum(axis=1), xb.sum(axis=1)
    total = float(sum_a @ sum_b) / (n_windows - 1)
    if same:
        own = float((xa * xa).sum()) / (n_windows - 1)
        pairs = na * (na - 1)
        return (total - own) / pairs if pairs > 0 else float("nan")
    pairs = na * nb
    return total / pairs if pairs > 0 else float("nan")


def off_diagonal_pair_count(members_a: np.ndarray, members_b: np.ndarray) -> int:
    """Number of ordered pairs (j, k), j in ``members_a``, k in ``members_b``, with j ≠ k."""
    shared = np.intersect1d(members_a, members_b).size
    return int(members_a.size) * int(members_b.size) - int(shared)


def sample_off_diagonal_pairs(members_a: np.ndarray, members_b: np.ndarray, n_samples: int,
                              rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draw distinct off-diagonal pairs (j in a, k in b, j ≠ k) without replacement.

    Parameters
    ----------
    members_a, members_b : ndarray of int
        Neuron indices of the two groups (each without repeats); they may be
        identical, disjoint or overlap.
    n_samples : int
        Pairs wanted.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    j, k : ndarray of int
        ``min(n_samples, off_diagonal_pair_count(a, b))`` distinct pairs. A group
        pair with fewer off-diagonal pairs than asked (a single-neuron group has
        none within itself) returns all of them: the number of draws is fixed, so
        this never loops.
    """
    members_a = np.asarray(members_a)
    members_b = np.asarray(members_b)
    n_b = members_b.size
    # Flat positions (row in a, column in b) of the diagonal entries j = k, sorted.
    _, row, column = np.intersect1d(members_a, members_b, assume_unique=True,
                                    return_indices=True)
    diagonal = np.sort(row.astype(np.int64) * n_b + column)
    available = members_a.size * n_b - diagonal.size
    n_draw = min(int(n_samples), int(available))
    if n_draw <= 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    # Sample ranks among the allowed positions, then skip the diagonal: the allowed
    # positions before diagonal[i] number diagonal[i] - i.
    rank = rng.choice(available, size=n_draw, replace=False)
    flat = rank + np.searchsorted(diagonal - np.arange(diagonal.size), rank, side="right")
    return members_a[flat // n_b], members_b[flat % n_b]


def sampled_pair_statistics(counts: np.ndarray, members_a: np.ndarray, members_b: np.ndarray,
                            n_samples: int, rng: np.random.Generator):
    """Covariances and correlations of ``n_samples`` random off-diagonal pairs (j in a, k in b).

    Pairs are distinct (drawn without replacement, see
    :func:`sample_off_diagonal_pairs`). When the groups have fewer off-diagonal pairs
    than ``n_samples`` (e.g. a one-neuron group with itself), every existing pair is
    returned and only the missing entries are NaN. Correlations of pairs involving a
    silent neuron are NaN.

    Returns
    -------
    cov, corr : ndarray (n_samples,)
    """
    cov_out = np.full(n_samples, np.nan)
    corr_out = np.full(n_samples, np.nan)
    if counts.shape[0] < 2 or n_samples == 0:
        return cov_out, corr_out
    j, k = sample_off_diagonal_pairs(members_a, members_b, n_samples, rng)
    # only the sampled columns in float64 (a float64 copy of every neuron's counts was
    # the peak memory of long runs: 400 MB at N = 5000 with 10⁴ windows)
    xj = counts[:, j].astype(np.float64)
    xj -= xj.mean(axis=0)
    xk = counts[:, k].astype(np.float64)
    xk -= xk.mean(axis=0)
    dof = counts.shape[0] - 1
    cov = (xj * xk).sum(axis=0) / dof
    sd = np.sqrt((xj * xj).sum(axis=0) / dof * (xk * xk).sum(axis=0) / dof)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.where(sd > 0, cov / np.where(sd > 0, sd, 1.0), np.nan)
    cov_out[:j.size] = cov
    corr_out[:j.size] = corr
    return cov_out, corr_out


def group_variance(counts: np.ndarray, members: np.ndarray) -> float:
    """Mean spike-count variance of a group's neurons (the diagonal of the block)."""
    if counts.shape[0] < 2:
        return float("nan")
    return float(counts[:, members].astype(np.float64).var(axis=0, ddof=1).mean())


@numba.njit(cache=True)
def block_weight_rate_moments(weights, column_start, block, n_blocks, rates):
    """Per block of synapses: count, Σj, Σr_pre, Σj·r_pre, Σj² (no temporaries).

    ``block`` gives each CSC entry's block (e.g. post group·G + pre group, as from
    :func:`balanced_stdp.network.synapse_blocks`); returns an array (n_blocks, 5).
    """
    out = np.zeros((n_blocks, 5))
    for k in range(column_start.size - 1):
        rate = rates[k]
        for idx in range(column_start[k], column_start[k + 1]):
            row = block[idx]
            w = weights[idx]
            out[row, 0] += 1.0
            out[row, 1] += w
            out[row, 2] += rate
            out[row, 3] += w * rate
            out[row, 4] += w * w
    return out


def weight_rate_covariance(moments: np.ndarray, blocks) -> float:
    """Cov(j, r_pre) over all synapses of the given blocks (population normalisation)."""
    count, sum_w, sum_r, sum_wr, _ = moments[list(blocks)].sum(axis=0)
    if count < 2:
        return float("nan")
    return float(sum_wr / count - (sum_w / count) * (sum_r / count))


def spike_count_statistics(counts: np.ndarray, layout, group_bounds: np.ndarray,
                           n_pair_samples: int, rng: np.random.Generator) -> dict:
    """Count covariances, correlations and variances per label of a run's layout (spec §5.2).

    Parameters
    ----------
    counts : ndarray (n_windows, n_neurons)
        Spike counts per covariance window.
    layout : balanced_stdp.contract.Layout
        Gives the ``pair_type`` and ``population`` labels and the groups they pool.
    group_bounds : ndarray of int
        Neuron index range of each group.
    n_pair_samples : int
        Sampled off-diagonal pairs per pair type.
    rng : numpy.random.Generator
        Draws the sampled pairs (pair types in layout order).

    Returns
    -------
    dict
        ``cov``, ``corr`` (pair_type,): off-diagonal block means; ``sampled_cov``,
        ``sampled_corr`` (pair_type, pair_sample); ``var`` (population,).
    """
    def members(groups):
        return layout.neuron_members(groups, group_bounds)

    cov, corr, sampled_cov, sampled_corr = [], [], [], []
    for groups_a, groups_b in layout.pair_types.values():
        a, b = members(groups_a), members(groups_b)
        cov.append(block_mean_covariance(counts, a, b))
        corr.append(block_mean_covariance(counts, a, b, standardize=True))
        pair_cov, pair_corr = sampled_pair_statistics(counts, a, b, n_pair_samples, rng)
        sampled_cov.append(pair_cov)
        sampled_corr.append(pair_corr)
    var = [group_variance(counts, members(groups)) for groups in layout.populations.values()]
    return {"cov": np.array(cov), "corr": np.array(corr), "sampled_cov": np.array(sampled_cov),
            "sampled_corr": np.array(sampled_corr), "var": np.array(var)}


def mean_weight_per_label(block_sums: np.ndarray, block_counts: np.ndarray, label_codes,
                          n_neurons: int) -> np.ndarray:
    """Mean unscaled weight per synapse label and record bin from block sums of scaled weights.

    Parameters
    ----------
    block_sums : ndarray (bins, G, G)
        Σ of scaled weights J per (post group, pre group) block at each bin's end.
    block_counts : ndarray (G, G)
        Synapses per block.
    label_codes : iterable of list of int
        Per label, the block codes (post group)·G + (pre group) it pools.
    n_neurons : int
        N (unscaled j = √N·J).

    Returns
    -------
    ndarray (labels, bins)
        NaN for a label without synapses.
    """
    label_codes = list(label_codes)
    n_groups = block_counts.shape[0]
    out = np.full((len(label_codes), block_sums.shape[0]), np.nan)
    for t, codes in enumerate(label_codes):
        blocks = [divmod(code, n_groups) for code in codes]
        count = sum(block_counts[g, h] for g, h in blocks)
        if count:
            total = sum(block_sums[:, g, h] for g, h in blocks)
            out[t] = total / count * math.sqrt(n_neurons)
    return out
