#!/usr/bin/env bash
# Runs inside the new conda environment: install balanced-stdp from the repository the
# workflow was started from (BALANCED_STDP_SOURCE is set by workflow/rules/common.smk).
set -euo pipefail
python -m pip install --no-deps --no-build-isolation "${BALANCED_STDP_SOURCE:?}"
