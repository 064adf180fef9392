"""The figure registry: every figure of the study, and the targets a config asks for.

A :class:`FigureSpec` says how to draw a figure (its function and the aggregates it
needs), how its targets expand (once per experiment, per experiment and plastic
synapse, or once per study), its file-name template, report category and caption.
:func:`figure_targets` turns the workflow config's ``figures:`` section into the
table of :class:`FigureTarget` s — one per figure file stem — that the Snakemake
workflow builds with one generic rule.

Adding a figure is one module with its draw and caption functions, one entry in
:data:`FIGURES` and one line under ``figures:`` in the config. Renaming a figure's
files (e.g. to the paper's numbering) is a change of its ``stem`` template.
"""

from __future__ import annotations

import dataclasses
import enum
import string
from typing import Any, Callable, Mapping, Sequence

import xarray as xr
from matplotlib.figure import Figure

from . import balance, learning_windows, manifold, rate_weight, weight_dynamics

DATASET_INPUTS = ("runs", "theory")
"""Aggregates a figure can need: the experiment's runs and its theory."""


class Expansion(enum.Enum):
    """How a figure's targets expand over the study (value: the stem's placeholders)."""

    PER_EXPERIMENT = ("experiment",)
    PER_PLASTIC_SYNAPSE = ("experiment", "synapse")
    ONCE_PER_STUDY = ()


@dataclasses.dataclass(frozen=True)
class FigureSpec:
    """How one figure is drawn, where its targets come from and how it is reported.

    Attributes
    ----------
    name : str
        The figure's key under ``figures:`` in the workflow config.
    draw : callable
        Figure function; called with the datasets of :attr:`inputs` as keyword
        arguments (``runs=…, theory=…``) and, per plastic synapse, ``synapse=…``.
    inputs : tuple of str
        Aggregates it needs, from :data:`DATASET_INPUTS` (empty: none).
    expansion : Expansion
        How its targets expand.
    category : str
        Report category.
    caption : callable
        ``caption(runs)`` → caption text; ``runs`` is the runs aggregate the figure was
        drawn from, or None for the parameter-free text.
    stem : str
        File-name template (no extension) with exactly the placeholders of
        :attr:`expansion`, e.g. ``"balance_{experiment}"``.
    """

    name: str
    draw: Callable[..., Figure]
    inputs: tuple[str, ...]
    expansion: Expansion
    category: str
    caption: Callable[[xr.Dataset | None], str]
    stem: str

    def __post_init__(self):
        unknown = set(self.inputs) - set(DATASET_INPUTS)
        if unknown:
            raise ValueError(f"figure {self.name}: unknown inputs {sorted(unknown)}; "
                             f"known: {', '.join(DATASET_INPUTS)}")
        fields = {field for _, field, _, _ in string.Formatter().parse(self.stem) if field}
        if fields != set(self.expansion.value):
            raise ValueError(f"figure {self.name}: stem {self.stem!r} must have the "
                             f"placeholders {sorted(self.expansion.value)}")

    def targets(self, selection, plastic_synapses_by_experiment: Mapping[str, Sequence[str]],
                ) -> list["FigureTarget"]:
        """The targets of this figure for its ``figures:`` entry ``selection``.

        Parameters
        ----------
        selection : bool or list of str
            ``true``/``false`` for a figure drawn once per study, else the experiments
            to draw it for.
        plastic_synapses_by_experiment : mapping
            Experiment name → its plastic synapse types (all experiments of the study).

        Raises
        ------
        ValueError
            For a selection of the wrong kind, an unknown experiment, or an experiment
            without plastic synapses for a figure drawn per plastic synapse.
        """
        where = f"figures.{self.name}"
        if self.expansion is Expansion.ONCE_PER_STUDY:
            if not isinstance(selection, bool):
                raise ValueError(f"{where}: expected true or false (drawn once per study), "
                                 f"got {selection!r}")
            return [FigureTarget(self.stem, self.name)] if selection else []
        if isinstance(selection, (str, bool)) or not isinstance(selection, Sequence):
            raise ValueError(f"{where}: expected a list of experiments, got {selection!r}")
        targets = []
        for experiment in selection:
            if experiment not in plastic_synapses_by_experiment:
                raise ValueError(f"{where}: unknown experiment {experiment!r}; defined: "
                                 f"{', '.join(plastic_synapses_by_experiment)}")
            if self.expansion is Expansion.PER_EXPERIMENT:
                targets.append(FigureTarget(self.stem.format(experiment=experiment), self.name,
                                            experiment))
                continue
            synapses = plastic_synapses_by_experiment[experiment]
            if not synapses:
                raise ValueError(f"{where}: experiment {experiment!r} has no plastic synapses")
            targets += [FigureTarget(self.stem.format(experiment=experiment, synapse=synapse),
                                     self.name, experiment, synapse) for synapse in synapses]
        return targets


@dataclasses.dataclass(frozen=True)
class FigureTarget:
    """One figure file (PDF and PNG) of the study.

    Attributes
    ----------
    stem : str
        File name without extension.
    figure : str
        Name of its :class:`FigureSpec` in :data:`FIGURES`.
    experiment, synapse : str or None
        The experiment whose aggregates it is drawn from, and the synapse type it
        shows (None where the figure does not expand over them).
    """

    stem: str
    figure: str
    experiment: str | None = None
    synapse: str | None = None

    @property
    def spec(self) -> FigureSpec:
        return figure_spec(self.figure)

    @property
    def labels(self) -> dict[str, str]:
        """Report labels: the experiment and synapse (or the figure, if neither)."""
        labels = {key: value for key, value in (("experiment", self.experiment),
                                                 ("synapse", self.synapse)) if value}
        return labels or {"figure": self.spec.category}

    def draw(self, datasets: Mapping[str, xr.Dataset | None]) -> Figure:
        """Draw the figure from the aggregates of :attr:`FigureSpec.inputs`.

        Parameters
        ----------
        datasets : mapping
            Input name (``runs``, ``theory``) → dataset; a missing one is passed as None.
        """
        options = {"synapse": self.synapse} if self.synapse else {}
        return self.spec.draw(**{name: datasets.get(name) for name in self.spec.inputs},
                              **options)


FIGURES: dict[str, FigureSpec] = {spec.name: spec for spec in (
    FigureSpec("weight_dynamics", weight_dynamics.plot_weight_dynamics, ("runs", "theory"),
               Expansion.PER_PLASTIC_SYNAPSE, "Weight dynamics", weight_dynamics.caption,
               stem="weight_dynamics_{experiment}_{synapse}"),
    FigureSpec("balance", balance.plot_balance, ("runs", "theory"), Expansion.PER_EXPERIMENT,
               "Balance", balance.caption, stem="balance_{experiment}"),
    FigureSpec("rate_weight_correlation", rate_weight.plot_rate_weight_correlation, ("runs",),
               Expansion.PER_EXPERIMENT, "Rate-weight correlation", rate_weight.caption,
               stem="rate_weight_correlation_{experiment}"),
    FigureSpec("weight_manifold", manifold.plot_weight_manifold, ("runs", "theory"),
               Expansion.PER_EXPERIMENT, "Weight manifold", manifold.caption,
               stem="weight_manifold_{experiment}"),
    FigureSpec("learning_windows", learning_windows.plot_learning_windows, (),
               Expansion.ONCE_PER_STUDY, "Learning windows", learning_windows.caption,
               stem="learning_windows"),
)}
"""Every figure of the study, by its name under ``figures:`` in the workflow config."""


def figure_spec(name: str) -> FigureSpec:
    """The :class:`FigureSpec` called ``name``.

    Raises
    ------
    ValueError
        For an unknown name (the message lists the known ones).
    """
    try:
        return FIGURES[name]
    except KeyError:
        raise ValueError(f"unknown figure {name!r}; known: {', '.join(FIGURES)}") from None


def caption_for(name: str, runs: xr.Dataset | None) -> str:
    """Caption of figure ``name``: what it shows and, given ``runs``, which parameters
    produced it (read from the run configs stored in the aggregate)."""
    return figure_spec(name).caption(runs)


def figure_targets(figures_config: Mapping[str, Any],
                   plastic_synapses_by_experiment: Mapping[str, Sequence[str]],
                   ) -> dict[str, FigureTarget]:
    """The figure files a workflow config asks for, by stem.

    Parameters
    ----------
    figures_config : mapping
        The config's ``figures:`` section: figure name → list of experiments, or
        true/false for a figure drawn once per study.
    plastic_synapses_by_experiment : mapping
        Every experiment of the study → its plastic synapse types.

    Returns
    -------
    dict
        Stem → :class:`FigureTarget`, in config order.

    Raises
    ------
    ValueError
        For an unknown figure or experiment, a selection of the wrong kind, or two
        targets with the same stem.
    """
    targets: dict[str, FigureTarget] = {}
    for name, selection in figures_config.items():
        try:
            spec = figure_spec(name)
        except ValueError as error:
            raise ValueError(f"figures.{name}: {error}") from None
        for target in spec.targets(selection, plastic_synapses_by_experiment):
            if target.stem in targets:
                raise ValueError(f"figures.{name}: file stem {target.stem!r} is also drawn by "
                                 f"figures.{targets[target.stem].figure}")
            targets[target.stem] = target
    return targets
