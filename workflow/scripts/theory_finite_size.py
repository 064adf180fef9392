"""Snakemake script: the finite-size theory of every grid point of one experiment, combined.

Each point gets :func:`balanced_stdp.theory.finite_size_prediction.predict_finite_size_point`
from its run config alone (never fitted to the run), computed once for all seeds of a
point; a point the theory does not cover keeps the leading-order values and says why in
``theory_status``.
"""

from balanced_stdp.aggregate import write_aggregate
from balanced_stdp.config import load_config
from balanced_stdp.contract import THEORY_KIND
from balanced_stdp.job import job_log
from balanced_stdp.theory.finite_size_prediction import predict_finite_size_points

smk = snakemake  # noqa: F821 (injected by Snakemake)

with job_log(smk.log[0]):
    configs = list(smk.input.configs)
    predictions = predict_finite_size_points(load_config(path) for path in configs)
    for config_path, prediction in zip(configs, predictions):
        print(f"{config_path}: {prediction['theory_status'].values.ravel()[0]}")
    combined = write_aggregate(predictions, smk.output[0], smk.wildcards.experiment,
                               THEORY_KIND, configs)
    print(f"combined {len(predictions)} finite-size predictions:", dict(combined.sizes))
