#!/bin/bash
# Fig. 2c (HIGGS): the paper seeds (1 2 3 5 7 8 13 21 34) as one LE ensemble, then one BP
# ensemble, in one job (train.py sweep).
#
#   bash submit_python_higgs_gpu_v100.sh [key=value ...]     creates logs/ here, then sbatch's itself
#   mkdir -p logs && sbatch submit_python_higgs_gpu_v100.sh   the same by hand (from any folder)
#   SEEDS=1,2 bash submit_python_higgs_gpu_v100.sh            these seeds, no SLURM (SEED=1: one seed)
#
# Environment: LE_PARTITION, LE_ACCOUNT (passed to sbatch when set; the authors used gpus / insel;
# SBATCH_PARTITION / SBATCH_ACCOUNT work with plain sbatch), LE_CONFIG / BP_CONFIG (default: the paper
# configs), LE_OVERRIDES / BP_OVERRIDES (key=value lists for one sweep), LE_RUNS_DIR (default: runs/ of
# this folder), SEEDS (comma list; default the paper's). Extra arguments are overrides for both, e.g.:
#   LE_CONFIG=configs/smoke_higgs_le.yaml BP_CONFIG=configs/smoke_higgs_bp.yaml bash submit_python_higgs_gpu_v100.sh
# Runs go to <runs>/<config stem>/seed<seed>/; a requeued or rerun job resumes from the checkpoints.
#SBATCH --job-name=LE_fig2c_higgs
#SBATCH --output=logs/%x_%j.out
#SBATCH --error=logs/%x_%j.err
#SBATCH --time=96:00:00
#SBATCH --gres=gpu:1
#SBATCH --cpus-per-task=4
#SBATCH --mem=32G
#SBATCH --requeue
#SBATCH --signal=B:TERM@300
set -uo pipefail
TASK=higgs
# under sbatch this file runs from a spool copy: find the folder through the installed package
HERE=$("${PYTHON:-python}" -c 'import fig2cde_higgs_mnist_cifar10 as m, os; print(os.path.dirname(m.__file__))')
source "$HERE/submit_lib.sh"
