"""Training/evaluation protocol of spec §4.2 and §6 as explicit sequences for Microcircuits.run
(no I/O). Every network of an ensemble gets its own schedule from its own RNG stream."""
from dataclasses import dataclass

import numpy as np

from .network import V_MAX

RUNAWAY = f"|voltage| > {V_MAX:g} or not finite"      # why a network counts as diverged


@dataclass
class Schedule:
    """Pattern sequences of one network for the whole task training (spec §4.2 step 4)."""
    X: np.ndarray       # (P, N0) inputs, P = n_epochs * (n_train + n_val)
    T: np.ndarray       # (P, N_L + 1) targets, last column 1 = nudged training pattern, 0 = validation
    per_epoch: int      # patterns per epoch


def with_flag(y, flag):
    """Append the nudge-flag column: (P, N) -> (P, N + 1)."""
    return np.concatenate([y, np.full((len(y), 1), float(flag))], axis=1)


def train_schedule(rng, x_train, y_train, x_val, y_val, n_epochs, n_val_samples):
    """All permutations are drawn up front, per epoch train then val (spec §4.2)."""
    perms = [(rng.permutation(len(x_train)), rng.permutation(len(x_val))[:n_val_samples])
             for _ in range(n_epochs)]
    X = np.concatenate([np.concatenate([x_train[p], x_val[v]]) for p, v in perms])
    T = np.concatenate([np.concatenate([with_flag(y_train[p], 1), with_flag(y_val[v], 0)])
                        for p, v in perms])
    return Schedule(X, T, len(x_train) + n_val_samples)


def metrics(out, y, classify=True):
    """MSE over patterns and outputs, and argmax accuracy in percent (spec §4.3). out, y: (P, N_L)."""
    mse = float(np.mean((np.asarray(y, dtype=np.float64) - out) ** 2))
    acc = 100.0 * float(np.mean(np.argmax(out, 1) == np.argmax(y, 1))) if classify else float("nan")
    return mse, acc


def epoch_metrics(out, T, per_epoch, n_val, classify=True):
    """Validation [MSE, acc] of every epoch in a block of per-pattern outputs out (P, N_L)."""
    rows = []
    for e in range(len(out) // per_epoch):
        sl = slice(e * per_epoch + per_epoch - n_val, (e + 1) * per_epoch)
        rows.append(metrics(out[sl], T[sl, :-1], classify))
    return rows


def epochs_before_divergence(rows, diverged_at, per_epoch):
    """Cut the validation rows of a block at the epoch in which the network diverged: its voltages
    ran away at pattern diverged_at (>= 0), or the epoch's MSE is not finite. Returns (rows of the
    epochs before, that epoch counted from 1 within the block, or None)."""
    bad = int(diverged_at) // per_epoch + 1 if diverged_at >= 0 else None
    for j, (mse, _) in enumerate(rows[:bad - 1 if bad else None]):
        if not np.isfinite(mse):
            bad = j + 1
            break
    return (rows, None) if bad is None else (rows[:bad - 1], bad)


def eval_sequences(rng, x, y):
    """One evaluation run (spec §4.2 step 6): a fresh permutation, no nudging, learning off."""
    perm = rng.permutation(len(x))
    return x[perm], with_flag(y[perm], 0)
