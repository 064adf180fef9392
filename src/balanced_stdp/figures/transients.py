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
from .convergence import weight_convergence
from .panels import (DELTA_NOTE, THEORY_COLOR, annotate_divergence, draw_per_role, finite_size_note,
                     fixed_point, is_delta_corrected, main_synapse, plot_finite_size,
                     theory_name)
from .style import (DIVERGED_COLOR, FINITE_SIZE_FIXED_POINT, FIXED_POINT_STYLE, figure_legend,
                    letter_panels, new_figure, no_data, styled)


ROLES = ("soft", "kohonen", "istdp")
"""Panels, left to right."""

DELTA_COLOR = "#8c510a"
"""The Δ-corrected ODE (brown), told apart from the leading-order ODE (orange)."""


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
    fig = new_figure(11.0, 4.2)
    axes = fig.subplots(1, len(ROLES), squeeze=False)[0]
    draw_per_role(axes, ROLES, (soft, kohonen, istdp), "transient|{role}",
                  lambda ax, runs, data: _draw_transient(ax, runs, data.theory,
                                                         data.finite_size))
    letter_panels(axes)
    delta = any(is_delta_corrected(data.theory) for data in (soft, kohonen, istdp)
                if data is not None)
    fig.suptitle("Mean plastic weight: simulation (c = 0) vs the finite-size theory "
                 "(magenta) and the mean-field ODE (orange; brown: Δ-corrected)"
                 + (f"\n{DELTA_NOTE}" if delta else ""))
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
        ax.plot(ode["time"].values, ode.values, linestyle="--", linewidth=1.5, gid="theory-ode",
                color=DELTA_COLOR if is_delta_corrected(theory) else THEORY_COLOR,
                label=f"mean-field ODE, {name}")
    fixed = fixed_point(theory, key, synapse)
    if fixed is not None:
        ax.axhline(fixed, gid="theory-fixed-point", label="fixed point of the ODE (grey dotted)",
                   **FIXED_POINT_STYLE)
    leading = fixed_point(theory, key, synapse, name="leading_order_fixed_point_weight")
    if leading is not None:
        ax.axhline(leading, color="0.6", linewidth=0.6, gid="leading-order-fixed-point",
                   label="fixed point, leading order (thin grey)")
    plot_finite_size(ax, finite_size, "mean_weight", key, synapse=synapse,
                     label="finite-size theory (dash-dot)")
    finite = plot_finite_size(ax, finite_size, "fixed_point_weight", key, synapse=synapse,
                              label="finite-size fixed point (magenta dotted)",
                              gid="finite-size-fixed-point",
                              style=FINITE_SIZE_FIXED_POINT)
    seeds, flags, times = divergence(runs, key)
    final_mean, final_sd, count = seed_statistics(final_values(values, flags))
    verdict = weight_convergence(runs, finite_size, key, synapse)
    lines = [f"final sim.: {final_mean:.3g}" + (f" ± {final_sd:.2g}" if np.isfinite(final_sd)
                                                 else "") + f" mV (n = {count})"]
    if finite is not None:
        lines.append(f"finite-size theory: {float(finite):.3g} mV")
    elif verdict.off_trajectory:
        unreached = theory_at(finite_size, "fixed_point_weight", key, synapse=synapse)
        lines.append(f"finite-size j* = {float(unreached):.3g} mV not drawn: its trajectory "
                     "levels off before it")
    if fixed is not None:
        lines.append(f"theory j*: {fixed:.3g} mV ({name})")
    if leading is not None:
        lines.append(f"leading order: {leading:.3g} mV")
    lines.append(verdict.short() + (f"\n({verdict.detail()})" if verdict.detail() else ""))
    note = finite_size_note(finite_size, key)
    if note:
        lines.append(note)
    # under the panel (constrained layout makes room), where it hides no curve
    ax.annotate("\n".join(lines), xy=(0.5, 0.0), xycoords="axes fraction", xytext=(0, -30),
                textcoords="offset points", ha="center", va="top", fontsize=6.5,
                gid="final-vs-theory",
                color="black" if verdict.converged is not False else DIVERGED_COLOR)
    annotate_divergence(ax, seeds, flags, times)
    ax.set_xlabel(TIME_LABEL)
    ax.set_ylabel(SYNAPSE_AXIS_LABELS[synapse])
