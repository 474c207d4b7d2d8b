"""What one engine call works on, in the canonical network-major form (the K networks on axis 0).

Both engines (engine_numpy.run, engine_numba.run) take these three structures and return the
per-pattern outputs and divergence indices; `Microcircuits.run` builds them.
"""
from dataclasses import dataclass

import numpy as np


@dataclass
class Ensemble:
    """State and constants of K networks; the engines update the state arrays in place."""
    S: np.ndarray          # (K, n_state) float32 weights, voltages, Δ, r_in, u_tgt (layout.py)
    rate: np.ndarray       # (K, n_rate) float32 φ(p(X)) of the last step
    par: np.ndarray        # (K, n_par) float32 constants (params.pack)
    par64: np.ndarray      # (K, 1) float64 input/target filter factor dt / tau_0
    ipar: np.ndarray       # (K, 4) int64 LE flag, n_out, n_ll, rates-from-soma ablation
    active: np.ndarray     # (K,) bool, False once diverged: the network's S and rate stay frozen
    rbuf: np.ndarray       # (K, N0) float64 filtered input r (model §3 step 1)
    ybuf: np.ndarray       # (K, N_L) float64 filtered target
    ylast: np.ndarray      # (K, N_L) float64 LE target of the previous step (model Q6)
    flag_last: np.ndarray  # (K,) float64 LE nudge flag of the previous step
    acc: np.ndarray        # (K, n_rec) float64 sums of the open trace block
    cnt: np.ndarray        # (K,) int64 steps in the open trace block


@dataclass
class Schedule:
    """Patterns X (K, P, N0), targets T (K, P, N_L + 1; last column = nudge flag), learning flags
    learn (K, P), n steps per pattern; v_max bounds |p(X)| before a network counts as diverged."""
    X: np.ndarray
    T: np.ndarray
    learn: np.ndarray
    n: int
    store_delta: bool
    v_max: float


@dataclass
class Recording:
    """State entries idx (n_rec,) averaged over blocks of `every` steps into trace (K, n_samples,
    n_rec); ptr (K,) counts the blocks written by this call."""
    idx: np.ndarray
    every: int
    trace: np.ndarray
    ptr: np.ndarray


def require_disjoint(**arrays):
    """ValueError unless the named arrays (other values are ignored) are pairwise without a shared
    element. The compiled kernels are told that their array arguments never overlap (noalias), so an
    array passed twice, or two overlapping views, would give silently wrong numbers."""
    named = [(key, a) for key, a in arrays.items() if isinstance(a, np.ndarray) and a.size]
    for i, (key_a, a) in enumerate(named):
        for key_b, b in named[i + 1:]:
            if np.may_share_memory(a, b) and np.shares_memory(a, b):
                raise ValueError(f"{key_a} and {key_b} share memory; the compiled engine needs "
                                 "separate arrays (pass a copy)")
