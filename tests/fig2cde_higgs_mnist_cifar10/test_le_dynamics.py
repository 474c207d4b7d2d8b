"""docs/model/fig2cde_higgs_mnist_cifar10.md §6 items 1-3, 9-11: prospective voltage, inference = ANN, pipeline delays, step bookkeeping."""
import numpy as np
import pytest
import torch

from fig2cde_higgs_mnist_cifar10.model.le_sequential import le_learning_rate
from tests.fig2cde_higgs_mnist_cifar10.helpers import batch, make_net

# stages + weight layers: steps after which eval output equals the ANN (docs/model/fig2cde_higgs_mnist_cifar10.md §1.6)
SETTLE = {"higgs": 8, "mnist": 10}


@pytest.mark.parametrize("task", ["higgs", "mnist"])
def test_prospective_voltage_is_basal_input_plus_previous_error(task):
    """Item 1: u_hat_l = W_l r_in + b_l + eps_l(previous), whatever the membrane u is."""
    net = make_net(task)
    x, y = batch(task)
    for _ in range(12):
        net.step(x, y, train=True)
    for s in net.weight_stages:  # scramble u: it must not matter
        s.u.normal_()
    prev = {id(s): s.eps.clone() for s in net.weight_stages}
    r_in = [x] + [s.r.clone() for s in net.stages[:-1]]  # vanilla: previous-step rates below
    weights = {id(s): (s.W.clone(), s.b.clone()) for s in net.weight_stages}
    net.step(x, y, train=True)
    for k, s in enumerate(net.stages):
        if s.has_weights:
            W, b = weights[id(s)]
            s_copy = type(s).__new__(type(s))
            s_copy.__dict__.update(s.__dict__, W=W, b=b)
            expected = s_copy.ann(r_in[k]) + prev[id(s)]
            assert (s.u_hat - expected).abs().max() <= 1e-6


@pytest.mark.parametrize("task", ["higgs", "mnist"])
def test_tau_and_dt_do_not_change_learning(task):
    """Item 1: (tau, dt) in {(1, .1), (100, .1), (10, .01), (10, 1)} with eta ~ 1/dt reproduce the
    (10, 0.1) run of 40 training steps to 1e-6."""
    x, y = batch(task, B=4)

    def run(tau, dt):
        net = make_net(task, tau=tau, dt=dt, eta=0.3 * 0.1 / dt)
        for _ in range(40):
            out = net.step(x, y, train=True)
        return out.clone(), [s.W.clone() for s in net.weight_stages]

    ref_out, ref_W = run(10.0, 0.1)
    for tau, dt in [(1.0, 0.1), (100.0, 0.1), (10.0, 0.01), (10.0, 1.0)]:
        out, W = run(tau, dt)
        assert (out - ref_out).abs().max() <= 1e-6, (tau, dt)
        for a, b in zip(W, ref_W):
            assert (a - b).abs().max() <= 1e-6, (tau, dt)


@pytest.mark.parametrize("task", ["higgs", "mnist"])
def test_eval_output_equals_ann_after_stages_plus_weight_layers_steps(task):
    """Item 2: from an arbitrary state, eval output = ANN after exactly 8 (MLP) / 10 (LeNet) steps."""
    net = make_net(task, eta=0.5)
    x_other, y_other = batch(task, seed=5)
    for _ in range(15):  # arbitrary prior state: training on another batch
        net.step(x_other, y_other, train=True)
    x, _ = batch(task, seed=6)
    ann = net.ann_forward(x)
    outs = [net.step(x, None, train=False).clone() for _ in range(SETTLE[task])]
    assert (outs[-1] - ann).abs().max() <= 1e-6
    assert (outs[-2] - ann).abs().max() > 1e-4  # one step earlier it has not settled yet


@pytest.mark.parametrize("task,first_change", [("higgs", 4), ("mnist", 6)])
def test_forward_delay_is_one_step_per_stage(task, first_change):
    """Item 3: after an input swap, the output is unchanged for #stages - 1 steps."""
    net = make_net(task)
    x1, _ = batch(task, seed=1)
    x2, _ = batch(task, seed=2)
    for _ in range(30):
        net.step(x1, None, train=False)
    steady = net.output.clone()
    for t in range(1, first_change + 1):
        diff = (net.step(x2, None, train=False) - steady).abs().max()
        if t < first_change:
            assert diff <= 1e-6, t
        else:
            assert diff > 1e-4


def test_full_forward_pass_reacts_at_once():
    net = make_net("mnist", variant="full_forward_pass")
    x1, _ = batch("mnist", seed=1)
    x2, _ = batch("mnist", seed=2)
    for _ in range(30):
        net.step(x1, None, train=False)
    steady = net.output.clone()
    assert (net.step(x2, None, train=False) - steady).abs().max() > 1e-4


def test_first_steps_bookkeeping():
    """Item 9: step 1 changes nothing; step 2 changes only the output layer, by exactly
    eta_K dt phi(b_{K-1}) (x) mean_b beta (y_b - b_K) (float64 so that 1e-8 is above rounding)."""
    net = make_net("higgs", beta=0.1, eta=2.0, dtype=torch.float64)
    x, y = batch("higgs", dtype=torch.float64)
    W0 = [(s.W.clone(), s.b.clone()) for s in net.weight_stages]
    net.step(x, y, train=True)
    for s, (W, b) in zip(net.weight_stages, W0):
        assert torch.equal(s.W, W) and torch.equal(s.b, b)
    net.step(x, y, train=True)
    for s, (W, b) in zip(net.weight_stages[:-1], W0[:-1]):
        assert torch.equal(s.W, W) and torch.equal(s.b, b)
    top, below = net.weight_stages[-1], net.weight_stages[-2]
    W, b = W0[-1]
    e = 0.1 * (y - b).mean(0)  # [1]
    r_below = W0[-2][1].clamp(0, 1)  # phi(b_{K-1}) [300]
    assert (top.W - W - top.lr * torch.outer(r_below, e)).abs().max() <= 1e-8
    assert (top.b - b - top.lr * e).abs().max() <= 1e-8


@pytest.mark.parametrize("M,factors,summed", [(64, [1.0, 0.2, 0.1, 0.1], 8.0),
                                              (128, [1.0, 0.2, 0.1, 0.1, 0.1, 0.1], 16.0),
                                              (64, [1.0, 0.2, 0.2, 0.2, 0.2, 0.1], 8.0)])
def test_learning_rate_formula(M, factors, summed):
    """Item 10: the coefficient summed over a batch's n steps is 0.125 M f_k for any n and dt, and it
    is what the layers apply per step (eta f_k dt)."""
    task = "higgs" if len(factors) == 4 else "mnist"
    for n in (10, 20, 100):
        for dt in (0.01, 0.1, 1.0):
            net = make_net(task, dt=dt, eta=le_learning_rate(M, n, dt), lr_factors=factors)
            for s, f in zip(net.stages, factors):
                assert s.lr * n == pytest.approx(summed * f, rel=1e-12)


def test_applied_update_is_lr_times_direction():
    """Item 10: one training step changes W by exactly eta_k dt times the frozen update direction."""
    x, y = batch("mnist", B=4)
    nets = [make_net("mnist", eta=0.7) for _ in range(2)]
    for net in nets:
        for _ in range(12):
            net.step(x, y, train=True)
    frozen, free = nets
    frozen.freeze(True)
    W_before = [s.W.clone() for s in free.weight_stages]
    b_before = [s.b.clone() for s in free.weight_stages]
    frozen.step(x, y, train=True)
    free.step(x, y, train=True)
    for s_f, s, W, b in zip(frozen.weight_stages, free.weight_stages, W_before, b_before):
        assert (s.W - W - s.lr * s_f.dW).abs().max() <= 1e-7
        assert (s.b - b - s.lr * s_f.db).abs().max() <= 1e-7


@pytest.mark.parametrize("task", ["higgs", "mnist"])
def test_eval_mode_keeps_weights_and_ignores_targets(task):
    """Item 11."""
    x, y = batch(task)
    a, b = make_net(task), make_net(task)
    for net in (a, b):
        for _ in range(5):
            net.step(x, y, train=True)
    W = [s.W.clone() for s in a.weight_stages]
    for _ in range(12):
        out_a = a.step(x, y, train=False)
        out_b = b.step(x, 1.0 - y, train=False)
        assert torch.equal(out_a, out_b)
    for s, w in zip(a.weight_stages, W):
        assert torch.equal(s.W, w)


def test_state_carries_over_between_batches_and_save_load(tmp_path):
    """Q9: nothing is reset between batches; state_dict restores it exactly; weights round-trip as npz."""
    x1, y1 = batch("mnist", seed=1)
    x2, y2 = batch("mnist", seed=2)
    a = make_net("mnist")
    a.present(x1, y1, 7, train=True)
    assert any(s.eps.abs().max() > 0 for s in a.weight_stages)
    sd = a.state_dict()
    b = make_net("mnist", seed=99)
    b.load_state_dict(sd)
    out_a, out_b = a.present(x2, y2, 5, train=True), b.present(x2, y2, 5, train=True)
    assert torch.equal(out_a, out_b)
    np.savez(tmp_path / "w.npz", **a.weights())                  # weights round-trip through .npz
    c = make_net("mnist", seed=5)
    with np.load(tmp_path / "w.npz") as data:
        c.set_weights({k: data[k] for k in data.files})
    for s, t in zip(a.weight_stages, c.weight_stages):
        assert torch.equal(s.W, t.W) and torch.equal(s.b, t.b)
