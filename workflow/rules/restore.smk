# Restore mode (--config archive=PATH): the files a results archive holds (aggregates,
# theory datasets, agreement tables; balanced_stdp.archive) are unpacked by one job
# instead of being computed; the figure rules draw from them. The archive is checked
# against this study when the workflow is parsed; member checksums when it is unpacked.

from balanced_stdp.archive import ArchiveRefused, read_manifest, check_manifest

try:
    check_manifest(
        config["archive"],
        read_manifest(config["archive"]),
        config,
        STUDY.archived_files(),
    )
except ArchiveRefused as error:
    raise ConfigInvalid(f"Invalid results archive: {error}") from None


def report_tables(paths):
    """The agreement tables go into the report, as when the agreement rules write them."""
    out = []
    for path in paths:
        name = Path(path).name
        if name == "agreement_summary.csv":
            path = report(
                path,
                caption="../report/agreement_summary.rst",
                category="Agreement",
                labels={"experiment": "all (summary)"},
            )
        elif name.endswith(("_agreement.csv", "_agreement.html")):
            path = report(
                path,
                caption="../report/agreement.rst",
                category="Agreement",
                labels={"experiment": name.rsplit("_agreement", 1)[0]},
            )
        out.append(path)
    return out


rule restore_archive:
    input:
        config["archive"],
    output:
        report_tables(STUDY.archived_files()),
    log:
        results("logs/archive/restore.log"),
    conda:
        SOFTWARE_ENV
    threads: 1
    resources:
        mem_mb=request("restore_archive", "mem_mb"),
        runtime=request("restore_archive", "runtime"),
    params:
        config=config,
        files=STUDY.archived_files(),
    script:
        "../scripts/restore_archive.py"
