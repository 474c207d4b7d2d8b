"""Benchmark: one LE update step of the MNIST LeNet-5 (batch 128, CPU) relative to a forward+backward
pass of the equivalent torch network, both measured interleaved in this process (DESIGN target 1.5)."""
from __future__ import annotations

import json
import statistics
import time

import torch

from fig2cde_higgs_mnist_cifar10.model.architectures import Clip01, build_le, equivalent_ann
from fig2cde_higgs_mnist_cifar10.model.le_sequential import le_learning_rate

BATCH = 128


def _time_block(fn, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def measure(quick: bool = False) -> list[dict]:
    torch.manual_seed(0)
    net = build_le("mnist", beta=0.1, tau=10.0, dt=0.1, eta=le_learning_rate(128, 100, 0.1),
                   lr_factors=[1.0, 0.2, 0.1, 0.1, 0.1, 0.1], variant="vanilla")
    # the same network with torch's own clip (Hardtanh), so the reference is plain torch
    ann = torch.nn.Sequential(*[torch.nn.Hardtanh(0.0, 1.0) if isinstance(m, Clip01) else m
                                for m in equivalent_ann(net)])
    opt = torch.optim.SGD(ann.parameters(), lr=1e-3)
    x = torch.rand(BATCH, 1, 28, 28)  # [B, 1, 28, 28]
    y = torch.nn.functional.one_hot(torch.randint(0, 10, (BATCH,)), 10).float()  # [B, 10]

    def le_step():
        net.step(x, y, train=True)

    def torch_step():
        opt.zero_grad(set_to_none=True)
        loss = 0.5 * ((ann(x) - y) ** 2).sum(1).mean()
        loss.backward()

    for _ in range(5):  # warm-up (allocator, kernels, state shapes)
        le_step()
        torch_step()
    n_rounds, n_per = (6, 5) if quick else (30, 10)
    le_t, bp_t = [], []
    for _ in range(n_rounds):  # interleaved blocks so both sides see the same machine load
        le_t.append(_time_block(le_step, n_per))
        bp_t.append(_time_block(torch_step, n_per))
    le_med, bp_med = statistics.median(le_t), statistics.median(bp_t)
    return [{"name": "lenet_le_step_vs_torch_fwd_bwd", "value": le_med / bp_med, "goal": 1.5,
             "better": "lower", "unit": "ratio",
             "details": {"le_step_ms": le_med * 1e3, "torch_fwd_bwd_ms": bp_med * 1e3,
                         "batch_size": float(BATCH), "threads": float(torch.get_num_threads()),
                         "device": "cpu"}}]


if __name__ == "__main__":
    print(json.dumps(measure(), indent=1))
