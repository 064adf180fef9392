# One simulation job per grid point, after numba's cache has been warmed once.


rule compile_numba:
    # Compiles the kernel into NUMBA_CACHE_DIR before the fan-out, so parallel jobs
    # load it instead of each compiling it (tens of seconds each on 2 cores).
    output:
        results("numba/compiled.txt"),
    log:
        results("logs/compile_numba.log"),
    conda:
        SOFTWARE_ENV
    threads: 1
    resources:
        mem_mb=request("compile_numba", "mem_mb"),
        runtime=request("compile_numba", "runtime"),
    params:
        sources=source_fingerprint(),
    shell:
        "(balanced-stdp compile && echo 'numba cache warmed for sources {params.sources}' "
        "> {output}) > {log} 2>&1"


rule run_config:
    # The complete, resolved run config of one grid point (YAML); `balanced-stdp
    # simulate` on it reproduces the run by hand. A shell job: no interpreter start-up
    # (a `run:` block would start a Snakemake process per grid point).
    output:
        results("runs/{experiment}/{point}/config.yaml"),
    log:
        results("logs/run_config/{experiment}/{point}.log"),
    localrule: True
    conda:
        SOFTWARE_ENV
    params:
        text=get_run_config_yaml,
    shell:
        "printf '%s' {params.text:q} > {output} 2> {log}"


rule simulate:
    input:
        config=results("runs/{experiment}/{point}/config.yaml"),
        # ancient: a recompiled cache must not rerun finished simulations
        compiled=ancient(results("numba/compiled.txt")),
    output:
        results("runs/{experiment}/{point}/run.nc"),
    log:
        results("logs/simulate/{experiment}/{point}.log"),
    benchmark:
        results("benchmarks/simulate/{experiment}/{point}.tsv")
    conda:
        SOFTWARE_ENV
    # one core per job unless an experiment sets the run-config key `threads`
    threads: get_simulate_threads
    resources:
        mem_mb=request("simulate", "mem_mb"),
        runtime=request("simulate", "runtime"),
    params:
        model_version=MODEL_VERSION,
    shell:
        "NUMBA_NUM_THREADS={threads} balanced-stdp simulate {input.config} --out {output} "
        "> {log} 2>&1"
