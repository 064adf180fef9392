# The theory of every grid point of an experiment, in one job: leading-order predictions
# from the run configs, or Δ-corrected ones from the finished runs (experiments.<name>
# .theory). Combined like the runs, with the same coordinates. The finite-size theory
# (experiments.<name>.finite_size_theory) is a second job per experiment, from the
# configs only. The theory curves the experiment's figures draw (dense in a config key,
# balanced_stdp.theory.curves) are part of its theory dataset.


rule theory:
    input:
        unpack(get_theory_inputs),
    output:
        results("aggregate/{experiment}_theory.nc"),
    log:
        results("logs/theory/{experiment}.log"),
    benchmark:
        results("benchmarks/theory/{experiment}.tsv")
    conda:
        SOFTWARE_ENV
    threads: 1
    resources:
        mem_mb=request("theory", "mem_mb"),
        runtime=request("theory", "runtime"),
    params:
        model_version=MODEL_VERSION,
        curves=get_theory_curves,
    script:
        "../scripts/theory.py"


rule theory_finite_size:
    input:
        configs=get_finite_size_theory_configs,
    output:
        results("aggregate/{experiment}_theory_finite_size.nc"),
    log:
        results("logs/theory_finite_size/{experiment}.log"),
    benchmark:
        results("benchmarks/theory_finite_size/{experiment}.tsv")
    conda:
        SOFTWARE_ENV
    threads: 1
    resources:
        mem_mb=request("theory_finite_size", "mem_mb"),
        runtime=request("theory_finite_size", "runtime"),
    params:
        model_version=MODEL_VERSION,
    script:
        "../scripts/theory_finite_size.py"
