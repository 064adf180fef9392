"""Figures of the study, drawn from aggregate run and theory datasets.

Every figure function takes *aggregate* datasets: many run datasets of
``docs/data-contract.md`` combined with :func:`xarray.combine_by_coords`, so each
variable carries the swept dimensions ``rule``, ``c``, ``seed`` (and any extra
``sweep_dims``, e.g. ``weights_ei``) as real dimensions, with NaN where a
combination is missing (outer join). The matching theory aggregate has the same
swept dimensions and the variables ``mean_weight`` (synapse, time; mV),
``fixed_point_weight`` (synapse; mV), ``fixed_point_rate`` and ``balanced_rate``
(population; Hz).

Conventions (spec §8): E blue, I red, external input X light blue, E+X blue, total
input black; weight traces EE dark slate grey, EI green, IE brown, II purple (EI
green / II purple everywhere, although the paper's Fig 12 material swaps them);
simulated means black, theory dashed; unscaled weights j in mV, rates in Hz, time in s.

Statistics over seeds, used in every figure:

* a time course is averaged over the runs *still running* at each time: a run
  stopped by the divergence guard (``diverged`` = 1, NaN after ``diverged_at_s``)
  leaves the average from then on, and a time point at which a running run has no
  value (an off-grid point, e.g. the last partial bin of a stopped run) is dropped;
* spreads are the sample standard deviation over seeds (ddof = 1), drawn only with
  two or more runs;
* a run's *final* value is its last recorded value; diverged runs have no final
  value — they are left out of final-value statistics and listed on the panel.

Diverged runs are always drawn as such: a dotted vertical line at the stopping time
and the text "seed s: diverged at t s" on every panel they appear in.

Figures are built on :class:`matplotlib.figure.Figure` objects with an Agg canvas,
never through ``pyplot``, and styled inside seaborn/matplotlib style contexts, so
no global plotting state is touched. Key artists carry ``gid`` labels (``"sim-mean"``,
``"final-mean"``, …) and every data panel's axes carry a ``gid`` naming its facet
(``"rule=kohonen;c=0.1"``), which the tests use to read back what was drawn.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import math
import os
import warnings
from pathlib import Path
from typing import Any, Iterable

import matplotlib as mpl
import numpy as np
import seaborn as sns
import xarray as xr
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .config import rule_label
from .plasticity import RULES, SYNAPSE_TYPES, build_rule, rule_parameter_defaults

__all__ = [
    "plot_weight_dynamics",
    "plot_balance",
    "plot_rate_weight_correlation",
    "plot_weight_manifold",
    "plot_learning_windows",
    "save_figure",
    "caption_for",
    "FIGURE_NAMES",
    "LEARNING_WINDOW_RULES",
]

# ----------------------------------------------------------------------------- conventions
POPULATION_COLORS = {"E": "#1f5aa6", "I": "#c62828"}
SOURCE_COLORS = {"E": "#1f5aa6", "E+X": "#1f5aa6", "X": "#6cb4e4", "I": "#c62828",
                 "total": "black"}
SYNAPSE_COLORS = {"ee": "#2f4f4f", "ei": "#2e8b3a", "ie": "#8c6239", "ii": "#7b3294"}
SYNAPSE_AXIS_LABELS = {"ee": "Exc weight $j_{ee}$ (mV)", "ie": "Exc weight $j_{ie}$ (mV)",
                       "ei": "Inh weight $j_{ei}$ (mV)", "ii": "Inh weight $j_{ii}$ (mV)"}
THEORY_STYLE = {"linestyle": "--", "linewidth": 1.5}
FIXED_POINT_STYLE = {"linestyle": (0, (2, 2)), "linewidth": 1.0, "color": "0.35"}
DIVERGED_COLOR = "#b2182b"
TIME_LABEL = "Time (s)"

RULE_NAMES = {
    "kohonen": "Kohonen", "istdp": "iSTDP", "soft_hebbian": "soft Hebbian",
    "classical_hebbian": "classical Hebbian", "bounded_hebbian": "hard-bound Hebbian",
    "anti_hebbian": "anti-Hebbian", "oja": "Oja", "homeostatic": "homeostatic IE",
    "triplet": "triplet", "custom": "custom rule", "none": "no plasticity",
}
"""Display names of rule labels (the ``rule`` coordinate)."""

RULE_ORDER = ("kohonen", "istdp", "soft_hebbian", "bounded_hebbian", "classical_hebbian")
"""Facet order of the rules of the study; other labels follow alphabetically."""

SWEPT_DIM_LABELS = {
    **{f"weights_{s}": (f"initial $j_{{{s}}}$", "mV") for s in SYNAPSE_TYPES},
    "N": ("N", ""), "tau_stdp_ms": ("τ_STDP", "ms"),
}
"""Readable names and units of extra swept dimensions (titles and captions)."""

# Dimensions of the data contract that are not swept parameters.
_RECORD_DIMS = {"time", "population", "synapse", "source", "neuron", "sample", "pair_type",
                "pair_sample", "raster_spike", "mode", "network_population"}

N_SAMPLED_TRACES = 5
"""Sampled synapses drawn as thin traces per weight-dynamics panel (first running seed)."""

FIGURE_NAMES = ("weight_dynamics", "balance", "rate_weight_correlation", "weight_manifold",
                "learning_windows")
"""Figure names understood by :func:`caption_for`."""

LEARNING_WINDOW_RULES = (
    # (title, rule, synapse, parameter overrides, weight j (mV), divide by |j|)
    ("Classical Hebbian", "classical_hebbian", "ee", {}, 25.0, False),
    ("Soft Hebbian ($j_{max}$ = 30, j = 25)", "soft_hebbian", "ee", {"j_max": 30.0}, 25.0, False),
    ("Kohonen (β₀ = 2, j = 1)", "kohonen", "ee", {"beta0": 2.0}, 1.0, False),
    ("Oja (β₀ = 30, j = 29)", "oja", "ee", {"beta0": 30.0, "gamma": 1.0}, 29.0, False),
    ("iSTDP (ρ_e = 10 Hz)", "istdp", "ei", {"target_rate_hz": 10.0}, -150.0, True),
)
"""Rules and weights of the learning-window figure (spec Fig 9)."""

LEARNING_WINDOW_ETA_EFF = 1e-8
"""|η_eff| of the windows (N = 1): small, so the second spike of a pair sees the initial
weight to ~1e-8 relative accuracy, yet large enough that Δj is not lost to rounding
in j + Δj − j (the two errors balance near 1e-8)."""


# ----------------------------------------------------------------------------- styling
@contextlib.contextmanager
def _style():
    """Seaborn 'ticks' style in the 'paper' context, restored on exit."""
    with sns.axes_style("ticks"), sns.plotting_context("paper"), mpl.rc_context(
            {"axes.spines.top": False, "axes.spines.right": False, "legend.frameon": False,
             "axes.titlesize": 9, "axes.labelsize": 8, "legend.fontsize": 7,
             "xtick.labelsize": 7, "ytick.labelsize": 7, "figure.titlesize": 10,
             "axes.formatter.useoffset": False}):
        yield


def _styled(function):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with _style(), warnings.catch_warnings():
            # All-NaN slices (missing runs, diverged tails) are expected here.
            warnings.simplefilter("ignore", RuntimeWarning)
            return function(*args, **kwargs)
    return wrapper


def _new_figure(width_in: float, height_in: float) -> Figure:
    """A figure with its own Agg canvas (no pyplot figure manager)."""
    fig = Figure(figsize=(width_in, height_in), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _common_limits(axes, axis: str) -> None:
    """Give ``axes`` the union of their autoscaled limits (comparable panels in a row)."""
    if len(axes) < 2:
        return
    limits = []
    for ax in axes:
        ax.relim()
        ax.autoscale_view()
        limits.append(getattr(ax, f"get_{axis}lim")())
    low, high = min(l[0] for l in limits), max(l[1] for l in limits)
    for ax in axes:
        getattr(ax, f"set_{axis}lim")(low, high)


def _figure_legend(fig: Figure, max_columns: int = 4) -> None:
    """One legend below the panels with every labelled artist (first of each label)."""
    handles: dict[str, Any] = {}
    for ax in fig.axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    if handles:
        fig.legend(list(handles.values()), list(handles), loc="outside lower center",
                   ncol=min(len(handles), max_columns), fontsize=7)


def _no_data(ax, text="no run"):
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="0.5")
    ax.set_xticks([])
    ax.set_yticks([])


# ----------------------------------------------------------------------------- dataset helpers
def _swept_dims(ds: xr.Dataset) -> list[str]:
    """Swept-parameter dimensions of an aggregate (``diverged`` carries only those)."""
    if "diverged" in ds.data_vars:
        return [d for d in ds["diverged"].dims if d not in _RECORD_DIMS]
    return [d for d in ds.dims if d not in _RECORD_DIMS]


def _ensure_swept(ds: xr.Dataset) -> xr.Dataset:
    """Promote scalar ``rule``/``c``/``seed`` coordinates to length-1 dimensions."""
    for name in ("rule", "c", "seed"):
        if name not in ds.dims:
            if name not in ds.coords:
                raise ValueError(f"dataset has no '{name}' coordinate; expected an aggregate of "
                                 "run datasets (docs/data-contract.md)")
            ds = ds.expand_dims(name)
    if "diverged" in ds.data_vars and "time" in ds["diverged"].dims:
        # combine_by_coords turns 'time' into a concatenation dimension when runs have
        # different time axes; the per-run variables then gain a spurious time axis.
        raise ValueError("malformed aggregate: 'diverged' has a 'time' dimension. Runs with "
                         "different time axes (e.g. a run stopped by the divergence guard) "
                         "were combined without first reindexing each to the full time grid")
    return ds


def _rule_sort_key(label: str):
    return (RULE_ORDER.index(label) if label in RULE_ORDER else len(RULE_ORDER), label)


def _coord_values(ds: xr.Dataset, dim: str) -> list:
    values = [v.item() if hasattr(v, "item") else v for v in ds[dim].values]
    return sorted(values, key=_rule_sort_key) if dim == "rule" else values


def _facets(ds: xr.Dataset, skip: Iterable[str]) -> list[dict]:
    """Every combination of the swept dimensions not in ``skip`` (rule order first)."""
    dims = [d for d in _swept_dims(ds) if d not in set(skip)]
    dims.sort(key=lambda d: (d != "rule", d))
    values = [_coord_values(ds, d) for d in dims]
    return [dict(zip(dims, combo)) for combo in itertools.product(*values)]


def _format_value(value) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{value:g}"
    return str(value)


def _facet_label(key: dict) -> str:
    parts = []
    for dim, value in key.items():
        if dim == "rule":
            parts.append(RULE_NAMES.get(value, value))
        elif dim in SWEPT_DIM_LABELS:
            name, unit = SWEPT_DIM_LABELS[dim]
            parts.append(f"{name} = {_format_value(value)}" + (f" {unit}" if unit else ""))
        else:
            parts.append(f"{dim} = {_format_value(value)}")
    return ", ".join(parts)


def _facet_gid(key: dict) -> str:
    return ";".join(f"{dim}={_format_value(value)}" for dim, value in key.items())


def _select(ds: xr.Dataset | None, name: str, key: dict, **extra) -> xr.DataArray | None:
    """``ds[name]`` at the facet ``key`` (dims it lacks are ignored); None if absent."""
    if ds is None or name not in ds.variables:
        return None
    da = ds[name]
    indexers = {dim: value for dim, value in {**key, **extra}.items() if dim in da.dims}
    try:
        return da.sel(indexers)
    except KeyError:
        return None


def _by_seed(da: xr.DataArray, *trailing: str) -> np.ndarray:
    """Values as an array (seed, *trailing); other swept dims must be selected already."""
    dims = (["seed"] if "seed" in da.dims else []) + list(trailing)
    extra = [d for d in da.dims if d not in dims]
    if extra:
        raise ValueError(f"unselected dimensions {extra} in {da.name}")
    values = da.transpose(*dims).values.astype(float)
    return values if "seed" in da.dims else values[None]


def _theory(theory: xr.Dataset | None, name: str, key: dict, keep: Iterable[str] = (),
            **extra) -> xr.DataArray | None:
    """Theory variable at a facet, averaged over remaining swept dims not in ``keep``.

    Theory that does not depend on the seed is identical across seeds, so the average
    only matters for the Δ-corrected theory (one per run); None if nothing is finite.
    """
    da = _select(theory, name, key, **extra)
    if da is None:
        return None
    drop = [d for d in da.dims if d not in _RECORD_DIMS and d not in set(keep)]
    if drop:
        da = da.mean(drop, skipna=True)
    if not np.isfinite(da.values).any():
        return None
    return da


def _last_finite_index(values: np.ndarray) -> np.ndarray:
    """Index of the last finite entry along the last axis (−1 when none)."""
    finite = np.isfinite(values)
    n = values.shape[-1]
    last = n - 1 - np.argmax(finite[..., ::-1], axis=-1)
    return np.where(finite.any(axis=-1), last, -1)


def running_mean(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and s.d. over runs (axis 0) of time courses, over the runs still running.

    Parameters
    ----------
    values : numpy.ndarray
        (run, time) values; a run is running up to its last finite value.

    Returns
    -------
    mean, sd, n_running : numpy.ndarray
        Per time: the mean and sample s.d. (ddof = 1; NaN with fewer than two runs)
        over the running runs, and their number. Both are NaN at a time at which a
        running run has no value (off-grid point) or no run is running.
    """
    values = np.asarray(values, dtype=float)
    finite = np.isfinite(values)
    last = _last_finite_index(values)
    running = np.arange(values.shape[1])[None, :] <= last[:, None]
    n_running = running.sum(axis=0)
    valid = (n_running > 0) & ~(running & ~finite).any(axis=0)
    filled = np.where(finite & running, values, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = filled.sum(axis=0) / n_running
        squares = np.where(finite & running, (values - mean) ** 2, 0.0).sum(axis=0)
        sd = np.sqrt(squares / (n_running - 1))
    mean = np.where(valid, mean, np.nan)
    sd = np.where(valid & (n_running >= 2), sd, np.nan)
    return mean, sd, n_running


def final_values(values: np.ndarray, diverged: np.ndarray) -> np.ndarray:
    """Last finite value of each run (axis 0) along the last axis; NaN for diverged runs."""
    values = np.asarray(values, dtype=float)
    last = _last_finite_index(values)
    picked = np.take_along_axis(values, np.maximum(last, 0)[..., None], axis=-1)[..., 0]
    picked = np.where(last >= 0, picked, np.nan)
    return np.where(np.asarray(diverged, dtype=bool), np.nan, picked)


def seed_statistics(values: np.ndarray) -> tuple[float, float, int]:
    """Mean, sample s.d. (ddof = 1; NaN for fewer than two) and count of finite values."""
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return math.nan, math.nan, 0
    sd = float(np.std(finite, ddof=1)) if finite.size >= 2 else math.nan
    return float(np.mean(finite)), sd, int(finite.size)


def _divergence(runs: xr.Dataset, key: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(seeds, diverged flags, stop times) of the runs at a facet (all seeds)."""
    seeds = np.asarray(runs["seed"].values)
    flags = np.zeros(seeds.size, dtype=bool)
    times = np.full(seeds.size, np.nan)
    div = _select(runs, "diverged", key)
    if div is not None:
        flags = np.nan_to_num(_by_seed(div).reshape(-1)) > 0.5
        at = _select(runs, "diverged_at_s", key)
        if at is not None:
            times = _by_seed(at).reshape(-1)
    return seeds, flags, times


def _format_seconds(t: float) -> str:
    return f"{t:.0f} s" if abs(t) >= 10 else f"{t:.3g} s"


def divergence_text(seed, at_s: float) -> str:
    """Annotation of a diverged run, e.g. ``"seed 3: diverged at 212 s"``."""
    when = _format_seconds(at_s) if np.isfinite(at_s) else "unknown time"
    return f"seed {seed}: diverged at {when}"


def _annotate_divergence(ax, seeds, flags, times, vlines=True):
    """Dotted line at each stopping time and the list of diverged runs, top left."""
    lines = []
    for seed, flag, at in zip(seeds, flags, times):
        if not flag:
            continue
        if vlines and np.isfinite(at):
            ax.axvline(at, color=DIVERGED_COLOR, linestyle=":", linewidth=1.0, gid="diverged-at")
        lines.append(divergence_text(seed, at))
    if lines:
        ax.text(0.02, 0.98, "\n".join(lines), transform=ax.transAxes, ha="left", va="top",
                fontsize=6.5, color=DIVERGED_COLOR, gid="diverged-text",
                bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "alpha": 0.8,
                      "edgecolor": DIVERGED_COLOR, "linewidth": 0.5})


def _run_configs(runs: xr.Dataset | None) -> list[dict]:
    """Per-run configs stored in an aggregate, however the aggregation kept them.

    Looked up in order: a ``config`` variable of JSON strings over the swept dims,
    a ``configs`` attribute (JSON list), a ``config`` attribute (JSON object — with
    ``combine_attrs="override"`` this is the first run's config).
    """
    if runs is None:
        return []
    texts: list = []
    if "config" in runs.variables:
        texts = list(np.asarray(runs["config"].values, dtype=object).reshape(-1))
    elif "configs" in runs.attrs:
        texts = json.loads(runs.attrs["configs"]) if isinstance(runs.attrs["configs"], str) \
            else list(runs.attrs["configs"])
    elif "config" in runs.attrs:
        texts = [runs.attrs["config"]]
    configs, seen = [], set()
    for text in texts:
        if isinstance(text, bytes):
            text = text.decode()
        if isinstance(text, str):
            if not text.strip() or text in seen:
                continue
            seen.add(text)
            try:
                configs.append(json.loads(text))
            except json.JSONDecodeError:
                continue
        elif isinstance(text, dict):
            configs.append(text)
    return configs


def plastic_synapses(runs: xr.Dataset, rule: str) -> list[str]:
    """Plastic synapse types of the runs labelled ``rule``.

    From the stored run configs when present, otherwise from the label itself:
    ``"ee-kohonen+ei-istdp"`` names its types; a single rule name uses the first type
    the rule applies to (``kohonen`` → ee, ``istdp`` → ei); ``none`` has none.
    """
    for config in _run_configs(runs):
        if "plasticity" in config and rule_label(config) == rule:
            return [s for s in SYNAPSE_TYPES if s in config["plasticity"]]
    if "+" in rule or "-" in rule:
        return [part.split("-", 1)[0] for part in rule.split("+")
                if part.split("-", 1)[0] in SYNAPSE_TYPES]
    if rule in RULES and rule != "custom":
        return [RULES[rule].synapses[0]]
    return []


# ----------------------------------------------------------------------------- weight dynamics
@_styled
def plot_weight_dynamics(runs: xr.Dataset, theory: xr.Dataset | None, synapse: str) -> Figure:
    """Mean weight over time per rule and c, with theory, and final mean weight vs c.

    Parameters
    ----------
    runs : xarray.Dataset
        Aggregate of run datasets (dims ``rule``, ``c``, ``seed`` and possibly more).
    theory : xarray.Dataset or None
        Matching theory aggregate: ``mean_weight`` (ODE trajectory) and
        ``fixed_point_weight`` are drawn dashed when present.
    synapse : str
        Synapse type to show (``ee``, ``ei``, ``ie`` or ``ii``).

    Returns
    -------
    matplotlib.figure.Figure
        One row per rule under which ``synapse`` is plastic (all rules if none is),
        and per extra swept value; one column per c with the seed
        mean of ``mean_weight`` (black, gid ``sim-mean``), its ±1 s.d. band over seeds,
        a few ``sampled_weight`` traces (thin), the ODE trajectory (dashed,
        ``theory-ode``) and the fixed point (dotted grey, ``theory-fixed-point``);
        a last column with the final mean weight vs c, mean ± s.d. over seeds
        (``final-mean``, error bars ``final-sd``) and the theoretical fixed point vs c
        (dashed, ``theory-vs-c``).
    """
    if synapse not in SYNAPSE_TYPES:
        raise ValueError(f"synapse must be one of {', '.join(SYNAPSE_TYPES)}, got {synapse!r}")
    runs = _ensure_swept(runs)
    rows = _facets(runs, skip=("c", "seed"))
    # Rows of rules under which this synapse type is not plastic show flat lines only.
    rows = [row for row in rows if synapse in plastic_synapses(runs, row["rule"])] or rows
    c_values = _coord_values(runs, "c")
    color = SYNAPSE_COLORS[synapse]
    n_cols = len(c_values) + 1
    fig = _new_figure(2.5 * n_cols + 0.5, 2.1 * len(rows) + 0.4)
    axes = fig.subplots(len(rows), n_cols, squeeze=False)
    for r, row in enumerate(rows):
        drawn = []
        for j, c in enumerate(c_values):
            ax = axes[r, j]
            key = {**row, "c": c}
            ax.set_gid(_facet_gid(key))
            ax.set_title(f"{_facet_label(row)}, c = {_format_value(c)}")
            if _draw_weight_panel(ax, runs, theory, key, synapse, color):
                drawn.append(ax)
                ax.set_xlabel(TIME_LABEL)
                ax.set_ylabel(SYNAPSE_AXIS_LABELS[synapse])
        _common_limits(drawn, "y")
        _draw_final_vs_c(axes[r, -1], runs, theory, row, c_values, synapse, color)
    fig.suptitle(f"Mean {synapse.upper()} weight: simulation vs mean-field theory")
    _figure_legend(fig)
    return fig


def _draw_weight_panel(ax, runs, theory, key, synapse, color) -> bool:
    mean_weight = _select(runs, "mean_weight", key, synapse=synapse)
    if mean_weight is None:
        _no_data(ax)
        return False
    values = _by_seed(mean_weight, "time")
    time_s = mean_weight["time"].values
    if not np.isfinite(values).any():
        _no_data(ax)
        return False
    mean, sd, _ = running_mean(values)
    ok = np.isfinite(mean)
    band = ok & np.isfinite(sd)
    if band.any():
        ax.fill_between(time_s[band], (mean - sd)[band], (mean + sd)[band], color="0.6",
                        alpha=0.35, linewidth=0, label="±1 s.d. over seeds", gid="sim-sd")
    sampled = _select(runs, "sampled_weight", key, synapse=synapse)
    if sampled is not None:
        traces = _by_seed(sampled, "sample", "time")
        present = np.flatnonzero(np.isfinite(traces).any(axis=(1, 2)))
        if present.size:
            seed_traces = traces[present[0]]
            seed_traces = seed_traces[np.isfinite(seed_traces).any(axis=1)][:N_SAMPLED_TRACES]
            for k, trace in enumerate(seed_traces):
                finite = np.isfinite(trace)
                ax.plot(time_s[finite], trace[finite], color=color, linewidth=0.5, alpha=0.55,
                        gid="sampled-trace",
                        label="sampled synapses" if k == 0 else "_nolegend_")
    ax.plot(time_s[ok], mean[ok], color="black", linewidth=1.4, label="simulation (seed mean)",
            gid="sim-mean")
    ode = _theory(theory, "mean_weight", key, synapse=synapse)
    if ode is not None:
        ax.plot(ode["time"].values, ode.values, color=color, label="mean-field ODE",
                gid="theory-ode", **THEORY_STYLE)
    fixed = _theory(theory, "fixed_point_weight", key, synapse=synapse)
    if fixed is not None:
        ax.axhline(float(fixed), label="fixed point", gid="theory-fixed-point",
                   **FIXED_POINT_STYLE)
    seeds, flags, times = _divergence(runs, key)
    _annotate_divergence(ax, seeds, flags, times)
    return True


def _draw_final_vs_c(ax, runs, theory, row, c_values, synapse, color):
    ax.set_gid(_facet_gid(row) + ";final-vs-c")
    ax.set_title(f"{_facet_label(row)}: final weight")
    means, sds, excluded = [], [], []
    for c in c_values:
        key = {**row, "c": c}
        mean_weight = _select(runs, "mean_weight", key, synapse=synapse)
        seeds, flags, times = _divergence(runs, key)
        if mean_weight is None:
            means.append(np.nan)
            sds.append(np.nan)
            continue
        finals = final_values(_by_seed(mean_weight, "time"), flags)
        mean, sd, _ = seed_statistics(finals)
        means.append(mean)
        sds.append(sd)
        excluded += [f"c = {_format_value(c)}, {divergence_text(s, t)}"
                     for s, f, t in zip(seeds, flags, times) if f]
    c_array = np.asarray(c_values, dtype=float)
    means, sds = np.asarray(means), np.asarray(sds)
    if np.isfinite(means).any():
        container = ax.errorbar(c_array, means, yerr=np.where(np.isfinite(sds), sds, 0.0),
                                fmt="o", color="black", markersize=4, capsize=3,
                                label="simulation (mean ± s.d.)")
        container.lines[0].set_gid("final-mean")
        for collection in container.lines[2]:
            collection.set_gid("final-sd")
    fixed = _theory(theory, "fixed_point_weight", row, keep=("c",), synapse=synapse)
    if fixed is not None and "c" in fixed.dims:
        fixed = fixed.reindex(c=c_array)          # NaN where the theory lacks a c value
        finite = np.isfinite(fixed.values)
        ax.plot(c_array[finite], fixed.values[finite], color=color, marker="D", markersize=3,
                markerfacecolor="white", label="theory: fixed point vs c", gid="theory-vs-c",
                **THEORY_STYLE)
    if excluded:
        ax.text(0.02, 0.98, "excluded (diverged):\n" + "\n".join(excluded),
                transform=ax.transAxes, ha="left", va="top", fontsize=6, color=DIVERGED_COLOR,
                gid="diverged-text")
    if not np.isfinite(means).any() and fixed is None and not excluded:
        _no_data(ax)
        return
    ax.set_xlabel("Input correlation c (1)")
    ax.set_ylabel("Final " + SYNAPSE_AXIS_LABELS[synapse][0].lower()
                  + SYNAPSE_AXIS_LABELS[synapse][1:])
    if len(c_array) == 1:
        ax.set_xlim(c_array[0] - 0.1, c_array[0] + 0.1)


# ----------------------------------------------------------------------------- balance
BALANCE_SOURCES = ("E", "X", "I", "total")
BAR_SOURCES = ("E+X", "I", "total")


def time_averaged_input(runs: xr.Dataset, key: dict, population: str = "E") -> dict[str, float]:
    """|time average| of the mean input to ``population`` per source, averaged over seeds.

    Each run is averaged over all its finite record bins (up to the stop of a
    diverged run); the seed mean of those averages is taken, then its magnitude.
    Sources: ``E+X``, ``I`` and ``total`` (mV/ms).
    """
    out = {}
    parts = {"E+X": ("E", "X"), "I": ("I",), "total": ("total",)}
    for name, sources in parts.items():
        per_seed = None
        for source in sources:
            da = _select(runs, "mean_input", key, population=population, source=source)
            if da is None:
                return {}
            values = np.nanmean(_by_seed(da, "time"), axis=1)
            per_seed = values if per_seed is None else per_seed + values
        out[name] = abs(seed_statistics(per_seed)[0])
    return out


@_styled
def plot_balance(runs: xr.Dataset, theory: xr.Dataset | None) -> Figure:
    """Input currents to E neurons and population rates over time, per rule and c.

    Parameters
    ----------
    runs : xarray.Dataset
        Aggregate of run datasets.
    theory : xarray.Dataset or None
        Theory aggregate; ``fixed_point_rate`` (or, where it is not finite,
        ``balanced_rate``) is drawn dashed on the rate panels.

    Returns
    -------
    matplotlib.figure.Figure
        Per rule (and extra swept value) two rows: the seed-mean input currents to E
        neurons from E, X, I and their total (gids ``input-E`` …), and the E and I
        rates (``rate-E``, ``rate-I``) with theory dashed (``theory-rate-E`` …); per
        c one column; a last column of bars, per c, of the time-averaged magnitudes
        |E+X|, |I| and |total| (gids ``bar|c=…|E+X`` …) showing that the total is small
        compared with its parts. Diverged runs are marked on every panel.
    """
    runs = _ensure_swept(runs)
    rows = _facets(runs, skip=("c", "seed"))
    c_values = _coord_values(runs, "c")
    n_cols = len(c_values) + 1
    fig = _new_figure(2.5 * n_cols + 0.5, 3.6 * len(rows) + 0.8)
    grid = fig.add_gridspec(2 * len(rows), n_cols)
    for r, row in enumerate(rows):
        inputs, rates = [], []
        for j, c in enumerate(c_values):
            key = {**row, "c": c}
            ax_input = fig.add_subplot(grid[2 * r, j])
            ax_rate = fig.add_subplot(grid[2 * r + 1, j], sharex=ax_input)
            ax_input.set_gid(_facet_gid(key) + ";input")
            ax_rate.set_gid(_facet_gid(key) + ";rate")
            ax_input.set_title(f"{_facet_label(row)}, c = {_format_value(c)}")
            if _draw_currents(ax_input, runs, key):
                _draw_rates(ax_rate, runs, theory, key)
                inputs.append(ax_input)
                rates.append(ax_rate)
            else:
                _no_data(ax_rate)
        _common_limits(inputs, "y")
        _common_limits(rates, "y")
        _draw_balance_bars(fig.add_subplot(grid[2 * r:2 * r + 2, -1]), runs, row, c_values)
    fig.suptitle("Balance: mean input currents to E neurons and population rates")
    _figure_legend(fig)
    return fig


def _draw_currents(ax, runs, key) -> bool:
    any_data = False
    for source in BALANCE_SOURCES:
        da = _select(runs, "mean_input", key, population="E", source=source)
        if da is None:
            continue
        mean, _, _ = running_mean(_by_seed(da, "time"))
        ok = np.isfinite(mean)
        if not ok.any():
            continue
        any_data = True
        ax.plot(da["time"].values[ok], mean[ok], color=SOURCE_COLORS[source],
                linewidth=1.4 if source == "total" else 1.0, label=source, gid=f"input-{source}")
    if not any_data:
        _no_data(ax)
        return False
    ax.axhline(0.0, color="0.8", linewidth=0.5, zorder=0)
    ax.set_ylabel("Input to E (mV/ms)")
    ax.set_xlabel(TIME_LABEL)
    seeds, flags, times = _divergence(runs, key)
    _annotate_divergence(ax, seeds, flags, times)
    return True


def _draw_rates(ax, runs, theory, key):
    ax.set_gid(_facet_gid(key) + ";rate")
    for population in ("E", "I"):
        da = _select(runs, "population_rate", key, population=population)
        if da is None:
            continue
        mean, _, _ = running_mean(_by_seed(da, "time"))
        ok = np.isfinite(mean)
        ax.plot(da["time"].values[ok], mean[ok], color=POPULATION_COLORS[population],
                linewidth=1.0, label=population, gid=f"rate-{population}")
        for name, label in (("fixed_point_rate", "fixed point"),
                            ("balanced_rate", "balanced")):
            rate = _theory(theory, name, key, population=population)
            if rate is not None and np.isfinite(float(rate)):
                ax.axhline(float(rate), color=POPULATION_COLORS[population],
                           label=f"{population} theory ({label})",
                           gid=f"theory-rate-{population}", **THEORY_STYLE)
                break
    ax.set_ylabel("Rate (Hz)")
    ax.set_xlabel(TIME_LABEL)
    seeds, flags, times = _divergence(runs, key)
    _annotate_divergence(ax, seeds, flags, times)


def _draw_balance_bars(ax, runs, row, c_values):
    ax.set_gid(_facet_gid(row) + ";balance-bars")
    ax.set_title(f"{_facet_label(row)}:\n|time-averaged input|")
    width = 0.8 / len(BAR_SOURCES)
    drawn = False
    diverged_c = []
    for i, c in enumerate(c_values):
        key = {**row, "c": c}
        magnitudes = time_averaged_input(runs, key)
        if not magnitudes or not np.isfinite(list(magnitudes.values())).any():
            continue
        _, flags, _ = _divergence(runs, key)
        for k, source in enumerate(BAR_SOURCES):
            x = i + (k - (len(BAR_SOURCES) - 1) / 2) * width
            ax.bar(x, magnitudes[source], width=width, color=SOURCE_COLORS[source],
                   hatch="///" if flags.any() else None, edgecolor="white", linewidth=0.3,
                   label=f"|{source}|" if not drawn else "_nolegend_",
                   gid=f"bar|c={_format_value(c)}|{source}")
        drawn = True
        parts = max(magnitudes["E+X"], magnitudes["I"])
        ratio = magnitudes["total"] / parts if parts > 0 else math.nan
        ax.annotate(f"{ratio:.2f}", (i + width, magnitudes["total"]), xytext=(0, 2),
                    textcoords="offset points", ha="center", va="bottom", fontsize=6,
                    gid="bar-ratio")
        if flags.any():
            diverged_c.append(c)
    if not drawn:
        _no_data(ax)
        return
    ax.set_xticks(range(len(c_values)), [f"c = {_format_value(c)}"
                                         + ("\n(diverged)" if c in diverged_c else "")
                                         for c in c_values])
    for label, c in zip(ax.get_xticklabels(), c_values):
        if c in diverged_c:
            label.set_color(DIVERGED_COLOR)
    ax.set_ylabel("|Mean input to E| (mV/ms)")
    ax.text(0.98, 0.98, "number above |total|:\n|total| / max(|E+X|, |I|)",
            transform=ax.transAxes, ha="right", va="top", fontsize=6)
    ax.set_ylim(top=ax.get_ylim()[1] * 1.15)


# ----------------------------------------------------------------------------- rate–weight
def rate_weight_points(runs: xr.Dataset, key: dict, synapse: str) -> tuple[np.ndarray, np.ndarray]:
    """Pooled (presynaptic rate in Hz, final weight in mV) of the sampled synapses.

    The final weight is each synapse's last finite snapshot; diverged runs and
    pairs with a non-finite value are left out.
    """
    weights = _select(runs, "sampled_weight", key, synapse=synapse)
    rates = _select(runs, "sampled_pre_rate", key, synapse=synapse)
    if weights is None or rates is None:
        return np.empty(0), np.empty(0)
    _, flags, _ = _divergence(runs, key)
    w = _by_seed(weights, "sample", "time")
    final = final_values(w, np.broadcast_to(flags[:, None], w.shape[:2]))
    rate = _by_seed(rates, "sample")
    finite = np.isfinite(final) & np.isfinite(rate)
    return rate[finite], final[finite]


@_styled
def plot_rate_weight_correlation(runs: xr.Dataset) -> Figure:
    """Final weight vs presynaptic rate of sampled plastic synapses, with Pearson r.

    Parameters
    ----------
    runs : xarray.Dataset
        Aggregate of run datasets; every rule with a plastic synapse gets a row
        (per plastic synapse), every c a column.

    Returns
    -------
    matplotlib.figure.Figure
        Scatter of ``sampled_weight`` at the last snapshot against ``sampled_pre_rate``,
        pooled over seeds (gid ``rate-weight-points``), a least-squares line
        (``rate-weight-fit``) and the Pearson correlation coefficient of the pooled
        points (text gid ``pearson-r``, "r = 0.83").
    """
    runs = _ensure_swept(runs)
    rows = [(row, synapse) for row in _facets(runs, skip=("c", "seed"))
            for synapse in plastic_synapses(runs, row["rule"])]
    c_values = _coord_values(runs, "c")
    fig = _new_figure(2.6 * len(c_values) + 0.4, 2.5 * max(len(rows), 1) + 0.4)
    axes = fig.subplots(max(len(rows), 1), len(c_values), squeeze=False)
    if not rows:
        for ax in axes.ravel():
            _no_data(ax, "no plastic synapses")
    for r, (row, synapse) in enumerate(rows):
        for j, c in enumerate(c_values):
            key = {**row, "c": c}
            ax = axes[r, j]
            ax.set_gid(_facet_gid(key) + f";{synapse}")
            ax.set_title(f"{_facet_label(row)} ({synapse.upper()}), c = {_format_value(c)}")
            rate, weight = rate_weight_points(runs, key, synapse)
            seeds, flags, times = _divergence(runs, key)
            if rate.size < 2:
                _no_data(ax, "no final weights" if flags.any() else "no run")
                _annotate_divergence(ax, seeds, flags, times, vlines=False)
                continue
            ax.scatter(rate, weight, s=5, color=SYNAPSE_COLORS[synapse], alpha=0.5,
                       linewidths=0, gid="rate-weight-points")
            r_value = float(np.corrcoef(rate, weight)[0, 1]) if np.ptp(rate) > 0 \
                and np.ptp(weight) > 0 else math.nan
            if np.ptp(rate) > 0:
                slope, intercept = np.polyfit(rate, weight, 1)
                grid = np.linspace(rate.min(), rate.max(), 2)
                ax.plot(grid, intercept + slope * grid, color="black", linewidth=1.0,
                        gid="rate-weight-fit")
            ax.text(0.97, 0.03, f"r = {r_value:.2f}\nn = {rate.size}", transform=ax.transAxes,
                    ha="right", va="bottom", fontsize=7, gid="pearson-r",
                    bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "alpha": 0.8,
                          "edgecolor": "none"})
            _annotate_divergence(ax, seeds, flags, times, vlines=False)
            ax.set_xlabel(f"Presynaptic rate $r_{synapse[1]}$ (Hz)")
            ax.set_ylabel("Final " + SYNAPSE_AXIS_LABELS[synapse][0].lower()
                          + SYNAPSE_AXIS_LABELS[synapse][1:])
    fig.suptitle("Rate–weight correlation of plastic synapses (final weights)")
    return fig


# ----------------------------------------------------------------------------- manifold
@_styled
def plot_weight_manifold(runs: xr.Dataset, theory: xr.Dataset | None) -> Figure:
    """EI iSTDP initial-condition sweep (spec Fig 7 A, D).

    Parameters
    ----------
    runs : xarray.Dataset
        Aggregate with a ``weights_ei`` dimension holding the initial j_ei (mV).
    theory : xarray.Dataset or None
        Δ-corrected theory aggregate with ``fixed_point_weight`` along ``weights_ei``.

    Returns
    -------
    matplotlib.figure.Figure
        Per rule and c (and extra swept value) a row: (A) seed-mean j_ei(t) for every
        initial value, coloured by it (gids ``manifold-trace|weights_ei=…``); (D) final
        vs initial j_ei, mean ± s.d. over seeds (``manifold-final``) and the
        Δ-corrected fixed point (dashed, ``manifold-theory``), with final = initial
        (thin grey) for reference.
    """
    runs = _ensure_swept(runs)
    if "weights_ei" not in runs.dims:
        raise ValueError("plot_weight_manifold needs runs with a 'weights_ei' dimension "
                         "(sweep_dims: ['weights.ei'])")
    rows = _facets(runs, skip=("seed", "weights_ei"))
    initial = np.asarray(_coord_values(runs, "weights_ei"), dtype=float)
    palette = sns.color_palette("crest", as_cmap=True)
    norm = mpl.colors.Normalize(vmin=initial.min(), vmax=initial.max() + (np.ptp(initial) == 0))
    fig = _new_figure(8.0, 3.0 * len(rows) + 0.4)
    axes = fig.subplots(len(rows), 2, squeeze=False, width_ratios=[1.3, 1.0])
    for r, row in enumerate(rows):
        ax_time, ax_final = axes[r]
        ax_time.set_gid(_facet_gid(row) + ";trajectories")
        ax_final.set_gid(_facet_gid(row) + ";final-vs-initial")
        ax_time.set_title(f"A  {_facet_label(row)}: mean $j_{{ei}}$(t)", loc="left")
        ax_final.set_title("D  final vs initial $j_{ei}$", loc="left")
        finals_mean, finals_sd, diverged = [], [], []
        for value in initial:
            key = {**row, "weights_ei": value}
            da = _select(runs, "mean_weight", key, synapse="ei")
            seeds, flags, times = _divergence(runs, key)
            diverged += [(value, s, t) for s, f, t in zip(seeds, flags, times) if f]
            if da is None or not np.isfinite(da.values).any():
                finals_mean.append(np.nan)
                finals_sd.append(np.nan)
                continue
            values = _by_seed(da, "time")
            mean, _, _ = running_mean(values)
            ok = np.isfinite(mean)
            ax_time.plot(da["time"].values[ok], mean[ok], color=palette(norm(value)),
                         linewidth=0.9, gid=f"manifold-trace|weights_ei={value:g}")
            m, s, _ = seed_statistics(final_values(values, flags))
            finals_mean.append(m)
            finals_sd.append(s)
        finals_mean, finals_sd = np.asarray(finals_mean), np.asarray(finals_sd)
        if not np.isfinite(finals_mean).any() and not diverged:
            _no_data(ax_time)
            _no_data(ax_final)
            continue
        mappable = mpl.cm.ScalarMappable(norm=norm, cmap=palette)
        fig.colorbar(mappable, ax=ax_time, label="initial $j_{ei}$ (mV)", aspect=30, pad=0.02)
        ax_time.set_xlabel(TIME_LABEL)
        ax_time.set_ylabel(SYNAPSE_AXIS_LABELS["ei"])
        ax_final.plot(initial, initial, color="0.8", linewidth=0.8, label="final = initial",
                      zorder=0)
        if np.isfinite(finals_mean).any():
            container = ax_final.errorbar(initial, finals_mean,
                                          yerr=np.where(np.isfinite(finals_sd), finals_sd, 0.0),
                                          fmt="o", color=SYNAPSE_COLORS["ei"], markersize=3.5,
                                          capsize=2, label="simulation (mean ± s.d.)")
            container.lines[0].set_gid("manifold-final")
        fixed = _theory(theory, "fixed_point_weight", row, keep=("weights_ei",), synapse="ei")
        if fixed is not None and "weights_ei" in fixed.dims:
            x = fixed["weights_ei"].values.astype(float)
            y = fixed.values
            ok = np.isfinite(y)
            ax_final.plot(x[ok], y[ok], color="black", label="Δ-corrected theory",
                          gid="manifold-theory", **THEORY_STYLE)
        if diverged:
            for value, _, _ in diverged:
                ax_final.axvline(value, color=DIVERGED_COLOR, linestyle=":", linewidth=0.8)
            ax_final.text(0.02, 0.98, "\n".join(f"initial {v:g} mV, {divergence_text(s, t)}"
                                                for v, s, t in diverged),
                          transform=ax_final.transAxes, ha="left", va="top", fontsize=6,
                          color=DIVERGED_COLOR, gid="diverged-text")
        ax_final.set_xlabel("Initial inh weight $j_{ei}(0)$ (mV)")
        ax_final.set_ylabel("Final inh weight $j_{ei}$ (mV)")
        ax_final.legend(loc="best", fontsize=6)
    fig.suptitle("EI iSTDP: weights converge to an initial-condition-dependent manifold")
    return fig


# ----------------------------------------------------------------------------- windows
def learning_window_rule(rule: str, synapse: str, overrides: dict, tau_stdp_ms: float):
    """The :class:`~balanced_stdp.plasticity.RuleDescription` drawn in the window figure:
    default parameters with ``overrides``, η chosen so that |η_eff(N = 1)| =
    :data:`LEARNING_WINDOW_ETA_EFF`."""
    settings = {"rule": rule, **rule_parameter_defaults(rule, synapse, tau_stdp_ms), **overrides,
                "eta": 1.0}
    unit = abs(build_rule(synapse, settings, tau_stdp_ms).eta_effective(1))
    settings["eta"] = LEARNING_WINDOW_ETA_EFF / unit
    return build_rule(synapse, settings, tau_stdp_ms)


def learning_window(rule: str, synapse: str, overrides: dict, weight_mv: float,
                    per_weight: bool, lags_ms: np.ndarray, tau_stdp_ms: float) -> np.ndarray:
    """Δj/η_eff of one isolated spike pair at each lag t_pre − t_post (ms).

    Computed with :meth:`balanced_stdp.plasticity.RuleDescription.pair_update`
    (N = 1, so η_eff carries no √N); with ``per_weight`` divided by |j| as well
    (multiplicative rules: iSTDP's window is then e^{−|Δt|/τ} − α).
    """
    description = learning_window_rule(rule, synapse, overrides, tau_stdp_ms)
    scale = description.eta_effective(1) * (abs(weight_mv) if per_weight else 1.0)
    return np.array([description.pair_update(weight_mv, float(lag), tau_stdp_ms, 1) / scale
                     for lag in lags_ms])


@_styled
def plot_learning_windows(tau_stdp_ms: float = 20.0) -> Figure:
    """Learning windows of the rules (spec Fig 9), from the rule descriptions.

    Parameters
    ----------
    tau_stdp_ms : float
        Trace time constant τ (ms); the paper draws the windows with 20 ms.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per rule of :data:`LEARNING_WINDOW_RULES`: Δj/η_eff of an isolated
        pre/post pair against Δt = t_pre − t_post ∈ [−100, 100] ms (pre before post
        on the left), drawn as two curves (gids ``window-causal`` for Δt < 0,
        ``window-acausal`` for Δt > 0). Single-spike terms of both spikes are part
        of the pair's update, so they appear on both sides (e.g. Kohonen's −j,
        iSTDP's −α), unlike the paper's one-sided schematic.
    """
    lags_causal = np.linspace(-100.0, -0.5, 200)
    lags_acausal = -lags_causal[::-1]
    fig = _new_figure(2.4 * len(LEARNING_WINDOW_RULES), 2.5)
    axes = fig.subplots(1, len(LEARNING_WINDOW_RULES), squeeze=False)[0]
    for ax, (title, rule, synapse, overrides, weight, per_weight) in zip(axes,
                                                                         LEARNING_WINDOW_RULES):
        color = SYNAPSE_COLORS[synapse]
        ax.set_gid(f"window|{rule}")
        for lags, gid in ((lags_causal, "window-causal"), (lags_acausal, "window-acausal")):
            values = learning_window(rule, synapse, overrides, weight, per_weight, lags,
                                     tau_stdp_ms)
            ax.plot(lags, values, color=color, linewidth=1.5, gid=gid)
        ax.axhline(0.0, color="0.7", linewidth=0.6, zorder=0)
        ax.axvline(0.0, color="0.7", linewidth=0.6, zorder=0)
        ax.set_title(title)
        ax.set_xlabel("Δt = $t_{pre} - t_{post}$ (ms)")
        ax.set_ylabel("Δj / (η_eff |j|) (1)" if per_weight else "Δj / η_eff (mV)")
        ax.set_xlim(-100, 100)
    fig.suptitle(f"Learning windows of isolated spike pairs (τ = {tau_stdp_ms:g} ms; "
                 "pre before post at Δt < 0)")
    return fig


# ----------------------------------------------------------------------------- output
def save_figure(fig: Figure, pdf_path: str | os.PathLike, png_path: str | os.PathLike,
                caption: str | None = None) -> None:
    """Write ``fig`` as PDF and PNG (150 dpi), then close it.

    Each file is written to a temporary name in its directory and renamed, so an
    interrupted job never leaves a truncated figure behind. The caption, if given,
    is stored in the files' metadata (PDF ``Subject``, PNG ``Description``).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure.
    pdf_path, png_path : path-like
        Output files (parent directories are created).
    caption : str, optional
        Caption text for the metadata.
    """
    try:
        for path, fmt, dpi, key in ((pdf_path, "pdf", None, "Subject"),
                                    (png_path, "png", 150, "Description")):
            path = Path(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            metadata = {key: caption} if caption else {}
            # Not mkstemp: its 0600 mode would survive the rename; this name is unique per
            # process and the file gets the usual umask-based permissions.
            temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            try:
                kwargs = {"dpi": dpi} if dpi else {}
                fig.savefig(temporary, format=fmt, metadata=metadata, **kwargs)
                os.replace(temporary, path)
            finally:
                if os.path.exists(temporary):
                    os.remove(temporary)
    finally:
        _close(fig)


def _close(fig: Figure) -> None:
    """Release the figure; only a pyplot-managed figure needs pyplot to close it."""
    if getattr(fig.canvas, "manager", None) is not None:
        import matplotlib.pyplot as plt  # only reached for figures pyplot created
        plt.close(fig)
    else:
        fig.clear()


# ----------------------------------------------------------------------------- captions
_FIGURE_TEXT = {
    "weight_dynamics": (
        "Mean plastic weight over time for each plasticity rule (rows) and input correlation "
        "c (columns): black, mean over seeds of the mean unscaled weight j over all existing "
        "synapses, with a grey ±1 s.d. band over seeds; thin coloured lines, a few sampled "
        "synapses of one seed; dashed, the mean-field ODE trajectory (spec §6.4); dotted grey, "
        "its fixed point. Last column: final mean weight (last snapshot) against c, mean ± s.d. "
        "over seeds (points), and the theoretical fixed point (dashed line). Runs stopped by "
        "the divergence guard are marked with a red dotted line and listed, and left out of "
        "the final values."),
    "balance": (
        "Balance of excitation and inhibition. For each rule and c: top, mean input current to "
        "E neurons from recurrent excitation (E, blue), external input (X, light blue), "
        "inhibition (I, red) and their total (black), mean over seeds; bottom, E (blue) and I "
        "(red) population rates with the theoretical rates dashed (fixed point of the weight "
        "dynamics, or balanced rates where no fixed point exists). Right: magnitudes of the "
        "time-averaged inputs |E+X|, |I| and |total| per c, with the ratio |total|/max part; "
        "a small ratio means the large excitatory and inhibitory inputs cancel. Diverged runs "
        "(red dotted line, hatched bars) have lost balance."),
    "rate_weight_correlation": (
        "Rate–weight correlations: final weight (last snapshot) of sampled plastic synapses "
        "against the firing rate of their presynaptic neuron (over the second half of the "
        "run), pooled over seeds, with a least-squares line and the Pearson correlation "
        "coefficient r of the plotted points. Kohonen's rule makes EE weights grow with the "
        "presynaptic rate (j ≈ β₀ τ r); iSTDP's per-synapse drift also depends on it (spec §6.7)."),
    "weight_manifold": (
        "EI iSTDP initial-condition sweep (spec Fig 7 A, D). A: mean I→E weight j_ei over time "
        "for every initial value (colour). D: final against initial j_ei, mean ± s.d. over "
        "seeds (points), and the Δ-corrected fixed point of each initial condition (dashed, "
        "spec §6.6–6.7); thin grey, final = initial. Final weights that depend on the initial "
        "weight show the manifold of fixed points."),
    "learning_windows": (
        "Learning windows: weight change Δj of one isolated pre/post spike pair divided by the "
        "effective learning rate, against Δt = t_pre − t_post (pre before post on the left), "
        "computed from the rule descriptions of balanced_stdp.plasticity. The single-spike "
        "terms of both spikes are included, so Kohonen's −j and iSTDP's −α appear on both "
        "sides. The iSTDP window is also divided by |j| (a positive value strengthens "
        "inhibition)."),
}

_PARAMETER_FORMATS = (("eta", "η = {}"), ("beta0", "β₀ = {}"), ("target_rate_hz", "ρ = {} Hz"),
                      ("j_max", "j_max = {} mV"))
_UNBOUNDED_MV = 1e19   # the classical rule's ±1e20 "bounds" mean unbounded


def _join(values) -> str:
    values = sorted(set(values), key=lambda v: (isinstance(v, str), v))
    return ", ".join(_format_value(v) for v in values)


def _parameter_sentence(runs: xr.Dataset) -> str:
    configs = _run_configs(runs)
    swept = [d for d in _swept_dims(runs) if d not in ("rule", "c", "seed")]
    parts = []
    if configs:
        for key, name, unit in (("N", "N", ""), ("duration_s", "T", " s"),
                                ("tau_stdp_ms", "τ_STDP", " ms")):
            if key not in swept:
                parts.append(f"{name} = {_join(cfg[key] for cfg in configs if key in cfg)}{unit}")
        rules: dict[tuple[str, str], dict[str, set]] = {}
        for cfg in configs:
            for synapse, settings in cfg.get("plasticity", {}).items():
                entry = rules.setdefault((synapse, settings["rule"]), {})
                for name, _ in _PARAMETER_FORMATS:
                    value = settings.get(name)
                    if value is not None and not (name == "j_max" and value >= _UNBOUNDED_MV):
                        entry.setdefault(name, set()).add(value)
                if f"weights_{synapse}" not in swept:
                    entry.setdefault("initial", set()).add(cfg["weights"][synapse])
        for (synapse, rule), params in sorted(rules.items(),
                                              key=lambda item: _rule_sort_key(item[0][1])):
            text = [fmt.format(_join(params[name])) for name, fmt in _PARAMETER_FORMATS
                    if name in params]
            if "initial" in params:
                text.append(f"initial j_{synapse} = {_join(params['initial'])} mV")
            parts.append(f"{RULE_NAMES.get(rule, rule)} on {synapse.upper()} ({', '.join(text)})")
    else:
        if "neuron" in runs.dims:
            parts.append(f"N = {runs.sizes['neuron']}")
        if "time" in runs.dims and runs.sizes["time"]:
            parts.append(f"T = {float(runs['time'].max()):g} s")
        parts.append("(run configs not stored in the aggregate: η and β₀ unknown)")
    parts.append("c ∈ {" + _join(float(c) for c in runs["c"].values) + "}")
    for dim in swept:
        name, unit = SWEPT_DIM_LABELS.get(dim, (dim, ""))
        name = name.replace("$", "").replace("{", "").replace("}", "")
        parts.append(f"{name} ∈ {{{_join(v for v in runs[dim].values.tolist())}}}"
                     + (f" {unit}" if unit else ""))
    seeds = [int(s) for s in runs["seed"].values]
    if "mean_weight" in runs:
        finite = np.isfinite(runs["mean_weight"]).any(
            [d for d in runs["mean_weight"].dims if d != "seed"])
        seeds = [int(s) for s in runs["seed"].values[finite.values]]
    parts.append(f"{len(seeds)} seed{'s' if len(seeds) != 1 else ''} "
                 f"({_join(seeds)}) per grid point")
    rules = [RULE_NAMES.get(r, r) for r in _coord_values(runs, "rule")]
    if "diverged" in runs:
        n_div = int(np.nansum(runs["diverged"].values > 0.5))
        if n_div:
            parts.append(f"{n_div} run{'s' if n_div != 1 else ''} stopped by the divergence guard")
    return "Rules: " + ", ".join(rules) + ". Parameters: " + "; ".join(parts) + "."


def caption_for(figure_name: str, runs: xr.Dataset | None, tau_stdp_ms: float = 20.0) -> str:
    """One-paragraph caption: what the figure shows and which parameters produced it.

    Parameters
    ----------
    figure_name : str
        One of :data:`FIGURE_NAMES`.
    runs : xarray.Dataset or None
        The aggregate the figure was drawn from (None for ``learning_windows``).
        Parameters are read from the stored run configs (a ``config`` variable, or
        ``configs``/``config`` attributes) and from the coordinates.
    tau_stdp_ms : float
        τ of the learning-window figure.

    Returns
    -------
    str
        The caption.
    """
    if figure_name not in _FIGURE_TEXT:
        raise ValueError(f"unknown figure {figure_name!r}; known: {', '.join(FIGURE_NAMES)}")
    text = _FIGURE_TEXT[figure_name]
    if figure_name == "learning_windows":
        return (f"{text} τ = {tau_stdp_ms:g} ms; soft Hebbian j_max = 30 mV at j = 25 mV, "
                "Kohonen β₀ = 2 at j = 1 mV, Oja β₀ = 30 at j = 29 mV, iSTDP ρ_e = 10 Hz.")
    if runs is None:
        return text
    runs = _ensure_swept(runs)
    return f"{text} {_parameter_sentence(runs)}"
