# How the folders' job scripts launch their lines of work (sourced, not run).
# Inside a SLURM allocation (SLURM_JOB_ID set) each line is one `srun` step of one task; a GPU line's
# step binds one GPU when the allocation has GPUs. Outside SLURM the lines run as local processes, at
# most a given number at once.

# allocation_has_gpus: true inside a SLURM allocation that holds GPUs (--gres=gpu:N, --gpus*)
allocation_has_gpus() {
    [[ -n "${SLURM_JOB_ID:-}" ]] || return 1
    local v
    for v in "${SLURM_GPUS_ON_NODE:-}" "${SLURM_JOB_GPUS:-}" "${SLURM_GPUS:-}" "${SLURM_GPUS_PER_NODE:-}" \
             "${SLURM_GPUS_PER_TASK:-}"; do
        [[ -n "$v" && "$v" != 0 ]] && return 0
    done
    return 1
}

# launch_prefix KIND [CPUS]: sets LAUNCH to the words before a line's command: nothing outside SLURM;
# inside an allocation an srun step of one task (CPUS cores when given, else SLURM_CPUS_PER_TASK), with
# one GPU (--gres=gpu:1) when KIND is gpu and the allocation has GPUs
launch_prefix() {
    LAUNCH=()
    [[ -n "${SLURM_JOB_ID:-}" ]] || return 0
    LAUNCH=(srun --ntasks=1 ${2:+--cpus-per-task=$2} --exclusive)
    if [[ "$1" == gpu ]] && allocation_has_gpus; then
        LAUNCH+=(--gres=gpu:1)
    fi
}

# run_pool MAX LINE...: runs the lines (shell words, as printed with printf %q) as background jobs,
# at most MAX at once, and waits for all; POOL_FAILED: how many exited non-zero. Each job records
# its own failure: `wait -n` cannot count them (a job that ends before it is waited for is missed)
run_pool() {
    local max="$1" line failed
    shift
    failed="$(mktemp)"
    for line in "$@"; do
        while (( $(jobs -rp | wc -l) >= max )); do
            wait -n || true
        done
        { ( eval "$line" ) || echo failed >> "$failed"; } &
    done
    wait
    POOL_FAILED=$(( $(wc -l < "$failed") ))
    rm -f "$failed"
}
