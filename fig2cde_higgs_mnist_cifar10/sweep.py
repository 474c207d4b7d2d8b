"""`train.py sweep`: configs x seeds, the runs of one config trained together as one ensemble.

    python fig2cde_higgs_mnist_cifar10/train.py sweep CONFIG.yaml [CONFIG.yaml ...] --seeds 1,2,3,5,7,8,13,21,34
        [key=value ...] [--root DIR] [--restart]

Runs whose resolved configs differ only in `seed` form one ensemble (`ensemble.py`). Each run writes
the standard run folder <root>/<config stem>/seed<S>/ (default root: runs/ of this folder) with the
files a single `train.py CONFIG.yaml seed=S` run writes; its checkpoint.pt has the single-run format,
written for all members at the same epoch boundary, so either command resumes it. SIGTERM/SIGUSR1
stops the ensemble at a batch boundary (exit 128 + signal); rerunning resumes. A member that diverges
is recorded `diverged` and dropped from the ensemble; the others go on.
"""
from __future__ import annotations

import json
from pathlib import Path

from common.cli import UsageParser, parse_seeds
from common.config import config_to_dict, load_config
from common.divergence import check_finite
from common.errors import Diverged, UsageError
from common.progress import progress
from common.runfolder import default_run_dir
from common.rungroup import RunGroup, run_ensembles
from fig2cde_higgs_mnist_cifar10 import train
from fig2cde_higgs_mnist_cifar10.config import Config
from fig2cde_higgs_mnist_cifar10.ensemble import build_ensemble


def ensemble_key(cfg) -> str:
    """Runs with equal keys differ only in the seed and are trained as one ensemble."""
    shared = {k: v for k, v in config_to_dict(cfg).items() if k != "seed"}
    return json.dumps(shared, sort_keys=True, default=str)


def ensemble_epoch(ens, loaders, runs, group, train_mode: bool, desc: str) -> list[dict]:
    """One pass of every member over its own loader (all have the same number of batches)."""
    sums = [[0.0, 0] for _ in loaders]
    step = ens.train_batch if train_mode else ens.eval_batch
    for batches in progress(zip(*loaders), total=len(loaders[0]), desc=desc):
        for s, (loss, correct) in zip(sums, step(list(batches))):
            s[0] += loss
            s[1] += correct
        for run in runs:
            run.add_steps(ens.n_updates if train_mode else ens.n_eval_steps)
        group.check_stop()
    return [train.epoch_record(loss, correct, loader) for (loss, correct), loader in zip(sums, loaders)]


def _train_members(group, members, device):
    """Members (run, cfg) that start at the same epoch, trained as one ensemble to the end."""
    runs = [r for r, _ in members]
    cfgs = [c for _, c in members]
    trainers, loaders, start = [], [], 1
    last_val = [None] * len(members)  # each member's last validation record, for its summary
    for i, (run, cfg) in enumerate(members):
        trainer, ld = train.setup(cfg, device)
        if run.resumed_state is not None:
            last_val[i] = run.resumed_state["val"]
            start = train.resume(run.resumed_state, trainer, ld)
        trainers.append(trainer)
        loaders.append(ld)
    cfg0, ld0 = cfgs[0], loaders[0]
    print(f"ensemble of {len(runs)} {cfg0.task} {cfg0.model} runs (seeds "
          f"{', '.join(str(c.seed) for c in cfgs)}) on {device}: batches train {len(ld0['train'])}, "
          f"val {len(ld0['val'])}, test {len(ld0['test'])}", flush=True)
    ens = build_ensemble(cfg0, trainers, device)
    alive = list(range(len(runs)))  # member indices still in the ensemble

    def epoch(split, train_mode, desc):
        return ensemble_epoch(ens, [loaders[i][split] for i in alive], [runs[i] for i in alive],
                              group, train_mode, desc)

    if start == 1 and cfg0.initial_test:
        for i, m in zip(alive, epoch("test", False, "initial test")):
            runs[i].log_metrics(epoch=0, split="test_initial", **m)
            print(f"seed {cfgs[i].seed} initial test: loss {m['loss']:.4f} accuracy {m['accuracy']:.2f} % "
                  f"({train.scored(m, loaders[i]['test'], 'test')})")
    for e in range(start, cfg0.epochs + 1):
        tr = epoch("train", True, f"epoch {e} train")
        va = epoch("val", False, f"epoch {e} val")
        ens.sync()
        keep = []
        for j, i in enumerate(alive):
            run = runs[i]
            try:
                check_finite(e, train.WEIGHT_LIMIT, train_loss=tr[j]["loss"], val_loss=va[j]["loss"],
                             **trainers[i].check_values())
            except Diverged as err:
                group.mark(run, err)  # its folder ends `diverged`; the others go on
                continue
            keep.append(j)
            run.log_metrics(epoch=e, split="train", **tr[j])
            run.log_metrics(epoch=e, split="val", **va[j])
            print(f"seed {cfgs[i].seed} epoch {e}: train loss {tr[j]['loss']:.4f} acc "
                  f"{tr[j]['accuracy']:.2f} % ({train.scored(tr[j], loaders[i]['train'], 'train')}) | "
                  f"val loss {va[j]['loss']:.4f} acc {va[j]['accuracy']:.2f} % "
                  f"({train.scored(va[j], loaders[i]['val'], 'val')}) ({run.wall_time():.0f}s)")
            run.save_checkpoint(dict(train.checkpoint_state(e, trainers[i], loaders[i]), val=va[j]))
            last_val[i] = va[j]
        if len(keep) < len(alive):
            alive = [alive[j] for j in keep]
            if not alive:
                return
            ens.keep(keep)
    for i, te in zip(alive, epoch("test", False, "test")):
        runs[i].log_metrics(epoch=cfg0.epochs, split="test", **te)
        print(f"seed {cfgs[i].seed} test: loss {te['loss']:.4f} accuracy {te['accuracy']:.2f} % "
              f"error {te['error']:.2f} % ({train.scored(te, loaders[i]['test'], 'test')})")
        runs[i].complete(train.final_metrics(te, cfg0, last_val[i]))


def train_ensemble(jobs, restart=False) -> int:
    """Train the runs `jobs` [(cfg, out_dir)], whose configs differ only in the seed, together."""
    with RunGroup(jobs, restart) as group:
        if group.members:
            device = train.resolve_device(group.members[0][1].device)
            for members in group.by_checkpoint():
                _train_members(group, members, device)
    return group.exit_code


def cmd_sweep(argv) -> int:
    p = UsageParser(prog="train.py sweep", description=__doc__.splitlines()[0])
    p.add_argument("items", nargs="+", metavar="CONFIG.yaml|key=value")
    p.add_argument("--seeds", required=True, help="e.g. 1,2,3,5,7,8,13,21,34 or 1-9")
    p.add_argument("--root", type=Path, default=None, help="run folders go to ROOT/<stem>/seed<S>")
    p.add_argument("--restart", action="store_true",
                   help="discard existing run folders of a different config and start over")
    a = p.parse_intermixed_args(argv)
    configs = [Path(x) for x in a.items if "=" not in x]
    overrides = [x for x in a.items if "=" in x]
    if not configs:
        raise UsageError("sweep needs at least one CONFIG.yaml")
    if any(o.split("=", 1)[0] == "seed" for o in overrides):
        raise UsageError("sweep: give the seeds with --seeds, not seed=")
    jobs = []
    for path in configs:
        for seed in parse_seeds(a.seeds):
            cfg = load_config(Config, path, overrides + [f"seed={seed}"])
            out = a.root / path.stem / f"seed{seed}" if a.root else default_run_dir(train.FOLDER, path, seed)
            jobs.append((cfg, out))
    return run_ensembles(jobs, ensemble_key, lambda group_jobs: train_ensemble(group_jobs, a.restart))
