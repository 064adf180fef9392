"""The figure registry: every figure of the study, and the targets a config asks for.

A :class:`FigureSpec` says how to draw a figure (its function, named by module and
function, and the aggregates it needs), how its targets expand (once per experiment, per
experiment and plastic synapse, or once per study), its file-name template, report
category, caption and the theory curves it draws. :func:`figure_targets` turns the
workflow config's ``figures:`` section into the table of :class:`FigureTarget` s — one per
figure file stem — that the Snakemake workflow builds with one generic rule.

The registry applies the captions (:mod:`.captions`: the figure's text, then the
parameters of the runs it was drawn from) and imports a figure's module only to draw it,
so the workflow reads this table without loading a plotting library.

Adding a figure is one module with its draw function, its caption text in
:mod:`.captions`, one entry in :data:`FIGURES` and one line under ``figures:`` in the
config. Renaming a figure's files (e.g. to the paper's numbering) is a change of its
``stem`` template.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import re
import string
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import xarray as xr

from ..selection import ExperimentData
from . import captions
from .captions import with_parameters

if TYPE_CHECKING:                       # drawing imports matplotlib; the workflow never draws
    from matplotlib.figure import Figure

DATASET_INPUTS = ("runs", "theory", "finite_size")
"""Aggregates a figure can need: the experiment's runs, its theory and its finite-size
theory (optional: the workflow passes it only where ``experiments.<name>.finite_size_theory``
is on, else the figure gets None)."""

WITH_FINITE_SIZE = ("runs", "theory", "finite_size")
"""Inputs of a figure that also draws the finite-size theory."""


class Expansion(enum.Enum):
    """How a figure's targets expand over the study.

    The value names the stem's placeholders after a tag: a figure of *roles* (one file
    combining several experiments, e.g. Fig 10's classical, hard-bound and soft Hebbian
    columns) has a fixed stem, like a figure drawn once per study.
    """

    PER_EXPERIMENT = ("experiment", ("experiment",))
    PER_PLASTIC_SYNAPSE = ("synapse", ("experiment", "synapse"))
    ONCE_PER_STUDY = ("once", ())
    ROLES = ("roles", ())

    @property
    def placeholders(self) -> tuple[str, ...]:
        return self.value[1]


@dataclasses.dataclass(frozen=True)
class FigureSpec:
    """How one figure is drawn, where its targets come from and how it is reported.

    Attributes
    ----------
    name : str
        The figure's key under ``figures:`` in the workflow config.
    draw : str or callable
        Figure function, as ``"module.function"`` of this package (imported when the
        figure is drawn) or the function itself; called with the datasets of
        :attr:`inputs` as keyword arguments (``runs=…, theory=…``) and, per plastic
        synapse, ``synapse=…``; a figure of roles gets one
        :class:`~balanced_stdp.selection.ExperimentData` per role (``soft=…``), None for
        an optional role the config leaves out.
    inputs : tuple of str
        Aggregates it needs (of every role's experiment), from :data:`DATASET_INPUTS`
        (empty: none).
    expansion : Expansion
        How its targets expand.
    category : str
        Report category.
    caption : str or callable
        The figure's caption text (:mod:`.captions`), to which :meth:`caption_text`
        appends the parameters of the runs; or ``caption(runs)`` → the whole caption.
    stem : str
        File-name template (no extension) with exactly the placeholders of
        :attr:`expansion`, e.g. ``"balance_{experiment}"``.
    roles, optional_roles : tuple of str
        For :attr:`Expansion.ROLES`: the experiments the config must name (``figures:
        {fig10_hebbian_variants: {classical: …, bounded: …, soft: …}}``) and those it
        may name.
    theory_curves : mapping
        Role → the theory curves (:func:`balanced_stdp.theory.curves.theory_curves`
        requests) the figure draws from that role's theory aggregate; the workflow has
        the role's experiment compute them.
    """

    name: str
    draw: str | Callable[..., Figure]
    inputs: tuple[str, ...]
    expansion: Expansion
    category: str
    caption: str | Callable[[xr.Dataset | None], str]
    stem: str
    roles: tuple[str, ...] = ()
    optional_roles: tuple[str, ...] = ()
    theory_curves: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        unknown = set(self.inputs) - set(DATASET_INPUTS)
        if unknown:
            raise ValueError(f"figure {self.name}: unknown inputs {sorted(unknown)}; "
                             f"known: {', '.join(DATASET_INPUTS)}")
        fields = {field for _, field, _, _ in string.Formatter().parse(self.stem) if field}
        if fields != set(self.expansion.placeholders):
            raise ValueError(f"figure {self.name}: stem {self.stem!r} must have the "
                             f"placeholders {sorted(self.expansion.placeholders)}")
        if (self.expansion is Expansion.ROLES) != bool(self.roles):
            raise ValueError(f"figure {self.name}: roles go with Expansion.ROLES only")
        unknown = set(self.theory_curves) - {*self.roles, *self.optional_roles}
        if unknown or (self.theory_curves and "theory" not in self.inputs):
            raise ValueError(f"figure {self.name}: theory curves need the theory input and "
                             f"one of its roles, got {sorted(self.theory_curves)}")

    def draw_function(self) -> Callable[..., Figure]:
        """The figure function (its module is imported here, with the plotting library)."""
        if callable(self.draw):
            return self.draw
        module, function = self.draw.rsplit(".", 1)
        return getattr(importlib.import_module(f"{__package__}.{module}"), function)

    def caption_text(self, runs: xr.Dataset | None) -> str:
        """The caption: what the figure shows and, given ``runs`` (the runs aggregate it
        was drawn from), which parameters produced it."""
        if callable(self.caption):
            return self.caption(runs)
        return with_parameters(self.caption, runs)

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
        if self.expansion is Expansion.ROLES:
            return self._role_targets(selection, plastic_synapses_by_experiment, where)
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

    def _role_targets(self, selection, experiments: Mapping[str, Sequence[str]], where: str,
                      ) -> list["FigureTarget"]:
        if selection is False:
            return []
        if not isinstance(selection, Mapping):
            raise ValueError(f"{where}: expected a mapping of roles to experiments "
                             f"({', '.join(self.roles)}), got {selection!r}")
        allowed = (*self.roles, *self.optional_roles)
        unknown = [role for role in selection if role not in allowed]
        if unknown:
            raise ValueError(f"{where}: unknown role {unknown[0]!r}; allowed: "
                             f"{', '.join(allowed)}")
        missing = [role for role in self.roles if role not in selection]
        if missing:
            raise ValueError(f"{where}: no experiment for role {missing[0]!r} (roles: "
                             f"{', '.join(self.roles)})")
        for role, experiment in selection.items():
            if experiment not in experiments:
                raise ValueError(f"{where}.{role}: unknown experiment {experiment!r}; "
                                 f"defined: {', '.join(experiments)}")
        roles = tuple((role, selection[role]) for role in allowed if role in selection)
        return [FigureTarget(self.stem, self.name, roles=roles)]


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
    roles : tuple of (role, experiment) pairs
        For a figure of roles, the experiment of each role.
    """

    stem: str
    figure: str
    experiment: str | None = None
    synapse: str | None = None
    roles: tuple[tuple[str, str], ...] = ()

    def __post_init__(self):   # from a dict (Snakemake params) the pairs arrive as lists
        object.__setattr__(self, "roles", tuple(tuple(pair) for pair in self.roles))

    @property
    def experiments(self) -> list[str]:
        """Every experiment whose aggregates the figure reads."""
        return [self.experiment] if self.experiment else [e for _, e in self.roles]

    def inputs(self) -> dict[str, tuple[str, str]]:
        """Input name → (experiment, aggregate kind) of every dataset the figure reads:
        ``runs``/``theory``/``finite_size``, or ``<role>_runs`` etc. for a figure of roles
        (``finite_size`` is optional: a figure gets None where it is not computed)."""
        if self.roles:
            return {f"{role}_{kind}": (experiment, kind) for role, experiment in self.roles
                    for kind in self.spec.inputs}
        return {kind: (self.experiment, kind) for kind in self.spec.inputs}

    @property
    def spec(self) -> FigureSpec:
        return figure_spec(self.figure)

    @property
    def report_category(self) -> str:
        """Report category: the paper's figure number first (``Fig 02 · Kohonen stability``),
        so the report lists the figures in the paper's order."""
        number = re.match(r"fig(S?\d+[a-z]?)_", self.stem)
        return f"Fig {number.group(1)} · {self.spec.category}" if number else self.spec.category

    @property
    def labels(self) -> dict[str, str]:
        """Report labels: the experiment and synapse (or the figure, if neither)."""
        labels = {key: value for key, value in (("experiment", self.experiment),
                                                 ("synapse", self.synapse)) if value}
        if self.roles:
            labels["experiments"] = ", ".join(e for _, e in self.roles)
        return labels or {"figure": self.spec.category}

    def draw(self, datasets: Mapping[str, xr.Dataset | None]) -> Figure:
        """Draw the figure from the aggregates of :attr:`FigureSpec.inputs`.

        Parameters
        ----------
        datasets : mapping
            Input name of :meth:`inputs` → dataset; a missing one is passed as None.
        """
        spec = self.spec
        draw = spec.draw_function()
        if self.roles:
            present = dict(self.roles)
            return draw(**{role: ExperimentData(datasets.get(f"{role}_runs"),
                                                datasets.get(f"{role}_theory"),
                                                datasets.get(f"{role}_finite_size"))
                           if role in present else None
                           for role in (*spec.roles, *spec.optional_roles)})
        options = {"synapse": self.synapse} if self.synapse else {}
        return draw(**{name: datasets.get(name) for name in spec.inputs}, **options)

    def theory_curves(self) -> dict[str, tuple[str, ...]]:
        """Experiment → the theory curves this figure asks of its theory job."""
        out: dict[str, tuple[str, ...]] = {}
        for role, experiment in self.roles:
            out[experiment] = (*out.get(experiment, ()), *self.spec.theory_curves.get(role, ()))
        return out


FIGURES: dict[str, FigureSpec] = {spec.name: spec for spec in (
    # the paper's figures (spec §8), in its numbering
    FigureSpec("fig01_network_scaling", "network_scaling.plot_network_scaling",
               WITH_FINITE_SIZE, Expansion.ROLES, "Network scaling", captions.NETWORK_SCALING,
               stem="fig01_network_scaling", roles=("scaling",)),
    FigureSpec("fig02_kohonen_stability", "kohonen_stability.plot_kohonen_stability",
               WITH_FINITE_SIZE, Expansion.ROLES, "Kohonen stability",
               captions.KOHONEN_STABILITY, stem="fig02_kohonen_stability", roles=("sweep",),
               optional_roles=("replicates", "initial_conditions"),
               theory_curves={"sweep": ("kohonen_stability",)}),
    *(FigureSpec(stem, "statistics.plot_statistics", WITH_FINITE_SIZE, Expansion.ROLES,
                 "Network statistics", captions.NETWORK_STATISTICS, stem=stem, roles=("main",))
      for stem in ("fig03_kohonen_statistics", "fig04_istdp_statistics",
                   "fig05_soft_hebbian_statistics")),
    FigureSpec("fig06_optogenetics", "optogenetics.plot_optogenetics", WITH_FINITE_SIZE,
               Expansion.ROLES, "Optogenetic stimulation", captions.OPTOGENETICS,
               stem="fig06_optogenetics", roles=("stimulation",)),
    FigureSpec("fig07_istdp_manifold", "istdp_manifold.plot_istdp_manifold", WITH_FINITE_SIZE,
               Expansion.ROLES, "iSTDP manifold", captions.ISTDP_MANIFOLD,
               stem="fig07_istdp_manifold", roles=("sweep",)),
    FigureSpec("fig08a_manifold_correlated", "istdp_manifold.plot_manifold_correlated",
               WITH_FINITE_SIZE, Expansion.ROLES, "iSTDP manifold",
               captions.MANIFOLD_CORRELATED, stem="fig08a_manifold_correlated",
               roles=("sweep",)),
    FigureSpec("fig08b_timescale_separation", "timescale.plot_timescale_separation",
               WITH_FINITE_SIZE, Expansion.ROLES, "Timescale separation",
               captions.TIMESCALE_SEPARATION, stem="fig08b_timescale_separation",
               roles=("kohonen", "soft", "istdp")),
    FigureSpec("fig09_learning_windows", "learning_windows.plot_learning_windows", (),
               Expansion.ONCE_PER_STUDY, "Learning windows", captions.learning_windows_caption,
               stem="fig09_learning_windows"),
    FigureSpec("fig10_hebbian_variants", "hebbian_variants.plot_hebbian_variants",
               WITH_FINITE_SIZE, Expansion.ROLES, "Hebbian variants",
               captions.HEBBIAN_VARIANTS, stem="fig10_hebbian_variants",
               roles=("classical", "bounded", "soft")),
    FigureSpec("fig11_mean_field_transients", "transients.plot_transients", WITH_FINITE_SIZE,
               Expansion.ROLES, "Mean-field transients", captions.MEAN_FIELD_TRANSIENTS,
               stem="fig11_mean_field_transients", roles=("soft", "kohonen", "istdp")),
    FigureSpec("fig12_inhibitory_pair", "inhibitory_pair.plot_inhibitory_pair",
               WITH_FINITE_SIZE, Expansion.ROLES, "EI + II iSTDP", captions.INHIBITORY_PAIR,
               stem="fig12_inhibitory_pair", roles=("variants",)),
    # beyond the paper's numbering
    FigureSpec("figS1_correlation_dependence",
               "correlation_dependence.plot_correlation_dependence", WITH_FINITE_SIZE,
               Expansion.ROLES, "Correlation dependence", captions.CORRELATION_DEPENDENCE,
               stem="figS1_correlation_dependence", roles=("kohonen", "soft"),
               theory_curves={"kohonen": ("fixed_points:c",), "soft": ("fixed_points:c",)}),
    FigureSpec("figS2_inhibitory_scaling", "inhibitory_scaling.plot_inhibitory_scaling",
               WITH_FINITE_SIZE, Expansion.ROLES, "Scaling with N", captions.INHIBITORY_SCALING,
               stem="figS2_inhibitory_scaling", roles=("istdp", "ei_ii"),
               theory_curves={"istdp": ("fixed_points:N",), "ei_ii": ("fixed_points:N",)}),
    FigureSpec("figS3_covariance_vs_weight", "covariance_weight.plot_covariance_vs_weight",
               WITH_FINITE_SIZE, Expansion.ROLES, "Covariances vs weight",
               captions.COVARIANCE_VS_WEIGHT, stem="figS3_covariance_vs_weight",
               roles=("jee", "jei"),
               theory_curves={"jee": ("count_statistics:weights.ee",),
                              "jei": ("count_statistics:weights.ei",)}),
    FigureSpec("figS4_runaway_threshold", "runaway_threshold.plot_runaway_threshold",
               ("runs", "theory"), Expansion.ROLES, "Runaway threshold",
               captions.RUNAWAY_THRESHOLD, stem="figS4_runaway_threshold", roles=("sweep",),
               theory_curves={"sweep": ("runaway_threshold:N",)}),
    # per-experiment diagnostics
    FigureSpec("weight_dynamics", "weight_dynamics.plot_weight_dynamics", WITH_FINITE_SIZE,
               Expansion.PER_PLASTIC_SYNAPSE, "Weight dynamics", captions.WEIGHT_DYNAMICS,
               stem="weight_dynamics_{experiment}_{synapse}"),
    FigureSpec("balance", "balance.plot_balance", ("runs", "theory"), Expansion.PER_EXPERIMENT,
               "Balance", captions.BALANCE, stem="balance_{experiment}"),
    FigureSpec("rate_weight_correlation", "rate_weight.plot_rate_weight_correlation", ("runs",),
               Expansion.PER_EXPERIMENT, "Rate-weight correlation",
               captions.RATE_WEIGHT_CORRELATION, stem="rate_weight_correlation_{experiment}"),
    FigureSpec("weight_manifold", "manifold.plot_weight_manifold", ("runs", "theory"),
               Expansion.PER_EXPERIMENT, "Weight manifold", captions.WEIGHT_MANIFOLD,
               stem="weight_manifold_{experiment}"),
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
    return figure_spec(name).caption_text(runs)


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
