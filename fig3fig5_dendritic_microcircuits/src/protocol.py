"""Training/evaluation protocol of model §4.2 and §6 for Microcircuits.run (no I/O): the pattern
sequences, the engine calls that present them, what is recorded, and the scores. Every network of an
ensemble gets its own schedule from its own RNG stream."""
from dataclasses import dataclass

import numpy as np

from .network import RunResult, V_MAX

RUNAWAY = f"|voltage| > {V_MAX:g} or not finite"      # why a network counts as diverged
SUB_BLOCK_STEPS = 100_000         # network-steps per engine call (~0.2 s compiled)


@dataclass
class Schedule:
    """Pattern sequences of one network for the whole task training (model §4.2 step 4)."""
    X: np.ndarray       # (P, N0) inputs, P = n_epochs * (n_train + n_val)
    T: np.ndarray       # (P, N_L + 1) targets, last column 1 = nudged training pattern, 0 = validation
    per_epoch: int      # patterns per epoch


def with_flag(y, flag):
    """Append the nudge-flag column: (P, N) -> (P, N + 1)."""
    return np.concatenate([y, np.full((len(y), 1), float(flag))], axis=1)


def train_schedule(rng, x_train, y_train, x_val, y_val, n_epochs, n_val_samples):
    """All permutations are drawn up front, per epoch train then val (model §4.2)."""
    perms = [(rng.permutation(len(x_train)), rng.permutation(len(x_val))[:n_val_samples])
             for _ in range(n_epochs)]
    X = np.concatenate([np.concatenate([x_train[p], x_val[v]]) for p, v in perms])
    T = np.concatenate([np.concatenate([with_flag(y_train[p], 1), with_flag(y_val[v], 0)])
                        for p, v in perms])
    return Schedule(X, T, len(x_train) + n_val_samples)


def eval_sequences(rng, x, y):
    """One evaluation run (model §4.2 step 6): a fresh permutation, no nudging, learning off."""
    perm = rng.permutation(len(x))
    return x[perm], with_flag(y[perm], 0)


# ---- engine calls ------------------------------------------------------------------------------
def run_in_sub_blocks(net, X, T, learn, n, check_stop=None, reset=True, finalize=True, **kw):
    """net.run(X, T, learn=learn, n=n, reset=reset, finalize=finalize, **kw) computed in calls of
    about SUB_BLOCK_STEPS network-steps (whole patterns), so that the caller sees a stop request
    within a fraction of a second: check_stop() runs before each call and may raise to end the run
    early (e.g. common.errors.Interrupted). The engine continues exactly across calls (reset=False),
    so the result is bit-identical to one call."""
    K, P = X.shape[:2]
    learn = np.broadcast_to(np.asarray(learn, dtype=bool), (K, P))
    per = max(1, SUB_BLOCK_STEPS // (n * K))                            # patterns per call
    parts = []
    for p0 in range(0, P, per):
        p1 = min(P, p0 + per)
        if check_stop is not None:
            check_stop()
        parts.append(net.run(X[:, p0:p1], T[:, p0:p1], learn=learn[:, p0:p1], n=n,
                             reset=reset and p0 == 0, finalize=finalize and p1 == P, **kw))
    div = np.full(K, -1, dtype=np.int64)
    for j, r in enumerate(parts):                 # a network diverges in at most one call
        hit = (r.diverged_at >= 0) & (div < 0)
        div[hit] = j * per + r.diverged_at[hit]
    traces = {key: np.concatenate([r.traces[key] for r in parts], axis=1) for key in parts[0].traces}
    return RunResult(np.concatenate([r.out for r in parts], axis=1), traces, div)


def evaluate(net, data, n, record_every, classify, check_stop=None):
    """Final evaluation (model §4.2 step 6) of both tasks: a train run then a test run over each
    network's own data, each from zero potentials, in a fresh permutation from the network's own RNG
    stream, without nudging and without learning. data: one (x (P, N0), y (P, N_L)) per network;
    classify: per network, whether to score argmax accuracy. Returns one {split: arrays} per network:
    MSE, accuracy in percent (NaN without classify), the pattern sequence, per-pattern outputs, the
    recorded output/target/input traces, their time axis and whether the network diverged."""
    K, L = net.K, net.lay.n_layers
    rec = [(L - 1, "pyr_forw"), ("run", "u_tgt"), ("run", "r_in")]
    res = [{} for _ in range(K)]
    for split in ("train", "test"):
        seqs = [eval_sequences(net.rngs[k], *data[k]) for k in range(K)]
        X = np.stack([s[0] for s in seqs])                                 # (K, P, N0)
        T = np.stack([s[1] for s in seqs])                                 # (K, P, N_L + 1)
        r = run_in_sub_blocks(net, X, T, False, n, check_stop, record=rec,
                              record_every=record_every)
        for k in range(K):
            mse, acc = metrics(r.out[k], T[k, :, :-1], classify[k])
            u_tgt = r.traces[("run", "u_tgt")][k]
            res[k][split] = {
                "mse": mse, "acc": acc, "x": X[k], "y": T[k, :, :-1], "out": r.out[k],
                "u_out": r.traces[rec[0]][k], "u_tgt": u_tgt, "r_in": r.traces[("run", "r_in")][k],
                "time": time_axis(len(u_tgt), record_every, net.params[k].dt),
                "diverged": bool(r.diverged_at[k] >= 0)}
    return res


# ---- recorded traces (model §3, §7, Q16) -------------------------------------------------------
def record_list(cfg):
    """(layer, quant) pairs recorded during training: `training.recorded_quants` plus r_in and u_tgt."""
    out = []
    for i, quants in enumerate(cfg.training.recorded_quants):
        out += [(i, q) for q in quants]
    return out + [("run", "r_in"), ("run", "u_tgt")]


def time_axis(n_samples, record_every, dt):
    """Time of each recorded sample: the end of its block of record_every steps (model Q16)."""
    return np.linspace(dt, n_samples * record_every * dt, n_samples)


def named_traces(traces, k):
    """{layer_<i>_<quant>: (samples, ...)} of network k from RunResult.traces."""
    return {f"layer_{key[0]}_{key[1]}": v[k] for key, v in traces.items()}


# ---- scores (model §4.3) -----------------------------------------------------------------------
def metrics(out, y, classify=True):
    """MSE over patterns and outputs, and argmax accuracy in percent (model §4.3). out, y: (P, N_L)."""
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
