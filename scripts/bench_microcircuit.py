"""Benchmark: compiled microcircuit engine on the bars task (DESIGN performance targets).

Rows:
* microseconds per network-step for an ensemble of 20 [9, 30, 3] networks (10 LE + 10 orig, N = 100,
  the real bars schedule: nudged training patterns with learning, validation patterns without), one
  core; goal <= 3. The numpy reference engine on the same ensemble is a detail.
* the time of one N = 5000 bars run (16,000 x 5000 training + 16 x 5000 evaluation steps), projected
  from a measured stretch of that run (single network, same schedule); goal <= 300 s.
Times are the CPU time of this (single) thread, which is the cost on one core even when other processes
share the machine; the wall-clock time of the same repeats is given as a detail. Each value is the best
of several interleaved repeats.
"""
import json
import time
from pathlib import Path

import numpy as np

from common.config import load_config
from fig3fig5_dendritic_microcircuits.src.config import BarsConfig
from fig3fig5_dendritic_microcircuits.src.run_bars import build
from fig3fig5_dendritic_microcircuits.src.engine_numba import AVAILABLE, UNAVAILABLE_MSG

CONFIGS = Path(__file__).resolve().parents[1] / "fig3fig5_dendritic_microcircuits" / "experiment_configs"


def _ensemble(N, seeds, variants, engine, n_epochs):
    cfgs = [load_config(BarsConfig, CONFIGS / f"bars_{v}_tpres_{N}.yaml",
                        [f"training.seed={s}", f"training.engine={engine}",
                         f"training.n_epochs={n_epochs}"])
            for v in variants for s in seeds]
    net, scheds = build(cfgs)
    X = np.stack([s.X for s in scheds])                                   # (K, P, 9)
    T = np.stack([s.T for s in scheds])                                   # (K, P, 4)
    return net, X, T


def _time_run(net, X, T, n, patterns):
    """(CPU, wall) seconds per network-step for simulating X[:, :patterns]."""
    sl = slice(0, patterns)
    t0, c0 = time.perf_counter(), time.thread_time()
    net.run(X[:, sl], T[:, sl], learn=T[:, sl, -1] == 1, n=n)
    steps = net.K * patterns * n
    return (time.thread_time() - c0) / steps, (time.perf_counter() - t0) / steps


def measure(quick: bool = False) -> list[dict]:
    if not AVAILABLE:
        raise RuntimeError(UNAVAILABLE_MSG)
    seeds = list(range(12345, 12355))
    n = 100
    ens, X, T = _ensemble(n, seeds, ("le", "orig"), "numba", 20)
    ref, Xr, Tr = _ensemble(n, seeds, ("le", "orig"), "numpy", 1)
    t0 = time.perf_counter()
    _time_run(ens, X, T, n, 1)                                            # compile / load cache
    _time_run(ref, Xr, Tr, n, 1)
    t_compile = time.perf_counter() - t0
    rounds = 3 if quick else 5
    patterns = 16 if quick else 64                                        # per round: 20 x P x 100
    t_numba, t_numpy = [], []
    for _ in range(rounds):
        t_numba.append(_time_run(ens, X, T, n, patterns))
        t_numpy.append(_time_run(ref, Xr, Tr, n, 1 if quick else 2))
    us_ens, us_ens_wall = (min(t[i] for t in t_numba) * 1e6 for i in (0, 1))
    us_ref, us_ref_wall = (min(t[i] for t in t_numpy) * 1e6 for i in (0, 1))

    N = 5000
    single, X1, T1 = _ensemble(N, [12354], ("le",), "numba", 1)
    steps_total = 16_000 * N + 16 * N
    p = 2 if quick else 16                                                # patterns per repeat
    t_single = [_time_run(single, X1, T1, N, p) for _ in range(rounds)]
    t_cpu, t_wall = (min(t[i] for t in t_single) for i in (0, 1))
    projected = t_cpu * steps_total
    return [
        {"name": "microcircuit_us_per_network_step_ensemble20", "value": us_ens, "goal": 3.0,
         "better": "lower", "unit": "us",
         "details": {"wall_us_per_network_step": us_ens_wall,
                     "numpy_reference_us_per_network_step": us_ref,
                     "numpy_reference_wall_us_per_network_step": us_ref_wall,
                     "speedup_vs_numpy_reference": us_ref / us_ens,
                     "networks": float(ens.K), "steps_per_pattern": float(n),
                     "network_steps_timed_per_repeat": float(ens.K * patterns * n),
                     "first_call_s_including_compile_or_cache_load": t_compile,
                     "engine": "numba, one thread"}},
        {"name": "microcircuit_N5000_run_s_projected", "value": projected, "goal": 300.0,
         "better": "lower", "unit": "s",
         "details": {"us_per_step_single_network": t_cpu * 1e6,
                     "wall_us_per_step_single_network": t_wall * 1e6,
                     "projected_wall_s": t_wall * steps_total,
                     "steps_in_run": float(steps_total),
                     "steps_timed_per_repeat": float(p * N),
                     "how": "projected: best repeat's CPU time per step x steps of the whole run"}},
    ]


if __name__ == "__main__":
    print(json.dumps(measure(), indent=1))
