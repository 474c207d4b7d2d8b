"""Benchmark: continuous LE training step (784-300-100-10, batch 512, CPU) vs the matmuls of its shapes.

value = (time of the step's matrix products alone) / (time of a full training step), both measured in
this process, interleaved. DESIGN target: >= 0.70.
"""
import json
import time

import torch

from common.config import load_config
from fig2b_fig4ac_mnist.src.config import Config
from fig2b_fig4ac_mnist.src.network import LENetwork
from fig2b_fig4ac_mnist.src.paths import CONFIGS

B = 512


def _matmuls(net, x, W, bufs):
    """The products one lean training step performs, with the same shapes, layouts and out= buffers.

    W are copies of the network's weights: the update GEMM needs a nonzero alpha (BLAS skips alpha = 0).
    """
    I, diff, e, g = bufs
    for l in range(net.L):
        rho_in = x if l == 0 else net.r[l - 1]
        torch.addmm(net.b[l], rho_in, W[l], out=I[l])  # forward drive
        if l > 0:
            torch.mm(diff[l], W[l].t(), out=g[l - 1])  # error sent down
        W[l].addmm_(rho_in.t(), e[l], alpha=net.eta_dt[l] / x.shape[0])  # weight update


def _time(fn, n):
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def measure(quick: bool = False) -> list[dict]:
    torch.manual_seed(0)
    cfg = load_config(Config, CONFIGS / "2b_le.yaml", ["device=cpu"])
    net = LENetwork(cfg, device="cpu")
    x = torch.rand(B, 784)  # B x 784
    y = torch.nn.functional.one_hot(torch.randint(0, 10, (B,)), 10).float()  # B x 10
    for _ in range(5):
        net.step(x, y, train=True)
    sizes = net.sizes[1:]
    bufs = ([torch.empty(B, n) for n in sizes], [torch.randn(B, n) for n in sizes],
            [torch.randn(B, n) for n in sizes], [torch.empty(B, n) for n in net.sizes[1:-1]])
    W = [w.clone() for w in net.W]
    n_inner = 5 if quick else 20
    rounds = 4 if quick else 15
    t_step, t_mm = [], []
    for _ in range(rounds):  # interleaved so that load changes hit both sides alike
        t_step.append(_time(lambda: net.step(x, y, train=True), n_inner))
        t_mm.append(_time(lambda: _matmuls(net, x, W, bufs), n_inner))
    step, mm = min(t_step), min(t_mm)
    flops = 2 * B * sum(a * b for a, b in zip(net.sizes[:-1], net.sizes[1:])) * 2 \
        + 2 * B * sum(a * b for a, b in zip(net.sizes[1:-1], net.sizes[2:]))
    return [{
        "name": "fc_train_step_vs_matmul",
        "value": mm / step,
        "goal": 0.70,
        "better": "higher",
        "unit": "ratio",
        "details": {"step_ms": step * 1e3, "matmul_ms": mm * 1e3, "step_gflops": flops / step / 1e9,
                    "matmul_gflops": flops / mm / 1e9, "batch": float(B), "threads": float(torch.get_num_threads()),
                    "timing": "min over interleaved rounds"},
    }]


if __name__ == "__main__":
    print(json.dumps(measure(), indent=1))
