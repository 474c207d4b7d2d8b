"""Benchmark: compiled microcircuit engine on the bars task (performance targets, scripts/README.md).

Rows:
* microseconds per network-step of [9, 30, 3] bars networks simulated together on one core, for
  ensembles of K = 16, 20 and 32 networks (half LE, half orig, N = 100, the real bars schedule: nudged
  training patterns with learning, validation patterns without); goal <= 0.6 each. The same for K = 1
  is a detail of each row, so the gain of stepping networks together is visible, as is the numpy
  reference engine (K = 20).
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
from fig3fig5_dendritic_microcircuits.src.bars_train import build
from fig3fig5_dendritic_microcircuits.src.config import BarsConfig
from fig3fig5_dendritic_microcircuits.src.engine_numba import AVAILABLE, LANES, UNAVAILABLE_MSG

CONFIGS = Path(__file__).resolve().parents[1] / "fig3fig5_dendritic_microcircuits" / "experiment_configs"
ENSEMBLES = (16, 20, 32)


def _ensemble(N, K, engine, n_epochs, variants=("le", "orig")):
    """K bars networks, variants alternating, seeds 12345, 12346, ..."""
    cfgs = [load_config(BarsConfig, CONFIGS / f"bars_{variants[k % len(variants)]}_tpres_{N}.yaml",
                        [f"training.seed={12345 + k}", f"training.engine={engine}",
                         f"training.n_epochs={n_epochs}"])
            for k in range(K)]
    net, scheds = build(cfgs)
    X = np.stack([s.X for s in scheds])                                   # (K, P, 9)
    T = np.stack([s.T for s in scheds])                                   # (K, P, 4)
    return net, X, T


def _time_run(net, X, T, n, patterns, start):
    """(CPU, wall) seconds per network-step for simulating X[:, start:start + patterns] (continuing
    the previous call, as training does)."""
    sl = slice(start, start + patterns)
    t0, c0 = time.perf_counter(), time.thread_time()
    net.run(X[:, sl], T[:, sl], learn=T[:, sl, -1] == 1, n=n, reset=start == 0)
    steps = net.K * patterns * n
    return (time.thread_time() - c0) / steps, (time.perf_counter() - t0) / steps


def _best(net, X, T, n, patterns, rounds):
    """Best (CPU, wall) per network-step over `rounds` consecutive stretches of the schedule."""
    t = [_time_run(net, X, T, n, patterns, 1 + r * patterns) for r in range(rounds)]
    return min(x[0] for x in t), min(x[1] for x in t)


def measure(quick: bool = False) -> list[dict]:
    if not AVAILABLE:
        raise RuntimeError(UNAVAILABLE_MSG)
    n = 100
    rounds = 3 if quick else 7
    steps_per_round = 20_000 if quick else 50_000                        # network-steps
    per = {K: max(1, steps_per_round // (n * K)) for K in (1,) + ENSEMBLES}   # patterns per round
    t0 = time.perf_counter()
    nets = {K: _ensemble(n, K, "numba", -(-(1 + rounds * p) // 16)) for K, p in per.items()}
    for net, X, T in nets.values():
        _time_run(net, X, T, n, 1, 0)                                     # compile / load cache
    t_compile = time.perf_counter() - t0
    timed = {K: _best(*nets[K], n, per[K], rounds) for K in per}
    ref, Xr, Tr = _ensemble(n, 20, "numpy", 1)
    _time_run(ref, Xr, Tr, n, 1, 0)
    us_ref, us_ref_wall = (v * 1e6 for v in _best(ref, Xr, Tr, n, 1, 2))
    us1, us1_wall = (v * 1e6 for v in timed[1])
    rows = []
    for K in ENSEMBLES:
        us, us_wall = (v * 1e6 for v in timed[K])
        rows.append({
            "name": f"microcircuit_us_per_network_step_ensemble{K}", "value": us, "goal": 0.6,
            "better": "lower", "unit": "us",
            "details": {"wall_us_per_network_step": us_wall,
                        "single_network_us_per_step": us1,
                        "single_network_wall_us_per_step": us1_wall,
                        "gain_vs_single_network": us1 / us,
                        "numpy_reference_us_per_network_step_ensemble20": us_ref,
                        "numpy_reference_wall_us_per_network_step_ensemble20": us_ref_wall,
                        "networks": float(K), "simd_lanes": float(LANES),
                        "steps_per_pattern": float(n),
                        "first_calls_s_including_compile_or_cache_load": t_compile,
                        "engine": "numba, one thread"}})

    N = 5000
    single, X1, T1 = _ensemble(N, 1, "numba", 1, variants=("le",))
    _time_run(single, X1, T1, N, 1, 0)
    steps_total = 16_000 * N + 16 * N
    t_cpu, t_wall = _best(single, X1, T1, N, 1, rounds)
    rows.append(
        {"name": "microcircuit_N5000_run_s_projected", "value": t_cpu * steps_total, "goal": 300.0,
         "better": "lower", "unit": "s",
         "details": {"us_per_step_single_network": t_cpu * 1e6,
                     "wall_us_per_step_single_network": t_wall * 1e6,
                     "projected_wall_s": t_wall * steps_total,
                     "steps_in_run": float(steps_total),
                     "steps_timed_per_repeat": float(N),
                     "how": "projected: best repeat's CPU time per step x steps of the whole run"}})
    return rows


if __name__ == "__main__":
    print(json.dumps(measure(), indent=1))
