"""Figures of the study, drawn from aggregate run and theory datasets.

One module per figure family, each with its figure function: the paper's figures
(:mod:`.network_scaling` Fig 1, :mod:`.kohonen_stability` Fig 2, :mod:`.statistics`
Figs 3–5, :mod:`.optogenetics` Fig 6, :mod:`.istdp_manifold` Figs 7–8a,
:mod:`.timescale` Fig 8b, :mod:`.learning_windows` Fig 9, :mod:`.hebbian_variants`
Fig 10, :mod:`.transients` Fig 11, :mod:`.inhibitory_pair` Fig 12), the supplementary
ones (:mod:`.correlation_dependence`, :mod:`.inhibitory_scaling`,
:mod:`.covariance_weight`) and per-experiment diagnostics (:mod:`.weight_dynamics`,
:mod:`.balance`, :mod:`.rate_weight`, :mod:`.manifold`). Shared by them, in the order
they build on each other: :mod:`.labels` (names, units, axis labels: text only),
:mod:`.facets` (the combinations of swept values a figure draws a panel for),
:mod:`.style` (spec §8 colours, line styles, style context, legend), :mod:`.panels`
(weight traces, input currents, rates, divergence and theory marks) and
:mod:`.output` (:func:`save_figure`). Values are read from the aggregates with
:mod:`balanced_stdp.selection`; drawn theory curves are variables of the theory
aggregates (:mod:`balanced_stdp.theory.curves`).

:mod:`.captions` holds every figure's caption text and :mod:`.registry` lists every
figure, applies its caption and expands the workflow config's ``figures:`` section into
figure targets. Neither imports a plotting library, nor does this package until a figure
function is asked for (the attributes below are loaded on first use), so the workflow
parses without matplotlib.

Statistics over seeds (:mod:`balanced_stdp.estimators`): a time course is averaged
over the runs still running at each time; spreads are sample standard deviations
(ddof = 1) over two or more runs; a run's final value is its last recorded value,
and diverged runs have none — they are left out of final-value statistics and
listed on the panel.

Key artists carry ``gid`` labels (``"sim-mean"``, ``"final-mean"``, …) and every data
panel's axes a ``gid`` naming its facet (``"rule=kohonen;c=0.1"``), which the tests
use to read back what was drawn.
"""

import importlib

from ..selection import ExperimentData
from .registry import (FIGURES, Expansion, FigureSpec, FigureTarget, caption_for, figure_spec,
                       figure_targets)

_DRAWING = {"plot_weight_dynamics": "weight_dynamics", "plot_balance": "balance",
            "plot_rate_weight_correlation": "rate_weight", "plot_weight_manifold": "manifold",
            "plot_learning_windows": "learning_windows", "save_figure": "output"}
"""Attributes that need the plotting library, and their modules (loaded on first use)."""


def __getattr__(name: str):
    if name in _DRAWING:
        return getattr(importlib.import_module(f".{_DRAWING[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["plot_weight_dynamics", "plot_balance", "plot_rate_weight_correlation",
           "plot_weight_manifold", "plot_learning_windows", "save_figure", "FIGURES",
           "Expansion", "ExperimentData", "FigureSpec", "FigureTarget", "caption_for",
           "figure_spec", "figure_targets"]
