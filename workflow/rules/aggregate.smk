# One dataset per experiment: every grid point's run combined by coordinates.


rule aggregate_runs:
    input:
        get_run_files,
    output:
        results("aggregate/{experiment}.nc"),
    log:
        results("logs/aggregate/{experiment}.log"),
    benchmark:
        results("benchmarks/aggregate_runs/{experiment}.tsv")
    conda:
        SOFTWARE_ENV
    threads: 1
    resources:
        mem_mb=request("aggregate_runs", "mem_mb"),
        runtime=request("aggregate_runs", "runtime"),
    script:
        "../scripts/aggregate.py"
