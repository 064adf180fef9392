"""Output and input files: an output that cannot be written is refused before anything is
computed, stale temporaries of killed writers are removed, every variable carries a
checksum, and corrupt, incomplete or unsuitable files are refused with one line naming
the file; aggregated integer variables keep their padding missing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import netCDF4
import numpy as np
import pytest
import xarray as xr

from balanced_stdp.io import IncompleteDatasetError, is_complete, open_dataset, write_dataset_atomic
from balanced_stdp.simulation import simulate
from conftest import EXAMPLE, KOHONEN_THEORY, one_line_error, run_cli


# ----------------------------------------------------------------------------- 3. output path
def _unwritable_paths(tmp_path: Path) -> dict[str, Path]:
    a_file = tmp_path / "a_file"
    a_file.write_text("not a directory")
    a_directory = tmp_path / "a_directory"
    a_directory.mkdir()
    return {"parent is a file": a_file / "run.nc",
            "name too long": tmp_path / ("x" * 300 + ".nc"),
            "is a directory": a_directory,
            "read-only filesystem": Path("/proc/balanced-stdp-test/run.nc")}


@pytest.mark.parametrize("case", ["parent is a file", "name too long", "is a directory",
                                  "read-only filesystem"])
def test_unwritable_output_refused_before_simulating(tmp_path, capsys, no_simulation, case):
    out = _unwritable_paths(tmp_path)[case]
    code, _, err = run_cli(capsys, "simulate", EXAMPLE, "--set", "N=100", "--out", out,
                           "--overwrite")
    line = one_line_error(err)
    assert code == 2 and str(out) in line
    assert "is a directory" in line if case == "is a directory" else "cannot write" in line


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_output_in_a_read_only_directory_refused_before_simulating(tmp_path, capsys,
                                                                   no_simulation):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    code, _, err = run_cli(capsys, "simulate", EXAMPLE, "--out", locked / "run.nc")
    assert code == 2 and str(locked / "run.nc") in one_line_error(err)


def test_theory_refuses_an_unwritable_output_before_computing(tmp_path, capsys, monkeypatch):
    import balanced_stdp.theory as theory

    monkeypatch.setattr(theory, "predict", lambda *a, **k: pytest.fail("theory computed"))
    out = _unwritable_paths(tmp_path)["parent is a file"]
    code, _, err = run_cli(capsys, "theory", EXAMPLE, "--out", out)
    assert code == 2 and str(out) in one_line_error(err)


def dead_pid() -> int:
    """A process id that belongs to no running process (a finished child's)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_stale_temporary_beside_the_output_is_removed_when_it_is_written(tmp_path, capsys):
    out = tmp_path / "theory.nc"
    stale = tmp_path / f".theory.nc.tmp-{dead_pid()}-0bad"       # left by a killed job
    stale.write_bytes(b"half a file")
    alive = tmp_path / f".theory.nc.tmp-{os.getpid()}-0a1e"      # a running writer's: kept
    alive.write_bytes(b"being written")
    code, _, _ = run_cli(capsys, "theory", EXAMPLE, *KOHONEN_THEORY, "--out", out)
    assert code == 0 and open_dataset(out, kind="theory")
    assert not stale.exists() and alive.exists()


# ----------------------------------------------------------------------------- 4. corruption
def _flip(path: Path, start: int, length: int = 2000) -> None:
    data = bytearray(path.read_bytes())
    for i in range(start, start + length):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def test_a_flipped_block_fails_the_checksum_on_read(tmp_path):
    # An uncompressed variable (≤ 1000 values) in a run-like dataset: without a checksum
    # its damaged bytes read back as plausible wrong numbers.
    rng = np.random.default_rng(4)
    rate = rng.random((1, 1000))
    ds = xr.Dataset({"neuron_rate": (("seed", "neuron"), rate),
                     "mean_weight": (("seed", "time"), rng.random((1, 5)))},
                    coords={"seed": [1]}, attrs={"kind": "run"})
    path = write_dataset_atomic(ds, tmp_path / "run.nc")
    offset = path.read_bytes().find(rate.tobytes())
    assert offset > 0
    _flip(path, offset + 3000)                  # 2000 bytes inside the data, mid-file
    assert is_complete(path)                    # the marker is intact
    with pytest.raises(IncompleteDatasetError, match=r"run\.nc: corrupt netCDF.*checksum"):
        open_dataset(path)


def test_every_variable_of_a_run_carries_a_checksum(finished_run):
    with netCDF4.Dataset(finished_run) as handle:
        unprotected = [name for name, var in handle.variables.items()
                       if not var.filters()["fletcher32"]]
    assert unprotected == []


def test_every_variable_of_a_theory_dataset_carries_a_checksum(tmp_path, capsys):
    out = tmp_path / "theory.nc"
    assert run_cli(capsys, "theory", EXAMPLE, *KOHONEN_THEORY, "--out", out)[0] == 0
    with netCDF4.Dataset(out) as handle:
        assert "stability" in handle.variables           # a string variable
        unprotected = [name for name, var in handle.variables.items()
                       if not var.filters()["fletcher32"]]
    assert unprotected == []


def test_a_damaged_real_run_is_refused(finished_run, tmp_path):
    # Flip 2000 bytes of stored content: neuron_mean_input is stored uncompressed, so
    # only the checksum can notice. (Bytes in the file's unused space carry nothing: a
    # flip there reads back the same data and is rightly not an error.)
    damaged = tmp_path / "run.nc"
    damaged.write_bytes(finished_run.read_bytes())
    stored = open_dataset(finished_run)["neuron_mean_input"].values.tobytes()
    offset = damaged.read_bytes().find(stored)
    assert offset > 0 and len(stored) > 2000
    _flip(damaged, offset + (len(stored) - 2000) // 2)
    assert is_complete(damaged)
    with pytest.raises(IncompleteDatasetError, match=r"run\.nc: corrupt netCDF"):
        open_dataset(damaged)


def test_open_dataset_checks_kind_and_required_variables(tmp_path):
    data = {"mean_weight": (("seed", "time"), np.ones((1, 3)))}
    run = write_dataset_atomic(xr.Dataset(data, attrs={"kind": "run"}), tmp_path / "run.nc")
    legacy = write_dataset_atomic(xr.Dataset(data, attrs={
        "title": "balanced-stdp mean-field theory prediction"}), tmp_path / "legacy.nc")
    assert open_dataset(run, kind="run", require=("mean_weight",)).mean_weight.sum() == 3
    assert open_dataset(legacy, kind="theory")
    with pytest.raises(IncompleteDatasetError, match=r"legacy\.nc: expected a run dataset, found "
                                                 r"theory \(kind = None, title = 'balanced-stdp "
                                                 r"mean-field theory prediction'\)"):
        open_dataset(legacy, kind="run")
    with pytest.raises(IncompleteDatasetError, match=r"run\.nc: lacks the variable\(s\) "
                                                 r"neuron_rate that are needed here; data "
                                                 r"variables found: mean_weight"):
        open_dataset(run, require=("mean_weight", "neuron_rate"))


def test_theory_from_a_run_without_mean_weight_is_refused(finished_run, tmp_path, capsys):
    stripped = tmp_path / "stripped.nc"
    write_dataset_atomic(open_dataset(finished_run).drop_vars("mean_weight"), stripped)
    code, _, err = run_cli(capsys, "theory", "--from-simulation", stripped,
                           "--out", tmp_path / "theory.nc")
    line = one_line_error(err)
    assert code == 2 and str(stripped) in line and "mean_weight" in line
    assert not (tmp_path / "theory.nc").exists()


def test_theory_from_a_theory_file_is_refused(tmp_path, capsys):
    theory_file = tmp_path / "theory.nc"
    assert run_cli(capsys, "theory", EXAMPLE, *KOHONEN_THEORY, "--out", theory_file)[0] == 0
    code, _, err = run_cli(capsys, "theory", "--from-simulation", theory_file,
                           "--out", tmp_path / "again.nc")
    assert code == 2 and "expected a run dataset, found theory" in one_line_error(err)


def test_theory_from_simulation_works_on_a_finished_run(finished_run, tmp_path, capsys):
    code, out, _ = run_cli(capsys, "theory", "--from-simulation", finished_run,
                           "--out", tmp_path / "theory.nc")
    assert code == 0 and "Delta-corrected" in out
    assert "leading_order_fixed_point_weight" in open_dataset(tmp_path / "theory.nc")



def test_aggregated_rasters_keep_padding_missing(tmp_path):
    """Issue defect 2: runs with rasters of different lengths are outer-joined; the padding
    of the integer raster_neuron must read back as missing, never as -2147483648."""
    from balanced_stdp.aggregate import aggregate_files
    paths = []
    for seed in (1, 2):
        ds = simulate({"N": 200, "duration_s": 1.0, "seed": seed,
                       "recording": {"raster_duration_s": 0.5, "covariance_window_s": 0.1}},
                      progress=False)
        paths.append(write_dataset_atomic(ds, tmp_path / f"run{seed}.nc"))
    lengths = [open_dataset(p).sizes["raster_spike"] for p in paths]
    assert lengths[0] != lengths[1]
    aggregate_files(paths, tmp_path / "aggregate.nc", kind="run")
    combined = open_dataset(tmp_path / "aggregate.nc")
    neurons = combined["raster_neuron"].values
    assert not (neurons == np.iinfo(np.int32).min).any()
    assert int(np.isnan(neurons).sum()) == abs(lengths[0] - lengths[1])
    for seed, path, length in zip((1, 2), paths, lengths):
        single = open_dataset(path)["raster_neuron"].values.ravel()
        joined = combined["raster_neuron"].sel(seed=seed).values.ravel()
        np.testing.assert_array_equal(joined[:length], single)
