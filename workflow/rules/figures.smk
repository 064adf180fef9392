# Figures as PDF and PNG in results/figures/; the PNGs go into the HTML report.


rule figure_weight_dynamics:
    input:
        runs="results/aggregate/{experiment}.nc",
        theory="results/aggregate/{experiment}_theory.nc",
    output:
        pdf="results/figures/weight_dynamics_{experiment}_{synapse}.pdf",
        png=report(
            "results/figures/weight_dynamics_{experiment}_{synapse}.png",
            caption="../report/weight_dynamics.rst",
            category="Weight dynamics",
            labels={"experiment": "{experiment}", "synapse": "{synapse}"},
        ),
    log:
        "results/logs/figures/weight_dynamics_{experiment}_{synapse}.log",
    conda:
        SOFTWARE_ENV
    threads: 1
    resources:
        mem_mb=aggregate_mem_mb,
        runtime=20,
    params:
        figure="weight_dynamics",
        caption=lambda wildcards: report_caption(
            "weight_dynamics", wildcards.experiment
        ),
    script:
        "../scripts/figure.py"


rule figure_balance:
    input:
        runs="results/aggregate/{experiment}.nc",
        theory="results/aggregate/{experiment}_theory.nc",
    output:
        pdf="results/figures/balance_{experiment}.pdf",
        png=report(
            "results/figures/balance_{experiment}.png",
            caption="../report/balance.rst",
            category="Balance",
            labels={"experiment": "{experiment}"},
        ),
    log:
        "results/logs/figures/balance_{experiment}.log",
    conda:
        SOFTWARE_ENV
    threads: 1
    resources:
        mem_mb=aggregate_mem_mb,
        runtime=20,
    params:
        figure="balance",
        caption=lambda wildcards: report_caption("balance", wildcards.experiment),
    script:
        "../scripts/figure.py"


rule figure_rate_weight_correlation:
    input:
        runs="results/aggregate/{experiment}.nc",
    output:
        pdf="results/figures/rate_weight_correlation_{experiment}.pdf",
        png=report(
            "results/figures/rate_weight_correlation_{experiment}.png",
            caption="../report/rate_weight_correlation.rst",
            category="Rate-weight correlation",
            labels={"experiment": "{experiment}"},
        ),
    log:
        "results/logs/figures/rate_weight_correlation_{experiment}.log",
    conda:
        SOFTWARE_ENV
    threads: 1
    resources:
        mem_mb=aggregate_mem_mb,
        runtime=20,
    params:
        figure="rate_weight_correlation",
        caption=lambda wildcards: report_caption(
            "rate_weight_correlation", wildcards.experiment
        ),
    script:
        "../scripts/figure.py"


rule figure_weight_manifold:
    input:
        runs="results/aggregate/{experiment}.nc",
        theory="results/aggregate/{experiment}_theory.nc",
    output:
        pdf="results/figures/weight_manifold_{experiment}.pdf",
        png=report(
            "results/figures/weight_manifold_{experiment}.png",
            caption="../report/weight_manifold.rst",
            category="Weight manifold",
            labels={"experiment": "{experiment}"},
        ),
    log:
        "results/logs/figures/weight_manifold_{experiment}.log",
    conda:
        SOFTWARE_ENV
    threads: 1
    resources:
        mem_mb=aggregate_mem_mb,
        runtime=20,
    params:
        figure="weight_manifold",
        caption=lambda wildcards: report_caption(
            "weight_manifold", wildcards.experiment
        ),
    script:
        "../scripts/figure.py"


rule figure_learning_windows:
    output:
        pdf="results/figures/learning_windows.pdf",
        png=report(
            "results/figures/learning_windows.png",
            caption="../report/learning_windows.rst",
            category="Learning windows",
            labels={"figure": "learning windows"},
        ),
    log:
        "results/logs/figures/learning_windows.log",
    conda:
        SOFTWARE_ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        figure="learning_windows",
        caption=lambda wildcards: report_caption("learning_windows"),
    script:
        "../scripts/figure.py"
