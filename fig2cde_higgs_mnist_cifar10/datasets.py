"""Train/val/test splits of model §2.2 and an in-memory batch loader with a resumable shuffle stream."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from common.data import load_higgs, load_vision
from common.errors import UsageError
from common.synthetic import synthetic_root


@dataclass
class Split:
    x: torch.Tensor  # uint8 images [N, C, H, W] or float32 HIGGS features [N, 28]
    y: torch.Tensor  # int64 labels [N]

    def __len__(self):
        return len(self.y)

    def head(self, n: int | None) -> "Split":
        return self if n is None else Split(self.x[:n], self.y[:n])


def _random_split(x, y, n_val: int, seed: int) -> tuple[Split, Split]:
    """Seeded split of a pool into (train, val), the way torch's random_split orders it."""
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(y), generator=g)
    n_train = len(y) - n_val
    tr, va = perm[:n_train], perm[n_train:]
    return Split(x[tr], y[tr]), Split(x[va], y[va])


def drop_last_key(split: str) -> str:
    """The config key that decides whether `split`'s loader drops its last partial batch."""
    return "drop_last" if split == "train" else "eval_drop_last"


def _n_batches(n: int, batch_size: int, drop_last: bool) -> int:
    full, rest = divmod(n, batch_size)
    return full + (rest > 0 and not drop_last)


def _check_sizes(cfg, n_pool: int, sizes: dict[str, int]) -> None:
    """Every split must exist with the requested size and give at least one batch, or the run stops
    before training (an empty split would end in a division by zero after a full epoch)."""
    pool_keys = "'higgs_rows', 'higgs_test_rows'" if cfg.task == "higgs" else "the data set"
    if cfg.val_size >= n_pool:
        raise UsageError(f"config key 'val_size' = {cfg.val_size} leaves no training samples: the "
                         f"train/val pool has {n_pool} ({pool_keys}); choose 'val_size' < {n_pool}")
    head_keys = {"train": "train_samples", "val": "eval_samples", "test": "eval_samples"}
    size_keys = {"train": "'val_size', 'train_samples'", "val": "'val_size', 'eval_samples'",
                 "test": ("'higgs_test_rows'" if cfg.task == "higgs" else "the test file") + ", 'eval_samples'"}
    for name, n in sizes.items():
        want = getattr(cfg, head_keys[name])
        if want is not None and want > n:
            raise UsageError(f"config key '{head_keys[name]}' = {want} exceeds the {name} split "
                             f"({n} samples); choose at most {n} or null")
        n = n if want is None else want
        drop_key = drop_last_key(name)
        drop = getattr(cfg, drop_key)
        if _n_batches(n, cfg.batch_size, drop) == 0:
            raise UsageError(
                f"the {name} split has {n} samples, no batch at 'batch_size' = {cfg.batch_size} with "
                f"'{drop_key}' = {str(drop).lower()}; change 'batch_size', '{drop_key}' or the "
                f"split size ({size_keys[name]})")


def load_splits(cfg) -> dict[str, Split]:
    """{'train', 'val', 'test'} for the task of `cfg` (uint8 images / raw HIGGS features); sizes that
    do not fit the data or `batch_size` raise UsageError."""
    root = cfg.data_root
    if cfg.dataset == "synthetic":
        root = synthetic_root(cfg.task, n_train=cfg.synthetic_n_train, n_test=cfg.synthetic_n_test)
    if cfg.task == "higgs":
        X, y = load_higgs(root, max_rows=cfg.higgs_rows)  # [N, 28], [N]
        if len(y) < cfg.higgs_rows:
            raise UsageError(f"config key 'higgs_rows' = {cfg.higgs_rows} exceeds the {len(y)} rows of "
                             "the HIGGS file; choose 'higgs_rows' <= its rows")
        n_pool = len(y) - cfg.higgs_test_rows  # model §2.2: the last rows are the test set
        test = Split(X[n_pool:], y[n_pool:].long())
        _check_sizes(cfg, n_pool, {"train": n_pool - cfg.val_size, "val": cfg.val_size, "test": len(test)})
        train, val = _random_split(X[:n_pool], y[:n_pool].long(), cfg.val_size, cfg.seed)
    else:
        name = cfg.task if cfg.dataset == "synthetic" else cfg.dataset
        x_tr, y_tr = load_vision(name, train=True, root=root, download=cfg.download)
        x_te, y_te = load_vision(name, train=False, root=root, download=cfg.download)
        if x_tr.dim() == 3:  # MNIST-like [N, 28, 28] -> [N, 1, 28, 28]
            x_tr, x_te = x_tr.unsqueeze(1), x_te.unsqueeze(1)
        if cfg.test_split == "openml_random":  # model Q6: test drawn from all 70k images
            x_all, y_all = torch.cat([x_tr, x_te]), torch.cat([y_tr, y_te])
            perm = torch.from_numpy(np.random.RandomState(cfg.seed).permutation(len(y_all)))
            n_test = len(y_te)
            test = Split(x_all[perm[:n_test]], y_all[perm[:n_test]])
            x_tr, y_tr = x_all[perm[n_test:]], y_all[perm[n_test:]]
        else:
            test = Split(x_te, y_te)
        _check_sizes(cfg, len(y_tr), {"train": len(y_tr) - cfg.val_size, "val": cfg.val_size,
                                      "test": len(test)})
        train, val = _random_split(x_tr, y_tr, cfg.val_size, cfg.seed)
    return {"train": train.head(cfg.train_samples), "val": val.head(cfg.eval_samples),
            "test": test.head(cfg.eval_samples)}


class BatchLoader:
    """Batches (x float, labels int64) of a Split on `device`; the shuffle order comes from its own
    generator, whose state is the loader state saved in checkpoints."""

    def __init__(self, split: Split, batch_size: int, shuffle: bool, drop_last: bool, seed: int,
                 device, dtype=torch.float32):
        self.images = split.x.dtype == torch.uint8
        self.x = split.x.to(device)
        self.y = split.y.to(device)
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.dtype = dtype
        self.generator = torch.Generator().manual_seed(seed)
        self.n = len(self.y)

    def __len__(self):
        return _n_batches(self.n, self.batch_size, self.drop_last)

    @property
    def n_samples(self) -> int:
        return min(self.n, len(self) * self.batch_size)

    def __iter__(self):
        order = torch.randperm(self.n, generator=self.generator) if self.shuffle else torch.arange(self.n)
        order = order.to(self.x.device)
        for i in range(len(self)):
            idx = order[i * self.batch_size:(i + 1) * self.batch_size]
            x = self.x[idx].to(self.dtype)
            if self.images:
                x = x.div_(255.0)  # ToTensor scaling, no normalisation (model §2.2)
            yield x, self.y[idx]

    def get_state(self) -> torch.Tensor:
        return self.generator.get_state()

    def set_state(self, state: torch.Tensor) -> None:
        self.generator.set_state(state)
