"""Snakemake script: combine one experiment's run files into one dataset.

Thin wrapper around :func:`balanced_stdp.aggregate.aggregate_files` (its atomic writer
removes temporaries a killed job left); output and errors go to the rule's log file.
"""

from balanced_stdp.aggregate import aggregate_files
from balanced_stdp.contract import RUN_KIND
from balanced_stdp.job import job_log

smk = snakemake  # noqa: F821 (injected by Snakemake)

with job_log(smk.log[0]):
    experiment = smk.wildcards.experiment
    combined = aggregate_files(smk.input, smk.output[0], experiment=experiment, kind=RUN_KIND)
    print(f"combined {len(smk.input)} runs:", dict(combined.sizes))
