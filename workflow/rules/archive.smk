# The results archive (balanced_stdp.archive): `snakemake --cores 2 archive` packs what the
# figures, agreement tables and report are made from — every aggregate, theory and
# finite-size theory dataset and the agreement tables — with the study's config and a
# manifest of checksums into one .tar.gz. Restore it elsewhere with
# `snakemake --cores 2 --config archive=PATH` (workflow/rules/restore.smk).


rule archive:
    input:
        STUDY.archived_files(),
    output:
        results("archive/results.tar.gz"),
    log:
        results("logs/archive/archive.log"),
    conda:
        SOFTWARE_ENV
    threads: 1
    resources:
        mem_mb=request("archive", "mem_mb"),
        runtime=request("archive", "runtime"),
    params:
        config=config,
    script:
        "../scripts/archive.py"
