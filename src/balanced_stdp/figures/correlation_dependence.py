"""Fig S1 — dependence of the final EE weight on the input correlation c (spec §6.8, §7
#16–17): Kohonen's fixed point rises mildly with c, the soft-Hebbian one stays at j_max.

One panel per rule (roles ``kohonen`` and ``soft``), each with the final mean weight of
every network size (one colour per N) and the leading-order mean-field fixed point
dense in c, K terms included: the theory curve ``fixed_points:c`` of the roles' theory
aggregates (:func:`balanced_stdp.theory.curves.fixed_points_along`).
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from ..estimators import final_values, seed_statistics
from ..selection import ExperimentData, at_point, by_seed, divergence, run_configs
from .captions import rule_parameters
from .convergence import weight_convergence
from .labels import final_label, rule_name
from .panels import (draw_per_role, finite_size_note, plot_finite_size, seed_count_label,
                     state_convergence)
from .style import (DIVERGED_COLOR, FINITE_SIZE_FIXED_POINT, FINITE_SIZE_STYLE, THEORY_STYLE,
                    figure_legend, letter_panels, new_figure, styled)


ROLES = ("kohonen", "soft")


def theory_vs_c(theory: xr.Dataset | None, n) -> xr.DataArray | None:
    """The leading-order EE fixed point along c at size ``n`` (``along``: c), from the
    theory curve ``fixed_points:c`` of the theory aggregate; None without it."""
    if theory is None or "fixed_point_weight_along" not in theory.variables:
        return None
    curve = theory["fixed_point_weight_along"].sel(synapse="ee")
    if "N" in curve.dims:
        if n not in curve["N"].values:
            return None
        curve = curve.sel(N=n)
    return curve


def final_by_c(runs: xr.Dataset, n, counts: list | None = None,
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(c, mean final weight, s.d., diverged-run count) at size ``n`` over the c grid;
    the seed count of each point is appended to ``counts`` if given."""
    c_values = np.asarray(runs["c"].values, dtype=float)
    means, sds, n_diverged = [], [], []
    for c in c_values:
        key = {"rule": runs["rule"].values[0], "c": c, "N": n}
        mean_weight = at_point(runs, "mean_weight", key, synapse="ee")
        _, flags, _ = divergence(runs, key)
        if mean_weight is None:
            means.append(np.nan), sds.append(np.nan), n_diverged.append(0)
            continue
        mean, sd, count = seed_statistics(final_values(by_seed(mean_weight, "time"), flags))
        means.append(mean)
        sds.append(sd)
        n_diverged.append(int(flags.sum()))
        if counts is not None:
            counts.append(count)
    return c_values, np.array(means), np.array(sds), np.array(n_diverged)


@styled
def plot_correlation_dependence(kohonen: ExperimentData, soft: ExperimentData) -> Figure:
    """Final mean EE weight vs c, per N, against the leading-order theory (Fig S1).

    Parameters
    ----------
    kohonen, soft : ExperimentData
        Runs of the c sweeps (dimensions ``c`` and ``N``) of each rule, their theory
        (with the curve ``fixed_points:c``) and their finite-size theory when computed
        (its fixed point vs c per N, dash-dot, ``finite-size-N=<N>``).

    Returns
    -------
    matplotlib.figure.Figure
        Axes gids ``final-vs-c-<role>``, with ``sim-N=<N>`` (mean final weight per c),
        ``theory-N=<N>`` (dashed theory dense in c; only the first N when all agree) and
        ``ran-away`` (× at the c of each diverged run).
    """
    fig = new_figure(9.0, 4.8)
    axes = fig.subplots(1, 2, squeeze=False)[0]
    draw_per_role(axes, ROLES, (kohonen, soft), "final-vs-c-{role}",
                  lambda ax, runs, data: _draw_role(ax, runs, data.theory, data.finite_size))
    letter_panels(axes)
    fig.suptitle("EE weight at T vs input correlation c: simulation, finite-size theory "
                 "(dash-dot: at T, dotted: j*) and leading-order j* (dashed)")
    figure_legend(fig, max_columns=3)
    return fig


def _draw_role(ax, runs: xr.Dataset, theory: xr.Dataset | None,
               finite_size: xr.Dataset | None = None) -> None:
    from matplotlib import colormaps
    rule = str(runs["rule"].values[0])
    n_values = [int(n) for n in runs["N"].values] if "N" in runs.dims else [None]
    configs = run_configs(runs)
    cmap = colormaps["viridis"]
    drawn_theory: list[np.ndarray] = []
    top, counts, verdicts = [], [], []
    for n in n_values:
        _, means, _, _ = final_by_c(runs, n, counts)
    what = seed_count_label("simulation at T", counts)
    offsets = 0.006 * (np.arange(len(n_values)) - (len(n_values) - 1) / 2) * np.ptp(
        np.asarray(runs["c"].values, float))          # markers of the sizes side by side
    for k, n in enumerate(n_values):
        color = cmap(0.8 * k / max(len(n_values) - 1, 1))
        c_values, means, sds, n_diverged = final_by_c(runs, n)
        verdicts += [weight_convergence(runs, finite_size,
                                        {"c": c, **({} if n is None else {"N": n})}, "ee")
                     for c in c_values]
        if np.isfinite(means).any():
            container = ax.errorbar(c_values + offsets[k], means, yerr=np.nan_to_num(sds),
                                    fmt="o", color=color, markersize=4, capsize=2,
                                    label=f"{what}, N = {n}")
            container.lines[0].set_gid(f"sim-N={n}")
            top.append(np.nanmax(means))
        curve = theory_vs_c(theory, n)
        if curve is not None:
            values = curve.values
            if not any(np.allclose(values, v, equal_nan=True) for v in drawn_theory):
                label = ("theory, leading order with K terms" if not drawn_theory
                         else f"theory, N = {n}")
                ax.plot(curve["along"].values, values,
                        color="0.25" if not drawn_theory else color,
                        gid=f"theory-N={n}", label=label, **THEORY_STYLE)
                drawn_theory.append(values)
                top.append(np.nanmax(values))
        point = {} if n is None else {"N": n}
        finite = plot_finite_size(ax, finite_size, "fixed_point_weight", point, along="c",
                                  synapse="ee", label=f"finite-size theory j*, N = {n}",
                                  gid=f"finite-size-N={n}",
                                  style={**FINITE_SIZE_FIXED_POINT, "color": color})
        at_end = plot_finite_size(ax, finite_size, "mean_weight", point, along="c",
                                  at_end=True, synapse="ee",
                                  label=f"finite-size theory at T, N = {n}",
                                  gid=f"finite-size-at-T-N={n}",
                                  style={**FINITE_SIZE_STYLE, "color": color})
        for drawn in (finite, at_end):
            if drawn is not None and np.isfinite(drawn.values).any():
                top.append(float(np.nanmax(drawn.values)))
        away = c_values[n_diverged > 0]
        if away.size:
            ax.plot(away, np.full(away.size, np.nan), "x", color=DIVERGED_COLOR, gid="ran-away",
                    label=f"ran away (N = {n})", markersize=7, markeredgewidth=1.5)
    ceiling = 1.15 * max(top) if top else 1.0
    for artist in ax.lines:
        if artist.get_gid() == "ran-away":
            artist.set_ydata(np.full(len(artist.get_xdata()), ceiling))
    ax.set_ylim(0, 1.1 * ceiling)
    detail = ", ".join(rule_parameters(configs[0]["plasticity"]["ee"])) if configs else ""
    ax.set_title(f"{rule_name(rule)}" + (f" ({detail})" if detail else ""))
    ax.set_xlabel("Input correlation c")
    ax.set_ylabel(final_label("ee"))
    note = finite_size_note(finite_size)
    state_convergence(ax, verdicts, note=note)
