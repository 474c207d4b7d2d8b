"""Configuration of one run (task x model), loaded from YAML by common.config."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from common.config import bounded, require, seed_field

LE_KEYS = ("variant", "n_updates", "batch_learning_multiplier", "dt", "tau", "beta", "lr_factors",
           "init_std", "conv_bias_lr", "voltage_form")
BP_KEYS = ("lr", "momentum", "weight_decay")
# the update-matched BP baseline takes its init and per-step rates from these LE keys
MATCHED_KEYS = ("n_updates", "batch_learning_multiplier", "beta", "lr_factors", "init_std", "conv_bias_lr")
N_STAGES = {"higgs": 4, "mnist": 6, "cifar10": 6}


@dataclass(frozen=True)
class Config:
    task: Literal["higgs", "mnist", "cifar10"]  # architecture and data format
    model: Literal["le", "bp"]
    # data
    dataset: Literal["higgs", "mnist", "fashion_mnist", "cifar10", "synthetic"]
    data_root: str | None  # null: $LE_DATA_DIR, else <repo>/data
    download: bool
    higgs_rows: int = bounded(ge=1, le=100_000_000)  # HIGGS: the first rows of the file that are used (model Q16)
    higgs_test_rows: int = bounded(ge=0)  # HIGGS: the last of those rows form the test set
    val_size: int = bounded(ge=0)  # random (seeded) split of the training pool into train / val
    test_split: Literal["official", "openml_random"]  # MNIST: openml_random = authors' LE split, Q6
    train_samples: int | None = bounded(ge=1)  # first n of the train split (null: all)
    eval_samples: int | None = bounded(ge=1)  # first n of val and of test (null: all)
    synthetic_n_train: int = bounded(ge=1, le=1_000_000)  # dataset: synthetic only (train images / HIGGS rows before the test rows)
    synthetic_n_test: int = bounded(ge=1, le=1_000_000)
    batch_size: int = bounded(ge=1, le=1_000_000)
    drop_last: bool  # training loader drops its last partial batch (model Q10: LE did, BP did not)
    eval_drop_last: bool  # the same for the val and test loaders (their records say how many were scored)
    # schedule
    epochs: int = bounded(ge=1, le=1_000_000)
    seed: int = seed_field()
    device: Literal["cpu", "cuda", "auto"]
    initial_test: bool  # HIGGS LE: one test pass before training (it moves the carried state)
    # LE only (null in BP configs)
    variant: Literal["vanilla", "full_forward_pass"] | None = None
    n_updates: int | None = bounded(ge=1, le=1_000_000, default=None)
    batch_learning_multiplier: float | None = bounded(ge=0, default=None)  # M in eta = 0.125 M / (n dt)
    dt: float | None = bounded(gt=0, le=1e3, default=None)
    tau: float | None = bounded(gt=0, le=1e6, default=None)
    beta: float | None = bounded(ge=0, le=1e6, default=None)
    lr_factors: list[float] | None = None  # f_k, one per stage (pools included)
    init_std: float | None = bounded(ge=0, le=1e6, default=None)
    conv_bias_lr: Literal["mean", "sum"] | None = None  # model Q1
    # model Q2: exact = u_hat formed as a + eps, eps handed down; authors = their float32 evaluation
    # u + tau ((a - u + eps) / tau), u_hat - a handed down (the two part at the 1e-4 level, README)
    voltage_form: Literal["exact", "authors"] | None = None
    reseed_after_init: int | None = seed_field(default=None)  # model Q3: shuffle stream seeded with this for every seed
    # BP only (null in LE configs)
    # authors: model §2.1 networks, one SGD step per batch; update_matched: the equivalent ANN of the LE
    # network (same init), n_updates SGD steps per batch at LE's per-step rate times beta (LE keys above)
    bp_baseline: Literal["authors", "update_matched"] | None = None
    lr: float | None = bounded(gt=0, default=None)
    momentum: float | None = bounded(ge=0, default=None)
    weight_decay: float | None = bounded(ge=0, default=None)
    # GPU arithmetic
    tf32: bool = False  # TF32 matmuls and convolutions where the GPU has them; false: float32 as on the CPU

    def _kind(self) -> tuple[str, tuple[str, ...]]:
        """(what this run is, the model keys it needs); every other model key must be null."""
        if self.model == "le":
            return "model le", LE_KEYS
        require(self.bp_baseline is not None, "bp_baseline", "required for model bp (authors or update_matched)")
        if self.bp_baseline == "update_matched":
            return "bp_baseline update_matched", MATCHED_KEYS + ("bp_baseline",)
        return "bp_baseline authors", BP_KEYS + ("bp_baseline",)

    def check(self):
        kind, own = self._kind()
        for key in own:
            require(getattr(self, key) is not None, key, f"required for {kind}")
        for key in dict.fromkeys(LE_KEYS + BP_KEYS + ("bp_baseline",)):
            require(key in own or getattr(self, key) is None, key, f"does not apply to {kind}; set it to null")
        require(self.reseed_after_init is None or "n_updates" in own, "reseed_after_init",
                f"does not apply to {kind}; set it to null")
        real = {"higgs": ("higgs",), "mnist": ("mnist", "fashion_mnist"), "cifar10": ("cifar10",)}
        require(self.dataset == "synthetic" or self.dataset in real[self.task], "dataset",
                f"task {self.task} allows {', '.join(real[self.task] + ('synthetic',))}")
        require(self.test_split == "official" or self.task == "mnist", "test_split",
                "openml_random exists only for mnist")
        require(self.higgs_rows > self.higgs_test_rows >= 0, "higgs_test_rows", "must be in [0, higgs_rows)")
        if "n_updates" in own:  # LE and the update-matched baseline
            require(len(self.lr_factors) == N_STAGES[self.task], "lr_factors",
                    f"needs one factor per stage ({N_STAGES[self.task]} for {self.task})")
