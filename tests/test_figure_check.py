"""The figure check (balanced_stdp.figures.check): every rule fails on a figure made to
break it and passes a figure that keeps it; every registered figure passes, drawn from
fabricated aggregates (with finite-size overlays) and from the tiny test study; every
caption names the theory drawn and says whether the values are converged.
"""

from __future__ import annotations

import numpy as np
import pytest

from balanced_stdp.contract import RUN_KIND, THEORY_KIND
from balanced_stdp.figures import check, registry
from balanced_stdp.figures.style import (letter_panels, new_figure, no_data, panel_legend,
                                         reference_line, styled)
from balanced_stdp.io import open_dataset

import fabricated_figures
from balanced_stdp.figures import figure_targets
from balanced_stdp.study import plastic_synapses
from conftest import load_test_config
from test_workflow import RESULTS, study_grids


def rules_broken(fig) -> set[str]:
    return {problem.rule for problem in check.figure_problems(fig)}


@styled
def clean_figure():
    """Two lettered panels, every line in a legend, no overlaps, units as text."""
    fig = new_figure(6.0, 2.6)
    left, right = fig.subplots(1, 2)
    time_s = np.linspace(0.0, 10.0, 50)
    left.plot(time_s, np.exp(-time_s), color="black", label="simulation", gid="sim")
    left.plot(time_s, np.exp(-time_s) + 0.01, color="C1", linestyle="--", label="theory")
    reference_line(left)
    left.set_title("weights")
    left.set_xlabel("Time (s)")
    left.set_ylabel("Weight $j_{ee}$ (mV)")
    left.legend(fontsize=6)
    no_data(right)
    right.set_title("nothing to show")
    letter_panels([left, right])
    return fig


def broken(rule: str):
    """:func:`clean_figure` with one defect that breaks ``rule`` only."""
    fig = clean_figure()
    left, right = fig.axes
    if rule == "panel-letters":
        right.set_title("", loc="left")
        right.set_title("nothing to show")
    elif rule == "legend-duplicates":
        left.plot([0, 1], [0.5, 0.5], color="C2", label="simulation")
        left.legend(fontsize=6)
    elif rule == "legend-look-alikes":
        left.plot([0, 1], [0.5, 0.5], color="black", label="total input")
        left.legend(fontsize=6)
    elif rule == "text-overlap":
        left.text(0.5, 0.5, "a note", transform=left.transAxes)
        left.text(0.5, 0.5, "another note", transform=left.transAxes)
    elif rule == "unlabelled-lines":
        left.plot([0, 1], [0.5, 0.5], color="C2")
    elif rule == "nan-only-panel":
        right.texts[0].remove()                  # the "no run" note
        right.plot([0, 1], [np.nan, np.nan], color="C3", gid="reference|nan")
    elif rule == "units":
        left.set_ylabel("Correlation (1)")
        left.legend([left.lines[0], left.lines[1]], ["Var_a", "theory"], fontsize=6)
        left.lines[0].set_label("Var_a")
    return fig


def test_a_figure_that_keeps_every_rule_passes():
    assert check.figure_problems(clean_figure()) == []


@pytest.mark.parametrize("rule", check.RULES)
def test_each_rule_fails_on_a_figure_made_to_break_it(rule):
    fig = broken(rule)
    assert rules_broken(fig) == {rule}, check.figure_problems(fig)
    with pytest.raises(AssertionError, match=rf"\[{rule}\]"):
        check.assert_readable(fig, f"broken {rule}")


def test_a_text_cut_by_the_figure_edge_is_a_text_box_problem():
    fig = clean_figure()
    fig.text(0.97, 0.3, "a note that runs past the right edge", ha="left", fontsize=7)
    problems = check.figure_problems(fig)
    assert [p.rule for p in problems] == ["text-overlap"], problems
    assert "cut by the figure's edge" in problems[0].message


def test_repeated_labels_are_one_entry_of_a_panel_legend():
    fig = clean_figure()
    left = fig.axes[0]
    for level in (0.2, 0.4, 0.6):                # three seeds' lines, one label
        left.plot([0, 10], [level, level], color="0.5", linewidth=0.5, label="sampled synapses")
    panel_legend(left, fontsize=6)
    assert check.figure_problems(fig) == []


@pytest.mark.parametrize("name", list(registry.FIGURES))
def test_every_registered_figure_is_readable_from_fabricated_data(name):
    check.assert_readable(fabricated_figures.DRAW[name](), name)


def test_the_fabricated_figures_cover_the_registry():
    assert set(fabricated_figures.DRAW) == set(registry.FIGURES)


@pytest.mark.parametrize("name", list(registry.FIGURES))
def test_every_caption_names_the_theory_and_the_convergence(name):
    caption = registry.figure_spec(name).caption_text(None)
    assert "Theory drawn:" in caption and "Convergence:" in caption, caption


# ----------------------------------------------------------------------------- test study
KINDS = {"runs": RUN_KIND, "theory": THEORY_KIND, "finite_size": THEORY_KIND}
SUFFIX = {"runs": "", "theory": "_theory", "finite_size": "_theory_finite_size"}


def study_targets() -> dict:
    """The figure targets of config/test.yaml, by stem."""
    cfg = load_test_config()
    plastic = {name: plastic_synapses(points) for name, points in study_grids(cfg).items()}
    return figure_targets(cfg["figures"], plastic)


def test_the_test_study_draws_every_registered_figure():
    assert {target.figure for target in study_targets().values()} == set(registry.FIGURES)


@pytest.mark.parametrize("stem", list(study_targets()))
def test_every_figure_of_the_test_study_is_readable(local_study, stem):
    target = study_targets()[stem]
    datasets = {}
    for name, (experiment, kind) in target.inputs().items():
        path = local_study / RESULTS / "aggregate" / f"{experiment}{SUFFIX[kind]}.nc"
        if path.exists():                    # the finite-size theory only where computed
            datasets[name] = open_dataset(path, kind=KINDS[kind])
    check.assert_readable(target.draw(datasets), stem)
