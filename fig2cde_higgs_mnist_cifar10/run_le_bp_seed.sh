#!/bin/bash
# One seed of one Fig. 2c-e task: the LE run, then the BP run (used by submit_python_*_gpu_v100.sh).
#   bash run_le_bp_seed.sh TASK SEED [key=value ...]
# Environment: LE_CONFIG / BP_CONFIG (default configs/TASK_le.yaml, configs/TASK_bp.yaml),
# LE_OVERRIDES / BP_OVERRIDES (space-separated key=value for one of the two runs; extra arguments go
# to both), LE_RUNS_DIR (default: runs/ of this folder; runs go to <dir>/<config stem>/seed<SEED>),
# PYTHON (default: python).
set -uo pipefail
TASK=$1
SEED=$2
shift 2
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PYTHON=${PYTHON:-python}
LE_CONFIG=${LE_CONFIG:-$HERE/configs/${TASK}_le.yaml}
BP_CONFIG=${BP_CONFIG:-$HERE/configs/${TASK}_bp.yaml}

child=""
forward_signal() {  # SLURM preemption / time limit: let the run checkpoint and stop
    [[ -n "$child" ]] && kill -"$1" "$child" 2>/dev/null
}
trap 'forward_signal TERM' TERM
trap 'forward_signal USR1' USR1

run_one() {  # run_one CONFIG OVERRIDES...; returns the run's exit code
    local config=$1
    shift
    local out=()
    if [[ -n "${LE_RUNS_DIR:-}" ]]; then
        out=(--out "$LE_RUNS_DIR/$(basename "$config" .yaml)/seed$SEED")
    fi
    echo "[$(date -Is)] $PYTHON -u $HERE/train.py $config seed=$SEED $* ${out[*]}"
    "$PYTHON" -u "$HERE/train.py" "$config" "seed=$SEED" "$@" "${out[@]}" &
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
run_one "$LE_CONFIG" ${LE_OVERRIDES:-} "$@"
rc=$?
if [[ $rc -eq 0 ]]; then
    # shellcheck disable=SC2086
    run_one "$BP_CONFIG" ${BP_OVERRIDES:-} "$@"
    rc=$?
fi
if [[ $rc -ge 128 && -n "${SLURM_JOB_ID:-}" ]]; then
    # interrupted (checkpoint written): put this array task back in the queue; it resumes
    echo "[$(date -Is)] interrupted (exit $rc): requeueing job $SLURM_JOB_ID"
    scontrol requeue "$SLURM_JOB_ID"
fi
exit "$rc"
