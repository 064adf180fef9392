"""Snakemake script: draw one figure with balanced_stdp.plotting, save PDF and PNG.

The rule's ``params.figure`` names the plot; inputs ``runs`` and ``theory`` are
aggregates written by the aggregate rules. The data-aware caption of
:func:`balanced_stdp.plotting.caption_for` is stored in the files' metadata.
"""

import sys
from pathlib import Path

from balanced_stdp import plotting
from balanced_stdp.io import open_run

smk = snakemake  # noqa: F821 (injected by Snakemake)

with open(smk.log[0], "w") as log:
    sys.stdout = sys.stderr = log
    figure = smk.params.figure
    for path in map(Path, (smk.output.pdf, smk.output.png)):  # left by a killed save
        for stale in path.parent.glob(f".{path.name}.*.tmp"):
            stale.unlink()
    runs = open_run(smk.input.runs) if "runs" in smk.input.keys() else None
    theory = open_run(smk.input.theory) if "theory" in smk.input.keys() else None
    if figure == "weight_dynamics":
        fig = plotting.plot_weight_dynamics(runs, theory, smk.wildcards.synapse)
    elif figure == "balance":
        fig = plotting.plot_balance(runs, theory)
    elif figure == "rate_weight_correlation":
        fig = plotting.plot_rate_weight_correlation(runs)
    elif figure == "weight_manifold":
        fig = plotting.plot_weight_manifold(runs, theory)
    elif figure == "learning_windows":
        fig = plotting.plot_learning_windows()
    else:
        raise ValueError(f"unknown figure {figure!r}")
    caption = plotting.caption_for(figure, runs)
    plotting.save_figure(fig, smk.output.pdf, smk.output.png, caption=caption)
    print(f"wrote {smk.output.pdf} and {smk.output.png}")
