"""Fully connected Latent Equilibrium network in continuous time (spec le_continuous_fc.md §1).

Layers l = 1 .. L (index 0 .. L-1 in code): hard-sigmoid hidden layers, linear output layer.
One call of `step` is one explicit Euler step in the Jacobi (pipelined) order of spec §1.4.
The layers are processed top-down inside a step so that every state can be updated in place while
each layer still reads the previous step's presynaptic rate and phi' (spec Q10); this is the same
computation as the spec's bottom-up sweep followed by the backward sweep.
"""
from __future__ import annotations

import numpy as np
import torch


class LENetwork:
    """B parallel copies of the LE network sharing W and b (spec §1.9).

    cfg: any object with the attributes of fig2b_fig4ac_mnist.src.config.Config (model part).
    """

    def __init__(self, cfg, device="cpu", dtype=torch.float32, noise_seed=None):
        self.device = torch.device(device)
        self.dtype = dtype
        self.sizes = [cfg.input_size, *cfg.hidden_sizes, cfg.classes]
        self.L = len(self.sizes) - 1
        self.dt = float(cfg.dt)
        self.beta = float(cfg.beta)
        self.n_updates = int(cfg.n_updates)
        self.tau_s = float(cfg.tau_s)
        self.noise_width = float(cfg.noise_width)
        self.prosp_rate_errors = bool(cfg.prosp_rate_errors)
        self.feedback_alignment = bool(cfg.feedback_alignment)
        self.target_type = cfg.target_type
        # tau_s == 0 switches every filter off, whatever the flags (spec §1.3, Q11)
        self.forward_filter = bool(cfg.forward_filter) and self.tau_s > 0
        self.backward_filter = bool(cfg.backward_filter) and self.tau_s > 0
        self.target_lpf = bool(cfg.target_lpf) and self.tau_s > 0
        lam_m = float(cfg.learning_rate) * float(cfg.lr_multiplier)
        # per-step factor eta_l * dt = lambda * m * f_l / n_updates (spec §1.6, Q6)
        self.eta_dt = [lam_m * f / self.n_updates for f in cfg.lr_factors]
        self.eta_tau = [lam_m * f for f in cfg.lr_factors_tau]  # no dt, no 1/n_updates (spec §1.7)
        self.tau_learning = [False] * self.L

        self._init_parameters(cfg)
        self.gen = torch.Generator(device=self.device)  # rate-noise stream
        self.gen.manual_seed(int(cfg.seed if noise_seed is None else noise_seed))
        self._init_states(1)
        self.batch = None  # B after the first call (spec §1.9)

    # ------------------------------------------------------------------ set-up
    def _init_parameters(self, cfg):
        g = torch.Generator()  # CPU, float32 draws in the order of spec §1.1
        g.manual_seed(int(cfg.seed))
        std = float(cfg.init_std)
        lo, hi = cfg.tau_clip
        self.W, self.b, self.B, self.tau, self.tau_m = [], [], [], [], []
        for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:]):
            W = torch.randn(n_in, n_out, generator=g) * std  # n_in x n_out
            b = torch.randn(n_out, generator=g) * std  # n_out
            B = torch.randn(n_in, n_out, generator=g) * std  # n_in x n_out, drawn even without FA
            if cfg.tau_width != 0:
                xi = 1.0 + cfg.tau_width * torch.randn(n_out, generator=g)  # n_out
                zeta = 1.0 + cfg.tau_width * torch.randn(n_out, generator=g)  # n_out
                tau = torch.clamp(cfg.tau * xi, lo, hi)
                tau_m = torch.clamp(cfg.tau_m * zeta, lo, hi)
            else:  # no clipping: tau = 0 stays 0 (spec §1.3)
                tau = torch.full((n_out,), float(cfg.tau))
                tau_m = torch.full((n_out,), float(cfg.tau_m))
            for lst, t in ((self.W, W), (self.b, b), (self.B, B), (self.tau, tau), (self.tau_m, tau_m)):
                lst.append(t.to(self.device, self.dtype).contiguous())

    def _zeros(self, B, n):
        return torch.zeros(B, n, device=self.device, dtype=self.dtype)

    def _init_states(self, B):
        outs = self.sizes[1:]
        ins = self.sizes[:-1]
        self.u = [self._zeros(B, n) for n in outs]  # B x n_l
        self.u_hat = [self._zeros(B, n) for n in outs]  # B x n_l
        self.d = [self._zeros(B, n) for n in outs]  # B x n_l
        self.I = [self._zeros(B, n) for n in outs]  # B x n_l
        self.e = [self._zeros(B, n) for n in outs]  # B x n_l, e_l^{n-1}
        self.r = [self._zeros(B, n) for n in outs]  # B x n_l
        self.phi = [self._zeros(B, n) for n in outs]  # B x n_l, phi'(u_hat) before noise
        self.rbar = [self._zeros(B, n) for n in outs]  # B x n_l, forward filter state
        self.gbar = [self._zeros(B, n) for n in ins]  # B x n_{l-1}, backward filter state
        self.ybar = self._zeros(B, outs[-1])  # B x n_L
        self._scratch(B)

    def _scratch(self, B):
        outs = self.sizes[1:]
        self._e_next = [torch.empty_like(e) for e in self.e]  # B x n_l, e_l^n being built
        self._diff = [self._zeros(B, n) for n in outs]  # B x n_l, (v - I)
        self._rho = [self._zeros(B, n) for n in outs]  # B x n_l, rate before filter
        self._noise = [self._zeros(B, n) for n in outs]  # B x n_l

    def _replicate(self, B):
        """First call: every 1-row state becomes B identical rows (spec §1.9)."""
        for name in ("u", "u_hat", "d", "I", "e", "r", "phi", "rbar", "gbar"):
            setattr(self, name, [t.expand(B, -1).clone() for t in getattr(self, name)])
        self.ybar = self.ybar.expand(B, -1).clone()
        self._scratch(B)
        self.batch = B

    # ------------------------------------------------------------------ dynamics
    @torch.no_grad()
    def step(self, x, y, train):
        """One Euler step with input rates x (B x n_0) and one-hot target y (B x n_L)."""
        B = x.shape[0]
        if self.batch is None:
            self._replicate(B)
        elif B != self.batch:
            raise ValueError(f"batch size {B} differs from the network's {self.batch}")
        L = self.L
        a = self.dt / self.tau_s if self.tau_s > 0 else 0.0

        # 1. target state (frozen in eval)
        if train:
            if self.target_lpf:
                self.ybar.lerp_(y, self.dt / (L * self.tau_s))  # B x n_L, time constant L*tau_s (spec Q11)
            else:
                self.ybar.copy_(y)
        # 3. output error from previous-step quantities, phi'_L = 1
        eps = self._e_next[L - 1]  # B x n_L
        if train:
            src = self.r[L - 1] if self.target_type == "rate" else self.u_hat[L - 1]
            torch.sub(self.ybar, src, out=eps).mul_(self.beta)
        else:
            eps.zero_()

        # 4./6. layers top-down; layer l reads r_{l-1}^{n-1}, phi'_{l-1}^{n-1} before layer l-1 overwrites them
        for l in range(L - 1, -1, -1):
            rho_in = x if l == 0 else self.r[l - 1]  # B x n_{l-1}, previous step's rate
            W, u, d, I, u_hat = self.W[l], self.u[l], self.d[l], self.I[l], self.u_hat[l]
            torch.addmm(self.b[l], rho_in, W, out=I)  # B x n_l, a. I = rho_in W + b
            torch.sub(I, u, out=d).add_(self.e[l]).div_(self.tau_m[l])  # B x n_l, b. d = (I - u + e)/tau_m
            torch.addcmul(u, self.tau[l], d, out=u_hat)  # B x n_l, c. u_hat = u + tau d
            if l > 0:
                diff = self._diff[l]  # B x n_l, v - I
                if self.prosp_rate_errors:
                    torch.sub(u_hat, I, out=diff)
                else:  # d. u_hat^m = u + tau_m d
                    torch.addcmul(u, self.tau_m[l], d, out=diff).sub_(I)
            u.add_(d, alpha=self.dt)  # B x n_l, e. explicit Euler
            # f.-h. rate, phi', noise, forward filter
            rho = self._rho[l] if (self.forward_filter or l == L - 1) else self.r[l]  # B x n_l
            if l == L - 1:
                rho.copy_(u_hat)  # linear output, phi' = 1
            else:
                torch.clamp(u_hat, 0.0, 1.0, out=rho)
                torch.eq(u_hat, rho, out=self.phi[l])  # phi' = 1 on [0, 1], both ends included
            if self.noise_width != 0.0:  # no sqrt(dt) scaling, also in eval (spec Q12)
                noise = self._noise[l]
                torch.randn(noise.shape, generator=self.gen, out=noise)
                rho.add_(noise, alpha=self.noise_width)
            if self.forward_filter:
                self.rbar[l].lerp_(rho, a)
                self.r[l].copy_(self.rbar[l])
            elif l == L - 1:
                self.r[l].copy_(rho)
            # i.-j. error sent down to layer l-1; skipped for l = 1 where phi'_in = 0 (spec Q17)
            if l > 0:
                M = self.B[l] if self.feedback_alignment else W  # n_{l-1} x n_l
                g = self._e_next[l - 1]  # B x n_{l-1}
                torch.mm(self._diff[l], M.t(), out=g).mul_(self.phi[l - 1])
                if self.backward_filter:
                    self.gbar[l].lerp_(g, a)
                    g.copy_(self.gbar[l])
            # 6. plasticity with (rho_in of this step, e_l^n): one GEMM, rho_in^T e / B
            if train:
                self.plasticity(l, rho_in, self._e_next[l])
            if self.tau_learning[l]:  # spec §1.7: only tau_m moves, pulled toward tau
                if l == 0 or not self.prosp_rate_errors:
                    torch.sub(u_hat, I, out=self._diff[l])
                self.tau_m[l].add_((self._diff[l] * d).mean(0), alpha=self.eta_tau[l])  # n_l
        self.e, self._e_next = self._e_next, self.e

    @torch.no_grad()
    def plasticity(self, l, rho_in, e):
        """W_l += eta_l dt rho_in^T e / B and b_l += eta_l dt mean_b(e): one GEMM (spec §1.6)."""
        c = self.eta_dt[l] / rho_in.shape[0]
        self.W[l].addmm_(rho_in.t(), e, alpha=c)  # n_{l-1} x n_l
        self.b[l].add_(e.sum(0), alpha=c)  # n_l

    @torch.no_grad()
    def present(self, x, y, n_updates, train):
        """n_updates steps with the same (x, y); returns the output rates after the last step (B x n_L)."""
        for _ in range(n_updates):
            self.step(x, y, train)
        return self.r[-1].clone()

    # ------------------------------------------------------------------ persistence
    def parameter_names(self):
        return [f"{k}{l + 1}" for l in range(self.L) for k in ("W", "b", "B")]

    def save_weights(self, path):
        arrays = {}
        for l in range(self.L):
            arrays[f"W{l + 1}"] = self.W[l].cpu().numpy()
            arrays[f"b{l + 1}"] = self.b[l].cpu().numpy()
            arrays[f"B{l + 1}"] = self.B[l].cpu().numpy()
        np.savez(path, **arrays)

    def load_weights(self, path):
        with np.load(path) as f:
            for l in range(self.L):
                for lst, k in ((self.W, "W"), (self.b, "b"), (self.B, "B")):
                    src = torch.as_tensor(f[f"{k}{l + 1}"])
                    if src.shape != lst[l].shape:
                        raise ValueError(f"{k}{l + 1}: shape {tuple(src.shape)} != {tuple(lst[l].shape)}")
                    lst[l].copy_(src)

    def state_dict(self):
        """Everything a resumed run needs: parameters, time constants, neuron states, noise RNG (copies)."""
        def cp(ts):
            return [t.detach().cpu().clone() for t in ts]
        return {
            "W": cp(self.W), "b": cp(self.b), "B": cp(self.B), "tau": cp(self.tau), "tau_m": cp(self.tau_m),
            "states": {k: cp(getattr(self, k)) for k in ("u", "u_hat", "d", "I", "e", "r", "phi", "rbar", "gbar")},
            "ybar": self.ybar.detach().cpu().clone(), "batch": self.batch, "tau_learning": list(self.tau_learning),
            "gen": self.gen.get_state(),
        }

    def load_state_dict(self, sd):
        to = dict(device=self.device, dtype=self.dtype)
        for k in ("W", "b", "B", "tau", "tau_m"):
            setattr(self, k, [t.to(**to).clone().contiguous() for t in sd[k]])
        for k, ts in sd["states"].items():
            setattr(self, k, [t.to(**to).clone().contiguous() for t in ts])
        self.ybar = sd["ybar"].to(**to).clone()
        self.batch = sd["batch"]
        self.tau_learning = list(sd["tau_learning"])
        self.gen.set_state(sd["gen"])
        self._scratch(self.ybar.shape[0])
