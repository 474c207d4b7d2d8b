"""Config dataclasses: a YAML mapping with `network:` and `training:` sections mirroring the spec's
network_params and training_params (spec §5), plus the quirk keys of spec §9."""
from dataclasses import dataclass
from typing import Literal

from common.config import require

from .params import NetParams, n_steps

QUANTS_HIDDEN = ("pyr_soma", "pyr_forw", "pyr_udot", "pyr_steadystate", "pyr_basal", "pyr_apical",
                 "inn_dendrite", "inn_soma", "inn_forw", "W_up", "W_down", "W_ip", "W_pi",
                 "Delta_up", "Delta_ip", "Delta_pi")
QUANTS_OUTPUT = ("pyr_soma", "pyr_forw", "pyr_udot", "pyr_steadystate", "pyr_basal", "W_up",
                 "Delta_up")


@dataclass(frozen=True)
class Bias:
    on: bool
    val: float


@dataclass(frozen=True)
class Eta:
    up: list[float]      # one entry per layer: hidden layers..., output
    pi: list[float]
    ip: list[float]


@dataclass(frozen=True)
class InitWeights:
    up: float
    down: float
    pi: float
    ip: float


@dataclass(frozen=True)
class Network:
    bias: Bias
    dims: list[int]
    dt: float
    eta: Eta
    eta_selfpred: Eta | None          # mimic self-prediction phase only
    gl: float
    gb: float
    ga: float
    gsom: float
    gd: float
    init_weights: InitWeights
    latent_eq: bool
    learning_lag: float
    noise: float                      # unused by the model (spec §1.2); must be 0
    out_lag: float
    reset_deltas: bool                # no effect (Δ is recomputed every step)
    t_pattern: float
    tau_0: float
    tau_w: float                      # unused (spec §1.2)
    output_leak: Literal["with_gsom", "without_gsom"]   # spec Q4
    ablation: Literal["none", "rates_from_soma", "no_interneuron_nudging"]   # spec §10 test 15

    def check(self):
        require(len(self.dims) >= 3 and all(d > 0 for d in self.dims), "network.dims",
                "needs >= 3 positive layer sizes [input, hidden..., output]")
        require(self.dt > 0, "network.dt", "must be > 0")
        for key in ("gl", "gb", "ga", "gsom", "gd"):
            require(getattr(self, key) > 0, f"network.{key}", "must be > 0")
        for key in ("tau_0", "tau_w", "t_pattern"):
            require(getattr(self, key) > 0, f"network.{key}", "must be > 0")
        require(self.out_lag >= 0, "network.out_lag", "must be >= 0")
        require(self.learning_lag >= 0, "network.learning_lag", "must be >= 0")
        require(self.noise == 0, "network.noise", "noise is not part of the model (must be 0)")
        n = self.steps_per_pattern
        require(n >= 1, "network.t_pattern", "must be at least one step dt")
        require(n_steps(self.out_lag, self.dt) < n, "network.out_lag",
                "must be shorter than t_pattern")
        require(n_steps(self.learning_lag, self.dt) < n, "network.learning_lag",
                "must be shorter than t_pattern")
        n_layers = len(self.dims) - 1
        for name, eta in (("eta", self.eta), ("eta_selfpred", self.eta_selfpred)):
            if eta is None:
                continue
            for key in ("up", "pi", "ip"):
                vals = getattr(eta, key)
                require(len(vals) == n_layers, f"network.{name}.{key}",
                        f"needs one entry per layer ({n_layers})")
                require(all(v >= 0 for v in vals), f"network.{name}.{key}", "must be >= 0")

    @property
    def steps_per_pattern(self):
        """N: Euler steps per pattern presentation."""
        return n_steps(self.t_pattern, self.dt)

    def net_params(self, eta=None):
        eta = eta or self.eta
        return NetParams(latent_eq=self.latent_eq, dt=self.dt, gl=self.gl, gb=self.gb, ga=self.ga,
                         gsom=self.gsom, gd=self.gd, eta_up=tuple(eta.up), eta_pi=tuple(eta.pi),
                         eta_ip=tuple(eta.ip), tau_0=self.tau_0, out_lag=self.out_lag,
                         learning_lag=self.learning_lag, bias_val=self.bias.val,
                         output_leak=self.output_leak, ablation=self.ablation)

    def init_dict(self):
        iw = self.init_weights
        return {"up": iw.up, "down": iw.down, "pi": iw.pi, "ip": iw.ip}


def _check_training(t, n_layers):
    require(t.n_epochs >= 1, "training.n_epochs", "must be >= 1")
    require(t.n_val_samples >= 1, "training.n_val_samples", "must be >= 1")
    require(t.n_vals_per_epoch == 1, "training.n_vals_per_epoch", "only 1 is supported")
    require(t.record_dt > 0, "training.record_dt", "must be > 0")
    require(len(t.recorded_quants) == n_layers, "training.recorded_quants",
            f"needs one list per layer ({n_layers})")
    for i, quants in enumerate(t.recorded_quants):
        allowed = QUANTS_OUTPUT if i == n_layers - 1 else QUANTS_HIDDEN
        for q in quants:
            require(q in allowed, f"training.recorded_quants[{i}]",
                    f"{q!r} is not one of {', '.join(allowed)}")
    if t.snapshot_epochs is not None:
        require(all(1 <= e <= t.n_epochs for e in t.snapshot_epochs), "training.snapshot_epochs",
                "epochs must lie in 1..n_epochs")


class _Task:
    """What both task configs derive from their `network` and `training` sections."""

    @property
    def record_every(self):
        """Steps per recorded trace sample (record_dt, at least one step)."""
        return max(1, n_steps(self.training.record_dt, self.network.dt))


@dataclass(frozen=True)
class BarsTraining:
    bars_drop_last_pattern: bool      # spec Q8: True = the authors' 8 patterns, False = all 9
    classify: bool
    engine: Literal["auto", "numba", "numpy"]
    eval_metric: Literal["accuracy", "none"]
    init_selfpred: bool
    n_epochs: int
    n_val_samples: int
    n_vals_per_epoch: int
    record_dt: float
    recorded_quants: list[list[str]]
    save_traces: bool
    seed: int
    snapshot_epochs: list[int] | None
    u_tgt_high: float
    u_tgt_low: float


@dataclass(frozen=True)
class BarsConfig(_Task):
    network: Network
    training: BarsTraining

    def check(self):
        _check_training(self.training, len(self.network.dims) - 1)
        require(self.training.classify, "training.classify", "the bars task uses one-hot targets")
        n_pat = 8 if self.training.bars_drop_last_pattern else 9
        require(self.training.n_val_samples <= n_pat, "training.n_val_samples",
                f"at most the {n_pat} bars patterns")
        require(self.network.dims[0] == 9 and self.network.dims[-1] == 3, "network.dims",
                "the bars task needs 9 inputs and 3 outputs")


@dataclass(frozen=True)
class MimicTraining:
    classify: bool
    engine: Literal["auto", "numba", "numpy"]
    eval_metric: Literal["accuracy", "none"]
    init_selfpred: bool
    mimic_freeze_w_pi: bool           # spec Q14: True = W_pi frozen in task training (authors)
    n_epochs: int
    n_epochs_selfpred: int
    n_patterns: int                   # teacher input/target pairs (6)
    n_val_samples: int
    n_vals_per_epoch: int
    record_dt: float
    recorded_quants: list[list[str]]
    save_traces: bool
    seed: int
    snapshot_epochs: list[int] | None
    teacher_seed: int                 # hard-coded 42 in the authors' code (spec §6)


@dataclass(frozen=True)
class MimicConfig(_Task):
    network: Network
    training: MimicTraining

    def check(self):
        _check_training(self.training, len(self.network.dims) - 1)
        t = self.training
        require(not t.classify, "training.classify", "the mimic task uses regression targets")
        require(self.network.eta_selfpred is not None, "network.eta_selfpred",
                "the mimic task needs the self-prediction learning rates")
        require(t.n_patterns >= 1, "training.n_patterns", "must be >= 1")
        require(t.n_val_samples <= t.n_patterns, "training.n_val_samples", "at most n_patterns")
        require(t.n_epochs_selfpred >= 0, "training.n_epochs_selfpred", "must be >= 0")
