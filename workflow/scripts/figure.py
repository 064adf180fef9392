"""Snakemake script: draw one figure target of balanced_stdp.figures, save PDF and PNG.

``params.target`` is the output's :class:`balanced_stdp.figures.FigureTarget` (as a
dict); its inputs (``runs``/``theory``/``finite_size``, or ``<role>_runs`` etc. for a
figure combining experiments) are this job's inputs of the same names (``finite_size``
only where the experiment computes it). The data-aware
caption is stored in the files' metadata.
"""

from balanced_stdp.contract import RUN_KIND, THEORY_KIND
from balanced_stdp.figures import FigureTarget, save_figure
from balanced_stdp.io import open_dataset
from balanced_stdp.job import job_log

smk = snakemake  # noqa: F821 (injected by Snakemake)
KINDS = {"runs": RUN_KIND, "theory": THEORY_KIND, "finite_size": THEORY_KIND}

with job_log(smk.log[0]):
    target = FigureTarget(**smk.params.target)
    # the finite-size theory is an input only where the experiment computes it
    datasets = {name: open_dataset(getattr(smk.input, name), kind=KINDS[kind])
                for name, (_, kind) in target.inputs().items() if name in smk.input.keys()}
    first_runs = next((ds for name, ds in datasets.items() if name.endswith("runs")), None)
    caption = target.spec.caption_text(first_runs)
    save_figure(target.draw(datasets), smk.output.pdf, smk.output.png, caption=caption)
    print(f"wrote {smk.output.pdf} and {smk.output.png}")
