"""The SIMD-across-networks compiled engine: its φ, ensembles spanning several blocks of LANES
networks, networks that are not active."""
import numpy as np
import pytest

from fig3fig5_dendritic_microcircuits.src import engine_numba
from fig3fig5_dendritic_microcircuits.src.engine_numpy import phi as phi_numpy

from .helpers import assert_members_are_their_single_runs, net, params, random_schedule

pytestmark = pytest.mark.skipif(not engine_numba.AVAILABLE, reason="numba not importable")


def test_compiled_phi_is_softplus_within_4_ulp_with_the_spec_cut_offs():
    x = np.linspace(-15, 15, 600_001, dtype=np.float32)[1:-1]               # -15 < x < 15
    y = np.empty_like(x)
    engine_numba.phi_array(x, y)
    exact = np.log1p(np.exp(x.astype(np.float64)))
    assert (np.abs(y - exact) / np.spacing(exact.astype(np.float32))).max() <= 4.0
    # numpy's float32 log1p(exp(x)) (the reference engine) is itself a few ulp off
    assert (np.abs(phi_numpy(x) - exact) / np.spacing(exact.astype(np.float32))).max() <= 4.0
    edges = np.float32([-15.0, 15.0, -15.5, 15.5, -1e30, 1e30, np.inf, -np.inf])
    out = np.empty_like(edges)
    engine_numba.phi_array(edges, out)
    assert np.array_equal(out, np.float32([-15.0, 15.0, 0.0, 15.5, 0.0, 1e30, np.inf, 0.0]))  # Q15
    nan = np.empty(1, dtype=np.float32)
    engine_numba.phi_array(np.float32([np.nan]), nan)
    assert np.isnan(nan[0])


def test_ensemble_over_several_simd_blocks_is_bitwise_equal_to_single_runs():
    kinds = [params(True), params(False), params(True, ablation="rates_from_soma"),
             params(False, output_leak="without_gsom"), params(True, eta=2.0)]
    K = engine_numba.LANES + 3                                               # two blocks
    ps = [kinds[k % len(kinds)] for k in range(K)]
    seeds = list(range(20, 20 + K))
    X, T, learn = random_schedule(K, 12, (9, 30, 3), seed=7)
    rec = [(0, "pyr_forw"), (1, "pyr_soma")]
    ens = net(ps, seeds)
    r = ens.run(X, T, learn=learn, n=10, record=rec, record_every=3, store_delta=True)
    assert_members_are_their_single_runs(ens, r, ps, seeds, X, T, learn,                 # both blocks, edges
                                         (0, engine_numba.LANES - 1, engine_numba.LANES + 2),
                                         n=10, record=rec, record_every=3, store_delta=True)


@pytest.mark.parametrize("engine, K", [("numba", 3), ("numba", engine_numba.LANES + 2), ("numpy", 3)])
def test_inactive_network_stays_frozen_and_leaves_the_others_alone(engine, K):
    ps = [params(k % 2 == 0) for k in range(K)]
    X, T, learn = random_schedule(K, 6, (9, 30, 3), seed=8)
    ens = net(ps, list(range(1, K + 1)), engine=engine)
    ens.run(X[:, :2], T[:, :2], learn=learn[:, :2], n=10)
    frozen, rate = ens.S[1].copy(), ens.rate[1].copy()
    ens.active[1] = False                             # as after a divergence
    r = ens.run(X[:, 2:], T[:, 2:], learn=learn[:, 2:], n=10, reset=False,
                record=[(0, "pyr_soma")], record_every=5)
    assert np.array_equal(ens.S[1], frozen) and np.array_equal(ens.rate[1], rate)
    assert not r.out[1].any() and not r.traces[(0, "pyr_soma")][1].any()
    whole = net(ps, list(range(1, K + 1)), engine=engine)
    whole.run(X, T, learn=learn, n=10)
    others = [k for k in range(K) if k != 1]
    assert np.array_equal(ens.S[others], whole.S[others])


def test_diverging_network_stops_alone_with_its_state_at_divergence():
    K = 4
    ps = [params(True)] * K
    X, T, learn = random_schedule(K, 30, (9, 30, 3), seed=4, p_learn=1.0)
    learn[1] = False
    ens = net(ps, list(range(1, K + 1)))
    for layer, f, v in ((0, "W_up", 1.0), (0, "W_down", 10.0), (0, "W_pi", 0.0), (1, "W_up", 10.0)):
        ens.W(layer, f)[1] = v                        # positive loop gain >> 1: voltages run away
    start = ens.S[1:2].copy()
    r = ens.run(X, T, learn=learn, n=10)
    q = r.diverged_at[1]
    assert q >= 0 and not ens.active[1]
    assert (r.diverged_at[[0, 2, 3]] == -1).all() and ens.active[[0, 2, 3]].all()
    alone = net(ps[:1], [2])                          # the same runaway network alone, up to q
    alone.S[...] = start
    alone.run(X[1:2, :q + 1], T[1:2, :q + 1], learn=False, n=10)
    assert np.array_equal(ens.S[1], alone.S[0], equal_nan=True)
    one = net(ps[:1], [1])
    r1 = one.run(X[:1], T[:1], learn=learn[:1], n=10)
    assert np.array_equal(r.out[0], r1.out[0])
