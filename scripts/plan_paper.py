"""The paper profile of reproduce.py: every sweep of the paper (panels.py) through the folders' job scripts.

List (--dry-run): each panel's job-script commands, its networks and its price. The commands are the
job scripts' own --dry-run output (for the Fig. 2c-e submit scripts, the sweeps the submitted job
runs). Each command is parsed by the entry script's own sweep parser (common/sweep.py): configs x
variants x seeds, every override loaded and checked as the run will load it, and grouped into the
ensembles the sweep will step together (ensemble_key with the folder's PER_NETWORK keys).

Price: CPU core-hours from the per-step costs of each model measured on one core (step_costs.py and
step_costs.json; --measure measures them again here) times the steps of every run, alone and in
ensembles (fc: the measured per-network cost in an ensemble of 8; microcircuits: of 20; Fig. 2c-e:
1.0x, members in turn on a CPU). GPU-hours and peak GPU memory are a PROJECTION (no GPU measured):
the model and device constants of step_costs.GPU, per network alone and per ensemble as the sweep
groups it; Fig. 1, 2a, 3 and 5 run on CPUs.

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
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import step_costs
from common.cli import UsageParser, entry_point
from panels import PANELS
from step_costs import (MEASURED, bars_network_steps, fc_core_s, fc_ensemble_factor, fc_steps, gpu_bytes, gpu_step_s,
                        le_bp_core_s, le_bp_steps, model_2cde)

REPO = Path(__file__).resolve().parents[1]
F2B, F2CDE, F35 = (REPO / f for f in ("fig2b_fig4ac_mnist", "fig2cde_higgs_mnist_cifar10",
                                        "fig3fig5_dendritic_microcircuits"))
LAUNCH_DIR = REPO / "runs" / "paper_launch"
SUBMIT_SCRIPTS = [F2CDE / f"submit_python_{t}_gpu_v100.sh" for t in ("higgs", "mnist", "cifar10")]


@dataclass
class Price:
    """The cost of a set of runs: CPU core-seconds and projected GPU-seconds, each without / with
    ensembles, and the projected peak GPU memory of the largest ensemble (bytes)."""
    cpu: float = 0.0
    cpu_ens: float = 0.0
    gpu: float = 0.0
    gpu_ens: float = 0.0
    gpu_mem: float = 0.0

    def __add__(self, o):
        return Price(self.cpu + o.cpu, self.cpu_ens + o.cpu_ens, self.gpu + o.gpu, self.gpu_ens + o.gpu_ens,
                     max(self.gpu_mem, o.gpu_mem))


# ------------------------------------------------------------------ the commands of a job script
def _dry_run(script, cwd=REPO):
    """(command lines, declared run count or None) of `bash script --dry-run`, outside SLURM."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_") and k not in ("SEEDS", "SEED")}
    out = subprocess.run(["bash", str(REPO / script), "--dry-run"], capture_output=True, text=True, cwd=cwd,
                         timeout=120, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"{script} --dry-run failed (exit {out.returncode}): {out.stderr.strip()[-300:]}")
    commands, declared = [], None
    for line in out.stdout.splitlines():
        if _sweep_at(shlex.split(line, comments=False)) is not None:
            commands.append(line.strip())
        else:
            count = re.findall(r"\b(\d+) runs\b", line)
            declared = int(count[-1]) if count else declared
    return commands, declared


def job_commands(script):
    """(commands, run count the script declares, or None) of a panel's job script."""
    return _dry_run(script)


def paper_seeds():
    """The seeds each Fig. 2c-e submit script trains (one ensemble each for LE and BP): PAPER_SEEDS of
    submit_lib.sh."""
    return re.search(r"PAPER_SEEDS=\(([\d ]+)\)", (F2CDE / "submit_lib.sh").read_text()).group(1).split()


def submit_commands(script):
    """(commands, declared count or None) of one Fig. 2c-e submit script: the sweeps its --dry-run
    says the job runs (outside SLURM it submits nothing then)."""
    return _dry_run(script, cwd=F2CDE)


# ------------------------------------------------------------------ a command's networks
def _sweep_at(words):
    """Index of the `sweep` word that follows an entry script (*.py) in a command, or None."""
    for i in range(1, len(words)):
        if words[i] == "sweep" and words[i - 1].endswith(".py"):
            return i
    return None


@dataclass
class Network:
    config: Path     # the config file
    cfg: dict        # its resolved values (variant, sweep and seed overrides applied)


def _folder_rules(entry):
    """(Config class, seed key, PER_NETWORK keys) of the folder an entry script belongs to."""
    folder = next(p for p in (F2B, F2CDE, F35) if p in Path(entry).resolve().parents)
    if folder == F2B:
        from fig2b_fig4ac_mnist.src.config import Config
        from fig2b_fig4ac_mnist.src.ensemble_runs import PER_NETWORK
        return Config, "seed", PER_NETWORK
    if folder == F2CDE:
        from fig2cde_higgs_mnist_cifar10.config import Config
        from fig2cde_higgs_mnist_cifar10.train import PER_NETWORK
        return Config, "seed", PER_NETWORK
    from fig3fig5_dendritic_microcircuits.src.bars_train import PER_NETWORK
    from fig3fig5_dendritic_microcircuits.src.config import BarsConfig
    return BarsConfig, "training.seed", PER_NETWORK


def ensembles(command):
    """The networks of one job-script command as the sweep groups them: [[Network, ...], ...], one list
    per ensemble, in the entry script's order (configs x variants x seeds)."""
    from common.config import config_to_dict
    from common.sweep import ensemble_key, parse_sweep, sweep_parser

    words = shlex.split(command)
    i = _sweep_at(words)
    if i is None:
        raise ValueError(f"not a sweep command: {command}")
    entry = REPO / words[i - 1]  # a relative path is relative to the repository root
    argv = [str(REPO / w) if w.endswith(".yaml") else w for w in words[i + 1:]]
    args = sweep_parser("sweep").parse_intermixed_args(argv)
    configs = [Path(x) for x in args.items if "=" not in x]
    cls, seed_key, per_network = _folder_rules(entry)
    jobs = parse_sweep(argv, cls, entry.parent, seed_key=seed_key).jobs
    per_config = len(jobs) // len(configs)  # jobs come ordered config, variant, seed
    groups = defaultdict(list)
    for j, (cfg, _) in enumerate(jobs):
        values = config_to_dict(cfg)
        if "network" in values:  # microcircuits: the derived step count N prices the run
            values["network"]["steps_per_pattern"] = cfg.network.steps_per_pattern
        groups[ensemble_key(cfg, per_network)].append(Network(configs[j // per_config], values))
    return list(groups.values())


# ------------------------------------------------------------------ prices
def _scaled(trace, ratio):
    """A trace at another batch size: work and temporaries in proportion, kernels as they are."""
    return dict(trace, flops=trace["flops"] * ratio, bytes=trace["bytes"] * ratio, pool=trace["pool"] * ratio)


@dataclass
class Schedule:
    """One network's work: (steps, traced step) per kind of step (fc: training, evaluation, tau_m
    adaptation; Fig. 2c-e: training, evaluation), CPU seconds alone, and how it runs."""
    kinds: list
    core_s: float
    cpu_ensemble_factor: float   # CPU cost of a network in an ensemble relative to alone
    graphs: bool                 # replayed as CUDA graphs on a GPU (LE); BP launches eagerly
    data: str                    # the data set its process holds on the device


def schedule(net, costs):
    cfg = net.cfg
    if "epoch_qty" in cfg:  # fc
        trace = costs["fc"][net.config.stem]["trace"]
        kinds = list(zip(fc_steps(cfg), (trace["train"], trace["eval"], trace.get("adapt", trace["eval"]))))
        return Schedule(kinds, fc_core_s(net.config.stem, cfg, costs), fc_ensemble_factor(costs), True, "mnist")
    c = costs["fig2cde"][cfg["task"]][model_2cde(cfg)]
    ratio = cfg["batch_size"] / c["batch"]
    kinds = list(zip(le_bp_steps(cfg), (_scaled(c["trace"][k], ratio) for k in ("train", "eval"))))
    return Schedule(kinds, le_bp_core_s(cfg, costs), 1.0, model_2cde(cfg) == "le", cfg["task"])


def price_ensemble(nets, costs):
    """Price of one ensemble of K networks: each network alone, and all K stepped together (every
    member steps while the longest schedule of each kind of step lasts)."""
    if "network" in nets[0].cfg:  # microcircuits: CPU engine only
        steps = sum(bars_network_steps(n.cfg["network"]["steps_per_pattern"], n.cfg["training"]["n_epochs"])
                    for n in nets)
        return Price(steps * costs["mc"]["single"], steps * costs["mc"]["ensemble"])
    K, price = len(nets), Price()
    plans = [schedule(n, costs) for n in nets]
    for p in plans:
        price += Price(p.core_s, p.core_s * p.cpu_ensemble_factor,
                       sum(steps * gpu_step_s(trace, 1, p.graphs) for steps, trace in p.kinds))
    for k in range(len(plans[0].kinds)):
        steps = max(p.kinds[k][0] for p in plans)
        price.gpu_ens += steps * max(gpu_step_s(p.kinds[k][1], K, p.graphs) for p in plans)
        price.gpu_mem = max([price.gpu_mem] + [gpu_bytes(p.kinds[k][1], K, p.data) for p in plans])
    return price


def describe(panel, costs=MEASURED):
    """(commands, networks, networks the job script declares or None, ensemble sizes, price) of a panel."""
    sweep = panel.sweep
    if sweep.kind == "single":
        return [" ".join(sweep.argv)], 1, 1, [1], Price(sweep.core_s, sweep.core_s)
    if sweep.kind == "submit":
        commands, declared = [], 0
        for script in SUBMIT_SCRIPTS:
            c, d = submit_commands(script)
            commands += c
            declared = None if d is None or declared is None else declared + d
    else:
        commands, declared = job_commands(sweep.script)
    price, sizes = Price(), []
    for command in commands:
        for nets in ensembles(command):
            price += price_ensemble(nets, costs)
            sizes.append(len(nets))
    return commands, sum(sizes), declared, sizes, price


# ------------------------------------------------------------------ the listing
def _h(seconds, gpu=False):
    if gpu and seconds == 0:
        return "—"
    hours = seconds / 3600
    return f"{hours:,.0f}" if hours >= 100 else f"{hours:,.1f}" if hours >= 1 else f"{hours:.2f}"


def _gb(b):
    return f"{b / 1e9:.1f}" if b else "—"


def list_paper(only=None, costs=None):
    measured_now = costs is not None
    costs = costs or MEASURED
    print("Paper profile: the complete sweeps, through the folders' job scripts\n")
    rows, total_runs, total = [], 0, Price()
    for panel in PANELS:
        if only and panel.id not in only:
            continue
        commands, runs, declared, sizes, price = describe(panel, costs)
        total_runs, total = total_runs + runs, total + price
        rows.append((panel.id, runs, price))
        how = {"jobs": f"bash {panel.sweep.script}", "submit": "the Fig. 2c-e submit scripts"}.get(panel.sweep.kind, "single")
        check = "" if declared in (None, runs) else f" (the script's --dry-run says {declared}: MISMATCH)"
        span = f"{min(sizes)}" if sizes and min(sizes) == max(sizes) else f"{min(sizes)}-{max(sizes)}"
        ens = f", ensembles of {span}" if sizes and max(sizes) > 1 else ""
        gpu = (f"{_h(price.gpu)} GPU-hours alone / {_h(price.gpu_ens)} in ensembles, peak {_gb(price.gpu_mem)} GB "
               f"(projected)" if price.gpu else "CPU only")
        print(f"{panel.id}: {panel.sweep.title}: {runs} runs{check} in {len(commands)} commands ({how}{ens}); "
              f"{_h(price.cpu)} CPU core-hours, {gpu}")
        for cmd in commands[:2]:
            print(f"    {cmd.replace(str(REPO) + '/', '')}")
        if len(commands) > 2:
            more = (f"bash {panel.sweep.script} --dry-run" if panel.sweep.kind == "jobs"
                    else "each submit script's --dry-run")
            print(f"    ... {len(commands) - 2} more ({more} lists all)")
    head = ("panel", "runs", "CPU core-h", "CPU core-h, ensembles", "GPU-h alone", "GPU-h, ensembles",
            "GPU GB, peak")
    table = [head] + [(p, str(r), _h(x.cpu), _h(x.cpu_ens), _h(x.gpu, True), _h(x.gpu_ens, True), _gb(x.gpu_mem))
                      for p, r, x in rows]
    table.append(("total", str(total_runs), _h(total.cpu), _h(total.cpu_ens), _h(total.gpu, True),
                  _h(total.gpu_ens, True), _gb(total.gpu_mem)))
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    print("\n" + "\n".join("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths)))
                           for row in table))
    m = costs.get("measured", {})
    source = ("measured now (--measure)" if measured_now else
              f"from scripts/step_costs.json ({m.get('command', '?')}, {m.get('date', '?')}, {m.get('machine', '?')}, "
              f"load average {m.get('load_average', '?')})")
    print(f"\nCPU: per-step costs of each model on one core {source}; training, evaluation and Fig. 4a "
          f"tau_m-adaptation steps priced apart, the adaptation at its cap of tau_adapt_max_passes per layer "
          f"(an upper bound). On 24 cores the CPU part takes about {total.cpu_ens / 3600 / 24:,.0f} hours "
          f"with ensembles.\n"
          f"GPU: PROJECTED, not measured (no GPU was at hand): {step_costs.gpu_assumptions()}. 'alone': one network per GPU; "
          f"'ensembles': each sweep's ensembles, one after another on one GPU. Fig. 1, 2a, 3 and 5 run on "
          f"CPUs (—).\n"
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


@entry_point
def main(argv=None):
    UsageParser(description=__doc__.split("\n\n")[0]).parse_args(argv)  # no options: refuses any
    return list_paper()


if __name__ == "__main__":
    sys.exit(main())
