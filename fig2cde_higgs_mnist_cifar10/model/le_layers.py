"""Discrete-time Latent Equilibrium stages (model §1.1-1.4): Linear, Projection, Conv2d, MaxPool2d.

Each stage holds its own state (u, u_hat, eps, r, r') and is driven by `LESequential`:
`forward(r_in, rp_in)` computes this step's rates from the input it reads and, from the OLD error eps,
the error `delta` for the stage below; `backward(g, r_in, train)` stores g as the new eps, applies the
weight update and returns the error for the stage below. All tensors are batch-first.
"""
from __future__ import annotations

import contextlib
import math

import torch
import torch.nn.functional as F

_conv_backward = torch.ops.aten.convolution_backward.default

# On the CPU some stages pick other kernels for the same sums, the faster ones there: channels-last
# copies (MaxPool2d, Conv2d._cpu_layout) and the patches product (Conv2d.hold). gpu_kernels() turns
# this off (the GPU projection of scripts/step_costs.py traces the kernels a GPU runs).
CPU_KERNEL_CHOICES = True


def _cpu_choice(t: torch.Tensor) -> bool:
    return CPU_KERNEL_CHOICES and t.device.type == "cpu"


@contextlib.contextmanager
def gpu_kernels():
    """Inside the block the stages run the kernels a GPU runs on the CPU too, not the CPU's choices."""
    global CPU_KERNEL_CHOICES
    CPU_KERNEL_CHOICES = False
    try:
        yield
    finally:
        CPU_KERNEL_CHOICES = True


def hard_sigmoid(u_hat: torch.Tensor, r: torch.Tensor, rp: torch.Tensor) -> None:
    """r = clip(u_hat, 0, 1), r' = 1[0 <= u_hat <= 1] (both ends inclusive), written in place."""
    torch.clamp(u_hat, 0.0, 1.0, out=r)
    torch.eq(u_hat, r, out=rp)  # equal exactly where the clip is inactive


def identity(u_hat: torch.Tensor, r: torch.Tensor, rp: torch.Tensor) -> None:
    r.copy_(u_hat)
    rp.fill_(1.0)


ACTIVATIONS = {"hard_sigmoid": hard_sigmoid, "linear": identity}
VOLTAGE_FORMS = ("exact", "authors")


def _resize_rows(t: torch.Tensor, batch_size: int) -> torch.Tensor:
    """State carried to a batch of another size: keep the first rows, new rows start at zero."""
    if t.shape[0] >= batch_size:
        return t[:batch_size].clone()
    pad = t.new_zeros((batch_size - t.shape[0],) + tuple(t.shape[1:]))
    return torch.cat([t, pad])


class _Stage:
    """Common bookkeeping: per-stage state tensors that start at zero and carry over (model Q9)."""

    state_names: tuple[str, ...] = ()
    has_weights = False

    def __init__(self, out_shape: tuple[int, ...], device, dtype):
        self.out_shape = tuple(out_shape)  # per-sample output shape
        self.device, self.dtype = torch.device(device), dtype
        self.batch_size = 0

    def ensure_batch(self, batch_size: int) -> None:
        if batch_size == self.batch_size:
            return
        for name in self.state_names:
            old = getattr(self, name, None)
            if old is None or self.batch_size == 0:
                new = torch.zeros((batch_size,) + self.out_shape, device=self.device, dtype=self.dtype)
            else:
                new = _resize_rows(old, batch_size)
            setattr(self, name, new)
        self.batch_size = batch_size

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {n: getattr(self, n) for n in self.state_names if self.batch_size}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        for n in self.state_names:
            if n in state:
                setattr(self, n, state[n].to(self.device, self.dtype).clone())
                self.batch_size = state[n].shape[0]


class _WeightStage(_Stage):
    """A stage with weights W, bias b and LE neurons (model §1.2-1.3)."""

    state_names = ("u", "u_hat", "eps", "r", "rp")
    has_weights = True

    def __init__(self, out_shape, phi: str, device, dtype):
        super().__init__(out_shape, device, dtype)
        if phi not in ACTIVATIONS:
            raise ValueError(f"unknown activation {phi!r}")
        self.phi_name = phi
        self.phi = ACTIVATIONS[phi]
        self.tau = 10.0
        self.dt = 0.1
        self.voltage_form = "exact"  # set by the container, see _neurons
        self.lr = 0.0  # eta_k * dt, set by the container
        self.delta: torch.Tensor | None = None
        self.eps_zero = True  # eps is exactly zero: its delta is zero too, so skip the work
        self.frozen = False  # True: compute and keep (dW, db) but do not apply them
        self.dW: torch.Tensor | None = None
        self.db: torch.Tensor | None = None
        self.held: torch.Tensor | None = None  # the basal input a, held while it cannot change (hold)
        # u_hat = held + eps is written here, never into held: one tensor per shape, all kept (a CUDA
        # graph captured with one goes on writing it after a batch of another size)
        self._u_hat_held: dict[torch.Size, torch.Tensor] = {}

    def hold(self, r_in: torch.Tensor | None, train: bool = False) -> None:
        """r_in is this (first) stage's input in every step until hold(None): constant over a
        presentation. In evaluation the weights are constant too: a = W * r_in + b is computed once and
        used in every step (every step would compute exactly these numbers)."""
        self.held = None if r_in is None or train else self.basal(r_in)

    def _basal_input(self, r_in: torch.Tensor) -> torch.Tensor:
        return self.basal(r_in) if self.held is None else self.held

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        super().load_state_dict(state)
        self.eps_zero = False  # unknown: compute as if nonzero (exact either way)

    def _neurons(self, a: torch.Tensor) -> None:
        """Prospective voltage and membrane update from the basal input a (model §1.2 steps 2-3).

        u_hat = u + tau du/dt with du/dt = (a - u + eps) / tau is exactly a + eps: u cancels (Q2).
        exact: u_hat is formed as a + eps, u takes its Euler step u += dt (u_hat - u) / tau, and the
          error handed down is eps itself.
        authors: the authors' float32 evaluation, u_hat = u + tau ((a - u + eps) / tau), u += dt du/dt,
          and the error handed down is u_hat - a. Its rounding (~1e-7 of u) is the only difference;
          it can flip a hard-sigmoid kink or a max-pool choice, after which the two forms part."""
        if self.voltage_form == "authors":
            du_dt = (a - self.u + self.eps) / self.tau  # [B, *out_shape]
            u_hat = self.u + self.tau * du_dt
            self.u.add_(self.dt * du_dt)
            self.eps = u_hat - a  # read by forward's delta; replaced in backward
            self.eps_zero = False  # rounding: not exactly zero even when eps was
        else:
            if a is self.held and not self.eps_zero:  # the held input stays as it is; nothing writes into u_hat
                if a.shape not in self._u_hat_held:
                    self._u_hat_held[a.shape] = torch.empty_like(a)
                u_hat = torch.add(a, self.eps, out=self._u_hat_held[a.shape])
            else:
                u_hat = a if self.eps_zero else a.add_(self.eps)  # [B, *out_shape], in a's memory
            self.u.lerp_(u_hat, self.dt / self.tau)  # u never feeds back into r (model Q2)
        self.u_hat = u_hat
        self.phi(u_hat, self.r, self.rp)

    def backward(self, g: torch.Tensor | None, r_in: torch.Tensor, train: bool) -> torch.Tensor | None:
        """Store g as this layer's error (None = zero error), learn, return the error for below
        (None = zero)."""
        if g is None:  # zero error (eval-mode target, or a zero delta from above)
            if not self.eps_zero:
                self.eps.zero_()
            self.eps_zero = True
        else:
            self.eps = g  # g is a fresh tensor that no one changes afterwards: no copy needed
            self.eps_zero = False
        if train and g is not None:
            if self.frozen:
                self.dW, self.db = self.update_direction(g, r_in)
            else:
                self.apply_update(g, r_in)
        return self.delta

    # subclasses: basal(r_in), forward(r_in, rp_in), update_direction(g, r_in), apply_update(g, r_in),
    #             ann(x) (plain forward pass of the equivalent ANN layer), parameters()

    def parameters(self) -> dict[str, torch.Tensor]:
        return {"W": self.W, "b": self.b}


def _normal(shape, std: float, device, dtype) -> torch.Tensor:
    """N(0, std^2), drawn on CPU from the global torch generator (model §1.1), then moved."""
    return (torch.randn(shape) * std).to(device=device, dtype=dtype)


class Linear(_WeightStage):
    """Dense layer, a = r_in W + b with W of shape [n_in, n_out] (model §1.1)."""

    def __init__(self, n_in: int, n_out: int, phi: str = "hard_sigmoid", init_std: float = 0.05,
                 device="cpu", dtype=torch.float32):
        super().__init__((n_out,), phi, device, dtype)
        self.in_shape = (n_in,)
        self.W = _normal((n_in, n_out), init_std, device, dtype)  # [n_in, n_out]
        self.b = _normal((n_out,), init_std, device, dtype)  # [n_out]

    def _flat(self, r_in: torch.Tensor) -> torch.Tensor:
        return r_in

    def basal(self, r_in: torch.Tensor) -> torch.Tensor:
        return torch.addmm(self.b, self._flat(r_in), self.W)  # a: [B, n_out]

    def forward(self, r_in: torch.Tensor, rp_in: torch.Tensor | None) -> None:
        self._neurons(self._basal_input(r_in))  # a: [B, n_out]
        if rp_in is None or self.eps_zero:  # network input (r'_in = 0) or eps = 0: delta = 0
            self.delta = None
        else:
            self.delta = torch.mm(self.eps, self.W.t()).view_as(rp_in).mul_(rp_in)  # [B, *in_shape]

    def update_direction(self, g, r_in):
        x = self._flat(r_in)  # [B, n_in]
        return x.t().mm(g).div_(x.shape[0]), g.mean(0)  # (1/B) sum_b r_in,b (x) g_b ; mean_b g_b

    def apply_update(self, g, r_in):
        x = self._flat(r_in)  # [B, n_in]
        scale = self.lr / x.shape[0]
        self.W.addmm_(x.t(), g, alpha=scale)  # one matmul, no per-sample outer products
        self.b.add_(g.sum(0), alpha=scale)

    def ann(self, x: torch.Tensor) -> torch.Tensor:
        return torch.addmm(self.b, self._flat(x), self.W)


class Projection(Linear):
    """Flatten C x H x W, then dense (model §1.1); the error is reshaped back to (B, C, H, W)."""

    def __init__(self, in_shape: tuple[int, int, int], n_out: int, phi: str = "hard_sigmoid",
                 init_std: float = 0.05, device="cpu", dtype=torch.float32):
        super().__init__(math.prod(in_shape), n_out, phi, init_std, device, dtype)
        self.in_shape = tuple(in_shape)

    def _flat(self, r_in: torch.Tensor) -> torch.Tensor:
        return r_in.reshape(r_in.shape[0], -1)  # [B, C*H*W]


class Conv2d(_WeightStage):
    """Valid cross-correlation with stride 1; kernel [F, C, k, k] (model §1.1-1.3).

    bias_lr: "mean" divides the bias update by the T^2 output positions like the authors (model Q1),
    "sum" uses the BP-consistent sum over positions.
    """

    def __init__(self, in_shape: tuple[int, int, int], n_filters: int, kernel_size: int,
                 phi: str = "hard_sigmoid", init_std: float = 0.05, bias_lr: str = "mean",
                 device="cpu", dtype=torch.float32):
        c, h, w = in_shape
        super().__init__((n_filters, h - kernel_size + 1, w - kernel_size + 1), phi, device, dtype)
        if bias_lr not in ("mean", "sum"):
            raise ValueError(f"bias_lr must be 'mean' or 'sum', got {bias_lr!r}")
        self.in_shape = tuple(in_shape)
        self.W = _normal((n_filters, c, kernel_size, kernel_size), init_std, device, dtype)  # [F, C, k, k]
        self.b = _normal((n_filters,), init_std, device, dtype)  # [F]
        self.bias_lr = bias_lr
        n_pos = self.out_shape[1] * self.out_shape[2]  # T^2
        self.bias_scale = 1.0 / n_pos if bias_lr == "mean" else 1.0  # model Q1
        self.patches: torch.Tensor | None = None  # [B, T^2, C k^2] of the held input (see hold)
        self._patches_of: torch.Tensor | None = None  # the input they were cut from

    def basal(self, r_in: torch.Tensor) -> torch.Tensor:
        return F.conv2d(r_in, self.W, self.b)  # a: [B, F, T, T]

    # On the CPU, the weight gradient of a one-channel input (MNIST) as one batched product with the input's
    # patches, cut once per presentation, takes a fifth of the time of the convolution's weight-gradient
    # kernel; with three channels (CIFAR-10) the two cost the same and cutting the patches costs more.
    patched_weight_gradient = True

    def hold(self, r_in: torch.Tensor | None, train: bool = False) -> None:
        super().hold(r_in, train)
        cut = (r_in is not None and train and self.patched_weight_gradient and _cpu_choice(r_in)
               and self.in_shape[0] == 1)
        self.patches = F.unfold(r_in, self.W.shape[-1]).transpose(1, 2).contiguous() if cut else None  # [B, T^2, C k^2]
        self._patches_of = r_in if cut else None

    def _cpu_layout(self, t: torch.Tensor) -> torch.Tensor:
        """On the CPU, the transposed convolution and the weight gradient of an input of many channels
        run 10-25 % faster from channels-last copies (LeNet's second convolution, 20 channels); with 1
        or 3 channels they do not."""
        many = _cpu_choice(t) and self.in_shape[0] > 3
        return t.contiguous(memory_format=torch.channels_last) if many else t

    def forward(self, r_in: torch.Tensor, rp_in: torch.Tensor | None) -> None:
        self._neurons(self._basal_input(r_in))  # a: [B, F, T, T]
        if rp_in is None or self.eps_zero:  # network input (r'_in = 0) or eps = 0: delta = 0
            self.delta = None
        else:  # transposed convolution = autograd's input gradient of conv2d
            delta = F.conv_transpose2d(self._cpu_layout(self.eps), self.W)  # [B, C, H, W]
            self.delta = delta.contiguous().mul_(rp_in)

    def _sums(self, g, r_in):
        """sum_b sum_positions g * unfold(r_in) and sum_b sum_positions g, as one batched contraction."""
        if self.patches is not None and r_in is self._patches_of:
            dW = torch.bmm(g.flatten(2), self.patches).sum(0)  # [F, C k^2]: unfold's order is (c, kh, kw)
            return dW.view_as(self.W), g.sum((0, 2, 3))
        _, dW, db = _conv_backward(self._cpu_layout(g), self._cpu_layout(r_in), self.W, [self.W.shape[0]], [1, 1],
                                   [0, 0], [1, 1], False, [0, 0], 1, [False, True, True])
        return dW, db  # [F, C, k, k], [F]

    def update_direction(self, g, r_in):
        dW, db = self._sums(g, r_in)
        B = r_in.shape[0]
        return dW.div_(B), db.mul_(self.bias_scale / B)

    def apply_update(self, g, r_in):
        dW, db = self._sums(g, r_in)
        scale = self.lr / r_in.shape[0]
        self.W.add_(dW, alpha=scale)
        self.b.add_(db, alpha=scale * self.bias_scale)

    def ann(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.W, self.b)


class MaxPool2d(_Stage):
    """Non-overlapping max pooling (stride = k). r' is gathered at the argmax of r_in; the error is
    routed to the argmax positions in the same step (model §1.4).

    Every step writes into buffers that persist across steps (a fresh input-sized map per step costs
    a page-faulting allocation on the CPU): r, r' and the argmax indices in place, the routed error
    into one of two input-sized maps used in turn, because the stage below keeps the previous step's
    error as its eps until it has read it. The buffers of each batch size are kept (a CUDA graph
    captured with them goes on reading them after a batch of another size)."""

    state_names = ("r", "rp")

    def __init__(self, in_shape: tuple[int, int, int], kernel_size: int = 2, device="cpu",
                 dtype=torch.float32):
        c, h, w = in_shape
        super().__init__((c, h // kernel_size, w // kernel_size), device, dtype)
        self.in_shape = tuple(in_shape)
        self.k = kernel_size
        self.idx: torch.Tensor | None = None  # [B, C, H/k * W/k] flat argmax index into H*W
        self._routed: list[torch.Tensor] = []  # two [B, C, H*W] error maps, used in turn
        self._buffers: dict[int, tuple] = {}  # batch size -> (idx, routed)
        self.lr = 0.0

    def forward(self, r_in: torch.Tensor, rp_in: torch.Tensor | None) -> None:
        B, C = r_in.shape[:2]
        if B not in self._buffers:
            idx = torch.empty((B, C, self.out_shape[1] * self.out_shape[2]), device=r_in.device, dtype=torch.int64)
            self._buffers[B] = (idx, [r_in.new_empty((B, C, self.in_shape[1] * self.in_shape[2])) for _ in range(2)])
        self.idx, self._routed = self._buffers[B]
        self.ensure_batch(B)  # r, r' of this batch size
        k = [self.k, self.k]
        # the CPU pools a channels-last copy 3-9x faster than its channels-first map (the same maxima and argmax)
        src = r_in.contiguous(memory_format=torch.channels_last) if _cpu_choice(r_in) else r_in  # [B, C, H, W]
        torch.ops.aten.max_pool2d_with_indices.out(src, k, k, [0, 0], [1, 1], False, out=self.r,
                                                   indices=self.idx.view_as(self.r))  # first max wins ties
        if rp_in is None:
            self.rp.zero_()
        else:
            torch.gather(rp_in.reshape(B, C, -1), 2, self.idx, out=self.rp.view(B, C, -1))

    def backward(self, g: torch.Tensor | None, r_in: torch.Tensor, train: bool) -> torch.Tensor | None:
        if g is None:
            return None
        B = g.shape[0]
        self._routed.reverse()
        out = self._routed[0].view((B,) + self.in_shape)  # [B, C, H, W]
        k = [self.k, self.k]
        # max-unpool: zeros except at the argmax, written in one pass (no zero-fill, then scatter)
        torch.ops.aten.max_pool2d_with_indices_backward.grad_input(g, r_in, k, k, [0, 0], [1, 1], False,
                                                                   self.idx.view_as(g), grad_input=out)
        return out

    def ann(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(x, self.k)
