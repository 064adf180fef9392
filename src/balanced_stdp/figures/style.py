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
FINITE_SIZE_FIXED_POINT = {"linestyle": (0, (2, 2)), "linewidth": 1.0}
"""The finite-size fixed point drawn next to its trajectory: magenta dotted, like the
grey dotted fixed point of the other theories (a second dash-dot line would look like
the trajectory)."""
DIVERGED_COLOR = "#b2182b"
PANEL_LETTER_GID = "panel-letter"
"""Gid of the title that letters a panel (:func:`letter_panels`; the figure check,
:mod:`.check`, looks for it)."""
NO_DATA_GID = "no-data"
"""Gid of the note on a panel without data (:func:`no_data`)."""

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


def figure_legend(fig: Figure, max_columns: int = 4, axes=None, select=None) -> None:
    """One legend below the panels with every labelled artist (first of each label) of
    ``axes`` (default: the panels that have no legend of their own) whose label passes
    ``select`` (default: all)."""
    handles: dict[str, Any] = {}
    for ax in (fig.axes if axes is None else axes):
        if axes is None and ax.get_legend() is not None:
            continue
        for handle, label in zip(*ax.get_legend_handles_labels()):
            if select is None or select(label):
                handles.setdefault(label, handle)
    if handles:
        fig.legend(list(handles.values()), list(handles), loc="outside lower center",
                   ncol=min(len(handles), max_columns), fontsize=7)


def panel_legend(ax, keys: dict | None = None, sources=None, select=None, **kwargs):
    """The panel's legend with one entry per label (the first artist of each), so lines
    drawn once per seed, epoch or population under one label appear once; ``keys`` gives
    the legend key of a label (e.g. a grey dashed line for coloured dashed theory lines
    that share one label); ``sources``: collect the labels of these axes instead (one
    legend for a row of panels that show the same kinds of lines); ``select``: only
    labels that pass it."""
    handles: dict[str, Any] = {}
    for source in (sources if sources is not None else [ax]):
        for handle, label in zip(*source.get_legend_handles_labels()):
            if select is None or select(label):
                handles.setdefault(label, (keys or {}).get(label, handle))
    if not handles:
        return None
    return ax.legend(list(handles.values()), list(handles), **kwargs)


def no_data(ax, text: str = "no run") -> None:
    """Mark a panel without data (grey text, gid :data:`NO_DATA_GID`, no ticks)."""
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="0.5",
            gid=NO_DATA_GID)
    ax.set_xticks([])
    ax.set_yticks([])


def reference_line(ax, value: float = 0.0, vertical: bool = False, name: str = "zero",
                   **style) -> None:
    """A thin grey reference line (zero, identity level …) at ``value``, gid
    ``reference|<name>``: a guide for the eye, explained by its axis, not in a legend."""
    (ax.axvline if vertical else ax.axhline)(value, gid=f"reference|{name}", **{
        "color": "0.7", "linewidth": 0.6, "zorder": 0, **style})


PANEL_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def letter_panels(axes, start: int = 0) -> None:
    """Letter panels in reading order: each panel's title moves to the left after its
    letter (``"A  title"``), the title carrying the gid :data:`PANEL_LETTER_GID`.

    Parameters
    ----------
    axes : iterable of Axes
        The panels, in the order of their letters (A, B, …).
    start : int
        Index of the first letter (0: A).
    """
    for letter, ax in zip(PANEL_LETTERS[start:], axes):
        title = ax.get_title(loc="left") or ax.get_title()
        if title[:1] == letter and title[1:3] == "  ":         # lettered already
            title = title[3:]
        font = ax.title.get_fontsize() if ax.get_title() else None
        ax.set_title("")
        text = ax.set_title(f"{letter}  {title}" if title else letter, loc="left",
                            **({"fontsize": font} if font else {}))
        text.set_gid(PANEL_LETTER_GID)
