"""Snakemake script: combine one experiment's run files into one dataset.

Thin wrapper around :func:`balanced_stdp.aggregate.aggregate_files` (its atomic writer
removes temporaries a killed job left); output and errors go to the rule's log file.
"""

import sys

from balanced_stdp.aggregate import aggregate_files
from balanced_stdp.contract import RUN_KIND

smk = snakemake  # noqa: F821 (injected by Snakemake)

with open(smk.log[0], "w") as log:
    sys.stdout = sys.stderr = log
    experiment = smk.wildcards.experiment
    combined = aggregate_files(smk.input, smk.output[0], experiment=experiment, kind=RUN_KIND)
    print(f"combined {len(smk.input)} runs:", dict(combined.sizes))
