# Shared by 2b_jobs.sh, 4a_jobs.sh, 4c_jobs.sh (sourced, not run).
# Usage of a job script: bash X_jobs.sh [--dry-run] [key=value ...]
#   key=value pairs are appended to every run (e.g. epoch_qty=2 for a tiny sweep).
#   Inside a SLURM allocation (SLURM_JOB_ID set) each run is `srun --ntasks 1 --exclusive`;
#   otherwise at most $JOBS runs (default: number of cores) run at once on this machine.
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${PYTHON:-python}"
DRY_RUN=0
EXTRA=()
JOB_LIST=()

parse_args() {
    for arg in "$@"; do
        case "$arg" in
            --dry-run) DRY_RUN=1 ;;
            *=*) EXTRA+=("$arg") ;;
            *) echo "error: unknown argument '$arg' (allowed: --dry-run, key=value)" >&2; exit 2 ;;
        esac
    done
}

# add_job NAME SEED CONFIG [key=value ...]: one run writing to runs/NAME/seedSEED
add_job() {
    local name="$1" seed="$2" config="$3"
    shift 3
    local cmd
    cmd="$(printf '%q ' "$PYTHON" "$HERE/src/train.py" "$HERE/configs/$config" "seed=$seed" "$@" \
        "${EXTRA[@]+"${EXTRA[@]}"}" --out "$HERE/runs/$name/seed$seed")"
    JOB_LIST+=("${cmd% }")
}

run_jobs() {
    local n=${#JOB_LIST[@]}
    if [[ $DRY_RUN == 1 ]]; then
        printf '%s\n' "${JOB_LIST[@]}"
        echo "$n runs"
        return 0
    fi
    local failed=0 cmd
    # runs go side by side on the cores: one math thread each unless told otherwise
    export OMP_NUM_THREADS="${OMP_NUM_THREADS:-${SLURM_CPUS_PER_TASK:-1}}"
    if [[ -n "${SLURM_JOB_ID:-}" ]]; then
        for cmd in "${JOB_LIST[@]}"; do
            eval "srun --ntasks 1 --exclusive $cmd" &
        done
    else
        local max="${JOBS:-$(nproc)}"
        for cmd in "${JOB_LIST[@]}"; do
            while (( $(jobs -rp | wc -l) >= max )); do
                wait -n || failed=$((failed + 1))
            done
            eval "$cmd" &
        done
    fi
    while (( $(jobs -rp | wc -l) > 0 )); do
        wait -n || failed=$((failed + 1))
    done
    echo "$n runs, $failed failed"
    [[ $failed == 0 ]]
}
