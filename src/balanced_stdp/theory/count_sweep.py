"""Leading-order spike-count statistics along a parameter, for figure-time theory curves.

:func:`count_statistics` evaluates, for one resolved run config, the balanced rates
(spec §6.1) and the population spike-count covariances (spec §6.2,
:func:`.covariance.count_covariance`) at the config's initial weights — for a
non-plastic network these are its statistics. :func:`count_statistics_along` repeats
this along one dotted config key (e.g. ``weights.ee`` or ``N``) on a dense grid,
so figures can draw the closed forms as continuous curves rather than at the
simulated grid points only.

Correlations use the Poisson count variance r_a T_win (Fano factor 1), as the theory
datasets do: ρ_ab = C_ab / (T_win √(r_a r_b)), i.e. c √(r_a r_b) / r_x for c > 0.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..config import resolve_config, with_dotted
from ..contract import dimension_name
from .covariance import count_covariance
from .mean_field_network import Network, NoBalancedStateError


def count_statistics(config: dict, weights: np.ndarray | None = None,
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Balanced rates and pooled count covariances and correlations of one network.

    Parameters
    ----------
    config : dict
        Resolved run config (its ``recording.covariance_window_s`` is T_win).
    weights : ndarray (n_pop, n_pop), optional
        Unscaled block weights (mV); the config's initial weights by default (e.g. a
        weight fixed point for a plastic network).

    Returns
    -------
    rates_hz : ndarray (population,)
        Balanced rates, in the layout's population order.
    covariance, correlation : ndarray (pair_type,)
        Spike-count covariance (spikes²) and correlation per pair type of the layout.
        All NaN where no positive balanced state exists.
    """
    network = Network.from_config(config)
    layout = network.layout
    weights = network.initial_weights if weights is None else np.asarray(weights, float)
    window_ms = 1000.0 * config["recording"]["covariance_window_s"]
    try:
        rates = network.balanced_rates(weights)
    except NoBalancedStateError:
        n_pairs = len(layout.pair_types)
        return (np.full(len(layout.populations), np.nan), np.full(n_pairs, np.nan),
                np.full(n_pairs, np.nan))
    cov = count_covariance(network, weights, window_ms)
    poisson_sd = np.sqrt(window_ms * rates)
    corr = cov / np.outer(poisson_sd, poisson_sd)
    return 1000.0 * layout.pool_populations(rates), layout.pool_pairs(cov), layout.pool_pairs(corr)


def count_statistics_along(config: dict, key: str, values) -> xr.Dataset:
    """:func:`count_statistics` along one dotted config key.

    Parameters
    ----------
    config : dict
        A (resolved or partial) run config.
    key : str
        Dotted config key, e.g. ``"weights.ee"``, ``"weights.ei"`` or ``"N"``.
    values : array_like
        The values of the key.

    Returns
    -------
    xarray.Dataset
        ``balanced_rate`` (dim, population) in Hz, ``spike_count_cov`` (dim, pair_type)
        in spikes² and ``spike_count_corr`` (dim, pair_type); ``dim`` is ``key`` with
        dots replaced by ``_`` (:func:`balanced_stdp.contract.dimension_name`).
    """
    config = resolve_config(config)
    values = np.asarray(values)
    rows = [count_statistics(resolve_config(with_dotted(config, key, value.item())))
            for value in values]
    layout = Network.from_config(config).layout
    dim = dimension_name(key)
    populations = list(layout.populations)
    pairs = list(layout.pair_types)
    return xr.Dataset(
        {"balanced_rate": ((dim, "population"), np.array([r[0] for r in rows]), {"units": "Hz"}),
         "spike_count_cov": ((dim, "pair_type"), np.array([r[1] for r in rows]),
                             {"units": "spikes2"}),
         "spike_count_corr": ((dim, "pair_type"), np.array([r[2] for r in rows]),
                              {"units": "1"})},
        coords={dim: values, "population": populations, "pair_type": pairs})
