"""The paper profile of reproduce.py: every sweep of the paper (panels.py) through the folders' job scripts.

List (--dry-run): each panel's job script, its run count (from the script's own --dry-run) and its
price: CPU core-hours from the per-step costs measured on one core (step_costs.py; --measure
measures them again here) times the steps of every run, and GPU-hours from a PROJECTION (no GPU
was measured; step_costs.gpu_step_s states the model), each without and with ensembles.

Ensembles: K networks of the same shapes stepped together. On a CPU an fc or microcircuit network in
an ensemble is priced at its measured per-network cost there (fc: K = 8, DESIGN goal <= 1.1x eight
single steps; microcircuits: K = 20); the LeNet and HIGGS networks of Fig. 2c-e at 1.0x (their steps
are matrix products whose cost grows with K). On a GPU every network is priced at the projected
per-network cost in an ensemble of 16.

Launch: `local` runs the job scripts here one after the other (each runs its commands with $JOBS
processes at once); `slurm` submits every job-script command (one run, or an ensemble where the
script's command is a sweep over seeds) as one task of a SLURM array (scripts/slurm/array_task.sh;
requeued tasks resume from their checkpoints) and the Fig. 2c-e submit scripts as they are (one GPU
job per task: the paper seeds as an LE, then a BP ensemble). sbatch reads SBATCH_PARTITION, SBATCH_ACCOUNT and SBATCH_TIMELIMIT from the
environment; the Fig. 2c-e scripts also LE_PARTITION and LE_ACCOUNT.
"""
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import step_costs
from panels import PANELS
from step_costs import (MEASURED, bars_network_steps, fc_core_s, fc_ensemble_factor, fc_steps, le_bp_core_s,
                        le_bp_steps, resolve)

REPO = Path(__file__).resolve().parents[1]
F2CDE = REPO / "fig2cde_higgs_mnist_cifar10"
LAUNCH_DIR = REPO / "runs" / "paper_launch"
SUBMIT_SCRIPTS = [F2CDE / f"submit_python_{t}_gpu_v100.sh" for t in ("higgs", "mnist", "cifar10")]


@dataclass
class Price:
    """The cost of a set of runs: CPU core-seconds and projected GPU-seconds, without / with ensembles."""
    cpu: float = 0.0
    cpu_ens: float = 0.0
    gpu: float = 0.0
    gpu_ens: float = 0.0

    def __add__(self, o):
        return Price(self.cpu + o.cpu, self.cpu_ens + o.cpu_ens, self.gpu + o.gpu, self.gpu_ens + o.gpu_ens)


def job_commands(script):
    """(commands, run count) from a job script's --dry-run output."""
    out = subprocess.run(["bash", str(REPO / script), "--dry-run"], capture_output=True, text=True, cwd=REPO,
                         timeout=120)
    if out.returncode != 0:
        raise RuntimeError(f"{script} --dry-run failed: {out.stderr.strip()}")
    commands, runs = [], None
    for line in out.stdout.splitlines():
        line = line.strip()
        count = re.search(r"(\d+) runs$", line)
        if count and (line.startswith("#") or re.fullmatch(r"(\d+ ensembles, )?\d+ runs", line)):
            runs = int(count.group(1))
        elif line and not line.startswith("#"):
            commands.append(line)
    return commands, runs if runs is not None else len(commands)


def seed_count(words):
    """Networks per config of one command: the seeds of `--seeds A-B,C,...`, else 1."""
    if "--seeds" not in words:
        return 1
    count = 0
    for part in words[words.index("--seeds") + 1].split(","):
        lo, _, hi = part.partition("-")
        count += int(hi or lo) - int(lo) + 1
    return count


def command_parts(command):
    """(configs, overrides, networks per config) of one job-script command."""
    words = shlex.split(command)
    configs = [w for w in words if w.endswith(".yaml")]
    overrides = [w for w in words if "=" in w and not w.startswith("-")]
    return configs, overrides, seed_count(words)


def gpu_s(steps):
    """Projected GPU seconds of `steps` network-steps: alone, and in ensembles of 16."""
    return steps * step_costs.gpu_step_s(False), steps * step_costs.gpu_step_s(True)


def price_fc(command, costs):
    configs, overrides, k = command_parts(command)
    price = Price()
    for config in configs:
        cfg = resolve(config, overrides)
        core = fc_core_s(Path(config).stem, cfg, costs) * k
        steps = sum(fc_steps(cfg)) * k
        price += Price(core, core * fc_ensemble_factor(costs), *gpu_s(steps))
    return price


def price_bars(command, costs):
    configs, _, k = command_parts(command)
    price = Price()
    for config in configs:
        steps = bars_network_steps(int(re.search(r"tpres_(\d+)\.yaml", config).group(1))) * k
        price += Price(steps * costs["mc"]["single"], steps * costs["mc"]["ensemble"])  # CPU engine only
    return price


def price_2cde(costs):
    """Every seed of every submit script: one LE and one BP run of the task's paper configs."""
    price = Price()
    for script in SUBMIT_SCRIPTS:
        task = script.name.split("_")[2]
        for model in ("le", "bp"):
            cfg = resolve(F2CDE / "configs" / f"{task}_{model}.yaml")
            core = le_bp_core_s(cfg, costs) * len(paper_seeds())
            steps = sum(le_bp_steps(cfg)) * len(paper_seeds())
            price += Price(core, core, *gpu_s(steps))
    return price


def paper_seeds():
    """The seeds each Fig. 2c-e submit script trains (one ensemble each for LE and BP): PAPER_SEEDS of
    submit_lib.sh."""
    return re.search(r"PAPER_SEEDS=\(([\d ]+)\)", (F2CDE / "submit_lib.sh").read_text()).group(1).split()


def describe(panel, costs=MEASURED):
    """(commands, runs, price) of one panel's paper sweep."""
    sweep = panel.sweep
    if sweep.kind == "single":
        return [" ".join(sweep.argv)], 1, Price(sweep.core_s, sweep.core_s)
    if sweep.kind == "submit":
        commands = [f"bash {s.relative_to(REPO)}   # one sbatch job: {len(paper_seeds())} seeds as an LE, then a "
                    f"BP ensemble" for s in SUBMIT_SCRIPTS]
        return commands, 2 * len(paper_seeds()) * len(SUBMIT_SCRIPTS), price_2cde(costs)
    commands, runs = job_commands(sweep.script)
    price_one = price_bars if panel.id == "fig3" else price_fc
    total = Price()
    for command in commands:
        total += price_one(command, costs)
    return commands, runs, total


def _h(seconds, gpu=False):
    if gpu and seconds == 0:
        return "—"
    hours = seconds / 3600
    return f"{hours:,.0f}" if hours >= 100 else f"{hours:,.1f}" if hours >= 1 else f"{hours:.2f}"


def list_paper(only=None, costs=None):
    measured_now = costs is not None
    costs = costs or MEASURED
    print("Paper profile: the complete sweeps, through the folders' job scripts\n")
    rows, total_runs, total = [], 0, Price()
    for panel in PANELS:
        if only and panel.id not in only:
            continue
        commands, runs, price = describe(panel, costs)
        total_runs, total = total_runs + runs, total + price
        rows.append((panel.id, runs, price))
        how = f"bash {panel.sweep.script}" if panel.sweep.kind == "jobs" else panel.sweep.kind
        gpu = f"{_h(price.gpu)} GPU-hours projected" if price.gpu else "CPU only"
        print(f"{panel.id}: {panel.sweep.title}: {runs} runs in {len(commands)} commands ({how}); "
              f"{_h(price.cpu)} CPU core-hours, {gpu}")
        for cmd in commands[:3]:
            print(f"    {cmd.replace(str(REPO) + '/', '')}")
        if len(commands) > 3:
            print(f"    ... {len(commands) - 3} more (bash {panel.sweep.script} --dry-run lists all)")
    head = ("panel", "runs", "CPU core-h", "CPU core-h, ensembles", "GPU-h projected", "GPU-h projected, ensembles")
    table = [head] + [(p, str(r), _h(x.cpu), _h(x.cpu_ens), _h(x.gpu, True), _h(x.gpu_ens, True)) for p, r, x in rows]
    table.append(("total", str(total_runs), _h(total.cpu), _h(total.cpu_ens), _h(total.gpu, True),
                  _h(total.gpu_ens, True)))
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    print("\n" + "\n".join("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths)))
                           for row in table))
    source = "measured now (--measure)" if measured_now else "from step_costs.py (measured there, command and date)"
    print(f"\nCPU: per-step costs on one core {source}; "
          f"training and evaluation steps priced separately; Fig. 4a tau_m adaptation priced at its cap of "
          f"tau_adapt_max_passes per layer (an upper bound). On 24 cores the CPU part takes about "
          f"{total.cpu_ens / 3600 / 24:,.1f} hours with ensembles.\n"
          f"GPU: PROJECTED, not measured: every LE and BP step at the DESIGN targets' per-step time on one H100 "
          f"({gpu_s(1e3)[0]:.3f} ms alone, {gpu_s(1e3)[1]:.3f} ms per network in an ensemble of 16); Fig. 1, 2a, 3 "
          f"and 5 run on CPUs (—). The fully connected runs use a GPU when one is visible (device: auto); under "
          f"SLURM request it with SBATCH_GRES=gpu:1.\n"
          f"Launch with --launcher local or --launcher slurm.")
    return 0


def _run(argv, cwd=REPO):
    print("$ " + " ".join(map(str, argv)), flush=True)
    return subprocess.run([str(a) for a in argv], cwd=cwd).returncode


def launch_paper(launcher, only=None):
    failed = []
    LAUNCH_DIR.mkdir(parents=True, exist_ok=True)
    (LAUNCH_DIR / "logs").mkdir(exist_ok=True)
    for panel in PANELS:
        sweep = panel.sweep
        if only and panel.id not in only:
            continue
        if sweep.kind == "submit":
            for script in SUBMIT_SCRIPTS:
                if launcher == "slurm":
                    code = _run(["bash", script], cwd=F2CDE)  # the script sbatch's itself (logs/ there)
                else:  # the same ensembles, without SLURM
                    code = subprocess.run(["bash", str(script)], cwd=F2CDE,
                                          env=dict(os.environ, SEEDS=",".join(paper_seeds()))).returncode
                if code:
                    failed.append(f"{panel.id} {script.name} (exit {code})")
            continue
        if launcher == "local":
            code = _run(["bash", REPO / sweep.script] if sweep.kind == "jobs" else list(sweep.argv))
        else:
            commands = job_commands(sweep.script)[0] if sweep.kind == "jobs" else [" ".join(sweep.argv)]
            listing = LAUNCH_DIR / f"{panel.id}.list"
            listing.write_text("\n".join(commands) + "\n")
            code = _run(["sbatch", f"--array=0-{len(commands) - 1}", f"--job-name=le-{panel.id}",
                         f"--cpus-per-task={sweep.cpus}", "-o", LAUNCH_DIR / "logs" / f"{panel.id}_%A_%a.out",
                         REPO / "scripts" / "slurm" / "array_task.sh", listing])
        if code:
            failed.append(f"{panel.id} (exit {code})")
    for f in failed:
        print(f"FAILED: {f}")
    if launcher == "slurm" and not failed:
        print("submitted; watch with `squeue`, then `python scripts/make_figures.py --out figures/`")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(list_paper())
