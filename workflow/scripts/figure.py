"""Snakemake script: draw one figure target of balanced_stdp.figures, save PDF and PNG.

``params.target`` is the output's :class:`balanced_stdp.figures.FigureTarget` (as a
dict); its registry spec names the aggregates it needs, which are this job's inputs
``runs`` and ``theory``. The data-aware caption is stored in the files' metadata.
"""

import sys

from balanced_stdp.figures import FigureTarget, save_figure
from balanced_stdp.io import open_run

smk = snakemake  # noqa: F821 (injected by Snakemake)

with open(smk.log[0], "w") as log:
    sys.stdout = sys.stderr = log
    target = FigureTarget(**smk.params.target)
    kinds = {"runs": "run", "theory": "theory"}
    datasets = {name: open_run(getattr(smk.input, name), kind=kinds[name])
                for name in target.spec.inputs}
    caption = target.spec.caption(datasets.get("runs"))
    save_figure(target.draw(datasets), smk.output.pdf, smk.output.png, caption=caption)
    print(f"wrote {smk.output.pdf} and {smk.output.png}")
