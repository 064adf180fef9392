"""Agreement tables: simulation against the leading-order and the finite-size theory.

For every grid point of an experiment (its swept coordinates except ``seed``) and every
quantity below, :func:`agreement_table` gives the simulated mean, sample s.d. and number
of seeds, the theory of the experiment's ``theory`` aggregate (leading order or
Δ-corrected, named in ``theory_order``), the finite-size theory (NaN when its aggregate is
absent) and the relative differences (theory − simulation)/|simulation|.

Quantities and their definitions (the same estimator on simulation and theory):

* ``final_mean_weight_<syn>`` (mV), per plastic synapse type: the mean weight at the end
  of the run — a run's last recorded ``mean_weight`` (runs stopped by the divergence
  guard have none, :func:`balanced_stdp.estimators.final_values`), the theory's
  ``mean_weight`` trajectory at the run's last record time ``T``;
* ``rate_<pop>`` (Hz), per population of the runs (E, I, and E1, E2 with optogenetics):
  the mean of ``neuron_rate`` (analysis window (T/2, T]) over the population's neurons;
  the theory's ``population_rate`` averaged over the record times in (T/2, T];
* ``count_cov_<pair>`` (spikes²), per pair type: ``spike_count_cov`` of run and theory;
* ``relaxation_time_<syn>`` (s), per plastic synapse type:
  :func:`~balanced_stdp.estimators.relaxation_time` of the seed-mean simulated
  ``mean_weight(t)`` (:func:`balanced_stdp.estimators.running_mean` over the runs the
  divergence guard did not stop) and of each theory's
  ``mean_weight(t)``, all up to the run's T; its s.d. is NaN (one estimate from the seed
  mean) and ``n_seeds`` counts the runs in that mean.

Runs stopped by the divergence guard are left out of every simulated value.

Theory variables that differ between seeds (the Δ-corrected theory is one per run) are
averaged over the seeds. :func:`agreement_dataset` turns the table into a netCDF-ready
dataset with CF ``units`` and ``long_name`` per quantity.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import xarray as xr

from .contract import plastic_synapses, swept_dims
from .estimators import final_values, relaxation_time, running_mean, seed_statistics
from .selection import at_point, by_seed, divergence, point_config, theory_at

ESTIMATES = ("simulation_mean", "simulation_sd", "theory", "finite_size_theory")
"""The ``estimate`` coordinate of the netCDF table: per quantity and grid point."""

TABLE_COLUMNS = ("quantity", "units", "n_seeds", "simulation_mean", "simulation_sd",
                 "theory_order", "theory", "finite_size_theory", "relative_difference_theory",
                 "relative_difference_finite_size")
"""Columns after ``experiment`` and the grid coordinates (``rule``, ``c``, sweep dims)."""

QUANTITY_KINDS = {
    "final_mean_weight": ("mV", "final mean unscaled weight j_{}"),
    "rate": ("Hz", "mean firing rate of population {} over (T/2, T]"),
    "count_cov": ("spikes2", "mean spike-count covariance of {} pairs"),
    "relaxation_time": ("s", "relaxation time of the mean weight j_{} (1/e of the initial "
                             "distance to the final value)"),
}
"""Quantity prefix → (units, long_name template)."""


# ----------------------------------------------------------------------------- comparison
def relative_difference(theory: float, simulation: float) -> float:
    """(theory − simulation)/|simulation|; NaN if either is NaN or the simulation is 0."""
    if not (np.isfinite(theory) and np.isfinite(simulation)) or simulation == 0:
        return np.nan
    return float((theory - simulation) / abs(simulation))


# ----------------------------------------------------------------------------- helpers
def _scalar(da: xr.DataArray | None) -> float:
    if da is None:
        return np.nan
    values = np.asarray(da.values, dtype=float).ravel()
    return float(values[0]) if values.size == 1 else np.nan


def _theory_order(theory: xr.Dataset | None, point: dict) -> str:
    """``delta_corrected`` if the theory at the point used a measured Δ, else
    ``leading_order`` (empty without theory)."""
    if theory is None:
        return ""
    delta = at_point(theory, "finite_size_delta", point)
    if delta is not None and np.any(np.nan_to_num(np.asarray(delta.values, dtype=float)) != 0):
        return "delta_corrected"
    return "leading_order"


def _population_rates(runs: xr.Dataset, point: dict, population: str) -> np.ndarray:
    """Per seed: mean ``neuron_rate`` over the neurons of ``population`` (NaN if unknown)."""
    rates = at_point(runs, "neuron_rate", point)
    if rates is None:
        return np.array([np.nan])
    values = by_seed(rates, "neuron")
    labels = rates.coords.get("neuron_population")
    if labels is not None and labels.dims == ("neuron",):
        labels = np.asarray(labels.values).astype(str)
        # E pools E1 and E2 in a split network; "E1" and "I" are their own label
        members = (np.char.startswith(labels, "E") if population == "E"
                   else labels == population)
    else:
        config = point_config(runs, point)
        n_e = int(round(config.get("N", 0) * config.get("excitatory_fraction", 0.8)))
        members = np.zeros(values.shape[1], dtype=bool)
        if population == "E":
            members[:n_e] = True
        elif population == "I":
            members[n_e:config.get("N", values.shape[1])] = True
        else:
            return np.full(values.shape[0], np.nan)
    selected = values[:, members]
    if selected.shape[1] == 0:
        return np.full(values.shape[0], np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)    # a seed without any finite rate
        return np.nanmean(selected, axis=1)


def _window_mean(da: xr.DataArray | None, duration_s: float) -> float:
    """Mean of a theory time course over the record times in (T/2, T]."""
    if da is None:
        return np.nan
    times = da["time"].values
    window = (times > duration_s / 2.0 + 1e-9) & (times <= duration_s + 1e-9)
    values = np.asarray(da.values, dtype=float)[window]
    return float(np.mean(values)) if values.size and np.isfinite(values).all() else np.nan


def _final_theory_weight(da: xr.DataArray | None, duration_s: float) -> float:
    """The theory trajectory at the run's last record time T (NaN after lost balance)."""
    if da is None:
        return np.nan
    times = da["time"].values
    inside = np.flatnonzero(times <= duration_s + 1e-9)
    return float(da.values[inside[-1]]) if inside.size else np.nan


# ----------------------------------------------------------------------------- the table
def grid_points(runs: xr.Dataset) -> list[dict]:
    """Every combination of the runs' swept coordinates except ``seed``."""
    dims = [d for d in swept_dims(runs) if d != "seed"]
    index = pd.MultiIndex.from_product([runs[d].values.tolist() for d in dims], names=dims)
    return [dict(zip(dims, values if isinstance(values, tuple) else (values,)))
            for values in index]


def point_rows(runs: xr.Dataset, theory: xr.Dataset | None, finite_size: xr.Dataset | None,
               point: dict) -> list[dict]:
    """The table rows (quantity and :data:`TABLE_COLUMNS`) of one grid point."""
    config = point_config(runs, point)
    duration = float(config.get("duration_s", runs["time"].values[-1]))
    _, flags, _ = divergence(runs, point)
    order = _theory_order(theory, point)
    rows = []

    def add(kind: str, label: str, sim_values, theories: tuple[float, float],
            sd: float | None = None):
        units, _ = QUANTITY_KINDS[kind]
        if sd is None:
            mean, sd, count = seed_statistics(sim_values)
        else:
            mean, count = float(sim_values[0]), int(sim_values[1])
        lo, fs = theories
        rows.append({"quantity": f"{kind}_{label}", "units": units, "n_seeds": count,
                     "simulation_mean": mean, "simulation_sd": sd, "theory_order": order,
                     "theory": lo, "finite_size_theory": fs,
                     "relative_difference_theory": relative_difference(lo, mean),
                     "relative_difference_finite_size": relative_difference(fs, mean)})

    plastic = plastic_synapses(config)
    for synapse in plastic:
        weight = at_point(runs, "mean_weight", point, synapse=synapse)
        if weight is None:
            continue
        per_seed = by_seed(weight, "time")
        theories = tuple(_final_theory_weight(theory_at(ds, "mean_weight", point,
                                                        synapse=synapse), duration)
                         for ds in (theory, finite_size))
        add("final_mean_weight", synapse, final_values(per_seed, flags), theories)
    populations = [str(p) for p in runs["population"].values] if "population" in runs.dims \
        else ["E", "I"]
    for population in populations:
        sim = _population_rates(runs, point, population)
        sim = np.where(flags, np.nan, sim) if sim.shape == flags.shape else sim
        theories = tuple(_window_mean(theory_at(ds, "population_rate", point,
                                                population=population), duration)
                         for ds in (theory, finite_size))
        add("rate", population, sim, theories)
    if "pair_type" in runs.dims:
        for pair in [str(p) for p in runs["pair_type"].values]:
            cov = at_point(runs, "spike_count_cov", point, pair_type=pair)
            if cov is None:
                continue
            sim = np.where(flags, np.nan, by_seed(cov).reshape(-1))
            theories = tuple(_scalar(theory_at(ds, "spike_count_cov", point, pair_type=pair))
                             for ds in (theory, finite_size))
            add("count_cov", pair, sim, theories)
    for synapse in plastic:
        weight = at_point(runs, "mean_weight", point, synapse=synapse)
        if weight is None:
            continue
        time_s = weight["time"].values
        per_seed = by_seed(weight, "time")
        per_seed = np.where(flags[:, None], np.nan, per_seed) if per_seed.shape[0] == \
            flags.size else per_seed
        inside = time_s <= duration + 1e-9
        mean, _, n_running = running_mean(per_seed[:, inside])
        sim_tau = relaxation_time(time_s[inside], mean)
        theories = []
        for ds in (theory, finite_size):
            trajectory = theory_at(ds, "mean_weight", point, synapse=synapse)
            if trajectory is None:
                theories.append(np.nan)
                continue
            keep = trajectory["time"].values <= duration + 1e-9
            theories.append(relaxation_time(trajectory["time"].values[keep],
                                            trajectory.values[keep]))
        n_used = int(np.sum(np.isfinite(per_seed[:, inside]).any(axis=1)))
        add("relaxation_time", synapse, (sim_tau, n_used), tuple(theories), sd=np.nan)
    return rows


def agreement_table(runs: xr.Dataset, theory: xr.Dataset | None,
                    finite_size: xr.Dataset | None = None,
                    experiment: str | None = None) -> pd.DataFrame:
    """The agreement table of one experiment.

    Parameters
    ----------
    runs : xarray.Dataset
        The experiment's runs aggregate (``aggregate/<experiment>.nc``).
    theory : xarray.Dataset or None
        Its theory aggregate (``aggregate/<experiment>_theory.nc``; leading order or
        Δ-corrected); None gives NaN theory columns.
    finite_size : xarray.Dataset or None
        Its finite-size theory aggregate (``aggregate/<experiment>_theory_finite_size.nc``);
        None (not computed) gives NaN finite-size columns.
    experiment : str, optional
        Name in the ``experiment`` column (default: the runs' ``experiment`` attribute).

    Returns
    -------
    pandas.DataFrame
        One row per grid point and quantity (module docstring): columns ``experiment``,
        the swept coordinates except ``seed`` (``rule``, ``c``, sweep dims), then
        :data:`TABLE_COLUMNS`.
    """
    experiment = experiment if experiment is not None else runs.attrs.get("experiment", "")
    records = []
    for point in grid_points(runs):
        for row in point_rows(runs, theory, finite_size, point):
            records.append({"experiment": experiment, **point, **row})
    dims = [d for d in swept_dims(runs) if d != "seed"]
    return pd.DataFrame.from_records(records, columns=["experiment", *dims, *TABLE_COLUMNS])


def quantity_attributes(quantity: str) -> tuple[str, str]:
    """(units, long_name) of a quantity name such as ``rate_E`` or ``count_cov_ei``."""
    for kind, (units, template) in QUANTITY_KINDS.items():
        if quantity.startswith(kind + "_"):
            return units, template.format(quantity[len(kind) + 1:])
    raise ValueError(f"unknown agreement quantity {quantity!r}")


def agreement_dataset(table: pd.DataFrame) -> xr.Dataset:
    """The agreement table as a dataset over the grid coordinates.

    Per quantity ``q`` (e.g. ``rate_E``): ``q`` (grid dims, ``estimate``) in the
    quantity's units, ``estimate`` being :data:`ESTIMATES`; ``q_relative_difference``
    (grid dims, ``theory_kind`` = theory, finite_size_theory) in 1; ``q_n_seeds``
    (grid dims). ``theory_order`` (grid dims) names the theory column's order.
    """
    columns = list(table.columns)
    dims = columns[columns.index("experiment") + 1:columns.index("quantity")]
    experiments = sorted(set(table["experiment"])) if len(table) else []
    out = xr.Dataset(attrs={"title": "balanced-stdp agreement of simulation and theory",
                            "Conventions": "CF-1.10",
                            "experiment": ",".join(str(e) for e in experiments),
                            "relative_difference": "(theory - simulation)/|simulation|"})
    if not len(table):
        return out
    coords = {d: sorted(set(table[d].tolist())) for d in dims}
    shape = [len(coords[d]) for d in dims]

    def index(row) -> tuple:
        return tuple(coords[d].index(row[d]) for d in dims)

    order = np.full(shape, "", dtype=object)
    for quantity, rows in table.groupby("quantity", sort=False):
        units, long_name = quantity_attributes(quantity)
        values = np.full(shape + [len(ESTIMATES)], np.nan)
        relative = np.full(shape + [2], np.nan)
        counts = np.zeros(shape, dtype=np.int32)
        for _, row in rows.iterrows():
            at = index(row)
            values[at] = [row[e] for e in ESTIMATES]
            relative[at] = [row["relative_difference_theory"],
                            row["relative_difference_finite_size"]]
            counts[at] = row["n_seeds"]
            order[at] = row["theory_order"]
        out[quantity] = xr.Variable((*dims, "estimate"), values,
                                    {"units": units, "long_name": long_name})
        out[f"{quantity}_relative_difference"] = xr.Variable(
            (*dims, "theory_kind"), relative,
            {"units": "1", "long_name": f"relative difference of theory and simulation: "
                                        f"{long_name}"})
        out[f"{quantity}_n_seeds"] = xr.Variable(
            dims, counts, {"units": "1", "long_name": f"seeds with a value: {long_name}"})
    out["theory_order"] = xr.Variable(dims, order.astype(str),
                                      {"long_name": "order of the theory column"})
    return out.assign_coords(
        {**{d: (d, coords[d]) for d in dims},
         "estimate": ("estimate", list(ESTIMATES), {"long_name": "estimate of the quantity"}),
         "theory_kind": ("theory_kind", ["theory", "finite_size_theory"],
                         {"long_name": "theory compared with the simulation"})})


# ----------------------------------------------------------------------------- output
def table_html(table: pd.DataFrame, title: str) -> str:
    """A self-contained HTML page of the table (numbers to 4 significant digits), as the
    Snakemake report shows it."""
    body = table.to_html(index=False, na_rep="–", float_format=lambda v: f"{v:.4g}",
                         border=0, classes="agreement")
    style = ("body{font-family:sans-serif;font-size:13px}table{border-collapse:collapse}"
             "th,td{padding:2px 8px;border-bottom:1px solid #ddd;text-align:right}"
             "th{background:#f3f3f3}")
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title>"
            f"<style>{style}</style></head><body><h3>{title}</h3>\n{body}\n</body></html>\n")


def write_agreement(table: pd.DataFrame, csv_path, nc_path=None, html_path=None) -> None:
    """Write the table as CSV (and netCDF, :func:`agreement_dataset`, and HTML), each
    atomically (:func:`balanced_stdp.io.write_atomic`); existing files are replaced."""
    from .io import write_atomic, write_dataset_atomic

    write_atomic(csv_path, lambda tmp: table.to_csv(tmp, index=False, float_format="%.6g"),
                 overwrite=True)
    if nc_path is not None:
        write_dataset_atomic(agreement_dataset(table), nc_path, overwrite=True)
    if html_path is not None:
        experiments = ", ".join(sorted({str(e) for e in table["experiment"]})) or "no rows"
        text = table_html(table, f"Agreement of simulation and theory: {experiments}")
        write_atomic(html_path, lambda tmp: tmp.write_text(text, encoding="utf-8"),
                     overwrite=True)


def read_tables(paths) -> pd.DataFrame:
    """Concatenate agreement CSVs (the study-wide summary); grid columns that only some
    experiments have are left empty for the others."""
    frames = [pd.read_csv(p) for p in paths]
    frames = [f for f in frames if len(f.columns)]
    if not frames:
        return pd.DataFrame(columns=["experiment", *TABLE_COLUMNS])
    table = pd.concat(frames, ignore_index=True, sort=False)
    grid = [c for c in table.columns if c not in ("experiment", *TABLE_COLUMNS)]
    return table[["experiment", *grid, *TABLE_COLUMNS]]
