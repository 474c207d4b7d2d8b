# Sourced by submit_python_{higgs,mnist,cifar10}_gpu_v100.sh after they set TASK and HERE:
# submits the array when run with bash outside SLURM, maps the array index to the paper seed, runs
# LE then BP for that seed, and forwards SLURM's SIGTERM/SIGUSR1 so a requeued task resumes.
SEEDS=(1 2 3 5 7 8 13 21 34)

if [[ -z "${SLURM_JOB_ID:-}" && -z "${SEED:-}" ]]; then  # submit the array
    mkdir -p logs
    extra=()
    [[ -n "${LE_PARTITION:-}" ]] && extra+=(--partition="$LE_PARTITION")
    [[ -n "${LE_ACCOUNT:-}" ]] && extra+=(--account="$LE_ACCOUNT")
    exec sbatch "${extra[@]}" "$0" "$@"
fi
if [[ -z "${SEED:-}" ]]; then
    if [[ -z "${SLURM_ARRAY_TASK_ID:-}" ]]; then
        echo "error: no SEED and no SLURM array index" >&2
        exit 2
    fi
    SEED=${SEEDS[$SLURM_ARRAY_TASK_ID]}
fi
echo "[$(date -Is)] $TASK seed $SEED on $(hostname) in $(pwd)"
# run in the background and wait, so that this shell can forward SIGTERM from SLURM
bash "$HERE/run_le_bp_seed.sh" "$TASK" "$SEED" "$@" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null' TERM
trap 'kill -USR1 $pid 2>/dev/null' USR1
while true; do
    wait "$pid"
    rc=$?
    kill -0 "$pid" 2>/dev/null || break
done
exit "$rc"
