"""Statistics of one plastic network in its converged state (spec §8 Figs 3, 4, 5):
raster, weight traces against the mean-field theory, final weight, rate, count
covariance and correlation histograms, mean currents and the Kolmogorov–Smirnov
stationarity check of spec §5.5.

One draw function serves Fig 3 (Kohonen), Fig 4 (EI iSTDP, τ_STDP = 50 ms, Δ-corrected
theory) and Fig 5 (soft Hebbian): it reads the c = 0 runs of the experiment of its
``main`` role and, when the experiment also has c = 0.1, adds that raster (Fig 3 A′).
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from scipy import stats

from ..estimators import final_values
from ..selection import ExperimentData, divergence, ensure_swept, run_configs, theory_at
from .facets import coord_values
from .labels import SYNAPSE_AXIS_LABELS, final_label, rule_name
from .convergence import weight_convergence
from .panels import (DELTA_NOTE, THEORY_COLOR, draw_currents, draw_weight_traces, first_seed,
                     fixed_point, fixed_point_rates, is_delta_corrected, main_synapse, mark_value,
                     plot_finite_size, pooled, state_convergence, theories_drawn, theory_name,
                     TraceStyle)
from .style import (FINITE_SIZE_FIXED_POINT, POPULATION_COLORS, SYNAPSE_COLORS, figure_legend,
                    letter_panels, new_figure, no_data, styled)


KS_FRACTION = 0.4
"""The KS test compares the sampled weights at this fraction of the run (the paper's
record 40000 of 10^5, i.e. 40 % of T) with the final record (spec §5.5)."""

RASTER_C_EXTRA = 0.1
"""Input correlation of the second raster (Fig 3 A′), drawn when the experiment has it."""

PAIR_TYPES = ("ee", "ei", "ii")
"""Pooled count-covariance pair types (coloured like the synapse types)."""

KS_LEVEL = 0.05
"""A KS p-value below this rejects "the same distribution at 40 % of T and at T"."""

FINITE_SIZE_TRAJECTORY = "finite-size theory: trajectory, its value at T (dash-dot)"
FINITE_SIZE_FIXED = "finite-size theory: j*, rates at j* (dotted)"
"""The figure's two legend entries of the finite-size theory (magenta)."""


def theory_entry(theory) -> str:
    """One legend entry for the orange dashed lines of the other theory (ODE, j*, rates
    at j*)."""
    return f"{theory_name(theory)}: ODE, j*, rates at j* (orange dashed)"


def trace_style(theory) -> TraceStyle:
    """Weight traces whose theory lines share the figure's legend entries."""
    return TraceStyle(ode_label=theory_entry(theory),
                      fixed_point_label="stable fixed point j*, {theory} (grey dotted)",
                      finite_size_label=FINITE_SIZE_TRAJECTORY,
                      finite_size_fixed_point_label=FINITE_SIZE_FIXED)


@styled
def plot_statistics(main: "ExperimentData") -> Figure:
    """Raster, weights, rates, covariances, currents and KS check of one experiment.

    Parameters
    ----------
    main : ExperimentData
        Runs and theory aggregates of the experiment (one rule; its c = 0 runs are
        shown, plus the c = 0.1 raster when present), and its finite-size theory when
        computed (drawn dash-dot: ``finite-size-mean_weight``, ``finite-size-fixed-point``
        in ``traces`` and ``final-weights``, ``finite-size-rate`` in ``rates|…``).

    Returns
    -------
    matplotlib.figure.Figure
        Axes gids: ``raster|c=0`` (and ``raster|c=0.1``; spike dots ``raster-E``,
        ``raster-I``), ``traces`` (see :func:`panels.draw_weight_traces`),
        ``final-weights`` (``hist-weights``, ``sim-mean-line``, ``theory-fixed-point``),
        ``rates|E`` / ``rates|I`` (``hist-rate``, ``sim-mean-line``, ``theory-rate``),
        ``covariance`` / ``correlation`` (``hist-<pair>``, ``sim-mean-<pair>``,
        ``theory-<pair>``), ``currents`` and ``ks`` (``ecdf-intermediate``,
        ``ecdf-final``, text ``ks-result``).
    """
    runs, theory, finite_size = ensure_swept(main.runs), main.theory, main.finite_size
    rule = coord_values(runs, "rule")[0]
    c_values = coord_values(runs, "c")
    c_main = min(c_values, key=abs)
    key = {"rule": rule, "c": c_main}
    synapse = main_synapse(runs, rule)
    extra_c = next((c for c in c_values if np.isclose(c, RASTER_C_EXTRA)), None)

    fig = new_figure(13.0, 9.0)
    grid = fig.add_gridspec(3, 4)
    rasters = [c_main] + ([extra_c] if extra_c is not None else [])
    order = []
    for column, c in enumerate(rasters):
        order.append(fig.add_subplot(grid[0, column]))
        _draw_raster(order[-1], runs, {"rule": rule, "c": c})
    traces_ax = fig.add_subplot(grid[0, len(rasters):])
    order.append(traces_ax)
    traces_ax.set_gid("traces")
    if draw_weight_traces(traces_ax, runs, theory, key, synapse, trace_style(theory),
                          finite_size=finite_size):
        traces_ax.set_title(f"{synapse.upper()} weights, c = {c_main:g}")
        verdict = weight_convergence(runs, finite_size, key, synapse)
        state_convergence(traces_ax, verdict, detail=True)
    order.append(fig.add_subplot(grid[1, 0]))
    _draw_final_weights(order[-1], runs, theory, key, synapse, finite_size)
    for column, population in enumerate(POPULATION_COLORS, start=1):
        order.append(fig.add_subplot(grid[1, column]))
        _draw_rate_histogram(order[-1], runs, theory, key, population, finite_size)
    order.append(fig.add_subplot(grid[1, 3]))
    _draw_ks(order[-1], runs, key, synapse)
    order.append(fig.add_subplot(grid[2, 0]))
    _draw_pair_histogram(order[-1], runs, theory, key, "cov")
    order.append(fig.add_subplot(grid[2, 1]))
    _draw_pair_histogram(order[-1], runs, theory, key, "corr")
    currents_ax = fig.add_subplot(grid[2, 2:])
    order.append(currents_ax)
    currents_ax.set_gid("currents")
    if draw_currents(currents_ax, runs, key):
        currents_ax.set_title("Mean input to E neurons (seed mean)")
        currents_ax.legend(loc="center right", fontsize=6, ncol=3, frameon=True,
                           framealpha=0.9, edgecolor="none")   # readable over the curves
    letter_panels(order)
    fig.suptitle(f"{rule_name(rule)}: network statistics at c = {c_main:g} — theory: "
                 f"{theories_drawn(theory, finite_size, key)}"
                 + (f"\n{DELTA_NOTE}" if is_delta_corrected(theory) else ""))
    figure_legend(fig, max_columns=3)
    return fig


def _draw_raster(ax, runs, key) -> None:
    ax.set_gid(f"raster|c={key['c']:g}")
    ax.set_title(f"Raster, last 1 s, c = {key['c']:g}")
    times = first_seed(runs, "raster_time", key)
    neurons = first_seed(runs, "raster_neuron", key)
    if times is None or neurons is None:
        no_data(ax)
        return
    times, neurons = times.values.astype(float), neurons.values.astype(float)
    ok = np.isfinite(times) & np.isfinite(neurons)
    times, neurons = times[ok], neurons[ok]
    n_excitatory = _excitatory_count(runs)
    for population, is_population in (("E", neurons < n_excitatory),
                                      ("I", neurons >= n_excitatory)):
        ax.scatter(times[is_population], neurons[is_population], s=0.3, linewidths=0,
                   color=POPULATION_COLORS[population], gid=f"raster-{population}",
                   rasterized=True)
    ax.set_xlabel("Time (s)")
    ax.set_ylabel("Neuron")
    if times.size:
        ax.set_xlim(times.min(), times.min() + 1.0 if times.max() - times.min() <= 1.0
                    else times.max())


def _excitatory_count(runs) -> int:
    """Number of E neurons (from ``neuron_population``, else from the run config)."""
    if "neuron_population" in runs.coords:
        labels = np.asarray(runs["neuron_population"].values).astype(str).reshape(-1)
        return int(np.sum(np.char.startswith(labels, "E")))
    config = run_configs(runs)[0]
    return int(round(config["N"] * config["network"]["q_e"]))


def _draw_final_weights(ax, runs, theory, key, synapse, finite_size=None) -> None:
    ax.set_gid("final-weights")
    ax.set_title("Final weights (sampled)")
    sampled = runs["sampled_weight"].sel(synapse=synapse, **{d: v for d, v in key.items()
                                                              if d in runs.dims})
    flags = divergence(runs, key)[1]
    values = sampled.transpose("seed", "sample", "time").values.astype(float)
    final = final_values(values, flags[:, None])
    final = final[np.isfinite(final)]
    if final.size == 0:
        no_data(ax)
        return
    ax.hist(final, bins=40, color=SYNAPSE_COLORS[synapse], alpha=0.8, gid="hist-weights")
    mark_value(ax, float(np.mean(final)), "black", "sim-mean-line", "simulated mean")
    fixed = fixed_point(theory, key, synapse)
    if fixed is not None:
        mark_value(ax, fixed, THEORY_COLOR, "theory-fixed-point", theory_entry(theory),
                   linestyle="--")
    plot_finite_size(ax, finite_size, "fixed_point_weight", key, vertical=True, synapse=synapse,
                     label=FINITE_SIZE_FIXED, gid="finite-size-fixed-point",
                     style=FINITE_SIZE_FIXED_POINT)
    plot_finite_size(ax, finite_size, "mean_weight", key, vertical=True, at_end=True,
                     synapse=synapse, label=FINITE_SIZE_TRAJECTORY, gid="finite-size-at-T")
    ax.set_xlabel(final_label(synapse))
    ax.set_ylabel("Count")


def _draw_rate_histogram(ax, runs, theory, key, population, finite_size=None) -> None:
    ax.set_gid(f"rates|{population}")
    ax.set_title(f"{population} rates, (T/2, T]")
    rates = runs["neuron_rate"].sel({d: v for d, v in key.items() if d in runs.dims})
    if "neuron_population" in rates.coords:
        labels = np.asarray(rates["neuron_population"].values).astype(str)
        rates = rates.isel(neuron=np.flatnonzero(np.char.startswith(labels, population)))
    else:
        n_excitatory = _excitatory_count(runs)
        rates = rates.isel(neuron=slice(0, n_excitatory) if population == "E"
                           else slice(n_excitatory, None))
    values = rates.values.astype(float).reshape(-1)
    values = values[np.isfinite(values)]
    if values.size == 0:
        no_data(ax)
        return
    upper = 50.0 if population == "E" else 150.0       # spec §8 Fig 3 axes
    upper = max(upper, float(np.percentile(values, 99.5)))
    ax.hist(values, bins=50, range=(0.0, upper), color=POPULATION_COLORS[population], alpha=0.8,
            gid="hist-rate")
    mark_value(ax, float(np.mean(values)), "black", "sim-mean-line", "simulated mean")
    theory_rate = fixed_point_rates(theory, key).get(population)
    if theory_rate is not None:
        mark_value(ax, theory_rate, THEORY_COLOR, "theory-rate", theory_entry(theory),
                   linestyle="--")
    plot_finite_size(ax, finite_size, "fixed_point_rate", key, vertical=True,
                     population=population, label=FINITE_SIZE_FIXED, gid="finite-size-rate",
                     style=FINITE_SIZE_FIXED_POINT)
    ax.set_xlabel(f"{population} rate (Hz)")
    ax.set_ylabel("Neurons")


def _draw_pair_histogram(ax, runs, theory, key, kind: str) -> None:
    ax.set_gid("covariance" if kind == "cov" else "correlation")
    what = "covariance" if kind == "cov" else "correlation"
    ax.set_title(f"Spike-count {what}s (sampled pairs)")
    span = 1.0 if kind == "cov" else 0.5                # spec §8 Fig 3 axes
    bins = 100 if kind == "cov" else 40
    drawn, outside, total = False, 0, 0
    for pair in PAIR_TYPES:
        values = pooled(runs, f"sampled_spike_count_{kind}", key, pair_type=pair)
        if values.size == 0:
            continue
        drawn = True
        color = SYNAPSE_COLORS[pair]
        outside += int(np.sum(np.abs(values) > span))
        total += values.size
        ax.hist(values, bins=bins, range=(-span, span), color=color, histtype="step",
                linewidth=1.0, gid=f"hist-{pair}", label=pair.upper())
        ax.axvline(float(np.mean(values)), color=color, linewidth=1.0, gid=f"sim-mean-{pair}",
                   label=PAIR_MEAN)
        theory_value = _theory_mean(theory, f"spike_count_{kind}", key, pair)
        if theory_value is not None:
            ax.axvline(theory_value, color=color, linestyle="--", linewidth=1.0,
                       gid=f"theory-{pair}", label=PAIR_THEORY)
    if not drawn:
        no_data(ax)
        return
    ax.set_xlim(-span, span)
    if outside:
        ax.text(0.02, 0.97, f"{outside} of {total} pairs\noutside ±{span:g}",
                transform=ax.transAxes, ha="left", va="top", fontsize=6, gid="outside-range")
    ax.set_xlabel(f"Count {what}" + (" (spikes²)" if kind == "cov" else ""))
    ax.set_ylabel("Pairs")
    handles = [h for h in ax.get_legend_handles_labels()[0] if h.get_label() in
               [p.upper() for p in PAIR_TYPES]]
    handles += [Line2D([], [], color="0.3", linewidth=1.0, label=PAIR_MEAN),
                Line2D([], [], color="0.3", linewidth=1.0, linestyle="--", label=PAIR_THEORY)]
    ax.legend(handles=handles, loc="upper right", fontsize=6)


PAIR_MEAN = "simulated mean"
PAIR_THEORY = "theory mean, spec §6.2"
"""Legend entries of the vertical lines of the covariance and correlation panels (one
per pair type, in its colour)."""


def _theory_mean(theory, name, key, pair) -> float | None:
    value = theory_at(theory, name, key, pair_type=pair)
    return None if value is None else float(value)


def _draw_ks(ax, runs, key, synapse) -> None:
    ax.set_gid("ks")
    sampled = runs["sampled_weight"].sel(synapse=synapse, **{d: v for d, v in key.items()
                                                              if d in runs.dims})
    time_s = sampled["time"].values
    values = sampled.transpose(..., "sample", "time").values.astype(float)
    values = values.reshape(-1, values.shape[-2], values.shape[-1])   # (seed, sample, time)
    finite_times = np.flatnonzero(np.isfinite(values).any(axis=(0, 1)))
    if finite_times.size < 2:
        no_data(ax)
        return
    last = finite_times[-1]
    middle = int(np.argmin(np.abs(time_s - KS_FRACTION * time_s[last])))
    early, late = values[..., middle].reshape(-1), values[..., last].reshape(-1)
    both = np.isfinite(early) & np.isfinite(late)
    early, late = early[both], late[both]
    result = stats.ks_2samp(early, late)
    for sample, gid, label, style in ((early, "ecdf-intermediate",
                                       f"t = {time_s[middle]:g} s", "--"),
                                      (late, "ecdf-final", f"t = {time_s[last]:g} s (end)", "-")):
        ordered = np.sort(sample)
        ax.step(ordered, np.arange(1, ordered.size + 1) / ordered.size, where="post",
                color=SYNAPSE_COLORS[synapse], linestyle=style, gid=gid, label=label)
    verdict = (f"p < {KS_LEVEL:g}: not stationary\nat T = {time_s[last]:g} s"
               if result.pvalue < KS_LEVEL else
               f"p ≥ {KS_LEVEL:g}: consistent with\na stationary distribution")
    ax.text(0.03, 0.97, f"KS D = {result.statistic:.3f}\np = {result.pvalue:.3g}\n"
            f"n = {early.size} synapses\n{verdict}", transform=ax.transAxes, ha="left",
            va="top", fontsize=6.5, gid="ks-result")
    ax.set_title(f"KS stationarity: {KS_FRACTION:.0%} of T vs end")
    ax.set_xlabel(SYNAPSE_AXIS_LABELS[synapse])
    ax.set_ylabel("Empirical CDF")
    ax.legend(loc="lower right", fontsize=6)
