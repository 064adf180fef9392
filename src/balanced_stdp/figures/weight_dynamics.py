"""Weight dynamics: mean weight over time per rule and c against the mean-field
theory, and the final mean weight against c (spec Figs 2, 3 B, 11)."""

from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from ..contract import SYNAPSE_TYPES
from ..estimators import final_values, seed_statistics
from ..selection import at_point, by_seed, divergence, ensure_swept, rule_synapses, theory_at
from .convergence import weight_convergence
from .facets import coord_values, facet_gid, facet_label, facets
from .labels import final_label, format_value
from .panels import (DELTA_NOTE, divergence_text, draw_weight_traces, finite_size_note,
                     is_delta_corrected, plot_finite_size, seed_count_label, state_convergence,
                     theories_drawn, theory_name, TraceStyle)
from .style import (DIVERGED_COLOR, FINITE_SIZE_FIXED_POINT, SYNAPSE_COLORS, THEORY_STYLE,
                    common_limits, figure_legend, letter_panels, new_figure, no_data, styled)

TRACES = TraceStyle(n_traces=5, linewidth=0.5, alpha=0.55, label="sampled synapses",
                    mean_label="simulation (seed mean)", sd_band=True,
                    ode_style=tuple(THEORY_STYLE.items()), ode_label="mean-field ODE ({theory})",
                    fixed_point_label="fixed point ({theory}, grey dotted)",
                    stable_fixed_point_only=False,
                    finite_size_label="finite-size theory (dash-dot)",
                    finite_size_fixed_point_label="finite-size fixed point (dotted)")
"""Per panel: five sampled synapses (first running seed), the seed mean with its ±1 s.d.
band, the ODE in the synapse colour and the theory's fixed point, stable or not."""


@styled
def plot_weight_dynamics(runs: xr.Dataset, theory: xr.Dataset | None, synapse: str,
                         finite_size: xr.Dataset | None = None) -> Figure:
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
    finite_size : xarray.Dataset or None
        Finite-size theory aggregate: its trajectory and fixed point (``finite-size-
        mean_weight``, ``finite-size-fixed-point``) and fixed point vs c
        (``finite-size-vs-c``) are drawn dash-dot when given.

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
    runs = ensure_swept(runs)
    rows = facets(runs, skip=("c", "seed"))
    # Rows of rules under which this synapse type is not plastic show flat lines only.
    rows = [row for row in rows if synapse in rule_synapses(runs, row["rule"])] or rows
    c_values = coord_values(runs, "c")
    color = SYNAPSE_COLORS[synapse]
    n_cols = len(c_values) + 1
    fig = new_figure(2.6 * n_cols + 0.5, 2.3 * len(rows) + 0.9)
    axes = fig.subplots(len(rows), n_cols, squeeze=False)
    for r, row in enumerate(rows):
        drawn = []
        for j, c in enumerate(c_values):
            ax = axes[r, j]
            key = {**row, "c": c}
            ax.set_gid(facet_gid(key))
            ax.set_title(f"{facet_label(row)}, c = {format_value(c)}")
            if draw_weight_traces(ax, runs, theory, key, synapse, TRACES,
                                  finite_size=finite_size):
                drawn.append(ax)
                verdict = weight_convergence(runs, finite_size, key, synapse)
                state_convergence(ax, verdict)
        common_limits(drawn, "y")
        _draw_final_vs_c(axes[r, -1], runs, theory, row, c_values, synapse, color, finite_size)
    letter_panels(axes.ravel())
    title = (f"Mean {synapse.upper()} weight: simulation vs "
             f"{theories_drawn(theory, finite_size)}")
    if is_delta_corrected(theory):
        title += f"\n{DELTA_NOTE}"
    note = finite_size_note(finite_size)
    if note:
        title += f"\n({note})"
    fig.suptitle(title)
    figure_legend(fig, max_columns=min(4, n_cols))
    return fig


def _draw_final_vs_c(ax, runs, theory, row, c_values, synapse, color, finite_size=None):
    ax.set_gid(facet_gid(row) + ";final-vs-c")
    ax.set_title(f"{facet_label(row)}: final weight")
    means, sds, excluded, counts, verdicts = [], [], [], [], []
    for c in c_values:
        key = {**row, "c": c}
        mean_weight = at_point(runs, "mean_weight", key, synapse=synapse)
        seeds, flags, times = divergence(runs, key)
        if mean_weight is None:
            means.append(np.nan)
            sds.append(np.nan)
            continue
        mean, sd, count = seed_statistics(final_values(by_seed(mean_weight, "time"), flags))
        means.append(mean)
        sds.append(sd)
        counts.append(count)
        verdicts.append(weight_convergence(runs, finite_size, key, synapse))
        excluded += [f"c = {format_value(c)}, {divergence_text(s, t)}"
                     for s, f, t in zip(seeds, flags, times) if f]
    c_array = np.asarray(c_values, dtype=float)
    means, sds = np.asarray(means), np.asarray(sds)
    if np.isfinite(means).any():
        container = ax.errorbar(c_array, means, yerr=np.where(np.isfinite(sds), sds, 0.0),
                                fmt="o", color="black", markersize=4, capsize=3,
                                label=seed_count_label("simulation at T", counts))
        container.lines[0].set_gid("final-mean")
        for collection in container.lines[2]:
            collection.set_gid("final-sd")
    fixed = theory_at(theory, "fixed_point_weight", row, keep=("c",), synapse=synapse)
    if fixed is not None and "c" in fixed.dims:
        fixed = fixed.reindex(c=c_array)          # NaN where the theory lacks a c value
        finite = np.isfinite(fixed.values)
        ax.plot(c_array[finite], fixed.values[finite], color=color, marker="D", markersize=3,
                markerfacecolor="white",
                label=f"{theory_name(theory)}: j* vs c", gid="theory-vs-c",
                **THEORY_STYLE)
    finite_fixed = plot_finite_size(ax, finite_size, "fixed_point_weight", row, along="c",
                                    at=c_array, synapse=synapse, gid="finite-size-vs-c",
                                    label="finite-size theory: j* vs c (dotted)",
                                    style=FINITE_SIZE_FIXED_POINT)
    plot_finite_size(ax, finite_size, "mean_weight", row, along="c", at=c_array, at_end=True,
                     synapse=synapse, gid="finite-size-at-T-vs-c",
                     label="finite-size theory at T vs c (dash-dot)")
    if verdicts:
        state_convergence(ax, verdicts)
    if excluded:
        ax.text(0.02, 0.98, "excluded (diverged):\n" + "\n".join(excluded),
                transform=ax.transAxes, ha="left", va="top", fontsize=6, color=DIVERGED_COLOR,
                gid="diverged-text")
    if not np.isfinite(means).any() and fixed is None and finite_fixed is None \
            and not excluded:
        no_data(ax)
        return
    ax.set_xlabel("Input correlation c")
    ax.set_ylabel(final_label(synapse))
    if len(c_array) == 1:
        ax.set_xlim(c_array[0] - 0.1, c_array[0] + 0.1)
