"""docs/model/fig2cde_higgs_mnist_cifar10.md §6 items 4-6: conv error = transposed convolution, conv updates = autograd / B, max-pool
routing = autograd including ties."""
import pytest
import torch
import torch.nn.functional as F

from fig2cde_higgs_mnist_cifar10.model.architectures import Clip01
from fig2cde_higgs_mnist_cifar10.model.le_layers import Conv2d, MaxPool2d


def _conv_with_error(bias_lr="mean", channels=3):
    torch.manual_seed(3)
    conv = Conv2d((channels, 10, 10), 4, 5, bias_lr=bias_lr)
    B = 5
    conv.ensure_batch(B)
    conv.eps.normal_()  # eps [B, 4, 6, 6]
    conv.eps_zero = False
    r_in = torch.rand(B, channels, 10, 10)
    rp_in = (torch.rand(B, channels, 10, 10) > 0.3).float()
    return conv, r_in, rp_in


# input channels: 3, and 20 (on the CPU computed from channels-last copies, Conv2d._cpu_layout)
@pytest.mark.parametrize("channels", [3, 20])
def test_conv_error_is_autograd_input_gradient(channels):
    """Item 4: delta = r'_in * d/dr_in sum(conv2d(r_in, W) * eps)."""
    conv, r_in, rp_in = _conv_with_error(channels=channels)
    eps = conv.eps.clone()
    conv.forward(r_in, rp_in)
    r = r_in.clone().requires_grad_(True)
    (F.conv2d(r, conv.W, conv.b) * eps).sum().backward()
    assert (conv.delta - rp_in * r.grad).abs().max() <= 1e-5


# channels 20: channels-last copies on the CPU; held one-channel input: the product with its patches
@pytest.mark.parametrize("bias_lr,positions,channels,held", [("mean", 36, 3, False), ("sum", 1, 3, False),
                                                             ("mean", 36, 20, False), ("mean", 36, 1, False),
                                                             ("mean", 36, 1, True), ("sum", 1, 1, True)])
def test_conv_updates_are_autograd_gradients_over_batch(bias_lr, positions, channels, held):
    """Item 5: dW = autograd weight grad / B; db = autograd bias grad / (B T^2) (mean, Q1) or / B."""
    conv, r_in, rp_in = _conv_with_error(bias_lr, channels)
    if held:  # training presentation of r_in
        conv.hold(r_in, train=True)
        assert conv.patches is not None and conv.held is None
    g = torch.randn_like(conv.eps)
    W = conv.W.clone().requires_grad_(True)
    b = conv.b.clone().requires_grad_(True)
    (F.conv2d(r_in, W, b) * g).sum().backward()
    B = r_in.shape[0]
    dW, db = conv.update_direction(g, r_in)
    assert (dW - W.grad / B).abs().max() <= 1e-5
    assert (db - b.grad / (B * positions)).abs().max() <= 1e-6
    conv.lr = 0.3
    W0, b0 = conv.W.clone(), conv.b.clone()
    conv.apply_update(g, r_in)
    assert (conv.W - W0 - 0.3 * W.grad / B).abs().max() <= 1e-5
    assert (conv.b - b0 - 0.3 * b.grad / (B * positions)).abs().max() <= 1e-6


def test_maxpool_routes_like_autograd_with_ties():
    """Item 6: pool(r) with r' gathered at the argmax, then unpool, equals autograd through
    clip then max_pool2d, exactly, also for windows with tied maxima and clip boundaries."""
    torch.manual_seed(0)
    u = torch.randint(-2, 5, (4, 3, 8, 8)).float() / 2  # many ties, values exactly 0 and 1
    r_in = u.clamp(0, 1)
    rp_in = ((u >= 0) & (u <= 1)).float()  # r' of clip, both ends inclusive
    pool = MaxPool2d((3, 8, 8), 2)
    pool.forward(r_in, rp_in)
    g = torch.randn(4, 3, 4, 4)
    routed = pool.backward(g * pool.rp, r_in, train=True)  # the stage above applies r'_out
    uu = u.clone().requires_grad_(True)
    out = F.max_pool2d(Clip01()(uu), 2)  # clip with the inclusive LE derivative
    (out * g).sum().backward()
    assert torch.equal(pool.r, out.detach())
    assert torch.equal(routed, uu.grad)
    rr = r_in.clone().requires_grad_(True)  # routing alone = max_pool2d backward
    (F.max_pool2d(rr, 2) * g).sum().backward()
    assert torch.equal(pool.backward(g, r_in, train=True), rr.grad)
