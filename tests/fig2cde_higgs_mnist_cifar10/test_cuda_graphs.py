"""`present` replayed from CUDA graphs gives bitwise the eager steps (same kernels), for single
networks and ensembles, across train/eval switches, a fresh network's first batch and a partial
batch, with all graphs of a presenter in one memory pool: on a GPU and under the CPU emulation of
capture and replay (tests/graph_emulation.py). TF32 is off unless the config key turns it on."""
import pytest
import torch

from common.config import load_config
from fig2cde_higgs_mnist_cifar10 import graphs, train
from fig2cde_higgs_mnist_cifar10.config import Config
from fig2cde_higgs_mnist_cifar10.graphs import GraphedPresent
from fig2cde_higgs_mnist_cifar10.model.architectures import build_le
from fig2cde_higgs_mnist_cifar10.model.le_ensemble import network_input, stack
from tests.fig2cde_higgs_mnist_cifar10.helpers import N_STAGES, batch
from tests.fig2cde_higgs_mnist_cifar10.test_cli import CONFIGS
from tests.graph_emulation import install

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason="needs a CUDA GPU: CUDA-graph capture and replay run only there")


@pytest.fixture(params=["emulated", pytest.param("cuda", marks=needs_cuda)])
def device(request, monkeypatch):
    """cuda: real graphs; emulated: the presenter's graph calls emulated on the CPU."""
    if request.param == "emulated":
        install(monkeypatch, graphs)
        return "cpu"
    return "cuda"


def _net(task, seed, device):
    torch.manual_seed(seed)
    return build_le(task, beta=0.1, tau=10.0, dt=0.1, eta=1.6,
                    lr_factors=[1.0] + [0.5] * (N_STAGES[task] - 1), device=device)


def _network(task, K, device):
    if K == 1:
        return _net(task, 0, device)
    return stack([_net(task, s, device) for s in range(K)], batched=True)


@pytest.mark.parametrize("task", ["higgs", "mnist"])
@pytest.mark.parametrize("K", [1, 3])
def test_graph_replay_is_bitwise_the_eager_steps(task, K, device):
    eager, graphed = _network(task, K, device), _network(task, K, device)
    present = GraphedPresent(graphed)
    # fresh network, repeated train batches (replays), eval, a partial batch (eager), train again
    schedule = [(8, True), (8, True), (8, True), (8, False), (8, False), (5, True), (8, True), (8, True)]
    for i, (B, train_mode) in enumerate(schedule):
        data = [batch(task, B=B, seed=10 * i + k) for k in range(K)]
        data = [(x.to(device), y.to(device)) for x, y in data]
        x = data[0][0] if K == 1 else network_input([x for x, _ in data])
        y = (data[0][1] if K == 1 else torch.stack([y for _, y in data])) if train_mode else None
        want = eager.present(x, y, 10, train_mode)
        got = present(x, y, 10, train_mode)
        assert torch.equal(got, want), f"batch {i}"
    assert len(present.graphs) >= 3  # fresh train, steady train, eval entries were captured
    assert len({graph.pool() for graph, *_ in present.graphs.values()}) == 1  # one memory pool
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


@pytest.mark.parametrize("task", ["higgs", "mnist"])
def test_sweep_with_emulated_graphs_is_bitwise_the_eager_sweep(tmp_path, monkeypatch, task):
    """A whole `train.py sweep` (an ensemble of 2 seeds: train, validation, test, checkpoints) as it
    runs on a GPU (batched ensemble) presenting through graph capture and replay writes the files of
    the same sweep presenting eagerly, bitwise."""
    from fig2cde_higgs_mnist_cifar10 import ensemble
    from tests.fig2cde_higgs_mnist_cifar10.test_sweep import _checkpoint, _rows
    monkeypatch.setattr(ensemble, "_on_gpu", lambda device: True)  # the GPU's ensemble kernels

    def sweep(root):
        assert train.main(["sweep", str(CONFIGS / f"smoke_{task}_le.yaml"), "--seeds", "1,2", "--root",
                           str(root), "epochs=2", "train_samples=48", "eval_samples=32"]) == 0
        return [root / f"smoke_{task}_le" / f"seed{s}" for s in (1, 2)]

    eager = sweep(tmp_path / "eager")
    captured = []
    install(monkeypatch, graphs)
    monkeypatch.setattr(graphs, "GraphedPresent", type("Counting", (GraphedPresent,), {
        "__init__": lambda self, net: (GraphedPresent.__init__(self, net), captured.append(self))[0]}))
    replayed = sweep(tmp_path / "graphs")
    assert max(len(p.graphs) for p in captured) >= 2  # the ensemble's train and eval graphs ...
    assert sum(g.replays for p in captured for g, *_ in p.graphs.values()) >= 4  # ... replayed
    for a, b in zip(eager, replayed):
        assert _rows(a) == _rows(b)
        ca, cb = _checkpoint(a), _checkpoint(b)
        assert ca.keys() == cb.keys() and all(torch.equal(ca[k], cb[k]) for k in ca)


def test_an_ensemble_lives_on_the_device_and_its_members_on_the_host():
    """After `stack` the device holds one copy of each network: the ensemble on the members' device
    ('meta' stands in for a GPU), the members' own weights and state on the host; `unstack_into`
    refreshes the host copies and stacking them again builds on the device again."""
    members = [_net("mnist", s, "cpu") for s in range(3)]
    for m in members:
        m.ensure_batch(4)
        for stage in m.stages:
            stage.device = torch.device("meta")
    ens = stack(members, batched=True)
    tensors = lambda net: [getattr(s, n) for s in net.stages  # noqa: E731
                           for n in (("W", "b") if s.has_weights else ()) + s.state_names]
    assert all(t.device.type == "meta" for t in tensors(ens))
    assert all(t.device.type == "cpu" for m in members for t in tensors(m))
    again = stack(members, batched=True)  # e.g. after a diverged member was dropped
    assert all(t.device.type == "meta" for t in tensors(again))


def test_unstack_into_writes_host_copies():
    from fig2cde_higgs_mnist_cifar10.model.le_ensemble import unstack_into
    members = [_net("higgs", s, "cpu") for s in range(2)]
    ens = stack(members, batched=True)
    x = network_input([batch("higgs", B=4, seed=s)[0] for s in range(2)])
    y = torch.stack([batch("higgs", B=4, seed=s)[1] for s in range(2)])
    ens.present(x, y, 3, True)
    unstack_into(ens, members)
    for k, m in enumerate(members):
        for s_e, s_m in zip(ens.stages, m.stages):
            if s_e.has_weights:
                assert torch.equal(s_m.W, s_e._member_param(s_e.W, k)) and s_m.W.device.type == "cpu"
            for name in s_e.state_names:
                t = getattr(s_m, name)
                assert torch.equal(t, s_e._member_state(getattr(s_e, name), k))
                assert t.data_ptr() != getattr(s_e, name).data_ptr()  # a copy, not a view


@pytest.mark.filterwarnings("ignore:for .*copying from a non-meta parameter")
@pytest.mark.parametrize("config", ["smoke_mnist_le.yaml", "smoke_mnist_bp.yaml"])
def test_a_checkpoint_loads_onto_the_runs_device(tmp_path, config):
    """Checkpoints load on the CPU; a trainer resumed on another device ('meta' stands in for a GPU)
    holds every weight, neuron state and optimiser buffer on its own device; a checkpoint written on
    a GPU (its RNG state has a 'cuda' entry) resumes on a machine without one."""
    from common.checkpoint import load_checkpoint, save_checkpoint
    from common.seeding import get_rng_state, set_rng_state
    from fig2cde_higgs_mnist_cifar10.trainers import BPTrainer, LETrainer
    from tests.fig2cde_higgs_mnist_cifar10.helpers import batch
    cfg = load_config(Config, CONFIGS / config, [])
    trainer_class = LETrainer if cfg.model == "le" else BPTrainer
    written = trainer_class(cfg, torch.device("cpu"))
    x, y = batch("mnist", B=4, seed=0)
    written.train_batch(x, y.argmax(1))
    rng = dict(get_rng_state(), cuda=[torch.zeros(16, dtype=torch.uint8)])  # a CUDA generator's state
    save_checkpoint(tmp_path / "ck.pt", {"trainer": written.state_dict(), "rng": rng})
    state = load_checkpoint(tmp_path / "ck.pt")
    resumed = trainer_class(cfg, torch.device("meta"))
    resumed.load_state_dict(state["trainer"])
    if cfg.model == "le":
        tensors = [t for s in resumed.net.stages for t in ([s.W, s.b] if s.has_weights else [])
                   + [getattr(s, n) for n in s.state_names]]
    else:
        tensors = list(resumed.model.parameters()) + [v for st in resumed.opt.state.values()
                                                      for v in st.values() if isinstance(v, torch.Tensor)]
    assert len(tensors) > 4 and all(t.device.type == "meta" for t in tensors)
    if not torch.cuda.is_available():
        set_rng_state(state["rng"])  # the CUDA entry waits for a GPU
        assert torch.equal(torch.get_rng_state(), rng["torch"])
