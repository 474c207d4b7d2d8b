"""Fully connected Latent Equilibrium networks in continuous time (model §1).

An ensemble of K independent networks of the same shapes is stepped together: every tensor carries a
leading network axis k, weights are K x n_{l-1} x n_l and states K x B x n_l, and the matrix products
are batched (bmm). A single network is the ensemble K = 1. Per network: the seed (W, b, B, tau jitter),
tau, tau_m, tau_width, beta, learning rates, noise width and noise stream, feedback alignment,
prosp_rate_errors, tau_s and the filter flags. Shared: sizes, dt, n_updates, target_type.

Layers l = 1 .. L (index 0 .. L-1 in code): hard-sigmoid hidden layers, linear output layer.
One call of `step` is one explicit Euler step in the Jacobi (pipelined) order of model §1.4.
The layers are processed top-down inside a step so that every state can be updated in place while
each layer still reads the previous step's presynaptic rate and phi' (model Q10); this is the same
computation as the bottom-up sweep of model §1.4 followed by the backward sweep.

A presentation (`present`: n_updates steps with the same input x) computes the input layer's current
I_1 = x W_1 + b_1 once. In evaluation W_1, b_1 are fixed, so this is bitwise the per-step value. In
training, input_current "presentation" carries I_1 forward with the Gram matrix G = x x^T + 1 1^T
(B x B, computed once for all networks when they see one batch): the step's update
(eta_1 dt / B)(x^T e_1, 1^T e_1) changes x W_1 + b_1 by (eta_1 dt / B) G e_1, and W_1, b_1 take the
summed update at the end of the presentation (model §1.4 a., §1.6). Only I_1
reads W_1 within a step (the error toward the input is skipped, model Q17), so every other quantity
is the same computation. "stepwise" recomputes I_1 from the updated W_1, b_1 in every step.
"""
from __future__ import annotations

import contextlib

import torch

from common.errors import UsageError

STATES = ("u", "u_hat", "d", "I", "e", "r", "phi_prime", "rbar", "gbar")
SHARED = ("input_size", "hidden_sizes", "classes", "dt", "n_updates", "target_type", "input_current")


class LENetwork:
    """K independent LE networks, each with B parallel copies sharing its W and b (model §1.9).

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
        self.input_current = cfg.input_current

        def per_net(values, dtype=self.dtype):  # K values -> K x 1 x 1
            return torch.tensor(values, dtype=dtype, device=self.device).reshape(self.K, 1, 1)

        # tau_s == 0 switches every filter off, whatever the flags (model §1.3, Q11). A filter's weight is
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
        self.any_feedback_alignment = any(bool(c.feedback_alignment) for c in cfgs)  # else M = W, no copy
        lam_m = [float(c.learning_rate) * float(c.lr_multiplier) for c in cfgs]
        # per-step factor eta_l * dt = lambda * m * f_l / n_updates (model §1.6, Q6), K x 1 x 1 per layer
        self.eta_dt = [per_net([lm * c.lr_factors[l] / self.n_updates for lm, c in zip(lam_m, cfgs)])
                       for l in range(self.L)]
        # no dt, no 1/n_updates (model §1.7)
        self.eta_tau = [per_net([lm * c.lr_factors_tau[l] for lm, c in zip(lam_m, cfgs)]) for l in range(self.L)]
        self.tau_learning = torch.zeros(self.K, self.L, dtype=torch.bool)  # host-side flags, network x layer
        self._tau_flags_seen = None  # the flags behind _tau_rate: rates go to the device only when flags change
        self._tau_rate = [torch.zeros_like(t) for t in self.eta_tau]  # K x 1 x 1, eta_tau where learning is on

        self._init_parameters(cfgs)
        seeds = [c.seed for c in cfgs] if noise_seeds is None else noise_seeds
        self.gens = []  # one rate-noise stream per network
        for s in seeds:
            g = torch.Generator(device=self.device)
            g.manual_seed(int(s))
            self.gens.append(g)
        self._init_states(1)
        self.batch = None  # B after the first call (model §1.9)

    # ------------------------------------------------------------------ set-up
    def _init_parameters(self, cfgs):
        W, b, B, tau, tau_m = ([[] for _ in range(self.L)] for _ in range(5))
        for cfg in cfgs:
            g = torch.Generator()  # CPU, float32 draws in the order of model §1.1
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
                else:  # no clipping: tau = 0 stays 0 (model §1.3)
                    tau[l].append(torch.full((n_out,), float(cfg.tau)))
                    tau_m[l].append(torch.full((n_out,), float(cfg.tau_m)))
        to = dict(device=self.device, dtype=self.dtype)
        # W and B are K x n_{l-1} x n_l views of K x n_l x n_{l-1} storage, the layout in which the step's
        # CPU products run fastest (the 100 x 10 layer's forward 1.7x, its update 3.9x, the input layer's
        # update 1.1x faster; the whole step about 2 %); the products' rounding differs from row-major W's
        self.W = [torch.stack(w).to(**to).mT.contiguous().mT for w in W]  # K x n_{l-1} x n_l
        self.B = [torch.stack(m).to(**to).mT.contiguous().mT for m in B]  # K x n_{l-1} x n_l
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
        self._scaled = [self._zeros(B, n) for n in outs]  # K x B x n_l, eta dt e (1/B applied by the products)
        self._tau_err = [torch.empty_like(t) for t in self.tau]  # K x 1 x n_l, tau or tau_m of the error
        self._M = [torch.empty_like(w) for w in self.W]  # K x n_{l-1} x n_l, feedback matrix
        # presentation form of I_1 (training): G = x x^T + 1 1^T and S = sum of eta_1 dt e_1 / B
        self._G = torch.zeros(self.K, B, B, device=self.device, dtype=self.dtype)  # K x B x B
        self._Gx = self._G  # the G in use: K x B x B, or one B x B seen by every network (a shared batch)
        self._S = self._zeros(B, outs[0])  # K x B x n_1
        self._presenting = None  # None outside `present`, else "eval", "stepwise" or "presentation"
        self._pending = False  # I_1 still lacks the previous step's G update

    @contextlib.contextmanager
    def first_copies(self, n):
        """Inside the block only the first n of the B parallel copies run (a partial last batch)."""
        names = STATES + ("_e_next", "_diff", "_rho", "_noise", "_scaled")
        saved = {name: getattr(self, name) for name in names}
        saved_ybar, saved_G, saved_S = self.ybar, self._G, self._S
        for name, ts in saved.items():
            setattr(self, name, [t[:, :n] for t in ts])
        self.ybar = saved_ybar[:, :n]
        self._G, self._S = saved_G[:, :n, :n], saved_S[:, :n]
        try:
            yield
        finally:
            for name, ts in saved.items():
                setattr(self, name, ts)
            self.ybar, self._G, self._S = saved_ybar, saved_G, saved_S

    def _replicate(self, B):
        """First call: every 1-row state becomes B identical rows (model §1.9)."""
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
        tau_learning = bool(self.tau_learning.any())  # host-side flags: no device synchronisation

        # 1. target state (frozen in eval)
        if train:
            if self.target_lpf:
                self.ybar.lerp_(y, self.a_target)  # K x B x n_L, time constant L*tau_s (model Q11)
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
            if l > 0 or self._presenting in (None, "stepwise"):
                torch.baddbmm(self.b[l], rho_in, W, out=I)  # K x B x n_l, a. I = rho_in W + b
            elif self._pending:  # I_1 += G (eta_1 dt e_1 / B) of the previous step: B x B x n_1 per network
                I.baddbmm_(self._Gx, self._scaled[0], alpha=1.0 / B)
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
            if any(self.noise_widths):  # no sqrt(dt) scaling, also in eval (model Q12)
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
            # i.-j. error sent down to layer l-1; skipped for l = 1 where phi'_in = 0 (model Q17)
            if l > 0:
                M = W  # K x n_{l-1} x n_l
                if self.any_feedback_alignment:
                    M = torch.where(self.feedback_alignment, self.B[l], W, out=self._M[l])
                g = self._e_next[l - 1]  # K x B x n_{l-1}
                torch.bmm(self._diff[l], M.mT, out=g).mul_(self.phi_prime[l - 1])
                if self.backward_filter:
                    self.gbar[l].lerp_(g, self.a_backward)
                    g.copy_(self.gbar[l])
            if tau_learning and self.tau_learning[:, l].any():  # model §1.7: only tau_m moves, pulled toward tau
                torch.sub(u_hat, I, out=self._diff[l])
                self.tau_m[l].addcmul_((self._diff[l] * d).mean(1, keepdim=True), self._tau_rates()[l])  # K x 1 x n_l
            # 6. plasticity with (rho_in of this step, e_l^n): one batched GEMM, rho_in^T e / B
            if train:
                self.plasticity(l, rho_in, self._e_next[l])
        for e, e_next in zip(self.e, self._e_next):  # copies, not a swap: CUDA graphs replay fixed buffers
            e.copy_(e_next)

    def _tau_rates(self):
        """eta_tau masked by the host-side tau_learning flags (K x 1 x 1 per layer), on the device.
        The flags reach the device only when they change, not in every step."""
        if self._tau_flags_seen is None or not torch.equal(self._tau_flags_seen, self.tau_learning):
            self._tau_flags_seen = self.tau_learning.clone()
            mask = self.tau_learning.to(self.device, self.dtype)  # K x L
            for l, (rate, eta) in enumerate(zip(self._tau_rate, self.eta_tau)):
                torch.mul(eta, mask[:, l].reshape(-1, 1, 1), out=rate)
        return self._tau_rate

    @torch.no_grad()
    def plasticity(self, l, rho_in, e):
        """W_l += eta_l dt rho_in^T e / B and b_l += eta_l dt mean_b(e): one batched GEMM (model §1.6).
        Inside a training presentation in the presentation form, layer 1 only sums eta_1 dt e / B
        (applied to W_1, b_1 at its end) and I_1 takes the G update at the next step.

        rho_in: K x B x n_{l-1}, e: K x B x n_l.
        """
        scaled = self._scaled[l] if self._scaled[l].shape == e.shape else torch.empty_like(e)
        torch.mul(e, self.eta_dt[l], out=scaled)  # K x B x n_l, eta dt e; the 1/B rides on the products
        inv_B = 1.0 / e.shape[1]
        if l == 0 and self._presenting == "presentation":
            self._S.add_(scaled, alpha=inv_B)  # K x B x n_1
            self._pending = True
            return
        self.W[l].baddbmm_(rho_in.mT, scaled, alpha=inv_B)  # K x n_{l-1} x n_l
        self.b[l].add_(scaled.sum(1, keepdim=True), alpha=inv_B)  # K x 1 x n_l

    @torch.no_grad()
    def present(self, x, y, n_updates, train):
        """n_updates steps with the same (x, y); returns the output rates after the last step (K x B x n_L)."""
        self.run_presentation(x, y, n_updates, train)
        return self.r[-1].clone()

    @torch.no_grad()
    def run_presentation(self, x, y, n_updates, train):
        """The n_updates steps of one presentation, I_1 computed once (see the module docstring).
        x: B x n_0 (one batch for all networks: G is computed once) or K x B x n_0."""
        shared = x.dim() == 2
        x = self._per_network(x)  # K x B x n_0
        if self.batch is None:
            self._replicate(x.shape[1])
        mode = "eval" if not train else self.input_current
        if mode != "stepwise":
            torch.baddbmm(self.b[0], x, self.W[0], out=self.I[0])  # K x B x n_1, I_1 = x W_1 + b_1
        if mode == "presentation":  # G = x x^T + 1 1^T, K x B x B
            G = self._G[:1] if shared else self._G
            torch.bmm(x[:len(G)], x[:len(G)].mT, out=G).add_(1.0)
            self._Gx = G.expand(self.K, -1, -1)
            self._S.zero_()
        self._presenting, self._pending = mode, False
        try:
            for _ in range(n_updates):
                self.step(x, y, train)
        finally:
            self._presenting, self._pending = None, False
        if mode == "presentation":  # the summed update: W_1 += x^T S, b_1 += 1^T S
            self.W[0].baddbmm_(x.mT, self._S)  # K x n_0 x n_1
            self.b[0].add_(self._S.sum(1, keepdim=True))  # K x 1 x n_1

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
            "gen": self.gens[k].get_state(), "gen_device": self.device.type,
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
        self._load_noise_stream(k, sd)

    def _load_noise_stream(self, k, sd):
        """A generator state only loads into a generator of its own device type (CPU: Mersenne Twister,
        CUDA: Philox). A noiseless network never draws, so its stream may stay where it is; a noisy one
        cannot continue its stream on another device type, and says so."""
        saved_on = sd.get("gen_device", "cpu")
        if saved_on == self.device.type:
            self.gens[k].set_state(sd["gen"])
        elif self.noise_widths[k] != 0.0:
            raise UsageError(f"network {k}: its rate-noise stream (noise_width {self.noise_widths[k]}) was saved on "
                             f"{saved_on} and cannot continue on {self.device.type}; resume with device={saved_on}, "
                             f"or start the run again with --restart")

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
