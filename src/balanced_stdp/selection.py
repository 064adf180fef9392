"""Reading aggregates: the one way agreement, figures, theory and study select from them.

An *aggregate* is run or theory datasets of one experiment combined by coordinates
(:func:`balanced_stdp.aggregate.combine`): every variable carries the swept dimensions
(:func:`balanced_stdp.contract.swept_dims`) as real dimensions, NaN where a combination is
missing. A *grid point* is a mapping of swept dimensions to values (``{"rule":
"kohonen", "c": 0.1}``); selecting at one leaves the dimensions it does not name (usually
``seed``). Here, once each:

* :class:`ExperimentData` — the runs, theory and finite-size theory of one experiment;
* :func:`at_point` — a variable's value at a grid point; :func:`by_seed` — its values as
  an array (seed, …); :func:`theory_at` — a theory variable at a point, averaged over
  the seeds (the Δ-corrected theory is one per run);
* :func:`divergence` — which runs at a point the divergence guard stopped, and when;
* :func:`run_configs` and :func:`point_config` — the run configs an aggregate stores;
  :func:`rule_synapses` — the plastic synapse types of the runs of one rule.
"""

from __future__ import annotations

import json
from typing import Iterable, NamedTuple

import numpy as np
import xarray as xr

from .contract import BASE_SWEPT_DIMS, RECORD_DIMS, SYNAPSE_TYPES, plastic_synapses, rule_label
from .plasticity import RULES


class ExperimentData(NamedTuple):
    """The aggregates of one experiment (None: not needed, or the finite-size theory not
    computed)."""

    runs: xr.Dataset | None
    theory: xr.Dataset | None
    finite_size: xr.Dataset | None = None


# ----------------------------------------------------------------------------- shape
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


# ----------------------------------------------------------------------------- values
def at_point(ds: xr.Dataset | None, name: str, point: dict, **extra) -> xr.DataArray | None:
    """``ds[name]`` at the grid point (dimensions it lacks are ignored); None if absent.

    Parameters
    ----------
    ds : xarray.Dataset or None
        An aggregate (or a single run or theory dataset).
    name : str
        Variable or coordinate.
    point : dict
        Swept dimension → value; ``extra`` selects record dimensions too
        (``synapse="ee"``).
    """
    if ds is None or name not in ds.variables:
        return None
    da = ds[name]
    indexers = {dim: value for dim, value in {**point, **extra}.items() if dim in da.dims}
    try:
        return da.sel(indexers)
    except (KeyError, ValueError):
        return None


def by_seed(da: xr.DataArray, *trailing: str) -> np.ndarray:
    """Values as an array (seed, *trailing); the other swept dims must be selected already.

    A dataset without a ``seed`` dimension gives one row.
    """
    dims = (["seed"] if "seed" in da.dims else []) + list(trailing)
    extra = [d for d in da.dims if d not in dims]
    if extra:
        raise ValueError(f"unselected dimensions {extra} in {da.name}")
    values = da.transpose(*dims).values.astype(float)
    return values if "seed" in da.dims else values[None]


def theory_at(theory: xr.Dataset | None, name: str, point: dict, keep: Iterable[str] = (),
              **extra) -> xr.DataArray | None:
    """Theory variable at a grid point, averaged over remaining swept dims not in ``keep``.

    Theory that does not depend on the seed is identical across seeds, so the average
    only matters for the Δ-corrected theory (one per run); None if nothing is finite.
    """
    da = at_point(theory, name, point, **extra)
    if da is None:
        return None
    drop = [d for d in da.dims if d not in RECORD_DIMS and d not in set(keep)]
    if drop:
        da = da.mean(drop, skipna=True)
    if not np.isfinite(da.values).any():
        return None
    return da


def divergence(runs: xr.Dataset, point: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(seeds, diverged flags, stop times in s) of the runs at a grid point (all seeds)."""
    seeds = np.atleast_1d(np.asarray(runs["seed"].values))
    flags = np.zeros(seeds.size, dtype=bool)
    times = np.full(seeds.size, np.nan)
    diverged = at_point(runs, "diverged", point)
    if diverged is not None:
        flags = np.nan_to_num(by_seed(diverged).reshape(-1)) > 0.5
        at = at_point(runs, "diverged_at_s", point)
        if at is not None:
            times = by_seed(at).reshape(-1)
    return seeds, flags, times


# ----------------------------------------------------------------------------- run configs
def run_configs(ds: xr.Dataset | None, point: dict | None = None) -> list[dict]:
    """Run configs stored in an aggregate (at ``point``, if given), however it kept them.

    Looked up in order: a ``config`` variable of JSON strings over the swept dims,
    a ``configs`` attribute (JSON list), a ``config`` attribute (JSON object — a single
    run or theory dataset, or an aggregate combined with ``combine_attrs="override"``).
    Duplicates and empty entries are dropped.
    """
    if ds is None:
        return []
    texts: list = []
    if "config" in ds.variables:
        stored = ds["config"] if point is None else at_point(ds, "config", point)
        if stored is not None:
            texts = list(np.asarray(stored.values, dtype=object).reshape(-1))
    if not texts and "configs" in ds.attrs:
        texts = json.loads(ds.attrs["configs"]) if isinstance(ds.attrs["configs"], str) \
            else list(ds.attrs["configs"])
    elif not texts and "config" in ds.attrs:
        texts = [ds.attrs["config"]]
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


def point_config(runs: xr.Dataset, point: dict) -> dict:
    """The run config of a grid point (its first seed with one; {} if none is stored)."""
    configs = run_configs(runs, point)
    return configs[0] if configs else {}


def rule_synapses(runs: xr.Dataset, rule: str) -> list[str]:
    """Plastic synapse types of the runs labelled ``rule``.

    From the stored run configs when present, otherwise from the label itself:
    ``"ee-kohonen+ei-istdp"`` names its types; a single rule name uses the first type
    the rule applies to (``kohonen`` → ee, ``istdp`` → ei); ``none`` has none.
    """
    for config in run_configs(runs):
        if "plasticity" in config and rule_label(config) == rule:
            return plastic_synapses(config)
    if "+" in rule or "-" in rule:
        return [part.split("-", 1)[0] for part in rule.split("+")
                if part.split("-", 1)[0] in SYNAPSE_TYPES]
    if rule in RULES and rule != "custom":
        return [RULES[rule].synapses[0]]
    return []
