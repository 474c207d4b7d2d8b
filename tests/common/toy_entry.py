"""A toy experiment built only from `common`: noisy SGD on a linear model, used by the tests to
check config handling, the run folder, SIGTERM checkpoint/resume and divergence handling."""
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch

from common.cli import entry_point, parse_entry_args
from common.config import require
from common.data import load_higgs, load_vision
from common.device import resolve_device
from common.divergence import check_finite
from common.progress import progress
from common.runfolder import RunFolder, default_run_dir
from common.seeding import get_rng_state, seed_everything, set_rng_state

FOLDER = Path(__file__).resolve().parent


@dataclass(frozen=True)
class ToyConfig:
    lr: float
    epochs: int
    batches: int
    noise: float
    optimizer: Literal["sgd", "sign"]
    seed: int
    sleep: float = 0.0
    device: Literal["cpu", "cuda", "auto"] = "cpu"
    dataset: Literal["none", "mnist", "fashion_mnist", "cifar10", "higgs"] = "none"
    data_root: str | None = None                    # read (and only counted) when dataset is set

    def check(self):
        require(self.lr > 0, "lr", "must be > 0")
        require(self.epochs >= 1, "epochs", "must be >= 1")


@entry_point
def main(argv=None):
    cfg, args = parse_entry_args(ToyConfig, argv, description="toy experiment")
    out = args.out or default_run_dir(FOLDER, args.config, cfg.seed)
    resolve_device(cfg.device)                     # the toy computes on the CPU; checks the key
    with RunFolder(out, cfg, restart=args.restart) as run:
        if run.already_completed:
            return 0
        if cfg.dataset == "higgs":
            print(f"{len(load_higgs(cfg.data_root)[1])} HIGGS rows")
        elif cfg.dataset != "none":
            n = [len(load_vision(cfg.dataset, train, cfg.data_root)[1]) for train in (True, False)]
            print(f"{cfg.dataset}: {n[0]} train / {n[1]} test images")
        seed_everything(cfg.seed)
        w_true = torch.arange(1.0, 5.0)
        w = torch.zeros(4)
        start = 0
        if run.resumed_state is not None:
            w, start = run.resumed_state["w"], run.resumed_state["epoch"] + 1
            set_rng_state(run.resumed_state["rng"])
        for epoch in range(start, cfg.epochs):
            for _ in progress(range(cfg.batches), desc=f"epoch {epoch}"):
                x = torch.randn(8, 4)
                y = x @ w_true + cfg.noise * torch.randn(8)
                grad = x.T @ (x @ w - y) / 8
                w = w - cfg.lr * (grad if cfg.optimizer == "sgd" else grad.sign())
                run.add_steps(1)
                time.sleep(cfg.sleep)
                run.check_stop()
            loss = float(((w - w_true) ** 2).sum())
            check_finite(epoch, loss=loss, w=w)
            run.log_metrics(epoch=epoch, split="val", loss=loss)
            print(f"epoch {epoch}: loss {loss:.6g}")
            final = None
            if epoch == cfg.epochs - 1:
                run.log_metrics(epoch=epoch, split="test", loss=loss)
                final = {"test_loss": loss, "w": w.tolist()}
            # the last checkpoint carries the final metrics and marks the run completed
            run.save_checkpoint({"w": w, "epoch": epoch, "rng": get_rng_state()}, final=final)
    return run.exit_code


if __name__ == "__main__":
    sys.exit(main())
