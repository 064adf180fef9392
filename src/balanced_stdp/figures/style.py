"""Figure style: colours, labels and layout conventions of spec §8, in one place.

E blue, I red, external input X light blue, E+X blue, total input black; weight
traces EE dark slate grey, EI green, IE brown, II purple (EI green / II purple
everywhere, although the paper's Fig 12 material swaps them); simulated means black,
theory dashed; unscaled weights j in mV, rates in Hz, time in s.

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
import numpy as np
import seaborn as sns
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..contract import SYNAPSE_TYPES, dimension_name

POPULATION_COLORS = {"E": "#1f5aa6", "I": "#c62828"}
SOURCE_COLORS = {"E": "#1f5aa6", "E+X": "#1f5aa6", "X": "#6cb4e4", "I": "#c62828",
                 "total": "black"}
SYNAPSE_COLORS = {"ee": "#2f4f4f", "ei": "#2e8b3a", "ie": "#8c6239", "ii": "#7b3294"}
SYNAPSE_AXIS_LABELS = {s: f"{'Exc' if s[1] == 'e' else 'Inh'} weight $j_{{{s}}}$ (mV)"
                       for s in SYNAPSE_TYPES}
THEORY_STYLE = {"linestyle": "--", "linewidth": 1.5}
FIXED_POINT_STYLE = {"linestyle": (0, (2, 2)), "linewidth": 1.0, "color": "0.35"}
FINITE_SIZE_STYLE = {"linestyle": "-.", "linewidth": 1.4, "color": "#d01c8b"}
"""The finite-size theory (issue 12): magenta dash-dot, next to the dashed leading-order or
Δ-corrected theory (figures.common.plot_finite_size draws it)."""
FINITE_SIZE_LABEL = "finite-size theory"
FINITE_SIZE_FIXED_POINT = {"linewidth": 0.9}
"""Thinner dash-dot for the finite-size fixed point drawn next to its trajectory."""
DIVERGED_COLOR = "#b2182b"
TIME_LABEL = "Time (s)"

RULE_NAMES = {
    "kohonen": "Kohonen", "istdp": "iSTDP", "soft_hebbian": "soft Hebbian",
    "classical_hebbian": "classical Hebbian", "bounded_hebbian": "hard-bound Hebbian",
    "anti_hebbian": "anti-Hebbian", "oja": "Oja", "homeostatic": "homeostatic IE",
    "triplet": "triplet", "custom": "custom rule", "none": "no plasticity",
}
"""Display names of rule labels (the ``rule`` coordinate)."""

RULE_ORDER = ("kohonen", "istdp", "soft_hebbian", "bounded_hebbian", "classical_hebbian")
"""Facet order of the rules of the study; other labels follow alphabetically."""

SWEPT_DIM_LABELS = {
    **{dimension_name(f"weights.{s}"): (f"initial $j_{{{s}}}$", "mV") for s in SYNAPSE_TYPES},
    "N": ("N", ""), "tau_stdp_ms": ("τ_STDP", "ms"),
}
"""Readable names and units of extra swept dimensions (titles and captions)."""

PARAMETER_FORMATS = (("eta", "η = {}"), ("beta0", "β₀ = {}"), ("target_rate_hz", "ρ = {} Hz"),
                     ("j_max", "j_max = {} mV"))
"""How rule parameters are named in captions and titles."""


def rule_name(label: str) -> str:
    """Display name of a rule label (the label itself if it has none)."""
    return RULE_NAMES.get(label, label)


def rule_sort_key(label: str):
    """Sort key putting the study's rules in :data:`RULE_ORDER`, then the rest by name."""
    return (RULE_ORDER.index(label) if label in RULE_ORDER else len(RULE_ORDER), label)


def format_value(value) -> str:
    """A coordinate value as text: floats in ``%g``, everything else as ``str``."""
    if isinstance(value, (float, np.floating)):
        return f"{value:g}"
    return str(value)


def final_label(synapse: str) -> str:
    """Axis label of a synapse type's final weight ("Final exc weight …")."""
    label = SYNAPSE_AXIS_LABELS[synapse]
    return "Final " + label[0].lower() + label[1:]


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
