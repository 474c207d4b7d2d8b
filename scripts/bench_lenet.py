"""Benchmark: LE steps of the MNIST LeNet-5 (batch 128), all measured interleaved in this process.

Rows:
- lenet_le_step_vs_torch_fwd_bwd: one LE update step on the CPU / a forward+backward pass of the
  equivalent torch network (target 1.5).
- lenet_ensemble8_vs_8_single_cpu: one training presentation (N_PRESENT steps on one batch, as the
  sweep trains) of a K = 8 seed ensemble (the sweep's CPU path: the members in turn) / the same
  presentation of 8 single networks; target <= 1.0 (no slower than the members one after another).
- lenet_eval_held_vs_per_step_cpu: an evaluation presentation (the first convolution's output held
  over the presentation) / the same steps computing it in every step; target <= 1.0.
- lenet_cpu_kernel_choices_vs_gpu_kernels_cpu: a training presentation (N_CHOICES steps on one batch)
  with the CPU's own kernel choices (channels-last pooling and second-convolution copies, the
  patches product for the first convolution's weight gradient; le_layers.CPU_KERNEL_CHOICES) / the
  same with the kernels a GPU runs; target <= 1.0 (each device gets its faster path).
- With CUDA (else SKIP): lenet_gpu_k16_per_network_speedup = single-network eager step / (K = 16
  ensemble step replayed from a CUDA graph / 16), target >= 10, in the training configuration
  (float32 without TF32, deterministic cuDNN).
"""
from __future__ import annotations

import contextlib
import json
import statistics
import time

import torch

from fig2cde_higgs_mnist_cifar10.graphs import GraphedPresent
from fig2cde_higgs_mnist_cifar10.model import le_layers
from fig2cde_higgs_mnist_cifar10.model.architectures import Clip01, build_le, equivalent_ann
from fig2cde_higgs_mnist_cifar10.model.le_ensemble import network_input, stack
from fig2cde_higgs_mnist_cifar10.model.le_sequential import le_learning_rate

BATCH = 128
N_PRESENT = 5  # steps of a timed training presentation: the ensemble splits its input once per presentation
N_CHOICES = 20  # steps of a timed training presentation: the patches are cut once per presentation
NO_CUDA = "no CUDA"


def _time_block(fn, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def _lenet(seed=0, device="cpu"):
    torch.manual_seed(seed)
    return build_le("mnist", beta=0.1, tau=10.0, dt=0.1, eta=le_learning_rate(128, 100, 0.1),
                    lr_factors=[1.0, 0.2, 0.1, 0.1, 0.1, 0.1], variant="vanilla", device=device)


def _data(K, device="cpu"):
    xs = [torch.rand(BATCH, 1, 28, 28, device=device) for _ in range(K)]  # [B, 1, 28, 28] each
    ys = [torch.nn.functional.one_hot(torch.randint(0, 10, (BATCH,)), 10).float().to(device)
          for _ in range(K)]  # [B, 10] each
    return xs, ys


def _ensemble_cpu(quick: bool) -> dict:
    K = 8
    singles = [_lenet(s) for s in range(K)]
    ens = stack([_lenet(s) for s in range(K)], batched=False)
    xs, ys = _data(K)
    x, y = network_input(xs), torch.stack(ys)  # [B, K, 28, 28], [K, B, 10]

    def eight():
        for net, xk, yk in zip(singles, xs, ys):
            net.present(xk, yk, N_PRESENT, train=True)

    def ensemble():
        ens.present(x, y, N_PRESENT, train=True)

    for _ in range(2):
        eight()
        ensemble()
    n_rounds = 3 if quick else 10
    t8, te = [], []
    for _ in range(n_rounds):
        t8.append(_time_block(eight, 1))
        te.append(_time_block(ensemble, 1))
    m8, me = min(t8), min(te)  # the same work on both sides: the least-disturbed round of each
    return {"name": "lenet_ensemble8_vs_8_single_cpu", "value": me / m8, "goal": 1.0, "better": "lower",
            "unit": "ratio", "details": {"ensemble_step_per_seed_ms": me / (K * N_PRESENT) * 1e3,
                                         "single_step_ms": m8 / (K * N_PRESENT) * 1e3, "K": float(K),
                                         "threads": float(torch.get_num_threads())}}


def _kernel_choices_cpu(quick: bool) -> dict:
    net = _lenet(0)
    xs, ys = _data(1)
    net.present(xs[0], ys[0], 3, True)

    def present(choices):
        with contextlib.nullcontext() if choices else le_layers.gpu_kernels():
            net.present(xs[0], ys[0], N_CHOICES, True)

    times = {True: [], False: []}
    for _ in range(2 if quick else 5):  # interleaved
        for choices in times:
            times[choices].append(_time_block(lambda: present(choices), 1) / N_CHOICES)
    own, gpu = min(times[True]), min(times[False])  # the least-disturbed round of each
    return {"name": "lenet_cpu_kernel_choices_vs_gpu_kernels_cpu", "value": own / gpu, "goal": 1.0,
            "better": "lower", "unit": "ratio",
            "details": {"cpu_choices_step_ms": own * 1e3, "gpu_kernels_step_ms": gpu * 1e3,
                        "batch_size": float(BATCH), "steps": float(N_CHOICES),
                        "threads": float(torch.get_num_threads())}}


def _eval_held_cpu(quick: bool) -> dict:
    n = 10
    held, per_step = _lenet(0), _lenet(0)
    xs, ys = _data(1)
    for net in (held, per_step):
        net.present(xs[0], ys[0], 3, True)

    def steps():
        for _ in range(n):
            per_step.step(xs[0], None, train=False)

    sides = {"held": lambda: held.present(xs[0], None, n, False), "per_step": steps}
    times = {k: [] for k in sides}
    for _ in range(3 if quick else 8):  # interleaved
        for k, fn in sides.items():
            times[k].append(_time_block(fn, 1) / n)
    t = {k: min(v) for k, v in times.items()}  # the least-disturbed round of each
    return {"name": "lenet_eval_held_vs_per_step_cpu", "value": t["held"] / t["per_step"], "goal": 1.0,
            "better": "lower", "unit": "ratio",
            "details": {"held_step_ms": t["held"] * 1e3, "per_step_step_ms": t["per_step"] * 1e3,
                        "batch_size": float(BATCH)}}


def _gpu_row(quick: bool) -> dict:
    K, n = 16, 10
    # the training configuration: float32 products without TF32, deterministic cuDNN kernels
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    sync = torch.cuda.synchronize
    single = _lenet(0, "cuda")
    ens = stack([_lenet(s, "cuda") for s in range(K)], batched=True)
    present = GraphedPresent(ens)
    xs, ys = _data(K, "cuda")
    x, y = network_input(xs), torch.stack(ys)

    def single_step():
        single.step(xs[0], ys[0], train=True)
        sync()

    def graphed():
        present(x, y, n, True)
        sync()

    for _ in range(3):  # warm-up, the graphs' capture
        single_step()
        graphed()
    n_rounds = 3 if quick else 10
    ts, tg = [], []
    for _ in range(n_rounds):
        ts.append(_time_block(single_step, n))
        tg.append(_time_block(graphed, 1) / n)
    one, per_network = statistics.median(ts), statistics.median(tg) / K
    return {"name": "lenet_gpu_k16_per_network_speedup", "value": one / per_network, "goal": 10.0,
            "better": "higher", "unit": "x",
            "details": {"single_eager_step_ms": one * 1e3, "ensemble_step_per_network_ms": per_network * 1e3,
                        "device": torch.cuda.get_device_name()}}


def measure(quick: bool = False) -> list[dict]:
    net = _lenet()
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
    rows = [{"name": "lenet_le_step_vs_torch_fwd_bwd", "value": le_med / bp_med, "goal": 1.5,
             "better": "lower", "unit": "ratio",
             "details": {"le_step_ms": le_med * 1e3, "torch_fwd_bwd_ms": bp_med * 1e3,
                         "batch_size": float(BATCH), "threads": float(torch.get_num_threads()),
                         "device": "cpu"}},
            _ensemble_cpu(quick), _eval_held_cpu(quick), _kernel_choices_cpu(quick)]
    if torch.cuda.is_available():
        rows.append(_gpu_row(quick))
    else:
        rows.append({"name": "lenet_gpu_k16_per_network_speedup", "value": float("nan"), "goal": 10.0,
                     "better": "higher", "unit": "x", "skip": NO_CUDA})
    return rows


if __name__ == "__main__":
    print(json.dumps(measure(), indent=1))
