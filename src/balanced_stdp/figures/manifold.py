"""Weight manifold: the EI iSTDP initial-condition sweep, final against initial j_ei
with the Δ-corrected theory (spec Fig 7 A, D, §6.6–6.7).

:func:`plot_weight_manifold` draws it per rule and c; the helpers here (trajectories
and final weights along the sweep, their panels) are shared with the paper's Fig 7 and
the Fig 8 candidate in :mod:`.istdp_manifold`.
"""

from __future__ import annotations

import matplotlib as mpl
import numpy as np
import seaborn as sns
import xarray as xr
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..contract import dimension_name
from ..estimators import final_values, running_mean, seed_statistics
from ..selection import at_point, by_seed, divergence, ensure_swept, theory_at
from .facets import coord_values, facet_gid, facet_label, facets
from .labels import SYNAPSE_AXIS_LABELS, TIME_LABEL
from .panels import divergence_text, plot_finite_size, seed_count_label, theory_name
from .style import (DIVERGED_COLOR, FINITE_SIZE_STYLE, SYNAPSE_COLORS, THEORY_STYLE,
                    letter_panels, new_figure, no_data, styled)

INITIAL_WEIGHT = dimension_name("weights.ei")
"""The swept dimension of the sweep: the initial j_ei (mV)."""

INITIAL_LABEL = "Initial inh weight $j_{ei}(0)$ (mV)"
LEADING_ORDER_J_EI = -119.658
"""Leading-order iSTDP fixed point j*_0 (spec §9), used when the theory lacks it."""


# ----------------------------------------------------------------------------- analysis
def sweep_trajectories(runs: xr.Dataset, row: dict) -> dict:
    """Per initial j_ei at facet ``row``: seed-mean trajectory and final statistics.

    Returns
    -------
    dict
        ``initial`` (array), ``time`` (array), ``mean`` (initial × time seed means),
        ``final_mean``, ``final_sd``, ``final_count`` (per initial; diverged runs left
        out) and ``diverged`` (list of (initial, seed, stop time)).
    """
    initial = np.asarray(coord_values(runs, INITIAL_WEIGHT), dtype=float)
    time_s = runs["time"].values.astype(float)
    mean = np.full((initial.size, time_s.size), np.nan)
    final_mean, final_sd = np.full(initial.size, np.nan), np.full(initial.size, np.nan)
    final_count = np.zeros(initial.size, dtype=int)
    diverged = []
    for k, value in enumerate(initial):
        key = {**row, INITIAL_WEIGHT: value}
        seeds, flags, times = divergence(runs, key)
        diverged += [(value, s, t) for s, f, t in zip(seeds, flags, times) if f]
        da = at_point(runs, "mean_weight", key, synapse="ei")
        if da is None or not np.isfinite(da.values).any():
            continue
        values = by_seed(da, "time")
        mean[k] = running_mean(values)[0]
        final_mean[k], final_sd[k], final_count[k] = seed_statistics(
            final_values(values, flags))
    return {"initial": initial, "time": time_s, "mean": mean, "final_mean": final_mean,
            "final_sd": final_sd, "final_count": final_count, "diverged": diverged}


def theory_along_sweep(theory, name: str, row: dict, **extra) -> tuple[np.ndarray, np.ndarray]:
    """(initial j_ei, value) of a theory variable along the sweep (finite values only)."""
    da = theory_at(theory, name, row, keep=(INITIAL_WEIGHT,), **extra)
    if da is None or INITIAL_WEIGHT not in da.dims:
        return np.array([]), np.array([])
    x, y = da[INITIAL_WEIGHT].values.astype(float), da.values.astype(float)
    return x[np.isfinite(y)], y[np.isfinite(y)]


def scalar_theory(theory, name: str, row: dict, default: float, **extra) -> float:
    da = theory_at(theory, name, row, **extra)
    return float(da) if da is not None and np.isfinite(float(da)) else default


# ----------------------------------------------------------------------------- panels
def initial_colors(initial: np.ndarray):
    """Colour of each initial j_ei (crest palette) and its mappable for a colour bar."""
    palette = sns.color_palette("crest", as_cmap=True)
    norm = mpl.colors.Normalize(vmin=initial.min(), vmax=initial.max() + (np.ptp(initial) == 0))
    return (lambda value: palette(norm(value))), mpl.cm.ScalarMappable(norm=norm, cmap=palette)


def draw_trajectories(ax, sweep, theory, row, color_of, ode: bool = False,
                      finite_size=None) -> list[tuple]:
    """Seed-mean j_ei(t) per initial value (solid, coloured by it) and, with ``ode``, the
    theory's ODE (dashed) and the finite-size trajectory (dash-dot) of each; a legend
    of the line styles, which also names the initial values whose ODE has no finite
    value (the theory lost the balanced state from the start). Returns those (initial
    value, time the theory lost balance) pairs."""
    missing = []
    fs_drawn = False
    for value, trace in zip(sweep["initial"], sweep["mean"]):
        ok = np.isfinite(trace)
        if not ok.any():
            continue
        ax.plot(sweep["time"][ok], trace[ok], color=color_of(value), linewidth=0.9,
                gid=f"manifold-trace|{INITIAL_WEIGHT}={value:g}")
        if ode:
            point = {**row, INITIAL_WEIGHT: value}
            trajectory = theory_at(theory, "mean_weight", point, synapse="ei")
            if trajectory is not None:
                ax.plot(trajectory["time"].values, trajectory.values, color=color_of(value),
                        alpha=0.8, gid=f"manifold-ode|{INITIAL_WEIGHT}={value:g}",
                        **{**THEORY_STYLE, "linewidth": 0.7})
            else:
                lost = theory_at(theory, "balance_lost_at_s", point)
                missing.append((float(value), None if lost is None else float(lost)))
            fs_drawn |= plot_finite_size(
                ax, finite_size, "mean_weight", point, synapse="ei",
                gid=f"manifold-finite-size|{INITIAL_WEIGHT}={value:g}",
                style={"color": color_of(value), "linewidth": 0.8}) is not None
    ax.set_xlabel(TIME_LABEL)
    ax.set_ylabel(SYNAPSE_AXIS_LABELS["ei"])
    if ode:
        handles = [Line2D([], [], color="0.3", linewidth=0.9, label="simulation (seed mean)"),
                   Line2D([], [], color="0.3", label=f"{theory_name(theory)} ODE",
                          **{**THEORY_STYLE, "linewidth": 0.7})]
        if fs_drawn:
            handles.append(Line2D([], [], color="0.3", linewidth=0.8,
                                  linestyle=FINITE_SIZE_STYLE["linestyle"],
                                  label="finite-size theory"))
        if missing:                     # said in the legend, where it cannot hide data
            lost = [v for v, at in missing if at is not None and np.isfinite(at)]
            handles.append(Line2D([], [], linestyle="none", gid="missing-ode",
                                  label="no ODE from $j_{ei}(0)$ = "
                                  + ", ".join(f"{v:g}" for v, _ in missing) + " mV"
                                  + (":\nthe theory has no balanced state there"
                                     if len(lost) == len(missing) else "")))
        ax.legend(handles=handles, loc="best", fontsize=6)
    return missing


def draw_final_vs_initial(ax, theory, row, sweep, color=SYNAPSE_COLORS["ei"], label="",
                           manifold: bool = False, reference: bool = True) -> None:
    """Final vs initial j_ei (markers), Δ-corrected theory (dashed) and, with
    ``manifold``, the manifold relation and the leading-order j*_0."""
    initial, finals_mean, finals_sd = sweep["initial"], sweep["final_mean"], sweep["final_sd"]
    suffix = f" {label}" if label else ""
    if reference:
        ax.plot(initial, initial, color="0.8", linewidth=0.8, label="final = initial", zorder=0,
                gid="reference|identity")
    if np.isfinite(finals_mean).any():
        counts = sweep.get("final_count", np.full(initial.size, 2))
        container = ax.errorbar(initial, finals_mean,
                                yerr=np.where(np.isfinite(finals_sd), finals_sd, 0.0),
                                fmt="o", color=color, markersize=3.5, capsize=2,
                                label=seed_count_label(f"simulation at T{suffix}", counts))
        container.lines[0].set_gid(f"manifold-final{suffix.replace(' ', '|')}")
    x, y = theory_along_sweep(theory, "fixed_point_weight", row, synapse="ei")
    if x.size:
        ax.plot(x, y, color=color if label else "black",
                label=f"{theory_name(theory)}{suffix}",
                gid=f"manifold-theory{suffix.replace(' ', '|')}", **THEORY_STYLE)
    if manifold:
        x, y = theory_along_sweep(theory, "manifold_weight", row, synapse="ei")
        if x.size:
            ax.plot(x, y, color="#7f3b08", marker="x", markersize=4, linestyle=":",
                    linewidth=1.0, gid="manifold-relation",
                    label=r"manifold relation $j^*_0 - \mathrm{Cov}(j_{ei}, r_i)/r_i^*$")
        j0 = scalar_theory(theory, "leading_order_fixed_point_weight", row, LEADING_ORDER_J_EI,
                            synapse="ei")
        ax.axhline(j0, color="0.45", linewidth=0.7, gid="leading-order",
                   label=f"leading order $j^*_0$ = {j0:.2f} mV")
    for value, _, _ in sweep["diverged"]:
        ax.axvline(value, color=DIVERGED_COLOR, linestyle=":", linewidth=0.8, gid="diverged-at")
    if sweep["diverged"]:               # bottom right: the legends sit top left
        ax.text(0.98, 0.02, "\n".join(f"initial {v:g} mV, {divergence_text(s, t)}"
                                      for v, s, t in sweep["diverged"]),
                transform=ax.transAxes, ha="right", va="bottom", fontsize=6,
                color=DIVERGED_COLOR, gid="diverged-text")
    ax.set_xlabel(INITIAL_LABEL)
    ax.set_ylabel("Final inh weight $j_{ei}$ (mV)")


def checked_sweep(runs: xr.Dataset, function: str) -> xr.Dataset:
    runs = ensure_swept(runs)
    if INITIAL_WEIGHT not in runs.dims:
        raise ValueError(f"{function} needs runs with a '{INITIAL_WEIGHT}' dimension "
                         "(sweep_dims: ['weights.ei'])")
    return runs


@styled
def plot_weight_manifold(runs: xr.Dataset, theory: xr.Dataset | None) -> Figure:
    """EI iSTDP initial-condition sweep per rule and c (spec Fig 7 A, D).

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
    runs = checked_sweep(runs, "plot_weight_manifold")
    rows = facets(runs, skip=("seed", INITIAL_WEIGHT))
    color_of, mappable = initial_colors(np.asarray(coord_values(runs, INITIAL_WEIGHT), float))
    fig = new_figure(8.0, 3.0 * len(rows) + 0.4)
    axes = fig.subplots(len(rows), 2, squeeze=False, width_ratios=[1.3, 1.0])
    for (ax_time, ax_final), row in zip(axes, rows):
        ax_time.set_gid(facet_gid(row) + ";trajectories")
        ax_final.set_gid(facet_gid(row) + ";final-vs-initial")
        ax_time.set_title(f"{facet_label(row)}: mean $j_{{ei}}$(t)")
        ax_final.set_title("final vs initial $j_{ei}$")
        sweep = sweep_trajectories(runs, row)
        if not np.isfinite(sweep["final_mean"]).any() and not sweep["diverged"]:
            no_data(ax_time)
            no_data(ax_final)
            continue
        draw_trajectories(ax_time, sweep, theory, row, color_of)
        fig.colorbar(mappable, ax=ax_time, label="initial $j_{ei}$ (mV)", aspect=30, pad=0.02)
        draw_final_vs_initial(ax_final, theory, row, sweep)
        ax_final.legend(loc="best", fontsize=6)
    letter_panels(axes.ravel())
    fig.suptitle("EI iSTDP: weights converge to an initial-condition-dependent manifold")
    return fig
