# One theory job per grid point, with the same coordinates as the simulation.


rule theory:
    input:
        unpack(get_theory_input),
    output:
        "results/runs/{experiment}/{point}/theory.nc",
    log:
        "results/logs/theory/{experiment}/{point}.log",
    conda:
        SOFTWARE_ENV
    threads: 1
    resources:
        mem_mb=theory_mem_mb,
        runtime=3,
    params:
        source=get_theory_arguments,
        model_version=MODEL_VERSION,
    shell:
        "NUMBA_NUM_THREADS={threads} balanced-stdp theory {params.source} --out {output} "
        "> {log} 2>&1"
