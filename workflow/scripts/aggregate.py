"""Snakemake script: combine one experiment's run or theory files into one dataset.

Thin wrapper around :func:`balanced_stdp.aggregate.aggregate_files`; output and errors
go to the rule's log file.
"""

import sys
from pathlib import Path

from balanced_stdp.aggregate import aggregate_files

smk = snakemake  # noqa: F821 (injected by Snakemake)

with open(smk.log[0], "w") as log:
    sys.stdout = sys.stderr = log
    out = Path(smk.output[0])
    for stale in out.parent.glob(f"{out.name}.tmp-*"):  # left by a killed write
        stale.unlink()
    combined = aggregate_files(smk.input, out, experiment=smk.wildcards.experiment)
    print(f"combined {len(smk.input)} files:", dict(combined.sizes))
