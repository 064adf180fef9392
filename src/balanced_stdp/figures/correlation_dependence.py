"""Fig S1 — dependence of the final EE weight on the input correlation c (spec §6.8, §7
#16–17): Kohonen's fixed point rises mildly with c, the soft-Hebbian one stays at j_max.

One panel per rule (roles ``kohonen`` and ``soft``), each with the final mean weight of
every network size (one colour per N) and the leading-order mean-field fixed point
dense in c, K terms included (:func:`balanced_stdp.theory.parameter_sweep`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from .. import theory as mean_field
from ..estimators import final_values, seed_statistics
from .captions import rule_parameters, with_parameters
from .common import by_seed, divergence, ensure_swept, plot_finite_size, run_configs, select
from .style import (DIVERGED_COLOR, THEORY_STYLE, final_label, new_figure, no_data, rule_name,
                    styled)

if TYPE_CHECKING:                     # the registry imports this module
    from .registry import ExperimentData

DENSE_C = np.linspace(0.0, 1.0, 41)
ROLES = ("kohonen", "soft")

CAPTION = (
    "Final mean EE weight against the input correlation c for Kohonen's rule (left) and "
    "the soft-bound Hebbian rule (right), for each network size N (markers, one colour "
    "per N; mean ± s.d. over seeds of the last snapshot). Dashed: leading-order mean-field "
    "fixed point, dense in c, with the correlation terms K⁺, K⁻ of spec §6.3–6.8 (the "
    "leading-order theory does not depend on N, so one line is drawn when the sizes "
    "agree). Kohonen's fixed point rises mildly with c; the soft-Hebbian one stays at "
    "j_max because K⁺_ee = K⁻_ee. Runs stopped by the divergence guard are marked × at "
    "the top of the panel (never dropped).")


def caption(runs: xr.Dataset | None) -> str:
    """Caption of :func:`plot_correlation_dependence`, with the parameters of ``runs``."""
    return with_parameters(CAPTION, runs)


def theory_vs_c(config: dict, c_values=DENSE_C) -> np.ndarray:
    """Leading-order fixed point of the mean EE weight (mV) along c (NaN: none)."""
    sweep = mean_field.parameter_sweep(config, "c", c_values)
    return sweep["fixed_point_weight"].sel(synapse="ee").values


def final_by_c(runs: xr.Dataset, n) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(c, mean final weight, s.d., diverged-run count) at size ``n`` over the c grid."""
    c_values = np.asarray(runs["c"].values, dtype=float)
    means, sds, n_diverged = [], [], []
    for c in c_values:
        key = {"rule": runs["rule"].values[0], "c": c, "N": n}
        mean_weight = select(runs, "mean_weight", key, synapse="ee")
        _, flags, _ = divergence(runs, key)
        if mean_weight is None:
            means.append(np.nan), sds.append(np.nan), n_diverged.append(0)
            continue
        mean, sd, _ = seed_statistics(final_values(by_seed(mean_weight, "time"), flags))
        means.append(mean)
        sds.append(sd)
        n_diverged.append(int(flags.sum()))
    return c_values, np.array(means), np.array(sds), np.array(n_diverged)


@styled
def plot_correlation_dependence(kohonen: ExperimentData, soft: ExperimentData) -> Figure:
    """Final mean EE weight vs c, per N, against the leading-order theory (Fig S1).

    Parameters
    ----------
    kohonen, soft : ExperimentData
        Runs of the c sweeps (dimensions ``c`` and ``N``) of each rule, and their
        finite-size theory when computed (its fixed point vs c per N, dash-dot,
        ``finite-size-N=<N>``).

    Returns
    -------
    matplotlib.figure.Figure
        Axes gids ``final-vs-c-<role>``, with ``sim-N=<N>`` (mean final weight per c),
        ``theory-N=<N>`` (dashed theory dense in c; only the first N when all agree) and
        ``ran-away`` (× at the c of each diverged run).
    """
    fig = new_figure(8.4, 3.6)
    axes = fig.subplots(1, 2, squeeze=False)[0]
    for ax, role, data in zip(axes, ROLES, (kohonen, soft)):
        ax.set_gid(f"final-vs-c-{role}")
        if data is None or data.runs is None:
            no_data(ax)
            continue
        _draw_role(ax, ensure_swept(data.runs), data.finite_size)
    fig.suptitle("Final EE weight vs input correlation c: simulation and leading-order theory")
    return fig


def _draw_role(ax, runs: xr.Dataset, finite_size: xr.Dataset | None = None) -> None:
    from matplotlib import colormaps
    rule = str(runs["rule"].values[0])
    n_values = [int(n) for n in runs["N"].values] if "N" in runs.dims else [None]
    configs = run_configs(runs)
    cmap = colormaps["viridis"]
    drawn_theory: list[np.ndarray] = []
    top = []
    for k, n in enumerate(n_values):
        color = cmap(0.8 * k / max(len(n_values) - 1, 1))
        c_values, means, sds, n_diverged = final_by_c(runs, n)
        if np.isfinite(means).any():
            container = ax.errorbar(c_values, means, yerr=np.nan_to_num(sds), fmt="o",
                                    color=color, markersize=4, capsize=2,
                                    label=f"simulation, N = {n}")
            container.lines[0].set_gid(f"sim-N={n}")
            top.append(np.nanmax(means))
        config = next((c for c in configs if c.get("N") == n), configs[0] if configs else None)
        if config is not None:
            values = theory_vs_c(config)
            if not any(np.allclose(values, v, equal_nan=True) for v in drawn_theory):
                label = ("theory, leading order with K terms" if not drawn_theory
                         else f"theory, N = {n}")
                ax.plot(DENSE_C, values, color="0.25" if not drawn_theory else color,
                        gid=f"theory-N={n}", label=label, **THEORY_STYLE)
                drawn_theory.append(values)
                top.append(np.nanmax(values))
        finite = plot_finite_size(ax, finite_size, "fixed_point_weight",
                                  {} if n is None else {"N": n}, along="c", synapse="ee",
                                  label=f"finite-size theory, N = {n}",
                                  gid=f"finite-size-N={n}")
        if finite is not None and np.isfinite(finite.values).any():
            top.append(float(np.nanmax(finite.values)))
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
    ax.set_xlabel("Input correlation c (1)")
    ax.set_ylabel(final_label("ee"))
    ax.legend(fontsize=6, loc="lower right")
