"""docs/model/fig2b_fig4ac_mnist.md §8 T13: Fourier synthesis task and its network (nudging sign fixed by default, F2)."""
from dataclasses import replace

import numpy as np
import pytest

from fig2b_fig4ac_mnist.src.fourier import FourierNet, FourierParams, inputs_and_target, n_steps, run


def test_task_timing_and_inputs():
    p = FourierParams()
    assert n_steps(p) == 119_999
    t, x, y = inputs_and_target(p, steps=30_001, dtype=np.float64)
    assert y[0] == -1.0 and y[10_000] == -1.0 and y[20_000] == -1.0
    np.testing.assert_allclose(y[:10_000], y[10_000:20_000], atol=1e-9)
    assert np.all(np.diff(y[1:10_000]) > 0)  # rising ramp within a period
    n, k = np.arange(30_001), np.arange(1, 51)
    np.testing.assert_allclose(x, np.sin(2 * np.pi * 10 * k[None, :] * n[:, None] * 5e-6), atol=1e-9)


def test_without_nudging_weights_stay_and_output_is_the_feedforward_map():
    p = replace(FourierParams(), beta=0.0)
    _, x, y = inputs_and_target(p, steps=300, dtype=np.float64)
    net = FourierNet(p, np.float64)
    W0 = [w.copy() for w in net.W] + [b.copy() for b in net.b]
    prev_hat0, outs, hats = net.u_hat[0].copy(), [], []
    for n in range(300):
        out, _ = net.step(x[n], y[n], 0.0)
        np.testing.assert_allclose(net.u_hat[1], np.tanh(prev_hat0) @ net.W[1] + net.b[1], rtol=1e-12, atol=1e-14)
        prev_hat0 = net.u_hat[0].copy()
        outs.append(out[0])
        hats.append(net.u_hat[1][0])
    assert all(np.array_equal(a, b) for a, b in zip(W0, net.W + net.b))
    assert outs[0] == 0.0 and np.array_equal(outs[1:], hats[:-1])  # recorded output lags one step


@pytest.mark.parametrize("authors_sign", [False, True])
def test_nudging_sign(authors_sign):
    """W frozen, hidden activity fixed: the output settles at (I + beta y)/(1 + beta) (fixed sign) or
    (I - beta y)/(1 - beta) (the authors' sign, docs/model/fig2b_fig4ac_mnist.md F2)."""
    p = replace(FourierParams(), authors_sign=authors_sign)
    net = FourierNet(p, np.float64)
    beta, y = 0.1, 0.7
    x = np.zeros(p.n_freq)
    for _ in range(50):  # constant input: u_hat_0 = I_0 at once
        net.step(x, y, 0.0, learn=False)
    I1 = float((np.tanh(net.u_hat[0]) @ net.W[1] + net.b[1])[0])
    hidden = net.u_hat[0].copy()
    for _ in range(200):
        net.u_hat[0] = hidden.copy()  # hold the hidden activity fixed
        net.step(x, y, beta, learn=False)
    expect = (I1 - beta * y) / (1 - beta) if authors_sign else (I1 + beta * y) / (1 + beta)
    assert abs(net.u_hat[1][0] - expect) < 1e-9


def test_learning_reduces_error_in_a_short_run():
    p = replace(FourierParams(), t_learn=20.0)
    hist, _ = run(p, steps=6000)
    first, last = np.abs(hist[:500, 1] - hist[:500, 2]).mean(), np.abs(hist[-500:, 1] - hist[-500:, 2]).mean()
    assert last < 0.6 * first


def test_entry_writes_a_run_folder(tmp_path):
    import json

    from fig2b_fig4ac_mnist.src import fourier_synthesis

    out = tmp_path / "f"
    assert fourier_synthesis.main(["--steps", "1500", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["final"]["steps"] == 1500
    for name in ("le.npy", "no_prospective.npy", "config.yaml", "fourier_synthesis.png"):
        assert (out / name).is_file()
    assert np.load(out / "le.npy").shape == (1500, 4)
