# Shared by 2b_jobs.sh, 4a_jobs.sh, 4c_jobs.sh (sourced, not run).
# Usage of a job script: bash X_jobs.sh [--dry-run] [key=value ...]
#   Each line of work is one ensemble: `train.py sweep CONFIG... --seeds ...` steps its runs together
#   and writes one run folder per (config, seed) under runs/NAME/seed<S>.
#   key=value pairs are appended to every sweep (e.g. epoch_qty=2 for a tiny sweep).
#   Inside a SLURM allocation (SLURM_JOB_ID set) each ensemble is an srun step of one task, with one
#   GPU and device=cuda when the allocation has GPUs (scripts/slurm/jobs_lib.sh); otherwise at most
#   $JOBS ensembles (default: number of cores) run at once on this machine. --dry-run prints the lines
#   as they would be launched here and runs nothing.
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$HERE/../scripts/slurm/jobs_lib.sh"
PYTHON="${PYTHON:-python}"
DRY_RUN=0
EXTRA=()
JOB_LIST=()
N_RUNS=0

parse_args() {
    for arg in "$@"; do
        case "$arg" in
            --dry-run) DRY_RUN=1 ;;
            *=*) EXTRA+=("$arg") ;;
            *) echo "error: unknown argument '$arg' (allowed: --dry-run, key=value)" >&2; exit 2 ;;
        esac
    done
    # a GPU allocation runs every network on its GPU, never on a silent CPU fallback
    if allocation_has_gpus && [[ " ${EXTRA[*]-} " != *" device="* ]]; then
        EXTRA+=(device=cuda)
    fi
}

# add_sweep NAME SEEDS CONFIG... [key=value ...] [--variant VNAME "key=value ..." ...]: one ensemble of
# every (config, variant, seed), run folders runs/NAME/seed<S> ({stem} in NAME: the config's file stem,
# {variant}: the variant's name); SEEDS is a comma-separated list
add_sweep() {
    local name="$1" seeds="$2"
    shift 2
    local items=() n_configs=0 n_variants=0 n_seeds cmd
    while (( $# )); do
        case "$1" in
            --variant) items+=("$1" "$2" "$3"); n_variants=$((n_variants + 1)); shift 3 ;;
            *=*) items+=("$1"); shift ;;
            *) items+=("$HERE/configs/$1"); n_configs=$((n_configs + 1)); shift ;;
        esac
    done
    n_seeds=$(tr ',' '\n' <<< "$seeds" | wc -l)
    cmd="$(printf '%q ' "$PYTHON" "$HERE/src/train.py" sweep "${items[@]}" "${EXTRA[@]+"${EXTRA[@]}"}" \
        --seeds "$seeds" --root "$HERE/runs" --name "$name")"
    JOB_LIST+=("${cmd% }")
    N_RUNS=$((N_RUNS + n_configs * (n_variants > 0 ? n_variants : 1) * n_seeds))
}

run_jobs() {
    local n=${#JOB_LIST[@]} lines=() cmd
    launch_prefix gpu
    for cmd in "${JOB_LIST[@]}"; do
        lines+=("${LAUNCH[*]+${LAUNCH[*]} }$cmd")
    done
    if [[ $DRY_RUN == 1 ]]; then
        printf '%s\n' "${lines[@]}"
        echo "$n ensembles, $N_RUNS runs"
        return 0
    fi
    # runs go side by side on the cores: one math thread each unless told otherwise
    export OMP_NUM_THREADS="${OMP_NUM_THREADS:-${SLURM_CPUS_PER_TASK:-1}}"
    # in an allocation srun queues the steps until their cores (and GPU) are free
    run_pool "$([[ -n "${SLURM_JOB_ID:-}" ]] && echo "$n" || echo "${JOBS:-$(nproc)}")" "${lines[@]}"
    echo "$n ensembles ($N_RUNS runs), $POOL_FAILED failed"
    [[ $POOL_FAILED == 0 ]]
}
