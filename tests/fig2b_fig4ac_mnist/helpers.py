"""Shared helpers of the fig2b_fig4ac_mnist tests."""
import numpy as np
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


class Single:
    """One network (an ensemble of K = 1) seen without the network axis: W[l] is n_{l-1} x n_l,
    states are B x n_l, eta_dt a list of floats. Views share storage, so in-place edits reach the model."""

    def __init__(self, net):
        object.__setattr__(self, "net", net)

    def __getattr__(self, name):
        value = getattr(self.net, name)
        if name == "tau_learning":
            return [bool(v) for v in value[0]]
        if name in ("eta_dt", "eta_tau"):
            return [float(t[0]) for t in value]
        if name in ("b", "tau", "tau_m"):
            return [t[0, 0] for t in value]
        if isinstance(value, list) and value and isinstance(value[0], torch.Tensor):
            return [t[0] for t in value]
        if isinstance(value, torch.Tensor):
            return value[0]
        return value

    def __setattr__(self, name, value):
        if name in ("eta_dt", "eta_tau"):
            for t, v in zip(getattr(self.net, name), value):
                t.fill_(v)
        elif name == "tau_learning":
            self.net.tau_learning[0] = torch.tensor(value)
        else:
            raise AttributeError(f"Single does not set {name}")

    def step(self, x, y, train):
        self.net.step(x, y, train)

    def present(self, x, y, n_updates, train):
        return self.net.present(x, y, n_updates, train)[0]

    def plasticity(self, l, rho_in, e):
        self.net.plasticity(l, rho_in[None], e[None])


def make_net(dtype=torch.float64, base="2b_le.yaml", noise_seed=None, **overrides):
    cfg = make_cfg(base, **overrides)
    seeds = None if noise_seed is None else [noise_seed]
    return Single(LENetwork(cfg, device="cpu", dtype=dtype, noise_seeds=seeds))


def save_weights(net, path):
    """W_l, b_l, B_l of a single network as an .npz file (keys W1, b1, B1, ...)."""
    arrays = {f"{k}{l + 1}": getattr(net, k)[l].cpu().numpy() for l in range(net.L) for k in ("W", "b", "B")}
    np.savez(path, **arrays)


def load_weights(net, path):
    with np.load(path) as f:
        for l in range(net.L):
            for k in ("W", "b", "B"):
                dst, src = getattr(net, k)[l], torch.as_tensor(f[f"{k}{l + 1}"])
                if src.shape != dst.shape:
                    raise ValueError(f"{k}{l + 1}: shape {tuple(src.shape)} != {tuple(dst.shape)}")
                dst.copy_(src)


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
