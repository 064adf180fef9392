"""The paper's Fig 7 and the first Fig 8 candidate: the EI iSTDP manifold (spec §6.7).

* :func:`plot_istdp_manifold` — Fig 7 at c = 0: trajectories (A), time to convergence
  (B), phase portrait (C), final against initial j_ei with the Δ-corrected theory and
  the manifold relation (D), and the rate–weight covariance in the mean inputs (E);
* :func:`plot_manifold_correlated` — the Fig 8 candidate: the manifold at c = 0.1
  beside c = 0.

Convergence (B) is read from the mean weight recorded every interval: the derivative
of its moving average must fall below a threshold equivalent to the paper's 1e−6 per
10-ms record (:func:`convergence_threshold`).
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from ..selection import run_configs
from .facets import coord_values, facet_label, facets
from .labels import format_value
from .manifold import (INITIAL_LABEL, INITIAL_WEIGHT, LEADING_ORDER_J_EI, checked_sweep,
                       draw_final_vs_initial, draw_trajectories, initial_colors, scalar_theory,
                       sweep_trajectories, theory_along_sweep)
from .panels import DELTA_NOTE, finite_size_note, plot_finite_size, theories_drawn
from .style import (FINITE_SIZE_STYLE, NO_DATA_GID, SYNAPSE_COLORS, THEORY_STYLE, letter_panels,
                    new_figure, no_data, reference_line, styled)

PAPER_THRESHOLD_PER_RECORD = 1e-6
"""Paper's convergence threshold: |dJ| per 10-ms record, scaled weight J = j/√N."""
PAPER_RECORD_S = 0.01
PAPER_N = 15000
PAPER_ETA0 = 2e-4
PAPER_J_NORM = 200.0
PAPER_DROPPED_S = 5.0
"""The paper's phase portrait drops the first 500 records (5 s at 10 ms)."""
SMOOTHING_S = 5.0
"""Moving-average window of the mean weight before differentiating (B, C)."""
C_COLORS = {0.0: "black", 0.1: "#e08214"}
"""Colours of the input correlations in the Fig 8 candidate."""


# ----------------------------------------------------------------------------- analysis
def effective_rate(runs: xr.Dataset) -> float:
    """η_eff = η₀√N/|j_norm| of the EI iSTDP rule of ``runs`` (NaN if unknown)."""
    for config in run_configs(runs):
        ei = config.get("plasticity", {}).get("ei")
        if ei and ei.get("rule") == "istdp":
            return ei["eta"] * math.sqrt(config["N"]) / abs(ei.get("j_norm", PAPER_J_NORM))
    return np.nan


def convergence_threshold(eta_eff: float) -> float:
    """|dj/dt| (mV/s) equivalent to the paper's 1e−6 per 10-ms record.

    The paper's threshold on the scaled weight is 1e−6·√N mV per 10 ms in unscaled j,
    i.e. 1e−4·√N mV/s at η_eff = η₀√N/|j_norm| = 2e−4·√N/200; drift scales with η_eff,
    so the equivalent threshold is 100 mV/s × η_eff, independent of N.
    """
    paper_eta = PAPER_ETA0 * math.sqrt(PAPER_N) / PAPER_J_NORM
    paper_mv_per_s = PAPER_THRESHOLD_PER_RECORD * math.sqrt(PAPER_N) / PAPER_RECORD_S
    return paper_mv_per_s / paper_eta * eta_eff


def smoothed_drift(time_s: np.ndarray, weight: np.ndarray, window_s: float = SMOOTHING_S,
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(time, moving-average weight, its derivative in mV/s) of a recorded trajectory.

    The moving average spans ``window_s`` (at least one record) and is kept where the
    window is full, at the window centres.
    """
    ok = np.isfinite(weight)
    time_s, weight = np.asarray(time_s, float)[ok], np.asarray(weight, float)[ok]
    if time_s.size < 3:
        return time_s[:0], weight[:0], weight[:0]
    step = float(np.median(np.diff(time_s)))
    width = int(min(max(1, round(window_s / step)), time_s.size - 2))
    kernel = np.ones(width) / width
    smooth = np.convolve(weight, kernel, mode="valid")
    centres = np.convolve(time_s, kernel, mode="valid")
    return centres, smooth, np.gradient(smooth, centres)


def convergence_time(time_s, weight, threshold: float, window_s: float = SMOOTHING_S) -> float:
    """First time (s) at which |smoothed dj/dt| < ``threshold`` (NaN: never)."""
    centres, _, drift = smoothed_drift(time_s, weight, window_s)
    below = np.flatnonzero(np.abs(drift) < threshold)
    return float(centres[below[0]]) if below.size else np.nan


# ----------------------------------------------------------------------------- panels
def _draw_convergence(ax, sweep, eta_eff: float) -> np.ndarray:
    """Time to convergence × η_eff per initial j_ei (panel B); returns the times in s."""
    threshold = convergence_threshold(eta_eff)
    times = np.array([convergence_time(sweep["time"], trace, threshold)
                      for trace in sweep["mean"]])
    ok = np.isfinite(times)
    ax.plot(sweep["initial"][ok], times[ok] * eta_eff, "o-", color=SYNAPSE_COLORS["ei"],
            markersize=3.5, linewidth=0.8, gid="convergence-time")
    for value in sweep["initial"][~ok]:
        ax.annotate("not\nconverged", (value, 0), xycoords=("data", "axes fraction"),
                    ha="center", va="bottom", fontsize=5.5, color="0.4", gid="not-converged")
    if not ok.any():
        ax.text(0.5, 0.5, f"no trajectory converged by T = {np.nanmax(sweep['time']):g} s",
                transform=ax.transAxes, ha="center", va="center", fontsize=7, color="0.4",
                gid=NO_DATA_GID)
    margin = 0.1 * max(np.ptp(sweep["initial"]), 10.0)    # keep unconverged labels in view
    ax.set_xlim(sweep["initial"].min() - margin, sweep["initial"].max() + margin)
    ax.set_xlabel(INITIAL_LABEL)
    ax.set_ylabel(r"$t_\mathrm{conv}\cdot\eta_\mathrm{eff}$ (s)")
    ax.set_ylim(bottom=0)
    if np.isfinite(eta_eff) and eta_eff > 0:
        seconds = ax.secondary_yaxis("right", functions=(lambda y: y / eta_eff,
                                                         lambda t: t * eta_eff))
        seconds.set_ylabel(r"$t_\mathrm{conv}$ (s)", fontsize=7)
    ax.text(0.98, 0.98, f"|smoothed dj/dt| < {threshold:.3g} mV/s\n"
            f"η_eff = η₀√N/|j_norm| = {eta_eff:.3g}",
            transform=ax.transAxes, ha="right", va="top", fontsize=6)
    return times


def _draw_phase_portrait(ax, sweep, color_of, eta_eff: float) -> None:
    """Smoothed dj/dt against j per trajectory, first records dropped, red start dot."""
    # The paper drops 5 s at its η_eff; the same fraction of a relaxation time here,
    # but never more than a tenth of the run.
    paper_eta = PAPER_ETA0 * math.sqrt(PAPER_N) / PAPER_J_NORM
    dropped_s = PAPER_DROPPED_S * paper_eta / eta_eff if np.isfinite(eta_eff) else 0.0
    dropped_s = min(dropped_s, 0.1 * float(np.nanmax(sweep["time"])))
    for value, trace in zip(sweep["initial"], sweep["mean"]):
        centres, smooth, drift = smoothed_drift(sweep["time"], trace)
        keep = centres >= dropped_s
        if not keep.any():
            continue
        ax.plot(smooth[keep], drift[keep], color=color_of(value), linewidth=0.9,
                gid=f"phase|{INITIAL_WEIGHT}={value:g}")
        ax.plot(smooth[keep][0], drift[keep][0], "o", color="red", markersize=3.5,
                gid=f"phase-start|{INITIAL_WEIGHT}={value:g}")
    reference_line(ax)
    ax.set_xlabel("Mean inh weight $j_{ei}$ (mV)")
    ax.set_ylabel("$dj_{ei}/dt$ (mV/s)")
    ax.text(0.98, 0.02, f"first {dropped_s:.2g} s dropped; red: start",
            transform=ax.transAxes, ha="right", va="bottom", fontsize=6)


INPUT_CURVES = (("measured_mean_input", r"$R_\mathrm{total}$ = ⟨Jr⟩ (sim.)", "black", "o"),
                ("mean_field_input", r"$R_\mathrm{mean}$ = ⟨J⟩⟨r⟩", "0.55", "s"),
                ("input_difference", r"$R_\mathrm{total} - R_\mathrm{mean}$", "#1f5aa6", "^"),
                ("rate_weight_cov_input", r"$\sqrt{N}\,p\,q_i\,\mathrm{Cov}(j_{ei}, r_i)$",
                 SYNAPSE_COLORS["ei"], "D"))


def _draw_inputs(ax, runs, theory, row, sweep) -> None:
    """R_total, R_mean, their difference and the covariance input to E (panel E), with
    the covariance the manifold relation implies from the final weights (dashed)."""
    for name, label, color, marker in INPUT_CURVES:
        x, y = theory_along_sweep(theory, name, row, population="E")
        if x.size:
            ax.plot(x, y, marker=marker, color=color, markersize=3.5, linewidth=0.9,
                    label=label, gid=f"input|{name}")
    configs = run_configs(runs)
    j0 = scalar_theory(theory, "leading_order_fixed_point_weight", row, LEADING_ORDER_J_EI,
                        synapse="ei")
    r_i = scalar_theory(theory, "leading_order_fixed_point_rate", row, np.nan, population="I")
    if configs and np.isfinite(r_i):
        cfg = configs[0]
        scale = (math.sqrt(cfg["N"]) * cfg["connection_probability"]
                 * (1.0 - cfg["excitatory_fraction"]) / 1000.0)
        implied = scale * r_i * (j0 - sweep["final_mean"])
        ok = np.isfinite(implied)
        ax.plot(sweep["initial"][ok], implied[ok], color=SYNAPSE_COLORS["ei"],
                gid="input-theory", label=r"theory: $\sqrt{N} p q_i r_i^* (j^*_0 - \bar j_{ei})$",
                **THEORY_STYLE)
    reference_line(ax)
    ax.text(0.5, 0.99, "spec §6.7: Cov > 0 from strong, < 0 from weak initial inhibition",
            transform=ax.transAxes, ha="center", va="top", fontsize=6.5)
    ax.set_xlabel(INITIAL_LABEL)
    ax.set_ylabel("Mean input to E, [T/2, T] (mV/ms)")
    ax.legend(loc="lower left", fontsize=6)


# ----------------------------------------------------------------------------- figures


def _row_at_c(runs: xr.Dataset, c: float) -> dict | None:
    """The facet (rule, c, …) of the sweep at input correlation ``c`` (None: absent)."""
    rows = [row for row in facets(runs, skip=("seed", INITIAL_WEIGHT))
            if math.isclose(float(row["c"]), c, abs_tol=1e-12)]
    return rows[0] if rows else None


@styled
def plot_istdp_manifold(sweep) -> Figure:
    """Paper Fig 7: the iSTDP manifold at c = 0 (the first c if 0 was not run).

    Parameters
    ----------
    sweep : ExperimentData
        ``runs``: aggregate with a ``weights_ei`` dimension (initial j_ei, mV);
        ``theory``: its Δ-corrected theory aggregate (``fixed_point_weight``,
        ``manifold_weight``, ``leading_order_fixed_point_weight``/``_rate``,
        ``measured_mean_input``, ``mean_field_input``, ``input_difference``,
        ``rate_weight_cov_input``, ``mean_weight``).

    Returns
    -------
    matplotlib.figure.Figure
        Panels with axes gids ``fig7-A`` … ``fig7-E``: A trajectories
        (``manifold-trace|…``, ODE ``manifold-ode|…``); B convergence time × η_eff
        (``convergence-time``); C phase portrait (``phase|…``, start ``phase-start|…``);
        D final vs initial (``manifold-final``, ``manifold-theory``,
        ``manifold-relation``, ``leading-order``, and ``finite-size-fixed-point`` when
        ``sweep.finite_size`` is given); E inputs to E (``input|<variable>``,
        ``input-theory``).
    """
    runs, theory = checked_sweep(sweep.runs, "plot_istdp_manifold"), sweep.theory
    row = _row_at_c(runs, 0.0) or facets(runs, skip=("seed", INITIAL_WEIGHT))[0]
    data = sweep_trajectories(runs, row)
    eta_eff = effective_rate(runs)
    color_of, mappable = initial_colors(data["initial"])
    fig = new_figure(11.0, 7.4)
    axes = fig.subplot_mosaic([["A", "B", "C"], ["D", "E", "E"]])
    titles = {"A": "mean $j_{ei}$(t)", "B": "time to convergence", "C": "phase portrait",
              "D": "final vs initial $j_{ei}$", "E": "rate–weight covariance in the E input"}
    for name, ax in axes.items():
        ax.set_gid(f"fig7-{name}")
        ax.set_title(titles[name])
    letter_panels([axes[name] for name in "ABCDE"])
    finite_size = getattr(sweep, "finite_size", None)
    draw_trajectories(axes["A"], data, theory, row, color_of, ode=True,
                      finite_size=finite_size)
    fig.colorbar(mappable, ax=axes["A"], label="initial $j_{ei}$ (mV)", aspect=30, pad=0.02)
    _draw_convergence(axes["B"], data, eta_eff)
    _draw_phase_portrait(axes["C"], data, color_of, eta_eff)
    draw_final_vs_initial(axes["D"], theory, row, data, manifold=True)
    plot_finite_size(axes["D"], finite_size, "fixed_point_weight", row,
                     along=INITIAL_WEIGHT, synapse="ei", gid="finite-size-fixed-point",
                     label="finite-size theory")
    axes["D"].legend(loc="upper left", fontsize=6)
    _draw_inputs(axes["E"], runs, theory, row, data)
    note = finite_size_note(finite_size)
    fig.suptitle(f"Fig 7 — EI iSTDP weights converge to a manifold ({facet_label(row)}); "
                 f"theory: {theories_drawn(theory, finite_size)}"
                 + (f"\n{DELTA_NOTE}" if theory is not None else "")
                 + (f"; {note}" if note else ""), fontsize=9)
    return fig


@styled
def plot_manifold_correlated(sweep) -> Figure:
    """Fig 8 candidate: the iSTDP manifold at c = 0.1 beside c = 0.

    Parameters
    ----------
    sweep : ExperimentData
        The initial-condition sweep over c (``runs`` and its Δ-corrected ``theory``).

    Returns
    -------
    matplotlib.figure.Figure
        A (gid ``fig8a-A``): final vs initial j_ei per c (``manifold-final|c=…``) with
        the Δ-corrected theory (``manifold-theory|c=…``); B (``fig8a-B``): the shift
        between the correlated and uncorrelated finals, simulated (``shift-sim``) and
        theoretical (``shift-theory``); C (``fig8a-C``): trajectories at the largest c.
    """
    runs, theory = checked_sweep(sweep.runs, "plot_manifold_correlated"), sweep.theory
    finite_size = getattr(sweep, "finite_size", None)
    c_values = sorted(float(c) for c in coord_values(runs, "c"))
    fig = new_figure(11.0, 4.6)
    ax_final, ax_shift, ax_time = fig.subplots(1, 3)
    largest_c = format_value(c_values[-1])
    for name, ax, title in (("A", ax_final, "final vs initial $j_{ei}$"),
                            ("B", ax_shift, "shift by input correlations"),
                            ("C", ax_time, f"mean $j_{{ei}}$(t), c = {largest_c}")):
        ax.set_gid(f"fig8a-{name}")
        ax.set_title(title)
    letter_panels((ax_final, ax_shift, ax_time))
    sweeps, theories, finite = {}, {}, {}
    for k, c in enumerate(c_values):
        row = _row_at_c(runs, c)
        sweeps[c] = sweep_trajectories(runs, row)
        theories[c] = dict(zip(*theory_along_sweep(theory, "fixed_point_weight", row,
                                                    synapse="ei")))
        color = C_COLORS.get(c, f"C{k}")
        draw_final_vs_initial(ax_final, theory, row, sweeps[c], reference=k == 0,
                               color=color, label=f"c={format_value(c)}")
        drawn = plot_finite_size(ax_final, finite_size, "fixed_point_weight", row,
                                 along=INITIAL_WEIGHT, synapse="ei",
                                 gid=f"finite-size-fixed-point|c={format_value(c)}",
                                 label=f"finite-size theory c={format_value(c)}",
                                 style={"color": color})
        if drawn is not None:
            finite[c] = dict(zip(drawn[INITIAL_WEIGHT].values.astype(float),
                                 drawn.values.astype(float)))
    ax_final.legend(loc="upper left", fontsize=6)
    if len(c_values) > 1:
        low, high = c_values[0], c_values[-1]
        initial = sweeps[high]["initial"]
        shift = sweeps[high]["final_mean"] - sweeps[low]["final_mean"]
        ok = np.isfinite(shift)
        ax_shift.plot(initial[ok], shift[ok], "o", color=C_COLORS.get(high, "C1"),
                      gid="shift-sim", label="simulation")
        shift_theory = np.array([theories[high].get(v, np.nan) - theories[low].get(v, np.nan)
                                 for v in initial])
        ok = np.isfinite(shift_theory)
        ax_shift.plot(initial[ok], shift_theory[ok], color="black", gid="shift-theory",
                      label="Δ-corrected theory", **THEORY_STYLE)
        if low in finite and high in finite:
            shift_finite = np.array([finite[high].get(v, np.nan) - finite[low].get(v, np.nan)
                                     for v in initial])
            ok = np.isfinite(shift_finite)
            ax_shift.plot(initial[ok], shift_finite[ok], gid="shift-finite-size",
                          label="finite-size theory", marker="s", markersize=3,
                          markerfacecolor="white", **FINITE_SIZE_STYLE)
        leading = [scalar_theory(theory, "leading_order_fixed_point_weight", _row_at_c(runs, c),
                                 np.nan, synapse="ei") for c in (low, high)]
        if np.isfinite(leading).all():
            ax_shift.axhline(leading[1] - leading[0], color="0.45", linestyle=":",
                             gid="shift-leading-order", label="leading order (spec §6.8)")
        reference_line(ax_shift)
        ax_shift.set_xlabel(INITIAL_LABEL)
        ax_shift.set_ylabel(f"final $j_{{ei}}$(c = {format_value(high)}) − "
                            f"final $j_{{ei}}$(c = {format_value(low)}) (mV)")
        ax_shift.legend(loc="lower left", bbox_to_anchor=(0.0, 0.56), fontsize=6)
    else:
        no_data(ax_shift, "one c only")
    color_of, mappable = initial_colors(sweeps[c_values[-1]]["initial"])
    draw_trajectories(ax_time, sweeps[c_values[-1]], theory, _row_at_c(runs, c_values[-1]),
                      color_of, ode=True, finite_size=finite_size)
    fig.colorbar(mappable, ax=ax_time, label="initial $j_{ei}$ (mV)", aspect=30, pad=0.02)
    note = finite_size_note(finite_size)
    fig.suptitle("Fig 8 candidate — iSTDP manifold with correlated input; theory: "
                 f"{theories_drawn(theory, finite_size)}"
                 + (f"\n{DELTA_NOTE}" if theory is not None else "")
                 + (f"; {note}" if note else ""), fontsize=9)
    return fig
