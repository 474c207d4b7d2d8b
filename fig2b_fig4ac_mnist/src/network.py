"""Fully connected Latent Equilibrium networks in continuous time (spec le_continuous_fc.md §1).

An ensemble of K independent networks of the same shapes is stepped together: every tensor carries a
leading network axis k, weights are K x n_{l-1} x n_l and states K x B x n_l, and the matrix products
are batched (bmm). A single network is the ensemble K = 1. Per network: the seed (W, b, B, tau jitter),
tau, tau_m, tau_width, beta, learning rates, noise width and noise stream, feedback alignment,
prosp_rate_errors, tau_s and the filter flags. Shared: sizes, dt, n_updates, target_type.

Layers l = 1 .. L (index 0 .. L-1 in code): hard-sigmoid hidden layers, linear output layer.
One call of `step` is one explicit Euler step in the Jacobi (pipelined) order of spec §1.4.
The layers are processed top-down inside a step so that every state can be updated in place while
each layer still reads the previous step's presynaptic rate and phi' (spec Q10); this is the same
computation as the spec's bottom-up sweep followed by the backward sweep.
"""
from __future__ import annotations

import contextlib

import torch

STATES = ("u", "u_hat", "d", "I", "e", "r", "phi_prime", "rbar", "gbar")
SHARED = ("input_size", "hidden_sizes", "classes", "dt", "n_updates", "target_type")


class LENetwork:
    """K independent LE networks, each with B parallel copies sharing its W and b (spec §1.9).

    cfgs: one config or a list of K configs (objects with the attributes of
    fig2b_fig4ac_mnist.src.config.Config) that agree on the SHARED keys.
    noise_seeds: seed of each network's rate-noise stream (default: its config seed).
    """

    def __init__(self, cfgs, device="cpu", dtype=torch.float32, noise_seeds=None):
        cfgs = list(cfgs) if isinstance(cfgs, (list, tuple)) else [cfgs]
        for key in SHARED:
            if any(getattr(c, key) != getattr(cfgs[0], key) for c in cfgs):
                raise ValueError(f"the networks of one ensemble must share '{key}'")
        cfg = cfgs[0]
        self.K = len(cfgs)
        self.device = torch.device(device)
        self.dtype = dtype
        self.sizes = [cfg.input_size, *cfg.hidden_sizes, cfg.classes]
        self.L = len(self.sizes) - 1
        self.dt = float(cfg.dt)
        self.n_updates = int(cfg.n_updates)
        self.target_type = cfg.target_type

        def per_net(values, dtype=self.dtype):  # K values -> K x 1 x 1
            return torch.tensor(values, dtype=dtype, device=self.device).reshape(self.K, 1, 1)

        # tau_s == 0 switches every filter off, whatever the flags (spec §1.3, Q11). A filter's weight is
        # dt / tau_s (L tau_s for the target, Q11) where it is on and 1 where it is off: lerp with weight 1
        # returns its end point exactly, so networks without a filter pass through unchanged.
        tau_s = [float(c.tau_s) for c in cfgs]
        forward = [bool(c.forward_filter) and t > 0 for c, t in zip(cfgs, tau_s)]
        backward = [bool(c.backward_filter) and t > 0 for c, t in zip(cfgs, tau_s)]
        target = [bool(c.target_lpf) and t > 0 for c, t in zip(cfgs, tau_s)]
        self.forward_filter, self.backward_filter, self.target_lpf = any(forward), any(backward), any(target)
        self.a_forward = per_net([self.dt / t if on else 1.0 for on, t in zip(forward, tau_s)])  # K x 1 x 1
        self.a_backward = per_net([self.dt / t if on else 1.0 for on, t in zip(backward, tau_s)])  # K x 1 x 1
        self.a_target = per_net([self.dt / (self.L * t) if on else 1.0 for on, t in zip(target, tau_s)])

        self.beta = per_net([float(c.beta) for c in cfgs])  # K x 1 x 1
        self.noise_widths = [float(c.noise_width) for c in cfgs]
        self.noise_width = per_net(self.noise_widths)  # K x 1 x 1
        self.prosp_rate_errors = per_net([bool(c.prosp_rate_errors) for c in cfgs], torch.bool)  # K x 1 x 1
        self.feedback_alignment = per_net([bool(c.feedback_alignment) for c in cfgs], torch.bool)  # K x 1 x 1
        lam_m = [float(c.learning_rate) * float(c.lr_multiplier) for c in cfgs]
        # per-step factor eta_l * dt = lambda * m * f_l / n_updates (spec §1.6, Q6), K x 1 x 1 per layer
        self.eta_dt = [per_net([lm * c.lr_factors[l] / self.n_updates for lm, c in zip(lam_m, cfgs)])
                       for l in range(self.L)]
        # no dt, no 1/n_updates (spec §1.7)
        self.eta_tau = [per_net([lm * c.lr_factors_tau[l] for lm, c in zip(lam_m, cfgs)]) for l in range(self.L)]
        self.tau_learning = torch.zeros(self.K, self.L, dtype=torch.bool)  # host-side flags, network x layer

        self._init_parameters(cfgs)
        seeds = [c.seed for c in cfgs] if noise_seeds is None else noise_seeds
        self.gens = []  # one rate-noise stream per network
        for s in seeds:
            g = torch.Generator(device=self.device)
            g.manual_seed(int(s))
            self.gens.append(g)
        self._init_states(1)
        self.batch = None  # B after the first call (spec §1.9)

    # ------------------------------------------------------------------ set-up
    def _init_parameters(self, cfgs):
        W, b, B, tau, tau_m = ([[] for _ in range(self.L)] for _ in range(5))
        for cfg in cfgs:
            g = torch.Generator()  # CPU, float32 draws in the order of spec §1.1
            g.manual_seed(int(cfg.seed))
            std = float(cfg.init_std)
            lo, hi = cfg.tau_clip
            for l, (n_in, n_out) in enumerate(zip(self.sizes[:-1], self.sizes[1:])):
                W[l].append(torch.randn(n_in, n_out, generator=g) * std)  # n_in x n_out
                b[l].append(torch.randn(n_out, generator=g) * std)  # n_out
                B[l].append(torch.randn(n_in, n_out, generator=g) * std)  # n_in x n_out, drawn even without FA
                if cfg.tau_width != 0:
                    xi = 1.0 + cfg.tau_width * torch.randn(n_out, generator=g)  # n_out
                    zeta = 1.0 + cfg.tau_width * torch.randn(n_out, generator=g)  # n_out
                    tau[l].append(torch.clamp(cfg.tau * xi, lo, hi))
                    tau_m[l].append(torch.clamp(cfg.tau_m * zeta, lo, hi))
                else:  # no clipping: tau = 0 stays 0 (spec §1.3)
                    tau[l].append(torch.full((n_out,), float(cfg.tau)))
                    tau_m[l].append(torch.full((n_out,), float(cfg.tau_m)))
        to = dict(device=self.device, dtype=self.dtype)
        self.W = [torch.stack(w).to(**to).contiguous() for w in W]  # K x n_{l-1} x n_l
        self.B = [torch.stack(m).to(**to).contiguous() for m in B]  # K x n_{l-1} x n_l
        self.b = [torch.stack(v)[:, None].to(**to).contiguous() for v in b]  # K x 1 x n_l
        self.tau = [torch.stack(t)[:, None].to(**to).contiguous() for t in tau]  # K x 1 x n_l
        self.tau_m = [torch.stack(t)[:, None].to(**to).contiguous() for t in tau_m]  # K x 1 x n_l

    def _zeros(self, B, n):
        return torch.zeros(self.K, B, n, device=self.device, dtype=self.dtype)

    def _init_states(self, B):
        outs, ins = self.sizes[1:], self.sizes[:-1]
        self.u = [self._zeros(B, n) for n in outs]  # K x B x n_l
        self.u_hat = [self._zeros(B, n) for n in outs]  # K x B x n_l
        self.d = [self._zeros(B, n) for n in outs]  # K x B x n_l
        self.I = [self._zeros(B, n) for n in outs]  # K x B x n_l
        self.e = [self._zeros(B, n) for n in outs]  # K x B x n_l, e_l^{n-1}
        self.r = [self._zeros(B, n) for n in outs]  # K x B x n_l
        self.phi_prime = [self._zeros(B, n) for n in outs]  # K x B x n_l, phi'(u_hat) before noise
        self.rbar = [self._zeros(B, n) for n in outs]  # K x B x n_l, forward filter state
        self.gbar = [self._zeros(B, n) for n in ins]  # K x B x n_{l-1}, backward filter state
        self.ybar = self._zeros(B, outs[-1])  # K x B x n_L
        self._scratch(B)

    def _scratch(self, B):
        outs = self.sizes[1:]
        self._e_next = [self._zeros(B, n) for n in outs]  # K x B x n_l, e_l^n being built
        self._diff = [self._zeros(B, n) for n in outs]  # K x B x n_l, (v - I)
        self._rho = [self._zeros(B, n) for n in outs]  # K x B x n_l, rate before filter
        self._noise = [self._zeros(B, n) for n in outs]  # K x B x n_l, zero for noiseless networks
        self._scaled = [self._zeros(B, n) for n in outs]  # K x B x n_l, eta dt e / B
        self._tau_err = [torch.empty_like(t) for t in self.tau]  # K x 1 x n_l, tau or tau_m of the error
        self._M = [torch.empty_like(w) for w in self.W]  # K x n_{l-1} x n_l, feedback matrix

    @contextlib.contextmanager
    def first_copies(self, n):
        """Inside the block only the first n of the B parallel copies run (a partial last batch)."""
        names = STATES + ("_e_next", "_diff", "_rho", "_noise", "_scaled")
        saved = {name: getattr(self, name) for name in names}
        saved_ybar = self.ybar
        for name, ts in saved.items():
            setattr(self, name, [t[:, :n] for t in ts])
        self.ybar = saved_ybar[:, :n]
        try:
            yield
        finally:
            for name, ts in saved.items():
                setattr(self, name, ts)
            self.ybar = saved_ybar

    def _replicate(self, B):
        """First call: every 1-row state becomes B identical rows (spec §1.9)."""
        for name in STATES:
            setattr(self, name, [t.expand(-1, B, -1).clone() for t in getattr(self, name)])
        self.ybar = self.ybar.expand(-1, B, -1).clone()
        self._scratch(B)
        self.batch = B

    def _per_network(self, t):
        """B x n (shared by all networks) or K x B x n -> K x B x n."""
        return t.expand(self.K, -1, -1) if t.dim() == 2 else t

    # ------------------------------------------------------------------ dynamics
    @torch.no_grad()
    def step(self, x, y, train):
        """One Euler step with input rates x and one-hot targets y (B x n or K x B x n)."""
        x, y = self._per_network(x), self._per_network(y)  # K x B x n_0, K x B x n_L
        B = x.shape[1]
        if self.batch is None:
            self._replicate(B)
        elif B != self.u[0].shape[1]:
            raise ValueError(f"batch size {B} differs from the network's {self.u[0].shape[1]}")
        L = self.L

        # 1. target state (frozen in eval)
        if train:
            if self.target_lpf:
                self.ybar.lerp_(y, self.a_target)  # K x B x n_L, time constant L*tau_s (spec Q11)
            else:
                self.ybar.copy_(y)
        # 3. output error from previous-step quantities, phi'_L = 1
        eps = self._e_next[L - 1]  # K x B x n_L
        if train:
            src = self.r[L - 1] if self.target_type == "rate" else self.u_hat[L - 1]
            torch.sub(self.ybar, src, out=eps).mul_(self.beta)
        else:
            eps.zero_()

        # 4./6. layers top-down; layer l reads r_{l-1}^{n-1}, phi'_{l-1}^{n-1} before layer l-1 overwrites them
        for l in range(L - 1, -1, -1):
            rho_in = x if l == 0 else self.r[l - 1]  # K x B x n_{l-1}, previous step's rate
            W, u, d, I, u_hat = self.W[l], self.u[l], self.d[l], self.I[l], self.u_hat[l]
            torch.baddbmm(self.b[l], rho_in, W, out=I)  # K x B x n_l, a. I = rho_in W + b
            torch.sub(I, u, out=d).add_(self.e[l]).div_(self.tau_m[l])  # K x B x n_l, b. d = (I - u + e)/tau_m
            torch.addcmul(u, self.tau[l], d, out=u_hat)  # K x B x n_l, c. u_hat = u + tau d
            if l > 0:  # v - I with v = u_hat (prosp_rate_errors) or d. u_hat^m = u + tau_m d
                torch.where(self.prosp_rate_errors, self.tau[l], self.tau_m[l], out=self._tau_err[l])
                torch.addcmul(u, self._tau_err[l], d, out=self._diff[l]).sub_(I)  # K x B x n_l
            u.add_(d, alpha=self.dt)  # K x B x n_l, e. explicit Euler
            # f.-h. rate, phi', noise, forward filter
            rho = self._rho[l] if (self.forward_filter or l == L - 1) else self.r[l]  # K x B x n_l
            if l == L - 1:
                rho.copy_(u_hat)  # linear output, phi' = 1
            else:
                torch.clamp(u_hat, 0.0, 1.0, out=rho)
                torch.eq(u_hat, rho, out=self.phi_prime[l])  # phi' = 1 on [0, 1], both ends included
            if any(self.noise_widths):  # no sqrt(dt) scaling, also in eval (spec Q12)
                noise = self._noise[l]
                for k, g in enumerate(self.gens):
                    if self.noise_widths[k] != 0.0:
                        torch.randn(noise[k].shape, generator=g, out=noise[k])  # B x n_l
                rho.addcmul_(noise, self.noise_width)
            if self.forward_filter:
                self.rbar[l].lerp_(rho, self.a_forward)
                self.r[l].copy_(self.rbar[l])
            elif l == L - 1:
                self.r[l].copy_(rho)
            # i.-j. error sent down to layer l-1; skipped for l = 1 where phi'_in = 0 (spec Q17)
            if l > 0:
                M = self._M[l]  # K x n_{l-1} x n_l
                torch.where(self.feedback_alignment, self.B[l], W, out=M)
                g = self._e_next[l - 1]  # K x B x n_{l-1}
                torch.bmm(self._diff[l], M.mT, out=g).mul_(self.phi_prime[l - 1])
                if self.backward_filter:
                    self.gbar[l].lerp_(g, self.a_backward)
                    g.copy_(self.gbar[l])
            # 6. plasticity with (rho_in of this step, e_l^n): one batched GEMM, rho_in^T e / B
            if train:
                self.plasticity(l, rho_in, self._e_next[l])
            if self.tau_learning[:, l].any():  # spec §1.7: only tau_m moves, pulled toward tau
                torch.sub(u_hat, I, out=self._diff[l])
                rate = self.eta_tau[l] * self.tau_learning[:, l].to(self.device, self.dtype).reshape(-1, 1, 1)
                self.tau_m[l].addcmul_((self._diff[l] * d).mean(1, keepdim=True), rate)  # K x 1 x n_l
        for e, e_next in zip(self.e, self._e_next):  # copies, not a swap: CUDA graphs replay fixed buffers
            e.copy_(e_next)

    @torch.no_grad()
    def plasticity(self, l, rho_in, e):
        """W_l += eta_l dt rho_in^T e / B and b_l += eta_l dt mean_b(e): one batched GEMM (spec §1.6).

        rho_in: K x B x n_{l-1}, e: K x B x n_l.
        """
        scaled = self._scaled[l] if self._scaled[l].shape == e.shape else torch.empty_like(e)
        torch.mul(e, self.eta_dt[l] / e.shape[1], out=scaled)  # K x B x n_l
        self.W[l].baddbmm_(rho_in.mT, scaled)  # K x n_{l-1} x n_l
        self.b[l].add_(scaled.sum(1, keepdim=True))  # K x 1 x n_l

    @torch.no_grad()
    def present(self, x, y, n_updates, train):
        """n_updates steps with the same (x, y); returns the output rates after the last step (K x B x n_L)."""
        for _ in range(n_updates):
            self.step(x, y, train)
        return self.r[-1].clone()

    # ------------------------------------------------------------------ one network of the ensemble
    def member_state(self, k):
        """Everything network k needs to resume: parameters, time constants, states, noise stream (CPU copies)."""
        def cp(ts):
            return [t[k].detach().cpu().clone() for t in ts]
        return {
            "W": cp(self.W), "b": cp(self.b), "B": cp(self.B), "tau": cp(self.tau), "tau_m": cp(self.tau_m),
            "states": {name: cp(getattr(self, name)) for name in STATES},
            "ybar": self.ybar[k].detach().cpu().clone(), "batch": self.batch,
            "tau_learning": [bool(v) for v in self.tau_learning[k]],
            "gen": self.gens[k].get_state(),
        }

    def set_member_state(self, k, sd):
        """Load a member_state dict into network k (in place: tensor addresses stay, CUDA graphs stay valid)."""
        if sd["batch"] is not None and self.batch is None:
            self._replicate(sd["batch"])
        for name in ("W", "b", "B", "tau", "tau_m"):
            for t, src in zip(getattr(self, name), sd[name]):
                t[k].copy_(src)
        for name, srcs in sd["states"].items():
            for t, src in zip(getattr(self, name), srcs):
                t[k].copy_(src)
        self.ybar[k].copy_(sd["ybar"])
        self.tau_learning[k] = torch.tensor(sd["tau_learning"])
        self.gens[k].set_state(sd["gen"])

    @torch.no_grad()
    def silence(self, k):
        """Network k computes zeros from now on (a diverged network: NaN must not slow the others)."""
        for name in ("W", "b", "B", *STATES):
            for t in getattr(self, name):
                t[k].zero_()
        for t in self.tau_m:
            t[k].fill_(1.0)
        self.ybar[k].zero_()
        self.noise_width[k] = 0.0
        self.noise_widths[k] = 0.0
        for eta in self.eta_dt + self.eta_tau:
            eta[k] = 0.0
        self.tau_learning[k] = False
