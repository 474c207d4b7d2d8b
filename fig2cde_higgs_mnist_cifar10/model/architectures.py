"""The three architectures of model §2.1 as LE stage lists, BP modules and equivalent ANNs."""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn

from fig2cde_higgs_mnist_cifar10.model.le_layers import Conv2d, Linear, MaxPool2d, Projection
from fig2cde_higgs_mnist_cifar10.model.le_sequential import LESequential

TASKS = ("higgs", "mnist", "cifar10")
INPUT_SHAPES = {"higgs": (28,), "mnist": (1, 28, 28), "cifar10": (3, 32, 32)}
N_OUT = {"higgs": 1, "mnist": 10, "cifar10": 10}


def le_stages(task: str, init_std: float = 0.05, conv_bias_lr: str = "mean", device="cpu",
              dtype=torch.float32) -> list:
    """LE stages, constructed (and therefore drawn, weights then biases) bottom-up (model §1.1)."""
    kw = dict(init_std=init_std, device=device, dtype=dtype)
    if task == "higgs":  # 28-300-300-300-1
        return [Linear(28, 300, **kw), Linear(300, 300, **kw), Linear(300, 300, **kw),
                Linear(300, 1, phi="linear", **kw)]
    if task not in ("mnist", "cifar10"):
        raise ValueError(f"unknown task {task!r}")
    c, h, _ = INPUT_SHAPES[task]
    t1 = h - 4  # conv5 output side: 24 (MNIST) / 28 (CIFAR)
    t2 = t1 // 2 - 4  # 8 / 10
    return [Conv2d((c, h, h), 20, 5, bias_lr=conv_bias_lr, **kw),
            MaxPool2d((20, t1, t1), 2, device=device, dtype=dtype),
            Conv2d((20, t1 // 2, t1 // 2), 50, 5, bias_lr=conv_bias_lr, **kw),
            MaxPool2d((50, t2, t2), 2, device=device, dtype=dtype),
            Projection((50, t2 // 2, t2 // 2), 500, **kw),
            Linear(500, 10, phi="linear", **kw)]


def build_le(task: str, *, beta: float, tau: float, dt: float, eta: float,
             lr_factors: Sequence[float], variant: str = "vanilla", init_std: float = 0.05,
             conv_bias_lr: str = "mean", voltage_form: str = "exact", device="cpu",
             dtype=torch.float32) -> LESequential:
    stages = le_stages(task, init_std, conv_bias_lr, device, dtype)
    return LESequential(stages, beta=beta, tau=tau, dt=dt, eta=eta, lr_factors=lr_factors,
                        variant=variant, voltage_form=voltage_form)


class _LeNet(nn.Module):
    def __init__(self, in_channels: int, side: int, act: type[nn.Module], pool: bool = True):
        super().__init__()
        t2 = (side - 4) // 2 - 4
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, 20, 5), act(), nn.MaxPool2d(2),
            nn.Conv2d(20, 50, 5), act(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(50 * (t2 // 2) ** 2, 500), act(), nn.Linear(500, 10))

    def forward(self, x):
        return self.net(x)


def build_bp(task: str) -> nn.Module:
    """BP baselines of model §2.1 (torch default init): HIGGS tanh MLP with a logit output (sigmoid
    lives in the BCE-with-logits loss), LeNet-5 with ReLU and logits for MNIST / CIFAR-10."""
    if task == "higgs":
        return nn.Sequential(nn.Linear(28, 300), nn.Tanh(), nn.Linear(300, 300), nn.Tanh(),
                             nn.Linear(300, 300), nn.Tanh(), nn.Linear(300, 1))
    if task not in ("mnist", "cifar10"):
        raise ValueError(f"unknown task {task!r}")
    c, side, _ = INPUT_SHAPES[task]
    return _LeNet(c, side, nn.ReLU)


class Clip01(nn.Module):
    """clip(x, 0, 1) with the LE derivative 1[0 <= x <= 1] (both ends inclusive, model §1.1); torch's
    clamp backward excludes the ends."""

    def forward(self, x):
        return torch.where((x >= 0) & (x <= 1), x, x.clamp(0.0, 1.0).detach())


def equivalent_ann(net: LESequential) -> nn.Module:
    """Plain torch network with the LE weights: clip(0,1) hidden, identity output (model §1.6).
    Its loss for the gradient comparison is 1/2 sum_k (y_k - a_k)^2, averaged over the batch."""
    return _ann_of_stages(net.stages)[0]


def matched_bp(task: str, *, step_coefficient: float, beta: float, lr_factors: Sequence[float],
               init_std: float = 0.05, conv_bias_lr: str = "mean", device="cpu",
               dtype=torch.float32) -> tuple[nn.Module, list[dict]]:
    """The update-matched BP baseline: the equivalent ANN of a freshly drawn LE network (the same
    init draw as `build_le`) and SGD parameter groups at LE's per-step rate times beta,
    step_coefficient f_k beta with step_coefficient = eta dt (conv biases x 1/T^2 under
    conv_bias_lr mean, Q1). One SGD step on 1/2 sum_k (y_k - a_k)^2 (batch mean) then changes the
    weights as one LE step does in the small-beta limit, where e_K -> beta (y - a) (model §6 item 8)."""
    stages = le_stages(task, init_std, conv_bias_lr, device, dtype)
    ann, pairs = _ann_of_stages(stages)
    groups = []
    for k, (stage, module) in pairs:
        rate = step_coefficient * lr_factors[k] * beta
        bias_scale = stage.bias_scale if isinstance(stage, Conv2d) else 1.0
        groups += [{"params": [module.weight], "lr": rate}, {"params": [module.bias], "lr": rate * bias_scale}]
    return ann, groups


def _ann_of_stages(stages) -> tuple[nn.Module, list]:
    """The equivalent ANN of `stages` and [(stage index, (stage, its weight module))]."""
    modules: list[nn.Module] = []
    pairs = []
    for k, stage in enumerate(stages):
        if isinstance(stage, MaxPool2d):
            modules.append(nn.MaxPool2d(stage.k))
            continue
        if isinstance(stage, Conv2d):
            m = nn.Conv2d(stage.W.shape[1], stage.W.shape[0], stage.W.shape[2])
            m.weight.data.copy_(stage.W)
        else:
            if isinstance(stage, Projection):
                modules.append(nn.Flatten())
            m = nn.Linear(*stage.W.shape)
            m.weight.data.copy_(stage.W.t())  # LE stores [in, out]
        m.bias.data.copy_(stage.b)
        modules.append(m.to(device=stage.W.device, dtype=stage.W.dtype))
        pairs.append((k, (stage, modules[-1])))
        if stage.phi_name == "hard_sigmoid":
            modules.append(Clip01())
    return nn.Sequential(*modules), pairs
