"""K LE networks of the same architecture stepped together (no I/O).

`stack(nets, batched)` returns an object with `step/present/ann_forward/output` that takes the
members' inputs side by side (batch-first: [B, K, n_in] or [B, K*C, H, W]) and targets and outputs
as [K, B, n_out]. Two paths, each the faster on its device:
- batched (GPUs): one `LESequential` whose stages hold the K members' weights and state side by side,
  run with one grouped convolution / batched matrix product per contraction (few kernel launches;
  the summation order may differ from a single network's, so results agree to float rounding):
  conv and pool stages concatenate the members along the channel axis, [B, K*C, H, W]; dense stages
  stack along a leading network axis, W [K, n_in, n_out], state [K, B, n], reading their batch-first
  input through a transposed view. The neuron dynamics, error storage and learning rule are
  inherited from the single-network stages; only the contractions differ.
- not batched (CPU): the members themselves, stepped one after another on their slices of the input
  (`MemberSequence`): bitwise each member's own result, at the members' own cost (the stacked maps
  of K members are K times larger, so every elementwise pass and fresh tensor leaves the cache).
`unstack_into(ens, nets)` writes member k's tensors back into nets[k].

The device holds one copy of each network: `stack` builds the ensemble on the members' device and then
moves the members' own weights and state to the host, where they serve checkpoints and divergence
checks (refreshed by `unstack_into`); stacking such members again (after dropping one) builds on
their device again. On the CPU nothing moves.
"""
from __future__ import annotations

import copy
from typing import Sequence

import torch
import torch.nn.functional as F

from fig2cde_higgs_mnist_cifar10.model.le_layers import (Conv2d, Linear, MaxPool2d, Projection,
                                                         _conv_backward, _resize_rows)
from fig2cde_higgs_mnist_cifar10.model.le_sequential import LESequential


class _ChannelStacked:
    """Members side by side along channels: member tensor [B, C, ...] <-> ensemble [B, K*C, ...]."""

    def _stack_state(self, ts):
        return torch.stack(ts, 1).flatten(1, 2)  # [B, K*C, ...]

    def _member_state(self, t, k):
        return t.unflatten(1, (self.K, -1))[:, k]  # [B, C, ...]


class EnsembleConv2d(_ChannelStacked, Conv2d):
    """K Conv2d members; W [K*F, C, k, k], b [K*F]; groups=K, one group per member."""

    patched_weight_gradient = False  # a grouped convolution's weight gradient (_sums)

    def basal(self, r_in):
        return F.conv2d(r_in, self.W, self.b, groups=self.K)  # a: [B, K*F, T, T]

    def forward(self, r_in, rp_in):
        self._neurons(self._basal_input(r_in))  # a: [B, K*F, T, T]
        if rp_in is None or self.eps_zero:
            self.delta = None
        else:  # [B, K*C, H, W]
            self.delta = F.conv_transpose2d(self.eps, self.W, groups=self.K).mul_(rp_in)

    def _sums(self, g, r_in):
        _, dW, db = _conv_backward(g, r_in, self.W, [self.W.shape[0]], [1, 1], [0, 0], [1, 1], False, [0, 0],
                                   self.K, [False, True, True])
        return dW, db  # [K*F, C, k, k], [K*F]

    def ann(self, x):
        return self.basal(x)

    def _stack_param(self, ts):
        return torch.cat(ts)

    def _member_param(self, t, k):
        return t.unflatten(0, (self.K, -1))[k]


class EnsembleMaxPool2d(_ChannelStacked, MaxPool2d):
    """Pooling acts per channel, so the single-network stage works on K*C channels unchanged."""


class EnsembleLinear(Linear):
    """K dense members; W [K, n_in, n_out], b [K, n_out], state [K, B, n_out]. `batch_first_input`:
    the input arrives batch-first ([B, K, n_in] network input or [B, K*C, H, W] from a pool)."""

    batch_first_input = False

    def _affine(self, x):
        return torch.baddbmm(self.b.unsqueeze(1), x, self.W)

    def basal(self, r_in):
        return self._affine(self._flat(r_in))  # a: [K, B, n_out]

    def _flat(self, r_in):
        if self.batch_first_input:
            return r_in.reshape(r_in.shape[0], self.K, -1).transpose(0, 1)  # [K, B, n_in] view
        return r_in  # [K, B, n_in]

    def forward(self, r_in, rp_in):
        self._neurons(self._basal_input(r_in))  # a: [K, B, n_out]
        if rp_in is None or self.eps_zero:
            self.delta = None
            return
        d = torch.bmm(self.eps, self.W.transpose(1, 2))  # [K, B, n_in]
        d = d.transpose(0, 1).reshape(rp_in.shape) if self.batch_first_input else d.view_as(rp_in)
        self.delta = d.mul_(rp_in)

    def update_direction(self, g, r_in):
        x = self._flat(r_in)  # [K, B, n_in]
        return torch.bmm(x.transpose(1, 2), g).div_(x.shape[1]), g.mean(1)

    def apply_update(self, g, r_in):
        x = self._flat(r_in)  # [K, B, n_in]
        scale = self.lr / x.shape[1]
        self.W.baddbmm_(x.transpose(1, 2), g, alpha=scale)  # one batched matmul for all members
        self.b.add_(g.sum(1), alpha=scale)

    def ann(self, x):
        return self._affine(self._flat(x))

    def ensure_batch(self, batch_size):
        if batch_size == self.batch_size:
            return
        for name in self.state_names:  # state [K, B, n]: resize along the batch axis
            if self.batch_size == 0:
                new = torch.zeros((self.K, batch_size) + self.out_shape, device=self.device,
                                  dtype=self.dtype)
            else:
                new = _resize_rows(getattr(self, name).transpose(0, 1), batch_size).transpose(0, 1)
            setattr(self, name, new.contiguous())
        self.batch_size = batch_size

    def _stack_state(self, ts):
        return torch.stack(ts)  # [K, B, n]

    def _member_state(self, t, k):
        return t[k]

    def _stack_param(self, ts):
        return torch.stack(ts)

    def _member_param(self, t, k):
        return t[k]


class EnsembleProjection(EnsembleLinear):
    batch_first_input = True


_ENSEMBLE = {Conv2d: EnsembleConv2d, MaxPool2d: EnsembleMaxPool2d, Linear: EnsembleLinear,
             Projection: EnsembleProjection}


def _stack_stage(members: Sequence, first: bool):
    m0, K = members[0], len(members)
    stage = object.__new__(_ENSEMBLE[type(m0)])
    vars(stage).update(copy.copy(vars(m0)))  # hyper-parameters and flags, shared by all members
    stage.K = K
    if isinstance(stage, MaxPool2d):
        stage._buffers = {}  # buffers of the stacked maps, not the member's
    if stage.has_weights:
        stage._u_hat_held = {}  # of the stacked maps, not the member's
    if isinstance(stage, _ChannelStacked):
        stage.out_shape = (K * m0.out_shape[0],) + m0.out_shape[1:]
        stage.in_shape = (K * m0.in_shape[0],) + m0.in_shape[1:]
    if isinstance(stage, EnsembleLinear) and first:
        stage.batch_first_input = True  # the network input is batch-first: [B, K, n_in]
    to = dict(device=stage.device, dtype=stage.dtype)  # the members' device, also when they are on the host
    if stage.has_weights:
        stage.W = stage._stack_param([m.W for m in members]).to(**to)
        stage.b = stage._stack_param([m.b for m in members]).to(**to)
    batch_sizes = {m.batch_size for m in members}
    if len(batch_sizes) != 1:
        raise ValueError(f"members carry state of different batch sizes {sorted(batch_sizes)}")
    if m0.batch_size:
        for name in m0.state_names:
            setattr(stage, name, stage._stack_state([getattr(m, name) for m in members]).to(**to))
    if stage.has_weights:  # exact either way; False where any member has a nonzero error
        stage.eps_zero = all(m.eps_zero for m in members)
    return stage


class MemberSequence:
    """The K networks `members` stepped one after another, each on its slice of the ensemble input
    (the CPU path of `stack`): bitwise each member's own run, at the members' own cost."""

    def __init__(self, members: Sequence[LESequential]):
        self.members = list(members)
        self.K = len(self.members)

    def _inputs(self, x):
        """[B, K, n_in] or [B, K*C, H, W] -> the K members' contiguous inputs [B, ...]."""
        parts = x.unbind(1) if x.dim() == 3 else x.chunk(self.K, 1)
        return [p.contiguous() for p in parts]

    def _targets(self, y):
        return [None] * self.K if y is None else list(y)

    @property
    def output(self) -> torch.Tensor:
        return torch.stack([net.output for net in self.members])  # [K, B, n_out]

    def step(self, x, y=None, train=True):
        for net, xk, yk in zip(self.members, self._inputs(x), self._targets(y)):
            net.step(xk, yk, train)
        return self.output

    def present(self, x, y, n_updates, train=True):
        return torch.stack([net.present(xk, yk, n_updates, train)
                            for net, xk, yk in zip(self.members, self._inputs(x), self._targets(y))])

    def ann_forward(self, x):
        return torch.stack([net.ann_forward(xk) for net, xk in zip(self.members, self._inputs(x))])


def stack(nets: Sequence[LESequential], batched: bool = False):
    """Steps the K networks `nets` (same architecture and hyper-parameters) together. Input
    batch-first with the members side by side ([B, K, n_in] for an MLP, [B, K*C, H, W] for a LeNet),
    target and output [K, B, n_out]. batched: one stacked LESequential (GPUs); else the networks
    themselves in turn (CPU), which then carry the ensemble's state."""
    if not batched:
        return MemberSequence(nets)
    ens = copy.copy(nets[0])
    ens.stages = [_stack_stage([n.stages[k] for n in nets], k == 0) for k in range(len(ens.stages))]
    ens.weight_stages = [s for s in ens.stages if s.has_weights]
    ens.K = len(nets)
    for net in nets:
        _to_host(net)
    return ens


def _to_host(net: LESequential) -> None:
    """The member's weights and state as host copies (its stages keep naming the run's device)."""
    for stage in net.stages:
        names = (("W", "b") if stage.has_weights else ()) + (stage.state_names if stage.batch_size else ())
        for name in names:
            setattr(stage, name, getattr(stage, name).cpu())
        if stage.has_weights:  # work tensors of the member's own steps, rewritten before use
            stage.delta = stage.dW = stage.db = None


def unstack_into(ens: LESequential, nets: Sequence[LESequential]) -> None:
    """Copy member k's weights, state and flags from the ensemble into nets[k] (on the host after
    `stack`)."""
    if isinstance(ens, MemberSequence):  # the members ran themselves
        for member, net in zip(ens.members, nets):
            if member is not net:
                net.load_state_dict(member.state_dict())
        return
    for k, net in enumerate(nets):
        for stage, member in zip(ens.stages, net.stages):
            if stage.has_weights:
                member.W.copy_(stage._member_param(stage.W, k))
                member.b.copy_(stage._member_param(stage.b, k))
                member.eps_zero = stage.eps_zero
            member.batch_size = stage.batch_size
            if stage.batch_size:
                for name in stage.state_names:
                    setattr(member, name, stage._member_state(getattr(stage, name), k).to("cpu", copy=True))


def network_input(xs: Sequence[torch.Tensor]) -> torch.Tensor:
    """Members' batches [B, ...] -> the ensemble input: [B, K, n_in] or [B, K*C, H, W]."""
    return torch.stack(xs, 1).flatten(1, 2) if xs[0].dim() == 4 else torch.stack(xs, 1)
