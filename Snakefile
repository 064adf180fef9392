# balanced-stdp study: parameter grids -> one netCDF per run -> aggregates -> agreement
# tables and figures.
#
#   snakemake --cores 2                                  # default quick study (config/config.yaml)
#   snakemake --cores 2 --configfile config/paper.yaml   # another config replaces it entirely
#   snakemake --profile profiles/slurm --configfile config/paper.yaml
#   snakemake --report report.html                       # figures with captions
#   snakemake --cores 2 archive                          # pack the results (see below)
#   snakemake --cores 2 --config archive=PATH            # figures from an archive, no runs
#
# The study is described in config/README.md; the model in src/balanced_stdp.

from snakemake.utils import min_version

min_version("9.0")


# A config given with --configfile replaces the default study instead of being merged
# into it (merging experiment tables would silently add or mix experiments).
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"


# With --config archive=PATH the aggregates, theory datasets and agreement tables come from
# a results archive (rule archive wrote it) instead of simulations: only figures are drawn.
if config.get("archive"):

    include: "workflow/rules/restore.smk"

else:

    include: "workflow/rules/simulate.smk"
    include: "workflow/rules/theory.smk"
    include: "workflow/rules/aggregate.smk"
    include: "workflow/rules/agreement.smk"


include: "workflow/rules/figures.smk"
include: "workflow/rules/archive.smk"


rule all:
    default_target: True
    input:
        all_aggregates(),
        all_agreement_tables(),
        all_figures(),


# Nothing is left to schedule: end the job-rate limiter's timers instead of waiting for
# them (up to 100 s, see profiles/default/config.yaml).
onsuccess:
    stop_rate_limiter_timers()


onerror:
    stop_rate_limiter_timers()
