"""The CPU emulation of CUDA graphs (tests/graph_emulation.py) fails a presenter that gets capture and
replay wrong: one that uses what the capture "computed", that hands a replay fresh tensors instead of
the captured ones, that reads a device value during capture, draws from an unregistered generator,
replays after a host value it baked in has changed, or reads another graph's pool memory; and a replay
draws the eager noise stream. The real presenters are also run with one of their steps removed."""
import pytest
import torch

from fig2cde_higgs_mnist_cifar10 import graphs
from tests.graph_emulation import EMULATION as api
from tests.graph_emulation import CaptureError, install


def _step(state, x):
    """A toy presentation step: in-place state update from a new tensor, through a view."""
    a = x * 2.0 + state  # new tensor
    state.view(-1).add_(a.view(-1))


def test_capture_runs_nothing_and_replay_runs_the_recorded_work():
    state, x = torch.ones(2, 3), torch.full((2, 3), 0.5)
    graph = api.CUDAGraph()
    with api.graph(graph):
        a = x * 2.0  # new tensor: garbage until a replay
        _step(state, x)
    assert torch.equal(state, torch.ones(2, 3)) and a.isnan().all()  # the state keeps its value
    graph.replay()
    assert torch.equal(state, torch.full((2, 3), 3.0)) and torch.equal(a, torch.ones(2, 3))
    graph.replay()
    assert torch.equal(state, torch.full((2, 3), 7.0))


def test_a_replay_reads_the_captured_input_not_a_fresh_one():
    state, static_x = torch.zeros(3), torch.ones(3)
    graph = api.CUDAGraph()
    with api.graph(graph):
        _step(state, static_x)
    fresh_x = torch.full((3,), 5.0)
    graph.replay()  # a presenter that forgot static_x.copy_(fresh_x)
    assert not torch.equal(state, 2.0 * fresh_x)
    static_x.copy_(fresh_x)
    state.zero_()
    graph.replay()
    assert torch.equal(state, 2.0 * fresh_x)


def test_host_reads_of_device_values_and_unregistered_generators_fail_the_capture():
    x = torch.ones(3)
    with pytest.raises(CaptureError, match="host"):
        with api.graph(api.CUDAGraph()):
            if (x * 2).sum() > 0:  # a host sync
                pass
    gen = torch.Generator().manual_seed(7)
    with pytest.raises(CaptureError, match="not registered"):
        with api.graph(api.CUDAGraph()):
            x.add_(torch.randn(3, generator=gen))


def test_replays_draw_the_eager_noise_stream_of_a_registered_generator():
    gen, eager_gen = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    x, eager_x = torch.zeros(4), torch.zeros(4)
    graph = api.CUDAGraph()
    graph.register_generator_state(gen)
    with api.graph(graph):
        x.add_(torch.randn(4, generator=gen))
    assert torch.equal(gen.get_state(), eager_gen.get_state())  # the capture drew nothing
    for _ in range(3):
        graph.replay()
        eager_x.add_(torch.randn(4, generator=eager_gen))
        assert torch.equal(x, eager_x) and torch.equal(gen.get_state(), eager_gen.get_state())


def test_host_values_are_baked_in_and_a_stale_graph_fails(monkeypatch):
    flags, x = torch.zeros(2, dtype=torch.bool), torch.ones(2)
    monkeypatch.setattr(api, "host_tensors", lambda: [flags])
    graph = api.CUDAGraph()
    with api.graph(graph):
        if not flags.any():  # host code: runs once, at capture
            x.mul_(3.0)
    graph.replay()
    assert torch.equal(x, torch.full((2,), 3.0))
    flags[1] = True
    with pytest.raises(CaptureError, match="changed"):
        graph.replay()


def test_graphs_sharing_a_pool_clobber_each_others_memory():
    x = torch.ones(3)
    pool = api.graph_pool_handle()
    first, second = api.CUDAGraph(), api.CUDAGraph()
    with api.graph(first, pool=pool):
        kept = x * 2.0  # a tensor of the first graph, still referenced afterwards
    with api.graph(second, pool=pool):
        x.add_(1.0)
    first.replay()
    assert torch.equal(kept, torch.full((3,), 2.0))
    second.replay()
    assert kept.isnan().all()  # reading it now would read memory the second graph may reuse


def _fig2cde_pair():
    from fig2cde_higgs_mnist_cifar10.model.architectures import build_le
    nets = []
    for _ in range(2):
        torch.manual_seed(0)
        nets.append(build_le("higgs", beta=0.1, tau=10.0, dt=0.1, eta=1.6, lr_factors=[1.0, 0.5, 0.5, 0.5],
                             device="cpu"))
    return nets


def _presents_like_eager(eager, present, batches):
    return all(torch.equal(eager.present(x, y, 5, True), present(x, y, 5, True)) for x, y in batches)


def test_the_fig2cde_presenter_without_its_state_pinning_fails(monkeypatch):
    from tests.fig2cde_higgs_mnist_cifar10.helpers import batch
    install(monkeypatch, graphs)
    batches = [batch("higgs", B=8, seed=s) for s in range(4)]
    eager, graphed = _fig2cde_pair()
    assert _presents_like_eager(eager, graphs.GraphedPresent(graphed), batches)
    eager, graphed = _fig2cde_pair()
    monkeypatch.setattr(graphs.GraphedPresent, "_pin", lambda self: None)
    assert not _presents_like_eager(eager, graphs.GraphedPresent(graphed), batches)


def test_the_fig2b_presenter_must_register_its_noise_generators(monkeypatch):
    from fig2b_fig4ac_mnist.src import cuda_graph
    from tests.fig2b_fig4ac_mnist.test_cuda_graph import _batches, _ensemble, host_side
    eager, graphed = _ensemble("cpu", 0.2), _ensemble("cpu", 0.2)
    install(monkeypatch, cuda_graph, host_tensors=lambda: host_side(graphed))
    monkeypatch.setattr(api.CUDAGraph, "register_generator_state", lambda self, gen: None)
    present = cuda_graph.GraphPresenter(graphed)
    x, y = _batches(1, "cpu")[0]
    assert torch.equal(eager.present(x, y, 5, True), present(x, y, 5, True))  # the eager warm-up
    with pytest.raises(CaptureError, match="not registered"):
        present(x, y, 5, True)
