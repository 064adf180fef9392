"""Optogenetic stimulation (paper Fig 6, spec §6.10, §10).

E1 (opsin-expressing) receives the laser layer X2 during a window; EI iSTDP on E1←I
and E2←I strengthens E1's inhibition until E1 fires at ρ_e again, and relaxes it after
the laser is switched off. :func:`plot_optogenetics` draws the network (A), the two
inhibitory weights against the Δ-corrected theory (B), the spike-count correlations
before / during / after the stimulation (C, D), the population rates (E) and the mean
inputs (F), with time relative to the laser onset.

The per-epoch correlations come from the run variables ``epoch_spike_count_corr``
(epoch, pair_type) and ``epoch_sampled_spike_count_corr`` (epoch, pair_type,
pair_sample), each epoch's counts from its second half (spec §10); runs recorded
without them get a note on those panels instead.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch

from ..estimators import running_mean
from ..selection import at_point, by_seed, divergence, ensure_swept, run_configs, theory_at
from .facets import coord_values
from .labels import SYNAPSE_AXIS_LABELS, format_value
from .panels import (annotate_divergence, finite_size_covers, finite_size_note, theories_drawn,
                     theory_name)
from .style import (FINITE_SIZE_STYLE, POPULATION_COLORS, SOURCE_COLORS, THEORY_STYLE,
                    letter_panels, new_figure, no_data, reference_line, styled)

EPOCHS = ("before", "during", "after")
EPOCH_COLORS = {"before": "0.45", "during": "#e6a100", "after": "#1b7837"}
PAIR_TYPES = ("e1e1", "e1e2", "e1i", "e2i", "ii")
"""Pair types of panel C (clean off-diagonal blocks, spec §10)."""
WEIGHT_COLORS = {"e1i": "#1b5e20", "e2i": "#7bc77e"}
"""Dark green j_E1I, light green j_E2I (spec §8 Fig 6B)."""
RATE_COLORS = {"E1": "#0b3d91", "E2": "#7fa8e0", "I": POPULATION_COLORS["I"]}
RATE_SMOOTHING_S = 2.0
INPUT_SMOOTHING_S = 1.0
NO_EPOCHS = "per-epoch correlations not recorded in this run"
LASER_COLOR = "#fff3c4"
HISTOGRAM_BINS = np.linspace(-0.5, 0.5, 41)


def laser_window(runs: xr.Dataset) -> tuple[float, float]:
    """(onset, offset) of the laser in s, from the stored run configs."""
    for config in run_configs(runs):
        opto = config.get("optogenetics", {})
        if opto.get("enabled"):
            return float(opto["start_s"]), float(opto["stop_s"])
    raise ValueError("plot_optogenetics needs runs with optogenetics enabled in their config")


def moving_average(values: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average over ``width`` records (NaN where the window is cut)."""
    if width <= 1:
        return values
    out = np.full(values.shape, np.nan)
    smooth = np.convolve(values, np.ones(width) / width, mode="valid")
    start = (width - 1) // 2
    out[start:start + smooth.size] = smooth
    return out


def _seed_mean(da) -> np.ndarray:
    return running_mean(by_seed(da, "time"))[0]


def _records(runs, seconds: float) -> int:
    step = float(np.median(np.diff(runs["time"].values)))
    return max(1, int(round(seconds / step)))


# ----------------------------------------------------------------------------- panels
def _draw_network(ax) -> None:
    """Schematic: E1, E2, I recurrently coupled, X1 → all, laser X2 → E1 only."""
    nodes = {"E1": (0.25, 0.55, RATE_COLORS["E1"]), "E2": (0.55, 0.55, RATE_COLORS["E2"]),
             "I": (0.85, 0.55, RATE_COLORS["I"]), "X1": (0.55, 0.12, SOURCE_COLORS["X"]),
             "X2": (0.25, 0.92, "#e6a100")}
    for name, (x, y, color) in nodes.items():
        ax.add_patch(Circle((x, y), 0.09, color=color, alpha=0.85, gid=f"node|{name}"))
        ax.text(x, y, name, ha="center", va="center", color="white", fontsize=8,
                fontweight="bold")
    ax.text(0.37, 0.92, "laser", va="center", fontsize=7, color="#b37400")

    def arrow(a, b, color, style="-|>", rad=0.0, gid=None):
        (xa, ya, _), (xb, yb, _) = nodes[a], nodes[b]
        ax.add_patch(FancyArrowPatch((xa, ya), (xb, yb), arrowstyle=style, mutation_scale=9,
                                     color=color, shrinkA=13, shrinkB=13, linewidth=1.1,
                                     connectionstyle=f"arc3,rad={rad}", gid=gid))
    arrow("X2", "E1", "#e6a100", gid="arrow|X2-E1")
    for target in ("E1", "E2", "I"):
        arrow("X1", target, SOURCE_COLORS["X"], gid=f"arrow|X1-{target}")
    arrow("E1", "E2", POPULATION_COLORS["E"], "<|-|>", gid="arrow|E1-E2")
    arrow("E2", "I", POPULATION_COLORS["E"], rad=-0.3, gid="arrow|E2-I")
    arrow("I", "E2", POPULATION_COLORS["I"], "-[", rad=-0.3, gid="arrow|I-E2")
    arrow("E1", "I", POPULATION_COLORS["E"], rad=-0.45, gid="arrow|E1-I")
    arrow("I", "E1", POPULATION_COLORS["I"], "-[", rad=-0.45, gid="arrow|I-E1")
    ax.text(0.72, 0.16, "plastic (iSTDP):\nI→E1, I→E2", ha="left", va="center", fontsize=6.5)
    ax.set_xlim(0, 1.05)
    ax.set_ylim(0, 1.05)
    ax.set_aspect("equal")
    ax.axis("off")


def _draw_weights(ax, runs, theory, key, onset, finite_size=None) -> None:
    for synapse in ("e1i", "e2i"):
        da = at_point(runs, "mean_weight", key, synapse=synapse)
        label = f"$j_{{{synapse[:2].upper()}I}}$"
        if da is not None:
            mean = _seed_mean(da)
            ok = np.isfinite(mean)
            ax.plot(da["time"].values[ok] - onset, mean[ok], color=WEIGHT_COLORS[synapse],
                    linewidth=1.4, label=f"{label} simulation", gid=f"weight|{synapse}")
        ode = theory_at(theory, "mean_weight", key, synapse=synapse)
        if ode is not None:
            ax.plot(ode["time"].values - onset, ode.values, color=WEIGHT_COLORS[synapse],
                    label=f"{label} {theory_name(theory)}", gid=f"theory|{synapse}",
                    **THEORY_STYLE)
        drawn = theory_at(finite_size, "mean_weight", key, synapse=synapse) \
            if finite_size_covers(finite_size, key) else None
        if drawn is not None:
            ax.plot(drawn["time"].values - onset, drawn.values,
                    label=f"{label} finite-size theory", gid=f"finite-size|{synapse}",
                    **{**FINITE_SIZE_STYLE, "color": WEIGHT_COLORS[synapse]})
    note = finite_size_note(finite_size, key)
    if note:
        ax.text(0.02, 0.97, note, transform=ax.transAxes, ha="left", va="top", fontsize=6,
                gid="finite-size-note", color="0.35")
    ax.set_ylabel(SYNAPSE_AXIS_LABELS["ei"])
    ax.legend(loc="lower right", fontsize=6, ncol=2)


def _epoch_values(runs, name, key) -> xr.DataArray | None:
    da = at_point(runs, name, key)
    if da is None or "epoch" not in da.dims:
        return None
    return da.mean("seed", skipna=True) if "seed" in da.dims else da


def _no_epochs(ax) -> None:
    no_data(ax, NO_EPOCHS)
    ax.texts[-1].set_fontsize(6.5)      # the sentence must fit a third of the width
    ax.texts[-1].set_gid("no-epochs")


def _draw_epoch_means(ax, runs, theory, key) -> None:
    corr = _epoch_values(runs, "epoch_spike_count_corr", key)
    if corr is None:
        _no_epochs(ax)
        return
    pairs = [p for p in PAIR_TYPES if p in corr["pair_type"].values]
    x = np.arange(len(pairs))
    width = 0.8 / len(EPOCHS)
    for k, epoch in enumerate(EPOCHS):
        values = corr.sel(epoch=epoch, pair_type=pairs).values
        ax.bar(x + (k - 1) * width, values, width, color=EPOCH_COLORS[epoch], label=epoch,
               gid=f"epoch-corr|{epoch}")
    predicted = theory_at(theory, "spike_count_corr", key)
    if predicted is not None and "pair_type" in predicted.dims:
        values = predicted.reindex(pair_type=pairs).values
        ax.plot(x, values, "_", color="black", markersize=14, markeredgewidth=1.5,
                label="theory (spec §6.2)", gid="epoch-corr-theory")
    reference_line(ax)
    ax.set_xticks(x, [p.upper() for p in pairs])
    ax.set_ylabel("Mean spike-count correlation")
    ax.legend(fontsize=6, loc="upper right")


def _draw_epoch_histograms(ax, runs, key) -> None:
    sampled = _epoch_values(runs, "epoch_sampled_spike_count_corr", key)
    if sampled is None:
        _no_epochs(ax)
        return
    for epoch in EPOCHS:
        values = sampled.sel(epoch=epoch).values.ravel()
        values = values[np.isfinite(values)]
        ax.hist(values, bins=HISTOGRAM_BINS, histtype="step", color=EPOCH_COLORS[epoch],
                linewidth=1.2, label=epoch, gid=f"epoch-hist|{epoch}")
        if values.size:
            ax.axvline(values.mean(), color=EPOCH_COLORS[epoch], linewidth=0.8,
                       linestyle=":", gid=f"epoch-hist-mean|{epoch}",
                       label=f"mean, {epoch} (dotted)")
    ax.set_xlabel("Spike-count correlation")
    ax.set_ylabel("Sampled pairs")
    ax.legend(fontsize=6)


def _draw_rates(ax, runs, theory, key, onset, finite_size=None) -> None:
    width = _records(runs, RATE_SMOOTHING_S)
    for population in ("E1", "E2", "I"):
        da = at_point(runs, "population_rate", key, population=population)
        if da is None:
            continue
        rate = moving_average(_seed_mean(da), width)
        ax.plot(da["time"].values - onset, rate, color=RATE_COLORS[population],
                label=population, gid=f"rate|{population}")
        predicted = theory_at(theory, "population_rate", key, population=population)
        if predicted is not None and "time" in predicted.dims:
            ax.plot(predicted["time"].values - onset, predicted.values,
                    color=RATE_COLORS[population], gid=f"rate-theory|{population}",
                    label=f"{population} {theory_name(theory)}",
                    **{**THEORY_STYLE, "linewidth": 0.9})
        drawn = theory_at(finite_size, "population_rate", key, population=population) \
            if finite_size_covers(finite_size, key) else None
        if drawn is not None and "time" in drawn.dims:
            ax.plot(drawn["time"].values - onset, drawn.values,
                    gid=f"rate-finite-size|{population}",
                    label=f"{population} finite-size theory",
                    **{**FINITE_SIZE_STYLE, "color": RATE_COLORS[population],
                       "linewidth": 0.9})
    target = [cfg["plasticity"]["ei"].get("target_rate_hz") for cfg in run_configs(runs)
              if "ei" in cfg.get("plasticity", {})]
    if target and target[0]:
        ax.axhline(target[0], color="0.3", linestyle=":", linewidth=0.8,
                   label=rf"$\rho_e$ = {target[0]:g} Hz", gid="target-rate")
    ax.set_ylabel("Rate (Hz)")
    ax.legend(fontsize=5.5, ncol=2, loc="upper right")


def _draw_inputs(ax, runs, key, onset) -> None:
    width = _records(runs, INPUT_SMOOTHING_S)
    for source in ("E", "X", "I", "total"):
        da = at_point(runs, "mean_input", key, population="E1", source=source)
        if da is None:
            continue
        ax.plot(da["time"].values - onset, moving_average(_seed_mean(da), width),
                color=SOURCE_COLORS[source], linewidth=1.3 if source == "total" else 1.0,
                label=source, gid=f"input|{source}")
    reference_line(ax)
    ax.set_ylabel("Mean input to E1 (mV/ms)")
    ax.legend(fontsize=6, ncol=4, loc="lower left")


@styled
def plot_optogenetics(stimulation) -> Figure:
    """Paper Fig 6: optogenetic stimulation of E1 with EI iSTDP (spec §6.10).

    Parameters
    ----------
    stimulation : ExperimentData
        ``runs``: aggregate of runs with optogenetics (populations E1, E2, I; synapse
        blocks ``e1i``, ``e2i``; optionally the per-epoch correlation variables);
        ``theory``: its Δ-corrected theory aggregate (``mean_weight`` of ``e1i``/``e2i``).

    Returns
    -------
    matplotlib.figure.Figure
        Axes gids ``fig6-A`` … ``fig6-F``; artists ``weight|e1i``, ``theory|e1i``, …
        (B), ``epoch-corr|<epoch>`` bars and ``epoch-corr-theory`` (C),
        ``epoch-hist|<epoch>`` (D), ``rate|E1`` … (E), ``input|E`` … (F). Drawn at
        c = 0 (the first c if 0 was not run).
    """
    runs, theory = ensure_swept(stimulation.runs), stimulation.theory
    finite_size = stimulation.finite_size
    onset, offset = laser_window(runs)
    c_values = [float(c) for c in coord_values(runs, "c")]
    key = {"rule": coord_values(runs, "rule")[0], "c": 0.0 if 0.0 in c_values else c_values[0]}
    fig = new_figure(11.0, 7.9)
    axes = fig.subplot_mosaic([["A", "B", "B"], ["C", "D", "E"], ["F", "F", "E"]])
    titles = {"A": "network", "B": "inhibitory weights", "C": "mean correlations by epoch",
              "D": "correlation histograms", "E": "population rates", "F": "mean inputs to E1"}
    for name, ax in axes.items():
        ax.set_gid(f"fig6-{name}")
        ax.set_title(titles[name])
    letter_panels([axes[name] for name in "ABCDEF"])
    _draw_network(axes["A"])
    _draw_weights(axes["B"], runs, theory, key, onset, finite_size)
    _draw_epoch_means(axes["C"], runs, theory, key)
    _draw_epoch_histograms(axes["D"], runs, key)
    _draw_rates(axes["E"], runs, theory, key, onset, finite_size)
    _draw_inputs(axes["F"], runs, key, onset)
    seeds, flags, times = divergence(runs, key)
    for name in ("B", "E", "F"):
        ax = axes[name]
        ax.axvspan(0.0, offset - onset, color=LASER_COLOR, zorder=0, gid="laser-window",
                   label="laser on")
        ax.set_xlabel("Time from laser onset (s)")
        annotate_divergence(ax, seeds, flags, times - onset)
    fig.suptitle(f"Fig 6 — optogenetic stimulation of E1 with EI iSTDP "
                 f"(c = {format_value(key['c'])}); theory: "
                 f"{theories_drawn(theory, finite_size, key)}")
    return fig
