"""Final evaluation of spec §4.2 step 6 for an ensemble, shared by the bars and the mimic task (no I/O):
a train run then a test run over each network's own data, each from zero potentials, in a fresh
permutation from the network's own RNG stream, without nudging and without learning."""
import numpy as np

from .protocol import eval_sequences, metrics
from .sub_blocks import run_in_sub_blocks
from .traces import eval_record, time_axis


def evaluate(net, data, n, record_every, classify, check_stop=None):
    """data: one (x (P, N0), y (P, N_L)) per network; classify: per network, whether to score argmax
    accuracy. Returns one {split: arrays} per network: MSE, accuracy in percent (NaN without
    classify), the pattern sequence, per-pattern outputs, the recorded output/target/input traces,
    their time axis and whether the network diverged. check_stop: see run_in_sub_blocks."""
    K, L = net.K, net.lay.n_layers
    rec = eval_record(L)
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
