"""docs/model/fig2b_fig4ac_mnist.md §8 T1, T2, T6, T7, T8: the Euler step, its latencies and its pipeline."""
import math

import pytest
import torch

from tests.fig2b_fig4ac_mnist.helpers import batch, make_net, mlp


def _randomise_state(net, B, seed=1):
    g = torch.Generator().manual_seed(seed)
    x, y = batch(B, seed=seed, dtype=net.dtype)
    net.step(x, y, train=False)  # replicate states to B rows
    for l in range(net.L):
        for lst, scale in ((net.u, 1.0), (net.e, 0.1), (net.r, 0.5), (net.phi_prime, None)):
            if scale is None:
                lst[l].copy_((torch.rand(lst[l].shape, generator=g) > 0.3).to(net.dtype))
            else:
                lst[l].copy_(torch.randn(lst[l].shape, generator=g, dtype=net.dtype) * scale)
    return x, y


@pytest.mark.parametrize("dt", [0.002, 0.1, 2.0])
def test_t1_prospective_voltage_is_instantaneous(dt):
    net = make_net(dtype=torch.float32, dt=dt, tau=20.0, tau_m=20.0)
    x, y = _randomise_state(net, 8)
    u_old = [u.clone() for u in net.u]
    e_old = [e.clone() for e in net.e]
    r_old = [r.clone() for r in net.r]
    net.step(x, y, train=False)
    for l in range(net.L):
        rho_in = x if l == 0 else r_old[l - 1]
        I = rho_in @ net.W[l] + net.b[l]
        torch.testing.assert_close(net.u_hat[l], I + e_old[l], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(net.u[l], u_old[l] + dt / 20.0 * (I + e_old[l] - u_old[l]), rtol=1e-5, atol=1e-5)


def test_t1_mismatched_tau_overshoots():
    net = make_net(dt=0.05, tau=20.0, tau_m=10.0)  # docs/model/fig2b_fig4ac_mnist.md Q1: the 4c setting
    x, y = _randomise_state(net, 8)
    u_old, e_old, r_old = [u.clone() for u in net.u], [e.clone() for e in net.e], [r.clone() for r in net.r]
    net.step(x, y, train=False)
    for l in range(net.L):
        I = (x if l == 0 else r_old[l - 1]) @ net.W[l] + net.b[l]
        expect = I + e_old[l] + (20.0 / 10.0 - 1.0) * (I + e_old[l] - u_old[l])
        torch.testing.assert_close(net.u_hat[l], expect, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("tau", [20.0, 200.0])
def test_t2_output_equals_mlp_from_the_third_step(tau):
    net = make_net(tau=tau, tau_m=tau, dt=0.01)
    x1, y = batch(4, seed=1)
    x2, _ = batch(4, seed=2)
    net.present(x1, y, 20, train=False)
    f2 = mlp(net, x2)[0]
    for k in range(1, 8):
        net.step(x2, y, train=False)
        err = (net.r[-1] - f2).abs().max().item()
        if k < 3:
            assert err > 1e-3, f"step {k} already equals MLP(x2)"
        else:
            assert err < 1e-12, f"step {k}: |out - MLP(x2)| = {err}"


def _cascade_residuals(net, times):
    """Fraction of an input switch still missing at the output after t steps (dt = 1)."""
    x1, y = batch(2, seed=1)
    x2, _ = batch(2, seed=2)
    with torch.no_grad():  # small weights, bias 0.5: every hidden unit stays inside (0, 1), the linear regime
        for l in range(net.L):
            net.W[l].mul_([0.02, 0.2, 1.0][l])
            net.b[l].fill_(0.5)
    net.present(x1, y, 400, train=False)
    f1, a, _ = mlp(net, x1)
    f2, a2, _ = mlp(net, x2)
    assert all(((v > 0) & (v < 1)).all() for v in a[:-1] + a2[:-1])
    out = []
    for t in range(1, max(times) + 1):
        net.step(x2, y, train=False)
        if t in times:
            out.append(((net.r[-1] - f2).norm() / (f1 - f2).norm()).item())
    return out


def test_t2_non_prospective_output_is_a_leaky_cascade():
    """tau = 0: rates phi(u); errors left at e^{n-1} (~0 in eval) so the relaxation is the bare cascade."""
    net = make_net(tau=0.0, tau_m=10.0, dt=1.0, n_updates=200)
    at_1, at_3, at_6 = _cascade_residuals(net, [10, 30, 60])
    assert at_1 >= 0.9 * 0.98  # docs/model/fig2b_fig4ac_mnist.md T2: >~ 90 % at t = tau_m
    assert 0.40 <= at_3 <= 0.60
    assert 0.05 <= at_6 <= 0.10
    # continuous 3-stage cascade e^{-s}(1 + s + s^2/2) as a cross-check of the shape
    cont = [math.exp(-s) * (1 + s + s * s / 2) for s in (1, 3, 6)]
    assert abs(at_3 - cont[1]) < 0.1 and abs(at_6 - cont[2]) < 0.05


def test_t6_pipeline_timing_two_steps():
    net = make_net(beta=0.1)
    net.eta_dt = [0.0, 0.0, 0.0]  # freeze W to read the errors of consecutive steps
    x, y = batch(3, seed=4)
    recs = []
    for _ in range(2):
        net.step(x, y, train=True)
        recs.append({k: [t.clone() for t in getattr(net, k)] for k in ("e", "r", "phi_prime")})
    (s1, s2) = recs
    torch.testing.assert_close(s1["e"][2], 0.1 * y)  # r_3^0 = 0
    torch.testing.assert_close(s2["e"][2], 0.1 * (y - s1["r"][2]))
    torch.testing.assert_close(s2["e"][1], s1["phi_prime"][1] * (s1["e"][2] @ net.W[2].t()), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(s2["e"][0], s1["phi_prime"][0] * (s1["e"][1] @ net.W[1].t()), rtol=1e-10, atol=1e-12)
    # the W_3 update of step 3 pairs r_2 of step 2 with e_3 of step 3
    net.eta_dt = [1.0, 1.0, 1.0]
    W3 = net.W[2].clone()
    r2_prev = net.r[1].clone()
    net.step(x, y, train=True)
    torch.testing.assert_close(net.W[2] - W3, r2_prev.t() @ net.e[2] / 3, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(net.e[2], 0.1 * (y - s2["r"][2]))


def test_t7_eval_leaves_parameters_and_target_untouched():
    net = make_net(dtype=torch.float32)
    x, y = batch(8, seed=3, dtype=torch.float32)
    net.present(x, y, 30, train=True)
    before = {k: [t.clone() for t in getattr(net, k)] for k in ("W", "b", "B", "tau_m")}
    ybar = net.ybar.clone()
    x2, y2 = batch(8, seed=5, dtype=torch.float32)
    for k in range(1, 6):
        net.step(x2, y2, train=False)
        assert torch.equal(net.e[2], torch.zeros_like(net.e[2])), "e_3 must be exactly 0 in eval"
        if k >= 2:
            assert net.e[1].abs().max() <= 1e-6 * net.I[1].abs().max() + 1e-7
        if k >= 3:
            assert net.e[0].abs().max() <= 1e-6 * net.I[0].abs().max() + 1e-7
    for k, ts in before.items():
        assert all(torch.equal(a, b) for a, b in zip(ts, getattr(net, k))), k
    assert torch.equal(ybar, net.ybar)


def test_t8_batch_replication_keeps_rows_identical():
    """Rows stay identical up to BLAS rounding: GEMM kernels may sum rows of one batch in different orders."""
    net = make_net(dtype=torch.float64)
    assert net.u[0].shape[0] == 1
    x, y = batch(1, seed=6, dtype=torch.float64)
    X, Y = x.expand(5, -1).clone(), y.expand(5, -1).clone()
    net.step(X, Y, train=True)
    for name in ("u", "u_hat", "d", "I", "e", "r", "phi_prime", "rbar", "gbar"):
        for t in getattr(net, name):
            assert t.shape[0] == 5 and (t - t[:1]).abs().max() < 1e-12, name
    assert net.ybar.shape[0] == 5
    for _ in range(60):
        net.step(X, Y, train=True)
    for name in ("u", "u_hat", "e", "r", "phi_prime"):
        for t in getattr(net, name):
            assert (t - t[:1]).abs().max() < 1e-12, name
