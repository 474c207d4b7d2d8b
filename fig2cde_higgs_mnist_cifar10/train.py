"""Train and test one LE or BP network on HIGGS, MNIST or CIFAR-10 (Fig. 2c-e).

    python fig2cde_higgs_mnist_cifar10/train.py CONFIG.yaml [key=value ...] [--out DIR] [--restart]
    python fig2cde_higgs_mnist_cifar10/train.py sweep CONFIG.yaml [...] --seeds 1,2,3 [key=value ...]
        (all seeds of a config as one ensemble, one run folder per seed; see sweep.py)
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch

from common.cli import entry_point, parse_entry_args
from common.device import resolve_device
from common.divergence import check_finite
from common.progress import progress
from common.runfolder import RunFolder, default_run_dir
from common.seeding import get_rng_state, seed_everything, set_rng_state
from fig2cde_higgs_mnist_cifar10.config import Config
from fig2cde_higgs_mnist_cifar10.datasets import BatchLoader, drop_last_key, load_splits
from fig2cde_higgs_mnist_cifar10.trainers import BPTrainer, LETrainer

FOLDER = Path(__file__).resolve().parent
WEIGHT_LIMIT = 1e6  # |weight| beyond this ends the run as diverged


def run_epoch(trainer, loader, run, train: bool, desc: str) -> dict:
    """One pass over `loader`; stops at a batch boundary after SIGTERM/SIGUSR1. `n_scored`: the samples
    in its batches (fewer than the split's when a partial batch is dropped)."""
    loss_sum, correct = 0.0, 0
    step = trainer.train_batch if train else trainer.eval_batch
    for x, labels in progress(loader, total=len(loader), desc=desc):
        loss, c = step(x, labels)
        loss_sum, correct = loss_sum + loss, correct + c
        run.add_steps(trainer.n_updates if train else trainer.n_eval_steps)
        run.check_stop()
    return epoch_record(loss_sum, correct, loader)


def epoch_record(loss_sum: float, correct: int, loader) -> dict:
    """The metrics.csv record of one pass over `loader` from its summed loss and correct count;
    accuracy and error in percent."""
    n = loader.n_samples
    accuracy = 100.0 * correct / n
    return {"loss": loss_sum / n, "accuracy": accuracy, "error": 100.0 - accuracy, "n_scored": n}


def scored(m: dict, loader, split: str) -> str:
    """'scored N of M' for the log, naming the key that dropped the rest."""
    text = f"scored {m['n_scored']} of {loader.n}"
    if m["n_scored"] < loader.n:
        text += f", '{drop_last_key(split)}' dropped the last partial batch"
    return text


def setup(cfg, device):
    """Seed, load the splits, build the network (its init draws from the seeded RNG) and loaders."""
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    # torch allows TF32 convolutions by default; only the config key turns TF32 on
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = cfg.tf32
    seed_everything(cfg.seed)
    splits = load_splits(cfg)
    trainer = (LETrainer if cfg.model == "le" else BPTrainer)(cfg, device)
    # spec Q3: the authors re-seed after building the LE net, so the shuffle stream is the same
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


def final_metrics(te: dict, cfg, va: dict) -> dict:
    """summary.json `final` from the test record and the last validation record (the keys of every
    classification summary; n_scored: test samples scored)."""
    return {"test_error": te["error"], "test_accuracy": te["accuracy"], "test_loss": te["loss"],
            "val_error": va["error"], "val_loss": va["loss"], "n_scored": te["n_scored"],
            "epochs": cfg.epochs}


@entry_point
def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["sweep"]:  # configs x seeds as ensembles (sweep.py)
        from fig2cde_higgs_mnist_cifar10.sweep import cmd_sweep
        return cmd_sweep(argv[1:])
    cfg, args = parse_entry_args(Config, argv, description=__doc__.splitlines()[0])
    out = args.out or default_run_dir(FOLDER, args.config, cfg.seed)
    with RunFolder(out, cfg, restart=args.restart) as run:
        if run.already_completed:
            return 0
        device = resolve_device(cfg.device)
        trainer, loaders = setup(cfg, device)
        print(f"{cfg.task} {cfg.model} on {device}: batches train {len(loaders['train'])}, "
              f"val {len(loaders['val'])}, test {len(loaders['test'])}; samples train "
              f"{loaders['train'].n_samples}, val {loaders['val'].n_samples}, test {loaders['test'].n_samples}")
        start = 1
        if run.resumed_state is not None:
            va = run.resumed_state["val"]  # the last validation record, for the summary
            start = resume(run.resumed_state, trainer, loaders)
        elif cfg.initial_test:
            m = run_epoch(trainer, loaders["test"], run, False, "initial test")
            run.log_metrics(epoch=0, split="test_initial", **m)
            print(f"initial test: loss {m['loss']:.4f} accuracy {m['accuracy']:.2f} % "
                  f"({scored(m, loaders['test'], 'test')})")
        for epoch in range(start, cfg.epochs + 1):
            tr = run_epoch(trainer, loaders["train"], run, True, f"epoch {epoch} train")
            va = run_epoch(trainer, loaders["val"], run, False, f"epoch {epoch} val")
            check_finite(epoch, WEIGHT_LIMIT, train_loss=tr["loss"], val_loss=va["loss"],
                         **trainer.check_values())
            run.log_metrics(epoch=epoch, split="train", **tr)
            run.log_metrics(epoch=epoch, split="val", **va)
            print(f"epoch {epoch}: train loss {tr['loss']:.4f} acc {tr['accuracy']:.2f} % "
                  f"({scored(tr, loaders['train'], 'train')}) | val loss {va['loss']:.4f} acc "
                  f"{va['accuracy']:.2f} % ({scored(va, loaders['val'], 'val')}) ({run.wall_time():.0f}s)")
            run.save_checkpoint(dict(checkpoint_state(epoch, trainer, loaders), val=va))
        te = run_epoch(trainer, loaders["test"], run, False, "test")
        run.log_metrics(epoch=cfg.epochs, split="test", **te)
        print(f"test: loss {te['loss']:.4f} accuracy {te['accuracy']:.2f} % error {te['error']:.2f} % "
              f"({scored(te, loaders['test'], 'test')})")
        run.complete(final_metrics(te, cfg, va))
    return run.exit_code


if __name__ == "__main__":
    sys.exit(main())
