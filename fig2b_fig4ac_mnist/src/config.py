"""Configuration of the continuous-time LE experiments (model §4.2)."""
from dataclasses import dataclass
from typing import Literal

import torch

from common.config import bounded, require, seed_field

DTYPES = {"float32": torch.float32, "float64": torch.float64}


@dataclass(frozen=True)
class Config:
    # data (model §2)
    dataset: Literal["mnist", "fashion_mnist", "synthetic"]
    data_root: str | None          # null: $LE_DATA_DIR or <repo>/data
    download: bool                 # let torchvision download missing files
    train_samples: int = bounded(ge=-1)  # -1: all training-file images before the validation block
    val_samples: int = bounded(ge=-1)  # size of the validation block at the end of the training file (-1: 10000)
    test_samples: int = bounded(ge=-1)  # -1: the whole test file
    classes: int                   # output size; images of higher labels are skipped
    input_size: int
    shuffle: bool                  # authors: false in effect (model Q5)
    # architecture and initialisation (model §1.1)
    hidden_sizes: list[int] = bounded(ge=1, le=100_000)
    init_std: float = bounded(ge=0, le=1e6)
    # neuron model (model §1.3-1.5)
    variant: Literal["vanilla"]    # Jacobi update, the only model the authors' code runs (model Q13)
    target_type: Literal["rate", "voltage"]
    dt: float = bounded(gt=0, le=1e3)
    tau: float = bounded(ge=0, le=1e6)  # prospective time constant tau^r
    tau_m: float = bounded(gt=0, le=1e6)  # membrane time constant, always explicit (model Q1, Q2)
    tau_s: float = bounded(ge=0, le=1e6)  # synaptic time constant; 0 switches every filter off
    tau_width: float = bounded(ge=0, le=1e3)  # relative jitter of tau and tau_m
    tau_clip: list[float] = bounded(gt=0, le=1e6)  # clip range of jittered time constants
    beta: float = bounded(ge=0, le=1e6)
    noise_width: float = bounded(ge=0, le=1e6)
    prosp_rate_errors: bool
    feedback_alignment: bool
    forward_filter: bool
    backward_filter: bool
    target_lpf: bool
    # learning (model §1.6, §1.7)
    learning_rate: float
    lr_multiplier: float
    lr_factors: list[float]
    lr_factors_tau: list[float]
    adapt_tau: bool
    # how the input layer's current I_1 = x W_1 + b_1 follows learning during a training presentation
    # (x is constant for n_updates steps): "stepwise" recomputes it from the updated W_1, b_1 every step;
    # "presentation" updates it with the B x B Gram matrix G = x x^T + 1 1^T,
    # I_1 += (eta_1 dt / B) G e_1, and gives W_1, b_1 the summed update once at the end of the
    # presentation (the same numbers in real arithmetic; float32 rounding differs). Evaluation always
    # computes I_1 once per presentation (W_1, b_1 are fixed there: bitwise the same).
    input_current: Literal["stepwise", "presentation"]
    tau_adapt_steps: int = bounded(ge=1, le=1_000_000)  # Euler steps per batch during tau adaptation
    tau_adapt_tol: float = bounded(gt=0)  # convergence threshold on the change of mean |tau_m - tau|
    tau_adapt_max_passes: int = bounded(ge=1, le=1_000_000)  # safety cap on validation passes per layer
    # schedule (model §3)
    batch_size: int = bounded(ge=1, le=1_000_000)
    eval_drop_last: bool           # authors: true, a partial last validation/test batch is not scored (model Q5)
    n_updates: int = bounded(ge=1, le=1_000_000)
    epoch_qty: int = bounded(ge=1, le=1_000_000)  # evaluations incl. the eval-only epoch 0
    seed: int = seed_field()  # initialisation seed
    reseed_after_init: int | None = seed_field()  # authors: 7 (model Q7); null keeps the seed's own streams
    device: Literal["cpu", "cuda", "auto"]
    dtype: Literal["float32", "float64"]
    tf32: bool                     # let CUDA matrix products use TF32 (faster, ~1e-3 relative error)

    def check(self):
        n_layers = len(self.hidden_sizes) + 1
        require(len(self.tau_clip) == 2 and 0 < self.tau_clip[0] <= self.tau_clip[1], "tau_clip",
                "must be [low, high] with 0 < low <= high")
        require(len(self.lr_factors) == n_layers, "lr_factors", f"needs {n_layers} values (one per layer)")
        require(len(self.lr_factors_tau) == n_layers, "lr_factors_tau", f"needs {n_layers} values")
        require(1 <= self.classes <= 10, "classes", "must be in 1..10")
        require(self.input_size == 784, "input_size", "must be 784 (28 x 28 images)")
        for key in ("train_samples", "val_samples", "test_samples"):
            v = getattr(self, key)
            require(v == -1 or v >= self.batch_size, key, "must be -1 or >= batch_size")
        require(self.dataset != "synthetic" or min(self.train_samples, self.val_samples, self.test_samples) > 0,
                "train_samples", "synthetic data needs explicit positive sample counts")
