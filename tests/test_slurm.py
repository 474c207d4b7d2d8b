"""End-to-end: the folders' job and submit scripts on a real single-node SLURM.

    sudo bash scripts/slurm/start_local_slurm.sh && python -m pytest -m slurm tests/test_slurm.py

Skipped, with the reason, when SLURM does not answer. The jobs run smoke-sized configs on the CPUs
of the test cluster (GPU requests of the submit scripts are overridden on the sbatch command line)
and write under a temporary folder that the test removes.
"""
import csv
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slurm

REPO = Path(__file__).resolve().parents[1]
F2B = REPO / "fig2b_fig4ac_mnist"
F2CDE = REPO / "fig2cde_higgs_mnist_cifar10"
F35 = REPO / "fig3fig5_dendritic_microcircuits"
WAIT_S = 200            # upper bound for all jobs of one test


def _slurm_problem():
    """None when sinfo answers with a usable node, else the reason to skip."""
    if shutil.which("sinfo") is None or shutil.which("sbatch") is None:
        return "SLURM client tools (sinfo, sbatch) are not installed; see scripts/slurm/start_local_slurm.sh"
    try:
        out = subprocess.run(["sinfo", "-h", "-N", "-o", "%N %T"], capture_output=True, text=True, timeout=15)
    except subprocess.TimeoutExpired:
        return "sinfo does not answer within 15 s (is slurmctld running?)"
    if out.returncode != 0:
        return f"sinfo fails: {out.stderr.strip() or out.stdout.strip()} (start it: sudo bash scripts/slurm/start_local_slurm.sh)"
    states = [line.split()[1] for line in out.stdout.splitlines() if len(line.split()) == 2]
    if not any(s.rstrip("*~#") in ("idle", "mixed", "allocated", "completing") for s in states):
        return f"no SLURM node is up (sinfo: {out.stdout.strip() or 'no nodes'})"
    return None


@pytest.fixture(scope="module", autouse=True)
def slurm():
    problem = _slurm_problem()
    if problem:
        pytest.skip(problem)


def sbatch(*args, env=None):
    """Submit; returns the job id. Output files go to the folder given with -o by the caller."""
    full_env = dict(os.environ, **(env or {}))
    out = subprocess.run(["sbatch", "--parsable", *map(str, args)], capture_output=True, text=True,
                         env=full_env, cwd=REPO, timeout=30)
    assert out.returncode == 0, f"sbatch {' '.join(map(str, args))} failed: {out.stderr}"
    return out.stdout.strip().split(";")[0]


def job_states(job_ids):
    """{job or array-task id: state} of the jobs squeue still lists (finished jobs drop out)."""
    out = subprocess.run(["squeue", "-h", "-r", "-j", ",".join(job_ids), "-o", "%i %T"],
                         capture_output=True, text=True, timeout=30)
    return dict(line.split() for line in out.stdout.splitlines() if line.strip())


def wait_gone(job_ids, deadline, logs=()):
    """Wait until squeue no longer lists the jobs; on timeout cancel them and fail with their logs
    (`logs`: absolute paths or glob patterns)."""
    while time.monotonic() < deadline:
        if not job_states(job_ids):
            return
        time.sleep(2)
    subprocess.run(["scancel", *job_ids], timeout=30)
    files = [f for pattern in logs for f in sorted(Path("/").glob(str(pattern).lstrip("/")))]
    tails = "\n".join(f"--- {p}\n{p.read_text()[-2000:]}" for p in files if p.is_file())
    pytest.fail(f"jobs {job_ids} still queued or running after {WAIT_S} s\n{tails}")


def assert_complete(run_dir):
    """A finished run folder: completed summary with final metrics, metrics.csv rows, config, log."""
    run_dir = Path(run_dir)
    for name in ("summary.json", "metrics.csv", "config.yaml", "log.txt"):
        assert (run_dir / name).is_file(), f"{run_dir} lacks {name}: {sorted(p.name for p in run_dir.glob('*'))}"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "completed", f"{run_dir}: status {summary['status']} ({summary.get('error')})"
    assert summary["final"], f"{run_dir}: no final metrics"
    with open(run_dir / "metrics.csv") as f:
        assert len(list(csv.DictReader(f))) >= 2, f"{run_dir}: too few metric rows"
    return summary


def metrics_without_time(run_dir):
    with open(Path(run_dir) / "metrics.csv") as f:
        return [{k: v for k, v in row.items() if k != "wall_time"} for row in csv.DictReader(f)]


def test_job_script_steps_in_a_gpu_allocation(tmp_path):
    """Inside a real allocation the fc job scripts launch each ensemble as an srun step; where the
    allocation holds GPUs (SLURM_JOB_GPUS / SLURM_GPUS_ON_NODE, set here on top of the test
    cluster's CPU allocation) each step binds one GPU and its runs get device=cuda."""
    if shutil.which("salloc") is None:
        pytest.skip("no SLURM client (salloc) on this machine")
    script = F2B / "2b_jobs.sh"
    runs = {}
    for label, gpu_env in (("cpu", ""), ("gpu", "SLURM_JOB_GPUS=0 SLURM_GPUS_ON_NODE=1 ")):
        out = subprocess.run(["salloc", "-n", "1", "bash", "-c", f"{gpu_env}bash {script} --dry-run"],
                             capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        runs[label] = [line for line in out.stdout.splitlines() if " sweep " in line]
    assert len(runs["gpu"]) == len(runs["cpu"]) == 3
    assert all(line.startswith("srun --ntasks=1 --exclusive --gres=gpu:1 ") and " device=cuda " in line
               for line in runs["gpu"])
    assert all(line.startswith("srun --ntasks=1 --exclusive ") and "gres" not in line and "device=" not in line
               for line in runs["cpu"])
    assert list(tmp_path.iterdir()) == []  # a dry run writes nothing


def test_bars_sweep_job_script(tmp_path):
    """bars_jobs.sh inside an allocation: one srun step per presentation time, 2 seeds x {LE, orig}."""
    root = tmp_path / "bars"
    log = tmp_path / "bars-%j.out"
    job = sbatch("-n", 1, "-o", log, "--export", "ALL,NS=10,SEEDS=1-2", "--wrap",
                 f"bash {F35}/bars_jobs.sh --root {root} training.n_epochs=5 training.save_traces=false")
    wait_gone([job], time.monotonic() + WAIT_S, logs=[str(log).replace("%j", job)])
    runs = sorted(p.parent for p in root.glob("*/seed*/summary.json"))
    assert [f"{p.parent.name}/{p.name}" for p in runs] == [
        "bars_le_tpres_10/seed1", "bars_le_tpres_10/seed2", "bars_orig_tpres_10/seed1", "bars_orig_tpres_10/seed2"]
    for run in runs:
        summary = assert_complete(run)
        assert 0.0 <= summary["final"]["test_accuracy"] <= 100.0


ARRAY_TASK = REPO / "scripts" / "slurm" / "array_task.sh"
# 2b_le shrunk to synthetic data: ~1 s per epoch, checkpoint after every epoch.
FC_SMOKE = ["dataset=synthetic", "train_samples=256", "val_samples=64", "test_samples=64", "batch_size=64",
            "n_updates=20", "epoch_qty=12"]


def job_script_commands(script, *overrides):
    """The run commands a folder job script prints with --dry-run (its last line is the count)."""
    out = subprocess.run(["bash", str(script), "--dry-run", *overrides], capture_output=True, text=True,
                         timeout=60, cwd=REPO)
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stdout.splitlines() if line.strip()]
    assert lines[-1].endswith(" runs")
    return lines[:-1]


def wait_for(predicate, deadline, what):
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}")


def metric_rows(run_dir):
    path = Path(run_dir) / "metrics.csv"
    return len(path.read_text().splitlines()) - 1 if path.is_file() else 0


def test_fig2b_array_preempted_task_resumes(tmp_path):
    """Two array tasks run the same 2b_jobs.sh ensemble command (2b_le, 2b_fa, 2b_big_tau x 5 seeds);
    one is requeued mid-run (SIGTERM, then a fresh start of the batch script) and must resume and end
    with the other's metrics exactly, in every run folder of the ensemble."""
    cmd = job_script_commands(F2B / "2b_jobs.sh", *FC_SMOKE)[0]  # the first ensemble
    assert " sweep " in cmd and "2b_le.yaml" in cmd and "--seeds 42" in cmd.replace("\\", "")
    ref, pre = tmp_path / "reference", tmp_path / "preempted"
    commands = tmp_path / "commands.list"
    commands.write_text(f"{cmd} --root {ref}\n{cmd} --root {pre}\n")  # the last --root wins
    log = tmp_path / "task-%A_%a.out"
    job = sbatch("--array=0-1", "-o", log, ARRAY_TASK, commands)
    deadline = time.monotonic() + WAIT_S
    task = f"{job}_1"
    first = pre / "2b_le" / "seed42"
    wait_for(lambda: job_states([job]).get(task) == "RUNNING" and metric_rows(first) >= 2, deadline,
             "the second task to log two epochs")
    subprocess.run(["scontrol", "requeue", task], check=True, timeout=30)
    def restarted():
        state = job_states([job]).get(task)
        if state == "PENDING":
            subprocess.run(["scontrol", "update", f"JobId={task}", "StartTime=now"], timeout=30)
        return state in ("RUNNING", None) and "resuming" in (first / "log.txt").read_text()
    wait_for(restarted, deadline, "the requeued task to restart and resume")
    logs = [str(log).replace("%A", job).replace("%a", str(i)) for i in (0, 1)]
    wait_gone([job], deadline, logs=logs)
    runs = sorted(p.relative_to(ref) for p in ref.glob("*/seed*"))
    assert len(runs) == 15
    for run in runs:
        if run.parts[0] == "2b_le":
            assert_complete(ref / run)
        # 2b_big_tau may diverge (docs/model/fig2b_fig4ac_mnist.md Q2: tau = 200 with tau_m = 20); the resumed run must end the same way
        status = [json.loads((d / run / "summary.json").read_text())["status"] for d in (ref, pre)]
        assert status[0] in ("completed", "diverged") and status[1] == status[0], (run, status)
        assert metrics_without_time(pre / run) == metrics_without_time(ref / run)
        final = lambda d: json.loads((d / "summary.json").read_text()).get("final")  # noqa: E731
        assert final(pre / run) == final(ref / run)
    text = (first / "log.txt").read_text()
    assert "interrupted by signal 15" in text and "resuming" in text


def test_fig2cde_submit_script_array(tmp_path):
    """submit_python_mnist_gpu_v100.sh as documented (`sbatch` from any folder: one job, the seeds as
    one LE and one BP ensemble) with its environment hooks for smoke configs, two seeds and a temporary
    runs folder; the GPU, CPU and memory requests of its #SBATCH lines are overridden on the command
    line for a CPU-only test cluster."""
    (tmp_path / "logs").mkdir()
    env = {"LE_CONFIG": str(F2CDE / "configs" / "smoke_mnist_le.yaml"),
           "BP_CONFIG": str(F2CDE / "configs" / "smoke_mnist_bp.yaml"),
           "LE_RUNS_DIR": str(tmp_path / "runs"), "SEEDS": "1,2", "OMP_NUM_THREADS": "1"}
    full_env = dict(os.environ, **env)
    out = subprocess.run(["sbatch", "--parsable", "--gres=none", "--cpus-per-task=1", "--mem=1G",
                          str(F2CDE / "submit_python_mnist_gpu_v100.sh"), "device=cpu", "epochs=1"],
                         capture_output=True, text=True, env=full_env, cwd=tmp_path, timeout=30)
    assert out.returncode == 0, out.stderr
    job = out.stdout.strip().split(";")[0]
    wait_gone([job], time.monotonic() + WAIT_S, logs=[tmp_path / "logs" / "*"])
    for stem in ("smoke_mnist_le", "smoke_mnist_bp"):
        for seed in (1, 2):
            summary = assert_complete(tmp_path / "runs" / stem / f"seed{seed}")
            assert 0.0 <= summary["final"]["test_error"] <= 100.0  # percent
            assert summary["final"]["epochs"] == 1
