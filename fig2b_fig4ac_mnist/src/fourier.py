"""Fig. 2a: a 50-30-1 LE network learns a sawtooth from sinusoids (model §6).

Batch 1, so plain numpy (torch's per-op overhead would dominate 120k tiny steps).
Time in ms; frequencies in Hz.
"""
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FourierParams:
    dt: float = 0.005            # ms
    t_max: float = 600.0         # ms
    t_learn: float = 400.0       # ms; beta = 0 (no nudging, no learning signal) afterwards
    tau: float = 10.0            # ms, membrane
    tau_r: float = 10.0          # ms, prospective; 0 gives the same network without prospective rates
    beta: float = 0.1
    lr_per_dt: float = 0.25      # SGD rate per step = dt * lr_per_dt
    n_hidden: int = 30
    n_freq: int = 50
    f_step: float = 10.0         # Hz, inputs at f_step * (1 .. n_freq)
    f_target: float = 20.0       # Hz sawtooth
    authors_sign: bool = False   # True: membrane nudged away from the target (model F2)
    seed: int = 1234


def n_steps(p):
    """600 // 0.005 in floating point is 119,999 (model F1)."""
    return int(p.t_max // p.dt)


def inputs_and_target(p, steps=None, dtype=np.float32):
    """x: steps x n_freq, x_k = sin(2 pi f_k t); y: steps, 2 frac(f t) - 1 (from -1); t in s."""
    steps = n_steps(p) if steps is None else steps
    t = np.arange(steps, dtype=np.float64) * p.dt / 1000.0  # steps, s
    f = p.f_step * np.arange(1, p.n_freq + 1)  # n_freq
    x = np.sin(2 * np.pi * t[:, None] * f[None, :])  # steps x n_freq
    phase = np.arange(steps, dtype=np.int64) * (p.dt * p.f_target / 1000.0)
    y = 2.0 * (phase - np.floor(phase + 1e-9)) - 1.0  # steps; 1e-9 keeps exact period ends at -1
    return t.astype(dtype), x.astype(dtype), y.astype(dtype)


class FourierNet:
    """Hidden rate tanh(u_hat_0), linear output u_hat_1; row vectors, W_l is n_in x n_out."""

    def __init__(self, p, dtype=np.float32):
        self.p = p
        rng = np.random.default_rng(p.seed)
        b0, b1 = 1 / np.sqrt(p.n_freq), 1 / np.sqrt(p.n_hidden)  # torch Linear default bounds
        self.W = [rng.uniform(-b0, b0, (p.n_freq, p.n_hidden)).astype(dtype),  # n_freq x n_hidden
                  rng.uniform(-b1, b1, (p.n_hidden, 1)).astype(dtype)]  # n_hidden x 1
        self.b = [rng.uniform(-b0, b0, p.n_hidden).astype(dtype), rng.uniform(-b1, b1, 1).astype(dtype)]
        z = [np.zeros(p.n_hidden, dtype), np.zeros(1, dtype)]
        self.u = [a.copy() for a in z]
        self.u_hat = [a.copy() for a in z]
        self.E1 = z[0].copy()  # n_hidden, error sent down by the output layer (descent sign)
        self.lr = dtype(p.dt * p.lr_per_dt)
        self.sign = dtype(-1.0 if p.authors_sign else 1.0)

    def step(self, x, y, beta, learn=True):
        """One Euler step; returns (output u_hat_1 of the previous step, new u_1). x: n_freq, y: scalar."""
        p, W, b = self.p, self.W, self.b
        out_prev = self.u_hat[1].copy()  # recorded output lags one step (model F3)
        # hidden layer: error from the previous step's output layer
        e0 = self.E1  # n_hidden, descent direction
        I0 = x @ W[0] + b[0]  # n_hidden
        d0 = (I0 - self.u[0] + self.sign * e0) / p.tau
        u_hat0 = self.u[0] + p.tau_r * d0
        # output layer, fed by the previous step's hidden prospective voltage
        r = np.tanh(self.u_hat[0])  # n_hidden
        I1 = r @ W[1] + b[1]  # 1
        e1 = beta * (y - self.u_hat[1])  # 1, descent direction of beta/2 (y - u_hat_1)^2
        d1 = (I1 - self.u[1] + self.sign * e1) / p.tau
        u_hat1 = self.u[1] + p.tau_r * d1
        self.E1 = (1 - r * r) * (W[1] @ e1)  # n_hidden
        # commit states, then SGD (the same update for either nudging sign)
        self.u[0] = self.u[0] + p.dt * d0
        self.u[1] = self.u[1] + p.dt * d1
        self.u_hat = [u_hat0, u_hat1]
        if learn:
            W[0] += self.lr * np.outer(x, e0)
            b[0] += self.lr * e0
            W[1] += self.lr * np.outer(r, e1)
            b[1] += self.lr * e1
        return out_prev, self.u[1].copy()


def run(p, steps=None, dtype=np.float32, hook=None, every=1000):
    """history: steps x 4 = (t in s, target y^n, output u_hat_1^{n-1}, u_1 after the step).

    hook(n) is called every `every` steps (stop checks).
    """
    t, x, y = inputs_and_target(p, steps, dtype)
    net = FourierNet(p, dtype)
    hist = np.empty((len(t), 4), dtype)
    n_learn = int(round(p.t_learn / p.dt))
    for n in range(len(t)):
        beta = dtype(p.beta if n < n_learn else 0.0)
        out, u1 = net.step(x[n], y[n], beta)
        hist[n] = (t[n], y[n], out[0], u1[0])
        if hook is not None and n % every == 0:
            hook(n)
    return hist, net
