"""Timescale separation (Fig 8 candidate, spec §6.9, §7 #12).

The mean-field weight ODEs assume that weights change slowly compared with the rate,
synaptic and trace dynamics. :func:`plot_timescale_separation` draws, for the Kohonen,
soft Hebbian and iSTDP rules, the mean weight over time for learning rates spanning
four decades against the ODE at the same η, the largest η on its own axis, and the
relative deviation of the late simulated mean from the theory per η — where it grows
beyond a few per cent the separation of timescales has broken down.
"""

from __future__ import annotations

import numpy as np
import seaborn as sns
import xarray as xr
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..contract import SYNAPSE_TYPES, dimension_name
from ..estimators import running_mean
from ..selection import at_point, by_seed, divergence, ensure_swept, rule_synapses, theory_at
from .facets import coord_values
from .labels import SYNAPSE_AXIS_LABELS, TIME_LABEL, format_value, rule_name
from .panels import annotate_divergence, finite_size_covers, plot_finite_size
from .style import (DIVERGED_COLOR, FINITE_SIZE_STYLE, THEORY_STYLE, letter_panels, new_figure,
                    no_data, reference_line, styled)

LATE_FRACTION = 0.25
"""The late window: the last quarter of the run, over which sim and theory are compared."""
HOLDS_BELOW = 0.05
"""Relative deviation under which the theory is said to hold."""
ROLES = ("kohonen", "soft", "istdp")


def learning_rate_dim(runs: xr.Dataset) -> tuple[str, str]:
    """(swept dimension of η, synapse type) of a timescale experiment.

    Raises
    ------
    ValueError
        If no ``plasticity.<syn>.eta`` is swept.
    """
    for synapse in SYNAPSE_TYPES:
        dim = dimension_name(f"plasticity.{synapse}.eta")
        if dim in runs.dims:
            return dim, synapse
    raise ValueError("timescale figure needs runs sweeping plasticity.<synapse>.eta")


def late_deviation(time_s, simulated, theory_time_s, predicted,
                   fraction: float = LATE_FRACTION) -> float:
    """(sim − theory)/|theory| of the means over the last ``fraction`` of the run.

    The theory trajectory is interpolated onto the simulation's record times.
    """
    time_s, simulated = np.asarray(time_s, float), np.asarray(simulated, float)
    ok = np.isfinite(simulated)
    if not ok.any():
        return np.nan
    start = time_s[ok][-1] - fraction * (time_s[ok][-1] - time_s[ok][0])
    late = ok & (time_s >= start)
    theory_late = np.interp(time_s[late], theory_time_s, predicted)
    return float((simulated[late].mean() - theory_late.mean()) / abs(theory_late.mean()))


ODE_LABEL = "mean-field ODE (leading order), same η"
FINITE_SIZE_LABEL = "finite-size theory, same η"


def _draw_rule(axes, role, data, color_of) -> None:
    ax_all, ax_largest, ax_dev = axes
    if data is None or data.runs is None:
        for ax in axes:
            no_data(ax)
        return
    runs, theory = ensure_swept(data.runs), data.theory
    dim, synapse = learning_rate_dim(runs)
    rule = coord_values(runs, "rule")[0]
    if synapse not in rule_synapses(runs, rule):
        raise ValueError(f"role {role}: {synapse} is not plastic under {rule}")
    etas = sorted(float(e) for e in coord_values(runs, dim))
    deviations, diverged, finite_drawn, against = [], [], False, set()
    for eta in etas:
        key = {"rule": rule, "c": coord_values(runs, "c")[0], dim: eta}
        targets = [ax_all] if eta != etas[-1] else [ax_largest]
        da = at_point(runs, "mean_weight", key, synapse=synapse)
        ode = theory_at(theory, "mean_weight", key, synapse=synapse)
        mean = running_mean(by_seed(da, "time"))[0] if da is not None else None
        for ax in targets:
            if mean is not None:
                ax.plot(da["time"].values, mean, color=color_of(eta), linewidth=1.1,
                        label=f"η = {format_value(eta)}", gid=f"sim|eta={eta:g}")
            if ode is not None:
                ax.plot(ode["time"].values, ode.values, color=color_of(eta),
                        gid=f"theory|eta={eta:g}", label=ODE_LABEL, **THEORY_STYLE)
            finite = plot_finite_size(ax, data.finite_size, "mean_weight", key,
                                      synapse=synapse, gid=f"finite-size|eta={eta:g}",
                                      label=FINITE_SIZE_LABEL)
            finite_drawn |= finite is not None
            annotate_divergence(ax, *divergence(runs, key))
        if divergence(runs, key)[1].any():
            diverged.append(eta)
        # against the finite-size theory where it is computed: the leading order's
        # finite-size offset is the same at every η and is not a timescale effect
        reference = theory_at(data.finite_size, "mean_weight", key, synapse=synapse) \
            if finite_size_covers(data.finite_size, key) else None
        if reference is not None and np.isfinite(reference.values).sum() >= 2:
            against.add("finite-size theory")
        else:
            reference = ode
            if ode is not None:
                against.add("leading order")
        usable = mean is not None and reference is not None and eta not in diverged
        if usable:
            ok = np.isfinite(reference.values)
            deviations.append(late_deviation(da["time"].values, mean,
                                             reference["time"].values[ok],
                                             reference.values[ok]))
        else:
            deviations.append(np.nan)
    deviations = np.asarray(deviations)
    ax_dev.axhspan(-HOLDS_BELOW, HOLDS_BELOW, color="0.9", zorder=0)
    reference_line(ax_dev)
    ax_dev.plot(etas, deviations, "o-", color="black", gid="late-deviation")
    for eta, deviation in zip(etas, deviations):
        if np.isfinite(deviation):
            ax_dev.annotate(f"{100 * deviation:+.1f} %", (eta, deviation), fontsize=6,
                            textcoords="offset points", xytext=(0, 6), ha="center")
    for eta in diverged:      # a diverged run has no late mean: mark it, never drop it
        ax_dev.plot(eta, 0.0, "x", color=DIVERGED_COLOR, markersize=7, gid="diverged-eta")
        ax_dev.annotate("diverged", (eta, 0.0), fontsize=6, color=DIVERGED_COLOR,
                        textcoords="offset points", xytext=(0, -10), ha="center")
    holding = [format_value(eta) for eta, d in zip(etas, deviations)
               if np.isfinite(d) and abs(d) < HOLDS_BELOW]
    verdict = (f"|dev| < {100 * HOLDS_BELOW:g} % at η = {', '.join(holding)}"
               if holding else f"|dev| ≥ {100 * HOLDS_BELOW:g} % at every η")
    ax_dev.set_title(verdict, fontsize=7, gid="verdict")
    ax_dev.set_xscale("log")
    ax_dev.set_xlabel("Learning rate η" + (" (η₀)" if rule == "istdp" else ""))
    ax_dev.set_ylabel("Late (sim − theory)/|theory|\nvs " + " / ".join(sorted(against))
                      if against else "Late (sim − theory)/|theory|")
    ax_all.set_title(f"{rule_name(rule)} ({synapse.upper()}): η ≤ {format_value(etas[-2])}"
                     if len(etas) > 1 else rule_name(rule))
    ax_largest.set_title(f"{rule_name(rule)}: largest η = {format_value(etas[-1])}")
    for ax in (ax_all, ax_largest):
        ax.set_xlabel(TIME_LABEL)
        ax.set_ylabel(SYNAPSE_AXIS_LABELS[synapse])
        handles, labels = [], []
        for handle, label in zip(*ax.get_legend_handles_labels()):
            if label not in (ODE_LABEL, FINITE_SIZE_LABEL) and label not in labels:
                handles.append(handle)
                labels.append(label)
        handles.append(Line2D([], [], color="0.3", **THEORY_STYLE))
        labels.append(ODE_LABEL)
        if finite_drawn:
            handles.append(Line2D([], [], **FINITE_SIZE_STYLE))
            labels.append(FINITE_SIZE_LABEL)
        ax.legend(handles, labels, fontsize=6, loc="best")


@styled
def plot_timescale_separation(kohonen, soft, istdp) -> Figure:
    """Mean weight vs time per learning rate against the ODE, for three rules.

    Parameters
    ----------
    kohonen, soft, istdp : ExperimentData or None
        Each role's runs (sweeping ``plasticity.<syn>.eta``) and theory aggregates.

    Returns
    -------
    matplotlib.figure.Figure
        One column per role (axes gids ``<role>-all``, ``<role>-largest``,
        ``<role>-deviation``): simulated means (``sim|eta=…``) and ODEs
        (``theory|eta=…``, dashed), the largest η alone, and the late relative
        deviation per η (``late-deviation``) under a verdict title (``verdict``).
    """
    roles = dict(zip(ROLES, (kohonen, soft, istdp)))
    fig = new_figure(11.0, 8.4)
    axes = fig.subplots(3, len(roles), height_ratios=[1.2, 1.0, 0.8], squeeze=False)
    for column, (role, data) in enumerate(roles.items()):
        for row, part in enumerate(("all", "largest", "deviation")):
            axes[row, column].set_gid(f"{role}-{part}")
        etas = []
        if data is not None and data.runs is not None:
            dim, _ = learning_rate_dim(ensure_swept(data.runs))
            etas = sorted(float(e) for e in coord_values(ensure_swept(data.runs), dim))
        palette = dict(zip(etas, sns.color_palette("viridis", max(len(etas), 1))))
        _draw_rule(axes[:, column], role, data, lambda eta: palette.get(eta, "black"))
    letter_panels(axes.T.ravel())
    fig.suptitle("Fig 8 candidate — timescale separation: simulation vs mean-field ODE per "
                 "learning rate\n(the deviation row is measured against the finite-size theory "
                 "where it is computed)")
    return fig
