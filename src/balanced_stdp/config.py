"""Run configuration: defaults, validation and ``--set key=value`` overrides.

A run config is a nested mapping (YAML on disk). :func:`resolve_config` fills in
every default, checks every key, type and range, and returns the *complete*
config that is stored verbatim (as JSON) in each output dataset, so a result
always records exactly what produced it. Any problem raises :class:`ConfigError`
with a one-line message that names the key and what is allowed.

The table :data:`FIELDS` is the single description of the run config; the
README's key reference is generated from it (``balanced-stdp config-keys``).
Its length (~560 lines) is that table plus the cross-checks between keys (physical
limits, Dale's law, rule parameters): one room, the run config's validity.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import json
import math
import warnings
from pathlib import Path
from typing import Any

import yaml

from .contract import get_dotted
from .plasticity import RULES, SYNAPSE_TYPES, rule_parameter_defaults


class ConfigError(ValueError):
    """A run config is invalid; the message names the offending key."""


class ConfigAdjustedWarning(UserWarning):
    """A config value asked for more than can exist and was reduced (the message names
    the key, the value asked for and the value used; the stored config has the latter)."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML loader that rejects duplicate keys (e.g. two rules for one synapse type)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise ConfigError(f"duplicate key '{key}' (line {key_node.start_mark.line + 1}); "
                                  "each key, and each synapse type's rule, may appear once")
            seen.add(key)
        return super().construct_mapping(node, deep)


def read_yaml(text: str, source: str = "config"):
    """Parse YAML, rejecting duplicate keys."""
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {yaml_problem(exc)}") from None


def yaml_problem(exc: yaml.YAMLError) -> str:
    """A YAML parse error on one line: what is wrong and where (line, column)."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
    return " ".join(f"{problem}{where}".split())


@dataclasses.dataclass(frozen=True)
class Field:
    """One config key: type, default, bounds and documentation."""

    kind: type | tuple
    default: Any
    doc: str
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    choices: tuple | None = None
    nullable: bool = False


def _positive(doc, default, kind=float):
    return Field(kind, default, doc, minimum=0, exclusive_minimum=True)


FIELDS: dict[str, Any] = {
    "N": _positive("Number of recurrent neurons (0.8N excitatory, 0.2N inhibitory).", 5000, int),
    "duration_s": _positive("Simulated time T (s).", 10.0),
    "dt_ms": _positive("Forward-Euler time step (ms).", 0.1),
    "c": Field(float, 0.0, "Pairwise spike-count correlation of the external trains, in [0, 1].",
               minimum=0.0, maximum=1.0),
    "seed": Field(int, 1, "Random seed: connectivity, V(0), input and sampling all derive from it.",
                  minimum=0),
    "precision": Field(str, "float64", "Floating-point type of the neuron state (V, currents, "
                       "traces), its arithmetic and the recurrent weights: 'float64', or "
                       "'float32' (about 1.5× faster at N = 5000; results differ from float64 "
                       "by rounding only, rates within 1 % over 100 s; weight updates and "
                       "input sums computed in float64; see README Performance).",
                       choices=("float64", "float32")),
    "threads": Field(int, 1, "Threads of the simulation kernel for one large run (numba "
                     "parallel over neurons and spikers; results identical for any count; "
                     "no faster than 1 at N = 15000 on 2 cores, see README Performance). The "
                     "workflow gives a job this many cores.", minimum=1),
    "tau_stdp_ms": _positive("Eligibility-trace time constant τ_STDP (ms).", 200.0),
    "connection_probability": Field(float, 0.1, "Bernoulli connection probability p (all types).",
                                    minimum=0.0, maximum=1.0, exclusive_minimum=True),
    "external_rate_hz": _positive("Rate r_x of every external (X) Poisson train (Hz).", 10.0),
    "jitter_ms": _positive("Gaussian jitter s.d. of correlated external spikes (ms).", 5.0),
    "excitatory_fraction": Field(float, 0.8, "Fraction of the N neurons that are excitatory.",
                                 minimum=0.0, maximum=1.0, exclusive_minimum=True),
    "external_fraction": Field(float, 0.2, "External layer size N_x / N.",
                               minimum=0.0, exclusive_minimum=True),
    "weights": {
        "ee": Field(float, 25.0, "Initial unscaled E→E weight j_ee (mV)."),
        "ei": Field(float, -150.0, "Initial unscaled I→E weight j_ei (mV)."),
        "ie": Field(float, 112.5, "Initial unscaled E→I weight j_ie (mV)."),
        "ii": Field(float, -250.0, "Initial unscaled I→I weight j_ii (mV)."),
        "ex": Field(float, 180.0, "Unscaled X→E weight j_ex (mV), never plastic."),
        "ix": Field(float, 135.0, "Unscaled X→I weight j_ix (mV), never plastic."),
    },
    "synaptic_time_constants_ms": {
        "e": _positive("Excitatory synaptic time constant τ_e (ms).", 8.0),
        "i": _positive("Inhibitory synaptic time constant τ_i (ms).", 4.0),
        "x": _positive("External synaptic time constant τ_x (ms).", 10.0),
    },
    "neuron": {
        "membrane_time_constant_ms": _positive("τ_m = C_m/g_L (ms), C_m = 1.", 15.0),
        "leak_reversal_mv": Field(float, -72.0, "Leak reversal E_L (mV)."),
        "threshold_mv": Field(float, -55.0, "EIF soft threshold V_T (mV)."),
        "slope_factor_mv": _positive("EIF slope factor Δ_T (mV).", 1.0),
        "spike_mv": Field(float, -50.0, "Spike detection / peak voltage V_th (mV)."),
        "reset_mv": Field(float, -75.0, "Reset voltage V_re (mV); V(0) ~ U[V_re, V_T]."),
        "bias_current_mv_per_ms": Field(float, 0.0, "Extra constant current to every neuron "
                                        "(mV/ms; the authors' stimulus current, 0 in all "
                                        "experiments)."),
    },
    "plasticity": "rules",  # validated by _resolve_plasticity
    "optogenetics": {
        "enabled": Field(bool, False, "Add the second external layer X2 (optogenetic "
                         "'laser', spec §6.10)."),
        "stimulated_fraction": Field(float, 0.5, "Fraction of E neurons in E1 (opsin-expressing); "
                                     "E1 are the first neurons of E.", minimum=0.0, maximum=1.0,
                                     exclusive_minimum=True),
        "layer_fraction": Field(float, 0.2, "X2 size / N.", minimum=0.0, exclusive_minimum=True),
        "rate_hz": Field(float, 5.0, "Rate of every X2 train while the laser is on (Hz).",
                         minimum=0.0),
        "start_s": Field(float, 0.0, "Laser onset (s).", minimum=0.0),
        "stop_s": Field(float, 0.0, "Laser offset (s).", minimum=0.0),
        "weight": Field(float, 180.0, "Unscaled X2→E1 weight (mV); X2 projects to E1 only."),
    },
    "recording": {
        "interval_s": _positive("Record interval: population-rate bins, current means and "
                                "weight snapshots (s).", 0.1),
        "covariance_window_s": _positive("Spike-count window for covariances (s).", 0.25),
        "sampled_synapses": Field(int, 1000, "Existing synapses sampled per plastic type "
                                  "(reduced, with a warning, to the most any type can have).",
                                  minimum=0),
        "sampled_pairs": Field(int, 1000, "Off-diagonal count-covariance entries sampled per "
                               "pair type, without repeats (reduced, with a warning, to the "
                               "most any pair type has; smaller types are padded with NaN).",
                               minimum=0),
        "raster_duration_s": Field(float, 1.0, "Length of the spike-raster sample at the end of "
                                   "the run (s).", minimum=0.0),
    },
    "divergence": {
        "max_mean_rate_hz": _positive("Abort when the total spike count exceeds this mean rate "
                                      "over "
                                      "the whole run (the authors' 0.05·N·T spike buffer).", 50.0),
        "max_bin_rate_hz": _positive("Abort when any population's rate in one record bin exceeds "
                                     "this (Hz).", 300.0),
    },
    "sweep_dims": Field(list, [], "Extra dotted config keys stored as length-1 dimensions (besides "
                        "rule, c and seed), e.g. ['weights.ei']."),
}

ALLOWED_RULES = {syn: sorted(name for name, spec in RULES.items() if syn in spec.synapses)
                 for syn in SYNAPSE_TYPES}


# ----------------------------------------------------------------------------- helpers
def _suggest(key: str, allowed) -> str:
    close = difflib.get_close_matches(key, list(allowed), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"{hint}; allowed: {', '.join(sorted(allowed))}"


def _check_value(path: str, field: Field, value):
    if value is None:
        if field.nullable:
            return None
        raise ConfigError(f"{path}: a value is required ({field.doc})")
    kinds = field.kind if isinstance(field.kind, tuple) else (field.kind,)
    if float in kinds and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if int in kinds and isinstance(value, float) and value.is_integer() and float not in kinds:
        value = int(value)
    if isinstance(value, bool) and bool not in kinds:
        raise ConfigError(f"{path}: expected {kinds[0].__name__}, got a boolean")
    if not isinstance(value, kinds):
        raise ConfigError(f"{path}: expected {kinds[0].__name__}, got {type(value).__name__} "
                          f"{value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{path}: must be finite, got {value!r}")
    if field.minimum is not None:
        bad = value <= field.minimum if field.exclusive_minimum else value < field.minimum
        if bad:
            op = ">" if field.exclusive_minimum else ">="
            rng = f"{op} {field.minimum}" + (f" and <= {field.maximum}" if field.maximum is not None
                                             else "")
            raise ConfigError(f"{path}: must be {rng}, got {value!r}")
    if field.maximum is not None and value > field.maximum:
        raise ConfigError(f"{path}: must be <= {field.maximum}"
                          + (f" and >= {field.minimum}" if field.minimum is not None else "")
                          + f", got {value!r}")
    if field.choices is not None and value not in field.choices:
        raise ConfigError(f"{path}: {value!r} not allowed; allowed: {', '.join(field.choices)}")
    return value


def _resolve_section(user: dict, table: dict, prefix: str) -> dict:
    if not isinstance(user, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: expected a mapping, got "
                          f"{type(user).__name__}")
    unknown = [k for k in user if k not in table]
    if unknown:
        raise ConfigError(f"unknown key '{prefix}{unknown[0]}'{_suggest(unknown[0], table)}")
    out = {}
    for key, spec in table.items():
        path = prefix + key
        if spec == "rules":
            out[key] = _resolve_plasticity(user.get(key) or {}, path)
        elif isinstance(spec, dict):
            out[key] = _resolve_section(user.get(key) or {}, spec, path + ".")
        else:
            value = user.get(key, copy.deepcopy(spec.default))
            out[key] = _check_value(path, spec, value)
    return out


def _resolve_plasticity(user: dict, path: str) -> dict:
    if not isinstance(user, dict):
        raise ConfigError(f"{path}: expected a mapping of synapse type to rule")
    out = {}
    for synapse, settings in user.items():
        spath = f"{path}.{synapse}"
        if synapse not in SYNAPSE_TYPES:
            raise ConfigError(f"unknown synapse type '{spath}'{_suggest(synapse, SYNAPSE_TYPES)} "
                              "(X synapses are never plastic)")
        if settings is None:
            continue
        if isinstance(settings, list):
            raise ConfigError(f"{spath}: at most one rule per synapse type (spec §4.4); got "
                              f"{len(settings)}")
        if not isinstance(settings, dict) or "rule" not in settings:
            raise ConfigError(f"{spath}: expected a mapping with a 'rule' key; allowed rules: "
                              f"{', '.join(ALLOWED_RULES[synapse])}")
        rule = settings["rule"]
        if not isinstance(rule, str) or rule not in RULES:
            raise ConfigError(f"{spath}.rule: unknown rule {rule!r}{_suggest(str(rule), RULES)}")
        if synapse not in RULES[rule].synapses:
            raise ConfigError(f"{spath}.rule: {rule!r} does not apply to {synapse}; allowed on "
                              f"{synapse}: {', '.join(ALLOWED_RULES[synapse])}")
        defaults = rule_parameter_defaults(rule, synapse, 200.0)
        params = {"rule": rule}
        for key, value in settings.items():
            if key == "rule":
                continue
            if key not in defaults:
                raise ConfigError(f"unknown key '{spath}.{key}' for rule {rule}"
                                  f"{_suggest(key, defaults)}")
            expected = defaults[key]
            if isinstance(expected, list):
                if not (isinstance(value, list) and len(value) == len(expected)
                        and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                for v in value)):
                    raise ConfigError(f"{spath}.{key}: expected a list of {len(expected)} numbers "
                                      f"[constant, slope], got {value!r}")
                value = [float(v) for v in value]
                if not all(math.isfinite(v) for v in value) and not key.endswith("_gate"):
                    raise ConfigError(f"{spath}.{key}: must be finite, got {value!r}")
                if key.endswith("_gate") and not value[0] < value[1]:
                    raise ConfigError(f"{spath}.{key}: lower bound must be < upper bound, got "
                                      f"{value!r}")
            elif isinstance(expected, bool):
                if not isinstance(value, bool):
                    raise ConfigError(f"{spath}.{key}: expected a boolean, got {value!r}")
            else:
                value = _check_value(f"{spath}.{key}", Field(float, None, key), value)
            params[key] = value
        out[synapse] = params
    return out


def _finish_plasticity(config: dict) -> None:
    """Fill rule defaults that depend on τ_STDP and check rule parameter ranges."""
    tau = config["tau_stdp_ms"]
    for synapse, params in config["plasticity"].items():
        rule = params["rule"]
        path = f"plasticity.{synapse}"
        for key, value in rule_parameter_defaults(rule, synapse, tau).items():
            params.setdefault(key, value)
        if params["eta"] <= 0:
            raise ConfigError(f"{path}.eta: must be > 0 (for no plasticity, leave "
                              f"{path} out), got {params['eta']}")
        if "j_norm" in params and params["j_norm"] == 0:
            raise ConfigError(f"{path}.j_norm: must be non-zero")
        if "j_norm" in params and (params["j_norm"] > 0) != (synapse[1] == "e"):
            # η_eff = η√N/j_norm: j_norm has the sign of the weights it normalises
            # (Dale's law), else the homeostatic rule drives rates away from the target.
            sign = "> 0 (excitatory" if synapse[1] == "e" else "< 0 (inhibitory"
            raise ConfigError(f"{path}.j_norm: must be {sign} presynaptic neurons, the sign of "
                              f"weights.{synapse}), got {params['j_norm']}")
        if "eta_divisor" in params and params["eta_divisor"] == 0:
            raise ConfigError(f"{path}.eta_divisor: must be non-zero")
        if "beta0" in params and params["beta0"] < 0:
            # β₀ sets the rule's weight scale (Kohonen: j* = β₀ τ r_e); a negative β₀
            # drives excitatory weights negative, against Dale's law.
            raise ConfigError(f"{path}.beta0: must be >= 0, got {params['beta0']}")
        if "target_rate_hz" in params and params["target_rate_hz"] <= 0:
            raise ConfigError(f"{path}.target_rate_hz: must be > 0, got {params['target_rate_hz']}")
        if "j_min" in params and params["j_min"] >= params["j_max"]:
            raise ConfigError(f"{path}: j_min must be < j_max, got {params['j_min']} >= "
                              f"{params['j_max']}")
        if params.get("post_trace_power", 1) not in (1, 2, 1.0, 2.0):
            raise ConfigError(f"{path}.post_trace_power: allowed: 1, 2")
        config["plasticity"][synapse] = {"rule": rule, **{k: params[k] for k in sorted(params)
                                                          if k != "rule"}}


def _cross_checks(config: dict) -> None:
    n = config["N"]
    for name, fraction in (("excitatory_fraction", config["excitatory_fraction"]),
                           ("external_fraction", config["external_fraction"])):
        count = fraction * n
        if abs(count - round(count)) > 1e-9 or round(count) < 1:
            raise ConfigError(f"{name}: {fraction} × N = {count} must be a positive whole number "
                              f"of neurons (choose N accordingly)")
    if round(config["excitatory_fraction"] * n) >= n:
        raise ConfigError("excitatory_fraction: leaves no inhibitory neurons")
    steps = config["duration_s"] * 1000.0 / config["dt_ms"]
    if abs(steps - round(steps)) > 1e-6:
        raise ConfigError(f"duration_s: T/dt = {steps} must be a whole number of steps")
    rec = config["recording"]
    if rec["interval_s"] > config["duration_s"]:
        raise ConfigError(f"recording.interval_s: {rec['interval_s']} s is longer than the run "
                          f"(duration_s = {config['duration_s']} s)")
    for key in ("interval_s", "covariance_window_s"):
        ratio = rec[key] * 1000.0 / config["dt_ms"]
        if abs(ratio - round(ratio)) > 1e-6:
            raise ConfigError(f"recording.{key}: must be a whole number of dt_ms steps")
    if config["dt_ms"] > 1.0:
        raise ConfigError(f"dt_ms: must be <= 1 ms for the Euler scheme, got {config['dt_ms']}")
    opto = config["optogenetics"]
    if opto["enabled"]:
        if not opto["start_s"] < opto["stop_s"] <= config["duration_s"]:
            raise ConfigError("optogenetics: need start_s < stop_s <= duration_s, got "
                              f"{opto['start_s']}, {opto['stop_s']}, {config['duration_s']}")
        n_e1 = opto["stimulated_fraction"] * config["excitatory_fraction"] * n
        n_e = config["excitatory_fraction"] * n
        if abs(n_e1 - round(n_e1)) > 1e-9 or not 0 < round(n_e1) < n_e:
            raise ConfigError(f"optogenetics.stimulated_fraction: gives {n_e1} E1 neurons; need a "
                              "whole number strictly between 0 and N_e")
        n_x2 = opto["layer_fraction"] * n
        if abs(n_x2 - round(n_x2)) > 1e-9:
            raise ConfigError(f"optogenetics.layer_fraction: gives {n_x2} X2 neurons, not whole")
    for key in config["sweep_dims"]:
        try:
            get_dotted(config, key)
        except KeyError:
            raise ConfigError(f"sweep_dims: {key!r} is not a config key") from None
    _check_neuron(config["neuron"])
    _check_dale(config)
    _check_recording(config, round(steps))


# Sign of each weight under Dale's law: X and E neurons excite, I neurons inhibit. Zero is
# allowed (no synapse of that type; the single-neuron tests decouple neurons this way).
_EXCITATORY_WEIGHTS = ("weights.ee", "weights.ie", "weights.ex", "weights.ix",
                       "optogenetics.weight")
_INHIBITORY_WEIGHTS = ("weights.ei", "weights.ii")


def _check_neuron(neuron: dict) -> None:
    """Voltages must be ordered V_re < V_T < V_th for an EIF neuron to spike and reset."""
    reset, threshold, spike = neuron["reset_mv"], neuron["threshold_mv"], neuron["spike_mv"]
    if not reset < threshold:
        raise ConfigError(f"neuron.reset_mv: must be < neuron.threshold_mv ({threshold}), got "
                          f"{reset}")
    if not spike > threshold:
        raise ConfigError(f"neuron.spike_mv: must be > neuron.threshold_mv ({threshold}), got "
                          f"{spike}")


def _check_dale(config: dict) -> None:
    """Refuse weights of the wrong sign (Dale's law): they run, but as a different model."""
    for key in _EXCITATORY_WEIGHTS:
        if get_dotted(config, key) < 0:
            raise ConfigError(f"{key}: must be >= 0 (excitatory presynaptic neurons, Dale's "
                              f"law), got {get_dotted(config, key)}")
    for key in _INHIBITORY_WEIGHTS:
        if get_dotted(config, key) > 0:
            raise ConfigError(f"{key}: must be <= 0 (inhibitory presynaptic neurons, Dale's "
                              f"law), got {get_dotted(config, key)}")


def _population_sizes(config: dict) -> dict[str, int]:
    """Neurons per group (E, I and, with optogenetics, E1 and E2), as the simulator
    builds them."""
    n = config["N"]
    n_e = round(config["excitatory_fraction"] * n)
    sizes = {"e": n_e, "i": n - n_e}
    opto = config["optogenetics"]
    if opto["enabled"]:
        sizes["e1"] = round(opto["stimulated_fraction"] * n_e)
        sizes["e2"] = n_e - sizes["e1"]
    return sizes


def _check_recording(config: dict, n_steps: int) -> None:
    """Refuse a covariance window with no complete window in the measured half of the
    run; reduce sample counts larger than what can exist (with a warning)."""
    rec = config["recording"]
    window_steps = round(rec["covariance_window_s"] * 1000.0 / config["dt_ms"])
    analysis_steps = n_steps - n_steps // 2      # the simulator's (T/2, T]
    half_s = config["duration_s"] / 2.0
    if window_steps > analysis_steps:
        raise ConfigError(f"recording.covariance_window_s: {rec['covariance_window_s']} s is "
                          f"longer than the measured half of the run (duration_s/2 = {half_s} "
                          "s), so no covariance could be measured")
    if 2 * window_steps > analysis_steps:
        warnings.warn(f"recording.covariance_window_s: only one {rec['covariance_window_s']} s "
                      f"window fits in the measured half of the run ({half_s} s); spike-count "
                      "covariances need two and will be NaN", ConfigAdjustedWarning,
                      stacklevel=4)
    sizes = _population_sizes(config)
    # Pair types share one pair_sample dimension: the largest type bounds it, smaller
    # types are padded with NaN for the pairs they lack (measurements.sampled_pair_statistics).
    most_pairs = max(sizes["e"] * (sizes["e"] - 1), sizes["e"] * sizes["i"],
                     sizes["i"] * (sizes["i"] - 1))
    # Self-connections exist (spec §1), so a block has at most N_post·N_pre synapses; the
    # realised count is random and known only to the simulator.
    most_synapses = max(sizes["e"], sizes["i"]) ** 2
    for key, limit, what in (("sampled_pairs", most_pairs, "off-diagonal neuron pairs"),
                             ("sampled_synapses", most_synapses, "possible synapses")):
        if rec[key] > limit:
            warnings.warn(f"recording.{key}: {rec[key]} is more than the {limit} {what} of the "
                          f"largest type at N = {config['N']}; using {limit}",
                          ConfigAdjustedWarning, stacklevel=4)
            rec[key] = limit


# ----------------------------------------------------------------------------- public API
def resolve_config(user: dict | None) -> dict:
    """Return the complete, validated run config (every default filled in).

    Parameters
    ----------
    user : dict or None
        The user's (partial) config.

    Raises
    ------
    ConfigError
        On an unknown key, a wrong type, an out-of-range value or a physically
        impossible combination (V_re ≥ V_T, V_th ≤ V_T, a weight of the wrong sign
        under Dale's law, a covariance window longer than the measured half of the
        run, …).

    Warns
    -----
    ConfigAdjustedWarning
        When ``recording.sampled_pairs`` or ``recording.sampled_synapses`` asks for
        more than can exist at this N; the returned config holds the reduced value.
    """
    config = _resolve_section(copy.deepcopy(user or {}), FIELDS, "")
    _finish_plasticity(config)
    _cross_checks(config)
    return config


def with_dotted(config: dict, key: str, value) -> dict:
    """Deep copy of ``config`` with the dotted key set to ``value`` (parents must exist)."""
    out = copy.deepcopy(config)
    node = out
    parts = key.split(".")
    for part in parts[:-1]:
        node = node[part]
    node[parts[-1]] = value
    return out


def apply_overrides(config: dict, overrides: list[str]) -> dict:
    """Apply ``key=value`` strings (dotted keys, YAML-parsed values) to a raw config."""
    config = copy.deepcopy(config or {})
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected key=value")
        key, raw = item.split("=", 1)
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise ConfigError(f"--set {key}: cannot parse value {raw!r}: "
                              f"{yaml_problem(exc)}") from None
        node = config
        parts = key.strip().split(".")
        for part in parts[:-1]:
            if node.get(part) is None:
                node[part] = {}
            node = node[part]
            if not isinstance(node, dict):
                raise ConfigError(f"--set {key}: {part} is not a mapping")
        node[parts[-1]] = value
    return config


def load_config(path: str | Path | None, overrides: list[str] | None = None) -> dict:
    """Read a YAML run config, apply ``--set`` overrides and resolve it."""
    raw: dict = {}
    if path is not None:
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise ConfigError(f"cannot read config {path}: {exc.strerror}") from None
        except UnicodeDecodeError as exc:
            raise ConfigError(f"cannot read config {path}: not UTF-8 text (byte "
                              f"{exc.start})") from None
        raw = read_yaml(text, str(path))
        if raw is None:
            raise ConfigError(f"{path}: empty config (no keys); write {{}} for all defaults")
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: top level must be a mapping of keys")
    return resolve_config(apply_overrides(raw, overrides or []))


def config_to_json(config: dict) -> str:
    """Canonical JSON form stored in datasets (sorted keys)."""
    return json.dumps(config, sort_keys=True)


def describe_fields(table: dict | None = None, prefix: str = "") -> list[tuple[str, str, str]]:
    """(key, default, doc) rows of every config key, for the README reference."""
    rows = []
    for key, spec in (table or FIELDS).items():
        if spec == "rules":
            rows.append((prefix + key + ".<ee|ei|ie|ii>", "{}",
                         "Plastic synapse types: {rule: NAME, eta: …, …}; see the rule table."))
        elif isinstance(spec, dict):
            rows.extend(describe_fields(spec, prefix + key + "."))
        else:
            rows.append((prefix + key, json.dumps(spec.default), spec.doc))
    return rows
