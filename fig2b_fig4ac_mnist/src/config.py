"""Configuration of the continuous-time LE experiments (spec le_continuous_fc.md §4.2)."""
from dataclasses import dataclass
from typing import Literal

import torch

from common.config import require

DTYPES = {"float32": torch.float32, "float64": torch.float64}


@dataclass(frozen=True)
class Config:
    # data (spec §2)
    dataset: Literal["mnist", "fashion_mnist", "synthetic"]
    data_root: str | None          # null: $LE_DATA_DIR or <repo>/data
    download: bool                 # let torchvision download missing files
    train_samples: int             # -1: all training-file images before the validation block
    val_samples: int               # size of the validation block at the end of the training file (-1: 10000)
    test_samples: int              # -1: the whole test file
    classes: int                   # output size; images of higher labels are skipped
    input_size: int
    shuffle: bool                  # authors: false in effect (spec Q5)
    # architecture and initialisation (spec §1.1)
    hidden_sizes: list[int]
    init_std: float
    # neuron model (spec §1.3-1.5)
    variant: Literal["vanilla"]    # Jacobi update, the only model the authors' code runs (spec Q13)
    target_type: Literal["rate", "voltage"]
    dt: float
    tau: float                     # prospective time constant tau^r
    tau_m: float                   # membrane time constant, always explicit (spec Q1, Q2)
    tau_s: float                   # synaptic time constant; 0 switches every filter off
    tau_width: float               # relative jitter of tau and tau_m
    tau_clip: list[float]          # clip range of jittered time constants
    beta: float
    noise_width: float
    prosp_rate_errors: bool
    feedback_alignment: bool
    forward_filter: bool
    backward_filter: bool
    target_lpf: bool
    # learning (spec §1.6, §1.7)
    learning_rate: float
    lr_multiplier: float
    lr_factors: list[float]
    lr_factors_tau: list[float]
    adapt_tau: bool
    tau_adapt_steps: int           # Euler steps per batch during tau adaptation
    tau_adapt_tol: float           # convergence threshold on the change of mean |tau_m - tau|
    tau_adapt_max_passes: int      # safety cap on validation passes per layer
    # schedule (spec §3)
    batch_size: int
    eval_drop_last: bool           # authors: true, a partial last validation/test batch is not scored (spec Q5)
    n_updates: int
    epoch_qty: int                 # evaluations incl. the eval-only epoch 0
    seed: int                      # initialisation seed
    reseed_after_init: int | None  # authors: 7 (spec Q7); null keeps the seed's own streams
    device: Literal["cpu", "cuda", "auto"]
    dtype: Literal["float32", "float64"]
    tf32: bool                     # let CUDA matrix products use TF32 (faster, ~1e-3 relative error)

    def check(self):
        n_layers = len(self.hidden_sizes) + 1
        require(self.dt > 0, "dt", "must be > 0")
        require(self.tau >= 0, "tau", "must be >= 0")
        require(self.tau_m > 0, "tau_m", "must be > 0")
        require(self.tau_s >= 0, "tau_s", "must be >= 0")
        require(self.tau_width >= 0, "tau_width", "must be >= 0")
        require(len(self.tau_clip) == 2 and 0 < self.tau_clip[0] <= self.tau_clip[1], "tau_clip",
                "must be [low, high] with 0 < low <= high")
        require(self.beta >= 0, "beta", "must be >= 0")
        require(self.noise_width >= 0, "noise_width", "must be >= 0")
        require(self.init_std >= 0, "init_std", "must be >= 0")
        require(len(self.lr_factors) == n_layers, "lr_factors", f"needs {n_layers} values (one per layer)")
        require(len(self.lr_factors_tau) == n_layers, "lr_factors_tau", f"needs {n_layers} values")
        require(all(n > 0 for n in self.hidden_sizes), "hidden_sizes", "sizes must be > 0")
        require(1 <= self.classes <= 10, "classes", "must be in 1..10")
        require(self.input_size == 784, "input_size", "must be 784 (28 x 28 images)")
        require(self.batch_size > 0, "batch_size", "must be > 0")
        require(self.n_updates > 0, "n_updates", "must be > 0")
        require(self.epoch_qty >= 1, "epoch_qty", "must be >= 1")
        require(self.tau_adapt_steps > 0, "tau_adapt_steps", "must be > 0")
        require(self.tau_adapt_max_passes > 0, "tau_adapt_max_passes", "must be > 0")
        require(self.tau_adapt_tol > 0, "tau_adapt_tol", "must be > 0")
        for key in ("train_samples", "val_samples", "test_samples"):
            v = getattr(self, key)
            require(v == -1 or v >= self.batch_size, key, "must be -1 or >= batch_size")
        require(self.dataset != "synthetic" or min(self.train_samples, self.val_samples, self.test_samples) > 0,
                "train_samples", "synthetic data needs explicit positive sample counts")
