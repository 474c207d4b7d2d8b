"""Work done once per presentation and buffers kept across steps change no number: the first stage's
basal input held in evaluation (its input and weights are constant over the presentation, model §1.5)
and the max-pool buffers reused from step to step (model §1.4); the input's patches cut once per
training presentation change none beyond float32 rounding."""
import pytest
import torch

from fig2cde_higgs_mnist_cifar10.model import le_layers
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


def test_held_first_stage_keeps_the_u_hat_of_every_batch_size():
    """u_hat = held + eps is written into one tensor per batch size, all kept: a CUDA graph captured
    with the one of a full batch goes on writing it after an evaluation batch of another size."""
    net = make_net("mnist", eta=1.6)
    first = net.stages[0]
    x, y = batch("mnist", B=8, seed=0)
    net.present(x, y, 3, train=True)  # a nonzero error: evaluation steps write u_hat = held + eps
    net.present(x, None, 2, train=False)
    full = first._u_hat_held[torch.Size((8,) + first.out_shape)]
    net.present(batch("mnist", B=5, seed=1)[0], None, 2, train=False)
    assert first._u_hat_held[torch.Size((8,) + first.out_shape)] is full
    assert torch.Size((5,) + first.out_shape) in first._u_hat_held


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


def test_training_presentation_cuts_the_input_patches_once_and_learns_the_per_step_weights():
    """In training `present` gives the one-channel first convolution its input's patches for the weight
    gradient (a CPU kernel choice, Conv2d.hold): the same update as the convolution's own weight
    gradient, so a presentation ends with the weights and states of the same `step` calls to float32
    rounding, and the patches are released after it. Without the CPU's kernel choices (the kernels a
    GPU runs, le_layers.CPU_KERNEL_CHOICES: no patches, no channels-last copies) the same holds."""
    held, per_step, plain = (make_net("mnist", eta=1.6) for _ in range(3))
    x, y = batch("mnist", B=6, seed=0)
    used = []
    first = held.stages[0]
    sums = first._sums

    def spy(g, r_in):
        used.append(first.patches is not None and r_in is first._patches_of)
        return sums(g, r_in)

    first._sums = spy
    held.present(x, y, 6, train=True)
    for _ in range(6):
        per_step.step(x, y, train=True)
    assert used and all(used)
    assert first.patches is None and first._patches_of is None
    with le_layers.gpu_kernels():
        plain.present(x, y, 6, train=True)
    assert all(s.patches is None for s in plain.stages if hasattr(s, "patches"))
    for a, b, c in zip(_state(held), _state(per_step), _state(plain)):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-6), (a - b).abs().max()
        assert torch.allclose(a, c, rtol=1e-5, atol=1e-6), (a - c).abs().max()
