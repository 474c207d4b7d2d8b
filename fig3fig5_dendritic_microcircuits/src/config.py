"""Config dataclasses: a YAML mapping with `network:` and `training:` sections mirroring the authors'
network_params and training_params (model §5), plus the quirk keys of model §9."""
from dataclasses import dataclass
from typing import Literal

from common.config import bounded, require, seed_field

from .params import NetParams, n_steps

QUANTS_HIDDEN = ("pyr_soma", "pyr_forw", "pyr_udot", "pyr_steadystate", "pyr_basal", "pyr_apical",
                 "inn_dendrite", "inn_soma", "inn_forw", "W_up", "W_down", "W_ip", "W_pi",
                 "Delta_up", "Delta_ip", "Delta_pi")
QUANTS_OUTPUT = ("pyr_soma", "pyr_forw", "pyr_udot", "pyr_steadystate", "pyr_basal", "W_up",
                 "Delta_up")

# Ranges of the numbers a config may hold: what the model can simulate in float32 and in memory.
MAX_UNITS = 4096            # neurons per layer: a hidden layer stores ~7 N^2 float32 weights and Δs
MAX_EPOCHS = 100_000        # the schedule of all epochs is drawn up front (model §4.2)
MAX_PATTERN_VALUES = 10**8  # inputs of that schedule, epochs x patterns x N0 (float64: 800 MB)
MAX_STEPS_PER_PATTERN = 10**7


def a_time():             # dt, t_pattern, time constants, record_dt
    return bounded(ge=1e-9, le=1e6)


def a_lag():              # out_lag, learning_lag
    return bounded(ge=0, le=1e6)


def a_conductance():
    return bounded(gt=0, le=1e6)


def a_rate():             # learning rates (each entry), init half-widths; dt x rate stays finite
    return bounded(ge=0, le=1e9)


def a_voltage():          # targets and the bias input; |u| > V_MAX = 1e4 counts as divergence
    return bounded(ge=-1e3, le=1e3)


@dataclass(frozen=True)
class Bias:
    on: bool
    val: float = a_voltage()


@dataclass(frozen=True)
class Eta:
    up: list[float] = a_rate()      # one entry per layer: hidden layers..., output
    pi: list[float] = a_rate()
    ip: list[float] = a_rate()


@dataclass(frozen=True)
class InitWeights:
    up: float = a_rate()
    down: float = a_rate()
    pi: float = a_rate()
    ip: float = a_rate()


@dataclass(frozen=True)
class Network:
    bias: Bias
    dims: list[int] = bounded(ge=1, le=MAX_UNITS)
    dt: float = a_time()
    eta: Eta
    eta_selfpred: Eta | None          # mimic self-prediction phase only
    gl: float = a_conductance()
    gb: float = a_conductance()
    ga: float = a_conductance()
    gsom: float = a_conductance()
    gd: float = a_conductance()
    init_weights: InitWeights
    latent_eq: bool
    learning_lag: float = a_lag()
    noise: float                      # unused by the model (model §1.2); must be 0
    out_lag: float = a_lag()
    reset_deltas: bool                # no effect (Δ is recomputed every step)
    t_pattern: float = a_time()
    tau_0: float = a_time()
    tau_w: float = a_time()           # unused (model §1.2)
    output_leak: Literal["with_gsom", "without_gsom"]   # model Q4
    ablation: Literal["none", "rates_from_soma", "no_interneuron_nudging"]   # model §10 test 15

    def check(self):
        require(len(self.dims) >= 3, "network.dims",
                "needs >= 3 layer sizes [input, hidden..., output]")
        require(self.noise == 0, "network.noise", "noise is not part of the model (must be 0)")
        require(self.t_pattern / self.dt <= MAX_STEPS_PER_PATTERN, "network.t_pattern",
                f"at most {MAX_STEPS_PER_PATTERN:.0e} steps dt per pattern")
        n = self.steps_per_pattern
        require(n >= 1, "network.t_pattern", "must be at least one step dt")
        for key in ("out_lag", "learning_lag"):     # the float test first keeps the step count finite
            lag = getattr(self, key)
            require(lag <= self.t_pattern and n_steps(lag, self.dt) < n, f"network.{key}",
                    "must be shorter than t_pattern")
        n_layers = len(self.dims) - 1
        for name, eta in (("eta", self.eta), ("eta_selfpred", self.eta_selfpred)):
            if eta is None:
                continue
            for key in ("up", "pi", "ip"):
                vals = getattr(eta, key)
                require(len(vals) == n_layers, f"network.{name}.{key}",
                        f"needs one entry per layer ({n_layers})")

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
    require(t.n_vals_per_epoch == 1, "training.n_vals_per_epoch", "only 1 is supported")
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
    bars_drop_last_pattern: bool      # model Q8: True = the authors' 8 patterns, False = all 9
    classify: bool
    engine: Literal["auto", "numba", "numpy"]
    eval_metric: Literal["accuracy", "none"]
    init_selfpred: bool
    n_epochs: int = bounded(ge=1, le=MAX_EPOCHS)
    n_val_samples: int = bounded(ge=1, le=9)
    n_vals_per_epoch: int
    record_dt: float = a_time()
    recorded_quants: list[list[str]]
    save_traces: bool
    seed: int = seed_field()
    snapshot_epochs: list[int] | None = bounded(ge=1, le=MAX_EPOCHS)
    u_tgt_high: float = a_voltage()
    u_tgt_low: float = a_voltage()


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
    mimic_freeze_w_pi: bool           # model Q14: True = W_pi frozen in task training (authors)
    n_epochs: int = bounded(ge=1, le=MAX_EPOCHS)
    n_epochs_selfpred: int = bounded(ge=0, le=MAX_EPOCHS)
    n_patterns: int = bounded(ge=1, le=MAX_PATTERN_VALUES)    # teacher input/target pairs (6)
    n_val_samples: int = bounded(ge=1, le=MAX_PATTERN_VALUES)
    n_vals_per_epoch: int
    record_dt: float = a_time()
    recorded_quants: list[list[str]]
    save_traces: bool
    seed: int = seed_field()
    snapshot_epochs: list[int] | None = bounded(ge=1, le=MAX_EPOCHS)
    teacher_seed: int = seed_field()  # hard-coded 42 in the authors' code (model §6)


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
        require(t.n_val_samples <= t.n_patterns, "training.n_val_samples", "at most n_patterns")
        patterns = max(t.n_epochs * (t.n_patterns + t.n_val_samples), t.n_epochs_selfpred * t.n_patterns)
        require(patterns * self.network.dims[0] <= MAX_PATTERN_VALUES, "training.n_patterns",
                f"epochs x patterns x inputs must be at most {MAX_PATTERN_VALUES:.0e} (n_epochs, "
                "n_epochs_selfpred, network.dims[0])")
