#!/bin/bash
# Fig. 2b: 4 variants x 10 seeds = 40 runs (model §4.4), including the feedback-alignment run that the
# authors' script never launched (model Q3). Usage: bash 2b_jobs.sh [--dry-run] [key=value ...]
set -euo pipefail
# under sbatch this file runs from SLURM's spool copy: then find the folder through the package
lib="$(dirname "${BASH_SOURCE[0]}")/jobs_lib.sh"
[[ -f "$lib" ]] || lib="$("${PYTHON:-python}" -c 'import fig2b_fig4ac_mnist as m, os; print(os.path.dirname(m.__file__))')/jobs_lib.sh"
source "$lib"
parse_args "$@"
# 3 ensembles: le, fa, big_tau share dt and n_updates (15 networks each, 5 seeds); no_prospective
# runs at dt = 1, n_updates = 200 (10 networks)
for seeds in 42,69,12345,98765,38274 28374,42848,48393,83475,57381; do
    add_sweep '{stem}' "$seeds" 2b_le.yaml 2b_fa.yaml 2b_big_tau.yaml
done
add_sweep '{stem}' 42,69,12345,98765,38274,28374,42848,48393,83475,57381 2b_no_prospective.yaml
run_jobs
