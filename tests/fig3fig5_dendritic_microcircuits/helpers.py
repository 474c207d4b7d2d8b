"""Shared constructors for the microcircuit tests."""
from pathlib import Path

import numpy as np

from common.config import load_config
from fig3fig5_dendritic_microcircuits.src.config import BarsConfig, MimicConfig
from fig3fig5_dendritic_microcircuits.src.network import Microcircuits
from fig3fig5_dendritic_microcircuits.src.params import NetParams

FOLDER = Path(__file__).resolve().parents[2] / "fig3fig5_dendritic_microcircuits"
CONFIGS = FOLDER / "experiment_configs"
NS = (3, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)


def bars_cfg(variant, N, *overrides):
    return load_config(BarsConfig, CONFIGS / f"bars_{variant}_tpres_{N}.yaml", list(overrides))


def mimic_cfg(*overrides):
    return load_config(MimicConfig, CONFIGS / "mimic_tpres_100.yaml", list(overrides))


def params(le, N=10, out_lag=None, ablation="none", output_leak="with_gsom", n_layers=2, eta=1.0):
    """Bars-like parameters (docs/model/fig3fig5_dendritic_microcircuits.md §5) for N steps per pattern; eta scales all learning rates."""
    t = N * 0.1
    up = [0.5 / t * eta] * (n_layers - 1) + [0.1 / t * eta]
    ip = [0.2 / t * eta] * (n_layers - 1) + [0.0]
    return NetParams(latent_eq=le, dt=0.1, gl=0.03, gb=0.1, ga=0.06, gsom=0.06, gd=0.1,
                     eta_up=tuple(up), eta_pi=(0.0,) * n_layers, eta_ip=tuple(ip), tau_0=0.1,
                     out_lag=(0.0 if le else 0.5) if out_lag is None else out_lag,
                     learning_lag=0.0, output_leak=output_leak, ablation=ablation)


def net(ps, seeds, dims=(9, 30, 3), engine="numba", reflect=True, bias_on=False):
    m = Microcircuits(list(dims), ps, seeds, bias_on=bias_on, engine=engine)
    if reflect:
        m.reflect()
    return m


def random_schedule(K, P, dims, seed=0, p_nudge=0.5, p_learn=0.7):
    """Random inputs/targets with random nudge and learning flags, one schedule per network."""
    rng = np.random.RandomState(seed)
    X = rng.rand(K, P, dims[0])                                              # (K, P, N0)
    T = np.concatenate([rng.rand(K, P, dims[-1]), rng.rand(K, P, 1) < p_nudge], axis=2)
    learn = rng.rand(K, P) < p_learn
    return X, T.astype(np.float64), learn


def constant(x, P):
    return np.repeat(np.asarray(x, dtype=np.float64)[None, None], P, axis=1)   # (1, P, N0)


def assert_members_are_their_single_runs(ens, r, ps, seeds, X, T, learn, members, engine="numba", **run_kw):
    """Network k of the ensemble run `r` (outputs, final state, traces) is bitwise the run of network k
    alone on its own schedule."""
    for k in members:
        one = net([ps[k]], [seeds[k]], engine=engine)
        r1 = one.run(X[k:k + 1], T[k:k + 1], learn=learn[k:k + 1], **run_kw)
        assert np.array_equal(r.out[k], r1.out[0])
        assert np.array_equal(ens.S[k], one.S[0])
        for key in run_kw.get("record", ()):
            assert np.array_equal(r.traces[key][k], r1.traces[key][0])
