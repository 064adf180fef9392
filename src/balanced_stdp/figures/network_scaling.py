"""Fig 1 — the network and how it scales with N (spec §8 Fig 1, experiment #1).

A drawn schematic of the model (E and I populations driven by a correlated external
layer X), then the Kohonen network at c = 0 over N: mean j_ee(t) per N, rates against
the balanced-state theory (spec §6.1), mean spike-count covariances and correlations
against the leading-order c = 0 theory ∝ 1/N (spec §6.2) on log–log axes, count
variances, a raster and the mean input currents of the E population for one N.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

from ..estimators import running_mean
from ..selection import (ExperimentData, at_point, by_seed, divergence, ensure_swept, run_configs,
                         theory_at)
from .facets import facets
from .labels import SYNAPSE_AXIS_LABELS, TIME_LABEL, format_value
from .convergence import weight_convergence
from .panels import divergence_text, plot_finite_size, state_convergence
from .style import (DIVERGED_COLOR, FINITE_SIZE_FIXED_POINT, POPULATION_COLORS, SOURCE_COLORS,
                    SYNAPSE_COLORS, THEORY_STYLE, letter_panels, new_figure, no_data, panel_legend,
                    reference_line, styled)


PAIR_TYPES = ("ee", "ei", "ii")
RASTER_N = 2000
"""N of the raster and currents panels (the nearest N of the sweep is used)."""
SOURCES = ("E", "I", "X", "total")


def analysis_mean(da: xr.DataArray) -> xr.DataArray:
    """Time mean of a recorded course over the analysis window (T/2, T] of the run."""
    end = float(da["time"].max())
    return da.where(da["time"] > end / 2).mean("time", skipna=True)


def per_n(runs: xr.Dataset, name: str, flags_by_n: dict, **extra) -> dict:
    """Per N: (seed values of a per-run scalar variable, diverged runs left out)."""
    out = {}
    for key in facets(runs, skip=("seed",)):
        da = at_point(runs, name, key, **extra)
        if da is None:
            continue
        if "time" in da.dims:
            da = analysis_mean(da)
        values = by_seed(da).reshape(-1)
        out[key["N"]] = np.where(flags_by_n[key["N"]], np.nan, values)
    return out


@styled
def plot_network_scaling(scaling: ExperimentData) -> Figure:
    """Schematic and N-scaling of the Kohonen network (Fig 1).

    Parameters
    ----------
    scaling : ExperimentData
        Runs and theory of the size sweep (dimension ``N``, one c).

    Returns
    -------
    matplotlib.figure.Figure
        Axes gids: ``schematic``; ``weight-vs-time`` (``sim-mean-N=<N>``,
        ``theory-fixed-point``, ``finite-size-fixed-point-N=<N>``); ``rates-vs-N``
        (``sim-rate-<pop>``, ``theory-rate-<pop>``, ``finite-size-rate-<pop>``);
        ``cov-vs-N``, ``corr-vs-N`` (``sim-<pair>``, ``theory-<pair>``); ``var-vs-N``
        (``sim-var-<pop>``, ``theory-var-<pop>``); ``raster`` (``raster-E``, ``raster-I``);
        ``currents`` (``current-<source>``).
    """
    runs = ensure_swept(scaling.runs)
    if "N" not in runs.dims:
        raise ValueError(f"the aggregate has no 'N' dimension (dims: {dict(runs.sizes)})")
    theory = scaling.theory
    n_values = [int(n) for n in runs["N"].values]
    diverged = {key["N"]: divergence(runs, key) for key in facets(runs, skip=("seed",))}
    flags_by_n = {n: d[1] for n, d in diverged.items()}
    fig = new_figure(12.5, 7.2)
    axes = fig.subplot_mosaic([["schematic", "weight", "rates", "raster"],
                               ["cov", "corr", "var", "currents"]])
    _draw_schematic(axes["schematic"])
    _draw_weights(axes["weight"], runs, theory, n_values, diverged, scaling.finite_size)
    _draw_rates(axes["rates"], runs, theory, n_values, flags_by_n, scaling.finite_size)
    for name, ax, variable, label in (
            ("cov", axes["cov"], "spike_count_cov", "Mean count covariance (spikes²)"),
            ("corr", axes["corr"], "spike_count_corr", "Mean count correlation")):
        _draw_pairs_vs_n(ax, runs, theory, n_values, flags_by_n, variable, label, name)
    _draw_variances(axes["var"], runs, theory, n_values, flags_by_n)
    raster_n = min(n_values, key=lambda n: abs(n - RASTER_N))
    _draw_raster(axes["raster"], runs, raster_n)
    _draw_currents(axes["currents"], runs, raster_n)
    letter_panels([axes[name] for name in ("schematic", "weight", "rates", "cov", "corr", "var",
                                           "raster", "currents")])
    excluded = [f"N = {n}, {divergence_text(s, t)}" for n, (seeds, flags, times)
                in diverged.items() for s, f, t in zip(seeds, flags, times) if f]
    if excluded:
        fig.text(0.99, 0.01, "diverged, left out of C–F: " + "; ".join(excluded), ha="right",
                 va="bottom", fontsize=6.5, color=DIVERGED_COLOR, gid="diverged-text")
    fig.suptitle("Plastic balanced network (Kohonen EE, c = "
                 f"{format_value(float(runs['c'].values[0]))}) across network sizes N")
    return fig


# ----------------------------------------------------------------------------- panels
def _draw_schematic(ax) -> None:
    ax.set_gid("schematic")
    ax.set_title("Network")
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 10)
    ax.set_aspect("equal")
    ax.axis("off")
    centres = {"E": (2.5, 4.0), "I": (7.5, 4.0)}
    for population, (x, y) in centres.items():
        ax.add_patch(Circle((x, y), 1.3, facecolor=POPULATION_COLORS[population], alpha=0.85,
                            edgecolor="black", linewidth=0.8, gid=f"population-{population}"))
        ax.text(x, y, population, ha="center", va="center", color="white", fontsize=12,
                fontweight="bold")
    ax.add_patch(FancyBboxPatch((1.5, 8.0), 7.0, 1.3, boxstyle="round,pad=0.15",
                                facecolor=SOURCE_COLORS["X"], edgecolor="black", linewidth=0.8,
                                gid="population-X"))
    ax.text(5.0, 8.65, "X: external Poisson\nlayer, correlation c", ha="center", va="center",
            fontsize=6.5)

    def arrow(start, end, color, inhibitory=False, bend=0.0):
        ax.add_patch(FancyArrowPatch(start, end, connectionstyle=f"arc3,rad={bend}",
                                     arrowstyle="-[" if inhibitory else "-|>", mutation_scale=9,
                                     color=color, linewidth=1.2))

    arrow((3.3, 5.2), (6.7, 5.2), POPULATION_COLORS["E"], bend=-0.25)          # E → I
    arrow((6.7, 2.8), (3.3, 2.8), POPULATION_COLORS["I"], inhibitory=True, bend=-0.25)
    arrow((1.3, 3.3), (1.3, 4.7), POPULATION_COLORS["E"], bend=-1.6)            # E → E
    arrow((8.7, 4.7), (8.7, 3.3), POPULATION_COLORS["I"], inhibitory=True, bend=-1.6)
    arrow((3.5, 7.9), (2.8, 5.45), SOURCE_COLORS["X"])
    arrow((6.5, 7.9), (7.2, 5.45), SOURCE_COLORS["X"])
    ax.text(1.2, 6.0, "plastic\n$j_{ee}$", ha="center", fontsize=6.5, color=SYNAPSE_COLORS["ee"])
    ax.text(5.0, 0.7, "$j_{ei}$, $j_{ie}$, $j_{ii}$ fixed; weights $J = j/\\sqrt{N}$",
            ha="center", fontsize=6.5)


def _draw_weights(ax, runs, theory, n_values, diverged, finite_size=None) -> None:
    ax.set_gid("weight-vs-time")
    ax.set_title("Mean EE weight")
    colors = _n_colors(n_values)
    for n in n_values:
        da = at_point(runs, "mean_weight", {"N": n, "rule": runs["rule"].values[0],
                                            "c": float(runs["c"].values[0])}, synapse="ee")
        if da is None:
            continue
        mean, _, _ = running_mean(by_seed(da, "time"))
        ax.plot(da["time"].values, mean, color=colors[n], gid=f"sim-mean-N={n}",
                label=f"N = {n}")
        seeds, flags, times = diverged[n]
        for at in times[flags & np.isfinite(times)]:
            ax.axvline(at, color=DIVERGED_COLOR, linestyle=":", gid="diverged-at")
    fixed = theory_at(theory, "fixed_point_weight", {}, synapse="ee")
    if fixed is not None:
        ax.axhline(float(fixed), color="0.3", gid="theory-fixed-point",
                   label=f"j* = {float(fixed):.2f} mV (leading order)", **THEORY_STYLE)
    verdicts = []
    for n in n_values:           # the finite-size fixed point depends on N
        plot_finite_size(ax, finite_size, "fixed_point_weight", {"N": n}, synapse="ee",
                         gid=f"finite-size-fixed-point-N={n}",
                         label="j*, finite-size theory (one per N, dotted)",
                         style={**FINITE_SIZE_FIXED_POINT, "color": colors[n]})
        verdicts.append(weight_convergence(runs, finite_size, {"N": n}, "ee"))
    ax.set_xlabel(TIME_LABEL)
    ax.set_ylabel(SYNAPSE_AXIS_LABELS["ee"])
    state_convergence(ax, verdicts)
    panel_legend(ax, {"j*, finite-size theory (one per N, dotted)": Line2D(
        [], [], color="0.3", **FINITE_SIZE_FIXED_POINT)}, fontsize=6, loc="lower right")


def _n_colors(n_values) -> dict:
    from matplotlib import colormaps
    cmap = colormaps["viridis"]
    return {n: cmap(0.9 * k / max(len(n_values) - 1, 1)) for k, n in enumerate(n_values)}


def _errorbar(ax, n_values, values_by_n, color, gid, label, positive_only=False) -> int:
    """Mean ± s.d. over seeds per N; returns how many means were not drawn (≤ 0 on log)."""
    means = np.array([np.nanmean(values_by_n.get(n, [np.nan])) for n in n_values])
    sds = np.array([np.nanstd(values_by_n.get(n, [np.nan]), ddof=1)
                    if np.isfinite(values_by_n.get(n, [np.nan])).sum() > 1 else 0.0
                    for n in n_values])
    shown = np.isfinite(means) & ((means > 0) if positive_only else True)
    if shown.any():
        container = ax.errorbar(np.asarray(n_values)[shown], means[shown], yerr=sds[shown],
                                fmt="o", color=color, markersize=4, capsize=2, label=label)
        container.lines[0].set_gid(gid)
    return int((np.isfinite(means) & ~shown).sum())


def _theory_line(ax, theory, name, n_values, color, gid, label, scale=1.0, **extra) -> None:
    da = theory_at(theory, name, {}, keep=("N",), **extra)
    if da is None or "N" not in da.dims:
        return
    values = scale * da.reindex(N=n_values).values
    ax.plot(n_values, values, color=color, gid=gid, label=label, **THEORY_STYLE)


def _draw_rates(ax, runs, theory, n_values, flags_by_n, finite_size=None) -> None:
    ax.set_gid("rates-vs-N")
    ax.set_title("Rates vs N")
    for population in ("E", "I"):
        color = POPULATION_COLORS[population]
        values = per_n(runs, "population_rate", flags_by_n, population=population)
        _errorbar(ax, n_values, values, color, f"sim-rate-{population}",
                  f"$r_{population.lower()}$ simulated")
        _theory_line(ax, theory, "fixed_point_rate", n_values, color,
                     f"theory-rate-{population}", f"$r_{population.lower()}$ balanced, at j*",
                     population=population)
        plot_finite_size(ax, finite_size, "fixed_point_rate", {}, along="N", at=n_values,
                         population=population, gid=f"finite-size-rate-{population}",
                         label=f"$r_{population.lower()}$ at j*, finite-size theory",
                         style={"color": color})
    ax.set_xscale("log")
    ax.set_xlabel("N")
    ax.set_ylabel("Rate (Hz)")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=6)


PAIR_THEORY = "theory c = 0 (∝ 1/N)"
VARIANCE_THEORY = r"$r\,T_\mathrm{win}$ (Fano factor 1)"


def _draw_pairs_vs_n(ax, runs, theory, n_values, flags_by_n, variable, ylabel, name) -> None:
    ax.set_gid(f"{name}-vs-N")
    ax.set_title(f"{'Covariances' if name == 'cov' else 'Correlations'} vs N")
    hidden = 0
    for pair in PAIR_TYPES:
        color = SYNAPSE_COLORS[pair]
        values = per_n(runs, variable, flags_by_n, pair_type=pair)
        hidden += _errorbar(ax, n_values, values, color, f"sim-{pair}", pair.upper(),
                            positive_only=True)
        _theory_line(ax, theory, variable, n_values, color, f"theory-{pair}",
                     PAIR_THEORY, pair_type=pair)
    if hidden:
        ax.text(0.02, 0.02, f"{hidden} mean(s) ≤ 0 not shown", transform=ax.transAxes,
                fontsize=6, color="0.4", gid="hidden-count")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("N")
    ax.set_ylabel(ylabel)
    panel_legend(ax, {PAIR_THEORY: Line2D([], [], color="0.3", **THEORY_STYLE)}, fontsize=6,
                 ncol=2)


def _draw_variances(ax, runs, theory, n_values, flags_by_n) -> None:
    ax.set_gid("var-vs-N")
    ax.set_title("Count variances vs N")
    configs = run_configs(runs)
    window_s = configs[0]["recording"]["covariance_window_s"] if configs else None
    for population in ("E", "I"):
        color = POPULATION_COLORS[population]
        values = per_n(runs, "spike_count_var", flags_by_n, population=population)
        _errorbar(ax, n_values, values, color, f"sim-var-{population}", population)
        if window_s is not None:
            _theory_line(ax, theory, "fixed_point_rate", n_values, color,
                         f"theory-var-{population}", VARIANCE_THEORY, scale=window_s,
                         population=population)
    ax.set_xscale("log")
    ax.set_xlabel("N")
    ax.set_ylabel("Mean count variance (spikes²)")
    ax.set_ylim(bottom=0)
    panel_legend(ax, {VARIANCE_THEORY: Line2D([], [], color="0.3", **THEORY_STYLE)},
                 fontsize=6)


def _first_run(runs, n) -> dict | None:
    """Facet key of the first seed at N = ``n`` that has a raster."""
    base = {"rule": runs["rule"].values[0], "c": float(runs["c"].values[0]), "N": n}
    for seed in runs["seed"].values:
        times = at_point(runs, "raster_time", {**base, "seed": seed})
        if times is not None and np.isfinite(times.values).any():
            return {**base, "seed": seed}
    return None


def _draw_raster(ax, runs, n) -> None:
    ax.set_gid("raster")
    ax.set_title(f"Raster, N = {n}")
    key = _first_run(runs, n)
    if key is None:
        no_data(ax, "no raster recorded")
        return
    times = at_point(runs, "raster_time", key).values
    neurons = at_point(runs, "raster_neuron", key).values
    ok = np.isfinite(times) & np.isfinite(neurons)
    times, neurons = times[ok], neurons[ok]
    configs = [c for c in run_configs(runs) if c.get("N") == n] or run_configs(runs)
    n_exc = int(round(configs[0]["excitatory_fraction"] * n)) if configs else int(0.8 * n)
    for population, members in (("E", neurons < n_exc), ("I", neurons >= n_exc)):
        ax.scatter(times[members], neurons[members], s=0.3, color=POPULATION_COLORS[population],
                   linewidths=0, rasterized=True, gid=f"raster-{population}")
    ax.set_xlabel(TIME_LABEL)
    ax.set_ylabel("Neuron (E first, then I)")
    ax.set_ylim(0, n)


def _draw_currents(ax, runs, n) -> None:
    ax.set_gid("currents")
    key = _first_run(runs, n) or {"rule": runs["rule"].values[0],
                                  "c": float(runs["c"].values[0]), "N": n,
                                  "seed": runs["seed"].values[0]}
    ax.set_title(f"Mean input to E, N = {n}")
    drawn = False
    for source in SOURCES:
        da = at_point(runs, "mean_input", key, population="E", source=source)
        if da is None:
            continue
        ax.plot(da["time"].values, da.values, color=SOURCE_COLORS[source], linewidth=1.0,
                gid=f"current-{source}", label=source)
        drawn = True
    if not drawn:
        no_data(ax)
        return
    reference_line(ax)
    low, high = ax.get_ylim()
    ax.set_ylim(low, high + 0.3 * (high - low))            # room for the legend
    ax.set_xlabel(TIME_LABEL)
    ax.set_ylabel("Mean input current (mV/ms)")
    ax.legend(fontsize=6, ncol=4, loc="upper center")
