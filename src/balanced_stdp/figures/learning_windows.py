"""Learning windows of the rules (spec Fig 9), drawn from the rule descriptions of
:mod:`balanced_stdp.plasticity`; no simulation needed."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from matplotlib.figure import Figure

from ..plasticity import SPEC_LEARNING_WINDOWS
from .captions import DEFAULT_TAUS_MS, LAG_RANGE_IN_TAU, tau_label, window_parameters
from .labels import rule_name
from .style import SYNAPSE_COLORS, letter_panels, new_figure, reference_line, styled


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
            reference_line(ax)
            reference_line(ax, vertical=True)
            name = rule_name(window.rule)
            title = name if name[1:2].isupper() else name[:1].upper() + name[1:]  # iSTDP stays
            ax.set_title(f"{title}, {tau_label(tau_ms)}\n({window_parameters(window)})",
                         fontsize=7.5)
            ax.set_xlabel("Δt = $t_{pre} - t_{post}$ (ms)")
            ax.set_ylabel(r"$\Delta j / (\eta_\mathrm{eff} |j|)$" if window.per_weight
                          else r"$\Delta j / \eta_\mathrm{eff}$ (mV)")
            ax.set_xlim(-span, span)
    letter_panels(axes.ravel())
    fig.suptitle("Learning windows of isolated spike pairs (pre before post at Δt < 0); "
                 + ", ".join(tau_label(tau) for tau in taus_ms)
                 + "\nboth spikes' single-spike terms included (Kohonen's −j and iSTDP's −α "
                 "appear on both sides, unlike the textbook windows)")
    return fig
