# Figures as PDF and PNG in <results_dir>/figures/; the PNGs go into the HTML report. One rule
# draws every figure target of the config's `figures:` section (balanced_stdp.figures
# registry): its inputs, caption, report category and labels come from the target.


rule figure:
    input:
        unpack(get_figure_input),
    output:
        pdf=results("figures/{stem}.pdf"),
        png=report(
            results("figures/{stem}.png"),
            caption="../report/figure.rst",
            category=get_figure_category,
            labels=get_figure_labels,
        ),
    log:
        results("logs/figures/{stem}.log"),
    benchmark:
        results("benchmarks/figure/{stem}.tsv")
    conda:
        SOFTWARE_ENV
    threads: 1
    resources:
        mem_mb=request("figure", "mem_mb"),
        runtime=request("figure", "runtime"),
    params:
        target=get_figure_target,
        caption=get_figure_caption,
        # a change of the figure code (balanced_stdp.figures) redraws the figures
        figures_source=source_fingerprint("figures"),
    script:
        "../scripts/figure.py"
