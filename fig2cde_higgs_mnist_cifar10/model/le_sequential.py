"""`LESequential`: a stack of LE stages updated with the pipelined scheme of model §1.5."""
from __future__ import annotations

import contextlib
from typing import Sequence

import numpy as np
import torch

from fig2cde_higgs_mnist_cifar10.model.le_layers import VOLTAGE_FORMS

VARIANTS = ("vanilla", "full_forward_pass")


def le_learning_rate(batch_learning_multiplier: float, n_updates: int, dt: float) -> float:
    """eta = 0.125 M / (n dt): the summed step coefficient over a batch, eta f_k dt n, is 0.125 M f_k
    for any n and dt (model §1.5)."""
    return 0.125 * batch_learning_multiplier / (n_updates * dt)


class LESequential:
    """Container of LE stages (weight layers and pools) with state carried across steps (model Q9).

    One `step(x, y, train)`:
      1. target error from the previous step's output, e = beta r'_K (y - r_K) (zero in eval mode);
      2. forward sweep; `vanilla`: stage k reads r_{k-1}, r'_{k-1} of the previous step (one-step
         delay per stage), `full_forward_pass`: the fresh ones;
      3. backward sweep K..1: a weight stage stores the incoming error as eps, updates W and b by
         eta_k dt mean_b(r_in (x) eps) and passes down the delta built from its previous eps; a pool
         routes the error down at once.
    """

    def __init__(self, stages: Sequence, beta: float, tau: float, dt: float, eta: float,
                 lr_factors: Sequence[float], variant: str = "vanilla", voltage_form: str = "exact"):
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
        if voltage_form not in VOLTAGE_FORMS:
            raise ValueError(f"voltage_form must be one of {VOLTAGE_FORMS}, got {voltage_form!r}")
        if len(lr_factors) != len(stages):
            raise ValueError(f"need one lr factor per stage ({len(stages)}), got {len(lr_factors)}")
        if tau <= 0 or dt <= 0:
            raise ValueError("tau and dt must be > 0")
        self.stages = list(stages)
        self.beta, self.tau, self.dt, self.eta = float(beta), float(tau), float(dt), float(eta)
        self.lr_factors = [float(f) for f in lr_factors]
        self.variant = variant
        for stage, f_k in zip(self.stages, self.lr_factors):
            stage.tau, stage.dt = self.tau, self.dt
            stage.voltage_form = voltage_form  # how u_hat is evaluated (le_layers._WeightStage._neurons)
            stage.lr = self.eta * f_k * self.dt  # eta_k dt, the per-step weight-change coefficient
        self.weight_stages = [s for s in self.stages if s.has_weights]

    # ----------------------------------------------------------------- dynamics
    @property
    def output(self) -> torch.Tensor:
        return self.stages[-1].r  # [B, n_out]

    def ensure_batch(self, batch_size: int) -> None:
        for stage in self.stages:
            stage.ensure_batch(batch_size)

    def step(self, x: torch.Tensor, y: torch.Tensor | None = None, train: bool = True) -> torch.Tensor:
        """One update step on input x [B, ...] and target y [B, n_out] (ignored when train=False)."""
        self.ensure_batch(x.shape[0])
        top = self.stages[-1]
        g = None  # eval mode: zero target error
        if train:
            if y is None:
                raise ValueError("train step needs a target y")
            g = (y.to(top.r.dtype) - top.r).mul_(top.rp).mul_(self.beta)  # e_tgt from step t-1: [B, n_out]
        if self.variant == "vanilla":
            # top-down: stage k reads r_{k-1}(t-1) before stage k-1 overwrites it
            for k in range(len(self.stages) - 1, -1, -1):
                r_in, rp_in = self._input(k, x)
                self.stages[k].forward(r_in, rp_in)
                g = self.stages[k].backward(g, r_in, train)
        else:
            for k in range(len(self.stages)):
                self.stages[k].forward(*self._input(k, x))
            for k in range(len(self.stages) - 1, -1, -1):
                g = self.stages[k].backward(g, self._input(k, x)[0], train)
        return self.output

    def _input(self, k: int, x: torch.Tensor):
        if k == 0:
            return x, None  # r'_0 = 0: the input layer's delta is never needed
        below = self.stages[k - 1]
        return below.r, below.rp

    @contextlib.contextmanager
    def holding(self, x: torch.Tensor, train: bool):
        """The steps inside the block form one presentation of x: the first stage holds x
        (_WeightStage.hold). In evaluation its basal input W * x + b is computed once (x and the
        weights are constant, so it is bitwise the per-step value); in training a convolution may cut
        x's patches once for its weight gradient."""
        first = self.stages[0]
        if not first.has_weights:
            yield
            return
        self.ensure_batch(x.shape[0])
        first.hold(x, train)
        try:
            yield
        finally:
            first.hold(None)

    def present(self, x: torch.Tensor, y: torch.Tensor | None, n_updates: int,
                train: bool = True) -> torch.Tensor:
        """n_updates consecutive steps on one batch (one presentation, see holding); returns a copy
        of the output rates r_K."""
        with self.holding(x, train):
            for _ in range(n_updates):
                self.step(x, y, train)
        return self.output.clone()

    def ann_forward(self, x: torch.Tensor) -> torch.Tensor:
        """Forward pass of the equivalent ANN (same weights, clip hidden, identity output; §1.6)."""
        h = x
        with torch.no_grad():
            for stage in self.stages:
                h = stage.ann(h)
                if stage.has_weights and stage.phi_name == "hard_sigmoid":
                    h = h.clamp(0.0, 1.0)
        return h

    # ----------------------------------------------------------------- learning switches
    def freeze(self, frozen: bool = True) -> None:
        """Frozen: train steps compute and keep each layer's update direction (layer.dW, layer.db,
        the per-step change divided by eta_k dt) but leave the weights unchanged."""
        for s in self.weight_stages:
            s.frozen = frozen

    # ----------------------------------------------------------------- parameters and state
    def n_parameters(self) -> int:
        return sum(p.numel() for s in self.weight_stages for p in s.parameters().values())

    def weights(self) -> dict[str, np.ndarray]:
        out = {}
        for k, s in enumerate(self.stages):
            if s.has_weights:
                for name, p in s.parameters().items():
                    out[f"stage{k}.{name}"] = p.detach().cpu().numpy().copy()
        return out

    def set_weights(self, weights: dict[str, np.ndarray]) -> None:
        for k, s in enumerate(self.stages):
            if s.has_weights:
                for name, p in s.parameters().items():
                    p.copy_(torch.as_tensor(np.asarray(weights[f"stage{k}.{name}"])))

    def state_dict(self) -> dict:
        """Weights and all neuron state (for exact resume; state carries over, model Q9)."""
        return {"weights": {k: torch.as_tensor(v) for k, v in self.weights().items()},
                "state": [{n: t.detach().cpu().clone() for n, t in s.state_dict().items()}
                          for s in self.stages]}

    def load_state_dict(self, sd: dict) -> None:
        self.set_weights({k: v.numpy() for k, v in sd["weights"].items()})
        for s, st in zip(self.stages, sd["state"]):
            s.load_state_dict(st)
