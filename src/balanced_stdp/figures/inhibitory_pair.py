"""EI + II iSTDP (figure ``fig12_inhibitory_pair``, spec §7 #13, §8 Fig 12): the two
inhibitory weights learn together; the ratio of their learning rates decides whether
the common fixed point (r_e = ρ_e, r_i = ρ_i) is reached (spec §6.5).

Columns are grid points of the η_ei × η_ii sweep: equal η (the slow-slow point), slow EI
(η_ei < η_ii, unstable in theory), slow II (η_ii < η_ei) and, when present, equal η
at the fast value. Rows: sampled EI and II weight traces with their means, the
mean-field ODE and the fixed point; mean inputs to E neurons; E and I rates with the
target rates. Each column has its own y-range, so the unstable column's large
excursions are shown in full.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from ..contract import dimension_name
from ..estimators import running_mean
from ..selection import at_point, by_seed, divergence, ensure_swept, run_configs, theory_at
from .labels import SYNAPSE_AXIS_LABELS, TIME_LABEL, format_value
from .panels import (TraceStyle, annotate_divergence, draw_currents, draw_weight_traces,
                     finite_size_note, theories_drawn)
from .style import (DIVERGED_COLOR, POPULATION_COLORS, figure_legend, letter_panels, new_figure,
                    no_data, panel_legend, styled)

ETA_DIMS = {"ei": dimension_name("plasticity.ei.eta"), "ii": dimension_name("plasticity.ii.eta")}
"""Swept learning rates η₀ of the EI and II iSTDP rules."""


TRACES = TraceStyle(n_traces=50, linewidth=0.4, alpha=0.45, label="sampled {synapse} synapses",
                    ode_style=(("linestyle", "--"), ("linewidth", 1.5), ("color", "black")),
                    ode_label="mean-field ODE, leading order (dashed)", finite_ode_only=True,
                    fixed_point_label=r"fixed point ($j_{{ei}}^*$, $j_{{ii}}^*$) (grey dotted)",
                    stable_fixed_point_only=False,
                    finite_size_label="finite-size theory (dash-dot)",
                    finite_size_fixed_point_label="finite-size fixed point (magenta dotted)")
"""Weight panels: 50 sampled synapses (first running seed), the seed mean, the mean-field
ODE black dashed (the simulated mean is black solid) and the fixed point, stable or not."""

WEIGHT_RANGE_FACTOR = 2.0
"""Weight panels span at most this multiple of max(|j*|, |j(0)|) (EI ±300, II ±510 mV at
the defaults; spec Fig 12's enlarged slow-EI axes reach −500 mV); lines beyond are clipped
and the extreme value is stated."""

RUNAWAY_FACTOR = 10.0
"""A mean weight beyond this multiple of max(|j*|, |j(0)|) has run away (the simulator's
divergence guard watches the spike count only, and a runaway of inhibition silences the
network instead): the time it first does so is marked like a diverged run."""

INPUT_LIMIT = 10.0
"""|Mean input| shown (mV/ms): the paper's input panels span about ±10."""

RATE_LIMIT = 50.0
"""Highest rate shown (Hz), as in the paper's enlarged slow-EI panels."""



def columns(runs: xr.Dataset) -> list[tuple[str, dict]]:
    """(title, grid point) of each column: equal slow, slow EI, slow II, equal fast.

    Slow and fast are the smallest and largest η of each swept rule; with a single
    value per rule there is one column.
    """
    eta = {s: np.asarray(runs[d].values, dtype=float) for s, d in ETA_DIMS.items()}
    slow = {s: float(v.min()) for s, v in eta.items()}
    fast = {s: float(v.max()) for s, v in eta.items()}
    candidates = [("Equal η (slow)", slow["ei"], slow["ii"]),
                  (r"Slow EI ($\eta_{ei} < \eta_{ii}$)", slow["ei"], fast["ii"]),
                  (r"Slow II ($\eta_{ii} < \eta_{ei}$)", fast["ei"], slow["ii"]),
                  ("Equal η (fast)", fast["ei"], fast["ii"])]
    out, seen = [], set()
    for title, ei, ii in candidates:
        if (ei, ii) in seen:
            continue
        seen.add((ei, ii))
        out.append((title, {ETA_DIMS["ei"]: ei, ETA_DIMS["ii"]: ii}))
    return out


def target_rates(runs: xr.Dataset) -> dict[str, float]:
    """ρ_e and ρ_i (Hz) of the EI and II rules, from the stored run configs."""
    for config in run_configs(runs):
        plasticity = config.get("plasticity", {})
        if "ei" in plasticity and "ii" in plasticity:
            return {"E": plasticity["ei"]["target_rate_hz"],
                    "I": plasticity["ii"]["target_rate_hz"]}
    return {}


def stability_label(theory: xr.Dataset | None, key: dict) -> str | None:
    """The theory's ``stability`` label at a grid point (None if unknown)."""
    da = at_point(theory, "stability", key)
    if da is None:
        return None
    values = [v.decode() if isinstance(v, bytes) else str(v)
              for v in np.asarray(da.values, dtype=object).ravel()]
    values = [v for v in values if v and v != "nan"]
    return values[0] if values else None


@styled
def plot_inhibitory_pair(variants) -> Figure:
    """Weights, inputs and rates of EI + II iSTDP at each learning-rate pair.

    Parameters
    ----------
    variants : ExperimentData
        Runs and theory of the η_ei × η_ii sweep
        (:class:`~balanced_stdp.selection.ExperimentData`); the runs have the
        dimensions ``plasticity_ei_eta`` and ``plasticity_ii_eta``.

    Returns
    -------
    matplotlib.figure.Figure
        Per column (axes gids ``<column>;ei``, ``;ii``, ``;input``, ``;rate`` with
        ``<column>`` = ``eta_ei=…;eta_ii=…``): sampled traces (``sampled-trace``), the
        seed-mean ``mean_weight`` (``sim-mean``), the ODE (``theory-ode``), the fixed
        point (``theory-fixed-point``); inputs ``input-E+X``, ``input-I``,
        ``input-total``; rates ``rate-E``, ``rate-I`` and targets ``target-E``,
        ``target-I``. The column title carries the theory's stability label.
    """
    runs = variants.runs if variants is not None else None
    if runs is None:
        fig = new_figure(4.0, 3.0)
        no_data(fig.subplots(), "no runs")
        return fig
    runs = ensure_swept(runs)
    missing = [d for d in ETA_DIMS.values() if d not in runs.dims]
    if missing:
        raise ValueError(f"plot_inhibitory_pair needs runs swept over {', '.join(missing)}")
    theory, finite_size = variants.theory, variants.finite_size
    base = {d: runs[d].values[0] for d in ("rule", "c")}
    cols = columns(runs)
    targets = target_rates(runs)
    fig = new_figure(2.9 * len(cols) + 0.4, 9.6)
    axes = fig.subplots(4, len(cols), squeeze=False, sharex="col")
    for j, (title, point) in enumerate(cols):
        key = {**base, **point}
        gid = f"eta_ei={format_value(point[ETA_DIMS['ei']])};" \
              f"eta_ii={format_value(point[ETA_DIMS['ii']])}"
        stability = stability_label(theory, key)
        axes[0, j].set_title(f"{title}\n$\\eta_{{ei}}$ = {format_value(point[ETA_DIMS['ei']])}, "
                             f"$\\eta_{{ii}}$ = {format_value(point[ETA_DIMS['ii']])}\n"
                             f"theory: {stability or 'n/a'}", fontsize=8)
        for row, name in enumerate(("ei", "ii", "input", "rate")):
            axes[row, j].set_gid(f"{gid};{name}")
        if at_point(runs, "mean_weight", key) is None:
            for ax in axes[:, j]:
                no_data(ax)
            continue
        runaway = [_draw_weights(axes[row, j], runs, theory, key, synapse, finite_size)
                   for row, synapse in enumerate(("ei", "ii"))]
        runaway = [t for t in runaway if t is not None]
        for ax in axes[2:, j]:
            if runaway:
                ax.axvline(min(runaway), color=DIVERGED_COLOR, linestyle=":", linewidth=1.0,
                           gid="runaway-at")
        draw_currents(axes[2, j], runs, key, label_prefix="input ", ylabel=None,
                      divergence_marks=False)
        _draw_rates(axes[3, j], runs, key, targets)
        limit_range(axes[2, j], -INPUT_LIMIT, INPUT_LIMIT, "mV/ms")
        limit_range(axes[3, j], 0.0, max(RATE_LIMIT, 1.5 * max(targets.values(), default=0)),
                    "Hz")
        axes[3, j].set_xlabel(TIME_LABEL)
        for ax in axes[:, j]:
            annotate_divergence(ax, *divergence(runs, key))
    axes[0, 0].set_ylabel(SYNAPSE_AXIS_LABELS["ei"])
    axes[1, 0].set_ylabel(SYNAPSE_AXIS_LABELS["ii"])
    axes[2, 0].set_ylabel("Input to E (mV/ms)")
    axes[3, 0].set_ylabel("Rate (Hz)")
    for row in (2, 3):                  # inputs and rates: one legend per row, on its right
        panel_legend(axes[row, -1], sources=axes[row], fontsize=6, loc="upper right")
    letter_panels(axes.T.ravel())
    note = finite_size_note(finite_size)
    fig.suptitle("EI + II iSTDP: the learning-rate ratio decides stability — theory: "
                 f"{theories_drawn(theory, finite_size)}" + (f"\n({note})" if note else ""))
    figure_legend(fig, max_columns=4, axes=axes[:2].ravel())
    return fig


def _draw_weights(ax, runs, theory, key, synapse, finite_size=None) -> float | None:
    drawn = draw_weight_traces(ax, runs, theory, key, synapse, TRACES, divergence_marks=False,
                               axis_labels=False, finite_size=finite_size)
    if drawn is None:
        return None
    time_s, mean, fixed = drawn
    ok = np.isfinite(mean)
    scale = 0.0 if fixed is None else abs(fixed)
    mean_weight = at_point(runs, "mean_weight", key, synapse=synapse)
    initial = by_seed(mean_weight, "time")[:, 0]
    bound = WEIGHT_RANGE_FACTOR * max(scale, float(np.nanmax(np.abs(initial))))
    runaway = np.flatnonzero(ok & (np.abs(mean) > RUNAWAY_FACTOR / WEIGHT_RANGE_FACTOR * bound))
    if runaway.size:                 # the mean has left the balanced regime: mark when
        ax.axvline(time_s[runaway[0]], color=DIVERGED_COLOR, linestyle=":", linewidth=1.0,
                   gid="runaway-at")
        ax.text(0.98, 0.97, f"mean ran away at {time_s[runaway[0]]:.0f} s\n(|j̄| up to "
                f"{np.nanmax(np.abs(mean)):.1e} mV)", transform=ax.transAxes, ha="right",
                va="top", fontsize=6.5, color=DIVERGED_COLOR, gid="runaway-text",
                bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "alpha": 0.85,
                      "edgecolor": DIVERGED_COLOR, "linewidth": 0.5})
    limit_range(ax, -bound, bound, "mV", report=not runaway.size)
    lost = theory_at(theory, "balance_lost_at_s", key)
    if lost is not None and np.isfinite(float(lost)):
        ax.text(0.02, 0.03, f"ODE: balanced state lost at {float(lost):.2g} s",
                transform=ax.transAxes, ha="left", va="bottom", fontsize=6.5,
                gid="theory-balance-lost",
                bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "alpha": 0.85,
                      "edgecolor": "none"})
    return time_s[runaway[0]] if runaway.size else None


def limit_range(ax, low: float, high: float, unit: str, report: bool = True) -> None:
    """Clip the y-range to [low, high] (tighter if the data are); if drawn lines go
    beyond it, say how far (text gid ``clipped-text``)."""
    values = np.concatenate([np.asarray(line.get_ydata(), float) for line in ax.lines
                             if line.get_gid() not in (None, "diverged-at", "runaway-at")]
                            or [np.empty(0)])
    values = values[np.isfinite(values)]
    if not values.size:
        return
    lo, hi = max(values.min(), low), min(values.max(), high)
    pad = 0.05 * (hi - lo) if hi > lo else 1.0
    ax.set_ylim(lo - pad, hi + pad)
    beyond = values[(values < low) | (values > high)]
    if beyond.size and report:
        extreme = beyond[np.argmax(np.abs(beyond))]
        ax.text(0.98, 0.03, f"clipped: extreme {extreme:.3g} {unit}", transform=ax.transAxes,
                ha="right", va="bottom", fontsize=6, color="0.3", gid="clipped-text",
                bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "alpha": 0.85,
                      "edgecolor": "none"})


def _draw_rates(ax, runs, key, targets) -> None:
    for population, color in POPULATION_COLORS.items():
        da = at_point(runs, "population_rate", key, population=population)
        if da is None:
            continue
        mean, _, _ = running_mean(by_seed(da, "time"))
        ok = np.isfinite(mean)
        ax.plot(da["time"].values[ok], mean[ok], color=color, linewidth=0.9,
                gid=f"rate-{population}", label=f"{population} rate")
        if population in targets:
            symbol = r"$\rho_e$" if population == "E" else r"$\rho_i$"
            ax.axhline(targets[population], color=color, linestyle=":", linewidth=1.2,
                       gid=f"target-{population}",
                       label=f"target {symbol} = {format_value(targets[population])} Hz")
