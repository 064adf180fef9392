"""Snakemake script: pack the study's results into one archive (balanced_stdp.archive)."""

from balanced_stdp.archive import write_archive
from balanced_stdp.job import job_log

smk = snakemake  # noqa: F821 (injected by Snakemake)

with job_log(smk.log[0]):
    manifest = write_archive(smk.output[0], list(smk.input), dict(smk.params.config),
                             overwrite=True)
    size = sum(entry["bytes"] for entry in manifest["members"].values())
    print(f"packed {len(manifest['members'])} files ({size / 1e6:.1f} MB before compression), "
          f"study fingerprint {manifest['study_fingerprint']}, data contract "
          f"{manifest['data_contract_version']}, git {manifest['git_revision']}")
