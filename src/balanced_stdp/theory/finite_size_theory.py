"""TEMPORARY PLACEHOLDER for the finite-size (second-order) theory of issue 12.

The lead engineer's real module replaces this file at merge. Until then it only
provides the interface the workflow, the CLI, the agreement tables and the figures
are built against: :func:`predict_finite_size_point` returns the leading-order
prediction (:func:`balanced_stdp.theory.predict_point`) labelled
``theory_order = "finite_size"``, with NaN ``rate_quantile`` (population, quantile)
and ``final_weight_quantile`` (synapse, quantile).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .prediction import predict_point

QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)
"""Probabilities of the ``quantile`` coordinate."""


def predict_finite_size_point(config: dict, run: xr.Dataset | None = None) -> xr.Dataset:
    """Finite-size theory of one grid point (PLACEHOLDER: leading order, NaN quantiles).

    Parameters
    ----------
    config : dict
        Run config of the grid point.
    run : xarray.Dataset, optional
        Accepted and ignored (the finite-size theory is never fitted to a run).

    Returns
    -------
    xarray.Dataset
        The variables of :func:`balanced_stdp.theory.predict_point` plus
        ``rate_quantile`` (population, quantile; Hz) and ``final_weight_quantile``
        (synapse, quantile; mV), attribute ``theory_order = "finite_size"``.
    """
    ds = predict_point(config)
    quantile = xr.DataArray(np.array(QUANTILES), dims="quantile",
                            attrs={"long_name": "probability of the quantile", "units": "1"})
    swept = [d for d in ds["theory_status"].dims]
    shape = {d: ds.sizes[d] for d in swept}
    ds = ds.assign_coords(quantile=quantile)
    for name, dim, units, long_name in (
            ("rate_quantile", "population", "Hz", "quantile of the neurons' firing rates"),
            ("final_weight_quantile", "synapse", "mV", "quantile of the final weights")):
        dims = (*swept, dim, "quantile")
        data = np.full([*shape.values(), ds.sizes[dim], len(QUANTILES)], np.nan)
        ds[name] = xr.DataArray(data, dims=dims, attrs={"units": units, "long_name": long_name})
    ds.attrs["theory_order"] = "finite_size"
    return ds
