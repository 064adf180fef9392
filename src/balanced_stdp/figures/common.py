"""What every figure does with an aggregate: facets, selection, divergence, saving.

Figure functions take *aggregate* datasets: run datasets of ``docs/data-contract.md``
combined by coordinates (:func:`balanced_stdp.aggregate.combine`), so each variable
carries the swept dimensions (:func:`balanced_stdp.contract.swept_dims`) as real
dimensions, with NaN where a combination is missing. A *facet* is one combination of
swept values (``{"rule": "kohonen", "c": 0.1}``); the axes of a facet's panel carry
its ``gid`` (``"rule=kohonen;c=0.1"``), which the tests use to read back what was drawn.

Diverged runs are always drawn as such: a dotted vertical line at the stopping time
and the text "seed s: diverged at t s" on every panel they appear in.
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path
from typing import Iterable

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from ..estimators import running_mean
from ..contract import BASE_SWEPT_DIMS, RECORD_DIMS, SYNAPSE_TYPES, rule_label, swept_dims
from ..io import write_atomic
from ..plasticity import RULES
from .style import (DIVERGED_COLOR, FINITE_SIZE_LABEL, FINITE_SIZE_STYLE, SWEPT_DIM_LABELS,
                    format_value, rule_name, rule_sort_key)


# ----------------------------------------------------------------------------- facets
def ensure_swept(ds: xr.Dataset) -> xr.Dataset:
    """Promote scalar ``rule``/``c``/``seed`` coordinates to length-1 dimensions.

    Raises
    ------
    ValueError
        If a base swept coordinate is missing, or the aggregate was combined from runs
        with different time axes without aligning them first.
    """
    for name in BASE_SWEPT_DIMS:
        if name not in ds.dims:
            if name not in ds.coords:
                raise ValueError(f"dataset has no '{name}' coordinate; expected an aggregate of "
                                 "run datasets (docs/data-contract.md)")
            ds = ds.expand_dims(name)
    if "diverged" in ds.data_vars and "time" in ds["diverged"].dims:
        # combine_by_coords turns 'time' into a concatenation dimension when runs have
        # different time axes; the per-run variables then gain a spurious time axis.
        raise ValueError("malformed aggregate: 'diverged' has a 'time' dimension. Runs with "
                         "different time axes (e.g. a run stopped by the divergence guard) "
                         "were combined without first reindexing each to the full time grid")
    return ds


def coord_values(ds: xr.Dataset, dim: str) -> list:
    """Values of a swept coordinate as Python scalars (rules in facet order)."""
    values = [v.item() if hasattr(v, "item") else v for v in ds[dim].values]
    return sorted(values, key=rule_sort_key) if dim == "rule" else values


def facets(ds: xr.Dataset, skip: Iterable[str]) -> list[dict]:
    """Every combination of the swept dimensions not in ``skip`` (rule first)."""
    dims = [d for d in swept_dims(ds) if d not in set(skip)]
    dims.sort(key=lambda d: (d != "rule", d))
    values = [coord_values(ds, d) for d in dims]
    return [dict(zip(dims, combo)) for combo in itertools.product(*values)]


def facet_label(key: dict) -> str:
    """Readable title of a facet ("Kohonen, initial $j_{ei}$ = -150 mV")."""
    parts = []
    for dim, value in key.items():
        if dim == "rule":
            parts.append(rule_name(value))
        elif dim in SWEPT_DIM_LABELS:
            name, unit = SWEPT_DIM_LABELS[dim]
            parts.append(f"{name} = {format_value(value)}" + (f" {unit}" if unit else ""))
        else:
            parts.append(f"{dim} = {format_value(value)}")
    return ", ".join(parts)


def facet_gid(key: dict) -> str:
    """``gid`` of a facet's axes: ``"rule=kohonen;c=0.1"``."""
    return ";".join(f"{dim}={format_value(value)}" for dim, value in key.items())


# ----------------------------------------------------------------------------- selection
def select(ds: xr.Dataset | None, name: str, key: dict, **extra) -> xr.DataArray | None:
    """``ds[name]`` at the facet ``key`` (dims it lacks are ignored); None if absent."""
    if ds is None or name not in ds.variables:
        return None
    da = ds[name]
    indexers = {dim: value for dim, value in {**key, **extra}.items() if dim in da.dims}
    try:
        return da.sel(indexers)
    except KeyError:
        return None


def by_seed(da: xr.DataArray, *trailing: str) -> np.ndarray:
    """Values as an array (seed, *trailing); other swept dims must be selected already."""
    dims = (["seed"] if "seed" in da.dims else []) + list(trailing)
    extra = [d for d in da.dims if d not in dims]
    if extra:
        raise ValueError(f"unselected dimensions {extra} in {da.name}")
    values = da.transpose(*dims).values.astype(float)
    return values if "seed" in da.dims else values[None]


def theory_at(theory: xr.Dataset | None, name: str, key: dict, keep: Iterable[str] = (),
              **extra) -> xr.DataArray | None:
    """Theory variable at a facet, averaged over remaining swept dims not in ``keep``.

    Theory that does not depend on the seed is identical across seeds, so the average
    only matters for the Δ-corrected theory (one per run); None if nothing is finite.
    """
    da = select(theory, name, key, **extra)
    if da is None:
        return None
    drop = [d for d in da.dims if d not in RECORD_DIMS and d not in set(keep)]
    if drop:
        da = da.mean(drop, skipna=True)
    if not np.isfinite(da.values).any():
        return None
    return da


# ----------------------------------------------------------------------------- divergence
def divergence(runs: xr.Dataset, key: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(seeds, diverged flags, stop times) of the runs at a facet (all seeds)."""
    seeds = np.asarray(runs["seed"].values)
    flags = np.zeros(seeds.size, dtype=bool)
    times = np.full(seeds.size, np.nan)
    diverged = select(runs, "diverged", key)
    if diverged is not None:
        flags = np.nan_to_num(by_seed(diverged).reshape(-1)) > 0.5
        at = select(runs, "diverged_at_s", key)
        if at is not None:
            times = by_seed(at).reshape(-1)
    return seeds, flags, times


def divergence_text(seed, at_s: float) -> str:
    """Annotation of a diverged run, e.g. ``"seed 3: diverged at 212 s"``."""
    if not np.isfinite(at_s):
        return f"seed {seed}: diverged at unknown time"
    when = f"{at_s:.0f} s" if abs(at_s) >= 10 else f"{at_s:.3g} s"
    return f"seed {seed}: diverged at {when}"


def annotate_divergence(ax, seeds, flags, times, vlines: bool = True) -> None:
    """Dotted line at each stopping time and the list of diverged runs, top left."""
    lines = []
    for seed, flag, at in zip(seeds, flags, times):
        if not flag:
            continue
        if vlines and np.isfinite(at):
            ax.axvline(at, color=DIVERGED_COLOR, linestyle=":", linewidth=1.0, gid="diverged-at")
        lines.append(divergence_text(seed, at))
    if lines:
        ax.text(0.02, 0.98, "\n".join(lines), transform=ax.transAxes, ha="left", va="top",
                fontsize=6.5, color=DIVERGED_COLOR, gid="diverged-text",
                bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "alpha": 0.8,
                      "edgecolor": DIVERGED_COLOR, "linewidth": 0.5})


# ----------------------------------------------------------------------------- run configs
def run_configs(runs: xr.Dataset | None) -> list[dict]:
    """Per-run configs stored in an aggregate, however the aggregation kept them.

    Looked up in order: a ``config`` variable of JSON strings over the swept dims,
    a ``configs`` attribute (JSON list), a ``config`` attribute (JSON object — with
    ``combine_attrs="override"`` this is the first run's config). Duplicates are
    dropped.
    """
    if runs is None:
        return []
    texts: list = []
    if "config" in runs.variables:
        texts = list(np.asarray(runs["config"].values, dtype=object).reshape(-1))
    elif "configs" in runs.attrs:
        texts = json.loads(runs.attrs["configs"]) if isinstance(runs.attrs["configs"], str) \
            else list(runs.attrs["configs"])
    elif "config" in runs.attrs:
        texts = [runs.attrs["config"]]
    configs, seen = [], set()
    for text in texts:
        if isinstance(text, bytes):
            text = text.decode()
        if isinstance(text, str):
            if not text.strip() or text in seen:
                continue
            seen.add(text)
            try:
                configs.append(json.loads(text))
            except json.JSONDecodeError:
                continue
        elif isinstance(text, dict):
            configs.append(text)
    return configs


def plastic_synapses(runs: xr.Dataset, rule: str) -> list[str]:
    """Plastic synapse types of the runs labelled ``rule``.

    From the stored run configs when present, otherwise from the label itself:
    ``"ee-kohonen+ei-istdp"`` names its types; a single rule name uses the first type
    the rule applies to (``kohonen`` → ee, ``istdp`` → ei); ``none`` has none.
    """
    for config in run_configs(runs):
        if "plasticity" in config and rule_label(config) == rule:
            return [s for s in SYNAPSE_TYPES if s in config["plasticity"]]
    if "+" in rule or "-" in rule:
        return [part.split("-", 1)[0] for part in rule.split("+")
                if part.split("-", 1)[0] in SYNAPSE_TYPES]
    if rule in RULES and rule != "custom":
        return [RULES[rule].synapses[0]]
    return []


# ----------------------------------------------------------------------------- output
PNG_DPI = 150
"""Resolution of the PNG files (the report shows them)."""


def save_figure(fig: Figure, pdf_path: str | os.PathLike, png_path: str | os.PathLike,
                caption: str | None = None) -> None:
    """Write ``fig`` as PDF and PNG, then close it.

    Each file is written with :func:`balanced_stdp.io.write_atomic` (temporary file,
    then rename), so an interrupted job never leaves a truncated figure behind; an
    existing file is replaced. The caption, if given, is stored in the files'
    metadata (PDF ``Subject``, PNG ``Description``).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure.
    pdf_path, png_path : path-like
        Output files (parent directories are created).
    caption : str, optional
        Caption text for the metadata.
    """
    try:
        for path, fmt, key, options in ((pdf_path, "pdf", "Subject", {}),
                                        (png_path, "png", "Description", {"dpi": PNG_DPI})):
            metadata = {key: caption} if caption else {}

            def write(temporary: Path, fmt=fmt, metadata=metadata, options=options) -> None:
                fig.savefig(temporary, format=fmt, metadata=metadata, **options)

            write_atomic(path, write, overwrite=True)
    finally:
        close(fig)


def close(fig: Figure) -> None:
    """Release the figure; only a pyplot-managed figure needs pyplot to close it."""
    if getattr(fig.canvas, "manager", None) is not None:
        import matplotlib.pyplot as plt  # only reached for figures pyplot created
        plt.close(fig)
    else:
        fig.clear()


def plot_seed_mean(ax, time_s: np.ndarray, values_by_seed: np.ndarray, **style) -> bool:
    """Plot the running seed mean (:func:`balanced_stdp.estimators.running_mean`) of a time
    course where it is finite; False (nothing drawn) when it is nowhere finite."""
    mean, _, _ = running_mean(values_by_seed)
    ok = np.isfinite(mean)
    if not ok.any():
        return False
    ax.plot(time_s[ok], mean[ok], **style)
    return True


def plot_finite_size(ax, finite_size: xr.Dataset | None, name: str, key: dict, *,
                     along: str | None = None, at=None, vertical: bool = False,
                     label: str | None = None, gid: str | None = None,
                     style: dict | None = None, **extra) -> xr.DataArray | None:
    """Overlay the finite-size theory's ``name`` at the facet ``key``, labelled.

    The one way figures draw the finite-size theory (issue 12), in
    :data:`~balanced_stdp.figures.style.FINITE_SIZE_STYLE` with the legend label
    "finite-size theory" (``label`` overrides it) and gid ``finite-size-<name>``:

    * a time course (``mean_weight``, ``population_rate``): a line over ``time``;
    * with ``along`` (a swept dimension kept, e.g. ``"c"`` or ``"N"``): a line with
      square markers over that coordinate, at the values ``at`` if given (NaN skipped);
    * a single value: a horizontal line (``vertical=True``: vertical, for histograms).

    Fixed points (names starting with ``fixed_point``) are drawn only where the
    finite-size theory labels them stable, as for the other theories. Seeds and other
    swept dimensions are averaged (:func:`theory_at`).

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Panel to draw on.
    finite_size : xarray.Dataset or None
        The finite-size theory aggregate; None (not computed) draws nothing.
    name : str
        Theory variable.
    key : dict
        The facet (swept values); ``extra`` selects further (``synapse="ee"``).
    style : dict, optional
        Line properties overriding the style's (e.g. a thinner fixed-point line); colour
        and dash-dot pattern stay those of every finite-size line unless overridden.

    Returns
    -------
    xarray.DataArray or None
        The values drawn, None if nothing was drawn.
    """
    da = theory_at(finite_size, name, key, keep=(along,) if along else (), **extra)
    if da is None:
        return None
    if name.startswith("fixed_point") and not along:
        stability = select(finite_size, "stability", key)
        if stability is not None:
            labels = [str(v.decode() if isinstance(v, bytes) else v)
                      for v in np.asarray(stability.values, dtype=object).reshape(-1)]
            if labels and not any(label_.startswith("stable") for label_ in labels):
                return None
    style = {**FINITE_SIZE_STYLE, **(style or {}), "label": label or FINITE_SIZE_LABEL,
             "gid": gid or f"finite-size-{name}"}
    if along:
        if along not in da.dims:
            return None
        if at is not None:
            da = da.reindex({along: np.asarray(at)})
        x, y = da[along].values.astype(float), da.values.astype(float)
        ok = np.isfinite(x) & np.isfinite(y)
        if not ok.any():
            return None
        ax.plot(x[ok], y[ok], marker="s", markersize=3, markerfacecolor="white", **style)
    elif "time" in da.dims:
        time_s, values = da["time"].values, da.values.astype(float)
        ok = np.isfinite(values)
        ax.plot(time_s[ok], values[ok], **style)
    else:
        if da.size != 1:
            return None
        (ax.axvline if vertical else ax.axhline)(float(da), **style)
    return da
