"""docs/model/fig3fig5_dendritic_microcircuits.md §10 tests 5-10, the two engines against each other, ensembles against single runs."""
import numpy as np
import pytest

from fig3fig5_dendritic_microcircuits.src.dataset import bars_patterns, one_hot_targets
from fig3fig5_dendritic_microcircuits.src.protocol import train_schedule

from .helpers import assert_members_are_their_single_runs, constant, net, params, random_schedule

ENGINES = ("numba", "numpy")
GB, GS, GO, GLB = np.float32(0.1), np.float32(0.06), np.float32(0.19), np.float32(0.13)


def _cases():
    mixed = [params(True), params(False), params(True, ablation="rates_from_soma"),
             params(False, output_leak="without_gsom"), params(True, ablation="no_interneuron_nudging")]
    deep = [params(True, n_layers=3), params(False, n_layers=3)]
    return [((9, 30, 3), mixed, False), ((4, 6, 5, 2), deep, True)]


@pytest.mark.parametrize("dims, ps, bias", _cases())
def test_numba_engine_matches_numpy_reference(dims, ps, bias):
    K = len(ps)
    X, T, learn = random_schedule(K, 30, dims, seed=3)
    rec = [(0, "pyr_apical"), (len(dims) - 2, "pyr_forw"), ("run", "u_tgt"), (0, "W_ip")]
    res = {}
    for eng in ENGINES:
        m = net(ps, list(range(10, 10 + K)), dims=dims, engine=eng, bias_on=bias)
        r = m.run(X, T, learn=learn, n=10, record=rec, record_every=3, store_delta=True)
        res[eng] = (r, m.S.copy())
    (a, Sa), (b, Sb) = res["numba"], res["numpy"]
    assert np.abs(a.out - b.out).max() < 1e-5
    assert np.abs(Sa - Sb).max() < 1e-5
    for key in rec:
        assert a.traces[key].shape == b.traces[key].shape
        assert np.abs(a.traces[key] - b.traces[key]).max() < 1e-5


@pytest.mark.parametrize("engine", ENGINES)
def test_ensemble_is_bitwise_equal_to_separate_single_runs(engine):
    ps = [params(True), params(False), params(True, N=10, eta=2.0),
          params(True, ablation="rates_from_soma")]
    K = len(ps)
    seeds = [5, 6, 7, 8]
    X, T, learn = random_schedule(K, 25, (9, 30, 3), seed=1)
    rec = [(0, "pyr_apical"), (1, "pyr_forw"), (0, "Delta_up")]
    ens = net(ps, seeds, engine=engine)
    r = ens.run(X, T, learn=learn, n=10, record=rec, record_every=4, store_delta=True)
    assert_members_are_their_single_runs(ens, r, ps, seeds, X, T, learn, range(K), engine=engine,
                                         n=10, record=rec, record_every=4, store_delta=True)


@pytest.mark.parametrize("engine", ENGINES)
def test_chunked_and_resumed_runs_equal_one_run(engine):
    ps = [params(True), params(False)]
    X, T, learn = random_schedule(2, 20, (9, 30, 3), seed=2)
    rec = [(0, "pyr_apical"), (1, "pyr_soma")]
    whole = net(ps, [1, 2], engine=engine)
    rw = whole.run(X, T, learn=learn, n=10, record=rec, record_every=3)
    part = net(ps, [1, 2], engine=engine)
    r1 = part.run(X[:, :7], T[:, :7], learn=learn[:, :7], n=10, record=rec, record_every=3,
                  finalize=False)                                  # 70 steps: one partial block
    state = part.get_state()
    resumed = net(ps, [1, 2], engine=engine, reflect=False)
    resumed.set_state(state)
    r2 = resumed.run(X[:, 7:], T[:, 7:], learn=learn[:, 7:], n=10, record=rec, record_every=3,
                     reset=False)
    assert np.array_equal(np.concatenate([r1.out, r2.out], 1), rw.out)
    assert np.array_equal(resumed.S, whole.S)
    for key in rec:
        assert np.array_equal(np.concatenate([r1.traces[key], r2.traces[key]], 1), rw.traces[key])
    assert rw.traces[rec[0]].shape[1] == int(np.ceil(200 / 3))  # docs/model/fig3fig5_dendritic_microcircuits.md §3 ceil(P n / c)


@pytest.mark.parametrize("engine", ENGINES)
def test_diverging_network_stops_alone(engine):
    ps = [params(True), params(True)]
    X, T, learn = random_schedule(2, 30, (9, 30, 3), seed=4, p_learn=1.0)
    ens = net(ps, [1, 2], engine=engine)
    for layer, f, v in ((0, "W_up", 1.0), (0, "W_down", 10.0), (0, "W_pi", 0.0), (1, "W_up", 10.0)):
        ens.W(layer, f)[1] = v                     # positive loop gain >> 1: voltages run away
    learn[1] = False
    r = ens.run(X, T, learn=learn, n=10)
    assert r.diverged_at[1] >= 0 and not ens.active[1]
    assert r.diverged_at[0] == -1 and ens.active[0]
    one = net(ps[:1], [1], engine=engine)
    r1 = one.run(X[:1], T[:1], learn=learn[:1], n=10)
    assert np.array_equal(r.out[0], r1.out[0])


def _bars_run(le, N, n_epochs, record, store_delta=False, engine="numba"):
    m = net([params(le, N=N)], [12354], engine=engine)
    x, labels = bars_patterns()
    y = one_hot_targets(labels, 3, 1.0, 0.1)
    s = train_schedule(m.rngs[0], x, y, x, y, n_epochs, 8)
    r = m.run(s.X[None], s.T[None], learn=(s.T[:, -1] == 1)[None], n=N, record=record,
              record_every=1, store_delta=store_delta)
    return m, r


def test_le_prospective_voltage_equals_steady_state_every_step():  # docs/model/fig3fig5_dendritic_microcircuits.md §10 test 5
    rec = [(0, "pyr_forw"), (0, "pyr_steadystate"), (0, "inn_forw"), (0, "inn_steadystate"),
           (1, "pyr_forw"), (1, "pyr_steadystate")]
    _, r = _bars_run(True, 10, 5, rec)
    for a, b in ((0, 1), (2, 3), (4, 5)):          # ŭ = u + fl(fl(G (s - u)) / G): a few roundings
        ulp = np.spacing(np.abs(r.traces[rec[b]]).max())
        assert np.abs(r.traces[rec[a]] - r.traces[rec[b]]).max() <= 3 * ulp


def test_orig_soma_approaches_steady_state_geometrically():  # docs/model/fig3fig5_dendritic_microcircuits.md §10 test 6
    m = net([params(False)], [3], reflect=True)
    m.W(0, "W_down")[...] = 0.0                                        # v^A = 0: s^P is constant
    m.W(0, "W_pi")[...] = 0.0
    x = np.random.RandomState(0).rand(9)
    P, n = 3, 1000
    rec = [(0, "pyr_soma"), (0, "pyr_steadystate"), (1, "pyr_soma"), (1, "pyr_basal")]
    T = np.zeros((1, P, 4))
    T[0, :, :3], T[0, :, 3] = [0.3, 0.8, 0.1], [0, 0, 1]               # the last pattern nudged
    r = m.run(constant(x, P), T, learn=False, n=n, record=rec, record_every=1)
    u, s = r.traces[rec[0]][0].astype(np.float64), r.traces[rec[1]][0].astype(np.float64)
    k = np.arange(1, 301)
    expect = s[0][None] * (1 - 0.981 ** k)[:, None]                     # u_0 = 0, factor 1 - dt G
    assert np.abs(u[:300] - expect).max() < 1e-5 * np.abs(s[0]).max() + 1e-6
    assert np.abs(u[n - 1] - s[n - 1]).max() < 1e-5        # float32 Euler stalls ~30 ulp short
    uo, vo = r.traces[rec[2]][0], r.traces[rec[3]][0]
    assert np.abs(uo[2 * n - 1] - GB * vo[2 * n - 1] / GLB).max() < 1e-5     # no target
    y = np.float32([0.3, 0.8, 0.1])
    assert np.abs(uo[3 * n - 1] - (GB * vo[3 * n - 1] + GS * y) / GO).max() < 1e-5


def _selfpred_run(le, N=100, P=4):
    # learning on with eta = 0: the Δ matrices are computed every step but weights stay reflected
    m = net([params(le, N=N, out_lag=0.0, eta=0.0)], [12354])
    x, _ = bars_patterns()
    X = x[[0, 3, 6, 1]][None, :P]
    rec = [(0, "pyr_apical"), (0, "Delta_up"), (0, "Delta_ip"), (1, "Delta_up")]
    r = m.run(X, np.zeros((1, P, 4)), learn=True, n=N, record=rec, record_every=1, store_delta=True)
    return {key[1] + str(key[0]): v[0].reshape(N * P, -1) for key, v in r.traces.items()}


def test_le_self_predicting_state_without_target():  # docs/model/fig3fig5_dendritic_microcircuits.md §10 test 7
    N = 100
    t = _selfpred_run(True, N)
    vA = np.abs(t["pyr_apical0"]).max(1)                                 # (steps,)
    assert vA[0] == 0.0
    for q in range(1, 4):
        k0 = q * N
        assert vA[k0] < 1e-6 and vA[k0 + 1] < 1e-6                     # first 2 steps: still 0
        assert vA[k0 + 2] > 1e-3                                         # 3rd step: ringing
        assert vA[k0 + 50:k0 + N].max() < 1e-6                           # decayed in tens of steps
        for key in ("Delta_up0", "Delta_ip0"):
            assert np.abs(t[key][k0 + 50:k0 + N]).max() < 1e-6
    assert np.abs(t["Delta_up1"]).max() < 1e-6                          # output: every step


def test_orig_apical_error_persists_for_short_patterns():  # docs/model/fig3fig5_dendritic_microcircuits.md §10 test 8
    N = 100
    t_orig, t_le = _selfpred_run(False, N), _selfpred_run(True, N)
    for q in range(1, 4):
        end = (q + 1) * N - 1
        assert np.abs(t_orig["pyr_apical0"][end]).max() > 1e-3
        assert np.abs(t_le["pyr_apical0"][end]).max() < 1e-6
    assert np.abs(t_orig["Delta_up1"]).max() > 1e-3                     # spurious plasticity


def test_latency_le_one_step_orig_slow():  # docs/model/fig3fig5_dendritic_microcircuits.md §10 test 9
    x, _ = bars_patterns()
    for le, n in ((True, 50), (False, 2000)):
        m = net([params(le, N=n // 10, out_lag=0.0)], [12354])
        r = m.run(x[[0, 3]][None], np.zeros((1, 2, 4)), learn=False, n=n,
                  record=[(1, "pyr_forw")], record_every=1)
        u = r.traces[(1, "pyr_forw")][0]                                 # (2n, 3)
        assert np.abs(u[n] - u[n - 1]).max() < 1e-6                      # 1st step of new pattern
        assert np.abs(u[n + 1] - u[n]).max() > (1e-3 if le else 1e-5)  # 2nd step: it moves
        if not le:
            total = np.abs(u[-1] - u[n - 1]).max()
            assert np.abs(u[-1] - u[n + 20]).max() > 0.3 * total          # far from settled
            assert np.abs(u[-1] - u[n + 300]).max() < 0.05 * total        # settles over hundreds


def test_le_target_is_delayed_by_one_step():  # docs/model/fig3fig5_dendritic_microcircuits.md §10 test 10, Q6
    x, _ = bars_patterns()
    n = 20
    y1, y2 = [1.0, 0.1, 0.1], [0.1, 0.1, 1.0]
    T = np.array([[[0.5, 0.5, 0.5, 0], y1 + [1], y2 + [1]]])
    T0 = T.copy()
    T0[..., 3] = 0
    rec = [(1, "pyr_forw"), (1, "pyr_basal"), ("run", "u_tgt")]
    out = {}
    for name, TT in (("nudged", T), ("free", T0)):
        m = net([params(True, N=n)], [12354])
        r = m.run(x[[0, 3, 6]][None], TT, learn=False, n=n, record=rec, record_every=1)
        out[name] = {key: v[0] for key, v in r.traces.items()}
    a, b = out["nudged"], out["free"]
    u, v, tgt = a[rec[0]], a[rec[1]], a[rec[2]]
    assert np.array_equal(u[:n + 1], b[rec[0]][:n + 1])                 # not nudged up to step n
    assert np.abs(u[n + 1] - (GB * v[n + 1] + GS * np.float32(y1)) / GO).max() < 1e-6
    assert np.abs(u[n + 1] - b[rec[0]][n + 1]).max() > 1e-3
    assert np.array_equal(tgt[2 * n], np.float32(y1))                    # step 2n still applies y1
    assert np.abs(u[2 * n] - (GB * v[2 * n] + GS * np.float32(y1)) / GO).max() < 1e-6
    # first step of a run whose first pattern is nudged: zero target, nudged (docs/model/fig3fig5_dendritic_microcircuits.md Q6)
    m = net([params(True, N=n)], [12354])
    r = m.run(x[[0]][None], np.array([[y1 + [1]]]), learn=False, n=n, record=rec, record_every=1)
    u0, v0 = r.traces[rec[0]][0][0], r.traces[rec[1]][0][0]
    assert np.abs(u0 - GB * v0 / GO).max() < 1e-7
