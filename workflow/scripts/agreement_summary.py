"""Snakemake script: every experiment's agreement table in one CSV
(:func:`balanced_stdp.agreement.read_tables`)."""

import sys

from balanced_stdp.agreement import read_tables, write_agreement

smk = snakemake  # noqa: F821 (injected by Snakemake)

with open(smk.log[0], "w") as log:
    sys.stdout = sys.stderr = log
    table = read_tables(smk.input)
    write_agreement(table, smk.output[0])
    print(f"wrote {len(table)} rows of {len(smk.input)} experiments to {smk.output[0]}")
