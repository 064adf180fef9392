"""Snakemake script: the theory of every grid point of one experiment, combined.

Each point gets :func:`balanced_stdp.theory.predict_point`: Δ-corrected from its run when
the rule passes ``runs``, else leading order from its config; a point whose run
diverged keeps the leading-order prediction and says why in ``theory_status``, so one
point never costs the experiment its theory. Runs are opened one at a time. The theory
curves the experiment's figures draw (``params.curves``,
:func:`balanced_stdp.theory.curves.theory_curves`) are added to the combined dataset.
"""

from balanced_stdp.aggregate import write_aggregate
from balanced_stdp.config import load_config
from balanced_stdp.contract import RUN_KIND, THEORY_KIND
from balanced_stdp.io import open_dataset
from balanced_stdp.job import job_log
from balanced_stdp.selection import run_configs
from balanced_stdp.theory import predict_point
from balanced_stdp.theory.curves import theory_curves

smk = snakemake  # noqa: F821 (injected by Snakemake)

with job_log(smk.log[0]):
    configs = list(smk.input.configs)
    runs = list(smk.input.runs) if "runs" in smk.input.keys() else [None] * len(configs)
    predictions = []
    for config_path, run_path in zip(configs, runs):
        run = open_dataset(run_path, kind=RUN_KIND) if run_path else None
        predictions.append(predict_point(load_config(config_path), run))
        status = str(predictions[-1]["theory_status"].values.ravel()[0])
        print(f"{config_path}: {status}")
    curves = list(smk.params.curves)
    combined = write_aggregate(predictions, smk.output[0], smk.wildcards.experiment,
                               THEORY_KIND, runs if runs[0] else configs,
                               extra=lambda ds: theory_curves(run_configs(ds), curves))
    print(f"combined {len(predictions)} predictions and the curves {curves or 'none'}:",
          dict(combined.sizes))
