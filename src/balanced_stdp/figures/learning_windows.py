"""Learning windows of the rules (spec Fig 9), drawn from the rule descriptions of
:mod:`balanced_stdp.plasticity`; no simulation needed."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from ..plasticity import SPEC_LEARNING_WINDOWS, LearningWindow
from .captions import rule_parameters
from .style import SYNAPSE_COLORS, new_figure, rule_name, styled

PAPER_TAU_STDP_MS = 20.0
"""τ with which the paper draws the windows (ms)."""

SIMULATION_TAU_STDP_MS = 200.0
"""τ the study's simulations use (ms; the iSTDP statistics run uses 50 ms)."""

DEFAULT_TAUS_MS = (SIMULATION_TAU_STDP_MS, PAPER_TAU_STDP_MS)
"""Rows of the figure: the simulations' τ, then the paper's illustration."""

LAG_RANGE_IN_TAU = 5.0
"""Each row spans Δt ∈ ± this many τ (± 100 ms at the paper's 20 ms)."""

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
            taus_ms: Sequence[float] = DEFAULT_TAUS_MS) -> str:
    """Caption of :func:`plot_learning_windows` (``runs`` is unused: no data)."""
    windows = "; ".join(f"{rule_name(w.rule)}: {window_parameters(w)}"
                        for w in SPEC_LEARNING_WINDOWS)
    rows = ", ".join(f"τ = {tau:g} ms (Δt within ±{LAG_RANGE_IN_TAU * tau:g} ms"
                     + (", the simulations'" if tau == SIMULATION_TAU_STDP_MS else
                        ", the paper's illustration" if tau == PAPER_TAU_STDP_MS else "")
                     + ")" for tau in taus_ms)
    return f"{CAPTION} Rows: {rows}; {windows}."


def tau_label(tau_ms: float) -> str:
    """Row label of a τ: "τ = 200 ms (simulations)", "τ = 20 ms (paper's Fig 9)"."""
    role = {SIMULATION_TAU_STDP_MS: " (simulations)",
            PAPER_TAU_STDP_MS: " (paper's Fig 9)"}.get(tau_ms, "")
    return f"τ = {tau_ms:g} ms{role}"


@styled
def plot_learning_windows(taus_ms: Sequence[float] = DEFAULT_TAUS_MS) -> Figure:
    """Learning windows of the rules (spec Fig 9), from the rule descriptions.

    Parameters
    ----------
    taus_ms : sequence of float
        Trace time constants τ (ms), one row each: by default the simulations' 200 ms
        and the paper's illustration, 20 ms.

    Returns
    -------
    matplotlib.figure.Figure
        One row per τ and one panel per window of
        :data:`balanced_stdp.plasticity.SPEC_LEARNING_WINDOWS` (axes gid
        ``window|<rule>|tau=<τ>``): Δj/η_eff of an isolated pre/post pair against
        Δt = t_pre − t_post ∈ ±5 τ (pre before post on the left), drawn as two curves
        (gids ``window-causal`` for Δt < 0, ``window-acausal`` for Δt > 0).
        Single-spike terms of both spikes are part of the pair's update, so they
        appear on both sides (e.g. Kohonen's −j, iSTDP's −α), unlike the paper's
        one-sided schematic.
    """
    fig = new_figure(2.4 * len(SPEC_LEARNING_WINDOWS), 2.4 * len(taus_ms) + 0.4)
    axes = fig.subplots(len(taus_ms), len(SPEC_LEARNING_WINDOWS), squeeze=False)
    for row, tau_ms in zip(axes, taus_ms):
        span = LAG_RANGE_IN_TAU * tau_ms
        lags_causal = np.linspace(-span, -span / 400, 400)
        lags_acausal = -lags_causal[::-1]
        for ax, window in zip(row, SPEC_LEARNING_WINDOWS):
            ax.set_gid(f"window|{window.rule}|tau={tau_ms:g}")
            for lags, gid in ((lags_causal, "window-causal"), (lags_acausal, "window-acausal")):
                ax.plot(lags, window.values(lags, tau_ms),
                        color=SYNAPSE_COLORS[window.synapse], linewidth=1.5, gid=gid)
            ax.axhline(0.0, color="0.7", linewidth=0.6, zorder=0)
            ax.axvline(0.0, color="0.7", linewidth=0.6, zorder=0)
            name = rule_name(window.rule)
            title = name if name[1:2].isupper() else name[:1].upper() + name[1:]  # iSTDP stays
            ax.set_title(f"{title}, {tau_label(tau_ms)}\n({window_parameters(window)})",
                         fontsize=7.5)
            ax.set_xlabel("Δt = $t_{pre} - t_{post}$ (ms)")
            ax.set_ylabel("Δj / (η_eff |j|) (1)" if window.per_weight else "Δj / η_eff (mV)")
            ax.set_xlim(-span, span)
    fig.suptitle("Learning windows of isolated spike pairs (pre before post at Δt < 0); "
                 + ", ".join(tau_label(tau) for tau in taus_ms))
    return fig
