"""Panels shared by the paper's per-rule figures (statistics Figs 3–5, Hebbian variants
Fig 10, mean-field transients Fig 11): weight traces with their mean and theory, mean
input currents, population rates, and the theory marks they carry.

Every panel reads one facet (``{"rule": …, "c": …}``) of an aggregate and names the theory
it draws: the Δ-corrected theory (spec §6.6) when the theory aggregate carries
``leading_order_fixed_point_weight``, the leading-order theory otherwise. A fixed point is
drawn only where the theory says it is stable (``stability`` "stable node"/"stable
focus"); a rule without a restoring force (classical Hebbian: "neutral") gets none.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import numpy as np
import xarray as xr

from ..estimators import running_mean
from ..selection import at_point, by_seed, divergence, ensure_swept, rule_synapses, theory_at
from .convergence import off_trajectory, summary
from .labels import FINITE_SIZE_LABEL, SYNAPSE_AXIS_LABELS, TIME_LABEL
from .style import (DIVERGED_COLOR, FINITE_SIZE_FIXED_POINT, FINITE_SIZE_STYLE, FIXED_POINT_STYLE,
                    POPULATION_COLORS, SOURCE_COLORS, SYNAPSE_COLORS, no_data, reference_line)

THEORY_COLOR = "#e66100"
"""Colour of theory lines drawn over coloured traces (dashed; orange stays visible over
slate-grey, green and purple weight traces)."""

CURRENT_PARTS = {"E+X": ("E", "X"), "I": ("I",), "total": ("total",)}
"""The mean-input curves of spec §8 (E neurons): E+X, I and the total, each the sum of
these sources."""


# ----------------------------------------------------------------------------- marks
def divergence_text(seed, at_s: float) -> str:
    """Annotation of a diverged run, e.g. ``"seed 3: diverged at 212 s"``."""
    if not np.isfinite(at_s):
        return f"seed {seed}: diverged at unknown time"
    when = f"{at_s:.0f} s" if abs(at_s) >= 10 else f"{at_s:.3g} s"
    return f"seed {seed}: diverged at {when}"


def annotate_divergence(ax, seeds, flags, times, vlines: bool = True) -> None:
    """Dotted line at each stopping time and the list of diverged runs, top left."""
    lines = []
    for seed, flag, at in zip(seeds, flags, times):
        if not flag:
            continue
        if vlines and np.isfinite(at):
            ax.axvline(at, color=DIVERGED_COLOR, linestyle=":", linewidth=1.0, gid="diverged-at")
        lines.append(divergence_text(seed, at))
    if lines:
        ax.text(0.02, 0.98, "\n".join(lines), transform=ax.transAxes, ha="left", va="top",
                fontsize=6.5, color=DIVERGED_COLOR, gid="diverged-text",
                bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "alpha": 0.8,
                      "edgecolor": DIVERGED_COLOR, "linewidth": 0.5})


def plot_seed_mean(ax, time_s: np.ndarray, values_by_seed: np.ndarray, **style) -> bool:
    """Plot the running seed mean (:func:`balanced_stdp.estimators.running_mean`) of a time
    course where it is finite; False (nothing drawn) when it is nowhere finite."""
    mean, _, _ = running_mean(values_by_seed)
    ok = np.isfinite(mean)
    if not ok.any():
        return False
    ax.plot(time_s[ok], mean[ok], **style)
    return True


def plot_finite_size(ax, finite_size: xr.Dataset | None, name: str, key: dict, *,
                     along: str | None = None, at=None, vertical: bool = False,
                     at_end: bool = False,
                     label: str | None = None, gid: str | None = None,
                     style: dict | None = None, **extra) -> xr.DataArray | None:
    """Overlay the finite-size theory's ``name`` at the facet ``key``, labelled.

    The one way figures draw the finite-size theory (issue 12), in
    :data:`~balanced_stdp.figures.style.FINITE_SIZE_STYLE` with the legend label
    "finite-size theory" (``label`` overrides it) and gid ``finite-size-<name>``:

    * a time course (``mean_weight``, ``population_rate``): a line over ``time``;
    * with ``along`` (a swept dimension kept, e.g. ``"c"`` or ``"N"``): a line with
      square markers over that coordinate, at the values ``at`` if given (NaN skipped);
    * a single value: a horizontal line (``vertical=True``: vertical, for histograms);
      ``at_end``: the last finite value of a time course (the theory at T), so drawn.

    Fixed points (names starting with ``fixed_point``) are drawn only where the
    finite-size theory labels them stable, as for the other theories, and a fixed-point
    weight only where it is on the theory's own trajectory
    (:func:`.convergence.off_trajectory`). Seeds and other
    swept dimensions are averaged (:func:`theory_at`).

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Panel to draw on.
    finite_size : xarray.Dataset or None
        The finite-size theory aggregate; None (not computed) draws nothing.
    name : str
        Theory variable.
    key : dict
        The facet (swept values); ``extra`` selects further (``synapse="ee"``).
    style : dict, optional
        Line properties overriding the style's (e.g. a thinner fixed-point line); colour
        and dash-dot pattern stay those of every finite-size line unless overridden.

    Returns
    -------
    xarray.DataArray or None
        The values drawn, None if nothing was drawn.
    """
    covered = finite_size_covers(finite_size, key, along)
    if covered is False:
        return None
    da = theory_at(finite_size, name, key, keep=(along,) if along else (), **extra)
    if da is None:
        return None
    if along and isinstance(covered, xr.DataArray) and along in da.dims:
        da = da.where(covered.reindex({along: da[along].values}, fill_value=False))
    if at_end and "time" in da.dims:
        da = last_finite(da)
    if along and name == "fixed_point_weight" and "synapse" in extra and along in da.dims:
        on = [not off_trajectory(finite_size, {**key, along: v}, extra["synapse"])
              for v in da[along].values]
        da = da.where(xr.DataArray(on, dims=along, coords={along: da[along].values}))
    if name == "fixed_point_weight" and not along and "synapse" in extra \
            and off_trajectory(finite_size, key, extra["synapse"]):
        return None                  # not where the theory's own trajectory goes
    if name.startswith("fixed_point") and not along:
        stability = at_point(finite_size, "stability", key)
        if stability is not None:
            labels = [str(v.decode() if isinstance(v, bytes) else v)
                      for v in np.asarray(stability.values, dtype=object).reshape(-1)]
            if labels and not any(label_.startswith("stable") for label_ in labels):
                return None
    style = {**FINITE_SIZE_STYLE, **(style or {}), "label": label or FINITE_SIZE_LABEL,
             "gid": gid or f"finite-size-{name}"}
    if along:
        if along not in da.dims:
            return None
        if at is not None:
            da = da.reindex({along: np.asarray(at)})
        x, y = da[along].values.astype(float), da.values.astype(float)
        ok = np.isfinite(x) & np.isfinite(y)
        if not ok.any():
            return None
        ax.plot(x[ok], y[ok], marker="s", markersize=3, markerfacecolor="white", **style)
    elif "time" in da.dims:
        time_s, values = da["time"].values, da.values.astype(float)
        ok = np.isfinite(values)
        ax.plot(time_s[ok], values[ok], **style)
    else:
        if da.size != 1:
            return None
        (ax.axvline if vertical else ax.axhline)(float(da), **style)
    return da


def last_finite(da: xr.DataArray, dim: str = "time") -> xr.DataArray:
    """The last finite value along ``dim`` (NaN where there is none): a theory at T."""
    values = da.transpose(..., dim).values.astype(float)
    finite = np.isfinite(values)
    index = values.shape[-1] - 1 - np.argmax(finite[..., ::-1], axis=-1)
    picked = np.take_along_axis(values, index[..., None], axis=-1)[..., 0]
    picked = np.where(finite.any(axis=-1), picked, np.nan)
    template = da.isel({dim: -1}, drop=True).transpose(*[d for d in da.dims if d != dim])
    return template.copy(data=picked)


def seed_count_label(what: str, counts) -> str:
    """Legend text of points that are seed statistics: "<what> (mean ± s.d. over seeds)"
    with two or more seeds everywhere, "<what> (n = 1 seed)" with one, else both."""
    counts = [int(n) for n in counts if n]
    if not counts:
        return what
    if min(counts) >= 2:
        return f"{what} (mean ± s.d. over seeds)"
    if max(counts) <= 1:
        return f"{what} (n = 1 seed)"
    return f"{what} (mean ± s.d. where n ≥ 2 seeds)"


def _status_labels(da: xr.DataArray) -> np.ndarray:
    return np.array([str(v.decode() if isinstance(v, bytes) else v)
                     for v in np.asarray(da.values, dtype=object).reshape(-1)],
                    dtype=object).reshape(da.shape)


LEADING_ORDER_ONLY = "leading order only"
"""Start of the ``theory_status`` of a grid point the finite-size theory does not cover:
its finite-size aggregate holds the leading-order values there, never drawn as
finite-size theory."""


def finite_size_covers(finite_size: xr.Dataset | None, key: dict, along: str | None = None):
    """Whether the finite-size theory covers the grid point ``key``.

    False without the aggregate, or where every point's ``theory_status`` says
    "leading order only" (e.g. three populations: the aggregate then holds the leading
    order); True otherwise (no status: covered). With ``along``, a boolean DataArray
    over that dimension.
    """
    if finite_size is None:
        return False
    status = at_point(finite_size, "theory_status", key)
    if status is None:
        return True
    covered = xr.DataArray(~np.char.startswith(_status_labels(status).astype(str),
                                               LEADING_ORDER_ONLY),
                           dims=status.dims, coords=status.coords)
    if along and along in covered.dims:
        return covered.any([d for d in covered.dims if d != along])
    return bool(covered.values.any())


def finite_size_note(finite_size: xr.Dataset | None, key: dict | None = None) -> str | None:
    """Why a figure draws no finite-size theory here: "finite-size theory not computed
    for this experiment" without the aggregate, its ``theory_status`` where it does not
    cover ``key``; None when it is drawn."""
    if finite_size is None:
        return "finite-size theory not computed for this experiment"
    if finite_size_covers(finite_size, key or {}):
        return None
    status = at_point(finite_size, "theory_status", key or {})
    reason = str(_status_labels(status).reshape(-1)[0]) if status is not None else ""
    reason = reason.split(":", 1)[1].strip() if ":" in reason else reason
    reason = reason.split(";")[-1].strip()             # the last clause says why
    return "no finite-size theory here" + (f" ({reason})" if reason else "")


DELTA_NOTE = ("Δ-corrected theory: Δ, which holds the net input the neurons need to fire, "
              "is frozen at its value measured in each run")
"""Why the Δ-corrected theory (spec §6.6) can miss iSTDP weights by tens of mV: said on
the figures that draw it."""


def theories_drawn(theory: xr.Dataset | None, finite_size: xr.Dataset | None,
                   key: dict | None = None) -> str:
    """The theories a figure draws, the one that follows the simulation first:
    "finite-size theory (dash-dot) and leading-order theory (dashed)"."""
    other = theory_name(theory) + " (dashed)" if theory is not None else ""
    if finite_size is not None and finite_size_covers(finite_size, key or {}):
        return "finite-size theory (dash-dot)" + (f" and {other}" if other else "")
    return other or "no theory"


# ----------------------------------------------------------------------------- theory marks
def is_delta_corrected(theory: xr.Dataset | None) -> bool:
    """True for a Δ-corrected theory aggregate (spec §6.6)."""
    return theory is not None and "leading_order_fixed_point_weight" in theory.variables


def theory_name(theory: xr.Dataset | None) -> str:
    """"Δ-corrected theory" or "leading-order theory" (legend text)."""
    return "Δ-corrected theory" if is_delta_corrected(theory) else "leading-order theory"


def stability_labels(theory: xr.Dataset | None, key: dict) -> list[str]:
    """The theory's ``stability`` labels at a facet (one per remaining grid point)."""
    da = at_point(theory, "stability", key)
    if da is None:
        return []
    return [str(v.decode() if isinstance(v, bytes) else v)
            for v in np.asarray(da.values, dtype=object).reshape(-1)]


def has_stable_fixed_point(theory: xr.Dataset | None, key: dict) -> bool:
    """Whether the theory has a stable fixed point at the facet ``key``.

    Read from ``stability`` (any grid point labelled stable); without that variable, a
    finite ``fixed_point_weight`` counts.
    """
    labels = stability_labels(theory, key)
    if labels:
        return any(label.startswith("stable") for label in labels)
    fixed = theory_at(theory, "fixed_point_weight", key)
    return fixed is not None


def fixed_point(theory: xr.Dataset | None, key: dict, synapse: str,
                name: str = "fixed_point_weight") -> float | None:
    """The (stable) theory fixed point of ``synapse`` at a facet, or None."""
    if not has_stable_fixed_point(theory, key):
        return None
    value = theory_at(theory, name, key, synapse=synapse)
    return None if value is None else float(value)


def fixed_point_rates(theory: xr.Dataset | None, key: dict) -> dict[str, float]:
    """Population → theory rate at the stable fixed point ({} without one)."""
    if not has_stable_fixed_point(theory, key):
        return {}
    rates = {}
    for population in POPULATION_COLORS:
        value = theory_at(theory, "fixed_point_rate", key, population=population)
        if value is not None:
            rates[population] = float(value)
    return rates


def main_synapse(runs: xr.Dataset, rule: str) -> str:
    """The first plastic synapse type of ``rule`` (ee if none)."""
    synapses = rule_synapses(runs, rule)
    return synapses[0] if synapses else "ee"


def first_seed(runs: xr.Dataset, name: str, key: dict, **extra) -> xr.DataArray | None:
    """``runs[name]`` at the facet for the first seed with finite values (or None)."""
    da = at_point(runs, name, key, **extra)
    if da is None:
        return None
    if "seed" not in da.dims:
        return da
    for seed in da["seed"].values:
        one = da.sel(seed=seed)
        if np.isfinite(one.values.astype(float)).any():
            return one
    return None


def pooled(runs: xr.Dataset, name: str, key: dict, **extra) -> np.ndarray:
    """Finite values of ``runs[name]`` at a facet, pooled over seeds and samples."""
    da = at_point(runs, name, key, **extra)
    if da is None:
        return np.array([])
    values = np.asarray(da.values, dtype=float).reshape(-1)
    return values[np.isfinite(values)]


# ----------------------------------------------------------------------------- panels
def draw_per_role(axes, roles, experiments, gid: str, draw) -> None:
    """One panel per role of a figure of roles, axes gid ``gid.format(role=…)``:
    ``draw(ax, runs, experiment)`` with the role's runs (:func:`ensure_swept`), "no run"
    where the role has none."""
    for ax, role, experiment in zip(axes, roles, experiments):
        ax.set_gid(gid.format(role=role))
        if experiment is None or experiment.runs is None:
            no_data(ax)
            continue
        draw(ax, ensure_swept(experiment.runs), experiment)


@dataclasses.dataclass(frozen=True)
class TraceStyle:
    """How one figure's weight-trace panel (:func:`draw_weight_traces`) looks.

    Labels are formatted with ``n`` (traces drawn), ``synapse`` (upper case) and
    ``theory`` (:func:`theory_name`).
    """

    n_traces: int = 100
    linewidth: float = 0.4
    alpha: float = 0.35
    label: str = "sampled synapses ({n})"
    mean_label: str = "simulated mean"
    sd_band: bool = False
    """Shade ±1 s.d. over seeds around the seed mean."""
    ode_style: tuple = (("color", THEORY_COLOR), ("linestyle", "--"), ("linewidth", 1.4))
    """Line properties of the ODE; no colour: the synapse type's."""
    ode_label: str = "mean-field ODE, {theory}"
    finite_ode_only: bool = False
    fixed_point_label: str = "fixed point j* (dotted), {theory}"
    stable_fixed_point_only: bool = True
    """Draw the fixed point only where the theory labels it stable."""
    finite_size_label: str = FINITE_SIZE_LABEL
    finite_size_fixed_point_label: str = "finite-size fixed point (dotted)"


class WeightTraces(NamedTuple):
    """What :func:`draw_weight_traces` drew: the seed mean and the fixed point."""

    time_s: np.ndarray
    mean: np.ndarray
    fixed_point: float | None


def draw_weight_traces(ax, runs, theory, key: dict, synapse: str,
                       style: TraceStyle = TraceStyle(), show_fixed_point: bool = True,
                       divergence_marks: bool = True, axis_labels: bool = True,
                       finite_size: xr.Dataset | None = None) -> WeightTraces | None:
    """Sampled weights of one seed, the seed mean of the mean weight, the ODE and j*.

    Artists: ``sim-sd`` (band, if ``style.sd_band``), ``sampled-trace`` (thin, synapse
    colour; the first seed with values), ``sim-mean`` (black), ``theory-ode`` (dashed),
    ``theory-fixed-point`` (dotted grey; only where stable, unless the style says
    otherwise); given ``finite_size``, its trajectory ``finite-size-mean_weight`` and
    (stable) fixed point ``finite-size-fixed-point`` (dash-dot, :func:`plot_finite_size`).

    Returns
    -------
    WeightTraces or None
        None (panel marked "no run") without data.
    """
    mean_weight = at_point(runs, "mean_weight", key, synapse=synapse)
    if mean_weight is None or not np.isfinite(mean_weight.values.astype(float)).any():
        no_data(ax)
        return None
    time_s = mean_weight["time"].values
    theory_label = theory_name(theory)
    mean, sd, _ = running_mean(by_seed(mean_weight, "time"))
    ok = np.isfinite(mean)
    band = ok & np.isfinite(sd)
    if style.sd_band and band.any():
        ax.fill_between(time_s[band], (mean - sd)[band], (mean + sd)[band], color="0.6",
                        alpha=0.35, linewidth=0, label="±1 s.d. over seeds", gid="sim-sd")
    sampled = first_seed(runs, "sampled_weight", key, synapse=synapse)
    if sampled is not None:
        traces = sampled.transpose("sample", "time").values.astype(float)
        traces = traces[np.isfinite(traces).any(axis=1)][:style.n_traces]
        label = style.label.format(n=len(traces), synapse=synapse.upper())
        for k, trace in enumerate(traces):
            finite = np.isfinite(trace)
            ax.plot(time_s[finite], trace[finite], color=SYNAPSE_COLORS[synapse],
                    linewidth=style.linewidth, alpha=style.alpha, gid="sampled-trace",
                    label=label if k == 0 else "_nolegend_")
    ax.plot(time_s[ok], mean[ok], color="black", linewidth=1.4, gid="sim-mean",
            label=style.mean_label)
    ode = theory_at(theory, "mean_weight", key, synapse=synapse)
    if ode is not None:
        shown = np.isfinite(ode.values) if style.finite_ode_only else slice(None)
        ax.plot(ode["time"].values[shown], ode.values[shown], gid="theory-ode",
                label=style.ode_label.format(theory=theory_label),
                **{"color": SYNAPSE_COLORS[synapse], **dict(style.ode_style)})
    fixed = None
    if show_fixed_point and style.stable_fixed_point_only:
        fixed = fixed_point(theory, key, synapse)
    elif show_fixed_point:
        value = theory_at(theory, "fixed_point_weight", key, synapse=synapse)
        fixed = None if value is None else float(value)
    if fixed is not None:
        ax.axhline(fixed, gid="theory-fixed-point",
                   label=style.fixed_point_label.format(theory=theory_label),
                   **FIXED_POINT_STYLE)
    plot_finite_size(ax, finite_size, "mean_weight", key, synapse=synapse,
                     label=style.finite_size_label)
    if show_fixed_point:
        plot_finite_size(ax, finite_size, "fixed_point_weight", key, synapse=synapse,
                         label=style.finite_size_fixed_point_label,
                         gid="finite-size-fixed-point", style=FINITE_SIZE_FIXED_POINT)
    if axis_labels:
        ax.set_xlabel(TIME_LABEL)
        ax.set_ylabel(SYNAPSE_AXIS_LABELS[synapse])
    if divergence_marks:
        annotate_divergence(ax, *divergence(runs, key))
    return WeightTraces(time_s, mean, fixed)


def draw_currents(ax, runs, key: dict, population: str = "E", parts: dict = CURRENT_PARTS,
                  label_prefix: str = "", total_linewidth: float = 1.3,
                  ylabel: str | None = "Mean input to {population} (mV/ms)",
                  divergence_marks: bool = True) -> bool:
    """Mean input to ``population`` over time (seed mean), one curve per part.

    ``parts`` maps a curve to the sources it sums (default :data:`CURRENT_PARTS`: E+X, I
    and the total); artists ``input-<part>``. Without ``ylabel`` the axes are left
    unlabelled (a column of a grid labels its first panel). False (panel marked "no
    run") without data.
    """
    any_data = False
    for part, sources in parts.items():
        arrays = [at_point(runs, "mean_input", key, population=population, source=s)
                  for s in sources]
        if any(a is None for a in arrays):
            continue
        any_data |= plot_seed_mean(ax, arrays[0]["time"].values,
                                   sum(by_seed(a, "time") for a in arrays),
                                   color=SOURCE_COLORS[part],
                                   linewidth=total_linewidth if part == "total" else 1.0,
                                   label=f"{label_prefix}{part}", gid=f"input-{part}")
    if not any_data:
        no_data(ax)
        return False
    reference_line(ax)
    if ylabel is not None:
        ax.set_xlabel(TIME_LABEL)
        ax.set_ylabel(ylabel.format(population=population))
    if divergence_marks:
        annotate_divergence(ax, *divergence(runs, key))
    return True


def draw_population_rates(ax, runs, theory, key: dict, divergence_marks: bool = True) -> bool:
    """Population rates over time (seed mean, E blue / I red) and the fixed-point rates
    (dashed, only where the theory has a stable fixed point). Artists ``rate-E``,
    ``rate-I``, ``theory-rate-E``, ``theory-rate-I``."""
    any_data = False
    theory_rates = fixed_point_rates(theory, key)
    for population, color in POPULATION_COLORS.items():
        da = at_point(runs, "population_rate", key, population=population)
        if da is None:
            continue
        if not plot_seed_mean(ax, da["time"].values, by_seed(da, "time"), color=color,
                              linewidth=1.0, label=f"{population} rate",
                              gid=f"rate-{population}"):
            continue
        any_data = True
        if population in theory_rates:
            ax.axhline(theory_rates[population], color=color, linestyle="--", linewidth=1.0,
                       gid=f"theory-rate-{population}",
                       label=f"{population} rate at j*, {theory_name(theory)}")
    if not any_data:
        no_data(ax)
        return False
    ax.set_xlabel(TIME_LABEL)
    ax.set_ylabel("Rate (Hz)")
    if divergence_marks:
        annotate_divergence(ax, *divergence(runs, key))
    return True


def state_convergence(ax, verdicts, note: str | None = None, detail: bool = False) -> None:
    """Say under the panel whether its weights converged by T (gid ``convergence``, red
    when not): one :class:`~.convergence.Convergence` (its :meth:`short` text, with the
    measures if ``detail``) or several (:func:`~.convergence.summary`), then ``note``.
    Under the axes, where constrained layout makes room, it hides no data."""
    single = not isinstance(verdicts, (list, tuple))
    verdicts = [verdicts] if single else list(verdicts)
    if not verdicts:
        return
    text = (verdicts[0].text() if detail else verdicts[0].short()) if single \
        else summary(verdicts)
    converged = all(v.converged is not False for v in verdicts)
    ax.annotate(text + (f"\n{note}" if note else ""), xy=(1.0, 0.0),
                xycoords="axes fraction", xytext=(0, -31), textcoords="offset points",
                ha="right", va="top", fontsize=6, gid="convergence",
                color="black" if converged else DIVERGED_COLOR)


def mark_value(ax, value: float, color, gid: str, label: str, linestyle="-") -> None:
    """A vertical line marking a value on a histogram."""
    ax.axvline(value, color=color, linestyle=linestyle, linewidth=1.2, gid=gid, label=label)
