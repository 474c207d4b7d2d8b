"""The input layer's current within a presentation (model §1.4 a., §1.6): computed once in evaluation,
carried with the Gram matrix G = x x^T + 1 1^T in training (input_current: presentation)."""
import pytest
import torch

from fig2b_fig4ac_mnist.src.network import LENetwork
from tests.fig2b_fig4ac_mnist.helpers import batch, make_cfg

OPTIONS = {  # every fc option that touches a step: noise, filters, FA, jitter, errors from u_hat(tau)
    "2b": {},
    "noise_filters": {"noise_width": 0.2, "tau_s": 0.1, "forward_filter": True, "backward_filter": True,
                      "target_lpf": True, "tau_m": 10.0},
    "fa_jitter": {"feedback_alignment": True, "tau_width": 0.2, "prosp_rate_errors": True},
}


def _net(dtype, form, **over):
    return LENetwork(make_cfg(input_current=form, **over), device="cpu", dtype=dtype)


def _record(net):
    """Per step of the next presentation: I_1 used, e_1^n, u_1, and W_1, b_1 after the step."""
    rec = []
    step = net.step

    def recording_step(x, y, train):
        step(x, y, train)
        rec.append({"I": net.I[0].clone(), "e": net.e[0].clone(), "W": net.W[0].clone(), "b": net.b[0].clone(),
                    "u": net.u[0].clone()})
    net.step = recording_step
    return rec


def _bounds(net0, x, rec_a, rec_b, N):
    """Elementwise float rounding bounds on |stepwise - presentation| after one presentation of N steps.

    Notation: u = unit roundoff of the dtype (2^-24 in float32), gamma_m = m u / (1 - m u) (the standard
    bound on a sum of m products, |fl(sum) - sum| <= gamma_m sum |terms|), a = |x| (B x n_0),
    s^n = (eta_1 dt / B) e_1^n, |G| = a a^T + 1, and delta s^n the difference of the two runs' s^n (the
    real-arithmetic effect of their differing rounding on the error trajectory, taken from the records;
    it also carries any hard-sigmoid kink that rounding made one run cross and not the other).
    - stepwise W_1 takes N updates W += x^T s^n, each a product of B terms added to W:
        dW_step <= sum_n gamma_{B+1} (|W^n| + a^T |s^n|);
      the presentation form sums S = sum_n s^n (N roundings) and adds x^T S once:
        dW_pres <= gamma_N a^T sum_n |s^n| + gamma_{B+1} (|W^N| + a^T sum_n |s^n|);
      |W_step - W_pres| <= dW_step + dW_pres + a^T sum_n |delta s^n|; b_1 likewise with a -> 1.
    - I_1 at step n: stepwise is one product of n_0 + 1 terms with its own rounded W^{n-1};
      the presentation form is I^1 = fl(x W^0 + b^0) plus n - 1 updates fl(G s^m), each a product of
      B + 1 terms, with G itself rounded by gamma_{n_0}:
        |I_step^n - I_pres^n| <= gamma_{n_0+1} (a |W^{n-1}| + |b^{n-1}| + a |W^0| + |b^0|)
            + a dW_step^{n-1} + db_step^{n-1}
            + sum_{m<n} [gamma_{B+1} (|I^{m+1}| + |G| |s^m|) + gamma_{n_0} |G| |s^m| + |G| |delta s^m|].
    - u_1, r_1: with tau = tau_m, u_hat_1 = I_1 + e_1
      up to 5 roundings of |u| + |I| + |e| per evaluation, r_1 = clip(u_hat_1) is 1-Lipschitz, and
      u_1 is a running average (weight dt / tau_m < 1) of I_1 + e_1:
        |r_step - r_pres| <= max_n bound_I^n + |delta e_1| + 10 u (|u| + |I| + |e|),
        |u_step - u_pres| <= max_n (bound_I^n + |delta e_1|) + N 10 u max(|u| + |I| + |e|).
    Returns {name: (bound tensor)} for I (last step), W, b, r, u."""
    dtype = x.dtype
    u = torch.finfo(dtype).eps / 2

    def gamma(m):
        return m * u / (1 - m * u)

    B, n0 = x.shape
    a = x.abs()  # B x n_0
    G = a @ a.T + 1  # B x B
    eta = float(net0.eta_dt[0][0])
    s = [eta * r["e"][0] / B for r in rec_a]  # B x n_1 each, stepwise run
    ds = [(eta * (ra["e"][0] - rb["e"][0]) / B).abs() for ra, rb in zip(rec_a, rec_b)]
    W0, b0 = net0.W[0][0].abs(), net0.b[0][0, 0].abs()  # n_0 x n_1, n_1
    dW = torch.zeros_like(W0)
    db = torch.zeros_like(b0)
    acc = torch.zeros(B, W0.shape[1], dtype=dtype)  # sum_{m<n} of the I-update terms
    bound_I = []
    for n in range(N):
        Wp = W0 if n == 0 else rec_a[n - 1]["W"][0].abs()
        bp = b0 if n == 0 else rec_a[n - 1]["b"][0, 0].abs()
        bound_I.append(gamma(n0 + 1) * (a @ Wp + bp + a @ W0 + b0) + a @ dW + db + acc)
        Wn, bn = rec_a[n]["W"][0].abs(), rec_a[n]["b"][0, 0].abs()
        dW = dW + gamma(B + 1) * (Wn + a.T @ s[n].abs())
        db = db + gamma(B + 1) * (bn + s[n].abs().sum(0))
        if n + 1 < N:
            acc = acc + gamma(B + 1) * (rec_b[n + 1]["I"][0].abs() + G @ s[n].abs()) \
                + gamma(n0) * (G @ s[n].abs()) + G @ ds[n]
    s_sum = sum(t.abs() for t in s)  # B x n_1
    ds_sum = sum(ds)
    W_N = rec_a[-1]["W"][0].abs()
    bound_W = dW + gamma(N) * (a.T @ s_sum) + gamma(B + 1) * (W_N + a.T @ s_sum) + a.T @ ds_sum
    bound_b = db + gamma(N) * s_sum.sum(0) + gamma(B + 1) * (rec_a[-1]["b"][0, 0].abs() + s_sum.sum(0)) + ds_sum.sum(0)
    de = max(float((ra["e"][0] - rb["e"][0]).abs().max()) for ra, rb in zip(rec_a, rec_b))
    scale = max(float((r["u"][0].abs() + r["I"][0].abs() + r["e"][0].abs()).max()) for r in rec_a)
    worst_I = max(float(t.max()) for t in bound_I)
    return {"I": bound_I[-1], "W": bound_W, "b": bound_b,
            "r": worst_I + de + 10 * u * scale, "u": worst_I + de + N * 10 * u * scale}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_one_presentation_agrees_with_the_stepwise_form_within_the_rounding_bound(dtype):
    """Over one training presentation (N = n_updates = 100 steps, B = 32, the 2b network) the two forms
    agree in I_1, u_1, r_1, W_1 and b_1 within the rounding bound derived in `_bounds`. Its rounding
    terms are deterministic worst cases; the error trajectories' own difference (rounding fed back
    through the dynamics, here including one hard-sigmoid kink crossed in float32: |delta e_1| 1.4e-4)
    enters from the records. Measured (largest elementwise ratio to the bound): float32 |dI| 3.9e-5
    (0.008), |dW| 3.0e-7 (0.11), |db| 1.4e-7 (0.012), |dr| 3.1e-5 and |du| 4.3e-7 against 5.6e-3 and
    5.8e-3; float64 |dI| 1.1e-14 (0.001), |dW| 1.3e-15 (0.10), so a term missing from the algebra (such
    as the bias part 1 1^T of G, ~1e-2 over a presentation) fails at once."""
    N, B = 100, 32
    x, y = batch(B, dtype=dtype)
    nets = {f: _net(dtype, f) for f in ("stepwise", "presentation")}
    recs = {f: _record(n) for f, n in nets.items()}
    start = _net(dtype, "stepwise")  # the common initial parameters
    for n in nets.values():
        n.present(x, y, N, train=True)
    a, b = nets["stepwise"], nets["presentation"]
    ra, rb = recs["stepwise"], recs["presentation"]
    bound = _bounds(start, x, ra, rb, N)
    assert torch.all((ra[-1]["I"][0] - rb[-1]["I"][0]).abs() <= bound["I"])
    assert torch.all((a.W[0] - b.W[0]).abs()[0] <= bound["W"])
    assert torch.all((a.b[0] - b.b[0]).abs()[0, 0] <= bound["b"])
    assert float((a.r[0] - b.r[0]).abs().max()) <= bound["r"]
    assert float((a.u[0] - b.u[0]).abs().max()) <= bound["u"]
    assert not torch.equal(a.W[0], start.W[0])  # learning happened


@pytest.mark.parametrize("options", OPTIONS.values(), ids=OPTIONS.keys())
def test_the_forms_are_the_same_in_real_arithmetic_with_every_option(options):
    """float64, three presentations of different batches: the forms agree to 1e-10 (rounding only)
    with noise (the same stream in both), filters, feedback alignment, tau jitter and u_hat(tau) errors."""
    nets = [_net(torch.float64, f, **options) for f in ("stepwise", "presentation")]
    for seed in range(3):
        x, y = batch(16, seed=seed)
        outs = [n.present(x, y, 30, train=True) for n in nets]
        assert torch.allclose(outs[0], outs[1], rtol=0, atol=1e-10)
    for name in ("W", "b", "I", "u", "r", "e"):
        for t0, t1 in zip(getattr(nets[0], name), getattr(nets[1], name)):
            assert torch.allclose(t0, t1, rtol=0, atol=1e-10), name


def test_partial_batch_presentation_matches_the_stepwise_form():
    """The first n of B copies (a partial batch) use the first n rows of G and S."""
    nets = [_net(torch.float64, f) for f in ("stepwise", "presentation")]
    x, y = batch(16)
    for n in nets:
        n.present(x, y, 5, train=True)
        with n.first_copies(10):
            n.present(x[:10], y[:10], 20, train=True)
    for name in ("W", "b", "I", "u", "r"):
        for t0, t1 in zip(getattr(nets[0], name), getattr(nets[1], name)):
            assert torch.allclose(t0, t1, rtol=0, atol=1e-10), name


def test_ensemble_in_the_presentation_form_is_bitwise_its_single_runs():
    """K = 3 networks of different seeds and options, stepped together, equal each one run alone."""
    over = [{"seed": 1}, {"seed": 2, "noise_width": 0.2, "tau_m": 10.0}, {"seed": 3, "feedback_alignment": True}]
    cfgs = [make_cfg(input_current="presentation", **o) for o in over]
    ens = LENetwork(cfgs, device="cpu", dtype=torch.float32)
    singles = [LENetwork(c, device="cpu", dtype=torch.float32) for c in cfgs]
    for seed, train in ((0, True), (1, True), (2, False)):
        x, y = batch(16, seed=seed, dtype=torch.float32)
        out = ens.present(x, y, 10, train)
        for k, net in enumerate(singles):
            assert torch.equal(out[k], net.present(x, y, 10, train)[0])
    for k, net in enumerate(singles):
        for name in ("W", "b", "I", "u", "r", "e"):
            for te, ts in zip(getattr(ens, name), getattr(net, name)):
                assert torch.equal(te[k], ts[0]), name


@pytest.mark.parametrize("options", OPTIONS.values(), ids=OPTIONS.keys())
def test_evaluation_with_the_cached_input_current_is_bitwise_the_per_step_one(options):
    """`present` in evaluation computes I_1 once; n_updates `step` calls recompute it every step:
    the outputs and every state are bitwise equal (also with tau_m learning on)."""
    cached, per_step = (_net(torch.float32, "stepwise", **options) for _ in range(2))  # training: the same
    x, y = batch(16, dtype=torch.float32)
    cached.present(x, y, 5, train=True)
    for _ in range(5):
        per_step.step(x, y, train=True)
    for net in (cached, per_step):
        net.tau_learning[0, 0] = True
    for seed in range(2):
        x, y = batch(16, seed=seed + 1, dtype=torch.float32)
        out = cached.present(x, y, 10, train=False)
        for _ in range(10):
            per_step.step(x, y, train=False)
        assert torch.equal(out, per_step.r[-1])
    for name in ("I", "u", "u_hat", "r", "e", "tau_m"):
        for t0, t1 in zip(getattr(cached, name), getattr(per_step, name)):
            assert torch.equal(t0, t1), name


def test_tau_learning_flags_reach_the_step_when_they_change():
    """The device copy of the tau_m learning rates follows the host flags (set, cleared) without a copy
    in every step."""
    net = _net(torch.float64, "stepwise", tau_width=0.2)
    x, y = batch(8)
    before = [t.clone() for t in net.tau_m]
    net.present(x, y, 3, train=False)
    assert all(torch.equal(a, b) for a, b in zip(before, net.tau_m))
    net.tau_learning[0, 1] = True
    net.present(x, y, 3, train=False)
    assert torch.equal(before[0], net.tau_m[0]) and not torch.equal(before[1], net.tau_m[1])
    net.tau_learning[0, 1] = False
    after = [t.clone() for t in net.tau_m]
    net.present(x, y, 3, train=False)
    assert all(torch.equal(a, b) for a, b in zip(after, net.tau_m))


def test_one_batch_for_all_networks_computes_G_once_with_the_same_numbers():
    """x given once (B x n_0, G computed for one network and seen by all) or per network (K x B x n_0,
    one G each): bitwise the same ensemble."""
    cfgs = [make_cfg(input_current="presentation", seed=s) for s in (1, 2)]
    shared, per_net = (LENetwork(cfgs, device="cpu", dtype=torch.float32) for _ in range(2))
    for seed in range(2):
        x, y = batch(16, seed=seed, dtype=torch.float32)
        out = shared.present(x, y, 10, True)
        assert torch.equal(out, per_net.present(x.expand(2, -1, -1).clone(), y.expand(2, -1, -1).clone(), 10, True))
    for a, b in zip(shared.W + shared.I, per_net.W + per_net.I):
        assert torch.equal(a, b)
