"""Run configs at their limits: physically impossible values are refused alike by
``simulate`` and ``theory``, sample counts beyond what can exist are reduced with a warning
(printed by the CLI as one line), and every study's run configs stay valid without one.
"""

from __future__ import annotations

import copy
import itertools
import warnings

import pytest
import yaml

from balanced_stdp.cli import COMPILE_CONFIG
from balanced_stdp.config import (ConfigAdjustedWarning, ConfigError, apply_overrides,
                                  resolve_config)
from conftest import EXAMPLE, REPO, one_line_error, run_cli


# ----------------------------------------------------------------------------- 2. config
IMPOSSIBLE = [
    ("neuron.reset_mv=-50", "neuron.reset_mv: must be < neuron.threshold_mv (-55.0), got -50.0"),
    ("neuron.reset_mv=-55", "neuron.reset_mv: must be < neuron.threshold_mv"),
    ("neuron.spike_mv=-55", "neuron.spike_mv: must be > neuron.threshold_mv (-55.0), got -55.0"),
    ("neuron.spike_mv=-60", "neuron.spike_mv: must be > neuron.threshold_mv"),
    ("weights.ei=50", "weights.ei: must be <= 0 (inhibitory presynaptic neurons, Dale's law)"),
    ("weights.ii=1", "weights.ii: must be <= 0"),
    ("weights.ee=-1", "weights.ee: must be >= 0 (excitatory presynaptic neurons, Dale's law)"),
    ("weights.ie=-112.5", "weights.ie: must be >= 0"),
    ("weights.ex=-180", "weights.ex: must be >= 0"),
    ("weights.ix=-1", "weights.ix: must be >= 0"),
    ("optogenetics.weight=-180", "optogenetics.weight: must be >= 0"),
    ("plasticity.ee.beta0=-1", "plasticity.ee.beta0: must be >= 0, got -1.0"),
    ("recording.covariance_window_s=6", "recording.covariance_window_s: 6.0 s is longer than "
                                        "the measured half of the run (duration_s/2 = 5.0 s)"),
]


@pytest.mark.parametrize("override,message", IMPOSSIBLE, ids=[o for o, _ in IMPOSSIBLE])
def test_physically_impossible_values_refused_alike_by_simulate_and_theory(
        tmp_path, capsys, no_simulation, override, message):
    # EXAMPLE has a Kohonen EE rule (for beta0); T = 10 s so the window check has room.
    args = [str(EXAMPLE), "--set", "duration_s=10", "--set", override]
    code, _, err = run_cli(capsys, "simulate", *args, "--out", tmp_path / "run.nc")
    line = one_line_error(err)
    assert code == 2 and message in line
    code, out, err = run_cli(capsys, "theory", *args, "--out", tmp_path / "theory.nc")
    assert code == 2 and one_line_error(err) == line      # the same message
    assert out == "" and not list(tmp_path.iterdir())     # nothing written


def test_negative_beta0_of_oja_refused():
    with pytest.raises(ConfigError, match=r"plasticity\.ee\.beta0: must be >= 0"):
        resolve_config({"plasticity": {"ee": {"rule": "oja", "beta0": -25}}})


def test_zero_weights_stay_allowed_for_decoupled_neurons():
    # Dale's law is about the sign; zero means "no synapse" (tests/test_neuron.py).
    config = resolve_config({"N": 10, "weights": {s: 0 for s in
                                                  ("ee", "ei", "ie", "ii", "ex", "ix")},
                             "optogenetics": {"weight": 0},
                             "recording": {"sampled_synapses": 5, "sampled_pairs": 5}})
    assert config["weights"]["ei"] == 0.0


def test_sample_counts_beyond_what_exists_are_clipped_with_a_warning():
    # N = 100: 80 E, 20 I → at most 80·79 = 6320 off-diagonal pairs (EE) and 80² = 6400
    # synapses (EE, self-connections allowed) per type.
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        config = resolve_config({"N": 100, "recording": {"sampled_pairs": 100_000,
                                                         "sampled_synapses": 10**7}})
    assert [(w.category, str(w.message)) for w in record] == [
        (ConfigAdjustedWarning, "recording.sampled_pairs: 100000 is more than the 6320 "
                                "off-diagonal neuron pairs of the largest type at N = 100; "
                                "using 6320"),
        (ConfigAdjustedWarning, "recording.sampled_synapses: 10000000 is more than the 6400 "
                                "possible synapses of the largest type at N = 100; using 6400")]
    assert config["recording"]["sampled_pairs"] == 6320
    assert config["recording"]["sampled_synapses"] == 6400
    with warnings.catch_warnings():
        warnings.simplefilter("error")                       # the stored config is stable
        assert resolve_config(config) == config
        resolve_config({"N": 10, "recording": {"sampled_synapses": 5, "sampled_pairs": 5}})


def test_a_single_covariance_window_warns_that_covariances_will_be_nan():
    with pytest.warns(ConfigAdjustedWarning, match="only one 0.25 s window"):
        resolve_config({"duration_s": 0.5})


def test_cli_prints_a_clip_warning_as_one_line(tmp_path, capsys):
    code, _, err = run_cli(capsys, "theory", EXAMPLE, "--set", "N=100", "--set",
                           "recording.sampled_pairs=100000", "--out", tmp_path / "t.nc")
    assert code == 0
    assert ("[balanced-stdp] WARNING: recording.sampled_pairs: 100000 is more than the 6320 "
            "off-diagonal neuron pairs") in err.splitlines()[0]


def _merge(base: dict, update: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in (update or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


@pytest.mark.parametrize("study", ["config.yaml", "paper.yaml", "test.yaml"])
def test_every_study_run_config_stays_valid_without_warnings(study):
    spec = yaml.safe_load((REPO / "config" / study).read_text())
    count = 0
    for name, experiment in spec["experiments"].items():
        base = _merge(spec.get("defaults") or {}, experiment.get("run") or {})
        grid = experiment.get("grid") or {}
        for values in itertools.product(*grid.values()):
            config = apply_overrides(base, [f"{k}={v}" for k, v in zip(grid, values)])
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                resolve_config(config)
            count += 1
    assert count >= len(spec["experiments"])


def test_compile_config_stays_valid():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        resolve_config(COMPILE_CONFIG)


