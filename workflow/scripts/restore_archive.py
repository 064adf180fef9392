"""Snakemake script: unpack a results archive into the study's results directory
(balanced_stdp.archive.restore_archive checks the study and every checksum)."""

import sys

from balanced_stdp.archive import ArchiveRefused, restore_archive
from balanced_stdp.job import job_log

smk = snakemake  # noqa: F821 (injected by Snakemake)

with job_log(smk.log[0]):
    try:
        restored = restore_archive(smk.input[0], dict(smk.params.config), list(smk.params.files))
    except ArchiveRefused as error:
        print(f"refused: {error}")
        sys.exit(2)
    print(f"restored {len(restored)} files from {smk.input[0]}")
