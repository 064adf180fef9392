"""Learning windows of the rules (spec Fig 9), drawn from the rule descriptions of
:mod:`balanced_stdp.plasticity`; no simulation needed."""

from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from ..plasticity import SPEC_LEARNING_WINDOWS, LearningWindow
from .captions import rule_parameters
from .style import SYNAPSE_COLORS, new_figure, rule_name, styled

DEFAULT_TAU_STDP_MS = 20.0
"""τ with which the paper draws the windows (ms)."""

CAPTION = (
    "Learning windows: weight change Δj of one isolated pre/post spike pair divided by the "
    "effective learning rate, against Δt = t_pre − t_post (pre before post on the left), "
    "computed from the rule descriptions of balanced_stdp.plasticity. The single-spike "
    "terms of both spikes are included, so Kohonen's −j and iSTDP's −α appear on both "
    "sides. The iSTDP window is also divided by |j| (a positive value strengthens "
    "inhibition).")


def window_parameters(window: LearningWindow) -> str:
    """The parameters a window is drawn with, e.g. ``"β₀ = 2, j = 1 mV"``."""
    return ", ".join(rule_parameters(window.overrides) + [f"j = {window.weight_mv:g} mV"])


def caption(runs: xr.Dataset | None = None,
            tau_stdp_ms: float = DEFAULT_TAU_STDP_MS) -> str:
    """Caption of :func:`plot_learning_windows` (``runs`` is unused: no data)."""
    windows = "; ".join(f"{rule_name(w.rule)}: {window_parameters(w)}"
                        for w in SPEC_LEARNING_WINDOWS)
    return f"{CAPTION} τ = {tau_stdp_ms:g} ms; {windows}."


@styled
def plot_learning_windows(tau_stdp_ms: float = DEFAULT_TAU_STDP_MS) -> Figure:
    """Learning windows of the rules (spec Fig 9), from the rule descriptions.

    Parameters
    ----------
    tau_stdp_ms : float
        Trace time constant τ (ms); the paper draws the windows with 20 ms.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per window of :data:`balanced_stdp.plasticity.SPEC_LEARNING_WINDOWS`
        (axes gid ``window|<rule>``): Δj/η_eff of an isolated pre/post pair against
        Δt = t_pre − t_post ∈ [−100, 100] ms (pre before post on the left), drawn as
        two curves (gids ``window-causal`` for Δt < 0, ``window-acausal`` for Δt > 0).
        Single-spike terms of both spikes are part of the pair's update, so they
        appear on both sides (e.g. Kohonen's −j, iSTDP's −α), unlike the paper's
        one-sided schematic.
    """
    lags_causal = np.linspace(-100.0, -0.5, 200)
    lags_acausal = -lags_causal[::-1]
    fig = new_figure(2.4 * len(SPEC_LEARNING_WINDOWS), 2.5)
    axes = fig.subplots(1, len(SPEC_LEARNING_WINDOWS), squeeze=False)[0]
    for ax, window in zip(axes, SPEC_LEARNING_WINDOWS):
        ax.set_gid(f"window|{window.rule}")
        for lags, gid in ((lags_causal, "window-causal"), (lags_acausal, "window-acausal")):
            ax.plot(lags, window.values(lags, tau_stdp_ms), color=SYNAPSE_COLORS[window.synapse],
                    linewidth=1.5, gid=gid)
        ax.axhline(0.0, color="0.7", linewidth=0.6, zorder=0)
        ax.axvline(0.0, color="0.7", linewidth=0.6, zorder=0)
        name = rule_name(window.rule)
        title = name if name[1:2].isupper() else name[:1].upper() + name[1:]   # iSTDP stays
        ax.set_title(f"{title}\n({window_parameters(window)})")
        ax.set_xlabel("Δt = $t_{pre} - t_{post}$ (ms)")
        ax.set_ylabel("Δj / (η_eff |j|) (1)" if window.per_weight else "Δj / η_eff (mV)")
        ax.set_xlim(-100, 100)
    fig.suptitle(f"Learning windows of isolated spike pairs (τ = {tau_stdp_ms:g} ms; "
                 "pre before post at Δt < 0)")
    return fig
