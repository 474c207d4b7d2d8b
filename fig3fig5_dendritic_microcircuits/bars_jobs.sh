#!/usr/bin/env bash
# Fig. 3: all bars runs, 10 seeds x 11 presentation times x {le, orig} = 220 runs, grouped for the
# ensemble engine: one `run_bars.py sweep` per N simulates le + orig x all seeds (20 networks) at once
# and writes one run folder per (config, seed) under runs/bars_{le,orig}_tpres_N/seed<S>/. The N in
# SPLIT_NS (default 5000, half of all steps) get two sweeps, one per half of the seeds, so that two
# cores share the longest work; the run folders are the same.
#
#   bash bars_jobs.sh [--dry-run] [key=value ... | --root DIR | --restart]
#
# Extra arguments go to every sweep (e.g. training.n_epochs=5 for a tiny sweep). SEEDS (default
# 12345-12354) and NS (default all 11 values) select the grid. Locally at most $JOBS sweeps run at once
# (default: the number of CPUs); inside a SLURM allocation (SLURM_JOB_ID set) each sweep is an `srun`
# step on one CPU, at most $JOBS (default $SLURM_NTASKS or 1) at a time. Rerunning resumes interrupted
# runs and skips completed ones.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [[ ! -f "$HERE/src/run_bars.py" ]]; then      # under sbatch this runs from SLURM's spool copy
    HERE="$("${PYTHON:-python}" -c 'import fig3fig5_dendritic_microcircuits as m, os; print(os.path.dirname(m.__file__))')"
fi
source "$HERE/../scripts/slurm/jobs_lib.sh"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"   # sweeps run side by side, one core each
SEEDS="${SEEDS:-12345-12354}"
NS="${NS:-5000 2000 1000 500 200 100 50 20 10 5 3}"          # longest first
SPLIT_NS="${SPLIT_NS:-5000}"
PY="${PYTHON:-python}"

DRY=0
EXTRA=()
for arg in "$@"; do
    if [[ "$arg" == "--dry-run" ]]; then DRY=1; else EXTRA+=("$arg"); fi
done
if [[ -n "${SLURM_JOB_ID:-}" ]]; then
    JOBS="${JOBS:-${SLURM_NTASKS:-1}}"
else
    JOBS="${JOBS:-$(nproc)}"
fi

SEED_LIST=()
IFS=',' read -ra parts <<< "$SEEDS"
for p in "${parts[@]}"; do
    lo="${p%-*}"; hi="${p#*-}"
    for (( s = lo; s <= hi; s++ )); do SEED_LIST+=("$s"); done
done
n_seeds=${#SEED_LIST[@]}

seed_ranges() {   # seeds -> the --seeds text, consecutive ones as ranges: 1 2 3 7 -> 1-3,7
    local out="" lo="" prev="" s
    for s in "$@" ""; do
        if [[ -n "$s" && -n "$prev" && "$s" -eq $(( prev + 1 )) ]]; then prev="$s"; continue; fi
        if [[ -n "$lo" ]]; then
            out+="${out:+,}$lo"
            if [[ "$prev" != "$lo" ]]; then out+="-$prev"; fi
        fi
        lo="$s"; prev="$s"
    done
    echo "$out"
}

half=$(( (n_seeds + 1) / 2 ))
HALVES=("$(seed_ranges "${SEED_LIST[@]:0:half}")" "$(seed_ranges "${SEED_LIST[@]:half}")")

sweep_cmd() {   # the command for one N and one seed list, as a NUL-free array in CMD
    local N="$1" seeds="$2"
    CMD=("$PY" "$HERE/src/run_bars.py" sweep
         "$HERE/experiment_configs/bars_le_tpres_$N.yaml" "$HERE/experiment_configs/bars_orig_tpres_$N.yaml"
         --seeds "$seeds" ${EXTRA[@]+"${EXTRA[@]}"})
    launch_prefix cpu 1                           # CPU code: a step never binds a GPU
    CMD=(${LAUNCH[@]+"${LAUNCH[@]}"} "${CMD[@]}")
}

LINES=()
for N in $NS; do
    groups=("$SEEDS")
    if [[ " $SPLIT_NS " == *" $N "* ]] && (( n_seeds > 1 )); then groups=("${HALVES[@]}"); fi
    for seeds in "${groups[@]}"; do
        sweep_cmd "$N" "$seeds"
        LINES+=("$(printf '%q ' "${CMD[@]}")")
    done
done
if (( DRY )); then
    printf '%s\n' "${LINES[@]}"
    n_ns=$(wc -w <<< "$NS")
    echo "# ${#LINES[@]} sweeps, $(( n_ns * 2 * n_seeds )) runs"
    exit 0
fi
run_pool "$JOBS" "${LINES[@]}"
(( POOL_FAILED == 0 ))
