"""K networks stepped as one ensemble equal the K networks stepped alone: bitwise with the single
network's kernels per member (the CPU path), to float rounding with batched kernels (the GPU path:
grouped convolutions, batched matrix products and vmap sum in another order; BATCHED_ATOL)."""
import pytest
import torch

from common.config import load_config
from fig2cde_higgs_mnist_cifar10.config import Config
from fig2cde_higgs_mnist_cifar10.ensemble import BPEnsemble
from fig2cde_higgs_mnist_cifar10.model.le_ensemble import network_input, stack, unstack_into
from fig2cde_higgs_mnist_cifar10.trainers import BPTrainer
from tests.fig2cde_higgs_mnist_cifar10.helpers import batch, flat_tensors, make_net, one_math_thread  # noqa: F401
from tests.fig2cde_higgs_mnist_cifar10.test_cli import CONFIGS

K = 3
BATCHED_ATOL = 1e-5  # |ensemble - single| for weights, state and outputs on the batched path

pytestmark = pytest.mark.usefixtures("one_math_thread")


def _run(task, nets, ens, schedule):
    """schedule: (batch size, steps, train) per batch; each member gets its own batch."""
    outs = []
    for i, (B, n, train) in enumerate(schedule):
        data = [batch(task, B=B, seed=100 * i + k) for k in range(len(nets))]
        single = [net.present(x, y if train else None, n, train) for net, (x, y) in zip(nets, data)]
        y = torch.stack([y for _, y in data]) if train else None  # [K, B, n_out]
        out = ens.present(network_input([x for x, _ in data]), y, n, train)  # [K, B, n_out]
        outs.append((torch.stack(single), out))
    return outs


def _tensors(net):
    sd = net.state_dict()
    out = dict(sd["weights"])
    for k, st in enumerate(sd["state"]):
        out.update({f"stage{k}.{n}": t for n, t in st.items()})
    return out


# train and eval batches, and a smaller batch in between (its state rows are cut and padded, docs/model/fig2cde_higgs_mnist_cifar10.md Q9)
SCHEDULE = [(8, 12, True), (8, 5, False), (5, 4, True), (8, 12, True)]


@pytest.mark.parametrize("task", ["higgs", "mnist"])
def test_per_member_kernels_are_bitwise_the_single_networks(task):
    nets = [make_net(task, eta=1.6, seed=s) for s in range(K)]
    members = [make_net(task, eta=1.6, seed=s) for s in range(K)]
    ens = stack(members, batched=False)
    for single, out in _run(task, nets, ens, SCHEDULE):
        assert torch.equal(single, out)
    unstack_into(ens, members)
    for net, member in zip(nets, members):
        a, b = _tensors(net), _tensors(member)
        assert a.keys() == b.keys()
        for name in a:
            assert torch.equal(a[name], b[name]), name


@pytest.mark.parametrize("task", ["higgs", "mnist"])
def test_batched_kernels_agree_to_float_rounding(task):
    nets = [make_net(task, eta=1.6, seed=s) for s in range(K)]
    members = [make_net(task, eta=1.6, seed=s) for s in range(K)]
    ens = stack(members, batched=True)
    for single, out in _run(task, nets, ens, SCHEDULE[:3]):
        torch.testing.assert_close(out, single, rtol=0, atol=BATCHED_ATOL)
    unstack_into(ens, members)
    for net, member in zip(nets, members):
        a, b = _tensors(net), _tensors(member)
        for name in a:
            torch.testing.assert_close(b[name], a[name], rtol=0, atol=BATCHED_ATOL, msg=name)


def test_ann_forward_of_the_ensemble_is_each_members():
    nets = [make_net("mnist", seed=s) for s in range(K)]
    ens = stack([make_net("mnist", seed=s) for s in range(K)])
    xs = [batch("mnist", B=4, seed=k)[0] for k in range(K)]
    out = ens.ann_forward(network_input(xs))  # [K, B, 10]
    for k in range(K):
        assert torch.equal(out[k], nets[k].ann_forward(xs[k]))


@pytest.mark.parametrize("task", ["higgs", "mnist"])
def test_bp_vmap_ensemble_agrees_with_separate_trainers_to_float_rounding(task):
    """BP members stepped with vmap over stacked parameters (the GPU path), momentum on: losses,
    counts, weights and momentum buffers of 3 SGD steps and an evaluation match each member's own."""
    cfg = load_config(Config, CONFIGS / f"smoke_{task}_bp.yaml", ["momentum=0.9", "weight_decay=1e-4"])
    singles, members = [], []
    for s in range(K):
        torch.manual_seed(s)
        singles.append(BPTrainer(cfg, "cpu"))
        torch.manual_seed(s)
        members.append(BPTrainer(cfg, "cpu"))
    ens = BPEnsemble(members, "cpu", batched=True)
    for i in range(4):
        data = [_bp_batch(task, 100 * i + k) for k in range(K)]
        step = "eval_batch" if i == 3 else "train_batch"
        got = getattr(ens, step)(data)  # [K, (summed loss, correct)]
        want = torch.stack([getattr(t, step)(x, labels) for t, (x, labels) in zip(singles, data)])
        assert torch.equal(got[:, 1], want[:, 1])
        torch.testing.assert_close(got[:, 0], want[:, 0], rtol=1e-5, atol=0)
    ens.sync()
    for single, member in zip(singles, members):
        a, b = flat_tensors(single.state_dict()), flat_tensors(member.state_dict())
        assert a.keys() == b.keys() and any("momentum_buffer" in k for k in a)
        for name in a:
            torch.testing.assert_close(b[name], a[name], rtol=0, atol=BATCHED_ATOL, msg=name)


def _bp_batch(task, seed, B=8):
    x, y = batch(task, B=B, seed=seed)
    return x, (y[:, 0].long() if task == "higgs" else y.argmax(1))
