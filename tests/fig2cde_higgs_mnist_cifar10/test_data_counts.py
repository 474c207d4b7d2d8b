"""docs/model/fig2cde_higgs_mnist_cifar10.md §6 items 12-14: data bookkeeping, parameter counts, seed semantics."""
from pathlib import Path

import pytest
import torch

from common.config import load_config
from common.data import load_higgs
from common.synthetic import write_higgs
from fig2cde_higgs_mnist_cifar10.config import Config
from fig2cde_higgs_mnist_cifar10.datasets import BatchLoader, Split, load_splits
from fig2cde_higgs_mnist_cifar10.model.architectures import build_bp
from fig2cde_higgs_mnist_cifar10.train import setup
from tests.fig2cde_higgs_mnist_cifar10.helpers import make_net

CONFIGS = Path(__file__).resolve().parents[2] / "fig2cde_higgs_mnist_cifar10" / "configs"


def _loader_sizes(n, batch_size, drop_last):
    loader = BatchLoader(Split(torch.zeros(n, 1), torch.zeros(n, dtype=torch.long)), batch_size,
                         shuffle=False, drop_last=drop_last, seed=0, device="cpu")
    return len(loader), loader.n_samples


@pytest.mark.parametrize("stem,sizes", [
    ("higgs_le", [(2671, 341_888), (140, 17_920), (312, 39_936)]),
    ("higgs_bp", [(2672, 342_000), (141, 18_000), (313, 40_000)]),
    ("mnist_le", [(97, 49_664), (19, 9_728), (19, 9_728)]),
    ("mnist_bp", [(391, 50_000), (79, 10_000), (79, 10_000)]),
    ("cifar10_le", [(312, 39_936), (78, 9_984), (78, 9_984)]),
    ("cifar10_bp", [(313, 40_000), (79, 10_000), (79, 10_000)]),
    # the update-matched baseline sees the batches and scores the samples of the LE run
    ("higgs_bp_matched", [(2671, 341_888), (140, 17_920), (312, 39_936)]),
    ("mnist_bp_matched", [(97, 49_664), (19, 9_728), (19, 9_728)]),
    ("cifar10_bp_matched", [(312, 39_936), (78, 9_984), (78, 9_984)]),
])
def test_loader_sizes_of_the_paper_configs(stem, sizes):
    """Item 12 / docs/model/fig2cde_higgs_mnist_cifar10.md §2.2 table: batch counts and evaluated samples from the configs' keys."""
    cfg = load_config(Config, CONFIGS / f"{stem}.yaml")
    if cfg.task == "higgs":
        pool = cfg.higgs_rows - cfg.higgs_test_rows
        n = [pool - cfg.val_size, cfg.val_size, cfg.higgs_test_rows]
        assert n == [342_000, 18_000, 40_000]
    else:
        n_train = {"mnist": 60_000, "cifar10": 50_000}[cfg.task]
        n = [n_train - cfg.val_size, cfg.val_size, 10_000]
    drops = [cfg.drop_last, cfg.eval_drop_last, cfg.eval_drop_last]
    got = [_loader_sizes(k, cfg.batch_size, drop) for k, drop in zip(n, drops)]
    assert got == sizes


@pytest.mark.parametrize("stem", [f"smoke_{t}_{m}" for t in ("higgs", "mnist", "cifar10")
                                  for m in ("le", "bp", "bp_matched")])
def test_smoke_configs_score_every_sample(stem):
    """Smoke runs drop nothing: every sample of every split is in a batch."""
    cfg = load_config(Config, CONFIGS / f"{stem}.yaml")
    _, loaders = setup(cfg, torch.device("cpu"))
    assert all(loader.n_samples == loader.n for loader in loaders.values())


def test_higgs_split_uses_first_rows_and_last_rows_as_test(tmp_path):
    """Item 12 on a synthetic UCI file: the first higgs_rows rows, test = the last higgs_test_rows of
    them, seeded train/val split of the rest."""
    cfg = load_config(Config, CONFIGS / "smoke_higgs_le.yaml",
                      ["dataset=higgs", f"data_root={tmp_path}", "higgs_rows=200", "higgs_test_rows=40",
                       "val_size=16"])
    write_higgs(tmp_path / "HIGGS.csv.gz", 260)
    X, y = load_higgs(tmp_path)
    splits = load_splits(cfg)
    assert [len(splits[k]) for k in ("train", "val", "test")] == [144, 16, 40]
    assert torch.equal(splits["test"].x, X[160:200])
    pool = {tuple(r.tolist()) for r in X[:160]}
    assert all(tuple(r.tolist()) in pool for r in torch.cat([splits["train"].x, splits["val"].x]))
    assert len({tuple(r.tolist()) for r in torch.cat([splits["train"].x, splits["val"].x])}) == 160


def test_mnist_splits_official_and_openml_random():
    """Q6: official = the official test set; openml_random = a seeded draw from all images."""
    base = load_config(Config, CONFIGS / "smoke_mnist_le.yaml")
    off = load_splits(base)
    rnd = load_splits(load_config(Config, CONFIGS / "smoke_mnist_le.yaml", ["test_split=openml_random"]))
    assert [len(off[k]) for k in ("train", "val", "test")] == [160, 32, 48]
    assert [len(rnd[k]) for k in ("train", "val", "test")] == [160, 32, 48]
    assert not torch.equal(off["test"].x, rnd["test"].x)


@pytest.mark.parametrize("task,count", [("higgs", 189_601), ("mnist", 431_080), ("cifar10", 657_080)])
def test_parameter_counts(task, count):
    """Item 13: LE and BP networks have the same number of parameters."""
    assert make_net(task).n_parameters() == count
    assert sum(p.numel() for p in build_bp(task).parameters()) == count


@pytest.mark.parametrize("reseed,same_stream", [(7, True), (None, False)])
def test_seed_semantics(reseed, same_stream):
    """Item 14 / Q3: different seeds give different initial weights; with reseed_after_init = 7 the
    training shuffle stream is the same for every seed, without it it differs."""
    nets, orders = [], []
    for seed in (1, 2):
        cfg = load_config(Config, CONFIGS / "smoke_higgs_le.yaml",
                          [f"seed={seed}", f"reseed_after_init={'null' if reseed is None else reseed}"])
        trainer, loaders = setup(cfg, torch.device("cpu"))
        nets.append(trainer.net.weight_stages[0].W.clone())
        orders.append(torch.randperm(1000, generator=loaders["train"].generator))
    assert not torch.equal(nets[0], nets[1])
    assert torch.equal(orders[0], orders[1]) == same_stream
