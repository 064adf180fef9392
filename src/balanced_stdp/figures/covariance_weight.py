"""Covariances vs weight (figure ``figS3_covariance_vs_weight``): mean spike-count
covariances and correlations of non-plastic networks with correlated input
(c > 0) against the closed forms of spec §6.2, over j_ee and over j_ei (spec §7 #18).

The theory is drawn densely in the weight: for every weight the balanced rates
r = −W⁻¹W_x r_x (spec §6.1) give C_ab = T_win c r_a r_b / r_x (the theory curve
``count_statistics:weights.ee`` or ``…ei`` of the roles' theory aggregates,
:func:`balanced_stdp.theory.curves.count_statistics_curve`); at the simulated weights it
is the theory aggregate's ``spike_count_cov``. The covariance is
the linear response T_win c r_x (W⁻¹W_x)_a (W⁻¹W_x)_b and does not depend on the
finite-size shift of the rates (spec §6.6), so simulated rates below the balanced ones
do not enter it; the theory's correlations, however, assume Poisson count variances
r_a T_win, so the correlation panel also shows the theory covariance divided by the
*measured* count variances.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from ..contract import dimension_name
from ..estimators import seed_statistics
from ..selection import at_point, by_seed, divergence, ensure_swept
from .facets import coord_values
from .panels import divergence_text, finite_size_covers, finite_size_note, plot_finite_size
from .style import (DIVERGED_COLOR, SYNAPSE_COLORS, THEORY_STYLE, figure_legend, letter_panels,
                    new_figure, no_data, reference_line, styled)

PAIR_TYPES = ("ee", "ei", "ii")
PAIR_COLORS = {pair: SYNAPSE_COLORS[pair] for pair in PAIR_TYPES}
"""EE dark slate grey, EI green, II purple (spec §8)."""

SWEEPS = {"jee": "weights.ee", "jei": "weights.ei"}
"""Role → the config key it sweeps."""

THEORY_LABEL = "§6.2 closed form at the balanced rates (dashed)"
OVER_VARIANCE_LABEL = r"theory covariance / measured $\sqrt{\mathrm{Var}_a \mathrm{Var}_b}$"
FINITE_SIZE_LABEL = "finite-size theory (dash-dot)"
RATIO_FINITE_SIZE_LABEL = "simulation / finite-size theory"
RATIO_OFFSET = 0.012
"""The ratio panel offsets the three pair types' markers by this fraction of the weight
range (their ratios are close: unshifted, one would hide the others)."""



def dense_theory(theory: xr.Dataset | None) -> xr.Dataset | None:
    """The theory curve dense in the swept weight (``along``), None without it."""
    if theory is None or "spike_count_cov_along" not in theory.variables:
        return None
    return theory


def theory_over_measured_variance(runs: xr.Dataset, key: dict, theory_cov) -> np.ndarray:
    """Theory covariance / √(Var_a Var_b) with the measured count variances, per seed
    (seed, pair_type); NaN without ``spike_count_var``."""
    variance = at_point(runs, "spike_count_var", key)
    if variance is None:
        return np.full((runs.sizes["seed"], len(PAIR_TYPES)), np.nan)
    var = by_seed(variance.sel(population=["E", "I"]), "population")
    index = {"e": 0, "i": 1}
    return np.stack([theory_cov[k] / np.sqrt(var[:, index[p[0]]] * var[:, index[p[1]]])
                     for k, p in enumerate(PAIR_TYPES)], axis=-1)


@styled
def plot_covariance_vs_weight(jee, jei) -> Figure:
    """Count covariances, correlations and sim/theory ratios vs j_ee and vs j_ei.

    Parameters
    ----------
    jee, jei : ExperimentData
        Runs and theory of the non-plastic sweeps over ``weights_ee`` and
        ``weights_ei`` (:class:`~balanced_stdp.selection.ExperimentData`); the dense
        theory is the theory aggregate's curve along the weight.

    Returns
    -------
    matplotlib.figure.Figure
        One row per sweep (axes gids ``jee;cov``, ``jee;corr``, ``jee;ratio``, …). Per
        pair type: simulation points ``sim-cov|ee`` (errorbar line), dense theory
        ``theory-cov|ee`` (dashed); the same with ``corr``; ratios ``ratio|ee``
        and the theory covariance over measured variances ``theory-corr-var|ee``
        (open circles, correlation panel); mean ratios in the text ``ratio-text``. Diverged runs: dotted line at
        their weight and text ``diverged-text``.
    """
    fig = new_figure(10.5, 7.0)
    axes = fig.subplots(2, 3, squeeze=False)
    notes = []
    for row, (role, data) in enumerate((("jee", jee), ("jei", jei))):
        key_name = SWEEPS[role]
        synapse = key_name.split(".")[1]
        for ax, kind in zip(axes[row], ("cov", "corr", "ratio")):
            ax.set_gid(f"{role};{kind}")
            ax.set_xlabel(f"$j_{{{synapse}}}$ (mV)")
        if data is None or data.runs is None:
            for ax in axes[row]:
                no_data(ax)
            continue
        _draw_sweep(axes[row], ensure_swept(data.runs), data.theory, key_name,
                    data.finite_size)
        note = finite_size_note(data.finite_size)
        if note:
            notes.append(f"{key_name}: {note}")
    for row in axes:
        for ax, title in zip(row, ("count covariance", "count correlation",
                                   "simulation / theory")):
            ax.set_title(title)
    letter_panels(axes.ravel())
    figure_legend(fig, max_columns=4)
    fig.suptitle("Spike-count covariances vs weight: simulation against spec §6.2 (c > 0)"
                 + (f"\n({'; '.join(notes)})" if notes else ""))
    return fig


def _draw_sweep(axes, runs: xr.Dataset, theory: xr.Dataset | None, key_name: str,
                finite_size: xr.Dataset | None = None) -> None:
    ax_cov, ax_corr, ax_ratio = axes
    dim = dimension_name(key_name)
    if dim not in runs.dims:
        raise ValueError(f"plot_covariance_vs_weight needs runs swept over '{dim}'")
    weights = np.asarray(coord_values(runs, dim), dtype=float)
    dense = dense_theory(theory)
    theory_points = np.stack([_theory_at_points(runs, theory, key_name, weights, pair)
                              for pair in PAIR_TYPES], axis=-1)         # (weight, pair)
    over_variance = []
    stats = {name: {p: [] for p in PAIR_TYPES} for name in ("spike_count_cov", "spike_count_corr")}
    diverged = []
    for n, value in enumerate(weights):
        key = {dim: value, **{d: runs[d].values[0] for d in ("rule", "c")}}
        seeds, flags, times = divergence(runs, key)
        diverged += [(value, s, t) for s, f, t in zip(seeds, flags, times) if f]
        for name, per_pair in stats.items():
            da = at_point(runs, name, key)
            values = by_seed(da, "pair_type") if da is not None \
                else np.full((seeds.size, len(PAIR_TYPES)), np.nan)
            values[flags] = np.nan                      # a stopped run has no statistics
            for k, pair in enumerate(PAIR_TYPES):
                per_pair[pair].append(seed_statistics(values[:, k])[:2])
        corr = theory_over_measured_variance(runs, key, theory_points[n])
        corr[flags] = np.nan
        over_variance.append(np.nanmean(corr, axis=0))
    over_variance = np.array(over_variance)
    texts = []
    shift = RATIO_OFFSET * (np.ptp(weights) if weights.size > 1 else 1.0)
    for k, pair in enumerate(PAIR_TYPES):
        color = PAIR_COLORS[pair]
        label = f"{pair.upper()} simulation"
        for ax, name, kind in ((ax_cov, "spike_count_cov", "cov"),
                               (ax_corr, "spike_count_corr", "corr")):
            mean, sd = np.array(stats[name][pair]).T
            container = ax.errorbar(weights, mean, yerr=np.nan_to_num(sd), fmt="o",
                                    color=color, markersize=3.5, capsize=2, label=label)
            container.lines[0].set_gid(f"sim-{kind}|{pair}")
            if dense is not None:
                curve = dense[f"{name}_along"].sel(pair_type=pair)
                ax.plot(curve["along"].values, curve.values, color=color,
                        gid=f"theory-{kind}|{pair}", label=THEORY_LABEL,
                        **THEORY_STYLE)
            plot_finite_size(ax, finite_size, name, {}, along=dim, at=weights, pair_type=pair,
                             gid=f"finite-size-{kind}|{pair}", label=FINITE_SIZE_LABEL,
                             style={"color": color})
        ax_corr.plot(weights, over_variance[:, k], "o", mfc="none", color=color, markersize=5,
                     gid=f"theory-corr-var|{pair}", label=OVER_VARIANCE_LABEL)
        ratio = np.array(stats["spike_count_cov"][pair])[:, 0] / theory_points[:, k]
        x = weights + (k - 1) * shift
        ax_ratio.plot(x, ratio, "o", color=color, markersize=4, gid=f"ratio|{pair}",
                      label=label)
        finite_ratio = (np.array(stats["spike_count_cov"][pair])[:, 0]
                        / _finite_size_at_points(finite_size, dim, weights, pair))
        if np.isfinite(finite_ratio).any():
            ax_ratio.plot(x, finite_ratio, "s", color=color, markerfacecolor="white",
                          markersize=4, gid=f"ratio-finite-size|{pair}",
                          label=RATIO_FINITE_SIZE_LABEL)
        texts.append(f"$C_{{{pair}}}$: {np.nanmean(ratio):.2f} "
                     f"({np.nanmin(ratio):.2f}–{np.nanmax(ratio):.2f})")
    reference_line(ax_ratio, 1.0, name="one", color="0.5", linewidth=0.8)
    ax_ratio.text(0.03, 0.97, "sim/theory: mean (range)\n" + "\n".join(texts), transform=ax_ratio.transAxes,
                  ha="left", va="top", fontsize=6.5, gid="ratio-text",
                  bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "alpha": 0.8,
                        "edgecolor": "none"})
    ax_ratio.set_ylim(bottom=0.0, top=max(1.6, 1.3 * ax_ratio.get_ylim()[1]))
    ax_cov.set_ylabel("Count covariance (spikes²)")
    ax_corr.set_ylabel("Count correlation")
    ax_ratio.set_ylabel("Simulation / theory")
    if diverged:
        for ax in axes:
            for value, _, _ in diverged:
                ax.axvline(value, color=DIVERGED_COLOR, linestyle=":", linewidth=0.8,
                           gid="diverged-at")
        ax_cov.text(0.02, 0.98, "\n".join(f"{dim} = {v:g}, {divergence_text(s, t)}"
                                          for v, s, t in diverged),
                    transform=ax_cov.transAxes, ha="left", va="top", fontsize=6,
                    color=DIVERGED_COLOR, gid="diverged-text")


def _finite_size_at_points(finite_size, dim, weights, pair) -> np.ndarray:
    """The finite-size theory's covariance at the simulated weights (NaN: none)."""
    values = np.full(weights.size, np.nan)
    if finite_size is None:
        return values
    for n, value in enumerate(weights):
        point = {dim: value}
        if finite_size_covers(finite_size, point) is False:
            continue
        da = at_point(finite_size, "spike_count_cov", point, pair_type=pair)
        if da is not None and np.isfinite(da.values).any():
            values[n] = float(np.nanmean(da.values))
    return values


def _theory_at_points(runs, theory, key_name, weights, pair) -> np.ndarray:
    """Theory covariance at the simulated weights: the theory aggregate's value (the
    workflow's prediction per grid point; NaN where it has none)."""
    dim = dimension_name(key_name)
    values = np.full(weights.size, np.nan)
    for n, value in enumerate(weights):
        da = at_point(theory, "spike_count_cov", {dim: value}, pair_type=pair)
        if da is not None and np.isfinite(da.values).any():
            values[n] = float(np.nanmean(da.values))
    return values
