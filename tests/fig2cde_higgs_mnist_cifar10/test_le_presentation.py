"""Work done once per presentation and buffers kept across steps change no number: the first stage's
basal input held in evaluation (its input and weights are constant over the presentation, model §1.5)
and the max-pool buffers reused from step to step (model §1.4)."""
import pytest
import torch

from fig2cde_higgs_mnist_cifar10.model.le_ensemble import MemberSequence, network_input, stack, unstack_into
from tests.fig2cde_higgs_mnist_cifar10.helpers import batch, make_net


def _state(net):
    return [t for s in net.stages
            for t in ([s.W, s.b] if s.has_weights else []) + [getattr(s, n) for n in s.state_names]]


@pytest.mark.parametrize("voltage_form", ["exact", "authors"])
@pytest.mark.parametrize("task", ["higgs", "mnist"])
def test_evaluation_with_the_held_first_stage_is_bitwise_the_per_step_one(task, voltage_form):
    """`present` in evaluation holds W_1 * x + b_1; the same number of `step` calls recompute it: the
    outputs and all weights and states are bitwise equal, from a trained state (errors still nonzero
    in the first evaluation steps) and across batches."""
    held, per_step = (make_net(task, eta=1.6, voltage_form=voltage_form) for _ in range(2))
    x, y = batch(task, B=6, seed=0)
    for net in (held, per_step):
        net.present(x, y, 6, train=True)
    for seed in (1, 2):
        x, _ = batch(task, B=6, seed=seed)
        out = held.present(x, None, 7, train=False)
        for _ in range(7):
            per_step.step(x, None, train=False)
        assert torch.equal(out, per_step.output)
    assert held.stages[0].held is None  # released after the presentation
    for a, b in zip(_state(held), _state(per_step)):
        assert torch.equal(a, b)


def test_maxpool_buffers_carry_no_state_between_batch_sizes():
    """A LeNet stepped through batches of 8, 5 and 8 rows (the max-pool buffers of each size are kept
    and reused) equals a fresh copy stepped with freshly built pools at every batch."""
    net = make_net("mnist", eta=1.6)
    ref = make_net("mnist", eta=1.6)
    for i, (B, train) in enumerate([(8, True), (5, True), (8, False), (8, True)]):
        x, y = batch("mnist", B=B, seed=i)
        out = net.present(x, y if train else None, 4, train)
        for k in (1, 3):  # pools without buffers: as if each batch were the first
            ref.stages[k]._buffers = {}
        assert torch.equal(out, ref.present(x, y if train else None, 4, train))
    for a, b in zip(_state(net), _state(ref)):
        assert torch.equal(a, b)


def test_cpu_ensemble_steps_its_members_in_turn():
    """stack(batched=False) runs the members themselves: ann_forward, step and present give each
    member's own output, and unstack_into copies into other networks exactly."""
    members = [make_net("mnist", eta=1.6, seed=s) for s in range(3)]
    alone = [make_net("mnist", eta=1.6, seed=s) for s in range(3)]
    ens = stack(members, batched=False)
    assert isinstance(ens, MemberSequence)
    data = [batch("mnist", B=4, seed=k) for k in range(3)]
    x, y = network_input([d[0] for d in data]), torch.stack([d[1] for d in data])
    ens.step(x, y, train=True)
    out = ens.present(x, y, 3, train=True)
    for k, net in enumerate(alone):
        net.step(*data[k], train=True)
        assert torch.equal(out[k], net.present(*data[k], 3, train=True))
        assert torch.equal(ens.ann_forward(x)[k], net.ann_forward(data[k][0]))
    copies = [make_net("mnist", seed=10 + s) for s in range(3)]
    unstack_into(ens, copies)
    for copy, net in zip(copies, alone):
        for a, b in zip(_state(copy), _state(net)):
            assert torch.equal(a, b)
