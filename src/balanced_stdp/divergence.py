"""The divergence guard: when a run is stopped as diverged, and why.

Unstable plasticity (e.g. classical Hebbian EE, spec §6.5) makes rates and weights
run away. The kernel checks at the end of every record bin whether a population's
rate in the bin, the run's total spike count (the authors' spike buffer of spec
§2.5 step 3) or any recorded weight or current sum left its bound, and stops
with one of the ``STATUS_*`` codes below; the run dataset keeps everything
recorded up to that point.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .numba_cache import jit

STATUS_RUNNING = 0
STATUS_BIN_RATE = 1       # a population's rate in one record bin exceeded the cap
STATUS_SPIKE_BUDGET = 2   # total spikes exceeded max_mean_rate · N · T (authors' buffer)
STATUS_NONFINITE = 3      # a weight or current became non-finite
STATUS_MESSAGES = {
    STATUS_BIN_RATE: "population rate above divergence.max_bin_rate_hz",
    STATUS_SPIKE_BUDGET: "total spike count above divergence.max_mean_rate_hz x N x T",
    STATUS_NONFINITE: "non-finite weight or current",
}


class DivergenceGuard(NamedTuple):
    """Stop criteria of a diverging run (``divergence`` config section)."""

    max_bin_spikes: np.ndarray       # float64 (groups): cap on one record bin's spike count
    spike_budget: float              # cap on the run's total spike count
    spike_total: np.ndarray          # int64 (1): spikes so far (updated in place)

    @classmethod
    def from_config(cls, config: dict, group_sizes: np.ndarray) -> "DivergenceGuard":
        """Caps of a resolved run config for groups of the given sizes."""
        divergence = config["divergence"]
        interval_s = config["recording"]["interval_s"]
        max_bin_spikes = (divergence["max_bin_rate_hz"] * interval_s * group_sizes).astype(
            np.float64)
        n_neurons = int(group_sizes.sum())
        duration_ms = config["duration_s"] * 1000.0
        spike_budget = divergence["max_mean_rate_hz"] / 1000.0 * n_neurons * duration_ms
        return cls(max_bin_spikes, float(spike_budget), np.zeros(1, np.int64))


@jit
def divergence_status(record, guard, b):
    """``STATUS_*`` code after record bin ``b`` was closed (``record``: RecordBuffers)."""
    n_groups = record.group_bounds.size - 1
    status = STATUS_RUNNING
    for g in range(n_groups):
        for h in range(n_groups):
            if not math.isfinite(record.block_sums[b, g, h]):
                status = STATUS_NONFINITE
    for g in range(n_groups):
        for c in range(3):
            if not math.isfinite(record.bin_current_sums[b, g, c]):
                status = STATUS_NONFINITE
        if record.bin_spike_counts[b, g] > guard.max_bin_spikes[g]:
            status = STATUS_BIN_RATE if status == STATUS_RUNNING else status
    if guard.spike_total[0] > guard.spike_budget and status == STATUS_RUNNING:
        status = STATUS_SPIKE_BUDGET
    return status
