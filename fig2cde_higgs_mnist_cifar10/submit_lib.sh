# Sourced by submit_python_{higgs,mnist,cifar10}_gpu_v100.sh after they set TASK and HERE: submits the
# job when run with bash outside SLURM; inside the job (or, with SEEDS set, here without SLURM) it
# trains the seeds as one LE ensemble, then one BP ensemble (run_le_bp.sh), and forwards SLURM's
# SIGTERM/SIGUSR1 so that a requeued job resumes from the checkpoints. Inside the job the runs get
# device=cuda.
# --dry-run prints what would be submitted or run, and runs and writes nothing.
PAPER_SEEDS=(1 2 3 5 7 8 13 21 34)
SEEDS=${SEEDS:-${SEED:-}}  # SEED=S: one seed
DRY=()
ARGS=()
for arg in "$@"; do
    if [[ "$arg" == --dry-run ]]; then DRY=(--dry-run); else ARGS+=("$arg"); fi
done
set -- ${ARGS[@]+"${ARGS[@]}"}

if [[ -z "${SLURM_JOB_ID:-}" && -z "$SEEDS" ]]; then  # submit the job
    extra=()
    [[ -n "${LE_PARTITION:-}" ]] && extra+=(--partition="$LE_PARTITION")
    [[ -n "${LE_ACCOUNT:-}" ]] && extra+=(--account="$LE_ACCOUNT")
    if [[ -n "${DRY[*]-}" ]]; then
        echo "sbatch ${extra[*]+${extra[*]} }$0${*:+ $*}"
        echo "# the job (SLURM_JOB_ID set) then runs:"
        SLURM_JOB_ID=dry-run bash "$HERE/run_le_bp.sh" --dry-run "$TASK" "$(IFS=,; echo "${PAPER_SEEDS[*]}")" \
            device=cuda "$@"
        exit
    fi
    mkdir -p logs
    exec sbatch ${extra[@]+"${extra[@]}"} "$0" "$@"
fi
SEEDS=${SEEDS:-$(IFS=,; echo "${PAPER_SEEDS[*]}")}
# in the job (which asked for a GPU) every run uses the GPU, never a silent CPU fallback;
# a device=... argument overrides this
if [[ -n "${SLURM_JOB_ID:-}" && " $* " != *" device="* ]]; then
    set -- device=cuda "$@"
fi
if [[ -n "${DRY[*]-}" ]]; then
    exec bash "$HERE/run_le_bp.sh" --dry-run "$TASK" "$SEEDS" "$@"
fi
echo "[$(date -Is)] $TASK seeds $SEEDS on $(hostname) in $(pwd)"
# run in the background and wait, so that this shell can forward SIGTERM from SLURM
bash "$HERE/run_le_bp.sh" "$TASK" "$SEEDS" "$@" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null' TERM
trap 'kill -USR1 $pid 2>/dev/null' USR1
while true; do
    wait "$pid"
    rc=$?
    kill -0 "$pid" 2>/dev/null || break
done
exit "$rc"
