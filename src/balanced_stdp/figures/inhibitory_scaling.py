"""Inhibitory plasticity vs network size (figure ``figS2_inhibitory_scaling``, spec §7
#14, #15): final mean weights, rates and mean spike-count covariances against N for EI
iSTDP with correlated input (c = 0.1) and for EI + II iSTDP with independent input
(c = 0), with the mean-field theory.

Theory drawn: the leading-order fixed point along N (the theory curve ``fixed_points:N``
of :mod:`balanced_stdp.theory.curves`; it does not depend on N), the covariances
of spec §6.2 at its rates (O(1) for c > 0, ∝ 1/N for c = 0), and — for experiments
predicted with the Δ correction (spec §6.6) — the Δ-corrected fixed point of each run.
"""

from __future__ import annotations

import matplotlib.ticker as mticker
import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from ..estimators import final_values, seed_statistics
from ..selection import at_point, by_seed, divergence, ensure_swept, rule_synapses
from .convergence import weight_convergence
from .labels import final_label
from .panels import (divergence_text, finite_size_note, plot_finite_size, seed_count_label,
                     state_convergence, theories_drawn)
from .style import (DIVERGED_COLOR, POPULATION_COLORS, SYNAPSE_COLORS, THEORY_STYLE, figure_legend,
                    letter_panels, new_figure, no_data, panel_legend, styled)

PAIR_TYPES = ("ee", "ei", "ii")
CURVES = {"fixed_point_weight": "fixed_point_weight_along",
          "fixed_point_rate": "fixed_point_rate_along",
          "spike_count_cov": "fixed_point_count_cov_along"}
"""Theory drawn at each simulated N → its curve dense in N (``fixed_points:N``)."""

DELTA_STYLE = {"linestyle": "--", "linewidth": 1.0, "marker": "D", "markersize": 4,
               "markerfacecolor": "white"}
"""Δ-corrected theory: one open diamond per simulated N, dashed."""


def sizes(runs: xr.Dataset) -> np.ndarray:
    """Simulated network sizes N, sorted."""
    return np.sort(np.asarray(runs["N"].values, dtype=int))


def simulated(runs: xr.Dataset, name: str, n_values, **extra) -> tuple[np.ndarray, np.ndarray]:
    """Mean and s.d. over seeds per N of a run statistic.

    ``mean_weight`` takes each run's last snapshot, ``population_rate`` its mean over
    the analysis window (T/2, T], anything else (``spike_count_cov``) its value.
    Diverged runs are left out.
    """
    means, sds = [], []
    for n in n_values:
        key = {"N": n, "rule": runs["rule"].values[0], "c": runs["c"].values[0]}
        da = at_point(runs, name, key, **extra)
        _, flags, _ = divergence(runs, key)
        if da is None:
            means.append(np.nan)
            sds.append(np.nan)
            continue
        if name == "mean_weight":
            values = final_values(by_seed(da, "time"), flags)
        elif name == "population_rate":
            half = float(da["time"].max()) / 2
            values = np.nanmean(by_seed(da.sel(time=da["time"] > half), "time"), axis=1)
            values[flags] = np.nan
        else:
            values = by_seed(da).reshape(-1)
            values[flags] = np.nan
        mean, sd, _ = seed_statistics(values)
        means.append(mean)
        sds.append(sd)
    return np.array(means), np.array(sds)


@styled
def plot_inhibitory_scaling(istdp, ei_ii) -> Figure:
    """Final weights, rates and count covariances vs N, with the theory.

    Parameters
    ----------
    istdp, ei_ii : ExperimentData
        Runs and theory of the EI iSTDP (c = 0.1) and EI + II iSTDP (c = 0) sweeps over
        ``N`` (:class:`~balanced_stdp.selection.ExperimentData`).

    Returns
    -------
    matplotlib.figure.Figure
        One row per role (axes gids ``<role>;weight``, ``;rate``, ``;cov``): simulation
        points ``sim-weight|ei``, ``sim-rate|E``, ``sim-cov|ee`` (errorbar lines), the
        leading-order theory ``theory-weight|ei``, ``theory-rate|E``, ``theory-cov|ee``
        (dashed, dense in N), and the Δ-corrected theory ``delta-weight|ei``,
        ``delta-rate|E``, ``delta-cov|ee`` where the theory aggregate is Δ-corrected.
    """
    fig = new_figure(10.5, 7.4)
    axes = fig.subplots(2, 3, squeeze=False)
    titles = {"istdp": "EI iSTDP, c = 0.1", "ei_ii": "EI + II iSTDP, c = 0"}
    notes = []
    for row, (role, data) in enumerate((("istdp", istdp), ("ei_ii", ei_ii))):
        for ax, kind in zip(axes[row], ("weight", "rate", "cov")):
            ax.set_gid(f"{role};{kind}")
            ax.set_xscale("log")
            ax.set_xlabel("Network size N")
        if data is None or data.runs is None:
            for ax in axes[row]:
                no_data(ax)
            continue
        runs = ensure_swept(data.runs)
        if "N" not in runs.dims:
            raise ValueError(f"plot_inhibitory_scaling: the '{role}' runs must sweep N")
        _draw_row(axes[row], runs, data.theory, titles[role], data.finite_size)
        note = finite_size_note(data.finite_size)
        notes.append(f"{titles[role]}: {theories_drawn(data.theory, data.finite_size)}"
                     + (f" — {note}" if note else ""))
    for ax in axes.ravel():             # the simulated series of each panel
        panel_legend(ax, select=lambda label: "simulation" in label, fontsize=6)
    letter_panels(axes.ravel())
    fig.suptitle("Inhibitory plasticity vs network size — theory:\n" + "\n".join(notes),
                 fontsize=8.5)
    figure_legend(fig, max_columns=4, axes=axes.ravel(),
                  select=lambda label: "simulation" not in label)
    return fig


def _draw_row(axes, runs, theory, title, finite_size=None) -> None:
    ax_weight, ax_rate, ax_cov = axes
    n = sizes(runs)
    delta_corrected = theory is not None and "leading_order_fixed_point_weight" in theory
    synapses = rule_synapses(runs, str(runs["rule"].values[0]))
    base = {"rule": runs["rule"].values[0], "c": runs["c"].values[0]}
    verdicts = []
    for synapse in synapses:
        _series(ax_weight, runs, theory, n, "mean_weight", "fixed_point_weight",
                {"synapse": synapse}, SYNAPSE_COLORS[synapse], f"weight|{synapse}",
                f"$j_{{{synapse}}}$", delta_corrected, finite_size)
        verdicts += [weight_convergence(runs, finite_size, {**base, "N": size}, synapse)
                     for size in n]
    for population, color in POPULATION_COLORS.items():
        _series(ax_rate, runs, theory, n, "population_rate", "fixed_point_rate",
                {"population": population}, color, f"rate|{population}",
                f"$r_{population.lower()}$", delta_corrected, finite_size)
    for pair in PAIR_TYPES:
        _series(ax_cov, runs, theory, n, "spike_count_cov", "spike_count_cov",
                {"pair_type": pair}, SYNAPSE_COLORS[pair], f"cov|{pair}", f"$C_{{{pair}}}$",
                delta_corrected, finite_size)
    if verdicts:
        state_convergence(ax_weight, verdicts)
    if float(runs["c"].values[0]) == 0:
        ax_cov.set_yscale("log")
    for ax in axes:                      # label the simulated sizes themselves
        ax.set_xticks(n, [str(size) for size in n])
        ax.xaxis.set_minor_locator(mticker.NullLocator())
    ax_weight.set_ylabel(final_label(synapses[0]).replace(f"$j_{{{synapses[0]}}}$", "$j$")
                         if synapses else "Final weight (mV)")
    ax_rate.set_ylabel("Rate over (T/2, T] (Hz)")
    ax_cov.set_ylabel("Count covariance (spikes²)")
    ax_weight.set_title(f"{title}: final weights", loc="left")
    ax_rate.set_title("rates", loc="left")
    ax_cov.set_title("spike-count covariances", loc="left")
    diverged = [f"N = {size}, {divergence_text(s, t)}" for size in n
                for s, f, t in zip(*divergence(runs, {"N": size, "rule": runs["rule"].values[0],
                                                      "c": runs["c"].values[0]})) if f]
    if diverged:
        for ax in axes:
            ax.text(0.02, 0.98, "excluded (diverged):\n" + "\n".join(diverged),
                    transform=ax.transAxes, ha="left", va="top", fontsize=6,
                    color=DIVERGED_COLOR, gid="diverged-text",
                    bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "alpha": 0.8,
                          "edgecolor": DIVERGED_COLOR, "linewidth": 0.5})


def _series(ax, runs, theory, n, run_name, theory_name, selector, color, gid, label,
            delta_corrected, finite_size=None) -> None:
    mean, sd = simulated(runs, run_name, n, **selector)
    if np.isfinite(mean).any():
        counts = [2 if np.isfinite(v) else 1 for v in sd[np.isfinite(mean)]]
        container = ax.errorbar(n, mean, yerr=np.nan_to_num(sd), fmt="o", color=color,
                                markersize=4, capsize=2,
                                label=seed_count_label(f"{label} simulation", counts))
        container.lines[0].set_gid(f"sim-{gid}")
    finite_name = {"mean_weight": "mean_weight", "population_rate": "population_rate"}.get(
        run_name, theory_name)
    plot_finite_size(ax, finite_size, finite_name, {}, along="N", at=n,
                     at_end=finite_name != theory_name, gid=f"finite-size-{gid}",
                     label="finite-size theory at T (dash-dot)",
                     style={"color": color}, **selector)
    if theory is not None and CURVES[theory_name] in theory.variables:
        curve = theory[CURVES[theory_name]].sel(selector)
        ax.plot(curve["along"].values, curve.values, color=color, gid=f"theory-{gid}",
                label="leading-order theory (dashed)", **THEORY_STYLE)
    if delta_corrected:
        values = [at_point(theory, theory_name, {"N": size}, **selector) for size in n]
        y = np.array([float(np.nanmean(v.values)) if v is not None else np.nan
                      for v in values])
        if np.isfinite(y).any():
            ax.plot(n, y, color=color, gid=f"delta-{gid}", label="Δ-corrected theory (◇)",
                    **DELTA_STYLE)
