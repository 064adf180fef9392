"""The data contract: every name that simulation, theory, aggregation and figures share.

Simulation and theory lining up is the project's core promise, so the names they
line up on live here once:

* dimension and coordinate names, and which dimensions are *swept parameters*
  (``rule``, ``c``, ``seed`` and every ``sweep_dims`` key, dots replaced by ``_``)
  rather than record dimensions, with the values a run config gives them (its rule
  label, its plastic synapse types, the value of a dotted key);
* the population layout — (E, I), or (E1, E2, I) under optogenetics — and the
  labels built on it: populations, synapse blocks and pair types, each with the
  network groups it pools;
* the record grid (end of each record bin, in integer steps × dt);
* the variables of run and theory datasets with their dimensions, units and long
  names, from which ``docs/data-contract.md`` is generated
  (``balanced-stdp data-contract``) and checked by a test.

A *group* is one of the network's populations in index order: the kernel's
reporting groups and the mean-field theory's populations are the same groups.

The module is long (~500 lines) because most of it is the variable tables themselves —
one place for all of them is the point of this module.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Iterable

import numpy as np

DATA_CONTRACT_VERSION = "1"
"""Version of the datasets' layout (variables, dimensions, attributes readers rely on, as
``docs/data-contract.md`` lists them). Bump it with a change that makes older datasets
unreadable by the figures, agreement tables or theory; a results archive
(:mod:`balanced_stdp.archive`) written with another version is refused."""

SYNAPSE_TYPES = ("ee", "ei", "ie", "ii")
"""Recurrent synapse types, (post, pre)."""

BASE_SWEPT_DIMS = ("rule", "c", "seed")
"""Swept dimensions every run and theory dataset has (length 1 in a single run)."""

SOURCES = ("E", "I", "X", "total")
"""Input-current sources (``source`` coordinate); the kernel records the first three."""

RECORD_DIMS = frozenset({"time", "population", "synapse", "source", "neuron", "sample",
                         "pair_type", "pair_sample", "raster_spike", "mode",
                         "network_population", "epoch", "quantile", "along", "root",
                         "branch_parameter", "drift_parameter", "drift_weight"})
"""Dimensions of the contract that are not swept parameters."""

RUN_KIND, THEORY_KIND = "run", "theory"
"""Values of the global attribute ``kind``."""


# ----------------------------------------------------------------------------- swept dims
def dimension_name(key: str) -> str:
    """Dataset dimension of a swept (dotted) config key: ``weights.ei`` → ``weights_ei``."""
    return key.replace(".", "_")


def get_dotted(config: dict, key: str):
    """Value of a dotted key such as ``weights.ee``; raises KeyError if absent."""
    node = config
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(key)
        node = node[part]
    return node


def plastic_synapses(config: dict) -> list[str]:
    """Plastic synapse types of a resolved run config, in contract order."""
    return [s for s in SYNAPSE_TYPES if s in config.get("plasticity", {})]


def rule_label(config: dict) -> str:
    """The ``rule`` coordinate of a run config: the rule name, ``none``, or
    ``ee-kohonen+ei-istdp`` when several types are plastic."""
    plastic = [(s, config["plasticity"][s]["rule"]) for s in plastic_synapses(config)]
    if not plastic:
        return "none"
    if len(plastic) == 1:
        return plastic[0][1]
    return "+".join(f"{s}-{r}" for s, r in plastic)


def swept_values(config: dict) -> dict[str, list]:
    """Length-1 swept dimensions of one resolved run config, in contract order."""
    sweep = {"rule": [rule_label(config)], "c": [float(config["c"])],
             "seed": [int(config["seed"])]}
    for key in config["sweep_dims"]:
        sweep[dimension_name(key)] = [get_dotted(config, key)]
    return sweep


def add_swept_dims(ds, config: dict):
    """``ds`` with the config's swept parameters as length-1 dimensions on every variable."""
    sweep = swept_values(config)
    ds = ds.expand_dims(sweep)
    for name in sweep:
        ds[name].attrs["long_name"] = f"swept parameter {name}"
    ds["c"].attrs["units"] = "1"
    return ds


def swept_dims(ds) -> list[str]:
    """Swept dimensions of a run, theory or aggregate dataset, in contract order.

    ``rule``, ``c``, ``seed`` plus the run config's ``sweep_dims``; a dataset without
    a stored config (or an aggregate, whose ``config`` is a variable) falls back to
    every dimension that is not a record dimension.
    """
    config = ds.attrs.get("config")
    if isinstance(config, str) and config.strip():
        extra = [dimension_name(k) for k in json.loads(config).get("sweep_dims", [])]
        return [d for d in (*BASE_SWEPT_DIMS, *extra) if d in ds.dims]
    base = [d for d in BASE_SWEPT_DIMS if d in ds.dims]
    return base + [d for d in ds.dims if d not in RECORD_DIMS and d not in base]


def squeeze_swept(ds):
    """Drop the length-1 swept dimensions of a single run or theory dataset."""
    extra = [d for d in ds.dims if d not in RECORD_DIMS and ds.sizes[d] == 1]
    return ds.isel({d: 0 for d in extra}, drop=True) if extra else ds


# ----------------------------------------------------------------------------- layout
@dataclasses.dataclass(frozen=True)
class Layout:
    """Which populations a network has, and every label built on them.

    Attributes
    ----------
    groups : tuple of str
        Network populations in neuron-index order: ``("E", "I")`` or
        ``("E1", "E2", "I")`` (E1: opsin-expressing, stimulated).
    fractions : tuple of float
        Ideal fraction N_group / N of each group (the theory's q; the simulator
        rounds neuron counts, see :class:`balanced_stdp.network.Populations`).
    populations : dict
        Dataset ``population`` label → indices of the groups it pools (E = E1 ∪ E2).
    synapses : dict
        ``synapse`` label (post, pre) → (post group indices, pre group indices).
    pair_types : dict
        ``pair_type`` label → (group indices of one neuron, of the other).
    """

    groups: tuple
    fractions: tuple
    populations: dict
    synapses: dict
    pair_types: dict

    @classmethod
    def from_config(cls, config: dict) -> "Layout":
        """The layout of a resolved run config (optogenetics splits E into E1, E2)."""
        q_e = float(config["excitatory_fraction"])
        opto = config["optogenetics"]
        if opto["enabled"]:
            q_e1 = q_e * float(opto["stimulated_fraction"])
            return cls.split(q_e1, q_e - q_e1, 1.0 - q_e)
        return cls.two_population(q_e)

    @classmethod
    def two_population(cls, excitatory_fraction: float = 0.8) -> "Layout":
        e, i = (0,), (1,)
        return cls(("E", "I"), (excitatory_fraction, 1.0 - excitatory_fraction),
                   {"E": e, "I": i},
                   {"ee": (e, e), "ei": (e, i), "ie": (i, e), "ii": (i, i)},
                   {"ee": (e, e), "ei": (e, i), "ii": (i, i)})

    @classmethod
    def split(cls, e1_fraction: float, e2_fraction: float, i_fraction: float) -> "Layout":
        e1, e2, i, e = (0,), (1,), (2,), (0, 1)
        blocks = {"e1": e1, "e2": e2, "i": i}
        synapses = {"ee": (e, e), "ei": (e, i), "ie": (i, e), "ii": (i, i)}
        for post, pre in [("e1", "e1"), ("e1", "e2"), ("e2", "e1"), ("e2", "e2"), ("e1", "i"),
                          ("e2", "i"), ("i", "e1"), ("i", "e2")]:
            synapses[post + pre] = (blocks[post], blocks[pre])
        pairs = {"ee": (e, e), "ei": (e, i), "ii": (i, i)}
        for a, b in [("e1", "e1"), ("e1", "e2"), ("e2", "e2"), ("e1", "i"), ("e2", "i")]:
            pairs[a + b] = (blocks[a], blocks[b])
        return cls(("E1", "E2", "I"), (e1_fraction, e2_fraction, i_fraction),
                   {"E": e, "I": i, "E1": e1, "E2": e2}, synapses, pairs)

    @property
    def n_groups(self) -> int:
        return len(self.groups)

    @property
    def is_split(self) -> bool:
        return self.n_groups == 3

    def synapse_blocks(self, label: str) -> list[tuple[int, int]]:
        """(post group, pre group) blocks pooled by a synapse label."""
        posts, pres = self.synapses[label]
        return list(itertools.product(posts, pres))

    def neuron_members(self, groups: Iterable[int], bounds: np.ndarray) -> np.ndarray:
        """Neuron indices of the given groups, from the groups' index bounds."""
        return np.concatenate([np.arange(bounds[g], bounds[g + 1]) for g in groups])

    # Pooling of per-group theory values into dataset labels. A label of one group takes
    # that group's value unchanged; pooled labels (E = E1 ∪ E2, ee over four blocks) are
    # means weighted by expected neuron, synapse or pair counts.
    def pool_populations(self, values) -> np.ndarray:
        """Per-group values (…, group) → per-``population`` values (…, population)."""
        values = np.asarray(values, dtype=float)
        q = self.fractions
        out = []
        for groups in self.populations.values():
            if len(groups) == 1:
                out.append(values[..., groups[0]])
            else:
                out.append(sum(q[g] * values[..., g] for g in groups) / sum(q[g] for g in groups))
        return np.stack(out, axis=-1)

    def _pool_blocks(self, matrix, table: dict, weigh_single: bool = False) -> np.ndarray:
        matrix = np.asarray(matrix, dtype=float)
        q = self.fractions
        out = []
        for a_groups, b_groups in table.values():
            blocks = list(itertools.product(a_groups, b_groups))
            if len(blocks) == 1 and not weigh_single:
                out.append(matrix[..., blocks[0][0], blocks[0][1]])
                continue
            num = sum(q[a] * q[b] * matrix[..., a, b] for a, b in blocks)
            out.append(num / sum(q[a] * q[b] for a, b in blocks))
        return np.array(out)

    def pool_synapses(self, block_matrix) -> np.ndarray:
        """Group matrix (…, post, pre) → per-``synapse`` values (synapse, …), weighted by
        expected synapse counts (∝ q_post q_pre, as the simulator's ``mean_weight``).

        Every label goes through the weighted mean, single blocks too (a no-op up to
        rounding), so the theory's weights are the same numbers as in earlier versions.
        """
        return self._pool_blocks(block_matrix, self.synapses, weigh_single=True)

    def pool_pairs(self, matrix) -> np.ndarray:
        """Group matrix → per-``pair_type`` values (pair_type, …), weighted by pair counts."""
        return self._pool_blocks(matrix, self.pair_types)

    def kind_groups(self, kind: str) -> tuple:
        """Indices of the groups of kind ``"e"`` (E, E1, E2) or ``"i"``."""
        return tuple(g for g, name in enumerate(self.groups) if name[0].lower() == kind)


# ----------------------------------------------------------------------------- record grid
@dataclasses.dataclass(frozen=True)
class RecordGrid:
    """Step counts of a run: record bins, analysis window, covariance windows.

    The time grid is t_n = n·dt, n = 1 … ``n_steps``; record bin b ends at step
    min((b+1)·``record_steps``, last step). The analysis window (per-neuron rates,
    input averages and count covariances) is steps ``half_step`` + 1 … last step.
    Simulator and theory both take their ``time`` coordinate from here, so the
    coordinates compare equal.
    """

    dt_ms: float
    n_steps: int
    record_steps: int
    covariance_steps: int

    @classmethod
    def from_config(cls, config: dict) -> "RecordGrid":
        dt = config["dt_ms"]
        recording = config["recording"]
        return cls(dt, round(config["duration_s"] * 1000.0 / dt),
                   round(recording["interval_s"] * 1000.0 / dt),
                   round(recording["covariance_window_s"] * 1000.0 / dt))

    @property
    def half_step(self) -> int:
        return self.n_steps // 2

    @property
    def n_bins(self) -> int:
        return -(-self.n_steps // self.record_steps)

    @property
    def n_windows(self) -> int:
        """Complete covariance windows in the analysis window of a finished run."""
        return max((self.n_steps - self.half_step) // self.covariance_steps, 0)

    def bin_end_steps(self, last_step: int | None = None) -> np.ndarray:
        """Last step of each record bin up to ``last_step`` (default: the whole run)."""
        last = self.n_steps if last_step is None else last_step
        n_bins = -(-last // self.record_steps)
        return np.minimum(np.arange(1, n_bins + 1) * self.record_steps, last)

    def times_s(self, last_step: int | None = None) -> np.ndarray:
        """``time`` coordinate (s): end of each record bin."""
        return self.bin_end_steps(last_step) * self.dt_ms / 1000.0

    def steps_to_s(self, steps) -> np.ndarray:
        return np.asarray(steps) * self.dt_ms / 1000.0

    def epoch_windows(self, config: dict) -> dict[str, tuple[int, int]]:
        """Spike-count windows of each stimulation epoch: name → (first step − 1, windows).

        Each epoch's covariances use the second half of that epoch only (spec §10), in
        windows of ``covariance_steps`` from its middle. Empty without optogenetics.
        """
        out = {}
        for name, (start_s, stop_s) in stimulation_epochs(config).items():
            start = round(start_s * 1000.0 / self.dt_ms)
            stop = round(stop_s * 1000.0 / self.dt_ms)
            middle = start + (stop - start) // 2
            out[name] = (middle, (stop - middle) // self.covariance_steps)
        return out


def stimulation_epochs(config: dict) -> dict[str, tuple[float, float]]:
    """Before / during / after the optogenetic laser, as (start_s, stop_s) of the run
    (spec §7 #9, §10); empty without optogenetics."""
    opto = config["optogenetics"]
    if not opto["enabled"]:
        return {}
    return {"before": (0.0, opto["start_s"]), "during": (opto["start_s"], opto["stop_s"]),
            "after": (opto["stop_s"], config["duration_s"])}


# ----------------------------------------------------------------------------- variables
@dataclasses.dataclass(frozen=True)
class Variable:
    """One variable of the contract: dimensions (besides swept dims), units, meaning."""

    dims: tuple
    units: str
    long_name: str


COORDINATES = {
    "time": ("s", "time (end of record bin)"),
    "population": ("", "neuron population"),
    "network_population": ("", "population of the mean-field network"),
    "synapse": ("", "synapse type (post, pre); e1i etc. are E1/E2 blocks"),
    "source": ("", "input current source"),
    "neuron": ("", "neuron index (E first, then I)"),
    "neuron_population": ("", "population of each neuron"),
    "sample": ("", "sampled synapse index"),
    "pair_type": ("", "neuron pair type"),
    "quantile": ("1", "quantile of the distribution over neurons or synapses"),
    "pair_sample": ("", "sampled neuron pair index"),
    "mode": ("", "Jacobian eigenvalue index"),
    "epoch": ("", "stimulation epoch (before, during, after the laser)"),
    "along": ("", "values of the config key (attribute key) a theory curve runs along"),
    "root": ("", "fixed point index, by weight"),
    "branch_parameter": ("", "parameter (attribute key) of the fixed-point branches"),
    "drift_parameter": ("", "parameter (attribute key) of the drift curves"),
    "drift_weight": ("mV", "mean weight at which the drift is evaluated"),
}
"""Record coordinates: (units, long_name)."""

RUN_VARIABLES = {
    "population_rate": Variable(("population", "time"), "Hz",
                                "population-mean firing rate per record bin"),
    "neuron_rate": Variable(("neuron",), "Hz", "firing rate over the analysis window (T/2, T]"),
    "mean_weight": Variable(("synapse", "time"), "mV",
                            "mean unscaled weight j over all existing synapses"),
    "sampled_weight": Variable(("synapse", "sample", "time"), "mV",
                               "unscaled weight of sampled existing synapses (snapshot)"),
    "sampled_pre_neuron": Variable(("synapse", "sample"), "1",
                                   "presynaptic neuron of each sampled synapse (-1: none)"),
    "sampled_post_neuron": Variable(("synapse", "sample"), "1",
                                    "postsynaptic neuron of each sampled synapse (-1: none)"),
    "sampled_pre_rate": Variable(("synapse", "sample"), "Hz",
                                 "presynaptic firing rate of each sampled synapse"),
    "sampled_post_rate": Variable(("synapse", "sample"), "Hz",
                                  "postsynaptic firing rate of each sampled synapse"),
    "final_weight_rate_cov": Variable(("synapse",), "mV Hz",
                                      "covariance of final weight and presynaptic rate over "
                                      "all existing synapses"),
    "mean_input": Variable(("population", "source", "time"), "mV/ms",
                           "population-mean synaptic input current per record bin (C_m = 1)"),
    "neuron_mean_input": Variable(("neuron", "source"), "mV/ms",
                                  "per-neuron input current time-averaged over [T/2, T]"),
    "spike_count_cov": Variable(("pair_type",), "spikes2",
                                "mean off-diagonal spike-count covariance"),
    "spike_count_corr": Variable(("pair_type",), "1",
                                 "mean off-diagonal spike-count correlation (silent neurons "
                                 "excluded)"),
    "spike_count_var": Variable(("population",), "spikes2",
                                "mean spike-count variance (diagonal)"),
    "sampled_spike_count_cov": Variable(("pair_type", "pair_sample"), "spikes2",
                                        "sampled off-diagonal count covariances"),
    "sampled_spike_count_corr": Variable(("pair_type", "pair_sample"), "1",
                                         "sampled off-diagonal count correlations"),
    "raster_time": Variable(("raster_spike",), "s", "spike time (raster sample)"),
    "raster_neuron": Variable(("raster_spike",), "1", "neuron index (raster sample)"),
    "diverged": Variable((), "1", "1 if the divergence guard stopped the run"),
    "diverged_at_s": Variable((), "s",
                              "simulated time at which the run was stopped (NaN: completed)"),
    # with optogenetics, per stimulation epoch (second half of each epoch, spec §10):
    "epoch_spike_count_cov": Variable(("epoch", "pair_type"), "spikes2",
                                      "mean off-diagonal spike-count covariance per epoch"),
    "epoch_spike_count_corr": Variable(("epoch", "pair_type"), "1",
                                       "mean off-diagonal spike-count correlation per epoch"),
    "epoch_sampled_spike_count_corr": Variable(("epoch", "pair_type", "pair_sample"), "1",
                                               "sampled off-diagonal count correlations per "
                                               "epoch"),
}
"""Variables of a run dataset (``balanced-stdp simulate``)."""

THEORY_VARIABLES = {
    "mean_weight": Variable(("synapse", "time"), "mV", "mean unscaled weight j (mean-field ODE)"),
    "population_rate": Variable(("population", "time"), "Hz",
                                "balanced population rate along the mean-field trajectory"),
    "initial_weight": Variable(("synapse",), "mV", "initial mean unscaled weight"),
    "balanced_rate": Variable(("population",), "Hz",
                              "balanced rate at the initial weights (spec 6.1)"),
    "fixed_point_weight": Variable(("synapse",), "mV",
                                   "mean-field fixed point of the mean unscaled weights"),
    "fixed_point_rate": Variable(("population",), "Hz", "balanced rates at the weight fixed point"),
    "stable": Variable((), "1", "1 if the weight fixed point is linearly stable"),
    "stability": Variable((), "", "stability label"),
    "jacobian_eigenvalue_real": Variable(("mode",), "s-1",
                                         "real part of the Jacobian eigenvalues of the "
                                         "mean-weight dynamics at the fixed point"),
    "jacobian_eigenvalue_imag": Variable(("mode",), "s-1",
                                         "imaginary part of the Jacobian eigenvalues"),
    "relaxation_time_s": Variable((), "s",
                                  "1/|slowest eigenvalue real part| at a stable fixed point"),
    "spike_count_cov": Variable(("pair_type",), "spikes2",
                                "leading-order population spike-count covariance (spec 6.2)"),
    "spike_count_corr": Variable(("pair_type",), "1",
                                 "spike-count correlation, count variance r T_win assumed"),
    "kernel_k": Variable(("synapse",), "Hz", "K = integral of exp(-|u|/tau) C(u) du (spec 6.3)"),
    "kernel_k_plus": Variable(("synapse",), "Hz", "K+ (presynaptic spike first, u > 0)"),
    "kernel_k_minus": Variable(("synapse",), "Hz", "K- (postsynaptic spike first, u < 0)"),
    "balance_lost_at_s": Variable((), "s", "time at which the mean-field trajectory lost the "
                                           "balanced state (NaN: never)"),
    "finite_size_delta": Variable(("network_population",), "mV/ms",
                                  "finite-size correction Delta used (spec 6.6; 0 = leading "
                                  "order)"),
    # predict_from_simulation (Δ-corrected theory) adds:
    "leading_order_fixed_point_weight": Variable(("synapse",), "mV",
                                                 "leading-order fixed point weight"),
    "leading_order_fixed_point_rate": Variable(("population",), "Hz",
                                               "leading-order fixed point rate"),
    "measured_mean_input": Variable(("population",), "mV/ms",
                                    "R_sims: mean over neurons of the time-averaged total input "
                                    "over (T/2, T]"),
    "mean_field_input": Variable(("population",), "mV/ms",
                                 "R_mean: sqrt(N)(sum_b w_ab r_b + W_x r_x) from measured mean "
                                 "weights and rates"),
    "input_difference": Variable(("population",), "mV/ms",
                                 "R_sims - R_mean (rate-weight covariance plus finite-size "
                                 "terms)"),
    "rate_weight_cov_input": Variable(("population",), "mV/ms",
                                      "sqrt(N) sum_b p q_b Cov(j_ab, r_b) from "
                                      "final_weight_rate_cov"),
    "manifold_weight": Variable(("synapse",), "mV",
                                "j*_0 - Cov(j_ab, r_b)/r_b* (iSTDP manifold relation, spec 6.7)"),
    # the finite-size theory (theory.finite_size_prediction, `theory --finite-size`) adds:
    "rate_quantile": Variable(("population", "quantile"), "Hz",
                              "quantile of the predicted firing-rate distribution over the "
                              "population's neurons at the end of the trajectory"),
    "rate_sd": Variable(("population",), "Hz",
                        "predicted s.d. of the firing rate over the population's neurons"),
    "final_weight_quantile": Variable(("synapse", "quantile"), "mV",
                                      "quantile of the predicted mean-field weight over "
                                      "(pre, post) neuron classes at the end of the "
                                      "trajectory"),
    "net_input": Variable(("population",), "mV/ms",
                          "predicted population mean total input at the end of the "
                          "trajectory (what the neurons need to fire; 0 at leading order)"),
    "quenched_input_sd": Variable(("population",), "mV/ms",
                                  "predicted s.d. over neurons of the time-averaged input "
                                  "(random connectivity, unequal presynaptic rates)"),
    # the workflow's per-point theory (theory.predict_point) adds:
    "theory_status": Variable((), "", "ok, or why this grid point has only the leading-order "
                                      "prediction; for the finite-size theory the stability "
                                      "verdict (runaway or balance lost at t = ... s, with the "
                                      "neuron classes that leave; no finite-size fixed point)"),
    # theory curves an experiment's figures ask for (theory.curves; without swept dims, but
    # for the swept keys a curve is not along where there are several values):
    "branch_weight": Variable(("branch_parameter", "root"), "mV",
                              "fixed points of a one-weight mean-field model along a parameter "
                              "(NaN: fewer roots)"),
    "branch_stable": Variable(("branch_parameter", "root"), "1",
                              "1 stable, 0 unstable, -1 no such root"),
    "saddle_node_parameter": Variable((), "1", "parameter at which the stable and unstable "
                                               "branches meet (saddle-node)"),
    "saddle_node_weight": Variable((), "mV", "mean weight at the saddle-node"),
    "drift_per_eta": Variable(("drift_parameter", "drift_weight"), "mV/ms",
                              "mean-field drift of the mean weight per effective learning rate"),
    "fixed_point_weight_along": Variable(("along", "synapse"), "mV",
                                         "leading-order fixed point of the mean weights along a "
                                         "config key"),
    "fixed_point_rate_along": Variable(("along", "population"), "Hz",
                                       "balanced rates at that fixed point"),
    "fixed_point_count_cov_along": Variable(("along", "pair_type"), "spikes2",
                                            "spec 6.2 count covariance at the fixed-point rates"),
    "balanced_rate_along": Variable(("along", "population"), "Hz",
                                    "balanced rates at the initial weights along a config key"),
    "spike_count_cov_along": Variable(("along", "pair_type"), "spikes2",
                                      "count covariance at the initial weights along a config "
                                      "key"),
    "spike_count_corr_along": Variable(("along", "pair_type"), "1",
                                       "count correlation at the initial weights along a config "
                                       "key (Poisson count variance)"),
    "finite_size_runaway_threshold_along": Variable(
        ("along",), "1", "finite-size theory: smallest value of the parameter (attribute "
                         "parameter, Kohonen beta0) at which the balanced state is lost within "
                         "the run's duration (NaN: balanced up to 20)"),
    "leading_order_saddle_node_along": Variable(
        ("along",), "1", "leading-order saddle-node of the parameter (attribute parameter): "
                         "where the stable fixed point disappears"),
}
"""Variables of a theory dataset (``balanced-stdp theory``); with optogenetics the
fixed-point group also appears with the suffix ``_laser_on`` (X2 on)."""

VARIABLES = {RUN_KIND: RUN_VARIABLES, THEORY_KIND: THEORY_VARIABLES}


def variable(kind: str, name: str, data, context: str = "", **attrs) -> tuple:
    """``(dims, data, attrs)`` of a contract variable, ready for :class:`xarray.Dataset`.

    ``context`` is appended to the long name of a variant (" while X2 is on" for
    ``fixed_point_weight_laser_on``); keyword arguments become attributes (``window_s``).
    """
    spec = VARIABLES[kind][name]
    base = {"long_name": spec.long_name + context}
    if spec.units:
        base["units"] = spec.units
    return spec.dims, data, {**base, **attrs}


def coordinates(**values) -> dict:
    """Record coordinates with their contract attributes (``neuron_population`` lies on
    ``neuron``)."""
    out = {}
    for name, data in values.items():
        units, long_name = COORDINATES[name]
        attrs = {"long_name": long_name, **({"units": units} if units else {})}
        out[name] = ("neuron" if name == "neuron_population" else name, data, attrs)
    return out


def git_revision() -> str:
    """Short git revision of the package's checkout, or ``unknown`` (an installed copy)."""
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=5, cwd=Path(__file__).resolve().parent)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def source_digest(directory: str) -> str:
    """Hex SHA-256 of every ``.py`` file below ``directory`` (relative paths and contents):
    the version of the sources, for caches keyed by it and the workflow's rerun triggers."""
    digest = hashlib.sha256()
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(f for f in files if f.endswith(".py")):
            path = os.path.join(root, name)
            digest.update(os.path.relpath(path, directory).encode())
            with open(path, "rb") as handle:
                digest.update(handle.read())
    return digest.hexdigest()


def provenance() -> dict:
    """Software versions every output records (global attributes)."""
    import numba
    import xarray

    from . import MODEL_VERSION, __version__
    return {"balanced_stdp_version": __version__, "model_version": MODEL_VERSION,
            "numpy_version": np.__version__, "numba_version": numba.__version__,
            "xarray_version": xarray.__version__, "python_version": platform.python_version()}


def markdown_variable_table(kind: str) -> str:
    """The variable table of ``docs/data-contract.md`` for one dataset kind."""
    rows = ["| name | dims | units | meaning |", "|---|---|---|---|"]
    for name, spec in VARIABLES[kind].items():
        dims = ", ".join(spec.dims) or "(swept dims)"
        meaning = spec.long_name.replace("|", "\\|")
        rows.append(f"| `{name}` | {dims} | {spec.units or '–'} | {meaning} |")
    return "\n".join(rows)


def markdown_tables() -> dict[str, str]:
    """Generated sections of ``docs/data-contract.md``: marker name → Markdown table."""
    return {f"{kind}-variables": markdown_variable_table(kind) for kind in VARIABLES}


def render_document(text: str) -> str:
    """``text`` with every ``<!-- NAME:begin -->…<!-- NAME:end -->`` section regenerated."""
    for marker, table in markdown_tables().items():
        begin, end = f"<!-- {marker}:begin -->", f"<!-- {marker}:end -->"
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        text = f"{head}{begin}\n{table}\n{end}{tail}"
    return text


if __name__ == "__main__":   # python -m balanced_stdp.contract docs/data-contract.md
    import sys
    from pathlib import Path

    document = Path(sys.argv[1])
    document.write_text(render_document(document.read_text()))


__all__ = ["SYNAPSE_TYPES", "BASE_SWEPT_DIMS", "SOURCES", "RECORD_DIMS", "RUN_KIND",
           "THEORY_KIND", "dimension_name", "get_dotted", "plastic_synapses", "rule_label",
           "swept_values", "add_swept_dims", "swept_dims", "squeeze_swept", "Layout",
           "RecordGrid", "stimulation_epochs", "Variable", "RUN_VARIABLES", "THEORY_VARIABLES", "VARIABLES", "variable", "coordinates", "provenance",
           "markdown_variable_table", "markdown_tables", "render_document"]
