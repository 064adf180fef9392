"""Captions: a figure's own text plus the parameters of the runs it was drawn from.

Each figure module keeps its caption text beside its figure function;
:func:`with_parameters` appends what every data figure states: rules and their
parameters, N, T, τ_STDP, the swept values, seeds and diverged runs, read from the
run configs stored in the aggregate (or, without them, from its coordinates).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..contract import BASE_SWEPT_DIMS, dimension_name, swept_dims
from .common import coord_values, ensure_swept, run_configs
from .style import PARAMETER_FORMATS, SWEPT_DIM_LABELS, format_value, rule_name, rule_sort_key

_UNBOUNDED_MV = 1e19   # the classical rule's ±1e20 "bounds" mean unbounded


def join_values(values) -> str:
    """Distinct values, sorted (numbers first), as ``"0, 0.5"``."""
    values = sorted(set(values), key=lambda v: (isinstance(v, str), v))
    return ", ".join(format_value(v) for v in values)


def rule_parameters(parameters: dict) -> list[str]:
    """The parameters of :data:`~.style.PARAMETER_FORMATS` in ``parameters``, as text
    (a set of values is listed; an unbounded j_max is left out)."""
    text = []
    for name, fmt in PARAMETER_FORMATS:
        value = parameters.get(name)
        values = value if isinstance(value, (set, frozenset)) else {value}
        values = {v for v in values if v is not None
                  and not (name == "j_max" and v >= _UNBOUNDED_MV)}
        if values:
            text.append(fmt.format(join_values(values)))
    return text


def _run_parameters(configs: list[dict], swept: list[str]) -> list[str]:
    parts = []
    for key, name, unit in (("N", "N", ""), ("duration_s", "T", " s"),
                            ("tau_stdp_ms", "τ_STDP", " ms")):
        if key not in swept:
            parts.append(f"{name} = {join_values(cfg[key] for cfg in configs if key in cfg)}{unit}")
    rules: dict[tuple[str, str], dict[str, set]] = {}
    for cfg in configs:
        for synapse, settings in cfg.get("plasticity", {}).items():
            entry = rules.setdefault((synapse, settings["rule"]), {})
            for name, _ in PARAMETER_FORMATS:
                if settings.get(name) is not None:
                    entry.setdefault(name, set()).add(settings[name])
            if dimension_name(f"weights.{synapse}") not in swept:
                entry.setdefault("initial", set()).add(cfg["weights"][synapse])
    by_rule = sorted(rules.items(), key=lambda item: rule_sort_key(item[0][1]))
    for (synapse, rule), params in by_rule:
        text = rule_parameters(params)
        if "initial" in params:
            text.append(f"initial j_{synapse} = {join_values(params['initial'])} mV")
        parts.append(f"{rule_name(rule)} on {synapse.upper()} ({', '.join(text)})")
    return parts


def parameter_sentence(runs: xr.Dataset) -> str:
    """"Rules: …. Parameters: …." for an aggregate of runs."""
    runs = ensure_swept(runs)
    configs = run_configs(runs)
    swept = [d for d in swept_dims(runs) if d not in BASE_SWEPT_DIMS]
    if configs:
        parts = _run_parameters(configs, swept)
    else:
        parts = []
        if "neuron" in runs.dims:
            parts.append(f"N = {runs.sizes['neuron']}")
        if "time" in runs.dims and runs.sizes["time"]:
            parts.append(f"T = {float(runs['time'].max()):g} s")
        parts.append("(run configs not stored in the aggregate: η and β₀ unknown)")
    parts.append("c ∈ {" + join_values(float(c) for c in runs["c"].values) + "}")
    for dim in swept:
        name, unit = SWEPT_DIM_LABELS.get(dim, (dim, ""))
        name = name.replace("$", "").replace("{", "").replace("}", "")
        parts.append(f"{name} ∈ {{{join_values(runs[dim].values.tolist())}}}"
                     + (f" {unit}" if unit else ""))
    seeds = [int(s) for s in runs["seed"].values]
    if "mean_weight" in runs:
        finite = np.isfinite(runs["mean_weight"]).any(
            [d for d in runs["mean_weight"].dims if d != "seed"])
        seeds = [int(s) for s in runs["seed"].values[finite.values]]
    parts.append(f"{len(seeds)} seed{'s' if len(seeds) != 1 else ''} "
                 f"({join_values(seeds)}) per grid point")
    if "diverged" in runs:
        n_diverged = int(np.nansum(runs["diverged"].values > 0.5))
        if n_diverged:
            parts.append(f"{n_diverged} run{'s' if n_diverged != 1 else ''} stopped by the "
                         "divergence guard")
    rules = [rule_name(r) for r in coord_values(runs, "rule")]
    return "Rules: " + ", ".join(rules) + ". Parameters: " + "; ".join(parts) + "."


def with_parameters(text: str, runs: xr.Dataset | None) -> str:
    """``text`` followed by :func:`parameter_sentence` of ``runs`` (if given)."""
    return text if runs is None else f"{text} {parameter_sentence(runs)}"
