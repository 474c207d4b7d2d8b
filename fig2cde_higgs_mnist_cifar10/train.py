"""Train and test LE or BP networks on HIGGS, MNIST or CIFAR-10 (Fig. 2c-e): one run, or a sweep of seeds.

    python fig2cde_higgs_mnist_cifar10/train.py CONFIG.yaml [key=value ...] [--out DIR] [--restart]
    python fig2cde_higgs_mnist_cifar10/train.py sweep CONFIG.yaml [...] --seeds 1,2,3 [key=value ...]
        [--root DIR] [--restart] [--restart-run DIR] (common/sweep.py)

A single run is an ensemble of one. The runs of a sweep whose configs differ only in PER_NETWORK keys
(the seed) are trained as one ensemble (ensemble.py); each writes the standard run folder
<root>/<config stem>/seed<S>/ with the files, and on the CPU the bitwise results, of its single run.
All members are checkpointed at the same epoch boundary in the single-run format, so either command
resumes them. SIGTERM/SIGUSR1 stops at a batch boundary (exit 128 + signal); rerunning resumes. A
member that diverges is recorded `diverged` and dropped from the ensemble; the others go on.
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch

from common.cli import entry_point, parse_entry_args
from common.device import resolve_device
from common.divergence import check_finite
from common.errors import Diverged
from common.progress import progress
from common.runfolder import default_run_dir
from common.rungroup import RunGroup
from common.seeding import get_rng_state, seed_everything, set_rng_state
from common.sweep import parse_sweep, run_sweep
from fig2cde_higgs_mnist_cifar10.config import Config
from fig2cde_higgs_mnist_cifar10.datasets import BatchLoader, drop_last_key, load_splits
from fig2cde_higgs_mnist_cifar10.ensemble import build_ensemble
from fig2cde_higgs_mnist_cifar10.trainers import BPTrainer, LETrainer

FOLDER = Path(__file__).resolve().parent
WEIGHT_LIMIT = 1e6  # |weight| beyond this ends the run as diverged
PER_NETWORK = ("seed",)  # an ensemble shares every other key (one n_updates, one optimiser setting)


def setup(cfg, device):
    """Seed, load the splits, build the network (its init draws from the seeded RNG) and loaders."""
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    # torch allows TF32 convolutions by default; only the config key turns TF32 on
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = cfg.tf32
    seed_everything(cfg.seed)
    splits = load_splits(cfg)
    trainer = (LETrainer if cfg.model == "le" else BPTrainer)(cfg, device)
    # model Q3: the authors re-seed after building the LE net, so the shuffle stream is the same
    # for every seed; null shuffles with the run's own seed
    shuffle_seed = cfg.reseed_after_init if cfg.reseed_after_init is not None else cfg.seed
    loaders = {name: BatchLoader(split, cfg.batch_size, shuffle=name == "train",
                                 drop_last=getattr(cfg, drop_last_key(name)), seed=shuffle_seed,
                                 device=device)
               for name, split in splits.items()}
    return trainer, loaders


def checkpoint_state(epoch: int, trainer, loaders) -> dict:
    return {"epoch": epoch, "trainer": trainer.state_dict(), "loader": loaders["train"].get_state(),
            "rng": get_rng_state()}


def resume(state: dict, trainer, loaders) -> int:
    """Restore a checkpoint_state; returns the epoch to continue with."""
    trainer.load_state_dict(state["trainer"])
    loaders["train"].set_state(state["loader"])
    set_rng_state(state["rng"])
    return state["epoch"] + 1


def epoch_record(loss_sum: float, correct: float, loader) -> dict:
    """The metrics.csv record of one pass over `loader` from its summed loss and correct count;
    accuracy and error in percent. `n_scored`: the samples in its batches (fewer than the split's
    when a partial batch is dropped)."""
    n = loader.n_samples
    accuracy = 100.0 * correct / n
    return {"loss": loss_sum / n, "accuracy": accuracy, "error": 100.0 - accuracy, "n_scored": n}


def scored(m: dict, loader, split: str) -> str:
    """'scored N of M' for the log, naming the key that dropped the rest."""
    text = f"scored {m['n_scored']} of {loader.n}"
    if m["n_scored"] < loader.n:
        text += f", '{drop_last_key(split)}' dropped the last partial batch"
    return text


def final_metrics(te: dict, cfg, va: dict) -> dict:
    """summary.json `final` from the test record and the last validation record (the keys of every
    classification summary; n_scored: test samples scored)."""
    return {"test_error": te["error"], "test_accuracy": te["accuracy"], "test_loss": te["loss"],
            "val_error": va["error"], "val_loss": va["loss"], "n_scored": te["n_scored"],
            "epochs": cfg.epochs}


def run_epoch(ens, loaders, runs, group, train: bool, desc: str) -> list[dict]:
    """One pass of every member over its own loader (all have the same number of batches); stops at a
    batch boundary after a stop signal. The members' sums stay on the device: one read per pass."""
    sums = torch.zeros(len(loaders), 2, dtype=torch.float64, device=ens.device)  # [K, (loss, correct)]
    step = ens.train_batch if train else ens.eval_batch
    for batches in progress(zip(*loaders), total=len(loaders[0]), desc=desc):
        sums += step(list(batches))
        for run in runs:
            run.add_steps(ens.n_updates if train else ens.n_eval_steps)
        group.check_stop()
    return [epoch_record(loss, correct, ld) for (loss, correct), ld in zip(sums.tolist(), loaders)]


def _train_members(group, members, device):
    """Members [(run, cfg)] that start at the same epoch, trained as one ensemble to the end."""
    runs = [r for r, _ in members]
    cfgs = [c for _, c in members]
    trainers, loaders, start = [], [], 1
    last_val = [None] * len(members)  # each member's last validation record, for its summary
    for i, (run, cfg) in enumerate(members):
        run.update_summary(dataset=cfg.dataset)  # the data set actually used, for tables and figure titles
        trainer, ld = setup(cfg, device)
        if run.resumed_state is not None:
            last_val[i] = run.resumed_state["val"]
            start = resume(run.resumed_state, trainer, ld)
        trainers.append(trainer)
        loaders.append(ld)
    cfg0, ld0 = cfgs[0], loaders[0]
    K = len(runs)
    print(f"{cfg0.task} {cfg0.model}" + ("" if K == 1 else f" x {K} (seeds {', '.join(str(c.seed) for c in cfgs)})")
          + f" on {device}: batches train {len(ld0['train'])}, val {len(ld0['val'])}, test {len(ld0['test'])}; "
          f"samples train {ld0['train'].n_samples}, val {ld0['val'].n_samples}, test {ld0['test'].n_samples}",
          flush=True)
    ens = build_ensemble(cfg0, trainers, device)
    alive = list(range(K))  # member indices still in the ensemble

    def say(i, text):
        print(text if K == 1 else f"seed {cfgs[i].seed} {text}")

    def epoch(split, train, desc):
        return run_epoch(ens, [loaders[i][split] for i in alive], [runs[i] for i in alive], group, train, desc)

    if start == 1 and cfg0.initial_test:
        for i, m in zip(alive, epoch("test", False, "initial test")):
            runs[i].log_metrics(epoch=0, split="test_initial", **m)
            say(i, f"initial test: loss {m['loss']:.4f} accuracy {m['accuracy']:.2f} % "
                   f"({scored(m, loaders[i]['test'], 'test')})")
    for e in range(start, cfg0.epochs + 1):
        tr = epoch("train", True, f"epoch {e} train")
        va = epoch("val", False, f"epoch {e} val")
        ens.sync()
        keep = []
        for j, i in enumerate(alive):
            run = runs[i]
            try:
                check_finite(e, WEIGHT_LIMIT, train_loss=tr[j]["loss"], val_loss=va[j]["loss"],
                             **trainers[i].check_values())
            except Diverged as err:
                group.mark(run, err)  # its folder ends `diverged`; the others go on
                continue
            keep.append(j)
            run.log_metrics(epoch=e, split="train", **tr[j])
            run.log_metrics(epoch=e, split="val", **va[j])
            say(i, f"epoch {e}: train loss {tr[j]['loss']:.4f} acc {tr[j]['accuracy']:.2f} % "
                   f"({scored(tr[j], loaders[i]['train'], 'train')}) | val loss {va[j]['loss']:.4f} acc "
                   f"{va[j]['accuracy']:.2f} % ({scored(va[j], loaders[i]['val'], 'val')}) ({run.wall_time():.0f}s)")
            run.save_checkpoint(dict(checkpoint_state(e, trainers[i], loaders[i]), val=va[j]))
            last_val[i] = va[j]
        if len(keep) < len(alive):
            alive = [alive[j] for j in keep]
            if not alive:
                return
            ens.keep(keep)
    for i, te in zip(alive, epoch("test", False, "test")):
        runs[i].log_metrics(epoch=cfg0.epochs, split="test", **te)
        say(i, f"test: loss {te['loss']:.4f} accuracy {te['accuracy']:.2f} % error {te['error']:.2f} % "
               f"({scored(te, loaders[i]['test'], 'test')})")
        runs[i].complete(final_metrics(te, cfg0, last_val[i]))


def train_group(jobs, restart=False) -> int:
    """Train the runs `jobs` [(cfg, out_dir)], whose configs differ only in PER_NETWORK keys, as one
    ensemble; restart: see common.rungroup.RunGroup. Returns the exit code."""
    with RunGroup(jobs, restart) as group:
        if group.members:
            device = resolve_device(group.members[0][1].device)
            for members in group.by_checkpoint():  # after a crash between checkpoints epochs differ
                _train_members(group, members, device)
    return group.exit_code


@entry_point
def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["sweep"]:
        sweep = parse_sweep(argv[1:], Config, FOLDER, prog="train.py sweep")
        return run_sweep(sweep, PER_NETWORK, train_group)
    cfg, args = parse_entry_args(Config, argv, description=__doc__.splitlines()[0])
    out = args.out or default_run_dir(FOLDER, args.config, cfg.seed)
    return train_group([(cfg, out)], args.restart)


if __name__ == "__main__":
    sys.exit(main())
