"""Figure style: colours, line styles and layout conventions of spec §8, in one place.

E blue, I red, external input X light blue, E+X blue, total input black; weight
traces EE dark slate grey, EI green, IE brown, II purple (EI green / II purple
everywhere, although the paper's Fig 12 material swaps them); simulated means black,
theory dashed. Text (names, units, axis labels) is :mod:`.labels`.

Figures are built on :class:`matplotlib.figure.Figure` objects with their own Agg
canvas, never through ``pyplot``, and drawn inside seaborn/matplotlib style contexts
(:func:`styled`), so no global plotting state is touched.
"""

from __future__ import annotations

import contextlib
import functools
import warnings
from typing import Any

import matplotlib as mpl
import seaborn as sns
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

POPULATION_COLORS = {"E": "#1f5aa6", "I": "#c62828"}
SOURCE_COLORS = {"E": "#1f5aa6", "E+X": "#1f5aa6", "X": "#6cb4e4", "I": "#c62828",
                 "total": "black"}
SYNAPSE_COLORS = {"ee": "#2f4f4f", "ei": "#2e8b3a", "ie": "#8c6239", "ii": "#7b3294"}
THEORY_STYLE = {"linestyle": "--", "linewidth": 1.5}
FIXED_POINT_STYLE = {"linestyle": (0, (2, 2)), "linewidth": 1.0, "color": "0.35"}
FINITE_SIZE_STYLE = {"linestyle": "-.", "linewidth": 1.4, "color": "#d01c8b"}
"""The finite-size theory (issue 12): magenta dash-dot, next to the dashed leading-order or
Δ-corrected theory (figures.panels.plot_finite_size draws it)."""
FINITE_SIZE_FIXED_POINT = {"linewidth": 0.9}
"""Thinner dash-dot for the finite-size fixed point drawn next to its trajectory."""
DIVERGED_COLOR = "#b2182b"

# ----------------------------------------------------------------------------- styling
@contextlib.contextmanager
def style():
    """Seaborn 'ticks' style in the 'paper' context, restored on exit."""
    with sns.axes_style("ticks"), sns.plotting_context("paper"), mpl.rc_context(
            {"axes.spines.top": False, "axes.spines.right": False, "legend.frameon": False,
             "axes.titlesize": 9, "axes.labelsize": 8, "legend.fontsize": 7,
             "xtick.labelsize": 7, "ytick.labelsize": 7, "figure.titlesize": 10,
             "axes.formatter.useoffset": False}):
        yield


def styled(function):
    """Decorator: draw inside :func:`style`, with all-NaN warnings silenced."""
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with style(), warnings.catch_warnings():
            # All-NaN slices (missing runs, diverged tails) are expected here.
            warnings.simplefilter("ignore", RuntimeWarning)
            return function(*args, **kwargs)
    return wrapper


def new_figure(width_in: float, height_in: float) -> Figure:
    """A figure with its own Agg canvas (no pyplot figure manager)."""
    fig = Figure(figsize=(width_in, height_in), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def common_limits(axes, axis: str) -> None:
    """Give ``axes`` the union of their autoscaled limits (comparable panels in a row)."""
    if len(axes) < 2:
        return
    limits = []
    for ax in axes:
        ax.relim()
        ax.autoscale_view()
        limits.append(getattr(ax, f"get_{axis}lim")())
    low, high = min(lim[0] for lim in limits), max(lim[1] for lim in limits)
    for ax in axes:
        getattr(ax, f"set_{axis}lim")(low, high)


def figure_legend(fig: Figure, max_columns: int = 4) -> None:
    """One legend below the panels with every labelled artist (first of each label)."""
    handles: dict[str, Any] = {}
    for ax in fig.axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    if handles:
        fig.legend(list(handles.values()), list(handles), loc="outside lower center",
                   ncol=min(len(handles), max_columns), fontsize=7)


def no_data(ax, text: str = "no run") -> None:
    """Mark a panel without data (grey text, no ticks)."""
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="0.5")
    ax.set_xticks([])
    ax.set_yticks([])
