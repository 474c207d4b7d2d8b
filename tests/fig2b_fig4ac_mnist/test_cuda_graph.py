"""CUDA graphs: a replayed `present` equals the eager steps on the same GPU; the GPU agrees with the CPU
to float32 rounding when no noise is drawn (CPU and CUDA generators give different noise streams)."""
import pytest
import torch

from fig2b_fig4ac_mnist.src.cuda_graph import GraphPresenter
from fig2b_fig4ac_mnist.src.network import LENetwork
from tests.fig2b_fig4ac_mnist.helpers import batch, make_cfg

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason="needs a CUDA GPU (torch.cuda.is_available() is False)")


def _ensemble(device, noise_width):
    """K = 3: two seeds, one with feedback alignment; 4c-like filters and target low-pass."""
    cfgs = [make_cfg("4c_params.yaml", seed=s, feedback_alignment=fa, noise_width=noise_width,
                     hidden_sizes=[30, 20]) for s, fa in ((1, False), (2, True), (3, False))]
    return LENetwork(cfgs, device=device, dtype=torch.float32, noise_seeds=[7, 7, 7])


def _batches(n, device):
    return [tuple(t.to(device) for t in batch(16, seed=s, dtype=torch.float32)) for s in range(n)]


def test_graph_replay_equals_eager_steps():
    eager, graphed = _ensemble("cuda", 0.2), _ensemble("cuda", 0.2)
    present = GraphPresenter(graphed)
    for x, y in _batches(4, "cuda"):  # call 1: warm-up, call 2: capture and replay, then replays
        for train in (True, False):
            assert torch.equal(eager.present(x, y, 20, train), present(x, y, 20, train))
    assert len(present.graphs) == 2
    for a, b in zip(eager.W + eager.rbar, graphed.W + graphed.rbar):
        assert torch.equal(a, b)
    assert all(torch.equal(g.get_state(), h.get_state()) for g, h in zip(eager.gens, graphed.gens))


def test_gpu_follows_the_cpu_to_float32_rounding_without_noise():
    cpu, gpu = _ensemble("cpu", 0.0), _ensemble("cuda", 0.0)
    present = GraphPresenter(gpu)
    for (x, y), (xg, yg) in zip(_batches(6, "cpu"), _batches(6, "cuda")):
        out_cpu = cpu.present(x, y, 20, True)
        out_gpu = present(xg, yg, 20, True)
        torch.testing.assert_close(out_gpu.cpu(), out_cpu, rtol=1e-4, atol=1e-5)
    for a, b in zip(cpu.W, gpu.W):
        torch.testing.assert_close(b.cpu(), a, rtol=1e-4, atol=1e-6)
