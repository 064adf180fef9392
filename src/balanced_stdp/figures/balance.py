"""Balance: input currents to E neurons and population rates over time per rule and c,
and the magnitudes of the time-averaged inputs (spec Figs 3, 10 rows 3–4)."""

from __future__ import annotations

import math

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from ..contract import SOURCES
from ..estimators import running_mean, seed_statistics
from ..selection import at_point, by_seed, divergence, ensure_swept, theory_at
from .facets import coord_values, facet_gid, facet_label, facets
from .labels import TIME_LABEL, format_value
from .panels import CURRENT_PARTS, annotate_divergence, draw_currents, theory_name
from .style import (DIVERGED_COLOR, POPULATION_COLORS, SOURCE_COLORS, THEORY_STYLE, common_limits,
                    figure_legend, letter_panels, new_figure, no_data, styled)

SOURCE_PARTS = {source: (source,) for source in SOURCES}
"""Curves of the input panels: each source (E, I, X) and the total, one curve each."""


def time_averaged_input(runs: xr.Dataset, key: dict, population: str = "E") -> dict[str, float]:
    """|time average| of the mean input to ``population`` per part, averaged over seeds.

    Each run is averaged over all its finite record bins (up to the stop of a
    diverged run); the seed mean of those averages is taken, then its magnitude.

    Returns
    -------
    dict
        Part of :data:`CURRENT_PARTS` → magnitude (mV/ms); empty if a source is missing.
    """
    out = {}
    for name, sources in CURRENT_PARTS.items():
        per_seed = None
        for source in sources:
            da = at_point(runs, "mean_input", key, population=population, source=source)
            if da is None:
                return {}
            values = np.nanmean(by_seed(da, "time"), axis=1)
            per_seed = values if per_seed is None else per_seed + values
        out[name] = abs(seed_statistics(per_seed)[0])
    return out


@styled
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
        neurons from E, I, X and their total (gids ``input-E`` …), and the E and I
        rates (``rate-E``, ``rate-I``) with theory dashed (``theory-rate-E`` …); per
        c one column; a last column of bars, per c, of the time-averaged magnitudes
        |E+X|, |I| and |total| (gids ``bar|c=…|E+X`` …) showing that the total is small
        compared with its parts. Diverged runs are marked on every panel.
    """
    runs = ensure_swept(runs)
    rows = facets(runs, skip=("c", "seed"))
    c_values = coord_values(runs, "c")
    n_cols = len(c_values) + 1
    fig = new_figure(2.6 * n_cols + 0.5, 3.8 * len(rows) + 0.9)
    grid = fig.add_gridspec(2 * len(rows), n_cols)
    ordered = []
    for r, row in enumerate(rows):
        inputs, rates = [], []
        for j, c in enumerate(c_values):
            key = {**row, "c": c}
            ax_input = fig.add_subplot(grid[2 * r, j])
            ax_rate = fig.add_subplot(grid[2 * r + 1, j], sharex=ax_input)
            ax_input.set_gid(facet_gid(key) + ";input")
            ax_rate.set_gid(facet_gid(key) + ";rate")
            ax_input.set_title(f"{facet_label(row)}, c = {format_value(c)}")
            ordered += [ax_input, ax_rate]
            if draw_currents(ax_input, runs, key, parts=SOURCE_PARTS, total_linewidth=1.4,
                             ylabel="Input to E (mV/ms)"):
                _draw_rates(ax_rate, runs, theory, key)
                inputs.append(ax_input)
                rates.append(ax_rate)
            else:
                no_data(ax_rate)
        common_limits(inputs, "y")
        common_limits(rates, "y")
        ordered.append(fig.add_subplot(grid[2 * r:2 * r + 2, -1]))
        _draw_balance_bars(ordered[-1], runs, row, c_values)
    letter_panels(ordered)
    fig.suptitle("Balance: mean input currents to E neurons and population rates")
    figure_legend(fig)
    return fig


def _draw_rates(ax, runs, theory, key):
    for population in POPULATION_COLORS:         # E, I
        da = at_point(runs, "population_rate", key, population=population)
        if da is None:
            continue
        mean, _, _ = running_mean(by_seed(da, "time"))
        ok = np.isfinite(mean)
        ax.plot(da["time"].values[ok], mean[ok], color=POPULATION_COLORS[population],
                linewidth=1.0, label=population, gid=f"rate-{population}")
        for name in ("fixed_point_rate", "balanced_rate"):
            rate = theory_at(theory, name, key, population=population)
            if rate is not None and np.isfinite(float(rate)):
                ax.axhline(float(rate), color=POPULATION_COLORS[population],
                           label=f"{population} rate, {theory_name(theory)} (dashed)",
                           gid=f"theory-rate-{population}", **THEORY_STYLE)
                break
    ax.set_ylabel("Rate (Hz)")
    ax.set_xlabel(TIME_LABEL)
    annotate_divergence(ax, *divergence(runs, key))


def _draw_balance_bars(ax, runs, row, c_values):
    ax.set_gid(facet_gid(row) + ";balance-bars")
    ax.set_title(f"{facet_label(row)}:\n|time-averaged input|")
    width = 0.8 / len(CURRENT_PARTS)
    drawn = False
    diverged_c = []
    for i, c in enumerate(c_values):
        key = {**row, "c": c}
        magnitudes = time_averaged_input(runs, key)
        if not magnitudes or not np.isfinite(list(magnitudes.values())).any():
            continue
        _, flags, _ = divergence(runs, key)
        for k, part in enumerate(CURRENT_PARTS):
            x = i + (k - (len(CURRENT_PARTS) - 1) / 2) * width
            ax.bar(x, magnitudes[part], width=width, color=SOURCE_COLORS[part],
                   hatch="///" if flags.any() else None, edgecolor="white", linewidth=0.3,
                   label=f"|{part}|" if not drawn else "_nolegend_",
                   gid=f"bar|c={format_value(c)}|{part}")
        drawn = True
        largest_part = max(magnitudes["E+X"], magnitudes["I"])
        ratio = magnitudes["total"] / largest_part if largest_part > 0 else math.nan
        ax.annotate(f"{ratio:.2f}", (i + width, magnitudes["total"]), xytext=(0, 2),
                    textcoords="offset points", ha="center", va="bottom", fontsize=6,
                    gid="bar-ratio")
        if flags.any():
            diverged_c.append(c)
    if not drawn:
        no_data(ax)
        return
    ax.set_xticks(range(len(c_values)), [f"c = {format_value(c)}"
                                         + ("\n(diverged)" if c in diverged_c else "")
                                         for c in c_values])
    for label, c in zip(ax.get_xticklabels(), c_values):
        if c in diverged_c:
            label.set_color(DIVERGED_COLOR)
    ax.set_ylabel("|Mean input to E| (mV/ms)")
    ax.text(0.98, 0.98, "number above |total|:\n|total| / max(|E+X|, |I|)",
            transform=ax.transAxes, ha="right", va="top", fontsize=6)
    ax.set_ylim(top=ax.get_ylim()[1] * 1.15)
