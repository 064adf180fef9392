"""Fig 2 — Kohonen stability: the EE fixed point j*(β₀) and its loss (spec §6.5, §8 Fig 2).

Drawn from the β₀ sweep (role ``sweep``), optionally its replicate seeds near the runaway
(``replicates``) and an initial-weight sweep (``initial_conditions``). Theory is the
leading-order mean field of spec §6.4–6.5: the fixed point j* = β₀ τ r_e(j*) (stable root
of j² − 45 j + 63 β₀ = 0 at j_ei = −100) of each grid point, and the sweep's theory curves
(:func:`balanced_stdp.theory.curves.kohonen_stability`): the drift per learning rate, and
the stable and unstable branches meeting at the saddle-node.
A run stopped by the divergence guard ("ran away") keeps its marker on every panel.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import xarray as xr
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..selection import (ExperimentData, at_point, by_seed, divergence, ensure_swept, run_configs,
                         theory_at)
from .facets import facets
from .labels import SYNAPSE_AXIS_LABELS, TIME_LABEL, format_value
from .convergence import Convergence, late_drift, theory_remaining
from .panels import annotate_divergence, plot_finite_size, state_convergence
from .style import (DIVERGED_COLOR, FINITE_SIZE_FIXED_POINT, SYNAPSE_COLORS, THEORY_STYLE,
                    letter_panels, new_figure, no_data, panel_legend, reference_line, styled)


BETA_KEY = "plasticity.ee.beta0"
BETA_DIM = "plasticity_ee_beta0"
INITIAL_DIM = "weights_ee"
PAPER_BETAS = (1.2, 2.4, 3.4, 3.6)
"""β₀ of the paper's weight panels (A–D); the nearest value of the sweep is drawn."""
N_SAMPLED_TRACES = 100
RAN_AWAY = "ran away (divergence guard)"
J_LABEL = SYNAPSE_AXIS_LABELS["ee"]
BETA_LABEL = "β₀"
J_STAR_DASHED = "j*, leading order (dashed)"


class SweepRun(NamedTuple):
    """One simulated run of a sweep: its swept value (β₀ or initial weight), seed and
    mean-weight course."""

    value: float
    seed: int
    time_s: np.ndarray
    mean_weight: np.ndarray
    sampled_weight: np.ndarray | None
    diverged: bool
    diverged_at_s: float
    fixed_point: float          # leading-order j* of the theory aggregate (NaN: none)
    rate_e: float               # E rate over the last half of the run (Hz; NaN: none)

    @property
    def final(self) -> float:
        """Last recorded mean weight (NaN for a run that ran away)."""
        finite = np.flatnonzero(np.isfinite(self.mean_weight))
        return np.nan if self.diverged or not finite.size else float(self.mean_weight[finite[-1]])


def beta_runs(data: ExperimentData | None, dim: str = BETA_DIM) -> list[SweepRun]:
    """Every run of an experiment swept over ``dim`` (β₀ or the initial weight)."""
    if data is None or data.runs is None:
        return []
    runs = ensure_swept(data.runs)
    if dim not in runs.dims:
        raise ValueError(f"the aggregate has no '{dim}' dimension (dims: {dict(runs.sizes)})")
    out = []
    for key in facets(runs, skip=("seed",)):
        mean_weight = at_point(runs, "mean_weight", key, synapse="ee")
        if mean_weight is None:
            continue
        courses = by_seed(mean_weight, "time")
        sampled = at_point(runs, "sampled_weight", key, synapse="ee")
        sampled = by_seed(sampled, "sample", "time") if sampled is not None else None
        fixed = theory_at(data.theory, "fixed_point_weight", key, synapse="ee")
        rates = at_point(runs, "population_rate", key, population="E")
        rates = by_seed(rates, "time") if rates is not None else np.full_like(courses, np.nan)
        late = mean_weight["time"].values > mean_weight["time"].values[-1] / 2
        seeds, flags, times = divergence(runs, key)
        for k, seed in enumerate(seeds):
            if not np.isfinite(courses[k]).any():
                continue                         # grid point not run for this seed
            out.append(SweepRun(float(key[dim]), int(seed), mean_weight["time"].values,
                               courses[k], None if sampled is None else sampled[k],
                               bool(flags[k]), float(times[k]),
                               np.nan if fixed is None else float(fixed),
                               float(np.nanmean(rates[k][late])) if not flags[k] else np.nan))
    return out


def base_config(data: ExperimentData) -> dict:
    """One stored run config of a role (its τ_STDP scales the measured-rate points)."""
    configs = run_configs(data.runs)
    if not configs:
        raise ValueError("the aggregate stores no run config; panel F needs τ_STDP")
    return configs[0]


def stability_curves(theory: xr.Dataset | None) -> xr.Dataset | None:
    """The sweep's Kohonen stability curves (branches, saddle-node, drift), or None when
    its theory aggregate lacks them."""
    if theory is None or "branch_weight" not in theory.variables:
        return None
    return theory


@styled
def plot_kohonen_stability(sweep: ExperimentData, replicates: ExperimentData | None = None,
                           initial_conditions: ExperimentData | None = None) -> Figure:
    """Kohonen stability over β₀: weights, fixed points, drift and bifurcation (Fig 2).

    Parameters
    ----------
    sweep : ExperimentData
        Runs and leading-order theory of the β₀ sweep (dimension ``plasticity_ee_beta0``).
    replicates : ExperimentData, optional
        More seeds of the same sweep; pooled with ``sweep`` in panels F, G, I and J.
    initial_conditions : ExperimentData, optional
        Runs over the initial weight (dimension ``weights_ee``) for the uniqueness panel.

    Returns
    -------
    matplotlib.figure.Figure
        Axes gids: ``weights-beta=<β₀>`` (sampled traces ``sampled-trace``, mean
        ``sim-mean``, j* ``theory-fixed-point``), ``mean-vs-time`` (``sim-mean-beta=<β₀>``,
        ``theory-beta=<β₀>``, ``diverged-marker``), ``final-vs-beta`` (``sim-final``,
        ``theory-fixed-point``, ``finite-size-fixed-point`` given the sweep's finite-size
        theory, ``ran-away``), ``ran-away-fraction`` (bars
        ``ran-away-fraction``), ``phase-plot`` (``drift-beta=<β₀>``, ``stable-root``,
        ``unstable-root``), ``bifurcation`` (``stable-branch``, ``unstable-branch``,
        ``saddle-node``, ``sim-final``, ``ran-away``), ``theory-vs-sim``
        (``theory-vs-sim``), ``uniqueness`` (``sim-mean-initial=<j₀>``, ``theory-fixed-point``).
    """
    sweep_runs = beta_runs(sweep)
    all_runs = sweep_runs + beta_runs(replicates)
    config = base_config(sweep)
    betas = sorted({run.value for run in sweep_runs})
    chosen, paper_betas = weight_panel_betas(betas)
    curves = stability_curves(sweep.theory)

    fig = new_figure(13.0, 9.6)
    mosaic = [[f"w{k}" for k in range(4)],
              ["mean", "final", "fraction", "phase"],
              # without an initial-weight sweep there is no uniqueness panel to leave empty
              ["bif", "bif", "scatter", "unique"] if initial_conditions is not None
              else ["bif", "bif", "bif", "scatter"]]
    mosaic[0] = [mosaic[0][min(k, len(chosen) - 1)] for k in range(4)]
    axes = fig.subplot_mosaic(mosaic)
    colors = _beta_colors(chosen)
    for k, beta0 in enumerate(chosen):
        _draw_weights(axes[f"w{k}"], [r for r in sweep_runs if r.value == beta0], beta0,
                      paper_betas[k], sweep.finite_size)
    axes["w0"].legend(loc="upper right", fontsize=6, frameon=True, framealpha=0.85)
    _draw_mean_vs_time(axes["mean"], sweep_runs, chosen, colors)
    _draw_final_vs_beta(axes["final"], all_runs, curves, config, sweep.finite_size)
    _draw_ran_away_fraction(axes["fraction"], all_runs)
    _draw_phase_plot(axes["phase"], curves)
    _draw_bifurcation(axes["bif"], all_runs, curves)
    _draw_theory_vs_sim(axes["scatter"], all_runs)
    if initial_conditions is not None:
        _draw_uniqueness(axes["unique"], initial_conditions)
    letter_panels([axes[name] for name in [f"w{k}" for k in range(len(chosen))]
                   + ["mean", "final", "fraction", "phase", "bif", "scatter", "unique"]
                   if name in axes])
    fig.suptitle("Kohonen EE plasticity: stable fixed point j*(β₀) and its loss "
                 "(theory: leading order, spec §6.5; in F also the finite-size theory)")
    return fig


def weight_panel_betas(betas: list[float]) -> tuple[list[float], list[float | None]]:
    """The β₀ of the weight panels (A–D) and the paper's β₀ each stands for.

    A sweep of at most four values (a sample near the runaway) shows each of its own;
    a longer sweep shows the values nearest to the paper's :data:`PAPER_BETAS`
    (distinct, in order), each titled with the paper's value it replaces.
    """
    if len(betas) <= len(PAPER_BETAS):
        return list(betas), [None] * len(betas)
    nearest = {}
    for target in PAPER_BETAS:
        nearest.setdefault(min(betas, key=lambda b: abs(b - target)), target)
    return list(nearest), list(nearest.values())


def _beta_colors(betas) -> dict:
    from matplotlib import colormaps
    cmap = colormaps["viridis"]
    return {b: cmap(0.85 * k / max(len(betas) - 1, 1)) for k, b in enumerate(betas)}


def _draw_weights(ax, runs: list[SweepRun], beta0: float, paper_beta: float | None,
                  finite_size=None) -> None:
    ax.set_gid(f"weights-beta={format_value(beta0)}")
    note = "" if paper_beta is None or np.isclose(paper_beta, beta0) \
        else f" (paper: {format_value(paper_beta)}; nearest in grid)"
    ax.set_title(f"β₀ = {format_value(beta0)}{note}")
    if not runs:
        no_data(ax)
        return
    run = runs[0]
    if run.sampled_weight is not None:
        traces = run.sampled_weight[np.isfinite(run.sampled_weight).any(axis=1)]
        for k, trace in enumerate(traces[:N_SAMPLED_TRACES]):
            ax.plot(run.time_s, trace, color=SYNAPSE_COLORS["ee"], linewidth=0.3, alpha=0.35,
                    gid="sampled-trace", label="sampled EE weights" if k == 0 else "_nolegend_")
    ax.plot(run.time_s, run.mean_weight, color="black", linewidth=1.4, gid="sim-mean",
            label="mean weight")
    if np.isfinite(run.fixed_point):
        ax.axhline(run.fixed_point, color="0.3", gid="theory-fixed-point",
                   label="j* (leading order)", **THEORY_STYLE)
    ax.set_ylim(bottom=0)
    if run.diverged:
        _scale_to_growth(ax, run)
    annotate_divergence(ax, [run.seed], [run.diverged], [run.diverged_at_s])
    if not run.diverged:
        verdict = run_convergence(run, finite_size)
        state_convergence(ax, verdict)
    ax.set_xlabel(TIME_LABEL)
    ax.set_ylabel(J_LABEL)


def _scale_to_growth(ax, run: SweepRun) -> None:
    """Scale a run that ran away to its weights before the stop: the last record (taken
    at the stop, often thousands of mV) would flatten the growth that led there."""
    finite = np.flatnonzero(np.isfinite(run.mean_weight))
    if finite.size < 2:
        return
    before = slice(0, finite[-1])
    weights = run.sampled_weight[:, before] if run.sampled_weight is not None \
        else run.mean_weight[before]
    weights = weights[np.isfinite(weights)]
    top = weights.max() if weights.size else 0.0
    if top > 0:
        ax.set_ylim(0, 1.15 * top)
        ax.text(0.02, 0.86, "its record at the stop: off scale", transform=ax.transAxes,
                ha="left", va="top", fontsize=6, color=DIVERGED_COLOR)


def run_convergence(run: SweepRun, finite_size) -> Convergence:
    """Whether one run of the sweep converged by its end (:mod:`.convergence`)."""
    finite = np.flatnonzero(np.isfinite(run.mean_weight))
    duration = float(run.time_s[finite[-1]]) if finite.size else np.nan
    return Convergence(duration, theory_remaining(finite_size, {BETA_DIM: run.value}, "ee"),
                       late_drift(run.time_s, run.mean_weight))


def _mark_divergence(ax, run: SweepRun, color, label: str) -> None:
    finite = np.flatnonzero(np.isfinite(run.mean_weight))
    y = run.mean_weight[finite[-1]] if finite.size else np.nan
    x = run.diverged_at_s if np.isfinite(run.diverged_at_s) else run.time_s[finite[-1]]
    ax.plot([x], [y], marker="X", markersize=8, color=color, markeredgecolor=DIVERGED_COLOR,
            linestyle="none", gid="diverged-marker", label=label)


def _draw_mean_vs_time(ax, runs, chosen, colors) -> None:
    ax.set_gid("mean-vs-time")
    ax.set_title("Mean weight vs theory")
    labelled = False
    for beta0 in chosen:
        color = colors[beta0]
        selected = [r for r in runs if r.value == beta0]
        for k, run in enumerate(selected):
            ax.plot(run.time_s, run.mean_weight, color=color, linewidth=1.2,
                    gid=f"sim-mean-beta={format_value(beta0)}",
                    label=f"β₀ = {format_value(beta0)}" if k == 0 else "_nolegend_")
            if run.diverged:
                _mark_divergence(ax, run, color, "_nolegend_" if labelled else RAN_AWAY)
                labelled = True
        if selected and np.isfinite(selected[0].fixed_point):
            ax.axhline(selected[0].fixed_point, color=color,
                       gid=f"theory-beta={format_value(beta0)}", label=J_STAR_DASHED,
                       **THEORY_STYLE)
    ax.set_ylim(0, 1.5 * ax.get_ylim()[1])               # room for the legend above
    ax.set_xlabel(TIME_LABEL)
    ax.set_ylabel(J_LABEL)
    panel_legend(ax, {J_STAR_DASHED: Line2D([], [], color="0.3", **THEORY_STYLE)},
                 fontsize=6, loc="upper left", ncol=2)


def _final_points(ax, runs: list[SweepRun], top: float) -> None:
    """Simulated final weights (black dots) and ran-away runs (× at the top)."""
    done = [r for r in runs if not r.diverged and np.isfinite(r.final)]
    away = [r for r in runs if r.diverged]
    if done:
        ax.plot([r.value for r in done], [r.final for r in done], "o", color="black",
                markersize=3.5, linestyle="none", gid="sim-final",
                label="simulation: final mean weight")
    if away:
        ax.plot([r.value for r in away], np.full(len(away), top), "x", color=DIVERGED_COLOR,
                markersize=7, markeredgewidth=1.5, linestyle="none", gid="ran-away",
                label=RAN_AWAY)


def branch(curves: xr.Dataset, stable: bool) -> np.ndarray:
    """Lowest stable (or unstable) root per β₀ of the stability curves (NaN where there is
    none)."""
    weights = curves["branch_weight"].values
    match = curves["branch_stable"].values == int(stable)
    return np.array([row[m][0] if m.any() else np.nan for row, m in zip(weights, match)])


def _panel(ax, gid: str, title: str, runs: list[SweepRun], empty: str = "no run") -> bool:
    """Name a panel; False (marked ``empty``) when it has no runs to draw."""
    ax.set_gid(gid)
    ax.set_title(title)
    if not runs:
        no_data(ax, empty)
    return bool(runs)


def _draw_final_vs_beta(ax, runs, curves, config, finite_size=None) -> None:
    if not _panel(ax, "final-vs-beta", "Final weight vs β₀", runs):
        return
    betas = np.array(sorted({r.value for r in runs}))
    span = (betas.min() - 0.2, betas.max() + 0.2)
    top_theory = []
    if curves is not None:
        beta_dense = curves["branch_parameter"].values
        inside = (beta_dense >= span[0]) & (beta_dense <= span[1])
        stable = branch(curves, stable=True)
        ax.plot(beta_dense[inside], stable[inside], color="0.3", gid="theory-fixed-point",
                label="j*(β₀), leading order (dashed)", **THEORY_STYLE)
        top_theory = [float(np.nanmax(stable[inside]))]
    plot_finite_size(ax, finite_size, "fixed_point_weight", {}, along=BETA_DIM, synapse="ee",
                     label="j*(β₀), finite-size theory", gid="finite-size-fixed-point",
                     style=FINITE_SIZE_FIXED_POINT)
    plot_finite_size(ax, finite_size, "mean_weight", {}, along=BETA_DIM, synapse="ee",
                     at_end=True, label="finite-size theory at T", gid="finite-size-at-T")
    finals = [r.final for r in runs if np.isfinite(r.final)]
    top = 1.15 * max(finals + top_theory or [1.0])
    _final_points(ax, runs, top)
    tau_s = config["tau_stdp_ms"] * 1e-3
    measured = [(r.value, r.value * tau_s * r.rate_e) for r in runs if np.isfinite(r.rate_e)]
    if measured:
        ax.plot(*zip(*measured), "s", markersize=4, markerfacecolor="none", color="0.35",
                linestyle="none", gid="beta-tau-rate",
                label=r"$\beta_0 \tau r_e$ at the simulated E rate")
    ax.set_ylim(0, 1.08 * top)
    ax.set_xlabel(BETA_LABEL)
    ax.set_ylabel("Final " + J_LABEL[0].lower() + J_LABEL[1:])
    verdicts = [run_convergence(r, finite_size) for r in runs if not r.diverged]
    if verdicts:
        state_convergence(ax, verdicts)
    ax.legend(fontsize=6, loc="upper left")


def _draw_ran_away_fraction(ax, runs) -> None:
    if not _panel(ax, "ran-away-fraction", "Runs that ran away", runs):
        return
    betas = np.array(sorted({r.value for r in runs}))
    totals = np.array([sum(r.value == b for r in runs) for b in betas])
    away = np.array([sum(r.value == b and r.diverged for r in runs) for b in betas])
    width = 0.8 * np.min(np.diff(betas)) if betas.size > 1 else 0.2
    bars = ax.bar(betas, away / totals, width=width, color=DIVERGED_COLOR, alpha=0.8,
                  gid="ran-away-fraction")
    for bar in bars:
        bar.set_gid("ran-away-fraction")
    for b, k, n in zip(betas, away, totals):
        ax.text(b, k / n + 0.02, f"{k}/{n}", ha="center", va="bottom", fontsize=6)
    ax.set_ylim(0, 1.15)
    ax.set_xlabel(BETA_LABEL)
    ax.set_ylabel("Fraction ran away")


def _draw_phase_plot(ax, curves) -> None:
    ax.set_gid("phase-plot")
    ax.set_title("Drift per η (leading order)")
    if curves is None:
        no_data(ax, "no theory curves")
        return
    grid = curves["drift_weight"].values
    betas = tuple(float(b) for b in curves["drift_parameter"].values)
    colors = _beta_colors(betas)
    for beta0 in betas:
        drift = curves["drift_per_eta"].sel(drift_parameter=beta0).values
        ax.plot(grid, drift, color=colors[beta0], gid=f"drift-beta={format_value(beta0)}",
                label=f"β₀ = {format_value(beta0)}")
        sign = np.sign(drift)
        for i in np.flatnonzero((sign[:-1] != sign[1:]) & np.isfinite(drift[1:])):
            stable = drift[i] > 0
            ax.plot([0.5 * (grid[i] + grid[i + 1])], [0.0], "o", markersize=4.5,
                    color=colors[beta0], markerfacecolor=colors[beta0] if stable else "white",
                    gid="stable-root" if stable else "unstable-root",
                    label="stable root" if stable else "unstable root")
    reference_line(ax)
    ax.set_ylim(-0.06, 0.12)              # β₀ = 10: drift > 0 everywhere, minimum ≈ 0.08
    ax.set_xlabel(J_LABEL)
    ax.set_ylabel(r"$\dot{j}/\eta = \beta_0 \tau r_e^2 - j\, r_e$ (mV/ms)")
    panel_legend(ax, {"stable root": Line2D([], [], marker="o", linestyle="none", color="0.3"),
                      "unstable root": Line2D([], [], marker="o", linestyle="none", color="0.3",
                                              markerfacecolor="white")},
                 fontsize=6, loc="lower left", ncol=2)


def _draw_bifurcation(ax, runs, curves) -> None:
    ax.set_gid("bifurcation")
    ax.set_title("Bifurcation diagram")
    if curves is None:
        no_data(ax, "no theory curves")
        return
    beta = curves["branch_parameter"].values
    for flag, gid, style, label in ((True, "stable-branch", "-", "stable fixed point (theory)"),
                                    (False, "unstable-branch", "--",
                                     "unstable fixed point (theory)")):
        ax.plot(beta, branch(curves, flag), color=SYNAPSE_COLORS["ee"], linestyle=style,
                linewidth=1.5, gid=gid, label=label)
    fold = float(curves["saddle_node_parameter"]), float(curves["saddle_node_weight"])
    ax.plot([fold[0]], [fold[1]], "*", color="black", markersize=10,
            gid="saddle-node", label=f"saddle-node β₀ = {fold[0]:.2f}")
    _final_points(ax, runs, 46.0)
    ax.set_ylim(0, 48)
    ax.set_xlim(0, beta.max())
    ax.set_xlabel(BETA_LABEL)
    ax.set_ylabel(J_LABEL)
    ax.legend(fontsize=6, loc="upper left")


def _draw_theory_vs_sim(ax, runs) -> None:
    ax.set_gid("theory-vs-sim")
    ax.set_title("Theory j* vs simulation")
    done = [r for r in runs if np.isfinite(r.final) and np.isfinite(r.fixed_point)]
    if not done:
        no_data(ax, "no completed run")
        return
    theory_values = np.array([r.fixed_point for r in done])
    sim_values = np.array([r.final for r in done])
    ax.plot(theory_values, sim_values, "o", color="black", markersize=3.5, linestyle="none",
            gid="theory-vs-sim", label="completed runs")
    limit = 1.1 * max(theory_values.max(), sim_values.max())
    ax.plot([0, limit], [0, limit], color="0.5", linestyle=":", linewidth=1.0, label="identity")
    n_away = sum(r.diverged for r in runs)
    if n_away:
        ax.text(0.98, 0.02, f"{n_away} run{'s' if n_away > 1 else ''} ran away (not shown; "
                "see F, G)", transform=ax.transAxes, ha="right", va="bottom", fontsize=6,
                color=DIVERGED_COLOR, gid="diverged-text")
    ax.set_xlim(0, limit)
    ax.set_ylim(0, limit)
    ax.set_xlabel("Leading-order j* (mV)")
    ax.set_ylabel("Simulated final mean $j_{ee}$ (mV)")
    ax.legend(fontsize=6, loc="upper left")


def _draw_uniqueness(ax, data: ExperimentData | None) -> None:
    ax.set_gid("uniqueness")
    ax.set_title("Uniqueness: initial weights")
    runs = beta_runs(data, INITIAL_DIM) if data is not None else []
    if not runs:
        no_data(ax, "initial_conditions not configured")
        return
    from matplotlib import colormaps
    cmap = colormaps["cividis"]
    starts = sorted({r.value for r in runs})
    for run in runs:
        color = cmap(starts.index(run.value) / max(len(starts) - 1, 1))
        ax.plot(run.time_s, run.mean_weight, color=color, linewidth=1.0,
                gid=f"sim-mean-initial={format_value(run.value)}",
                label=f"j(0) = {format_value(run.value)} mV")
        if run.diverged:
            _mark_divergence(ax, run, color, RAN_AWAY)
    fixed = [r.fixed_point for r in runs if np.isfinite(r.fixed_point)]
    if fixed:
        ax.axhline(fixed[0], color="0.3", gid="theory-fixed-point",
                   label="j* (leading order)", **THEORY_STYLE)
    ax.set_xlabel(TIME_LABEL)
    ax.set_ylabel(J_LABEL)
    ax.legend(fontsize=5.5, ncol=2, loc="upper right")
