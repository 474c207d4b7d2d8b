"""Shared helpers of the fig2b_fig4ac_mnist tests."""
import torch
import yaml

from common.config import load_config_dict
from fig2b_fig4ac_mnist.src.config import Config
from fig2b_fig4ac_mnist.src.network import LENetwork
from fig2b_fig4ac_mnist.src.paths import CONFIGS


def make_cfg(base="2b_le.yaml", **overrides):
    data = yaml.safe_load((CONFIGS / base).read_text())
    data.update(overrides)
    return load_config_dict(Config, data)


def make_net(dtype=torch.float64, base="2b_le.yaml", noise_seed=None, **overrides):
    return LENetwork(make_cfg(base, **overrides), device="cpu", dtype=dtype, noise_seed=noise_seed)


def batch(B, classes=10, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(B, 784, generator=g, dtype=dtype) * (255 / 256)  # B x 784
    y = torch.nn.functional.one_hot(torch.randint(0, classes, (B,), generator=g), classes).to(dtype)  # B x classes
    return x, y


def mlp(net, x):
    """Hard-sigmoid MLP with the network's W, b: (output, pre-activations a_1..a_L, activations h_0..h_L)."""
    h, a = [x], []
    for l in range(net.L):
        a.append(h[-1] @ net.W[l] + net.b[l])
        h.append(a[-1] if l == net.L - 1 else a[-1].clamp(0, 1))
    return h[-1], a, h
