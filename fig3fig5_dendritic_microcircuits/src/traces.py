"""Recorded traces of both tasks: what is recorded, the names and time axis of the saved arrays, and
the .npz files they go to (spec §3, §7, Q16)."""
import numpy as np


def record_list(cfg):
    """(layer, quant) pairs recorded during training: `training.recorded_quants` plus r_in and u_tgt."""
    out = []
    for i, quants in enumerate(cfg.training.recorded_quants):
        out += [(i, q) for q in quants]
    return out + [("run", "r_in"), ("run", "u_tgt")]


def eval_record(n_layers):
    """Evaluation records: the output layer's transmitted voltage, the target and the input rate."""
    return [(n_layers - 1, "pyr_forw"), ("run", "u_tgt"), ("run", "r_in")]


def time_axis(n_samples, record_every, dt):
    """Time of each recorded sample: the end of its block of record_every steps (spec Q16)."""
    return np.linspace(dt, n_samples * record_every * dt, n_samples)


def named_traces(traces, k):
    """{layer_<i>_<quant>: (samples, ...)} of network k from RunResult.traces."""
    return {f"layer_{key[0]}_{key[1]}": v[k] for key, v in traces.items()}


def save_arrays(path, arrays):
    """One .npz file of named arrays (scalars and flags included)."""
    np.savez(path, **{key: np.asarray(v) for key, v in arrays.items()})
