#!/bin/bash
# The seeds of one Fig. 2c-e task as two ensembles: the LE sweep, then the BP sweep (train.py sweep;
# used by submit_python_*_gpu_v100.sh).
#   bash run_le_bp.sh [--dry-run] TASK SEEDS [key=value ...]   SEEDS: comma list, e.g. 1,2,3,5,7,8,13,21,34
# --dry-run prints the two sweep commands and runs nothing.
# Environment: LE_CONFIG / BP_CONFIG (default configs/TASK_le.yaml, configs/TASK_bp.yaml),
# LE_OVERRIDES / BP_OVERRIDES (space-separated key=value for one of the two sweeps; extra arguments go
# to both), LE_RUNS_DIR (default: runs/ of this folder; runs go to <dir>/<config stem>/seed<S>),
# PYTHON (default: python).
set -uo pipefail
DRY=0
[[ "${1:-}" == --dry-run ]] && { DRY=1; shift; }
TASK=$1
SEEDS=$2
shift 2
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PYTHON=${PYTHON:-python}
LE_CONFIG=${LE_CONFIG:-$HERE/configs/${TASK}_le.yaml}
BP_CONFIG=${BP_CONFIG:-$HERE/configs/${TASK}_bp.yaml}
root=()
[[ -n "${LE_RUNS_DIR:-}" ]] && root=(--root "$LE_RUNS_DIR")

child=""
forward_signal() {  # SLURM preemption / time limit: let the ensemble checkpoint and stop
    [[ -n "$child" ]] && kill -"$1" "$child" 2>/dev/null
}
trap 'forward_signal TERM' TERM
trap 'forward_signal USR1' USR1

sweep() {  # sweep CONFIG OVERRIDES...; returns the sweep's exit code
    local config=$1
    shift
    if (( DRY )); then
        printf '%q ' "$PYTHON" -u "$HERE/train.py" sweep "$config" --seeds "$SEEDS" "$@" ${root[@]+"${root[@]}"}
        echo
        return 0
    fi
    echo "[$(date -Is)] $PYTHON -u $HERE/train.py sweep $config --seeds $SEEDS $* ${root[*]}"
    "$PYTHON" -u "$HERE/train.py" sweep "$config" --seeds "$SEEDS" "$@" "${root[@]}" &
    child=$!
    local rc
    while true; do
        wait "$child"
        rc=$?
        kill -0 "$child" 2>/dev/null || break  # wait returned early for a trapped signal
    done
    child=""
    return "$rc"
}

# shellcheck disable=SC2086  # the override variables are space-separated lists
sweep "$LE_CONFIG" ${LE_OVERRIDES:-} "$@"
rc=$?
if [[ $rc -eq 0 ]]; then
    # shellcheck disable=SC2086
    sweep "$BP_CONFIG" ${BP_OVERRIDES:-} "$@"
    rc=$?
fi
if [[ $rc -ge 128 && -n "${SLURM_JOB_ID:-}" ]] && (( ! DRY )); then
    # interrupted (checkpoints written): put the job back in the queue; it resumes
    echo "[$(date -Is)] interrupted (exit $rc): requeueing job $SLURM_JOB_ID"
    scontrol requeue "$SLURM_JOB_ID"
fi
exit "$rc"
