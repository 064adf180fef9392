"""Weight manifold: the EI iSTDP initial-condition sweep, final against initial j_ei
with the Δ-corrected theory (spec Fig 7 A, D)."""

from __future__ import annotations

import matplotlib as mpl
import numpy as np
import seaborn as sns
import xarray as xr
from matplotlib.figure import Figure

from ..aggregate import final_values, running_mean, seed_statistics
from ..contract import dimension_name
from .captions import with_parameters
from .common import (by_seed, coord_values, divergence, divergence_text, ensure_swept,
                     facet_gid, facet_label, facets, select, theory_at)
from .style import (DIVERGED_COLOR, SYNAPSE_AXIS_LABELS, SYNAPSE_COLORS, THEORY_STYLE,
                    TIME_LABEL, new_figure, no_data, styled)

INITIAL_WEIGHT = dimension_name("weights.ei")
"""The swept dimension of the sweep: the initial j_ei (mV)."""

CAPTION = (
    "EI iSTDP initial-condition sweep (spec Fig 7 A, D). A: mean I→E weight j_ei over time "
    "for every initial value (colour). D: final against initial j_ei, mean ± s.d. over "
    "seeds (points), and the Δ-corrected fixed point of each initial condition (dashed, "
    "spec §6.6–6.7); thin grey, final = initial. Final weights that depend on the initial "
    "weight show the manifold of fixed points.")


def caption(runs: xr.Dataset | None) -> str:
    """Caption of :func:`plot_weight_manifold`, with the parameters of ``runs``."""
    return with_parameters(CAPTION, runs)


@styled
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
    runs = ensure_swept(runs)
    if INITIAL_WEIGHT not in runs.dims:
        raise ValueError(f"plot_weight_manifold needs runs with a '{INITIAL_WEIGHT}' dimension "
                         "(sweep_dims: ['weights.ei'])")
    rows = facets(runs, skip=("seed", INITIAL_WEIGHT))
    initial = np.asarray(coord_values(runs, INITIAL_WEIGHT), dtype=float)
    palette = sns.color_palette("crest", as_cmap=True)
    norm = mpl.colors.Normalize(vmin=initial.min(), vmax=initial.max() + (np.ptp(initial) == 0))
    fig = new_figure(8.0, 3.0 * len(rows) + 0.4)
    axes = fig.subplots(len(rows), 2, squeeze=False, width_ratios=[1.3, 1.0])
    for r, row in enumerate(rows):
        ax_time, ax_final = axes[r]
        ax_time.set_gid(facet_gid(row) + ";trajectories")
        ax_final.set_gid(facet_gid(row) + ";final-vs-initial")
        ax_time.set_title(f"A  {facet_label(row)}: mean $j_{{ei}}$(t)", loc="left")
        ax_final.set_title("D  final vs initial $j_{ei}$", loc="left")
        finals_mean, finals_sd, diverged = [], [], []
        for value in initial:
            key = {**row, INITIAL_WEIGHT: value}
            da = select(runs, "mean_weight", key, synapse="ei")
            seeds, flags, times = divergence(runs, key)
            diverged += [(value, s, t) for s, f, t in zip(seeds, flags, times) if f]
            if da is None or not np.isfinite(da.values).any():
                finals_mean.append(np.nan)
                finals_sd.append(np.nan)
                continue
            values = by_seed(da, "time")
            mean, _, _ = running_mean(values)
            ok = np.isfinite(mean)
            ax_time.plot(da["time"].values[ok], mean[ok], color=palette(norm(value)),
                         linewidth=0.9, gid=f"manifold-trace|{INITIAL_WEIGHT}={value:g}")
            m, s, _ = seed_statistics(final_values(values, flags))
            finals_mean.append(m)
            finals_sd.append(s)
        finals_mean, finals_sd = np.asarray(finals_mean), np.asarray(finals_sd)
        if not np.isfinite(finals_mean).any() and not diverged:
            no_data(ax_time)
            no_data(ax_final)
            continue
        mappable = mpl.cm.ScalarMappable(norm=norm, cmap=palette)
        fig.colorbar(mappable, ax=ax_time, label="initial $j_{ei}$ (mV)", aspect=30, pad=0.02)
        ax_time.set_xlabel(TIME_LABEL)
        ax_time.set_ylabel(SYNAPSE_AXIS_LABELS["ei"])
        _draw_final_vs_initial(ax_final, theory, row, initial, finals_mean, finals_sd, diverged)
    fig.suptitle("EI iSTDP: weights converge to an initial-condition-dependent manifold")
    return fig


def _draw_final_vs_initial(ax, theory, row, initial, finals_mean, finals_sd, diverged):
    ax.plot(initial, initial, color="0.8", linewidth=0.8, label="final = initial", zorder=0)
    if np.isfinite(finals_mean).any():
        container = ax.errorbar(initial, finals_mean,
                                yerr=np.where(np.isfinite(finals_sd), finals_sd, 0.0),
                                fmt="o", color=SYNAPSE_COLORS["ei"], markersize=3.5,
                                capsize=2, label="simulation (mean ± s.d.)")
        container.lines[0].set_gid("manifold-final")
    fixed = theory_at(theory, "fixed_point_weight", row, keep=(INITIAL_WEIGHT,), synapse="ei")
    if fixed is not None and INITIAL_WEIGHT in fixed.dims:
        x = fixed[INITIAL_WEIGHT].values.astype(float)
        y = fixed.values
        ok = np.isfinite(y)
        ax.plot(x[ok], y[ok], color="black", label="Δ-corrected theory",
                gid="manifold-theory", **THEORY_STYLE)
    if diverged:
        for value, _, _ in diverged:
            ax.axvline(value, color=DIVERGED_COLOR, linestyle=":", linewidth=0.8)
        ax.text(0.02, 0.98, "\n".join(f"initial {v:g} mV, {divergence_text(s, t)}"
                                      for v, s, t in diverged),
                transform=ax.transAxes, ha="left", va="top", fontsize=6,
                color=DIVERGED_COLOR, gid="diverged-text")
    ax.set_xlabel("Initial inh weight $j_{ei}(0)$ (mV)")
    ax.set_ylabel("Final inh weight $j_{ei}$ (mV)")
    ax.legend(loc="best", fontsize=6)
