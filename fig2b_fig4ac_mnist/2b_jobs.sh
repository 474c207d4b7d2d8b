#!/bin/bash
# Fig. 2b: 4 variants x 10 seeds (spec §4.4), including the feedback-alignment run that the
# authors' script never launched (spec Q3). Usage: bash 2b_jobs.sh [--dry-run] [key=value ...]
set -euo pipefail
# under sbatch this file runs from SLURM's spool copy: then find the folder through the package
lib="$(dirname "${BASH_SOURCE[0]}")/jobs_lib.sh"
[[ -f "$lib" ]] || lib="$("${PYTHON:-python}" -c 'import fig2b_fig4ac_mnist as m, os; print(os.path.dirname(m.__file__))')/jobs_lib.sh"
source "$lib"
parse_args "$@"
for seed in 42 69 12345 98765 38274 28374 42848 48393 83475 57381; do
    add_job 2b_le "$seed" 2b_le.yaml
    add_job 2b_fa "$seed" 2b_fa.yaml
    add_job 2b_big_tau "$seed" 2b_big_tau.yaml
    add_job 2b_no_prospective "$seed" 2b_no_prospective.yaml
done
run_jobs
