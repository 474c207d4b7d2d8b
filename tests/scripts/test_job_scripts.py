"""Every job and submit script: `--dry-run` works without SLURM (exit 0, no `sbatch`/`srun` needed)
and writes nothing; inside an allocation each line is one srun step that binds one GPU and passes
device=cuda when the allocation holds GPUs, and stays plain otherwise. (The same lines inside a real
allocation: tests/test_slurm.py.)"""
import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
F2B = REPO / "fig2b_fig4ac_mnist"
F2CDE = REPO / "fig2cde_higgs_mnist_cifar10"
F35 = REPO / "fig3fig5_dendritic_microcircuits"
FC_JOBS = [F2B / "2b_jobs.sh", F2B / "4a_jobs.sh", F2B / "4c_jobs.sh"]
SUBMIT = sorted(F2CDE.glob("submit_python_*_gpu_v100.sh"))
GPU_ALLOCATION = {"SLURM_JOB_ID": "41", "SLURM_JOB_GPUS": "0,1", "SLURM_GPUS_ON_NODE": "2"}
CPU_ALLOCATION = {"SLURM_JOB_ID": "42", "SLURM_CPUS_PER_TASK": "1"}


SLURM_TOOLS = ("sbatch", "srun", "scontrol")


@pytest.fixture(scope="module")
def no_slurm_path(tmp_path_factory):
    """PATH as it is, with the SLURM tools hidden: each PATH folder that holds one is replaced by a
    folder of links to all its other entries (sbatch may share /usr/bin with bash)."""
    folders = []
    for i, d in enumerate(p for p in os.environ.get("PATH", "").split(os.pathsep) if p):
        if any(Path(d, tool).exists() for tool in SLURM_TOOLS):
            shadow = tmp_path_factory.mktemp(f"path{i}")
            for entry in Path(d).iterdir():
                if entry.name not in SLURM_TOOLS:
                    (shadow / entry.name).symlink_to(entry)
            d = str(shadow)
        folders.append(d)
    path = os.pathsep.join(folders)
    assert shutil.which("sbatch", path=path) is None and shutil.which("bash", path=path)
    return path


@pytest.fixture
def no_slurm_env(no_slurm_path):
    """The environment without SLURM: no SLURM_* variables, and a PATH without sbatch/srun."""
    return dict({k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}, PATH=no_slurm_path)


def _dry(script, *args, env, cwd):
    out = subprocess.run(["bash", str(script), "--dry-run", *args] if script.name != "run_le_bp.sh"
                         else ["bash", str(script), "--dry-run", "higgs", "1,2", *args],
                         capture_output=True, text=True, env=env, cwd=cwd, timeout=60)
    assert out.returncode == 0, f"{script.name}: {out.stderr}"
    assert "not found" not in out.stderr, out.stderr
    return [line for line in out.stdout.splitlines() if line.strip()]


def _tree(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.iterdir())


@pytest.mark.parametrize("script", FC_JOBS + [F35 / "bars_jobs.sh"] + SUBMIT + [F2CDE / "run_le_bp.sh"],
                         ids=lambda p: p.name)
def test_dry_run_without_slurm_writes_nothing(tmp_path, script, no_slurm_env):
    env = no_slurm_env
    before = _tree(script.parent)
    lines = _dry(script, env=env, cwd=tmp_path)
    assert any(" sweep " in line for line in lines)
    assert list(tmp_path.iterdir()) == [] and _tree(script.parent) == before  # no logs/, no runs/


@pytest.mark.parametrize("script", SUBMIT, ids=lambda p: p.name)
def test_submit_dry_run_shows_the_sbatch_call_and_the_jobs_gpu_sweeps(tmp_path, script, no_slurm_env):
    lines = _dry(script, "epochs=1", env=no_slurm_env, cwd=tmp_path)
    assert lines[0].startswith("sbatch ") and lines[0].endswith(f"{script.name} epochs=1")
    sweeps = [shlex.split(line) for line in lines if " sweep " in line]
    assert len(sweeps) == 2 and [Path(s[4]).name.rsplit("_", 1)[1] for s in sweeps] == ["le.yaml", "bp.yaml"]
    assert all("device=cuda" in s and s[-1] == "epochs=1" for s in sweeps)  # in the job: the GPU


@pytest.mark.parametrize("user_device", [None, "device=cpu"])
def test_submit_inside_the_job_passes_device_cuda_unless_told(tmp_path, user_device, no_slurm_env):
    env = dict(no_slurm_env, **GPU_ALLOCATION)
    args = [user_device] if user_device else []
    sweeps = [shlex.split(line) for line in _dry(SUBMIT[0], *args, env=env, cwd=tmp_path)]
    assert len(sweeps) == 2
    for words in sweeps:
        devices = [w for w in words if w.startswith("device=")]
        assert devices == [user_device or "device=cuda"]


@pytest.mark.parametrize("script", FC_JOBS, ids=lambda p: p.name)
def test_gpu_allocation_binds_one_gpu_per_step(tmp_path, script, no_slurm_env):
    plain = _dry(script, env=no_slurm_env, cwd=tmp_path)
    gpu = _dry(script, env=dict(no_slurm_env, **GPU_ALLOCATION), cwd=tmp_path)
    cpu = _dry(script, env=dict(no_slurm_env, **CPU_ALLOCATION), cwd=tmp_path)
    assert gpu[-1] == cpu[-1] == plain[-1]  # the same count of runs
    step = "srun --ntasks=1 --exclusive "
    for p, g, c in zip(plain[:-1], gpu[:-1], cpu[:-1]):
        assert g.startswith(step + "--gres=gpu:1 python ") and " device=cuda --seeds " in g
        assert g[len(step + "--gres=gpu:1 "):].replace(" device=cuda", "") == p
        assert c == step + p and "device=" not in c and "gres" not in c
    assert all("device=" not in p and not p.startswith("srun") for p in plain)


def test_cpu_code_never_binds_a_gpu(tmp_path, no_slurm_env):
    lines = _dry(F35 / "bars_jobs.sh", env=dict(no_slurm_env, **GPU_ALLOCATION), cwd=tmp_path)
    assert all(line.startswith("srun --ntasks=1 --cpus-per-task=1 --exclusive python ")
               for line in lines[:-1])
    assert not any("gres" in line or "device=" in line for line in lines)


def test_a_user_device_override_wins_in_a_gpu_allocation(tmp_path, no_slurm_env):
    env = dict(no_slurm_env, **GPU_ALLOCATION)
    lines = _dry(F2B / "2b_jobs.sh", "device=cpu", env=env, cwd=tmp_path)
    assert all(" device=cpu " in line and "device=cuda" not in line for line in lines[:-1])


def test_array_task_gives_train_lines_the_gpu_of_the_task(tmp_path, no_slurm_env):
    env = no_slurm_env
    lines = _dry(F2B / "4c_jobs.sh", env=env, cwd=tmp_path)[:2]
    bars = _dry(F35 / "bars_jobs.sh", env=env, cwd=tmp_path)[0]
    listing = tmp_path / "commands.list"
    listing.write_text("\n".join(lines + [bars]) + "\n")

    def task(i, allocation):
        out = subprocess.run(["bash", str(REPO / "scripts" / "slurm" / "array_task.sh"), "--dry-run",
                              str(listing)], env=dict(env, TASK=str(i), **allocation),
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()

    gpu = dict(GPU_ALLOCATION, SLURM_ARRAY_TASK_ID="1")
    assert task(1, gpu) == lines[1] + " device=cuda"
    assert task(0, CPU_ALLOCATION) == lines[0]
    assert task(2, dict(gpu, SLURM_ARRAY_TASK_ID="2")) == bars.strip()  # CPU code: no device key
    listing.unlink()
