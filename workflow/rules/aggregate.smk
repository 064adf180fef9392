# One dataset per experiment: every grid point combined by coordinates.


rule aggregate_runs:
    input:
        get_run_files,
    output:
        "results/aggregate/{experiment}.nc",
    log:
        "results/logs/aggregate/{experiment}.log",
    conda:
        SOFTWARE_ENV
    threads: 1
    resources:
        mem_mb=aggregate_mem_mb,
        runtime=30,
    params:
        kind="run",
    script:
        "../scripts/aggregate.py"


rule aggregate_theory:
    input:
        get_theory_files,
    output:
        "results/aggregate/{experiment}_theory.nc",
    log:
        "results/logs/aggregate/{experiment}_theory.log",
    conda:
        SOFTWARE_ENV
    threads: 1
    resources:
        mem_mb=aggregate_mem_mb,
        runtime=30,
    params:
        kind="theory",
    script:
        "../scripts/aggregate.py"
