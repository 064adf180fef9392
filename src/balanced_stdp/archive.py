"""The results archive: a study's results packed once, restored anywhere to redraw its figures.

A study's simulations cost minutes (the default study) to tens of CPU-hours (the paper
study); its figures, agreement tables and report need only what the runs were reduced
to. :func:`write_archive` packs exactly that — every experiment's aggregate, theory and
finite-size theory dataset, the agreement tables and their summary — with the study's
workflow config and a manifest (provenance and a SHA-256 checksum per member) into one
gzip-compressed tar file. :func:`restore_archive` checks it against the study it is
restored for and unpacks it into that study's results directory, where the workflow's
figure rules find their inputs (``snakemake --cores 2 --config archive=PATH``).

An archive is refused, with one line naming the reason (:class:`ArchiveRefused`), when it
is not a results archive, was written for another study (the experiments and defaults
that determine the data differ), by an incompatible data-contract version, or when a
member is missing or fails its checksum. Restoring never overwrites a file that differs
from the archived one.
"""

from __future__ import annotations

import copy
import hashlib
import io as bytes_io
import json
import tarfile
import time
from pathlib import Path

import yaml

from . import MODEL_VERSION, __version__
from .contract import DATA_CONTRACT_VERSION, git_revision
from .io import write_atomic

ARCHIVE_FORMAT = "balanced-stdp results archive"
ARCHIVE_FORMAT_VERSION = 1
MANIFEST = "manifest.json"
STUDY_CONFIG = "study_config.yaml"
MEMBERS_DIR = "results"
"""Members are stored under this prefix, by their path inside the results directory."""

STUDY_KEYS = ("defaults", "experiments")
"""Workflow-config sections that determine the archived data (figures may differ)."""


class ArchiveRefused(ValueError):
    """The archive cannot be used for this study; the message says why, in one line."""


def study_fingerprint(config: dict) -> str:
    """SHA-256 (hex, 16 characters) of what determines a study's data: the workflow
    config's ``defaults`` and ``experiments`` (schema defaults filled in) and the model
    version. The figures section, results directory and resources do not count."""
    data = {key: config.get(key, {}) for key in STUDY_KEYS}
    data["model_version"] = MODEL_VERSION
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def member_name(path: str, results_dir: str) -> str:
    """A results file's name in the archive (its path inside the results directory)."""
    relative = Path(path).relative_to(results_dir)
    return f"{MEMBERS_DIR}/{relative.as_posix()}"


def write_archive(out: str | Path, files: list[str], config: dict,
                  overwrite: bool = False) -> dict:
    """Pack a study's results files into one ``.tar.gz`` with its manifest.

    Parameters
    ----------
    out : str or Path
        The archive to write (atomically; an existing one is kept unless ``overwrite``).
    files : list of str
        The results files (paths below ``config["results_dir"]``): aggregates, theory
        datasets, agreement tables.
    config : dict
        The study's validated workflow config.

    Returns
    -------
    dict
        The manifest.
    """
    results_dir = config["results_dir"]
    members = {member_name(f, results_dir): {"sha256": _sha256(Path(f)),
                                             "bytes": Path(f).stat().st_size}
               for f in sorted(files)}
    manifest = {
        "format": ARCHIVE_FORMAT, "format_version": ARCHIVE_FORMAT_VERSION,
        "data_contract_version": DATA_CONTRACT_VERSION, "model_version": MODEL_VERSION,
        "balanced_stdp_version": __version__, "git_revision": git_revision(),
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "study_fingerprint": study_fingerprint(config), "results_dir": results_dir,
        "members": members,
    }
    study_yaml = yaml.safe_dump({k: v for k, v in config.items() if k != "archive"},
                                sort_keys=False)

    def write(tmp: Path) -> None:
        with tarfile.open(tmp, "w:gz") as tar:
            _add_bytes(tar, MANIFEST, json.dumps(manifest, indent=1).encode())
            _add_bytes(tar, STUDY_CONFIG, study_yaml.encode())
            for path in sorted(files):
                tar.add(path, arcname=member_name(path, results_dir), recursive=False)

    write_atomic(out, write, overwrite=overwrite)
    return manifest


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(time.time())
    tar.addfile(info, bytes_io.BytesIO(data))


def read_manifest(archive: str | Path) -> dict:
    """The manifest of an archive, or :class:`ArchiveRefused` if it has none."""
    archive = Path(archive)
    if not archive.is_file():
        raise ArchiveRefused(f"{archive}: no such archive file")
    try:
        with tarfile.open(archive, "r:gz") as tar:
            handle = tar.extractfile(MANIFEST)
            manifest = json.loads(handle.read()) if handle is not None else None
    except (tarfile.TarError, KeyError, OSError, EOFError, json.JSONDecodeError):
        manifest = None
    if not isinstance(manifest, dict) or manifest.get("format") != ARCHIVE_FORMAT:
        raise ArchiveRefused(f"{archive}: not a balanced-stdp results archive (no readable "
                             f"{MANIFEST})")
    return manifest


def check_format(archive: str | Path, manifest: dict) -> None:
    """Refuse an archive this software cannot read (format or data-contract version)."""
    if manifest.get("format_version") != ARCHIVE_FORMAT_VERSION:
        raise ArchiveRefused(f"{archive}: archive format version "
                             f"{manifest.get('format_version')}, this software reads "
                             f"{ARCHIVE_FORMAT_VERSION}")
    if manifest.get("data_contract_version") != DATA_CONTRACT_VERSION:
        raise ArchiveRefused(
            f"{archive}: written with data-contract version "
            f"{manifest.get('data_contract_version')} (balanced-stdp "
            f"{manifest.get('balanced_stdp_version')}), this software reads version "
            f"{DATA_CONTRACT_VERSION}; recompute the study or use the matching version")


def check_manifest(archive: str | Path, manifest: dict, config: dict,
                   expected: list[str]) -> None:
    """Refuse an archive that does not belong to this study or this software.

    ``expected`` are the results files the study's figures and tables need.
    """
    check_format(archive, manifest)
    fingerprint = study_fingerprint(config)
    if manifest.get("study_fingerprint") != fingerprint:
        raise ArchiveRefused(
            f"{archive}: archive of another study (study fingerprint "
            f"{manifest.get('study_fingerprint')}, this config's experiments and defaults "
            f"give {fingerprint}); restore it with the config it was made from")
    members = manifest.get("members", {})
    missing = [f for f in expected if member_name(f, config["results_dir"]) not in members]
    if missing:
        raise ArchiveRefused(f"{archive}: {len(missing)} file(s) this study needs are not in "
                             f"the archive, e.g. {missing[0]}")


def restore_archive(archive: str | Path, config: dict, expected: list[str]) -> list[Path]:
    """Check ``archive`` against the study and unpack the files it needs.

    Parameters
    ----------
    archive : str or Path
    config : dict
        The study's validated workflow config (its ``results_dir`` receives the files).
    expected : list of str
        The results files to restore (paths below ``results_dir``).

    Returns
    -------
    list of Path
        The restored files.

    Raises
    ------
    ArchiveRefused
        Not an archive, another study, an incompatible data-contract version, a missing
        member, a member that fails its checksum, or an existing file that differs.
    """
    manifest = read_manifest(archive)
    check_manifest(archive, manifest, config, expected)
    results_dir = config["results_dir"]
    names = {path: member_name(path, results_dir) for path in expected}
    with tarfile.open(archive, "r:gz") as tar:
        # every checksum first, so a damaged archive leaves nothing half-restored
        for path, name in names.items():
            _check_member(archive, tar, name, manifest["members"][name]["sha256"])
            target = Path(path)
            if target.exists() and _sha256(target) != manifest["members"][name]["sha256"]:
                raise ArchiveRefused(f"{target} exists and differs from the archived file; "
                                     "move it away to restore")
        restored = []
        for path, name in names.items():
            target = Path(path)
            if not target.exists():
                write_atomic(target, lambda tmp, name=name: _extract_to(tar, name, tmp))
            restored.append(target)
    return restored


def _check_member(archive, tar: tarfile.TarFile, name: str, sha256: str) -> None:
    """Refuse a member that is missing or whose content fails its checksum."""
    try:
        handle = tar.extractfile(name)
    except KeyError:
        handle = None
    if handle is None:
        raise ArchiveRefused(f"{archive}: member {name} is missing")
    digest = hashlib.sha256()
    for block in iter(lambda: handle.read(1 << 20), b""):
        digest.update(block)
    if digest.hexdigest() != sha256:
        raise ArchiveRefused(f"{archive}: member {name} fails its SHA-256 checksum "
                             "(damaged archive)")


def _extract_to(tar: tarfile.TarFile, name: str, path: Path) -> None:
    with tar.extractfile(name) as source, open(path, "wb") as target:
        for block in iter(lambda: source.read(1 << 20), b""):
            target.write(block)


def verify_archive(archive: str | Path, config: dict | None = None,
                   expected: list[str] | None = None) -> dict:
    """Check every member's checksum (and, with ``config``, that it fits the study)
    without unpacking anything; return the manifest."""
    manifest = read_manifest(archive)
    if config is not None:
        check_manifest(archive, manifest, config, expected or [])
    with tarfile.open(archive, "r:gz") as tar:
        for name, entry in manifest.get("members", {}).items():
            _check_member(archive, tar, name, entry["sha256"])
    return manifest


def archived_config(archive: str | Path) -> dict:
    """The workflow config an archive was written with."""
    read_manifest(archive)
    with tarfile.open(archive, "r:gz") as tar:
        return yaml.safe_load(tar.extractfile(STUDY_CONFIG).read())


def without_archive_key(config: dict) -> dict:
    """A copy of the workflow config without the ``archive`` key (restore mode)."""
    out = copy.deepcopy(config)
    out.pop("archive", None)
    return out
