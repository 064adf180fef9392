"""Mean-field ODE against simulated transients (spec §8 Fig 11): the mean plastic weight
of the soft Hebbian, Kohonen and iSTDP networks at c = 0 relaxing to its fixed point.

The iSTDP experiment's theory is Δ-corrected (spec §6.6); its leading-order fixed point
is drawn thin for comparison.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ..estimators import final_values, running_mean, seed_statistics
from ..selection import ExperimentData, at_point, by_seed, divergence, theory_at
from .facets import coord_values
from .labels import SYNAPSE_AXIS_LABELS, TIME_LABEL, rule_name
from .panels import (THEORY_COLOR, annotate_divergence, draw_per_role, fixed_point, main_synapse,
                     plot_finite_size, theory_name)
from .style import (FINITE_SIZE_FIXED_POINT, FIXED_POINT_STYLE, figure_legend, new_figure, no_data,
                    styled)


ROLES = ("soft", "kohonen", "istdp")
"""Panels, left to right."""


@styled
def plot_transients(soft: "ExperimentData", kohonen: "ExperimentData",
                    istdp: "ExperimentData") -> Figure:
    """Simulated mean weight vs the mean-field ODE for three rules, c = 0.

    Parameters
    ----------
    soft, kohonen, istdp : ExperimentData
        Runs and theory aggregates of each rule's experiment (its c = 0 runs are shown).

    Returns
    -------
    matplotlib.figure.Figure
        One panel per role (axes gid ``transient|<role>``) with ``sim-mean``,
        ``sim-sd``, ``theory-ode``, ``theory-fixed-point``,
        ``leading-order-fixed-point`` (Δ-corrected theory only) and the text
        ``final-vs-theory``.
    """
    fig = new_figure(11.0, 3.6)
    axes = fig.subplots(1, len(ROLES), squeeze=False)[0]
    draw_per_role(axes, ROLES, (soft, kohonen, istdp), "transient|{role}",
                  lambda ax, runs, data: _draw_transient(ax, runs, data.theory,
                                                         data.finite_size))
    fig.suptitle("Mean plastic weight: simulation (c = 0) vs mean-field ODE")
    figure_legend(fig, max_columns=4)
    return fig


def _draw_transient(ax, runs, theory, finite_size=None) -> None:
    rule = coord_values(runs, "rule")[0]
    key = {"rule": rule, "c": min(coord_values(runs, "c"), key=abs)}
    synapse = main_synapse(runs, rule)
    ax.set_title(f"{rule_name(rule)} ({synapse.upper()}), c = {key['c']:g}")
    mean_weight = at_point(runs, "mean_weight", key, synapse=synapse)
    if mean_weight is None:
        no_data(ax)
        return
    values = by_seed(mean_weight, "time")
    time_s = mean_weight["time"].values
    mean, sd, _ = running_mean(values)
    band = np.isfinite(mean) & np.isfinite(sd)
    if band.any():
        ax.fill_between(time_s[band], (mean - sd)[band], (mean + sd)[band], color="0.6",
                        alpha=0.4, linewidth=0, gid="sim-sd", label="±1 s.d. over seeds")
    ok = np.isfinite(mean)
    ax.plot(time_s[ok], mean[ok], color="black", linewidth=1.4, gid="sim-mean",
            label="simulated mean")
    name = theory_name(theory)
    ode = theory_at(theory, "mean_weight", key, synapse=synapse)
    if ode is not None:
        ax.plot(ode["time"].values, ode.values, color=THEORY_COLOR, linestyle="--",
                linewidth=1.5, gid="theory-ode", label=f"mean-field ODE, {name}")
    fixed = fixed_point(theory, key, synapse)
    if fixed is not None:
        ax.axhline(fixed, gid="theory-fixed-point", label=f"fixed point, {name}",
                   **FIXED_POINT_STYLE)
    leading = fixed_point(theory, key, synapse, name="leading_order_fixed_point_weight")
    if leading is not None:
        ax.axhline(leading, color="0.6", linewidth=0.6, gid="leading-order-fixed-point",
                   label="fixed point, leading order")
    plot_finite_size(ax, finite_size, "mean_weight", key, synapse=synapse)
    finite = plot_finite_size(ax, finite_size, "fixed_point_weight", key, synapse=synapse,
                              label="fixed point, finite-size theory",
                              gid="finite-size-fixed-point",
                              style=FINITE_SIZE_FIXED_POINT)
    seeds, flags, times = divergence(runs, key)
    final_mean, final_sd, count = seed_statistics(final_values(values, flags))
    lines = [f"final sim.: {final_mean:.3g}" + (f" ± {final_sd:.2g}" if np.isfinite(final_sd)
                                                 else "") + f" mV (n = {count})"]
    if fixed is not None:
        lines.append(f"theory j*: {fixed:.3g} mV")
    if leading is not None:
        lines.append(f"leading order: {leading:.3g} mV")
    if finite is not None:
        lines.append(f"finite-size theory: {float(finite):.3g} mV")
    ax.text(0.97, 0.03, "\n".join(lines), transform=ax.transAxes, ha="right", va="bottom",
            fontsize=7, gid="final-vs-theory",
            bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "alpha": 0.8,
                  "edgecolor": "0.7", "linewidth": 0.5})
    annotate_divergence(ax, seeds, flags, times)
    ax.set_xlabel(TIME_LABEL)
    ax.set_ylabel(SYNAPSE_AXIS_LABELS[synapse])
