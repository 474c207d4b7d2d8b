"""K LE networks of the same architecture stepped together as one `LESequential` (no I/O).

`stack(nets, batched)` builds an `LESequential` whose stages hold the K members' weights and state side
by side; `LESequential.step/present/ann_forward` then run all members at once, each its own network:
- conv and pool stages concatenate the members along the channel axis, [B, K*C, H, W];
- dense stages stack along a leading network axis, W [K, n_in, n_out], state [K, B, n]. Their input
  from the network input or a pool is batch-first ([B, K, n_in] or [B, K*C, H, W]) and read through a
  transposed view.
The neuron dynamics, error storage and learning rule are inherited from the single-network stages;
only the contractions differ. `batched`: one grouped convolution / batched matrix product for all
members (few kernel launches, for GPUs; the summation order may differ from a single network's, so
results agree to float rounding), else the single network's kernel once per member (bitwise its
result). Elementwise work and pooling are shared either way. `unstack_into(ens, nets)` writes member
k's tensors back into nets[k].
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
    """K Conv2d members; W [K*F, C, k, k], b [K*F]; batched: groups=K, one group per member."""

    batched = False

    def _conv(self, fn, x, w, **kw):
        if self.batched:
            return fn(x, w, groups=self.K, **kw)
        bs = kw.pop("bias").chunk(self.K) if "bias" in kw else [None] * self.K
        return torch.cat([fn(xk, wk, bias=bk, **kw) for xk, wk, bk in
                          zip(x.chunk(self.K, 1), w.chunk(self.K), bs)], 1)

    def forward(self, r_in, rp_in):
        self._neurons(self._conv(F.conv2d, r_in, self.W, bias=self.b))  # a: [B, K*F, T, T]
        if rp_in is None or self.eps_zero:
            self.delta = None
        else:  # [B, K*C, H, W]
            self.delta = self._conv(F.conv_transpose2d, self.eps, self.W).mul_(rp_in)

    def _sums(self, g, r_in):
        groups = self.K if self.batched else 1
        parts = [(g, r_in, self.W)] if self.batched else \
            zip(g.chunk(self.K, 1), r_in.chunk(self.K, 1), self.W.chunk(self.K))
        sums = [_conv_backward(gk, xk, wk, [wk.shape[0]], [1, 1], [0, 0], [1, 1], False, [0, 0],
                               groups, [False, True, True])[1:] for gk, xk, wk in parts]
        return torch.cat([dW for dW, _ in sums]), torch.cat([db for _, db in sums])  # [K*F, C, k, k], [K*F]

    def ann(self, x):
        return self._conv(F.conv2d, x, self.W, bias=self.b)

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
    batched = False

    def _each(self, fn, *ts):
        """fn on each member's slices, stacked: the single network's kernel per member."""
        return torch.stack([fn(*(t[k] for t in ts)) for k in range(self.K)])

    def _affine(self, x):
        if self.batched:
            return torch.baddbmm(self.b.unsqueeze(1), x, self.W)
        return self._each(torch.addmm, self.b, x, self.W)

    def _flat(self, r_in):
        if self.batch_first_input:
            return r_in.reshape(r_in.shape[0], self.K, -1).transpose(0, 1)  # [K, B, n_in] view
        return r_in  # [K, B, n_in]

    def forward(self, r_in, rp_in):
        x = self._flat(r_in)  # [K, B, n_in]
        self._neurons(self._affine(x))  # a: [K, B, n_out]
        if rp_in is None or self.eps_zero:
            self.delta = None
            return
        if self.batched:
            d = torch.bmm(self.eps, self.W.transpose(1, 2))  # [K, B, n_in]
        else:
            d = self._each(lambda e, w: torch.mm(e, w.t()), self.eps, self.W)
        d = d.transpose(0, 1).reshape(rp_in.shape) if self.batch_first_input else d.view_as(rp_in)
        self.delta = d.mul_(rp_in)

    def update_direction(self, g, r_in):
        x = self._flat(r_in)  # [K, B, n_in]
        dW = torch.bmm(x.transpose(1, 2), g) if self.batched else self._each(lambda xk, gk: xk.t().mm(gk), x, g)
        return dW.div_(x.shape[1]), g.mean(1)

    def apply_update(self, g, r_in):
        x = self._flat(r_in)  # [K, B, n_in]
        scale = self.lr / x.shape[1]
        if self.batched:
            self.W.baddbmm_(x.transpose(1, 2), g, alpha=scale)  # one batched matmul for all members
        else:
            for k in range(self.K):
                self.W[k].addmm_(x[k].t(), g[k], alpha=scale)
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


def _stack_stage(members: Sequence, first: bool, batched: bool):
    m0, K = members[0], len(members)
    stage = object.__new__(_ENSEMBLE[type(m0)])
    vars(stage).update(copy.copy(vars(m0)))  # hyper-parameters and flags, shared by all members
    stage.K = K
    if stage.has_weights:
        stage.batched = batched
    if isinstance(stage, _ChannelStacked):
        stage.out_shape = (K * m0.out_shape[0],) + m0.out_shape[1:]
        stage.in_shape = (K * m0.in_shape[0],) + m0.in_shape[1:]
    if isinstance(stage, EnsembleLinear) and first:
        stage.batch_first_input = True  # the network input is batch-first: [B, K, n_in]
    if stage.has_weights:
        stage.W = stage._stack_param([m.W for m in members])
        stage.b = stage._stack_param([m.b for m in members])
    batch_sizes = {m.batch_size for m in members}
    if len(batch_sizes) != 1:
        raise ValueError(f"members carry state of different batch sizes {sorted(batch_sizes)}")
    if m0.batch_size:
        for name in m0.state_names:
            setattr(stage, name, stage._stack_state([getattr(m, name) for m in members]))
    if stage.has_weights:  # exact either way; False where any member has a nonzero error
        stage.eps_zero = all(m.eps_zero for m in members)
    return stage


def stack(nets: Sequence[LESequential], batched: bool = False) -> LESequential:
    """One LESequential that steps the K networks `nets` (same architecture and hyper-parameters)
    together. Its input is batch-first with the members side by side ([B, K, n_in] for an MLP,
    [B, K*C, H, W] for a LeNet), its target and output are [K, B, n_out]."""
    ens = copy.copy(nets[0])
    ens.stages = [_stack_stage([n.stages[k] for n in nets], k == 0, batched)
                  for k in range(len(ens.stages))]
    ens.weight_stages = [s for s in ens.stages if s.has_weights]
    ens.K = len(nets)
    return ens


def unstack_into(ens: LESequential, nets: Sequence[LESequential]) -> None:
    """Copy member k's weights, state and flags from the ensemble into nets[k]."""
    for k, net in enumerate(nets):
        for stage, member in zip(ens.stages, net.stages):
            if stage.has_weights:
                member.W.copy_(stage._member_param(stage.W, k))
                member.b.copy_(stage._member_param(stage.b, k))
                member.eps_zero = stage.eps_zero
            member.batch_size = stage.batch_size
            if stage.batch_size:
                for name in stage.state_names:
                    setattr(member, name, stage._member_state(getattr(stage, name), k).clone())


def network_input(xs: Sequence[torch.Tensor]) -> torch.Tensor:
    """Members' batches [B, ...] -> the ensemble input: [B, K, n_in] or [B, K*C, H, W]."""
    return torch.stack(xs, 1).flatten(1, 2) if xs[0].dim() == 4 else torch.stack(xs, 1)
