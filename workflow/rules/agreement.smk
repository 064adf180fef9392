# Agreement of simulation and theory, per experiment (balanced_stdp.agreement): one row per
# grid point and quantity (final mean weights, rates, count covariances, relaxation
# times) with the simulated mean ± s.d. over seeds, the theory, the finite-size theory and
# their relative differences; CSV and HTML (in the report), netCDF; and one CSV of all.


rule agreement:
    input:
        unpack(get_agreement_inputs),
    output:
        csv=report(
            results("aggregate/{experiment}_agreement.csv"),
            caption="../report/agreement.rst",
            category="Agreement",
            labels=get_agreement_labels,
        ),
        html=report(
            results("aggregate/{experiment}_agreement.html"),
            caption="../report/agreement.rst",
            category="Agreement",
            labels=get_agreement_labels,
        ),
        nc=results("aggregate/{experiment}_agreement.nc"),
    log:
        results("logs/agreement/{experiment}.log"),
    benchmark:
        results("benchmarks/agreement/{experiment}.tsv")
    conda:
        SOFTWARE_ENV
    threads: 1
    resources:
        mem_mb=request("agreement", "mem_mb"),
        runtime=request("agreement", "runtime"),
    script:
        "../scripts/agreement.py"


rule agreement_summary:
    input:
        expand(results("aggregate/{experiment}_agreement.csv"), experiment=list(GRIDS)),
    output:
        report(
            results("aggregate/agreement_summary.csv"),
            caption="../report/agreement_summary.rst",
            category="Agreement",
            labels={"experiment": "all (summary)"},
        ),
    log:
        results("logs/agreement/summary.log"),
    conda:
        SOFTWARE_ENV
    threads: 1
    resources:
        mem_mb=request("agreement_summary", "mem_mb"),
        runtime=request("agreement_summary", "runtime"),
    script:
        "../scripts/agreement_summary.py"
