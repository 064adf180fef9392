"""Figures of the study, drawn from aggregate run and theory datasets.

One module per figure family, each with its figure function and caption:
:mod:`.weight_dynamics`, :mod:`.balance`, :mod:`.rate_weight`, :mod:`.manifold`,
:mod:`.learning_windows`. Shared by all of them: :mod:`.style` (spec §8 colours,
labels, style context, legend), :mod:`.common` (facets of the swept dimensions,
selection, divergence annotation, :func:`save_figure`) and :mod:`.captions` (the
parameter sentence). The per-rule paper figures :mod:`.statistics` (Figs 3–5),
:mod:`.hebbian_variants` (Fig 10) and :mod:`.transients` (Fig 11) share the panels of
:mod:`.panels`. :mod:`.registry` lists every figure and expands the workflow
config's ``figures:`` section into figure targets.

Statistics over seeds (:mod:`balanced_stdp.estimators`): a time course is averaged
over the runs still running at each time; spreads are sample standard deviations
(ddof = 1) over two or more runs; a run's final value is its last recorded value,
and diverged runs have none — they are left out of final-value statistics and
listed on the panel.

Key artists carry ``gid`` labels (``"sim-mean"``, ``"final-mean"``, …) and every data
panel's axes a ``gid`` naming its facet (``"rule=kohonen;c=0.1"``), which the tests
use to read back what was drawn.
"""

from .balance import plot_balance
from .common import save_figure
from .learning_windows import plot_learning_windows
from .manifold import plot_weight_manifold
from .rate_weight import plot_rate_weight_correlation
from .registry import (FIGURES, Expansion, ExperimentData, FigureSpec, FigureTarget, caption_for,
                       figure_spec, figure_targets)
from .weight_dynamics import plot_weight_dynamics

__all__ = ["plot_weight_dynamics", "plot_balance", "plot_rate_weight_correlation",
           "plot_weight_manifold", "plot_learning_windows", "save_figure", "FIGURES",
           "Expansion", "ExperimentData", "FigureSpec", "FigureTarget", "caption_for", "figure_spec",
           "figure_targets"]
