"""Fig. 1-style relaxation: a chain of single LE neurons driven by a smooth, then stepped input."""
from dataclasses import replace

import numpy as np
import torch

from fig2b_fig4ac_mnist.src.network import LENetwork


def chain_config(cfg, n_layers, tau, tau_m, dt):
    """A chain 1 -> 1 -> ... -> 1 of `n_layers` layers, nudging and noise off."""
    L = n_layers
    return replace(cfg, input_size=1, hidden_sizes=[1] * (L - 1), classes=1, dt=dt, tau=tau, tau_m=tau_m,
                   tau_width=0.0, noise_width=0.0, tau_s=0.0, prosp_rate_errors=False,
                   feedback_alignment=False, lr_factors=[0.0] * L, lr_factors_tau=[0.0] * L)


def input_signal(n_smooth, n_steps_each, levels, period_steps):
    """Smooth sinusoid in [0.2, 0.8] for n_smooth steps, then piecewise-constant levels."""
    k = np.arange(n_smooth)
    smooth = 0.5 + 0.3 * np.sin(2 * np.pi * k / period_steps)
    stepped = np.repeat(np.asarray(levels, dtype=float), n_steps_each)
    return np.concatenate([smooth, stepped])  # n_total


def simulate(cfg, x, gain=1.0, bias=0.0):
    """Rates r_l (n_total x L) of the chain and its instantaneous (relaxed) rates r*_l = phi(W r*_{l-1} + b)."""
    net = LENetwork(cfg, device="cpu", dtype=torch.float64)
    for l in range(net.L):
        net.W[l].fill_(gain)
        net.b[l].fill_(bias)
    rates = np.empty((len(x), net.L))
    inst = np.empty((len(x), net.L))
    y = torch.zeros(1, 1, dtype=torch.float64)
    for n, xn in enumerate(x):
        net.step(torch.full((1, 1), float(xn), dtype=torch.float64), y, train=False)
        rates[n] = [r.item() for r in net.r]
        v = xn
        for l in range(net.L):
            v = gain * v + bias
            v = v if l == net.L - 1 else min(max(v, 0.0), 1.0)
            inst[n, l] = v
    return rates, inst


def step_lag(out, target, switch, n_each, frac=0.05):
    """Steps after `switch` until |out - target| stays within frac of the jump for the rest of the level."""
    seg_out, seg_t = out[switch:switch + n_each], target[switch:switch + n_each]
    jump = abs(target[switch] - target[switch - 1])
    ok = np.abs(seg_out - seg_t) <= frac * jump
    bad = np.nonzero(~ok)[0]
    return int(bad[-1] + 1) if len(bad) else 0


def smooth_lag(out, target, max_shift):
    """Shift (steps) that best aligns out with target on the smooth part (least squares)."""
    errs = [np.mean((out[s:] - target[:len(target) - s]) ** 2) for s in range(max_shift)]
    return int(np.argmin(errs))
