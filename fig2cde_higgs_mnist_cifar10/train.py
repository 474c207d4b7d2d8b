"""Train and test one LE or BP network on HIGGS, MNIST or CIFAR-10 (Fig. 2c-e).

    python fig2cde_higgs_mnist_cifar10/train.py CONFIG.yaml [key=value ...] [--out DIR] [--restart]
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
from fig2cde_higgs_mnist_cifar10.datasets import BatchLoader, load_splits
from fig2cde_higgs_mnist_cifar10.trainers import BPTrainer, LETrainer

FOLDER = Path(__file__).resolve().parent
WEIGHT_LIMIT = 1e6  # |weight| beyond this ends the run as diverged


def run_epoch(trainer, loader, run, train: bool, desc: str) -> dict:
    """One pass over `loader`; stops at a batch boundary after SIGTERM/SIGUSR1."""
    loss_sum, correct = 0.0, 0
    step = trainer.train_batch if train else trainer.eval_batch
    for x, labels in progress(loader, total=len(loader), desc=desc):
        loss, c = step(x, labels)
        loss_sum, correct = loss_sum + loss, correct + c
        run.add_steps(getattr(trainer, "n_updates", 1))
        run.check_stop()
    n = loader.n_samples
    return {"loss": loss_sum / n, "accuracy": correct / n, "error": 1.0 - correct / n, "samples": n}


def setup(cfg, device):
    """Seed, load the splits, build the network (its init draws from the seeded RNG) and loaders."""
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    seed_everything(cfg.seed)
    splits = load_splits(cfg)
    trainer = (LETrainer if cfg.model == "le" else BPTrainer)(cfg, device)
    # spec Q3: the authors re-seed after building the LE net, so the shuffle stream is the same
    # for every seed; null shuffles with the run's own seed
    shuffle_seed = cfg.reseed_after_init if cfg.reseed_after_init is not None else cfg.seed
    loaders = {name: BatchLoader(split, cfg.batch_size, shuffle=name == "train",
                                 drop_last=cfg.drop_last, seed=shuffle_seed, device=device)
               for name, split in splits.items()}
    return trainer, loaders


@entry_point
def main(argv=None):
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
            state = run.resumed_state
            trainer.load_state_dict(state["trainer"])
            loaders["train"].set_state(state["loader"])
            set_rng_state(state["rng"])
            start = state["epoch"] + 1
        elif cfg.initial_test:
            m = run_epoch(trainer, loaders["test"], run, False, "initial test")
            run.log_metrics(epoch=0, split="test_initial", **m)
            print(f"initial test: loss {m['loss']:.4f} accuracy {m['accuracy']:.4f}")
        for epoch in range(start, cfg.epochs + 1):
            tr = run_epoch(trainer, loaders["train"], run, True, f"epoch {epoch} train")
            va = run_epoch(trainer, loaders["val"], run, False, f"epoch {epoch} val")
            check_finite(epoch, WEIGHT_LIMIT, train_loss=tr["loss"], val_loss=va["loss"],
                         **trainer.check_values())
            run.log_metrics(epoch=epoch, split="train", **tr)
            run.log_metrics(epoch=epoch, split="val", **va)
            print(f"epoch {epoch}: train loss {tr['loss']:.4f} acc {tr['accuracy']:.4f} | "
                  f"val loss {va['loss']:.4f} acc {va['accuracy']:.4f} ({run.wall_time():.0f}s)")
            run.save_checkpoint({"epoch": epoch, "trainer": trainer.state_dict(),
                                 "loader": loaders["train"].get_state(), "rng": get_rng_state()})
        te = run_epoch(trainer, loaders["test"], run, False, "test")
        run.log_metrics(epoch=cfg.epochs, split="test", **te)
        print(f"test: loss {te['loss']:.4f} accuracy {te['accuracy']:.4f} error {te['error']:.4f}")
        run.complete({"test_error": te["error"], "test_accuracy": te["accuracy"],
                      "test_loss": te["loss"], "test_samples": te["samples"], "epochs": cfg.epochs})
    return run.exit_code


if __name__ == "__main__":
    sys.exit(main())
