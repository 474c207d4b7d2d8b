"""Per-batch training and evaluation of the LE network and the BP baseline (no I/O)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from fig2cde_higgs_mnist_cifar10.graphs import graphed_present
from fig2cde_higgs_mnist_cifar10.model.architectures import N_OUT, build_bp, build_le, matched_bp
from fig2cde_higgs_mnist_cifar10.model.le_sequential import le_learning_rate


def _n_correct(out: torch.Tensor, labels: torch.Tensor, threshold: float | None) -> torch.Tensor:
    """Binary: out[:, 0] >= threshold; classes: argmax. A 0-dim tensor on out's device (no host sync)."""
    pred = (out[:, 0] >= threshold).long() if threshold is not None else out.argmax(1)
    return (pred == labels).sum()


def batch_record(loss_sum: torch.Tensor, correct: torch.Tensor) -> torch.Tensor:
    """[2] float64 on the device: (sum over the batch's samples of the loss, number correct); a pass
    adds these up and reads them once."""
    return torch.stack([loss_sum.detach().double(), correct.double()])


def _rate_target(task: str, labels: torch.Tensor) -> torch.Tensor:
    """The target y of the LE network and of its equivalent ANN."""
    if task == "higgs":
        return labels.to(torch.float32).unsqueeze(1)  # [B, 1], 0/1
    return F.one_hot(labels, N_OUT[task]).to(torch.float32)  # [B, 10]


RATE_THRESHOLD = {"higgs": 0.5, "mnist": None, "cifar10": None}  # model §2.3: r >= 0.5 for HIGGS


class LETrainer:
    """LE network: n_updates steps per batch (model §2.3); metrics on the equivalent ANN's output.

    Both trainers expose n_updates (network steps per training batch) and n_eval_steps (per evaluation
    batch), train_batch / eval_batch -> batch_record, check_values, state_dict."""

    def __init__(self, cfg, device):
        self.task = cfg.task
        self.n_updates = cfg.n_updates
        self.n_eval_steps = cfg.n_updates  # evaluation runs the same n steps, without learning
        self.net = build_le(cfg.task, beta=cfg.beta, tau=cfg.tau, dt=cfg.dt,
                            eta=le_learning_rate(cfg.batch_learning_multiplier, cfg.n_updates, cfg.dt),
                            lr_factors=cfg.lr_factors, variant=cfg.variant, init_std=cfg.init_std,
                            conv_bias_lr=cfg.conv_bias_lr, voltage_form=cfg.voltage_form, device=device)
        self.present = graphed_present(self.net, device)  # a CUDA graph per batch on a GPU
        self.threshold = RATE_THRESHOLD[cfg.task]

    def target(self, labels: torch.Tensor) -> torch.Tensor:
        return _rate_target(self.task, labels)

    def record(self, out, labels):
        loss = 0.5 * (self.target(labels) - out).pow(2).sum()  # sum over samples of 1/2 ||y - r||^2
        return batch_record(loss, _n_correct(out, labels, self.threshold))

    def train_batch(self, x, labels):
        self.present(x, self.target(labels), self.n_updates, train=True)
        # accuracy of the un-nudged network (the equivalent ANN) on this batch, not of the nudged
        # output r_K (model Q11)
        return self.record(self.net.ann_forward(x), labels)

    def eval_batch(self, x, labels):
        out = self.present(x, None, self.n_eval_steps, train=False)  # = equivalent ANN (model §1.6)
        return self.record(out, labels)

    def check_values(self) -> dict:
        return {f"stage{k}.{n}": p for k, s in enumerate(self.net.stages) if s.has_weights
                for n, p in s.parameters().items()}

    def state_dict(self):
        return self.net.state_dict()

    def load_state_dict(self, sd):
        self.net.load_state_dict(sd)


class BPTrainer:
    """BP baselines (`bp_baseline`):
    authors: plain SGD on BCE (HIGGS, sigmoid output) or cross-entropy (LeNet), one step per batch
      (model §2.1);
    update_matched: the equivalent ANN of the LE network with the LE init, n_updates SGD steps per
      batch on 1/2 ||y - a||^2 (batch mean) at LE's per-step rate times beta (`matched_bp`), so that
      it gets as many and as large updates per batch as LE; loss and accuracy as LE records them.
    Training metrics are those of the network as it met the batch (before its first step)."""

    def __init__(self, cfg, device):
        self.task = cfg.task
        self.matched = cfg.bp_baseline == "update_matched"
        self.n_eval_steps = 1  # one forward pass per evaluation batch
        if self.matched:
            self.n_updates = cfg.n_updates
            # eta dt = 0.125 M / n (model §1.5) is le_learning_rate at dt = 1
            self.model, groups = matched_bp(
                cfg.task, step_coefficient=le_learning_rate(cfg.batch_learning_multiplier, cfg.n_updates, 1.0),
                beta=cfg.beta, lr_factors=cfg.lr_factors, init_std=cfg.init_std,
                conv_bias_lr=cfg.conv_bias_lr, device=device)
            self.opt = torch.optim.SGD(groups)  # plain SGD, every group at its own rate
        else:
            self.n_updates = 1  # one SGD step per training batch
            self.model = build_bp(cfg.task).to(device)
            self.opt = torch.optim.SGD(self.model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                                       weight_decay=cfg.weight_decay)

    def loss_and_correct(self, logits, labels):
        """(batch-mean loss with its graph, number correct as a 0-dim tensor)."""
        if self.matched:  # rate output: squared error, argmax / r >= 0.5 as for LE
            loss = 0.5 * (_rate_target(self.task, labels) - logits).pow(2).sum(1).mean()
            return loss, _n_correct(logits, labels, RATE_THRESHOLD[self.task])
        if self.task == "higgs":
            loss = F.binary_cross_entropy_with_logits(logits[:, 0], labels.to(logits.dtype))
            return loss, _n_correct(logits, labels, 0.0)  # sigmoid >= 0.5  <=>  logit >= 0
        return F.cross_entropy(logits, labels), _n_correct(logits, labels, None)

    def train_batch(self, x, labels):
        self.model.train()
        for i in range(self.n_updates):
            self.opt.zero_grad(set_to_none=True)
            loss, correct = self.loss_and_correct(self.model(x), labels)
            if i == 0:
                met = batch_record(loss.detach().double() * len(labels), correct)
            loss.backward()
            self.opt.step()
        return met

    @torch.no_grad()
    def eval_batch(self, x, labels):
        self.model.eval()
        loss, correct = self.loss_and_correct(self.model(x), labels)
        return batch_record(loss.detach().double() * len(labels), correct)

    def check_values(self) -> dict:
        return dict(self.model.named_parameters())

    def state_dict(self):
        return {"model": self.model.state_dict(), "opt": self.opt.state_dict()}

    def load_state_dict(self, sd):
        self.model.load_state_dict(sd["model"])
        self.opt.load_state_dict(sd["opt"])
