#!/usr/bin/env bash
# One SLURM array task per line of a command list, e.g. the list a job script prints with --dry-run:
#
#   bash fig2b_fig4ac_mnist/4a_jobs.sh --dry-run epoch_qty=50 | grep -v ' runs$' > 4a.list
#   sbatch --array=0-$(( $(wc -l < 4a.list) - 1 )) scripts/slurm/array_task.sh "$PWD/4a.list"
#
# Task i runs line i+1 (0-based task ids). Every run resumes from its checkpoint when rerun, so a
# requeued (preempted) task continues where it stopped. Lines are shell words as printed by the job
# scripts (printf %q), so they are evaluated, not split.
#SBATCH --job-name=le-runs
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=1
#SBATCH --requeue
#SBATCH --open-mode=append
set -euo pipefail

LIST="${1:?usage: sbatch --array=0-N array_task.sh /absolute/path/to/command.list}"
[[ -f "$LIST" ]] || { echo "array_task: no such command list: $LIST" >&2; exit 2; }
TASK="${SLURM_ARRAY_TASK_ID:-${TASK:-0}}"
CMD="$(sed -n "$((TASK + 1))p" "$LIST")"
[[ -n "$CMD" ]] || { echo "array_task: $LIST has no line $((TASK + 1)) (task $TASK)" >&2; exit 2; }
# Math libraries default to one thread per core of the node; stay within the CPUs of this task.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-${SLURM_CPUS_PER_TASK:-1}}"
echo "array_task: task $TASK (restart ${SLURM_RESTART_COUNT:-0}) on $(hostname): $CMD"
# exec: the run itself receives SLURM's SIGTERM on preemption and checkpoints before it exits.
eval "exec $CMD"
