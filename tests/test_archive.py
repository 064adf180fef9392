"""The results archive: pack a study's results once, restore them, redraw the figures.

Unit tests build small results trees by hand; the workflow tests archive the complete
test study (``local_study``), restore it into an empty working directory with
``--config archive=PATH`` and check that the figures come back without a simulation, from
byte-identical aggregates, and that every kind of bad archive is refused with one line.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from matplotlib import image

from balanced_stdp.archive import (DATA_CONTRACT_VERSION, MANIFEST, ArchiveRefused,
                                   read_manifest, restore_archive, study_fingerprint,
                                   verify_archive, write_archive)
from balanced_stdp.cli import main
from conftest import job_counts, load_test_config, run_snakemake

RESULTS = load_test_config()["results_dir"]
STUDY = {"results_dir": "results",
         "defaults": {"N": 200},
         "experiments": {"kohonen": {"grid": {"c": [0.0]}}},
         "figures": {}}
FILES = ["results/aggregate/kohonen.nc", "results/aggregate/kohonen_theory.nc",
         "results/aggregate/kohonen_agreement.csv", "results/aggregate/agreement_summary.csv"]


@pytest.fixture
def results_tree(tmp_path, monkeypatch):
    """A working directory with four small results files; returns their contents."""
    monkeypatch.chdir(tmp_path)
    contents = {}
    for i, name in enumerate(FILES):
        Path(name).parent.mkdir(parents=True, exist_ok=True)
        contents[name] = bytes([i]) * (1000 + i) + name.encode()
        Path(name).write_bytes(contents[name])
    return contents


def rewrite(archive: Path, out: Path, manifest_update=None, drop=None, damage=None) -> Path:
    """A copy of ``archive`` with its manifest updated, a member dropped or damaged."""
    with tarfile.open(archive, "r:gz") as src, tarfile.open(out, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()
            if member.name == MANIFEST and manifest_update:
                manifest = json.loads(data)
                manifest.update(manifest_update)
                data = json.dumps(manifest).encode()
            if member.name == drop:
                continue
            if member.name == damage:
                data = bytes([data[0] ^ 0xFF]) + data[1:]
            member.size = len(data)
            dst.addfile(member, io.BytesIO(data))
    return out


def test_round_trip_restores_identical_files(results_tree, tmp_path):
    manifest = write_archive("out/results.tar.gz", FILES, STUDY)
    assert manifest["data_contract_version"] == DATA_CONTRACT_VERSION
    assert manifest["study_fingerprint"] == study_fingerprint(STUDY)
    assert set(manifest["members"]) == {f.replace("results/", "results/", 1) for f in FILES}
    for name, data in results_tree.items():
        assert manifest["members"][name]["sha256"] == hashlib.sha256(data).hexdigest()
    shutil.rmtree("results")
    restored = restore_archive("out/results.tar.gz", STUDY, FILES)
    assert sorted(map(str, restored)) == sorted(FILES)
    for name, data in results_tree.items():
        assert Path(name).read_bytes() == data
    assert not list(Path("results").rglob("*.tmp*"))          # atomic writes, no leftovers
    # restoring again over identical files changes nothing; a differing file is kept
    restore_archive("out/results.tar.gz", STUDY, FILES)
    Path(FILES[0]).write_bytes(b"my own newer result")
    with pytest.raises(ArchiveRefused, match="exists and differs"):
        restore_archive("out/results.tar.gz", STUDY, FILES)
    assert Path(FILES[0]).read_bytes() == b"my own newer result"


def test_the_study_fingerprint_ignores_figures_and_paths_not_data():
    other_figures = {**STUDY, "figures": {"fig01": {}}, "results_dir": "elsewhere"}
    assert study_fingerprint(other_figures) == study_fingerprint(STUDY)
    other_data = copy.deepcopy(STUDY)
    other_data["experiments"]["kohonen"]["grid"]["c"] = [0.0, 0.1]
    assert study_fingerprint(other_data) != study_fingerprint(STUDY)


@pytest.mark.parametrize("case, expect", [
    ("damaged", "fails its SHA-256 checksum"),
    ("missing", "member results/aggregate/kohonen_theory.nc is missing"),
    ("contract", "written with data-contract version 0"),
    ("study", "archive of another study"),
    ("not-an-archive", "not a balanced-stdp results archive"),
])
def test_bad_archives_are_refused_with_one_line_and_nothing_written(results_tree, tmp_path,
                                                                     case, expect, capsys):
    good = Path("good.tar.gz")
    write_archive(good, FILES, STUDY)
    shutil.rmtree("results")
    bad = Path("bad.tar.gz")
    study = STUDY
    if case == "damaged":
        rewrite(good, bad, damage="results/aggregate/kohonen_theory.nc")
    elif case == "missing":
        rewrite(good, bad, drop="results/aggregate/kohonen_theory.nc")
    elif case == "contract":
        rewrite(good, bad, manifest_update={"data_contract_version": "0"})
    elif case == "study":
        shutil.copy(good, bad)
        study = copy.deepcopy(STUDY)
        study["defaults"]["N"] = 400
    else:
        bad.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(ArchiveRefused, match=expect) as refused:
        restore_archive(bad, study, FILES)
    assert "\n" not in str(refused.value)
    assert not Path("results").exists() or not any(Path("results").rglob("*.nc"))
    if case != "study":            # the command line checks format, contract and checksums
        code = main(["archive-verify", str(bad)])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and expect in err[0]
    else:
        assert main(["archive-verify", str(bad)]) == 0


# ----------------------------------------------------------------------------- workflow
def png_difference(a: Path, b: Path) -> tuple[float, float]:
    """(fraction of pixels that differ, largest difference) of two PNGs of one size."""
    first, second = image.imread(a), image.imread(b)
    assert first.shape == second.shape, (a, first.shape, second.shape)
    diff = np.abs(first.astype(float) - second.astype(float)).max(axis=-1)
    return float(np.mean(diff > 0)), float(diff.max())


@pytest.fixture(scope="module")
def archived_study(local_study, workflow_env) -> Path:
    """The test study's archive, written by the workflow's ``archive`` target."""
    run_snakemake(local_study, "--cores", "1", "archive", env=workflow_env)
    archive = local_study / RESULTS / "archive" / "results.tar.gz"
    assert archive.is_file()
    return archive


def test_restored_archive_redraws_every_figure_without_a_simulation(
        archived_study, local_study, workflow_env, tmp_path):
    """Restore into an empty directory: one restore job, then the figure jobs; the
    aggregates are byte-identical to the study's, no run exists, every figure equals the
    study's own (up to 1/255 anti-aliasing noise in < 0.5 % of pixels: two renders of one
    figure already differ that much), and nothing reruns afterwards."""
    workdir = tmp_path / "restored"
    workdir.mkdir()
    archive = shutil.copy(archived_study, tmp_path / "results.tar.gz")
    out = run_snakemake(workdir, "--cores", "2", "--config", f"archive={archive}",
                        env=workflow_env)
    assert "restore_archive" in out.stdout + out.stderr
    assert not (workdir / RESULTS / "runs").exists()
    manifest = read_manifest(archive)
    assert manifest["results_dir"] == RESULTS
    for name in manifest["members"]:
        relative = Path(RESULTS) / Path(name).relative_to("results")
        assert (workdir / relative).read_bytes() == (local_study / relative).read_bytes()
    figures = sorted((local_study / RESULTS / "figures").glob("*.png"))
    assert figures
    for original in figures:
        redrawn = workdir / RESULTS / "figures" / original.name
        fraction, largest = png_difference(original, redrawn)
        assert fraction < 0.005 and largest <= 1.5 / 255, (original.name, fraction, largest)
    # up to date: nothing to do; a figure-code change (forced here) redraws figures only
    dry = run_snakemake(workdir, "-n", "--cores", "2", "--config", f"archive={archive}",
                        env=workflow_env)
    assert "Nothing to be done" in dry.stdout + dry.stderr
    forced = run_snakemake(workdir, "-n", "--cores", "2", "--config", f"archive={archive}",
                           "--forcerun", "figure", env=workflow_env)
    assert set(job_counts(forced.stdout)) == {"figure", "all"}, forced.stdout[-2000:]


def test_workflow_refuses_an_archive_of_another_study(archived_study, workflow_env, tmp_path):
    workdir = tmp_path / "other"
    workdir.mkdir()
    cfg = load_test_config()
    first = next(iter(cfg["experiments"]))
    cfg["experiments"][first]["grid"]["seed"] = [101]
    configfile = tmp_path / "other.yaml"
    configfile.write_text(yaml.safe_dump(cfg, sort_keys=False))
    result = run_snakemake(workdir, "-n", "--cores", "1", "--config",
                           f"archive={archived_study}", env=workflow_env, check=False,
                           configfile=configfile)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Invalid results archive:" in output and "archive of another study" in output
    assert "Traceback" not in output


def test_workflow_refuses_a_damaged_member_when_restoring(archived_study, workflow_env,
                                                          tmp_path):
    workdir = tmp_path / "damaged"
    workdir.mkdir()
    member = next(name for name in read_manifest(archived_study)["members"]
                  if name.endswith("_theory.nc"))
    bad = rewrite(archived_study, tmp_path / "bad.tar.gz", damage=member)
    with pytest.raises(ArchiveRefused, match="checksum"):
        verify_archive(bad)
    result = run_snakemake(workdir, "--cores", "1", "--config", f"archive={bad}",
                           env=workflow_env, check=False)
    assert result.returncode != 0
    log = (workdir / RESULTS / "logs" / "archive" / "restore.log").read_text()
    assert "fails its SHA-256 checksum" in log and len(log.strip().splitlines()) == 1
    assert not any((workdir / RESULTS).rglob("*.nc"))       # nothing half-restored
