#!/usr/bin/env bash
# One SLURM array task per line of a command list, e.g. the list a job script prints with --dry-run:
#
#   bash fig2b_fig4ac_mnist/4a_jobs.sh --dry-run epoch_qty=50 | grep -v ' runs$' > 4a.list
#   sbatch --array=0-$(( $(wc -l < 4a.list) - 1 )) scripts/slurm/array_task.sh "$PWD/4a.list"
#
# Task i runs line i+1 (0-based task ids). Every run resumes from its checkpoint when rerun, so a
# requeued (preempted) task continues where it stopped. Lines are shell words as printed by the job
# scripts (printf %q), so they are evaluated, not split. A line that runs a train.py gets device=cuda
# when the task holds GPUs (sbatch --gres=gpu:1 or SBATCH_GRES) and the line names no device.
# `bash array_task.sh --dry-run LIST` prints the command of task $TASK (default 0) and runs nothing.
#SBATCH --job-name=le-runs
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=1
#SBATCH --requeue
#SBATCH --open-mode=append
set -euo pipefail

DRY=0
[[ "${1:-}" == --dry-run ]] && { DRY=1; shift; }
LIST="${1:?usage: sbatch --array=0-N array_task.sh /absolute/path/to/command.list}"
# under sbatch this file runs from SLURM's spool copy: then find the library through the package
lib="$(dirname "${BASH_SOURCE[0]}")/jobs_lib.sh"
[[ -f "$lib" ]] || lib="$("${PYTHON:-python}" -c 'import common, os; print(os.path.dirname(common.__file__))')/../scripts/slurm/jobs_lib.sh"
source "$lib"
[[ -f "$LIST" ]] || { echo "array_task: no such command list: $LIST" >&2; exit 2; }
TASK="${SLURM_ARRAY_TASK_ID:-${TASK:-0}}"
CMD="$(sed -n "$((TASK + 1))p" "$LIST")"
[[ -n "$CMD" ]] || { echo "array_task: $LIST has no line $((TASK + 1)) (task $TASK)" >&2; exit 2; }
if allocation_has_gpus && [[ "$CMD " == *"/train.py "* && "$CMD " != *" device="* ]]; then
    CMD+=" device=cuda"
fi
if (( DRY )); then
    echo "$CMD"
    exit 0
fi
# Math libraries default to one thread per core of the node; stay within the CPUs of this task.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-${SLURM_CPUS_PER_TASK:-1}}"
echo "array_task: task $TASK (restart ${SLURM_RESTART_COUNT:-0}) on $(hostname): $CMD"
# exec: the run itself receives SLURM's SIGTERM on preemption and checkpoints before it exits.
eval "exec $CMD"
