"""Snakemake script: the agreement table of one experiment (balanced_stdp.agreement).

Inputs ``runs``, ``theory`` and, where the experiment computes it, ``finite_size``
(otherwise the finite-size columns are NaN); outputs ``csv``, ``html`` and ``nc``.
"""

from balanced_stdp.agreement import agreement_table, write_agreement
from balanced_stdp.contract import RUN_KIND, THEORY_KIND
from balanced_stdp.io import open_dataset
from balanced_stdp.job import job_log

smk = snakemake  # noqa: F821 (injected by Snakemake)

with job_log(smk.log[0]):
    runs = open_dataset(smk.input.runs, kind=RUN_KIND)
    theory = open_dataset(smk.input.theory, kind=THEORY_KIND)
    finite_size = (open_dataset(smk.input.finite_size, kind=THEORY_KIND)
                   if "finite_size" in smk.input.keys() else None)
    table = agreement_table(runs, theory, finite_size, experiment=smk.wildcards.experiment)
    write_agreement(table, smk.output.csv, smk.output.nc, smk.output.html)
    print(f"wrote {len(table)} rows to {smk.output.csv}, {smk.output.nc}, {smk.output.html}")
