"""Facets of an aggregate: the combinations of swept values a figure draws one panel for.

A *facet* is one combination of swept values (``{"rule": "kohonen", "c": 0.1}``); the
axes of a facet's panel carry its ``gid`` (``"rule=kohonen;c=0.1"``), which the tests use
to read back what was drawn. Rules come in the study's order
(:func:`.labels.rule_sort_key`).
"""

from __future__ import annotations

import itertools
from typing import Iterable

import xarray as xr

from ..contract import swept_dims
from .labels import SWEPT_DIM_LABELS, format_value, rule_name, rule_sort_key


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
