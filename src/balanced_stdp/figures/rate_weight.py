"""Rate–weight correlation: final weights of sampled plastic synapses against their
presynaptic rates, with Pearson's r (spec §6.7; Kohonen and iSTDP)."""

from __future__ import annotations

import math

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from ..contract import rule_label
from ..estimators import final_values
from ..selection import at_point, by_seed, divergence, ensure_swept, rule_synapses, run_configs
from .facets import coord_values, facet_gid, facet_label, facets
from .labels import final_label, format_value
from .panels import annotate_divergence
from .style import (SYNAPSE_COLORS, THEORY_STYLE, figure_legend, letter_panels, new_figure,
                    no_data, styled)


def rate_weight_points(runs: xr.Dataset, key: dict, synapse: str) -> tuple[np.ndarray, np.ndarray]:
    """Pooled (presynaptic rate in Hz, final weight in mV) of the sampled synapses.

    The final weight is each synapse's last finite snapshot; diverged runs and
    pairs with a non-finite value are left out.
    """
    weights = at_point(runs, "sampled_weight", key, synapse=synapse)
    rates = at_point(runs, "sampled_pre_rate", key, synapse=synapse)
    if weights is None or rates is None:
        return np.empty(0), np.empty(0)
    _, flags, _ = divergence(runs, key)
    w = by_seed(weights, "sample", "time")
    final = final_values(w, np.broadcast_to(flags[:, None], w.shape[:2]))
    rate = by_seed(rates, "sample")
    finite = np.isfinite(final) & np.isfinite(rate)
    return rate[finite], final[finite]


def kohonen_slope(runs: xr.Dataset, rule: str, synapse: str) -> float | None:
    """β₀ τ (mV/Hz) of the Kohonen rule on ``synapse`` under the runs labelled ``rule``
    (spec §6.4: j*_jk ≈ β₀ τ r_k), from the stored run configs; None if not Kohonen."""
    for config in run_configs(runs):
        settings = config.get("plasticity", {}).get(synapse)
        if rule_label(config) == rule and settings and settings["rule"] == "kohonen":
            return settings["beta0"] * config["tau_stdp_ms"] * 1e-3
    return None


@styled
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
        points (text gid ``pearson-r``, "r = 0.83"), the binned means of the weight in
        rate quantiles (``rate-weight-binned``, a trend that stays where the weights are,
        unlike a straight line through inhibitory weights) and, for Kohonen synapses, the
        theory line j = β₀ τ r_pre (dashed, ``kohonen-theory``).
    """
    runs = ensure_swept(runs)
    rows = [(row, synapse) for row in facets(runs, skip=("c", "seed"))
            for synapse in rule_synapses(runs, row["rule"])]
    c_values = coord_values(runs, "c")
    fig = new_figure(2.7 * len(c_values) + 0.4, 2.6 * max(len(rows), 1) + 0.8)
    axes = fig.subplots(max(len(rows), 1), len(c_values), squeeze=False)
    if not rows:
        for ax in axes.ravel():
            no_data(ax, "no plastic synapses")
    for r, (row, synapse) in enumerate(rows):
        for j, c in enumerate(c_values):
            key = {**row, "c": c}
            ax = axes[r, j]
            ax.set_gid(facet_gid(key) + f";{synapse}")
            ax.set_title(f"{facet_label(row)} ({synapse.upper()}), c = {format_value(c)}")
            rate, weight = rate_weight_points(runs, key, synapse)
            seeds, flags, times = divergence(runs, key)
            if rate.size < 2:
                no_data(ax, "no final weights" if flags.any() else "no run")
                annotate_divergence(ax, seeds, flags, times, vlines=False)
                continue
            _draw_points(ax, rate, weight, synapse)
            slope = kohonen_slope(runs, row["rule"], synapse)
            if slope is not None:
                grid = np.array([0.0, rate.max()])
                ax.plot(grid, slope * grid, color="0.25", gid="kohonen-theory",
                        label=r"theory $j = \beta_0 \tau r_\mathrm{pre}$", **THEORY_STYLE)
            annotate_divergence(ax, seeds, flags, times, vlines=False)
            ax.set_xlabel(f"Presynaptic rate $r_{synapse[1]}$ (Hz)")
            ax.set_ylabel(final_label(synapse))
    letter_panels(axes.ravel())
    fig.suptitle("Rate–weight correlation of plastic synapses (weights at T)")
    figure_legend(fig, max_columns=3)
    return fig


BINS = 6
"""Rate quantile bins of the binned means."""


def binned_means(rate: np.ndarray, weight: np.ndarray, bins: int = BINS
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(mean rate, mean weight) in ``bins`` quantile bins of the rate (fewer when the
    rates repeat; empty bins dropped)."""
    edges = np.unique(np.quantile(rate, np.linspace(0.0, 1.0, bins + 1)))
    if edges.size < 2:
        return np.array([np.mean(rate)]), np.array([np.mean(weight)])
    index = np.clip(np.searchsorted(edges, rate, side="right") - 1, 0, edges.size - 2)
    used = np.unique(index)
    return (np.array([rate[index == k].mean() for k in used]),
            np.array([weight[index == k].mean() for k in used]))


def _draw_points(ax, rate, weight, synapse):
    ax.scatter(rate, weight, s=5, color=SYNAPSE_COLORS[synapse], alpha=0.5, linewidths=0,
               gid="rate-weight-points", label="sampled synapses")
    spread = np.ptp(rate) > 0
    r_value = float(np.corrcoef(rate, weight)[0, 1]) if spread and np.ptp(weight) > 0 \
        else math.nan
    if spread:
        x, y = binned_means(rate, weight)
        ax.plot(x, y, "o-", color="black", linewidth=1.0, markersize=3.5,
                gid="rate-weight-binned", label=f"mean weight in {BINS} rate bins")
    ax.text(0.97, 0.03, f"r = {r_value:.2f}\nn = {rate.size}", transform=ax.transAxes,
            ha="right", va="bottom", fontsize=7, gid="pearson-r",
            bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "alpha": 0.8,
                  "edgecolor": "none"})
