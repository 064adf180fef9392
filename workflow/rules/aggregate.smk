# One dataset per experiment: every grid point's run combined by coordinates.


rule aggregate_runs:
    input:
        get_run_files,
    output:
        results("aggregate/{experiment}.nc"),
    log:
        results("logs/aggregate/{experiment}.log"),
    conda:
        SOFTWARE_ENV
    threads: 1
    resources:
        mem_mb=aggregate_mem_mb,
        runtime=30,
    script:
        "../scripts/aggregate.py"
