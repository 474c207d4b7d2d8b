"""The backprop baseline: SGD on 1/2 ||y - f||^2 (batch mean) with per-layer rates, checked against autograd."""
import torch

from fig2b_fig4ac_mnist.src.bp_baseline import MLP
from tests.fig2b_fig4ac_mnist.helpers import batch, make_net


def test_sgd_step_matches_autograd():
    net = make_net()
    x, y = batch(6, seed=21)
    lr = [1.6, 0.32, 0.16]
    mlp = MLP(net.W, net.b, lr)
    W = [w.clone().requires_grad_() for w in net.W]
    b = [v.clone().requires_grad_() for v in net.b]
    h = x
    for l in range(3):
        h = h @ W[l] + b[l]
        h = h if l == 2 else h.clamp(0, 1)
    (0.5 * ((y - h) ** 2).sum() / 6).backward()
    mlp.sgd_step(x, y)
    for l in range(3):
        torch.testing.assert_close(mlp.W[l], net.W[l] - lr[l] * W[l].grad, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(mlp.b[l], net.b[l] - lr[l] * b[l].grad, rtol=1e-10, atol=1e-12)


def test_resume_puts_checkpoint_weights_on_the_runs_device(tmp_path):
    """A checkpoint loads on the CPU whatever device wrote it; the resumed MLP holds its weights on the
    run's device and dtype ('meta' stands in for a GPU here), then steps there."""
    from common.checkpoint import load_checkpoint, save_checkpoint
    from fig2b_fig4ac_mnist.src.bp_baseline import on_device

    net = make_net()
    save_checkpoint(tmp_path / "ck.pt", {"W": [w.float() for w in net.W], "b": [v.float() for v in net.b]})
    state = load_checkpoint(tmp_path / "ck.pt")
    assert all(w.device.type == "cpu" for w in state["W"])
    W, b = on_device(state["W"], "meta", torch.float64), on_device(state["b"], "meta", torch.float64)
    assert all(t.device.type == "meta" and t.dtype == torch.float64 for t in W + b)
    mlp = MLP(W, b, [1.0, 1.0, 1.0])
    x, y = (t.to("meta") for t in batch(6, seed=21))
    mlp.sgd_step(x, y)  # every operand on one device: no CPU tensor left in the step
    assert all(w.device.type == "meta" for w in mlp.W)
