"""Hebbian variants side by side (spec §8 Fig 10): classical (unbounded), hard-bound and
soft-bound Hebbian EE plasticity at c = 0.

Rows: the final weight distribution, weight traces with their mean, mean input currents
and population rates. The classical rule has no restoring force: its theory has no
stable fixed point (``stability`` "neutral"), so none is drawn; its weights spread until
balance is lost and the divergence guard stops the run, so its weights are drawn on a
symmetric-log axis, its weight histogram is the snapshot at T/2 or the last record before
the stop (spec §10), and its currents and rates get insets of the time before the stop.
"""

from __future__ import annotations

import matplotlib.ticker as mticker
import numpy as np
from matplotlib.figure import Figure

from ..selection import ExperimentData, at_point, divergence, ensure_swept, run_configs
from .facets import coord_values
from .labels import final_label, rule_name
from .convergence import weight_convergence
from .panels import (draw_currents, draw_population_rates, draw_weight_traces, finite_size_note,
                     fixed_point, main_synapse, mark_value, plot_finite_size, stability_labels,
                     state_convergence, theory_name, TraceStyle)
from .style import (FINITE_SIZE_FIXED_POINT, FIXED_POINT_STYLE, SYNAPSE_COLORS, figure_legend,
                    letter_panels, new_figure, no_data, panel_legend, styled)


ROLES = ("classical", "bounded", "soft")
"""Columns, left to right."""

COLUMN_TITLES = {"classical": "Classical Hebbian", "bounded": "Hard-bound Hebbian",
                 "soft": "Soft-bound Hebbian"}

SYMLOG_FACTOR = 4.0
"""A column's weights go on a symmetric-log axis when they leave ± this many times the
largest initial |mean weight| (the classical rule's runaway)."""

SYMLOG_LINSCALE = 2.0
"""Room (in decades) of the linear part of a symmetric-log axis: the weights before the
runaway live there."""

INSET_FRACTION = 0.95
"""Insets show the time up to this fraction of the earliest stop of a diverged run."""

TRACES = TraceStyle(ode_label="mean-field ODE, {theory} (orange dashed)",
                    fixed_point_label="stable fixed point j*, {theory} (grey dotted)",
                    finite_size_label="finite-size theory (dash-dot)",
                    finite_size_fixed_point_label="finite-size fixed point j* (dotted)")
"""Weight traces; the fixed point of the histograms (orange dashed) is the ODE's."""


@styled
def plot_hebbian_variants(classical: "ExperimentData", bounded: "ExperimentData",
                          soft: "ExperimentData") -> Figure:
    """Classical, hard-bound and soft Hebbian plasticity side by side (spec Fig 10).

    Parameters
    ----------
    classical, bounded, soft : ExperimentData
        Runs and theory aggregates of each variant's experiment (its c = 0 runs).

    Returns
    -------
    matplotlib.figure.Figure
        Axes gids ``<row>|<role>`` with rows ``weights-final`` (``hist-weights``,
        ``sim-mean-line``, ``theory-fixed-point``; text ``snapshot-time`` for a
        snapshot), ``traces``, ``currents``, ``rates`` (artists of
        :mod:`balanced_stdp.figures.panels`); insets ``currents-inset|<role>`` and
        ``rates-inset|<role>`` where a run diverged.
    """
    fig = new_figure(11.5, 11.6)
    axes = fig.subplots(4, len(ROLES), squeeze=False)
    notes = []
    for column, (role, data) in enumerate(zip(ROLES, (classical, bounded, soft))):
        for row, name in enumerate(("weights-final", "traces", "currents", "rates")):
            axes[row, column].set_gid(f"{name}|{role}")
        if data is None or data.runs is None:
            for ax in axes[:, column]:
                no_data(ax)
            continue
        runs, theory, finite_size = ensure_swept(data.runs), data.theory, data.finite_size
        rule = coord_values(runs, "rule")[0]
        key = {"rule": rule, "c": min(coord_values(runs, "c"), key=abs)}
        synapse = main_synapse(runs, rule)
        axes[0, column].set_title(f"{COLUMN_TITLES[role]}\n({rule_name(rule)}, "
                                  f"c = {key['c']:g})")
        stop_s = _earliest_stop(runs, key)
        _draw_final_distribution(axes[0, column], runs, theory, key, synapse, stop_s,
                                 finite_size)
        traces_ax = axes[1, column]
        note = finite_size_note(finite_size, key)
        if note:
            notes.append(f"{COLUMN_TITLES[role]}: {note}")
        if draw_weight_traces(traces_ax, runs, theory, key, synapse, TRACES,
                              finite_size=finite_size):
            _symlog_if_runaway(traces_ax, runs, key, synapse)
            if stop_s is None:
                verdict = weight_convergence(runs, finite_size, key, synapse)
                state_convergence(traces_ax, verdict)
            last_stop = _latest_stop_if_all_stopped(runs, key)
            if last_stop is not None:      # the ODE beyond the last stop shows nothing new
                traces_ax.set_xlim(0.0, 1.05 * last_stop)
        if draw_currents(axes[2, column], runs, key) and stop_s is not None:
            _inset_before(axes[2, column], stop_s, f"currents-inset|{role}",
                          lambda ax: draw_currents(ax, runs, key, divergence_marks=False))
        if draw_population_rates(axes[3, column], runs, theory, key) and stop_s is not None:
            _inset_before(axes[3, column], stop_s, f"rates-inset|{role}",
                          lambda ax: draw_population_rates(ax, runs, theory, key,
                                                           divergence_marks=False))
    for row in (2, 3):                  # inputs and rates: one legend per row, on its right
        panel_legend(axes[row, -1], sources=axes[row], fontsize=6, loc="upper right")
    letter_panels(axes.T.ravel())
    fig.suptitle("Hebbian EE plasticity: classical, hard-bound and soft-bound — theory: "
                 "finite-size (magenta) and "
                 f"{theory_name(classical.theory if classical else None)} (orange, grey)"
                 + (f"\n({'; '.join(notes)})" if notes else ""))
    figure_legend(fig, max_columns=4, axes=axes[:2].ravel())
    return fig


def _earliest_stop(runs, key) -> float | None:
    """Earliest stopping time of a diverged run at the facet (None: none diverged)."""
    _, flags, times = divergence(runs, key)
    stops = times[flags & np.isfinite(times)]
    return float(stops.min()) if stops.size else None


def _latest_stop_if_all_stopped(runs, key) -> float | None:
    """Latest stopping time if every run at the facet was stopped, else None."""
    _, flags, times = divergence(runs, key)
    if flags.size == 0 or not flags.all() or not np.isfinite(times).all():
        return None
    return float(times.max())


def _duration_s(runs, time_s: np.ndarray) -> float:
    """Planned run length T (from the stored run config; the time grid of an aggregate
    whose runs all stopped early ends at the last stop)."""
    configs = run_configs(runs)
    return float(configs[0]["duration_s"]) if configs else float(time_s[-1])


def _final_weights(runs, key, synapse, snapshot: bool) -> tuple[np.ndarray, list[float]]:
    """Per sampled synapse (seeds pooled): the mean over the second half (T/2, T], or,
    for ``snapshot``, the value at T/2 or at the last record before a stop if earlier;
    with the snapshot time (s) of each seed."""
    sampled = at_point(runs, "sampled_weight", key, synapse=synapse)
    values = sampled.transpose("seed", "sample", "time").values.astype(float)
    time_s = sampled["time"].values
    half = _duration_s(runs, time_s) / 2.0
    if not snapshot:
        return np.nanmean(values[..., time_s > half], axis=-1).reshape(-1), []
    at_half = int(np.argmin(np.abs(time_s - half)))
    picked, when = [], []
    for seed_values in values:                      # (sample, time)
        finite = np.flatnonzero(np.isfinite(seed_values).any(axis=0))
        if finite.size == 0:
            continue
        index = min(at_half, finite[-1])
        picked.append(seed_values[:, index])
        when.append(float(time_s[index]))
    return (np.concatenate(picked) if picked else np.array([])), when


def _draw_final_distribution(ax, runs, theory, key, synapse, stop_s, finite_size=None) -> None:
    # A run stopped by the divergence guard has no stationary second half to average
    # over: spec §10 draws the classical rule's weights as one snapshot at T/2 instead.
    snapshot = stop_s is not None
    weights, when = _final_weights(runs, key, synapse, snapshot)
    weights = weights[np.isfinite(weights)]
    if weights.size == 0:
        no_data(ax)
        return
    linthresh = _symlog_threshold(runs, key, synapse)
    runaway = np.max(np.abs(weights)) > SYMLOG_FACTOR * linthresh / 2.0
    bins = _symlog_bins(np.max(np.abs(weights)), linthresh) if runaway else 40
    ax.hist(weights, bins=bins, color=SYNAPSE_COLORS[synapse], alpha=0.8, gid="hist-weights")
    if runaway:
        _symlog_axis(ax, "x", linthresh, float(np.max(np.abs(weights))))
    mark_value(ax, float(np.mean(weights)), "black", "sim-mean-line", "simulated mean")
    notes = []
    fixed = fixed_point(theory, key, synapse)
    if fixed is not None:
        mark_value(ax, fixed, FIXED_POINT_STYLE["color"], "theory-fixed-point",
                   f"stable fixed point j*, {theory_name(theory)} (grey dotted)",
                   linestyle=FIXED_POINT_STYLE["linestyle"])
        plot_finite_size(ax, finite_size, "fixed_point_weight", key, vertical=True,
                         synapse=synapse, label="finite-size fixed point j* (dotted)",
                         gid="finite-size-fixed-point", style=FINITE_SIZE_FIXED_POINT)
    else:
        notes.append("no stable fixed point (theory: "
                     + ", ".join(_stabilities(theory, key)) + ")")
    if snapshot:
        times = ", ".join(f"{t:.3g}" for t in when)
        ax.set_xlabel(final_label(synapse).replace("Final", "Snapshot") + f" at {times} s")
        notes.append("snapshot at T/2, or the last record\nbefore a divergence stop")
    else:
        ax.set_xlabel(final_label(synapse) + ", mean over (T/2, T]")
    if notes:
        ax.text(0.02, 0.98, "\n".join(notes), transform=ax.transAxes, ha="left", va="top",
                fontsize=6.5, gid="snapshot-time")
    ax.set_ylabel("Synapses")


def _stabilities(theory, key) -> list[str]:
    return sorted(set(stability_labels(theory, key))) or ["unknown"]


def _symlog_threshold(runs, key, synapse) -> float:
    """Linear range of a symmetric-log weight axis: twice the largest initial |mean|."""
    values = at_point(runs, "mean_weight", key, synapse=synapse).values.astype(float)
    start = np.nanmax(np.abs(values[..., 0])) if values.size else 0.0
    return _nice_ceiling(2.0 * max(float(start), 1.0))


def _nice_ceiling(value: float) -> float:
    """Smallest 1, 2 or 5 × 10^k not below ``value`` (readable tick values)."""
    decade = 10.0 ** np.floor(np.log10(value))
    return float(next(m * decade for m in (1, 2, 5, 10) if m * decade >= value * (1 - 1e-9)))


def _symlog_bins(largest: float, linthresh: float, n_log: int = 15) -> np.ndarray:
    """Histogram edges even on a symmetric-log axis: linear inside ±linthresh,
    logarithmic outside, up to ±largest."""
    outer = np.geomspace(linthresh, max(largest, linthresh) * 1.01, n_log + 1)[1:]
    return np.concatenate([-outer[::-1], np.linspace(-linthresh, linthresh, 11), outer])


def _symlog_if_runaway(ax, runs, key, synapse) -> None:
    """Symmetric-log weight axis when the weights run far from their start."""
    linthresh = _symlog_threshold(runs, key, synapse)
    low, high = ax.get_ylim()
    if max(abs(low), abs(high)) > SYMLOG_FACTOR * linthresh / 2.0:
        _symlog_axis(ax, "y", linthresh, max(abs(low), abs(high)))
        ax.set_ylabel(ax.get_ylabel() + ", symlog")


def _symlog_axis(ax, which: str, linthresh: float, largest: float) -> None:
    """Symmetric-log ``which`` ("x"/"y") axis with uncluttered ticks: 0, ±linthresh and
    every other decade beyond it."""
    getattr(ax, f"set_{which}scale")("symlog", linthresh=linthresh, linscale=SYMLOG_LINSCALE)
    first = int(np.ceil(np.log10(linthresh))) + 1
    decades = range(first, int(np.ceil(np.log10(max(largest, 10 * linthresh)))) + 1, 2)
    positive = [linthresh] + [10.0 ** d for d in decades]
    axis = getattr(ax, f"{which}axis")
    axis.set_ticks(sorted([-v for v in positive] + [0.0] + positive))
    axis.set_major_formatter(mticker.FuncFormatter(
        lambda value, _: f"{value:g}" if abs(value) < 1e3 else
        ("−" if value < 0 else "") + f"$10^{{{np.log10(abs(value)):.0f}}}$"))
    axis.set_minor_locator(mticker.NullLocator())


def _inset_before(ax, stop_s: float, gid: str, draw) -> None:
    """Inset of the time before the earliest stop, its y range from the data there."""
    inset = ax.inset_axes([0.14, 0.22, 0.42, 0.45])   # below the divergence text
    inset.set_gid(gid)
    draw(inset)
    end = INSET_FRACTION * stop_s
    inset.set_xlim(0.0, end)
    shown = [np.asarray(line.get_ydata(), float)[np.asarray(line.get_xdata(), float) <= end]
             for line in inset.get_lines()]
    shown = np.concatenate(shown) if shown else np.array([])
    shown = shown[np.isfinite(shown)]
    if shown.size:
        pad = 0.1 * (shown.max() - shown.min() + 1e-9)
        inset.set_ylim(shown.min() - pad, shown.max() + pad)
    inset.set_xlabel("")
    inset.set_ylabel("")
    inset.tick_params(labelsize=5.5)
    inset.set_title(f"before the stop (0–{end:.3g} s)", fontsize=6)
