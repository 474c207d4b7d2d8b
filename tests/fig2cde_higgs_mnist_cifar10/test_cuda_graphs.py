"""GPU execution: `present` replayed from CUDA graphs gives bitwise the eager steps (same kernels), for
single networks and ensembles, across train/eval switches, a fresh network's first batch and a
partial batch; TF32 is off unless the config key turns it on."""
import pytest
import torch

from common.config import load_config
from fig2cde_higgs_mnist_cifar10 import train
from fig2cde_higgs_mnist_cifar10.config import Config
from fig2cde_higgs_mnist_cifar10.graphs import GraphedPresent
from fig2cde_higgs_mnist_cifar10.model.architectures import build_le
from fig2cde_higgs_mnist_cifar10.model.le_ensemble import network_input, stack
from tests.fig2cde_higgs_mnist_cifar10.helpers import N_STAGES, batch
from tests.fig2cde_higgs_mnist_cifar10.test_cli import CONFIGS

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason="needs a CUDA GPU: CUDA-graph capture and replay run only there")


def _net(task, seed):
    torch.manual_seed(seed)
    return build_le(task, beta=0.1, tau=10.0, dt=0.1, eta=1.6,
                    lr_factors=[1.0] + [0.5] * (N_STAGES[task] - 1), device="cuda")


def _network(task, K):
    if K == 1:
        return _net(task, 0)
    return stack([_net(task, s) for s in range(K)], batched=True)


@needs_cuda
@pytest.mark.parametrize("task", ["higgs", "mnist"])
@pytest.mark.parametrize("K", [1, 3])
def test_graph_replay_is_bitwise_the_eager_steps(task, K):
    eager, graphed = _network(task, K), _network(task, K)
    present = GraphedPresent(graphed)
    # fresh network, repeated train batches (replays), eval, a partial batch (eager), train again
    schedule = [(8, True), (8, True), (8, True), (8, False), (8, False), (5, True), (8, True), (8, True)]
    for i, (B, train_mode) in enumerate(schedule):
        data = [batch(task, B=B, seed=10 * i + k) for k in range(K)]
        data = [(x.cuda(), y.cuda()) for x, y in data]
        x = data[0][0] if K == 1 else network_input([x for x, _ in data])
        y = (data[0][1] if K == 1 else torch.stack([y for _, y in data])) if train_mode else None
        want = eager.present(x, y, 10, train_mode)
        got = present(x, y, 10, train_mode)
        assert torch.equal(got, want), f"batch {i}"
    assert len(present.graphs) >= 3  # fresh train, steady train, eval entries were captured
    for s_e, s_g in zip(eager.stages, graphed.stages):
        for name in s_e.state_names:
            assert torch.equal(getattr(s_e, name), getattr(s_g, name)), name
        if s_e.has_weights:
            assert torch.equal(s_e.W, s_g.W) and torch.equal(s_e.b, s_g.b)


@pytest.mark.parametrize("tf32", [False, True])
def test_tf32_only_when_the_config_turns_it_on(tf32):
    cfg = load_config(Config, CONFIGS / "smoke_higgs_le.yaml", [f"tf32={str(tf32).lower()}"])
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = not tf32
    try:
        train.setup(cfg, torch.device("cpu"))
        assert torch.backends.cuda.matmul.allow_tf32 is tf32 and torch.backends.cudnn.allow_tf32 is tf32
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = False, True  # torch's defaults
