"""The paper profile of reproduce.py: every sweep of the paper through the folders' job scripts.

List (--dry-run): each panel's job script, its run count (from the script's own --dry-run) and a
rough cost. Launch: `local` runs the job scripts here one after the other (each runs its commands
with $JOBS processes at once); `slurm` submits every job-script command as one task of a SLURM array
(scripts/slurm/array_task.sh; requeued tasks resume from their checkpoints) and the Fig. 2c-e submit
scripts as they are (one GPU array per task). sbatch reads SBATCH_PARTITION, SBATCH_ACCOUNT and
SBATCH_TIMELIMIT from the environment; the Fig. 2c-e scripts also LE_PARTITION and LE_ACCOUNT.

Costs are estimates from this repository's measurements (stated below), not guarantees.
"""
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
F2B = REPO / "fig2b_fig4ac_mnist"
F2CDE = REPO / "fig2cde_higgs_mnist_cifar10"
F35 = REPO / "fig3fig5_dendritic_microcircuits"
LAUNCH_DIR = REPO / "runs" / "paper_launch"
PY = "python"

# Measured on 2 CPU cores (quiet machine): one training Euler step of the 784-300-100-10 network at
# batch 512 takes 3.8 ms with 2 threads (fig2b_fig4ac_mnist/README.md, bench_fc); evaluation steps
# cost about the same. One microcircuit network-step in an ensemble of 20 takes ~2.5 us on one core
# (fig3fig5_dendritic_microcircuits/README.md: 1.84 us CPU, 2.79 us wall under load).
FC_STEP_CORE_S = 3.8e-3 * 2
MC_STEP_CORE_S = 2.5e-6
MNIST_BATCHES = (97, 19)            # batches of 512: training (50k), validation/test (10k)
# Sequential LE update steps per Fig. 2c-e LE run (spec le_discrete_layers.md §4); BP runs are cheap.
# The authors gave each seed's job 96 h on one V100.
LE_STEPS_2CDE = {"higgs": 5.63e6, "mnist": 1.15e6, "cifar10": 1.95e6}
SEEDS_2CDE = 9


@dataclass
class Sweep:
    panel: str
    title: str
    kind: str                 # "jobs": a job script with --dry-run; "single": one command; "submit": sbatch scripts
    script: Path = None
    argv: tuple = ()
    cpus: int = 1


SWEEPS = (
    Sweep("fig1", "relaxation demo", "single", argv=(PY, str(F2B / "src" / "relaxation_demo.py"))),
    Sweep("fig2a", "Fourier synthesis, full 119,999 steps", "single",
          argv=(PY, str(F2B / "src" / "fourier_synthesis.py"))),
    Sweep("fig2b", "MNIST, 4 variants x 10 seeds", "jobs", script=F2B / "2b_jobs.sh", cpus=2),
    Sweep("fig2cde", "HIGGS, MNIST, CIFAR-10: LE and BP x 9 seeds (GPU)", "submit"),
    Sweep("fig3", "bars, 11 presentation times x LE/orig x 10 seeds", "jobs", script=F35 / "bars_jobs.sh"),
    Sweep("fig4a", "5 variants x 10 dt x 4 seeds", "jobs", script=F2B / "4a_jobs.sh", cpus=2),
    Sweep("fig4c", "5 (dt, tau_s) x 6 presentation times x 3 seeds", "jobs", script=F2B / "4c_jobs.sh", cpus=2),
    Sweep("fig5", "mimic task", "single", argv=(PY, str(F35 / "src" / "run_single_mc.py"), "train",
                                               str(F35 / "experiment_configs" / "mimic_tpres_100.yaml"))),
)
SUBMIT_SCRIPTS = [F2CDE / f"submit_python_{t}_gpu_v100.sh" for t in ("higgs", "mnist", "cifar10")]


def job_commands(script):
    """(commands, run count) from a job script's --dry-run output."""
    out = subprocess.run(["bash", str(script), "--dry-run"], capture_output=True, text=True, cwd=REPO, timeout=120)
    if out.returncode != 0:
        raise RuntimeError(f"{script} --dry-run failed: {out.stderr.strip()}")
    commands, runs = [], None
    for line in out.stdout.splitlines():
        line = line.strip()
        count = re.search(r"(\d+) runs$", line)
        if count and (line.startswith("#") or re.fullmatch(r"\d+ runs", line)):
            runs = int(count.group(1))
        elif line and not line.startswith("#"):
            commands.append(line)
    return commands, runs if runs is not None else len(commands)


def _overrides(words):
    return dict(w.split("=", 1) for w in words if "=" in w and not w.startswith("-"))


def fc_core_hours(command):
    """Euler steps of one train.py run (its config plus the command's overrides) x measured step cost."""
    words = command.split()
    config = next(w for w in words if w.endswith(".yaml"))
    cfg = yaml.safe_load(Path(config).read_text())
    cfg.update({k: yaml.safe_load(v) for k, v in _overrides(words).items()})
    epochs, n = cfg["epoch_qty"], cfg["n_updates"]
    steps = (epochs - 1) * MNIST_BATCHES[0] * n + (epochs + 1) * MNIST_BATCHES[1] * n
    return steps * FC_STEP_CORE_S / 3600


def bars_core_hours(command):
    """One sweep: 2 variants x seeds networks, 16,000 N steps each (1000 epochs x 16 patterns)."""
    n = int(re.search(r"tpres_(\d+)\.yaml", command).group(1))
    lo, hi = map(int, re.search(r"--seeds (\d+)-(\d+)", command).groups())
    return 2 * (hi - lo + 1) * 16_000 * n * MC_STEP_CORE_S / 3600


def submit_array_size(script):
    text = Path(script).read_text()
    lo, hi = map(int, re.search(r"#SBATCH --array=(\d+)-(\d+)", text).groups())
    return hi - lo + 1


def describe(sweep):
    """(commands, runs, cost text, cpu core-hours) of one sweep."""
    if sweep.kind == "single":
        return [" ".join(sweep.argv)], 1, "minutes on one CPU", 0.05
    if sweep.kind == "submit":
        tasks = sum(submit_array_size(s) for s in SUBMIT_SCRIPTS)
        commands = [f"bash {s.relative_to(REPO)}   # sbatch array of {submit_array_size(s)} seeds" for s in SUBMIT_SCRIPTS]
        steps = ", ".join(f"{t} {v / 1e6:.2f} M" for t, v in LE_STEPS_2CDE.items())
        return commands, 2 * tasks, (f"{tasks} GPU jobs (LE then BP each); sequential LE steps per run: {steps}; "
                                     f"the authors allowed 96 h of one V100 per job"), 0.0
    commands, runs = job_commands(sweep.script)
    cost = fc_core_hours if sweep.panel != "fig3" else bars_core_hours
    hours = sum(cost(c) for c in commands)
    return commands, runs, f"~{hours:,.0f} CPU core-hours", hours


def list_paper(only=None):
    total_runs, total_hours = 0, 0.0
    print("Paper profile: the complete sweeps, through the folders' job scripts\n")
    for sweep in SWEEPS:
        if only and sweep.panel not in only:
            continue
        commands, runs, cost, hours = describe(sweep)
        total_runs, total_hours = total_runs + runs, total_hours + hours
        how = f"bash {sweep.script.relative_to(REPO)}" if sweep.kind == "jobs" else sweep.kind
        print(f"{sweep.panel}: {sweep.title}: {runs} runs in {len(commands)} commands ({how}); {cost}")
        for cmd in commands[:3]:
            print(f"    {cmd.replace(str(REPO) + '/', '')}")
        if len(commands) > 3:
            print(f"    ... {len(commands) - 3} more (bash {sweep.script.relative_to(REPO)} --dry-run lists all)")
    print(f"\n{total_runs} runs; CPU part ~{total_hours:,.0f} core-hours (about {total_hours / 24:,.1f} hours on "
          f"24 cores), plus the Fig. 2c-e GPU jobs. The fully connected runs also use a GPU when one is "
          f"visible (device: auto); under SLURM request it with SBATCH_GRES=gpu:1.\n"
          f"Launch with --launcher local or --launcher slurm.")
    return 0


def _run(argv, cwd=REPO):
    print("$ " + " ".join(map(str, argv)), flush=True)
    return subprocess.run([str(a) for a in argv], cwd=cwd).returncode


def launch_paper(launcher, only=None):
    failed = []
    LAUNCH_DIR.mkdir(parents=True, exist_ok=True)
    (LAUNCH_DIR / "logs").mkdir(exist_ok=True)
    for sweep in SWEEPS:
        if only and sweep.panel not in only:
            continue
        if sweep.kind == "submit":
            for script in SUBMIT_SCRIPTS:
                if launcher == "slurm":
                    code = _run(["bash", script], cwd=F2CDE)  # the script sbatch's itself (logs/ there)
                else:  # one seed after the other, without SLURM
                    seeds = re.search(r"SEEDS=\(([\d ]+)\)", script.read_text()).group(1).split()
                    code = max(subprocess.run(["bash", str(script)], cwd=F2CDE,
                                              env=dict(os.environ, SEED=seed)).returncode for seed in seeds)
                if code:
                    failed.append(f"{sweep.panel} {script.name} (exit {code})")
            continue
        if launcher == "local":
            argv = ["bash", sweep.script] if sweep.kind == "jobs" else list(sweep.argv)
            code = _run(argv)
        else:
            commands, _, _, _ = describe(sweep)
            listing = LAUNCH_DIR / f"{sweep.panel}.list"
            listing.write_text("\n".join(commands) + "\n")
            code = _run(["sbatch", f"--array=0-{len(commands) - 1}", f"--job-name=le-{sweep.panel}",
                         f"--cpus-per-task={sweep.cpus}", "-o", LAUNCH_DIR / "logs" / f"{sweep.panel}_%A_%a.out",
                         REPO / "scripts" / "slurm" / "array_task.sh", listing])
        if code:
            failed.append(f"{sweep.panel} (exit {code})")
    for f in failed:
        print(f"FAILED: {f}")
    if launcher == "slurm" and not failed:
        print("submitted; watch with `squeue`, then `python scripts/make_figures.py --out figures/`")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(list_paper())
