"""Bad input is rejected with a one-line error naming the key; nothing is written."""

import os
import subprocess
import sys
from pathlib import Path

import netCDF4
import numpy as np
import pytest

from balanced_stdp.cli import main
from balanced_stdp.config import ConfigError, load_config, resolve_config
from balanced_stdp.io import IncompleteDatasetError, open_dataset, write_dataset_atomic
from conftest import HANG_GUARD_S

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "kohonen_istdp.yaml"


def test_issue_example_config_resolves_exactly():
    config = load_config(EXAMPLE)
    assert config["N"] == 5000 and config["c"] == 0.1 and config["duration_s"] == 200
    assert config["plasticity"]["ei"] == {"rule": "istdp", "eta": 1e-4, "j_norm": -200.0,
                                          "target_rate_hz": 10.0}
    assert config["plasticity"]["ee"] == {"rule": "kohonen", "beta0": 2.0, "eta": 1e-3}
    assert config["weights"]["ix"] == 135.0


@pytest.mark.parametrize("override,fragment", [
    ("weigths.ee=3", "unknown key 'weigths' (did you mean 'weights'?)"),
    ("N=0", "N: must be > 0"),
    ("N=-5", "N: must be > 0"),
    ("N=abc", "N: expected int"),
    ("c=1.5", "c: must be <= 1.0"),
    ("c=-0.1", "c: must be >= 0.0"),
    ("dt_ms=0", "dt_ms: must be > 0"),
    ("duration_s=true", "duration_s: expected float, got a boolean"),
    ("plasticity.ee.rule=istdp", "'istdp' does not apply to ee; allowed on ee:"),
    ("plasticity.ie.rule=kohonen", "allowed on ie: custom, homeostatic, soft_hebbian"),
    ("plasticity.ee.rule=kohonnen", "unknown rule 'kohonnen' (did you mean 'kohonen'?)"),
    ("plasticity.ee.beta=3", "unknown key 'plasticity.ee.beta' for rule kohonen"),
    ("plasticity.ex.rule=kohonen", "unknown synapse type 'plasticity.ex'"),
    ("N=1001", "excitatory_fraction: 0.8 × N"),
    ("recording.interval_s=0.00005", "recording.interval_s: must be a whole number"),
])
def test_cli_rejects_bad_input(tmp_path, capsys, override, fragment):
    out = tmp_path / "run.nc"
    code = main(["simulate", str(EXAMPLE), "--set", override, "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert fragment in err
    assert len(err.splitlines()) == 1
    assert not out.exists() and not list(tmp_path.iterdir())


def test_two_rules_on_one_type_rejected(tmp_path, capsys):
    config = tmp_path / "two.yaml"
    config.write_text("plasticity:\n  ee: {rule: kohonen}\n  ee: {rule: soft_hebbian}\n")
    code = main(["simulate", str(config), "--out", str(tmp_path / "x.nc")])
    assert code == 2 and "duplicate key 'ee'" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="at most one rule per synapse type"):
        resolve_config({"plasticity": {"ee": [{"rule": "kohonen"}, {"rule": "oja"}]}})


def test_rule_specific_ranges():
    with pytest.raises(ConfigError, match="plasticity.ee: j_min must be < j_max"):
        resolve_config({"plasticity": {"ee": {"rule": "bounded_hebbian", "j_min": 60}}})
    with pytest.raises(ConfigError, match="plasticity.ei.j_norm: must be non-zero"):
        resolve_config({"plasticity": {"ei": {"rule": "istdp", "j_norm": 0}}})
    with pytest.raises(ConfigError, match="optogenetics: need start_s < stop_s"):
        resolve_config({"optogenetics": {"enabled": True, "start_s": 5, "stop_s": 2}})


def test_existing_output_is_never_overwritten(tmp_path, capsys):
    out = tmp_path / "run.nc"
    out.write_bytes(b"precious")
    code = main(["simulate", str(EXAMPLE), "--set", "N=100", "--out", str(out)])
    assert code == 2 and "refusing to overwrite" in capsys.readouterr().err
    assert out.read_bytes() == b"precious"


def test_simulate_cli_end_to_end(tmp_path):
    out = tmp_path / "run.nc"
    proc = subprocess.run([sys.executable, "-m", "balanced_stdp.cli", "simulate", str(EXAMPLE),
                           "--set", "N=500", "--set", "duration_s=1", "--set", "seed=7",
                           "--out", str(out)], capture_output=True, text=True, timeout=HANG_GUARD_S)
    assert proc.returncode == 0, proc.stderr
    assert "t =" in proc.stderr and "Hz" in proc.stderr          # progress line
    ds = open_dataset(out)
    assert ds.attrs["complete"] == "true" and ds.attrs["status"] == "ok"
    assert ds.attrs["rule"] == "ee-kohonen+ei-istdp" and ds.attrs["seed"] == 7
    for key in ("balanced_stdp_version", "numpy_version", "numba_version", "git_revision"):
        assert ds.attrs[key]
    for name, var in ds.variables.items():
        if name not in ds.dims or name in ("time", "c"):
            assert "units" in var.attrs or name in ("rule", "seed", "population", "synapse",
                                                    "source", "pair_type", "neuron_population",
                                                    "neuron", "sample", "pair_sample"), name
    assert ds.mean_weight.attrs["units"] == "mV"
    assert ds.population_rate.attrs["units"] == "Hz"
    assert dict(ds.sizes)["rule"] == dict(ds.sizes)["c"] == dict(ds.sizes)["seed"] == 1


def test_incomplete_or_corrupt_files_are_refused(tmp_path):
    import xarray as xr
    ds = xr.Dataset({"a": ("x", np.arange(5.0))})
    good = write_dataset_atomic(ds, tmp_path / "good.nc")
    assert open_dataset(good).a.sum() == 10
    umask = os.umask(0)
    os.umask(umask)
    assert good.stat().st_mode & 0o777 == 0o666 & ~umask      # not mkstemp's 0600
    # a file written without the marker (as if killed before it) is refused
    partial = tmp_path / "partial.nc"
    ds.to_netcdf(partial)
    with pytest.raises(IncompleteDatasetError, match="incomplete or corrupt"):
        open_dataset(partial)
    # truncated file
    truncated = tmp_path / "truncated.nc"
    truncated.write_bytes(good.read_bytes()[:200])
    with pytest.raises(IncompleteDatasetError):
        open_dataset(truncated)
    with pytest.raises(FileExistsError):
        write_dataset_atomic(ds, good)
    # no temporary files left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.nc", "partial.nc",
                                                          "truncated.nc"]
    with netCDF4.Dataset(good) as handle:
        assert handle.getncattr("complete") == "true"


def test_theory_finite_size_writes_the_finite_size_dataset(tmp_path, capsys):
    config = tmp_path / "kohonen.yaml"
    config.write_text("N: 200\nduration_s: 1.0\nplasticity:\n  ee: {rule: kohonen, eta: 0.01}\n")
    out = tmp_path / "fs.nc"
    assert main(["theory", str(config), "--finite-size", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("theory (finite-size theory), rule kohonen")
    assert "rate quantiles E (Hz)" in printed
    ds = open_dataset(out, kind="theory")
    assert ds.attrs["theory_order"] == "finite_size"
    assert ds["rate_quantile"].dims[-2:] == ("population", "quantile")
    assert ds["final_weight_quantile"].attrs["units"] == "mV"
    # the leading-order variables, with the same dims and coordinates
    leading = tmp_path / "lo.nc"
    assert main(["theory", str(config), "--out", str(leading)]) == 0
    assert capsys.readouterr().out.startswith("theory (leading order)")
    lo = open_dataset(leading, kind="theory")
    for name in lo.data_vars:
        assert ds[name].dims == lo[name].dims, name


def test_theory_finite_size_refuses_from_simulation(tmp_path, capsys):
    out = tmp_path / "fs.nc"
    code = main(["theory", "--finite-size", "--from-simulation", str(tmp_path / "run.nc"),
                 "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "--finite-size and --from-simulation exclude each other" in err
    assert not out.exists()
