"""Readability check of a drawn figure, on matplotlib's own objects (not pixels).

:func:`figure_problems` lists what a reader would flag; :func:`assert_readable` fails
with that list. The rules (:data:`RULES`):

``panel-letters``
    A figure of two or more panels letters every panel: a title carrying the gid
    :data:`~.style.PANEL_LETTER_GID` that starts with one capital letter (``"A  …"``,
    :func:`.style.letter_panels`), no letter twice.
``legend-duplicates``
    No legend repeats a label.
``legend-look-alikes``
    No legend has two entries whose keys look the same (colour, line style, marker,
    fill, hatch) under different labels.
``text-overlap``
    No two text boxes overlap, and none is cut by the figure's edge: titles, axis
    labels, texts and annotations, legends, the figure's title, and inset axes as a
    whole (renderer bounding boxes after a draw, so constrained layout has placed
    everything).
``unlabelled-lines``
    Every plotted line with data is explained: its label is an entry of a legend of
    the figure, it repeats a legend entry's gid (e.g. the other sampled traces of
    ``sampled-trace``), it belongs to a labelled errorbar, or its gid is one of
    :data:`EXPLAINED_ELSEWHERE` (the reason is given there).
``nan-only-panel``
    Every panel either shows finite data (a line, marker, bar, patch or image with
    finite coordinates, reference lines not counted) or says why not (the "no run"
    text of :func:`.style.no_data`, or a schematic drawn with its axes off).
``units``
    Axis labels and legend entries carry no "(1)" as a unit and no raw subscripts
    (``Var_a``, ``ρ_e``: math goes between ``$``).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Iterable

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import Collection
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.text import Text

from .style import NO_DATA_GID, PANEL_LETTER_GID

RULES = ("panel-letters", "legend-duplicates", "legend-look-alikes", "text-overlap",
         "unlabelled-lines", "nan-only-panel", "units")
"""The rules of :func:`figure_problems`, in the order they are checked."""

EXPLAINED_ELSEWHERE = {
    r"diverged-at": "a divergence text names each stopped run and its time",
    r"runaway-at": "the runaway text names the time",
    r"reference(\|.*)?": "zero lines, identity lines and other references (stated in the "
                         "caption)",
    r"window-(causal|acausal)": "one learning window per panel, named in its title",
    r"manifold-(trace|ode)\|.*|phase\|.*": "coloured by initial weight: the colour bar",
    r"phase-start\|.*": "red start dots, stated in the panel text",
    r"raster-.*": "spike rasters (E blue, I red), stated in the caption",
    r"late-deviation": "the deviation row: its axis label names it",
    r"convergence-time": "Fig 7 B's one series: its axis label names it",
    r"diverged-eta": "annotated 'diverged' beside the cross",
}
"""Gid patterns of lines that need no legend entry, with the reason."""

NOT_DATA = r"reference(\|.*)?|diverged-at|runaway-at"
"""Gid pattern of lines that are marks, not data (a panel of only these shows nothing)."""

OVERLAP_TOLERANCE_PX = 1.0
"""Boxes may touch: an overlap must exceed this in both directions (pixels at the
figure's dpi) to count."""

_RAW_SUBSCRIPT = re.compile(r"[A-Za-zα-ωΑ-Ω]_[A-Za-z0-9α-ω{]")
_PANEL_LETTER = re.compile(r"^([A-Z])[′']?(\s|$)")


@dataclasses.dataclass(frozen=True)
class Problem:
    """One readability defect: the rule broken, where, and what."""

    rule: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.where}: {self.message}"


# ----------------------------------------------------------------------------- selection
def panels(fig: Figure) -> list[Axes]:
    """The figure's panels: its visible axes, colour bars left out (insets and secondary
    axes are children of a panel, not panels)."""
    return [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]


def all_axes(fig: Figure) -> list[Axes]:
    """Every visible axes of the figure, with the insets and secondary axes of each."""
    out = []

    def visit(ax):
        if not ax.get_visible():
            return
        out.append(ax)
        for child in getattr(ax, "child_axes", []):
            visit(child)

    for ax in fig.axes:
        visit(ax)
    return out


def legends(fig: Figure) -> list[Legend]:
    """Every legend of the figure (of its axes, insets included, and the figure's own)."""
    found = [ax.get_legend() for ax in all_axes(fig)]
    return [leg for leg in [*found, *fig.legends] if leg is not None and leg.get_visible()]


def legend_entries(legend: Legend) -> list[tuple[str, object]]:
    """(label, key artist) of each entry of a legend."""
    return [(text.get_text(), handle) for text, handle in
            zip(legend.get_texts(), legend.legend_handles)]


def _where(ax: Axes) -> str:
    gid = ax.get_gid()
    if gid:
        return f"axes {gid!r}"
    if not hasattr(ax, "get_title"):                  # a secondary axis
        return f"{type(ax).__name__}"
    title = ax.get_title(loc="left") or ax.get_title() or ax.get_title(loc="right")
    return f"axes {title[:40]!r}"


# ----------------------------------------------------------------------------- rules
def _panel_letters(fig: Figure) -> list[Problem]:
    axes = panels(fig)
    if len(axes) < 2:
        return []
    problems, seen = [], {}
    for ax in axes:
        letters = [child.get_text() for child in ax.get_children()
                   if isinstance(child, Text) and child.get_gid() == PANEL_LETTER_GID]
        match = [_PANEL_LETTER.match(text) for text in letters]
        match = [m.group(0).strip() for m in match if m]
        if not match:
            problems.append(Problem("panel-letters", _where(ax), "panel without a letter"))
            continue
        letter = match[0]
        if letter in seen:
            problems.append(Problem("panel-letters", _where(ax),
                                    f"letter {letter} also labels {_where(seen[letter])}"))
        seen[letter] = ax
    return problems


def _color(value) -> tuple:
    from matplotlib.colors import to_rgba
    try:
        return tuple(round(v, 3) for v in to_rgba(value))
    except (TypeError, ValueError):
        array = np.asarray(value, dtype=float).reshape(-1, 4)
        return tuple(round(v, 3) for v in array[0]) if array.size else ()


def key_style(handle) -> tuple:
    """What a legend key looks like: colour, line style, marker and fill, hatch."""
    if isinstance(handle, Line2D):
        marker = handle.get_marker()
        marker = None if marker in ("None", "none", "", " ", None) else marker
        drawn = handle.get_linestyle() not in ("None", "none", "", " ")
        dashes = getattr(handle, "_unscaled_dash_pattern", (0, None))[1] if drawn else None
        dashes = tuple(round(float(d), 1) for d in dashes) if dashes else dashes
        width = float(handle.get_linewidth())
        return ("line", _color(handle.get_color()), drawn, dashes, str(marker),
                _color(handle.get_markerfacecolor()) if marker else None,
                # widths within a factor of 2 look alike
                (0 if width < 0.8 else 1 if width <= 1.8 else 2) if drawn else None)
    if isinstance(handle, Patch):
        return ("patch", _color(handle.get_facecolor()), _color(handle.get_edgecolor()),
                handle.get_hatch(), bool(handle.get_fill()))
    if isinstance(handle, Collection):
        faces, edges = handle.get_facecolor(), handle.get_edgecolor()
        return ("collection", _color(faces) if len(faces) else None,
                _color(edges) if len(edges) else None,
                str(handle.get_linestyle()[0] if len(handle.get_linestyle()) else None))
    return ("other", type(handle).__name__, id(handle))


def _legends(fig: Figure) -> list[Problem]:
    problems = []
    for number, legend in enumerate(legends(fig)):
        owner = legend.axes
        where = _where(owner) + " legend" if owner is not None else f"figure legend {number}"
        entries = legend_entries(legend)
        labels = [label for label, _ in entries]
        for label in sorted({x for x in labels if labels.count(x) > 1}):
            problems.append(Problem("legend-duplicates", where,
                                    f"label {label!r} {labels.count(label)} times"))
        by_style: dict[tuple, list[str]] = {}
        for label, handle in entries:
            if handle is None:
                continue
            by_style.setdefault(key_style(handle), []).append(label)
        for style, same in by_style.items():
            distinct = sorted(set(same))
            if len(distinct) > 1:
                problems.append(Problem("legend-look-alikes", where,
                                        "entries look the same: " + " / ".join(
                                            repr(x) for x in distinct)))
    return problems


def _text_boxes(fig: Figure, renderer) -> list[tuple[str, object]]:
    """(description, window extent) of every text box the rule compares."""
    boxes = []

    def add(artist, description):
        if artist is None or not artist.get_visible():
            return
        if isinstance(artist, Text) and not artist.get_text().strip():
            return
        extent = artist.get_window_extent(renderer)
        if extent.width > 0 and extent.height > 0 and np.isfinite(extent.bounds).all():
            boxes.append((description, extent))

    add(fig._suptitle, "figure title")
    for text in fig.texts:
        if text is not fig._suptitle:
            add(text, f"figure text {text.get_text()[:30]!r}")
    for number, legend in enumerate(fig.legends):
        add(legend, f"figure legend {number}")
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        where = _where(ax)
        for title, loc in ((ax.title, "title"), (ax._left_title, "left title"),
                           (ax._right_title, "right title")):
            add(title, f"{where} {loc} {title.get_text()[:30]!r}")
        add(ax.xaxis.label, f"{where} x label")
        add(ax.yaxis.label, f"{where} y label")
        for text in ax.texts:
            add(text, f"{where} text {text.get_text()[:30]!r}")
        add(ax.get_legend(), f"{where} legend")
        for child in getattr(ax, "child_axes", []):
            if child.get_visible():
                boxes.append((f"{where} inset/secondary axes",
                              child.get_tightbbox(renderer)))
    return boxes


def _overlaps(fig: Figure) -> list[Problem]:
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = _text_boxes(fig, renderer)
    problems = []
    canvas = fig.bbox
    for name, box in boxes:
        outside = max(canvas.x0 - box.x0, box.x1 - canvas.x1, canvas.y0 - box.y0,
                      box.y1 - canvas.y1)
        if outside > OVERLAP_TOLERANCE_PX:
            problems.append(Problem("text-overlap", name,
                                    f"cut by the figure's edge ({outside:.0f} px outside)"))
    for i, (name_a, a) in enumerate(boxes):
        for name_b, b in boxes[i + 1:]:
            if a is None or b is None:
                continue
            width = min(a.x1, b.x1) - max(a.x0, b.x0)
            height = min(a.y1, b.y1) - max(a.y0, b.y0)
            if width > OVERLAP_TOLERANCE_PX and height > OVERLAP_TOLERANCE_PX:
                problems.append(Problem("text-overlap", name_a,
                                        f"overlaps {name_b} ({width:.0f}×{height:.0f} px)"))
    return problems


def _explained(gid: str | None) -> bool:
    return gid is not None and any(re.fullmatch(pattern, gid)
                                   for pattern in EXPLAINED_ELSEWHERE)


def _has_finite_data(line: Line2D) -> bool:
    x = np.asarray(line.get_xdata(), dtype=float)
    y = np.asarray(line.get_ydata(), dtype=float)
    if x.size == 0 or y.size == 0:
        return False
    x, y = np.broadcast_arrays(x, y)
    return bool((np.isfinite(x) & np.isfinite(y)).any())


def _unlabelled_lines(fig: Figure) -> list[Problem]:
    entries = [label for legend in legends(fig) for label, _ in legend_entries(legend)]
    in_legend = set(entries)
    problems = []
    axes = all_axes(fig)
    labelled_gids = {line.get_gid() for ax in axes for line in ax.lines
                     if line.get_label() in in_legend and line.get_gid()}
    container_lines = {}
    for ax in axes:
        for container in ax.containers:
            for child in container.get_children():
                container_lines[id(child)] = container.get_label()
    for ax in axes:
        for line in ax.lines:
            if not line.get_visible() or not _has_finite_data(line):
                continue
            label, gid = line.get_label(), line.get_gid()
            if label in in_legend or container_lines.get(id(line)) in in_legend:
                continue
            if gid and gid in labelled_gids:
                continue
            if _explained(gid):
                continue
            problems.append(Problem("unlabelled-lines", _where(ax),
                                    f"line gid={gid!r} label={label!r} is in no legend"))
    return problems


def _shows_data(ax: Axes) -> bool:
    """Whether the axes show finite data: a line in data coordinates (reference lines
    such as axhline, and marks of :data:`NOT_DATA`, not counted), markers,
    error bars or bands, a bar or histogram patch, or an image."""
    for line in ax.lines:
        if line.get_visible() and line.get_transform() is ax.transData \
                and not re.fullmatch(NOT_DATA, str(line.get_gid())) and _has_finite_data(line):
            return True
    for collection in ax.collections:
        if not collection.get_visible():
            continue
        offsets = np.asarray(collection.get_offsets(), dtype=float).reshape(-1, 2)
        if collection.get_offset_transform() is ax.transData \
                and np.isfinite(offsets).all(axis=-1).any() and len(collection.get_paths()):
            return True
        for path in collection.get_paths():
            vertices = np.asarray(path.vertices, dtype=float)
            if vertices.size and np.isfinite(vertices).all(axis=-1).sum() >= 2 \
                    and collection.get_transform().contains_branch(ax.transData):
                return True
    for patch in ax.patches:
        if patch.get_visible() and patch.get_data_transform() is ax.transData:
            vertices = patch.get_path().transformed(patch.get_patch_transform()).vertices
            if np.isfinite(vertices).all() and np.ptp(vertices, axis=0).max() > 0:
                return True
    return bool(ax.images)


def _nan_only_panels(fig: Figure) -> list[Problem]:
    problems = []
    for ax in panels(fig):
        if not ax.axison:                      # a schematic or a text panel
            continue
        if any(text.get_gid() == NO_DATA_GID for text in ax.texts):
            continue
        if not _shows_data(ax):
            problems.append(Problem("nan-only-panel", _where(ax),
                                    "no finite data and no 'no run' note"))
    return problems


def _strip_math(text: str) -> str:
    return re.sub(r"\$[^$]*\$", "", text)


def _units(fig: Figure) -> list[Problem]:
    problems = []
    texts = []
    for ax in all_axes(fig):
        texts += [(_where(ax) + " x label", ax.get_xlabel()),
                  (_where(ax) + " y label", ax.get_ylabel())]
    for legend in legends(fig):
        where = (_where(legend.axes) if legend.axes is not None else "figure") + " legend"
        texts += [(where, label) for label, _ in legend_entries(legend)]
        title = legend.get_title().get_text()
        if title:
            texts.append((where + " title", title))
    for where, text in texts:
        plain = _strip_math(text)
        if "(1)" in plain:
            problems.append(Problem("units", where, f"'(1)' as a unit in {text!r}"))
        if _RAW_SUBSCRIPT.search(plain):
            problems.append(Problem("units", where, f"raw subscript in {text!r}"))
    return problems


_CHECKS = {"panel-letters": _panel_letters, "legend-duplicates": _legends,
           "legend-look-alikes": _legends, "text-overlap": _overlaps,
           "unlabelled-lines": _unlabelled_lines, "nan-only-panel": _nan_only_panels,
           "units": _units}
"""Rule → the function that finds its problems (one function checks both legend rules)."""


def figure_problems(fig: Figure, rules: Iterable[str] = RULES) -> list[Problem]:
    """Every readability problem of ``fig`` under ``rules`` (default: all of
    :data:`RULES`). The figure is drawn once (text boxes need the renderer)."""
    rules = list(rules)
    unknown = set(rules) - set(RULES)
    if unknown:
        raise ValueError(f"unknown rules {sorted(unknown)}; known: {', '.join(RULES)}")
    problems = []
    for check in dict.fromkeys(_CHECKS[rule] for rule in rules):
        problems += check(fig)
    return [p for p in problems if p.rule in rules]


def assert_readable(fig: Figure, name: str = "figure", rules: Iterable[str] = RULES) -> None:
    """Raise AssertionError listing every problem of ``fig`` (see :func:`figure_problems`)."""
    problems = figure_problems(fig, rules)
    if problems:
        raise AssertionError(f"{name}: {len(problems)} readability problem(s):\n"
                             + "\n".join(f"  {p}" for p in problems))
