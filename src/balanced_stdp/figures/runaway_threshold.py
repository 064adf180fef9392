"""Kohonen runaway threshold against network size (figure ``figS4_runaway_threshold``;
beyond the paper, issue 19).

The paper's Kohonen network runs away at β₀ ≈ 3.6 (N = 5000) although the leading-order
fixed point is stable up to its saddle-node at β₀ = 8.04 (spec §6.5). Drawn from one
experiment (role ``sweep``) over a grid of N and β₀ with several seeds: (A) the fraction
of runs the divergence guard stopped, against β₀, per N; (B) the threshold against N —
simulated (where that fraction first reaches one half, interpolated, with the bracket of
the last β₀ where no run ran away and the first where all did), the finite-size
prediction (:func:`balanced_stdp.theory.finite_size_threshold.runaway_threshold`, theory
curve ``runaway_threshold:N``) and the leading-order saddle-node.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from ..selection import ExperimentData, divergence, ensure_swept
from .style import (FINITE_SIZE_STYLE, THEORY_STYLE, figure_legend, letter_panels,
                    new_figure, no_data, styled)

BETA_DIM = "plasticity_ee_beta0"
BETA_LABEL = "β₀"
FRACTION_LABEL = "fraction of runs that ran away"
N_COLORS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02")
FS_CURVE = "finite_size_runaway_threshold_along"
LO_CURVE = "leading_order_saddle_node_along"


class Threshold(NamedTuple):
    """Simulated runaway threshold at one N: the β₀ where the fraction of runs that ran
    away first reaches one half (linear between grid values), and the bracket from the
    largest β₀ below it where none ran away to the smallest above it where all did
    (NaN where the grid does not reach)."""

    estimate: float
    low: float
    high: float


def runaway_fractions(runs: xr.Dataset) -> dict[int, tuple[np.ndarray, np.ndarray, int]]:
    """N → (β₀ values, fraction of seeds the divergence guard stopped, seeds per point)."""
    runs = ensure_swept(runs)
    out = {}
    rule = runs["rule"].values[0]
    for n in np.sort(np.asarray(runs["N"].values, dtype=int)):
        betas = np.sort(np.asarray(runs[BETA_DIM].values, dtype=float))
        fractions, counts = [], []
        for beta in betas:
            point = {"rule": rule, "c": runs["c"].values[0], "N": n, BETA_DIM: beta}
            _, flags, _ = divergence(runs, point)
            fractions.append(float(np.mean(flags)) if flags.size else np.nan)
            counts.append(flags.size)
        out[int(n)] = (betas, np.array(fractions), int(max(counts, default=0)))
    return out


def simulated_threshold(betas: np.ndarray, fractions: np.ndarray) -> Threshold:
    """The :class:`Threshold` of one N's fractions (β₀ increasing)."""
    above = np.flatnonzero(fractions >= 0.5)
    if not above.size:
        return Threshold(np.nan, float(betas[-1]) if betas.size else np.nan, np.nan)
    k = int(above[0])
    if k == 0:
        estimate = float(betas[0])
    else:
        f0, f1 = fractions[k - 1], fractions[k]
        estimate = float(betas[k - 1] + (0.5 - f0) / (f1 - f0) * (betas[k] - betas[k - 1]))
    none = np.flatnonzero((fractions == 0) & (betas < estimate))
    full = np.flatnonzero((fractions == 1) & (betas >= estimate))
    return Threshold(estimate, float(betas[none[-1]]) if none.size else np.nan,
                     float(betas[full[0]]) if full.size else np.nan)


def _curve(theory: xr.Dataset | None, name: str) -> tuple[np.ndarray, np.ndarray]:
    if theory is None or name not in theory:
        return np.array([]), np.array([])
    da = theory[name]
    extra = [d for d in da.dims if d != "along"]
    if extra:                                   # curves do not depend on the other dims
        da = da.isel({d: 0 for d in extra})
    return np.asarray(da["along"].values, dtype=float), np.asarray(da.values, dtype=float)


@styled
def plot_runaway_threshold(sweep: ExperimentData | None) -> Figure:
    """Runaway fraction against β₀ per N, and the threshold against N with theory.

    Parameters
    ----------
    sweep : ExperimentData
        Runs over ``N`` and ``plasticity.ee.beta0`` (several seeds) and their theory
        aggregate with the curve ``runaway_threshold:N``.

    Returns
    -------
    matplotlib.figure.Figure
        Axes gids ``fraction`` (lines ``sim-fraction|N=<n>``, vertical lines
        ``fs-threshold|N=<n>``, ``lo-saddle-node``) and ``threshold`` (``sim-threshold``
        errorbar line, ``fs-threshold`` and ``lo-saddle-node`` curves).
    """
    fig = new_figure(10.0, 4.2)
    ax_fraction, ax_threshold = fig.subplots(1, 2)
    ax_fraction.set_gid("fraction")
    ax_threshold.set_gid("threshold")
    if sweep is None or sweep.runs is None:
        no_data(ax_fraction)
        no_data(ax_threshold)
        letter_panels((ax_fraction, ax_threshold))
        return fig
    runs = ensure_swept(sweep.runs)
    for dim in ("N", BETA_DIM):
        if dim not in runs.dims:
            raise ValueError(f"plot_runaway_threshold: the runs must sweep {dim} "
                             "(experiments.<name>.grid)")
    fractions = runaway_fractions(runs)
    fs_n, fs_beta = _curve(sweep.theory, FS_CURVE)
    lo_n, lo_beta = _curve(sweep.theory, LO_CURVE)
    sizes, estimates, lows, highs = [], [], [], []
    for index, (n, (betas, fraction, seeds)) in enumerate(fractions.items()):
        color = N_COLORS[index % len(N_COLORS)]
        (line,) = ax_fraction.plot(betas, fraction, marker="o", color=color,
                                   label=f"simulation, N = {n} ({seeds} seeds)")
        line.set_gid(f"sim-fraction|N={n}")
        match = np.flatnonzero(np.isclose(fs_n, n))
        if match.size and np.isfinite(fs_beta[match[0]]):
            vline = ax_fraction.axvline(fs_beta[match[0]], color=color,
                                        label="finite-size threshold at each N", **{
                k: v for k, v in FINITE_SIZE_STYLE.items() if k != "color"})
            vline.set_gid(f"fs-threshold|N={n}")
        threshold = simulated_threshold(betas, fraction)
        sizes.append(n)
        estimates.append(threshold.estimate)
        lows.append(threshold.low)
        highs.append(threshold.high)
    if lo_beta.size and np.isfinite(lo_beta).any():
        saddle = float(np.nanmean(lo_beta))
        ax_fraction.axvline(saddle, color="0.4", linestyle=":", linewidth=1.2,
                            label=f"leading-order saddle-node (β₀ = {saddle:.2f})"
                            ).set_gid("lo-saddle-node")
    ax_fraction.set_xlabel(BETA_LABEL)
    ax_fraction.set_ylabel(FRACTION_LABEL)
    ax_fraction.set_ylim(-0.05, 1.05)
    ax_fraction.set_title("runaway fraction (dash-dot: finite-size threshold)", fontsize=9)

    sizes, estimates = np.array(sizes, dtype=float), np.array(estimates)
    lows, highs = np.array(lows), np.array(highs)
    lower = np.where(np.isfinite(lows), estimates - lows, 0.0)
    upper = np.where(np.isfinite(highs), highs - estimates, 0.0)
    container = ax_threshold.errorbar(sizes, estimates, yerr=[np.nan_to_num(lower),
                                                              np.nan_to_num(upper)],
                                      marker="o", color="black", linestyle="none", capsize=3,
                                      label="simulation (half of the runs ran away)")
    container.lines[0].set_gid("sim-threshold")
    if fs_n.size:
        (line,) = ax_threshold.plot(fs_n, fs_beta, marker=".", label="finite-size theory",
                                    **FINITE_SIZE_STYLE)
        line.set_gid("fs-threshold")
    if lo_n.size:
        (line,) = ax_threshold.plot(lo_n, lo_beta, color="black",
                                    label="leading order (saddle-node)", **THEORY_STYLE)
        line.set_gid("lo-saddle-node")
    ax_threshold.set_xscale("log")
    ax_threshold.set_xlabel("Network size N")
    ax_threshold.set_ylabel(r"runaway threshold $\beta_{0,c}$")
    ax_threshold.set_title("threshold against N", fontsize=9)
    letter_panels((ax_fraction, ax_threshold))
    fig.suptitle("Kohonen runaway threshold: simulation, finite-size and leading-order theory")
    figure_legend(fig, max_columns=3)
    return fig
