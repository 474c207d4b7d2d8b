"""Benchmark: continuous LE (784-300-100-10, batch 512): the training step, ensembles on CPU and GPU.

Rows (all measured in this process, interleaved where compared):
- fc_train_step_vs_matmul: (time of the step's matrix products alone) / (time of a full training step)
  on the CPU; target >= 0.70.
- fc_ensemble8_vs_8_single_cpu: time of one step of an ensemble of K = 8 networks / 8 single-network
  steps; target <= 1.1.
- fc_train_presentation_vs_stepwise_cpu: a training presentation (n_updates steps) with
  input_current: presentation / the same with stepwise; target <= 0.5. Its details give the same ratio
  for the matrix products alone (products_only_ratio): the floor the elementwise work both forms
  share lifts the step's ratio from.
- fc_eval_cached_vs_uncached_cpu: an evaluation presentation (I_1 computed once) / the same steps
  recomputing I_1 in every step; target <= 0.35.
- With CUDA (else SKIP): fc_gpu_k16_per_network_speedup = single-network eager step / (K = 16 CUDA-graph
  step / 16), target >= 10; fc_gpu_fig2b_run_minutes = one Fig. 2b run (a CUDA-graph ensemble of 1),
  target <= 10; fc_gpu_fig2b_all_runs_minutes = the 3 ensembles of 2b_jobs.sh (2 x 15 networks at
  n_updates = 100, 10 at 200) projected with the K = 16 step time, target <= 60; and the two
  input-current ratios above, K = 1, eager with a synchronisation per presentation.
"""
import json
import time

import torch

from common.config import load_config
from fig2b_fig4ac_mnist.src.config import Config
from fig2b_fig4ac_mnist.src.cuda_graph import GraphPresenter
from fig2b_fig4ac_mnist.src.network import LENetwork
from fig2b_fig4ac_mnist.src.paths import CONFIGS

B = 512
# Euler steps of one Fig. 2b run: 199 training epochs x 97 batches, 200 validation passes + 1 test pass
# of 19 batches, n_updates = 100 each (docs/model/fig2b_fig4ac_mnist.md §5, Q5, Q9)
FIG2B_STEPS = (199 * 97 + 201 * 19) * 100
NO_CUDA = "no CUDA"


def _matmuls(net, x, W, bufs, G=None):
    """The products one lean training step performs, with the same shapes, layouts and out= buffers;
    with G (B x B), layer 1's in the presentation form (I_1 += G s instead of its forward and update).

    W are copies of the network's weights: the update GEMM needs a nonzero alpha (BLAS skips alpha = 0).
    """
    I, diff, e, g = bufs
    for l in range(net.L):
        rho_in = x if l == 0 else net.r[l - 1]
        if l == 0 and G is not None:
            I[0].baddbmm_(G, e[0])  # I_1 carried over the presentation
            continue
        torch.baddbmm(net.b[l], rho_in, W[l], out=I[l])  # forward drive
        if l > 0:
            torch.bmm(diff[l], W[l].mT, out=g[l - 1])  # error sent down
        W[l].baddbmm_(rho_in.mT, e[l])  # weight update


def _time(fn, n, sync=lambda: None):
    sync()
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    sync()
    return (time.perf_counter() - t0) / n


def _nets(K, device, input_current="stepwise"):
    cfgs = [load_config(Config, CONFIGS / "2b_le.yaml", ["device=cpu", f"seed={s}", f"input_current={input_current}"])
            for s in range(K)]
    return LENetwork(cfgs, device=device)


def _data(device):
    x = torch.rand(B, 784, device=device)  # B x 784
    y = torch.nn.functional.one_hot(torch.randint(0, 10, (B,)), 10).float().to(device)  # B x 10
    return x, y


def _matmul_args(net):
    """Buffers and weight copies for _matmuls, shaped like the (K = 1) network's."""
    sizes = net.sizes[1:]
    bufs = ([torch.empty(1, B, n) for n in sizes], [torch.randn(1, B, n) for n in sizes],
            [torch.randn(1, B, n) * 1e-3 for n in sizes], [torch.empty(1, B, n) for n in net.sizes[1:-1]])
    return bufs, [w.clone() for w in net.W]


def _step_vs_matmul(quick):
    net = _nets(1, "cpu")
    x, y = _data("cpu")
    for _ in range(5):
        net.step(x, y, train=True)
    x1 = x.expand(1, -1, -1)
    bufs, W = _matmul_args(net)
    n_inner, rounds = (5, 4) if quick else (20, 15)
    t_step, t_mm = [], []
    for _ in range(rounds):  # interleaved so that load changes hit both sides alike
        t_step.append(_time(lambda: net.step(x, y, train=True), n_inner))
        t_mm.append(_time(lambda: _matmuls(net, x1, W, bufs), n_inner))
    step, mm = min(t_step), min(t_mm)
    flops = 2 * B * sum(a * b for a, b in zip(net.sizes[:-1], net.sizes[1:])) * 2 \
        + 2 * B * sum(a * b for a, b in zip(net.sizes[1:-1], net.sizes[2:]))
    return {"name": "fc_train_step_vs_matmul", "value": mm / step, "goal": 0.70, "better": "higher",
            "unit": "ratio",
            "details": {"step_ms": step * 1e3, "matmul_ms": mm * 1e3, "step_gflops": flops / step / 1e9,
                        "matmul_gflops": flops / mm / 1e9, "batch": float(B),
                        "threads": float(torch.get_num_threads()), "timing": "min over interleaved rounds"}}


def _ensemble_cpu(quick):
    single, ens = _nets(1, "cpu"), _nets(8, "cpu")
    x, y = _data("cpu")
    for net in (single, ens):
        for _ in range(3):
            net.step(x, y, train=True)
    n_inner, rounds = (2, 3) if quick else (5, 8)
    t1, t8 = [], []
    for _ in range(rounds):
        t1.append(_time(lambda: single.step(x, y, train=True), n_inner))
        t8.append(_time(lambda: ens.step(x, y, train=True), n_inner))
    one, eight = min(t1), min(t8)
    return {"name": "fc_ensemble8_vs_8_single_cpu", "value": eight / (8 * one), "goal": 1.1, "better": "lower",
            "unit": "x", "details": {"single_step_ms": one * 1e3, "ensemble8_step_ms": eight * 1e3,
                                     "threads": float(torch.get_num_threads())}}


def _input_current_rows(quick, device, sync=lambda: None):
    """Training presentation: presentation form / stepwise form; evaluation: cached / uncached I_1.
    Per Euler step, B = 512, K = 1, interleaved rounds, the minimum of each side."""
    tag = "cpu" if device == "cpu" else "gpu"
    n = 20 if quick else 100
    x, y = _data(device)
    step_net, pres_net = _nets(1, device, "stepwise"), _nets(1, device, "presentation")
    for net in (step_net, pres_net):
        net.present(x, y, 3, train=True)

    def uncached():  # the same n evaluation steps, I_1 recomputed in each (a step outside `present`)
        for _ in range(n):
            step_net.step(x, y, train=False)

    sides = {"stepwise": lambda: step_net.present(x, y, n, train=True),
             "presentation": lambda: pres_net.present(x, y, n, train=True),
             "cached": lambda: step_net.present(x, y, n, train=False), "uncached": uncached}
    if device == "cpu":  # the matrix products alone of n steps of each form: the ratio's floor
        x1 = x.expand(1, -1, -1)
        G = torch.bmm(x1, x1.mT).add_(1.0)  # 1 x B x B
        bufs, W = _matmul_args(step_net)
        sides["stepwise_products"] = lambda: [_matmuls(step_net, x1, W, bufs) for _ in range(n)]
        sides["presentation_products"] = lambda: [_matmuls(step_net, x1, W, bufs, G) for _ in range(n)]
    times = {k: [] for k in sides}
    for _ in range(2 if quick else 4):
        for k, fn in sides.items():
            times[k].append(_time(fn, 1, sync) / n)
    t = {k: min(v) for k, v in times.items()}
    details = {f"{k}_step_ms": v * 1e3 for k, v in t.items()}
    if "stepwise_products" in t:
        details["products_only_ratio"] = t["presentation_products"] / t["stepwise_products"]
    details.update({"batch": float(B), "n_updates": float(n), "timing": "min over interleaved rounds"})
    return [{"name": f"fc_train_presentation_vs_stepwise_{tag}", "value": t["presentation"] / t["stepwise"],
             "goal": 0.5, "better": "lower", "unit": "ratio", "details": details},
            {"name": f"fc_eval_cached_vs_uncached_{tag}", "value": t["cached"] / t["uncached"], "goal": 0.35,
             "better": "lower", "unit": "ratio", "details": {}}]


def _gpu_rows(quick):
    sync = torch.cuda.synchronize
    torch.backends.cuda.matmul.allow_tf32 = False  # float32 as on the CPU, the configs' default (tf32: false)
    x, y = _data("cuda")
    single = _nets(1, "cuda")
    for _ in range(3):
        single.step(x, y, train=True)
    n = 20 if quick else 100
    eager = min(_time(lambda: single.step(x, y, train=True), n, sync) for _ in range(3))
    graphed = {}
    for K in (1, 16):
        net = _nets(K, "cuda")
        present = GraphPresenter(net)
        for _ in range(2):  # warm-up, then capture
            present(x, y, 100, train=True)
        graphed[K] = min(_time(lambda: present(x, y, 100, train=True), 2 if quick else 5, sync)
                         for _ in range(3)) / 100  # per Euler step of all K networks
    speedup = eager / (graphed[16] / 16)
    run_min = FIG2B_STEPS * graphed[1] / 60
    all_min = 4 * FIG2B_STEPS * graphed[16] / 60  # 2 ensembles x 1 + 1 ensemble x 2 (n_updates = 200)
    details = {"eager_step_ms": eager * 1e3, "graph_step_k1_ms": graphed[1] * 1e3,
               "graph_step_k16_ms": graphed[16] * 1e3, "device": torch.cuda.get_device_name(),
               "tf32": str(torch.backends.cuda.matmul.allow_tf32)}
    return [
        {"name": "fc_gpu_k16_per_network_speedup", "value": speedup, "goal": 10.0, "better": "higher",
         "unit": "x", "details": details},
        {"name": "fc_gpu_fig2b_run_minutes", "value": run_min, "goal": 10.0, "better": "lower", "unit": "min",
         "details": {"steps": float(FIG2B_STEPS)}},
        {"name": "fc_gpu_fig2b_all_runs_minutes", "value": all_min, "goal": 60.0, "better": "lower",
         "unit": "min", "details": {"ensembles": "2 x 15 (n_updates 100) + 10 (n_updates 200), K = 16 timing"}},
    ]


def _skipped(name, goal, better, unit):
    return {"name": name, "value": float("nan"), "goal": goal, "better": better, "unit": unit, "skip": NO_CUDA}


def measure(quick: bool = False) -> list[dict]:
    torch.manual_seed(0)
    rows = [_step_vs_matmul(quick), _ensemble_cpu(quick), *_input_current_rows(quick, "cpu")]
    if torch.cuda.is_available():
        rows += _gpu_rows(quick)
        rows += _input_current_rows(quick, "cuda", torch.cuda.synchronize)
    else:
        rows += [_skipped("fc_gpu_k16_per_network_speedup", 10.0, "higher", "x"),
                 _skipped("fc_gpu_fig2b_run_minutes", 10.0, "lower", "min"),
                 _skipped("fc_gpu_fig2b_all_runs_minutes", 60.0, "lower", "min"),
                 _skipped("fc_train_presentation_vs_stepwise_gpu", 0.5, "lower", "ratio"),
                 _skipped("fc_eval_cached_vs_uncached_gpu", 0.35, "lower", "ratio")]
    return rows


if __name__ == "__main__":
    print(json.dumps(measure(), indent=1))
