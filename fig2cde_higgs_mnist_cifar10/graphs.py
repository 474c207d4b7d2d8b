"""`LESequential.present` (the n_updates steps on one batch, with the first stage holding the batch:
`LESequential.holding`) captured once as a CUDA graph and replayed (no I/O).

The steps reassign some state attributes to fresh tensors (eps, u_hat, pool rates) and update others in
place (u, r, r', W, b). A graph always reads and writes one fixed set of state tensors, the static
state: the captured region ends by copying the new state into it, and before every replay the
batch is copied into static input buffers. The stages' Python flags (eps_zero: skip the delta of an
all-zero error) choose which kernels a step launches, so there is one graph per (train, n_updates,
shapes, flags at entry). The first batch of each key runs eagerly on a side stream (the warm-up that
CUDA graphs need, and the real computation of that batch), then the graph is captured without
running. The LE step draws no random numbers, so no generator needs registering with the graph.
A batch of another size (a partial last batch) runs eagerly. All graphs of one presenter allocate
from one memory pool: they replay one after another on one stream, and what one leaves in the pool
is never read by another (the state they share is the static state, outside the pool).

`graph_api` holds the CUDA-graph calls (torch.cuda); tests put a CPU emulation of capture and replay
in its place (tests/graph_emulation.py), whose `device_type` is "cpu".
"""
from __future__ import annotations

import torch


graph_api = torch.cuda


def graphed_present(net, device: torch.device):
    """`net.present` on CPU, its CUDA-graph replay on a GPU."""
    graphs_on = getattr(graph_api, "device_type", "cuda")
    return GraphedPresent(net) if torch.device(device).type == graphs_on else net.present


class GraphedPresent:
    def __init__(self, net):
        self.net = net
        self.static: dict | None = None  # {(stage index, state name): tensor}
        self.graphs: dict = {}  # key -> (graph, static x, static y, flags after the steps)
        self.pool = None  # the memory pool all graphs of this presenter share

    def _state(self) -> dict:
        return {(i, n): getattr(s, n) for i, s in enumerate(self.net.stages) for n in s.state_names}

    def _flags(self) -> tuple:
        return tuple(s.eps_zero for s in self.net.weight_stages)

    def _set_flags(self, flags) -> None:
        for s, f in zip(self.net.weight_stages, flags):
            s.eps_zero = f

    def _pin(self) -> None:
        """Copy the current state into the static tensors and point the stages at them."""
        for (i, n), t in self._state().items():
            s = self.static[(i, n)]
            if t is not s:
                s.copy_(t)
                setattr(self.net.stages[i], n, s)

    def __call__(self, x: torch.Tensor, y: torch.Tensor | None, n_updates: int,
                 train: bool = True) -> torch.Tensor:
        net = self.net
        net.ensure_batch(x.shape[0])
        state = self._state()
        if self.static is None or (not self.graphs and any(t.shape != self.static[k].shape
                                                           for k, t in state.items())):
            self.static = state  # until the first capture, the latest batch size sets the static state
        if any(t.shape != self.static[k].shape for k, t in state.items()):
            return net.present(x, y, n_updates, train)  # odd-sized batch: eager
        self._pin()
        flags = self._flags()
        frozen = tuple(s.frozen for s in net.weight_stages)  # a frozen stage launches no update kernels
        key = (train, n_updates, tuple(x.shape), flags, frozen)
        entry = self.graphs.get(key)
        if entry is None:
            return self._warm_up_and_capture(key, x, y, n_updates, train)
        graph, sx, sy, flags_after = entry
        sx.copy_(x)
        if sy is not None:
            sy.copy_(y)
        graph.replay()
        self._set_flags(flags_after)
        return net.output.clone()

    def _warm_up_and_capture(self, key, x, y, n_updates, train):
        net = self.net
        flags = key[3]
        side = graph_api.Stream()
        side.wait_stream(graph_api.current_stream())
        with graph_api.stream(side):
            out = net.present(x, y, n_updates, train)  # this batch's real steps
            self._pin()
        graph_api.current_stream().wait_stream(side)
        out.record_stream(graph_api.current_stream())  # allocated on the side stream, used on this one
        flags_after = self._flags()
        sx = x.clone()
        sy = None if y is None else y.clone()
        graph = graph_api.CUDAGraph()
        if self.pool is None:
            self.pool = graph_api.graph_pool_handle()
        self._set_flags(flags)  # record the kernels a batch entering with these flags launches
        with graph_api.graph(graph, pool=self.pool):  # records only: the state keeps the eager results
            with net.holding(sx, train):  # the steps of `present`, the held input included
                for _ in range(n_updates):
                    net.step(sx, sy, train)
            self._pin()
        if self._flags() != flags_after:
            raise RuntimeError("captured steps end with other flags than the eager steps")
        self.graphs[key] = (graph, sx, sy, flags_after)
        return out
