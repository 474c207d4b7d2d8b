#!/usr/bin/env bash
# Fig. 3: all bars runs, 10 seeds x 11 presentation times x {le, orig} = 220 runs, grouped for the
# ensemble engine: one `run_bars.py sweep` per N simulates le + orig x all seeds (20 networks) at once
# and writes one run folder per (config, seed) under runs/bars_{le,orig}_tpres_N/seed<S>/.
#
#   bash bars_jobs.sh [--dry-run] [key=value ... | --root DIR | --restart]
#
# Extra arguments go to every sweep (e.g. training.n_epochs=5 for a tiny sweep). SEEDS (default
# 12345-12354) and NS (default all 11 values) select the grid. Locally at most $JOBS sweeps run at once
# (default 1); inside a SLURM allocation (SLURM_JOB_ID set) each sweep is an `srun` step on one CPU,
# at most $JOBS (default $SLURM_NTASKS or 1) at a time. Rerunning resumes interrupted runs and skips
# completed ones.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [[ ! -f "$HERE/src/run_bars.py" ]]; then      # under sbatch this runs from SLURM's spool copy
    HERE="$("${PYTHON:-python}" -c 'import fig3fig5_dendritic_microcircuits as m, os; print(os.path.dirname(m.__file__))')"
fi
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"   # sweeps run side by side, one core each
SEEDS="${SEEDS:-12345-12354}"
NS="${NS:-5000 2000 1000 500 200 100 50 20 10 5 3}"          # longest first
PY="${PYTHON:-python}"

DRY=0
EXTRA=()
for arg in "$@"; do
    if [[ "$arg" == "--dry-run" ]]; then DRY=1; else EXTRA+=("$arg"); fi
done
if [[ -n "${SLURM_JOB_ID:-}" ]]; then
    JOBS="${JOBS:-${SLURM_NTASKS:-1}}"
else
    JOBS="${JOBS:-1}"
fi

n_seeds=0
IFS=',' read -ra parts <<< "$SEEDS"
for p in "${parts[@]}"; do
    lo="${p%-*}"; hi="${p#*-}"
    n_seeds=$(( n_seeds + hi - lo + 1 ))
done

sweep_cmd() {   # the command for one N, as a NUL-free array in CMD
    local N="$1"
    CMD=("$PY" "$HERE/src/run_bars.py" sweep
         "$HERE/experiment_configs/bars_le_tpres_$N.yaml" "$HERE/experiment_configs/bars_orig_tpres_$N.yaml"
         --seeds "$SEEDS" ${EXTRA[@]+"${EXTRA[@]}"})
    if [[ -n "${SLURM_JOB_ID:-}" ]]; then
        CMD=(srun --ntasks=1 --cpus-per-task=1 --exclusive "${CMD[@]}")
    fi
}

n_cmds=0
status=0
for N in $NS; do
    sweep_cmd "$N"
    n_cmds=$(( n_cmds + 1 ))
    if (( DRY )); then
        printf '%q ' "${CMD[@]}"; echo
        continue
    fi
    while (( $(jobs -rp | wc -l) >= JOBS )); do
        wait -n || status=1
    done
    "${CMD[@]}" &
done
if (( DRY )); then
    echo "# $n_cmds sweeps, $(( n_cmds * 2 * n_seeds )) runs"
    exit 0
fi
while (( $(jobs -rp | wc -l) > 0 )); do
    wait -n || status=1
done
exit $status
