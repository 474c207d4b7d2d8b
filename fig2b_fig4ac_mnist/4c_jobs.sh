#!/bin/bash
# Fig. 4c: 5 (dt, tau_s) settings x 6 n_updates x 3 seeds = 90 runs (model §4.4).
# Base 4c_params.yaml: noise 0.2, forward filter and target low-pass on, tau = 20 with tau_m = 10 (model Q1).
# Group B runs at dt = 0.05 although the authors' comment says 0.1 (model Q4).
# Usage: bash 4c_jobs.sh [--dry-run] [key=value ...]
set -euo pipefail
# under sbatch this file runs from SLURM's spool copy: then find the folder through the package
lib="$(dirname "${BASH_SOURCE[0]}")/jobs_lib.sh"
[[ -f "$lib" ]] || lib="$("${PYTHON:-python}" -c 'import fig2b_fig4ac_mnist as m, os; print(os.path.dirname(m.__file__))')/jobs_lib.sh"
source "$lib"
parse_args "$@"
# one ensemble per (dt, n_updates): its tau_s settings x 3 seeds (6 or 9 networks)
for n in 20 50 100 200 500 1000; do
    for setting in "0.01 0.0 0.1" "0.05 0.0 0.5 2.0"; do
        read -r dt taus <<< "$setting"
        variants=()
        for tau_s in $taus; do
            variants+=(--variant "taus${tau_s}" "tau_s=$tau_s")
        done
        add_sweep "4c_dt${dt}_{variant}_n${n}" 42,69,12345 4c_params.yaml "dt=$dt" "n_updates=$n" "${variants[@]}"
    done
done
run_jobs
