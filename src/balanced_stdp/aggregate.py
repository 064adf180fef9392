"""Aggregation: the run (or theory) datasets of one experiment combined into one.

Every run dataset carries its swept parameters (``rule``, ``c``, ``seed`` and any
``sweep_dims``) as length-1 dimensions (``docs/data-contract.md``), so the datasets of a
grid combine with :func:`xarray.combine_by_coords` into one dataset whose swept
dimensions span the grid. Three things need care before combining:

* per-run global attributes (``config``, ``status``, ``wall_time_s`` …) differ between
  runs and would be dropped; they become variables over the swept dimensions
  (``config`` as JSON text, as :mod:`balanced_stdp.figures` reads it);
* dimensions without a coordinate whose length differs between runs (the raster's
  ``raster_spike``) get an integer index, so an outer join can pad them with NaN;
* a run stopped by the divergence guard may have a shorter ``time`` axis. Every
  dimension that is not swept is therefore first aligned by an outer join (the
  stopped run is NaN after its stop, which is how figures show it), so that
  ``combine_by_coords`` concatenates along the swept dimensions only.

Inputs are opened with :func:`balanced_stdp.io.open_dataset` (which refuses incomplete
files) and the result is written with :func:`balanced_stdp.io.write_dataset_atomic`. The
statistics over an aggregate's seeds are :mod:`balanced_stdp.estimators`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import xarray as xr

from .contract import BASE_SWEPT_DIMS, swept_dims
from .io import open_dataset, write_dataset_atomic

PER_RUN_ATTRIBUTES = {
    "config": "complete resolved run config (JSON)",
    "status": "run status: ok or diverged",
    "divergence_reason": "why the divergence guard stopped the run",
}
"""Global attributes always kept as variables over the swept dims (the figures read
``config`` there). Besides these, every attribute whose value differs between the
combined datasets, and every run-time measurement (name ending in ``_time_s``), becomes
such a variable, so the aggregate's layout never depends on two runs happening to
report the same value."""


def _same(a, b) -> bool:
    try:
        a_arr, b_arr = np.asarray(a), np.asarray(b)
        return a_arr.shape == b_arr.shape and bool(np.all(a_arr == b_arr))
    except (TypeError, ValueError):
        return a == b


def per_run_attributes(datasets: Sequence[xr.Dataset]) -> list[str]:
    """Names of the global attributes to keep per run (see :data:`PER_RUN_ATTRIBUTES`)."""
    names = set()
    for key in set().union(*(ds.attrs for ds in datasets)):
        values = [ds.attrs.get(key) for ds in datasets]
        if (key in PER_RUN_ATTRIBUTES or key.endswith("_time_s")
                or any(not _same(v, values[0]) for v in values[1:])):
            names.add(key)
    # a name already used by a variable or dimension (seed, diverged_at_s …) stays out
    taken = set().union(*(set(ds.variables) | set(ds.dims) for ds in datasets))
    return sorted(names - taken)


def _attribute_variable(value, dims: list[str], shape: list[int], name: str) -> xr.Variable:
    if value is None:
        value = ""
    if not np.isscalar(value):  # tuples/arrays: stored as text
        value = json.dumps(np.asarray(value).tolist())
    numeric = isinstance(value, (int, float, np.number)) and not isinstance(value, bool)
    data = np.full(shape, float(value) if numeric else str(value),
                   dtype=float if numeric else object)
    attrs = {"long_name": PER_RUN_ATTRIBUTES.get(name, f"per-run attribute {name}")}
    if numeric and name.endswith("_s"):
        attrs["units"] = "s"
    return xr.Variable(dims, data, attrs)


def prepare_for_combining(ds: xr.Dataset, attributes: Iterable[str] = ()) -> xr.Dataset:
    """Move per-run attributes to variables and index coordinate-less dimensions.

    Parameters
    ----------
    ds : xarray.Dataset
        One run or theory dataset.
    attributes : iterable of str
        Global attributes to turn into variables over the swept dimensions (a missing
        one becomes "" or NaN).

    Returns
    -------
    xarray.Dataset
        The same data, ready for :func:`combine`.
    """
    dims = swept_dims(ds)
    missing = [d for d in BASE_SWEPT_DIMS if d not in ds.dims]
    if missing:
        raise ValueError(f"dataset lacks the swept dimension(s) {', '.join(missing)} "
                         "(docs/data-contract.md); cannot combine it by coordinates")
    index = {d: np.arange(ds.sizes[d]) for d in ds.dims
             if d not in ds.coords and d not in dims}
    out = ds.assign_coords(index)
    shape = [ds.sizes[d] for d in dims]
    attributes = list(attributes)
    for name in attributes:
        out[name] = _attribute_variable(ds.attrs.get(name), dims, shape, name)
    out.attrs = {k: v for k, v in ds.attrs.items() if k not in attributes}
    return out


def combine(datasets: Sequence[xr.Dataset]) -> xr.Dataset:
    """Combine run (or theory) datasets of one grid with :func:`xarray.combine_by_coords`.

    Parameters
    ----------
    datasets : sequence of xarray.Dataset
        Datasets with length-1 swept dimensions; together they should fill the grid.

    Returns
    -------
    xarray.Dataset
        One dataset over the grid's swept dimensions (outer join: grid points or times
        without data are NaN). Attributes equal in every input stay attributes; the
        others are variables over the swept dimensions.
    """
    if not datasets:
        raise ValueError("nothing to combine: no datasets given")
    attributes = per_run_attributes(datasets)
    prepared = [prepare_for_combining(ds, attributes) for ds in datasets]
    # Only the swept dimensions may be concatenated: first give every other dimension
    # (time, raster_spike, neuron …) the union of its coordinates, else combine_by_coords
    # would take a dimension whose coordinates differ (a diverged run's shorter time
    # axis) for one to concatenate along.
    swept = sorted({d for ds in datasets for d in swept_dims(ds)})
    prepared = list(xr.align(*prepared, join="outer", exclude=swept))
    combined = xr.combine_by_coords(
        prepared, data_vars="all", coords="different", compat="no_conflicts",
        join="outer", combine_attrs="drop_conflicts",
    )
    # Outer joins fill missing text with NaN; netCDF needs one type per variable.
    for name in attributes:
        if combined[name].dtype == object:
            values = combined[name].values
            filled = np.where([isinstance(v, str) for v in values.ravel()],
                              values.ravel(), "").reshape(values.shape)
            combined[name] = combined[name].copy(data=filled.astype(str))
    return combined


def aggregate_files(paths: Iterable[str | os.PathLike], out_path: str | os.PathLike,
                    experiment: str | None = None, kind: str | None = None) -> xr.Dataset:
    """Open finished run (or theory) files, combine them and write one dataset.

    Parameters
    ----------
    paths : iterable of path-like
        netCDF files of one experiment's grid; each is opened with
        :func:`balanced_stdp.io.open_dataset`, which refuses incomplete files.
    out_path : path-like
        Output netCDF file, written atomically (temporary file and rename).
    experiment : str, optional
        Experiment name stored in the ``experiment`` attribute.
    kind : {"run", "theory"}, optional
        What every file must be (``contract.RUN_KIND``/``THEORY_KIND``); a file of
        another kind is refused. Stored as the aggregate's ``kind`` attribute.

    Returns
    -------
    xarray.Dataset
        The combined dataset (as written).
    """
    paths = [Path(p) for p in paths]
    datasets = [open_dataset(p, kind=kind) for p in paths]
    try:
        return write_aggregate(datasets, out_path, experiment, kind, paths)
    finally:
        for ds in datasets:
            ds.close()


def write_aggregate(datasets: Sequence[xr.Dataset], out_path: str | os.PathLike,
                    experiment: str | None = None, kind: str | None = None,
                    sources: Sequence[str | os.PathLike] = (),
                    extra: Callable[[xr.Dataset], xr.Dataset] | None = None) -> xr.Dataset:
    """Combine one experiment's datasets (:func:`combine`) and write them atomically,
    with the ``experiment``, ``kind``, ``n_runs`` and ``source_files`` attributes.

    ``extra(combined)`` gives variables of the experiment as a whole (the theory curves
    of :mod:`balanced_stdp.theory.curves`, computed from the combined run configs), which
    are merged into the combined dataset.
    """
    combined = combine(datasets)
    if extra is not None:
        combined = xr.merge([combined, extra(combined)], combine_attrs="override")
    combined.attrs["n_runs"] = len(datasets)
    combined.attrs["source_files"] = json.dumps([str(p) for p in sources])
    if experiment is not None:
        combined.attrs["experiment"] = experiment
    if kind is not None:
        combined.attrs["kind"] = kind
    write_dataset_atomic(combined, out_path)
    return combined
