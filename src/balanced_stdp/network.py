"""Network structure: populations, Bernoulli connectivity and sparse weight storage.

Recurrent synapses are stored once, in compressed-sparse-column (CSC) order —
one column per presynaptic neuron, its postsynaptic targets sorted with E posts
first — so that a presynaptic spike delivers current and updates its column in
time proportional to its out-degree. A second, row-wise index (CSR order: one row
per postsynaptic neuron, E presynaptic partners first) points into the same
weight array, so a postsynaptic spike updates its row in time proportional to
its in-degree. No dense N×N array is ever built; memory is
nnz × (8 bytes weight + 4 bytes post index + 4 + 4 bytes row index) plus O(N).

Neurons are indexed E first (0 … N_e−1; with optogenetics E1 then E2), then I
(spec §1). Every ordered pair, self-pairs included, is connected independently
with probability p (spec §2.1).
"""

from __future__ import annotations

import dataclasses
import math

import numba
import numpy as np

from .contract import Layout


@dataclasses.dataclass
class Populations:
    """Neuron counts and index ranges of the groups of a :class:`~balanced_stdp.contract.Layout`.

    The layout says which groups there are — (E, I), or (E1, E2, I) with
    optogenetics — the counts round the config's fractions:
    N_e = round(q_e N), N_e1 = round(f_stim N_e), N_x = round(q_x N), N_x2 = round(q_x2 N).
    """

    n_neurons: int
    n_excitatory: int
    n_inhibitory: int
    n_external: int
    n_stimulated: int          # E1 size (0 without optogenetics)
    n_laser: int               # X2 size (0 without optogenetics)
    layout: Layout

    @classmethod
    def from_config(cls, config: dict) -> "Populations":
        layout = Layout.from_config(config)
        n = config["N"]
        n_e = round(config["excitatory_fraction"] * n)
        opto = config["optogenetics"]
        n_e1 = round(opto["stimulated_fraction"] * n_e) if layout.is_split else 0
        n_x2 = round(opto["layer_fraction"] * n) if layout.is_split else 0
        return cls(n, n_e, n - n_e, round(config["external_fraction"] * n), n_e1, n_x2, layout)

    @property
    def has_subpopulations(self) -> bool:
        """E is split into E1 (stimulated) and E2."""
        return self.layout.is_split

    def group_bounds(self) -> np.ndarray:
        """Contiguous neuron ranges of the layout's groups (E groups first, then I)."""
        if self.has_subpopulations:
            return np.array([0, self.n_stimulated, self.n_excitatory, self.n_neurons], np.int64)
        return np.array([0, self.n_excitatory, self.n_neurons], np.int64)

    def group_names(self) -> list[str]:
        return list(self.layout.groups)

    def neuron_labels(self) -> np.ndarray:
        """Group name of every neuron."""
        labels = np.empty(self.n_neurons, dtype=object)
        bounds = self.group_bounds()
        for name, lo, hi in zip(self.group_names(), bounds[:-1], bounds[1:]):
            labels[lo:hi] = name
        return labels.astype(str)


@dataclasses.dataclass
class SparseProjection:
    """Column-ordered (CSC) synapses from one presynaptic layer.

    ``targets[column_start[k]:column_start[k+1]]`` are the posts of presynaptic
    neuron k, excitatory posts first; ``column_split[k]`` is the first inhibitory post.
    """

    column_start: np.ndarray   # int64 (n_pre + 1)
    column_split: np.ndarray   # int64 (n_pre)
    targets: np.ndarray        # int32 (nnz)

    @property
    def n_synapses(self) -> int:
        return int(self.targets.size)


@dataclasses.dataclass
class RecurrentConnectivity:
    """Recurrent E/I synapses: CSC storage plus a row index into the same weights."""

    columns: SparseProjection
    row_start: np.ndarray      # int64 (N + 1)
    row_split: np.ndarray      # int64 (N): first inhibitory presynaptic partner in the row
    row_sources: np.ndarray    # int32 (nnz): presynaptic neuron of each row entry
    row_synapse: np.ndarray    # int32/int64 (nnz): position of each row entry in the CSC arrays
    synapse_type: np.ndarray   # int8 (nnz): 0 ee, 1 ei, 2 ie, 3 ii (kernel block order)

    def presynaptic_neuron(self, positions: np.ndarray | None = None) -> np.ndarray:
        """Presynaptic neuron of the CSC entries at ``positions`` (all entries if None)."""
        start = self.columns.column_start
        if positions is None:
            return np.repeat(np.arange(start.size - 1, dtype=np.int32), np.diff(start))
        return (np.searchsorted(start, positions, side="right") - 1).astype(np.int32)


def _draw_columns(rng: np.random.Generator, n_pre: int, n_exc_post: int, n_inh_post: int,
                  offset_inh: int, probability: float) -> SparseProjection:
    """Bernoulli(p) targets for each presynaptic neuron; E posts first, then I posts.

    Each column draws its degree ~ Binomial(n_post, p) and that many distinct
    targets, which is the same distribution as independent Bernoulli draws per pair.
    """
    n_exc = rng.binomial(n_exc_post, probability, size=n_pre)
    n_inh = rng.binomial(n_inh_post, probability, size=n_pre) if n_inh_post else np.zeros(
        n_pre, np.int64)
    degree = n_exc + n_inh
    column_start = np.zeros(n_pre + 1, np.int64)
    np.cumsum(degree, out=column_start[1:])
    targets = np.empty(column_start[-1], np.int32)
    for k in range(n_pre):
        lo = column_start[k]
        exc = rng.choice(n_exc_post, n_exc[k], replace=False)
        exc.sort()
        targets[lo:lo + n_exc[k]] = exc
        if n_inh[k]:
            inh = rng.choice(n_inh_post, n_inh[k], replace=False)
            inh.sort()
            targets[lo + n_exc[k]:column_start[k + 1]] = inh + offset_inh
    return SparseProjection(column_start, column_start[:-1] + n_exc, targets)


@numba.njit(cache=True)
def _row_index(column_start, targets, n_exc):
    """Counting sort of the CSC entries by postsynaptic neuron (O(nnz), no temporaries).

    Columns are visited in increasing presynaptic order, so every row comes out sorted
    by presynaptic neuron: E partners first, and ``row_split`` marks the first I one.
    """
    n = column_start.size - 1
    row_start = np.zeros(n + 1, np.int64)
    for idx in range(targets.size):
        row_start[targets[idx] + 1] += 1
    for j in range(n):
        row_start[j + 1] += row_start[j]
    fill = row_start[:-1].copy()
    row_split = row_start[:-1].copy()
    row_synapse = np.empty(targets.size, np.int32)
    row_sources = np.empty(targets.size, np.int32)
    for k in range(n):
        for idx in range(column_start[k], column_start[k + 1]):
            j = targets[idx]
            row_synapse[fill[j]] = idx
            row_sources[fill[j]] = k
            fill[j] += 1
            if k < n_exc:
                row_split[j] += 1
    return row_start, row_split, row_synapse, row_sources


@numba.njit(cache=True)
def synapse_blocks(column_start, targets, group_bounds):
    """(post group)·G + (pre group) of every CSC entry, as int8 (G = number of groups)."""
    n_groups = group_bounds.size - 1
    out = np.empty(targets.size, np.int8)
    pre_group = 0
    for k in range(column_start.size - 1):
        while k >= group_bounds[pre_group + 1]:
            pre_group += 1
        for idx in range(column_start[k], column_start[k + 1]):
            post_group = 0
            while targets[idx] >= group_bounds[post_group + 1]:
                post_group += 1
            out[idx] = post_group * n_groups + pre_group
    return out


def build_recurrent(pops: Populations, probability: float,
                    rng: np.random.Generator) -> RecurrentConnectivity:
    """Draw the recurrent E/I connectivity (all four types) and its row index."""
    columns = _draw_columns(rng, pops.n_neurons, pops.n_excitatory, pops.n_inhibitory,
                            pops.n_excitatory, probability)
    if columns.n_synapses >= 2**31:
        raise ValueError("more than 2^31 synapses: int32 indices would overflow")
    row_start, row_split, row_synapse, row_sources = _row_index(
        columns.column_start, columns.targets, pops.n_excitatory)
    # E/I blocks in kernel order: ee = 0, ei = 1, ie = 2, ii = 3
    synapse_type = synapse_blocks(columns.column_start, columns.targets,
                                  np.array([0, pops.n_excitatory, pops.n_neurons], np.int64))
    return RecurrentConnectivity(columns, row_start, row_split, row_sources, row_synapse,
                                 synapse_type)


def build_external(pops: Populations, probability: float,
                   rng: np.random.Generator) -> SparseProjection:
    """X → E and X → I projections (CSC over the N_x external neurons)."""
    return _draw_columns(rng, pops.n_external, pops.n_excitatory, pops.n_inhibitory,
                         pops.n_excitatory, probability)


def build_laser(pops: Populations, probability: float,
                rng: np.random.Generator) -> SparseProjection:
    """X2 → E1 projection of the optogenetic layer (no I or E2 targets)."""
    return _draw_columns(rng, pops.n_laser, pops.n_stimulated, 0, 0, probability)


def initial_weights(connectivity: RecurrentConnectivity, weights_mv: dict,
                    n_neurons: int) -> np.ndarray:
    """Scaled weights J = j/√N of every recurrent synapse, in CSC order."""
    per_type = np.array([weights_mv[s] for s in ("ee", "ei", "ie", "ii")]) / math.sqrt(n_neurons)
    return per_type[connectivity.synapse_type].astype(np.float64)
