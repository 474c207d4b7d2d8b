"""K runs of one config (seeds) trained in one process as one stacked network (no I/O).

Each ensemble is built from K single-run trainers (`trainers.LETrainer` / `BPTrainer`, created and
initialised exactly as a single run creates them) and steps all of them at once. `batched` (default:
on a GPU) uses kernels that serve all members at once, whose summation order may differ from a
single network's (results agree to float rounding); otherwise each member runs the single network's
kernels, bitwise a separate run (the CPU default):
- LE: `model.le_ensemble.stack`; `present` replayed as a CUDA graph on a GPU;
- BP batched: `torch.func.vmap` of the member module over stacked parameters; the loss is the sum of
  the members' losses, so each member's gradient is its own; SGD acts elementwise on the stacked
  parameters, i.e. on each member separately (one SGD step per batch, one parameter group; other
  baselines always go member by member). Not batched: the members' own steps in turn.
A batch is a list of the members' own (x, labels) batches; the result is a [K, 2] float64 tensor on
the device, row k member k's `trainers.batch_record` (summed loss, number correct), read by the caller
once per pass. `sync()` writes the ensemble's weights, state and optimiser buffers back
into the member trainers (for checkpoints and divergence checks); `keep(indices)` drops members.
"""
from __future__ import annotations

import copy

import torch
from torch.func import functional_call, stack_module_state, vmap

from fig2cde_higgs_mnist_cifar10.graphs import graphed_present
from fig2cde_higgs_mnist_cifar10.model.le_ensemble import network_input, stack, unstack_into
from fig2cde_higgs_mnist_cifar10.trainers import batch_record


def _on_gpu(device) -> bool:
    return torch.device(device).type == "cuda"


class LEEnsemble:
    def __init__(self, members, device, batched: bool | None = None):
        self.members = list(members)
        self.device = device
        self.batched = _on_gpu(device) if batched is None else batched
        self.n_updates, self.n_eval_steps = self.members[0].n_updates, self.members[0].n_eval_steps
        self._build()

    def _build(self):
        self.net = stack([m.net for m in self.members], batched=self.batched)
        self.present = graphed_present(self.net, self.device)

    def _inputs(self, batches):
        x = network_input([x for x, _ in batches])  # [B, K, n_in] or [B, K*C, H, W]
        return x, [labels for _, labels in batches]

    def train_batch(self, batches):
        x, labels = self._inputs(batches)
        y = torch.stack([m.target(l) for m, l in zip(self.members, labels)])  # [K, B, n_out]
        self.present(x, y, self.n_updates, True)
        out = self.net.ann_forward(x)  # [K, B, n_out]; metrics of the un-nudged network (model Q11)
        return self._records(out, labels)

    def eval_batch(self, batches):
        x, labels = self._inputs(batches)
        out = self.present(x, None, self.n_eval_steps, False)  # [K, B, n_out]
        return self._records(out, labels)

    def _records(self, out, labels):
        return torch.stack([m.record(out[k], l) for k, (m, l) in enumerate(zip(self.members, labels))])

    def sync(self):
        unstack_into(self.net, [m.net for m in self.members])

    def keep(self, indices):
        self.sync()
        self.members = [self.members[i] for i in indices]
        self._build()


class BPEnsemble:
    def __init__(self, members, device, batched: bool | None = None):
        self.members = list(members)
        self.device = device
        m0 = self.members[0]
        # the vmap step serves one SGD step per batch with one parameter group (the authors' baseline)
        self.batched = ((_on_gpu(device) if batched is None else batched)
                        and m0.n_updates == 1 and len(m0.opt.param_groups) == 1)
        self.n_updates, self.n_eval_steps = m0.n_updates, m0.n_eval_steps
        self._build()

    def _build(self):
        if not self.batched:
            return
        models = [m.model for m in self.members]
        params, self.buffers = stack_module_state(models)  # {name: [K, ...]}, leaves with grad
        self.params = params
        self.base = copy.deepcopy(models[0]).to("meta")  # structure only; tensors come from params
        self.opt = torch.optim.SGD(list(params.values()), **self._hyper())
        for name, p in params.items():  # optimiser buffers (momentum) of the members, stacked
            states = [m.opt.state.get(dict(m.model.named_parameters())[name], {}) for m in self.members]
            for key in states[0]:
                if isinstance(states[0][key], torch.Tensor):
                    self.opt.state[p][key] = torch.stack([s[key] for s in states])
        self._forward = vmap(lambda p, b, x: functional_call(self.base, (p, b), (x,)))

    def _hyper(self):
        g = self.members[0].opt.param_groups[0]
        return {k: g[k] for k in ("lr", "momentum", "weight_decay", "dampening", "nesterov")}

    def _logits(self, batches):
        x = torch.stack([x for x, _ in batches])  # [K, B, ...]
        return self._forward(self.params, self.buffers, x)  # [K, B, n_out]

    def _losses(self, batches):
        logits = self._logits(batches)
        return [m.loss_and_correct(logits[k], labels)
                for k, (m, (_, labels)) in enumerate(zip(self.members, batches))]

    @staticmethod
    def _results(losses, batches):
        """The members' batch records, as BPTrainer returns them: [K, 2]."""
        return torch.stack([batch_record(loss.detach().double() * len(labels), c)
                            for (loss, c), (_, labels) in zip(losses, batches)])

    def train_batch(self, batches):
        if not self.batched:
            return torch.stack([m.train_batch(x, labels) for m, (x, labels) in zip(self.members, batches)])
        losses = self._losses(batches)
        self.opt.zero_grad(set_to_none=True)
        torch.stack([loss for loss, _ in losses]).sum().backward()  # member k's gradient is its own
        self.opt.step()
        return self._results(losses, batches)

    @torch.no_grad()
    def eval_batch(self, batches):
        if not self.batched:
            return torch.stack([m.eval_batch(x, labels) for m, (x, labels) in zip(self.members, batches)])
        return self._results(self._losses(batches), batches)

    @torch.no_grad()
    def sync(self):
        if not self.batched:
            return  # the members hold their own state
        for k, m in enumerate(self.members):
            own = dict(m.model.named_parameters())
            for name, p in self.params.items():
                own[name].copy_(p[k])
                state = self.opt.state.get(p, {})
                for key, v in state.items():
                    if isinstance(v, torch.Tensor):
                        m.opt.state[own[name]][key] = v[k].clone()
            for name, b in m.model.named_buffers():
                b.copy_(self.buffers[name][k])

    def keep(self, indices):
        self.sync()
        self.members = [self.members[i] for i in indices]
        self._build()


def build_ensemble(cfg, members, device):
    return (LEEnsemble if cfg.model == "le" else BPEnsemble)(members, device)
