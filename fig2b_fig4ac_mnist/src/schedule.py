"""Passes over the data: training, evaluation and tau_m adaptation (spec §1.7, §3).

`net` needs only `present(x, y, n_updates, train)`, `r` (output rates) and, for tau adaptation,
`tau`, `tau_m`, `tau_learning`, `L`. `hook()` runs at every batch boundary (stop checks, step counts).
"""
import torch

from common.errors import Diverged
from fig2b_fig4ac_mnist.src.data import batch_order


def train_pass(net, split, cfg, gen, epoch, hook=lambda n_steps: None):
    for idx in batch_order(len(split.x), cfg.batch_size, cfg.shuffle, gen):
        out = net.present(split.x[idx], split.y[idx], cfg.n_updates, train=True)  # B x classes
        if not bool(torch.isfinite(out).all()):
            raise Diverged(epoch, "output rates are not finite")
        hook(cfg.n_updates)


def evaluate(net, split, cfg, n_updates=None, hook=lambda n_steps: None):
    """(loss, error %, accuracy %, n scored): loss is the per-sample sum of squares (spec §3, Q18)."""
    n_updates = cfg.n_updates if n_updates is None else n_updates
    sq, correct, n = 0.0, 0, 0
    for idx in batch_order(len(split.x), cfg.batch_size, False, None):
        y = split.y[idx]  # B x classes
        out = net.present(split.x[idx], y, n_updates, train=False)  # B x classes
        sq += float(((out - y) ** 2).sum())
        correct += int((out.argmax(1) == y.argmax(1)).sum())
        n += len(idx)
        hook(n_updates)
    accuracy = 100.0 * correct / n
    return sq / n, 100.0 - accuracy, accuracy, n


def adapt_tau(net, split, cfg, hook=lambda n_steps: None):
    """Learn tau_m on the validation images before training, layer by layer (spec §1.7, Q14).

    Returns the number of validation passes per layer.
    """
    net.tau_learning = [True] * net.L
    passes = []
    for l in range(net.L):
        prev, k = 0.0, 0  # Delta_0 = 0
        while True:
            delta = float((net.tau_m[l] - net.tau[l]).abs().mean())  # measured before each pass
            converged = abs(delta - prev) < cfg.tau_adapt_tol
            prev = delta
            evaluate(net, split, cfg, n_updates=cfg.tau_adapt_steps, hook=hook)
            k += 1
            if converged or k >= cfg.tau_adapt_max_passes:  # one extra pass after convergence
                break
        net.tau_learning[l] = False  # higher layers keep adapting meanwhile
        passes.append(k)
    return passes
