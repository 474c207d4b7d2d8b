"""Learning outcomes: docs/model/fig3fig5_dendritic_microcircuits.md §10 tests 11 (slow), 12, 14, 15."""
import numpy as np
import pytest

from fig3fig5_dendritic_microcircuits.src.dataset import bars_patterns, one_hot_targets
from fig3fig5_dendritic_microcircuits.src.mimic import run_mimic
from fig3fig5_dendritic_microcircuits.src.protocol import epoch_metrics, train_schedule

from .helpers import bars_cfg, mimic_cfg, net, params

X_BARS, LABELS = bars_patterns()
Y_BARS = one_hot_targets(LABELS, 3, 1.0, 0.1)


def val_curves(ps, N, n_epochs, seeds, engine="numba"):
    """Bars training of an ensemble; returns per network an (n_epochs, 2) array [val MSE, acc]."""
    m = net(ps, seeds, engine=engine)
    sch = [train_schedule(m.rngs[k], X_BARS, Y_BARS, X_BARS, Y_BARS, n_epochs, 8)
           for k in range(len(ps))]
    X, T = np.stack([s.X for s in sch]), np.stack([s.T for s in sch])
    r = m.run(X, T, learn=T[..., -1] == 1, n=N)
    return [np.array(epoch_metrics(r.out[k], T[k], 16, 8)) for k in range(len(ps))]


def test_learning_rate_scaling_gives_same_learning_per_epoch():  # docs/model/fig3fig5_dendritic_microcircuits.md §10 test 12
    c50 = val_curves([params(True, N=50)], 50, 100, [12354])[0]
    c100 = val_curves([params(True, N=100)], 100, 100, [12354])[0]
    for e in (24, 49, 99):
        assert c50[e, 0] == pytest.approx(c100[e, 0], rel=0.1)
    assert c100[99, 0] > 0.03                     # 100 epochs: still far from the final MSE


def test_le_prospective_rates_are_what_makes_short_patterns_learnable():  # docs/model/fig3fig5_dendritic_microcircuits.md §10 test 15a
    le, soma_rates, orig = val_curves(
        [params(True, N=10), params(True, N=10, ablation="rates_from_soma"), params(False, N=10)],
        10, 1000, [12354] * 3)
    assert le[-1, 0] < 0.01 and le[-1, 1] == 100.0
    assert soma_rates[-1, 0] > 0.1 and orig[-1, 0] > 0.1


def test_interneuron_nudging_is_what_cancels_the_apical_potential():  # docs/model/fig3fig5_dendritic_microcircuits.md §10 test 15b
    x = X_BARS[[0, 3]][None]
    res = {}
    for abl in ("none", "no_interneuron_nudging"):
        m = net([params(True, N=100, ablation=abl)], [12354])
        r = m.run(x, np.zeros((1, 2, 4)), learn=False, n=100, record=[(0, "pyr_apical")],
                  record_every=1)
        res[abl] = np.abs(r.traces[(0, "pyr_apical")][0][150:200]).max()
    assert res["none"] < 1e-6
    assert res["no_interneuron_nudging"] > 1e-2


def test_mimic_self_prediction_and_task_learning():  # docs/model/fig3fig5_dendritic_microcircuits.md §10 test 14
    out = run_mimic(mimic_cfg())
    w = out["weights_post_selfpred"]
    assert np.abs(w["W_pi_1"] + w["W_down_1"]).max() < 1e-4
    assert np.abs(w["W_ip_1"] - w["W_up_out"]).max() < 1e-3
    assert np.abs(out["selfpred_traces"]["layer_0_pyr_apical"][-1]).max() < 1e-5
    assert np.array_equal(w["W_up_1"], out["weights_init"]["W_up_1"])    # W_up frozen in stage 1
    assert out["eval_pretrain"]["test"]["mse"] > 1e3 * out["eval"]["test"]["mse"]
    assert out["val_mse"][-1] < 1e-6
    assert out["val_mse"][-1] < 1e-3 * out["val_mse"][0]
    wp, wt = out["weights_post"], out["teacher_weights"]
    assert np.abs(wp["W_up_out"] - wt["W_up_out"]).max() < 0.005
    assert np.abs(wp["W_up_1"] - wt["W_up_1"]).max() < 0.015
    assert np.abs(wp["W_ip_1"] - wp["W_up_out"]).max() < 1e-3
    assert np.array_equal(wp["W_pi_1"], w["W_pi_1"])  # docs/model/fig3fig5_dendritic_microcircuits.md Q14: W_pi frozen
    assert np.ptp(out["teacher_y"]) < np.ptp(out["teacher_x"])            # narrower target range


@pytest.mark.slow
def test_bars_reproduction_le_learns_orig_stays_on_plateau():  # docs/model/fig3fig5_dendritic_microcircuits.md §10 test 11
    Ns = (10, 20, 50, 100)
    finals = {}
    for N in Ns:
        le, orig = val_curves([bars_cfg(v, N).network.net_params() for v in ("le", "orig")], N,
                              1000, [12354, 12354])
        finals[N] = le[-1, 0]
        assert le[-1, 1] == 100.0 and le[-1, 0] < 1e-2
        assert orig[-1, 0] == pytest.approx(0.177, abs=0.02) and orig[-1, 1] <= 50.0
    assert all(finals[a] > finals[b] for a, b in zip(Ns, Ns[1:]))        # MSE falls with N


@pytest.mark.slow
def test_bars_orig_learns_slowly_at_N_1000():  # docs/model/fig3fig5_dendritic_microcircuits.md §10 test 11
    orig = val_curves([bars_cfg("orig", 1000).network.net_params()], 1000, 1000, [12354])[0]
    assert orig[-1, 0] < 0.17                                             # below the plateau


def test_mimic_w_pi_keeps_learning_when_not_frozen():  # docs/model/fig3fig5_dendritic_microcircuits.md Q14 key
    out = run_mimic(mimic_cfg("training.mimic_freeze_w_pi=false", "training.n_epochs=2"))
    assert not np.array_equal(out["weights_post"]["W_pi_1"], out["weights_post_selfpred"]["W_pi_1"])
