"""docs/model/fig2b_fig4ac_mnist.md §8 T3, T4, T5, T9, T10, T11: learning rules, dt invariance, filters, tau learning, FA."""
import pytest
import torch

from tests.fig2b_fig4ac_mnist.helpers import batch, make_net, mlp


def _mlp_gradients(net, x, y):
    """-d(1/2 ||y - f||^2, batch mean)/dW_l and /db_l via autograd, with the deltas."""
    W = [w.clone().requires_grad_() for w in net.W]
    b = [v.clone().requires_grad_() for v in net.b]
    h, a = x, []
    for l in range(net.L):
        a.append(h @ W[l] + b[l])
        a[-1].retain_grad()
        h = a[-1] if l == net.L - 1 else a[-1].clamp(0, 1)
    loss = 0.5 * ((y - h) ** 2).sum() / x.shape[0]
    loss.backward()
    return [-w.grad for w in W], [-v.grad for v in b], [-v.grad * x.shape[0] for v in a], h.detach()


def test_t3_errors_and_updates_approach_backprop():
    beta = 1e-5
    net = make_net(beta=beta)
    net.eta_dt = [0.0] * 3  # W frozen, nudging on
    x, y = batch(4, seed=7)
    net.present(x, y, 30, train=True)
    gW, gb, deltas, f = _mlp_gradients(net, x, y)
    for l in (2, 1, 0):
        rel = (net.e[l] / beta - deltas[l]).norm() / deltas[l].norm()
        assert rel < 1e-4, f"layer {l + 1}: relative error {rel:.2e}"
    net.eta_dt = [0.3, 0.2, 0.1]
    W_before = [w.clone() for w in net.W]
    net.step(x, y, train=True)
    for l in range(3):
        dW = (net.W[l] - W_before[l]) / (net.eta_dt[l] * beta)
        rel = (dW - gW[l]).norm() / gW[l].norm()
        assert rel < 1e-4, f"layer {l + 1}: dW relative error {rel:.2e}"


def test_t3_finite_beta_output_error():
    net = make_net(beta=0.1)
    net.eta_dt = [0.0] * 3
    x, y = batch(4, seed=9)  # a sample whose nudged state settles (others cycle at phi' boundaries)
    net.present(x, y, 60, train=True)
    e_prev = net.e[2].clone()
    net.step(x, y, train=True)
    assert (net.e[2] - e_prev).abs().max() < 1e-12, "no fixed point reached"
    expect = 0.1 / 1.1 * (y - net.r[1] @ net.W[2] - net.b[2])
    torch.testing.assert_close(net.e[2], expect, rtol=1e-9, atol=1e-12)


FORMS = ("stepwise", "presentation")  # how I_1 follows learning within a presentation (model §1.6)


def _train_weights(dt, tau_width, form, seed_batches=(1, 2, 3)):
    net = make_net(dt=dt, tau_width=tau_width, n_updates=10, input_current=form)
    for s in seed_batches:
        x, y = batch(6, seed=s)
        net.present(x, y, 10, train=True)
    return [torch.cat([w.flatten(), b]) for w, b in zip(net.W, net.b)]


@pytest.mark.parametrize("form", FORMS)
def test_t4_dt_invariance_without_jitter(form):
    ref = _train_weights(0.002, 0.0, form)
    for dt in (0.1, 2.0):
        for a, b in zip(ref, _train_weights(dt, 0.0, form)):
            assert (a - b).abs().max() < 1e-12, f"dt={dt}"


@pytest.mark.parametrize("form", FORMS)
def test_t4_jitter_breaks_dt_invariance(form):
    ref = _train_weights(0.002, 0.2, form)
    other = _train_weights(2.0, 0.2, form)
    assert max((a - b).abs().max().item() for a, b in zip(ref, other)) > 1e-6


@pytest.mark.parametrize("dt,n_updates", [(0.01, 100), (0.5, 7), (2.0, 1000)])
def test_t5_learning_rate_normalisation(dt, n_updates):
    net = make_net(dt=dt, n_updates=n_updates)
    g = torch.Generator().manual_seed(0)
    for l in range(net.L):
        rho_in = torch.rand(5, net.sizes[l], generator=g, dtype=torch.float64)  # B x n_{l-1}, constant
        e = torch.randn(5, net.sizes[l + 1], generator=g, dtype=torch.float64)  # B x n_l, forced constant
        W0, b0 = net.W[l].clone(), net.b[l].clone()
        for _ in range(n_updates):
            net.plasticity(l, rho_in, e)
        f = [1.0, 0.2, 0.1][l]
        torch.testing.assert_close(net.W[l] - W0, 16.0 * f * rho_in.t() @ e / 5, rtol=1e-9, atol=1e-12)
        torch.testing.assert_close(net.b[l] - b0, 16.0 * f * e.mean(0), rtol=1e-9, atol=1e-12)


def test_t9_target_low_pass():
    dt, tau_s = 0.05, 2.0
    net = make_net(dt=dt, tau_s=tau_s, target_lpf=True, forward_filter=True)
    x, y = batch(3, seed=9)
    for k in range(1, 41):
        net.step(x, y, train=True)
        torch.testing.assert_close(net.ybar, y * (1 - (1 - dt / (3 * tau_s)) ** k), rtol=1e-10, atol=1e-12)
    frozen = net.ybar.clone()
    net.step(x, torch.zeros_like(y), train=False)
    assert torch.equal(frozen, net.ybar)


@pytest.mark.parametrize("dt,tau_s", [(0.01, 0.1), (0.05, 2.0)])
def test_t9_filtered_noise_std(dt, tau_s):
    sigma, a = 0.2, dt / tau_s
    net = make_net(dtype=torch.float32, dt=dt, tau_s=tau_s, noise_width=sigma, forward_filter=True, noise_seed=3,
                   hidden_sizes=[20, 10])  # small hidden layers: only the output filter is measured
    net.W[2].zero_()  # constant drive b_3 to the output layer
    x, y = batch(512, seed=10, dtype=torch.float32)
    samples = []
    for k in range(int(12 / a) + 400):
        net.step(x, y, train=False)
        if k >= int(10 / a) and k % 20 == 0:
            samples.append(net.rbar[2] - net.b[2])
    std = torch.stack(samples).std().item()
    expect = sigma * (a / (2 - a)) ** 0.5
    assert abs(std / expect - 1) < 0.05, (std, expect)


def test_t9_flags_do_nothing_without_tau_s():
    x, y = batch(4, seed=11)
    outs = []
    for flags in (False, True):
        net = make_net(tau_s=0.0, forward_filter=flags, backward_filter=flags, target_lpf=flags)
        outs.append(torch.cat([net.present(x, y, 20, train=True).flatten()] + [w.flatten() for w in net.W]))
    assert torch.equal(outs[0], outs[1])


def test_t9_backward_filter_low_passes_errors():
    dt, tau_s = 0.05, 0.5
    net = make_net(dt=dt, tau_s=tau_s, backward_filter=True)
    net.eta_dt = [0.0] * 3
    x, y = batch(3, seed=12)
    net.step(x, y, train=True)
    gbar_prev = net.gbar[2].clone()
    phi_prime2, u3, tau_m3 = net.phi_prime[1].clone(), net.u[2].clone(), net.tau_m[2]
    net.step(x, y, train=True)
    g3 = phi_prime2 * ((u3 + tau_m3 * net.d[2] - net.I[2]) @ net.W[2].t())
    torch.testing.assert_close(net.gbar[2], gbar_prev + dt / tau_s * (g3 - gbar_prev), rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(net.e[1], net.gbar[2])
    assert net.gbar[2].abs().max() > 0  # the filter received a non-zero error


def test_t10_tau_learning_pulls_tau_m_toward_tau():
    net = make_net(tau=20.0, tau_m=20.0)
    with torch.no_grad():
        net.tau_m[0].copy_(torch.linspace(10.0, 30.0, 300, dtype=torch.float64))
        net.tau_m[1].copy_(torch.linspace(10.0, 30.0, 100, dtype=torch.float64))
        net.tau_m[1][50] = 20.0
    x1, y = batch(4, seed=13)
    x2, _ = batch(4, seed=14)
    net.present(x1, y, 5, train=False)
    net.tau_learning = [True] * 3
    tau_m_old = [t.clone() for t in net.tau_m]
    net.step(x2, y, train=False)
    for l in range(2):
        expect = 160.0 * ((net.tau[l] - tau_m_old[l]) * net.d[l] ** 2).mean(0)
        torch.testing.assert_close(net.tau_m[l] - tau_m_old[l], expect, rtol=1e-8, atol=1e-12)
    moved = net.tau_m[1] - tau_m_old[1]
    below, above = tau_m_old[1] < 20.0, tau_m_old[1] > 20.0
    assert (moved[below] >= 0).all() and (moved[above] <= 0).all() and (moved[below | above].abs() > 0).any()
    assert moved[50] == 0.0


def test_t11_feedback_alignment():
    net = make_net(feedback_alignment=True)
    B0, W0 = [b.clone() for b in net.B], [w.clone() for w in net.W]
    x, y = batch(4, seed=15)
    net.present(x, y, 20, train=True)
    assert all(torch.equal(a, b) for a, b in zip(B0, net.B))
    assert all(not torch.equal(a, b) for a, b in zip(W0, net.W))
    fa, bp = make_net(feedback_alignment=True), make_net(feedback_alignment=False)
    for l in range(3):
        fa.B[l].copy_(fa.W[l])
    for n in (fa, bp):  # same arbitrary non-zero starting errors so the first step sends errors down
        n.step(x, y, train=False)
        torch.manual_seed(0)
        for l in range(3):
            n.e[l].copy_(torch.randn(n.e[l].shape, dtype=torch.float64))
            n.phi_prime[l].fill_(1.0)
    fa.step(x, y, train=True)
    bp.step(x, y, train=True)
    assert all(torch.equal(a, b) for a, b in zip(fa.e, bp.e))
    assert fa.e[1].abs().max() > 0


@pytest.mark.slow
def test_t10_adaptation_schedule_shrinks_the_mismatch():
    """Layer by layer on 'validation' batches; the output layer, with little input variation, moves least."""
    from fig2b_fig4ac_mnist.src.data import Split
    from fig2b_fig4ac_mnist.src.network import LENetwork
    from fig2b_fig4ac_mnist.src.schedule import adapt_tau
    from tests.fig2b_fig4ac_mnist.helpers import make_cfg

    cfg = make_cfg(tau_width=0.2, prosp_rate_errors=True, adapt_tau=True, batch_size=8, train_samples=8,
                   val_samples=8, test_samples=8, hidden_sizes=[20, 10], tau_adapt_tol=1e-3)
    net = LENetwork(cfg, dtype=torch.float64)
    x, y = batch(32, seed=16)  # 4 batches: input switches keep d != 0 in every layer
    before = [(m - t).abs().mean().item() for m, t in zip(net.tau_m, net.tau)]
    W0 = [w.clone() for w in net.W]
    [passes] = adapt_tau(net, Split(x, y), [cfg])
    after = [(m - t).abs().mean().item() for m, t in zip(net.tau_m, net.tau)]
    assert all(p >= 2 for p in passes) and not net.tau_learning.any()
    assert after[0] < 0.01 * before[0] and after[1] < 0.05 * before[1] and after[2] < 0.9 * before[2], (before, after)
    assert all(torch.equal(a, b) for a, b in zip(W0, net.W))  # eval mode: no weight change
