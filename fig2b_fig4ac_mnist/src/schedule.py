"""Passes over the data for an ensemble of K networks: training, evaluation, tau_m adaptation (model §1.7, §3).

`net` is a LENetwork (K networks). `hook(n_steps)` runs at every batch boundary (stop checks, step
counts). A network listed in `alive` as False (diverged) is skipped in the records; it computes zeros.
"""
from dataclasses import dataclass

import torch

from fig2b_fig4ac_mnist.src.data import batch_order


@dataclass
class Scores:
    """Per-network evaluation: loss = per-sample sum of squares (model Q18), error/accuracy in %."""
    loss: list[float]
    error: list[float]
    accuracy: list[float]
    n_scored: int   # samples scored (a dropped partial batch is not counted)
    n_total: int    # samples in the split


def train_pass(net, split, cfg, order_gens, alive, hook=lambda n_steps: None, presenter=None):
    """One training epoch; returns {k: reason} of the networks whose outputs stopped being finite."""
    present = presenter or net.present
    orders = [batch_order(len(split.x), cfg.batch_size, cfg.shuffle, g) for g in order_gens]
    diverged = {}
    for i in range(len(orders[0])):
        idx = torch.stack([o[i] for o in orders])  # K x B, one order per network (model Q5: all equal)
        if all(torch.equal(o[i], orders[0][i]) for o in orders[1:]):  # one batch for all: B x n
            idx = idx[0]
        out = present(split.x[idx], split.y[idx], cfg.n_updates, train=True)  # K x B x classes
        finite = torch.isfinite(out).flatten(1).all(1).tolist()  # K
        for k, ok in enumerate(finite):
            if alive[k] and not ok and k not in diverged:
                diverged[k] = "output rates are not finite"
                net.silence(k)
        hook(cfg.n_updates)
    return diverged


def evaluate(net, split, cfg, n_updates=None, hook=lambda n_steps: None, presenter=None):
    """Scores of every network on `split`, nudging and plasticity off."""
    present = presenter or net.present
    n_updates = cfg.n_updates if n_updates is None else n_updates
    sq = torch.zeros(net.K, dtype=torch.float64)
    correct = torch.zeros(net.K, dtype=torch.int64)
    n = 0
    for idx in batch_order(len(split.x), cfg.batch_size, False, None, cfg.eval_drop_last):
        x, y = split.x[idx], split.y[idx]  # B x 784, B x classes
        if net.batch is not None and len(idx) < net.batch:  # partial last batch: the first copies score it
            with net.first_copies(len(idx)):
                out = net.present(x, y, n_updates, train=False)  # K x b x classes
        else:
            out = present(x, y, n_updates, train=False)  # K x B x classes
        sq += ((out - y) ** 2).flatten(1).sum(1).double().cpu()
        correct += (out.argmax(2) == y.argmax(1)).sum(1).cpu()
        n += len(idx)
        hook(n_updates)
    accuracy = [100.0 * int(c) / n for c in correct]
    return Scores([float(s) / n for s in sq], [100.0 - a for a in accuracy], accuracy, n, len(split.x))


def adapt_tau(net, split, cfgs, hook=lambda n_steps: None):
    """Learn tau_m on the validation images before training, layer by layer (model §1.7, Q14).

    Every network with adapt_tau follows its own schedule of validation passes; a network whose schedule
    has ended (or that does not adapt) is put back to its state at that moment when all have ended, so
    each network ends exactly as it would alone. Returns the passes per layer of each network.
    """
    cfg = cfgs[0]
    K, L = net.K, net.L
    layer = [0 if c.adapt_tau else L for c in cfgs]  # layer being adapted; L = done
    prev, count = [0.0] * K, [0] * K  # Delta_0 = 0
    passes = [[] for _ in range(K)]
    frozen = {}
    for k in range(K):
        net.tau_learning[k] = layer[k] < L
    while True:
        for k in range(K):
            if layer[k] == L and k not in frozen:
                frozen[k] = net.member_state(k)
        if len(frozen) == K:
            break
        converged = [False] * K
        for k in range(K):
            if layer[k] < L:
                l = layer[k]
                delta = float((net.tau_m[l][k] - net.tau[l][k]).abs().mean())  # measured before each pass
                converged[k] = abs(delta - prev[k]) < cfg.tau_adapt_tol
                prev[k] = delta
        evaluate(net, split, cfg, n_updates=cfg.tau_adapt_steps, hook=hook)
        for k in range(K):
            if layer[k] == L:
                continue
            count[k] += 1
            if converged[k] or count[k] >= cfg.tau_adapt_max_passes:  # one extra pass after convergence
                net.tau_learning[k, layer[k]] = False  # higher layers keep adapting meanwhile
                passes[k].append(count[k])
                layer[k], prev[k], count[k] = layer[k] + 1, 0.0, 0
    for k, state in frozen.items():
        net.set_member_state(k, state)
    return passes
