"""CUDA graphs: a replayed `present` equals the eager steps bitwise, on a GPU and under the CPU
emulation of capture and replay (tests/graph_emulation.py); the GPU agrees with the CPU to float32
rounding when no noise is drawn (CPU and CUDA generators give different noise streams)."""
import pytest
import torch

from fig2b_fig4ac_mnist.src import cuda_graph
from fig2b_fig4ac_mnist.src.cuda_graph import GraphPresenter
from fig2b_fig4ac_mnist.src.network import LENetwork
from tests.fig2b_fig4ac_mnist.helpers import batch, make_cfg
from tests.graph_emulation import install

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason="needs a CUDA GPU (torch.cuda.is_available() is False)")


@pytest.fixture(params=["emulated", pytest.param("cuda", marks=needs_cuda)])
def device(request, monkeypatch):
    """cuda: real graphs; emulated: the presenter's graph calls emulated on the CPU."""
    if request.param == "emulated":
        install(monkeypatch, cuda_graph, host_tensors=lambda: [t for net in _NETS for t in host_side(net)])
        return "cpu"
    return "cuda"


_NETS = []  # the networks whose presenter is emulated


def host_side(net):
    """The tensors an LENetwork keeps in host memory on a GPU (network.py: the tau_learning flags)."""
    return [t for t in (net.tau_learning, net._tau_flags_seen) if t is not None]


def _ensemble(device, noise_width):
    """K = 3: two seeds, one with feedback alignment; 4c-like filters and target low-pass."""
    cfgs = [make_cfg("4c_params.yaml", seed=s, feedback_alignment=fa, noise_width=noise_width,
                     hidden_sizes=[30, 20]) for s, fa in ((1, False), (2, True), (3, False))]
    return LENetwork(cfgs, device=device, dtype=torch.float32, noise_seeds=[7, 7, 7])


def _batches(n, device):
    return [tuple(t.to(device) for t in batch(16, seed=s, dtype=torch.float32)) for s in range(n)]


def test_graph_replay_equals_eager_steps(device):
    eager, graphed = _ensemble(device, 0.2), _ensemble(device, 0.2)
    present = GraphPresenter(graphed)
    _NETS[:] = [graphed]
    for x, y in _batches(4, device):  # call 1: warm-up, call 2: capture and replay, then replays
        for train in (True, False):
            assert torch.equal(eager.present(x, y, 20, train), present(x, y, 20, train))
    assert len(present.graphs) == 2
    for a, b in zip(eager.W + eager.rbar, graphed.W + graphed.rbar):
        assert torch.equal(a, b)
    assert all(torch.equal(g.get_state(), h.get_state()) for g, h in zip(eager.gens, graphed.gens))


@needs_cuda
def test_gpu_follows_the_cpu_to_float32_rounding_without_noise():
    cpu, gpu = _ensemble("cpu", 0.0), _ensemble("cuda", 0.0)
    present = GraphPresenter(gpu)
    for (x, y), (xg, yg) in zip(_batches(6, "cpu"), _batches(6, "cuda")):
        out_cpu = cpu.present(x, y, 20, True)
        out_gpu = present(xg, yg, 20, True)
        torch.testing.assert_close(out_gpu.cpu(), out_cpu, rtol=1e-4, atol=1e-5)
    for a, b in zip(cpu.W, gpu.W):
        torch.testing.assert_close(b.cpu(), a, rtol=1e-4, atol=1e-6)
