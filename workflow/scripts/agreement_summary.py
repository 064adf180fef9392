"""Snakemake script: every experiment's agreement table in one CSV
(:func:`balanced_stdp.agreement.read_tables`)."""

from balanced_stdp.agreement import read_tables, write_agreement
from balanced_stdp.job import job_log

smk = snakemake  # noqa: F821 (injected by Snakemake)

with job_log(smk.log[0]):
    table = read_tables(smk.input)
    write_agreement(table, smk.output[0])
    print(f"wrote {len(table)} rows of {len(smk.input)} experiments to {smk.output[0]}")
