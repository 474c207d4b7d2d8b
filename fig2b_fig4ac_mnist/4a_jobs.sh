#!/bin/bash
# Fig. 4a: 5 variants x 10 dt x 4 seeds = 200 runs (model §4.4); n_updates stays 100, so T = 100 dt.
# Usage: bash 4a_jobs.sh [--dry-run] [key=value ...]
set -euo pipefail
# under sbatch this file runs from SLURM's spool copy: then find the folder through the package
lib="$(dirname "${BASH_SOURCE[0]}")/jobs_lib.sh"
[[ -f "$lib" ]] || lib="$("${PYTHON:-python}" -c 'import fig2b_fig4ac_mnist as m, os; print(os.path.dirname(m.__file__))')/jobs_lib.sh"
source "$lib"
parse_args "$@"
declare -A VARIANTS=(
    [exact]="tau_width=0.0"
    [jitter20]="tau_width=0.2"
    [jitter30]="tau_width=0.3"
    [taur_errors]="adapt_tau=false prosp_rate_errors=true tau_width=0.01"
    [learned_tau_m]="adapt_tau=true prosp_rate_errors=true tau_width=0.2"
)
# one ensemble per dt: the 5 variants x 4 seeds (20 networks)
for dt in 0.002 0.005 0.01 0.02 0.05 0.1 0.2 0.5 1.0 2.0; do
    variants=()
    for v in exact jitter20 jitter30 taur_errors learned_tau_m; do
        variants+=(--variant "$v" "${VARIANTS[$v]}")
    done
    add_sweep "4a_{variant}_dt${dt}" 42,69,12345,38274 4a_params.yaml "dt=$dt" "${variants[@]}"
done
run_jobs
