"""Microcircuits.run over a long schedule as several engine calls ("sub-blocks"), so that the caller
sees a stop request within a fraction of a second (no I/O). The engine continues exactly across calls
(reset=False), so the result is bit-identical to one call."""
import numpy as np

from .network import RunResult

SUB_BLOCK_STEPS = 100_000         # network-steps per engine call (~0.2 s compiled)


def run_in_sub_blocks(net, X, T, learn, n, check_stop=None, reset=True, finalize=True, **kw):
    """net.run(X, T, learn=learn, n=n, reset=reset, finalize=finalize, **kw) computed in calls of
    about SUB_BLOCK_STEPS network-steps (whole patterns); check_stop() runs before each call and
    may raise to end the run early (e.g. common.errors.Interrupted)."""
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
    return _concatenate(parts, per)


def _concatenate(parts, per):
    """One RunResult from consecutive calls of `per` patterns each."""
    div = np.full(len(parts[0].diverged_at), -1, dtype=np.int64)
    for j, r in enumerate(parts):                 # a network diverges in at most one call
        hit = (r.diverged_at >= 0) & (div < 0)
        div[hit] = j * per + r.diverged_at[hit]
    traces = {key: np.concatenate([r.traces[key] for r in parts], axis=1) for key in parts[0].traces}
    return RunResult(np.concatenate([r.out for r in parts], axis=1), traces, div)
