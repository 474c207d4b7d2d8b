"""CUDA-graph capture and replay emulated on the CPU, so that the graph presenters
(fig2b_fig4ac_mnist/src/cuda_graph.py, fig2cde_higgs_mnist_cifar10/graphs.py) are tested without a GPU.

`EMULATION` has the names of torch.cuda the presenters call (CUDAGraph, graph, graph_pool_handle,
Stream, stream, current_stream) and `device_type = "cpu"`; `install(monkeypatch, *modules)` puts it
in the modules' `graph_api`. The rules are CUDA's, made strict so that a presenter that gets them
wrong computes something else than the eager steps:

capture (`with graph(g, pool=...)`), under a TorchDispatchMode that sees every aten op:
- nothing runs: an op is recorded with its argument objects. An in-place or out= op leaves its
  tensors unchanged (the state keeps its value before the capture); an op that makes a new tensor
  returns one of the right shape filled with garbage (NaN, or the largest integer, or True), so a
  presenter that uses what the capture "computed" gets garbage;
- views are real views (no kernel runs for them; they alias what later kernels write);
- reading a value on the host (`.item()`, `bool(t)`, ops whose output shape depends on values)
  raises CaptureError, as it breaks a real capture; tensors declared host tensors (on a GPU they
  live in host memory, e.g. per-network flags) are host code: ops on them run at capture, once, and
  the values read are baked into the graph; a replay checks they still hold (else CaptureError: the
  graph is stale). Mixing them with device tensors, or copying them to the device, in a capture
  raises CaptureError;
- a random op must draw from the default generator or one registered with g
  (`register_generator_state`); otherwise CaptureError. The capture draws nothing.
replay (`g.replay()`): the recorded ops run again in order on the recorded tensors: only the tensors
that were captured (static inputs, state, the capture's own new tensors) are read and written, never
a tensor made after the capture. A random op draws from its generator's current state and advances
it by what it drew, as the eager op would (CUDA: the graph reads a registered generator's philox
offset at each replay and advances it by the whole graph's increment).
pools: replaying a graph turns the capture-made tensors of every other graph of its pool into
garbage, since the pool may have handed their memory to it.
"""
from __future__ import annotations

import contextlib
import itertools
import types

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten, tree_map


class CaptureError(RuntimeError):
    """What a real CUDA-graph capture would refuse."""


_SENTINEL_SEEDS = itertools.count(0x5EED_0000_0001)  # a registered generator's identity during capture


def _garbage(t: torch.Tensor) -> torch.Tensor:
    if t.dtype.is_floating_point or t.dtype.is_complex:
        return t.fill_(float("nan"))
    if t.dtype == torch.bool:
        return t.fill_(True)
    return t.fill_(torch.iinfo(t.dtype).max)


def _fresh_like(meta: torch.Tensor) -> torch.Tensor:
    return _garbage(torch.empty_strided(meta.shape, meta.stride(), dtype=meta.dtype, device="cpu"))


def _reads_host(func) -> bool:
    tags = set(getattr(func, "tags", ()))
    if {torch.Tag.data_dependent_output, torch.Tag.dynamic_output_shape} & tags:
        return True
    returns = func._schema.returns  # a value (bool, number) instead of a tensor
    return bool(returns) and not any("Tensor" in str(r.type) for r in returns)


def _written(func, args, kwargs):
    """{alias set: argument} of the arguments the op writes into."""
    out = {}
    schema = func._schema
    for i, a in enumerate(schema.arguments):
        if a.alias_info is not None and a.alias_info.is_write:
            value = args[i] if i < len(args) else kwargs.get(a.name)
            if value is not None:
                out[tuple(sorted(a.alias_info.before_set))] = value
    return out


def _is_view(func) -> bool:
    returns = func._schema.returns
    return bool(returns) and all(r.alias_info is not None and not r.alias_info.is_write for r in returns)


class _Capture(TorchDispatchMode):
    def __init__(self, graph: CUDAGraph):
        super().__init__()
        self.graph = graph

    def __torch_dispatch__(self, func, types_, args=(), kwargs=None):
        kwargs = kwargs or {}
        tensors = [t for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)]
        graph = self.graph
        if tensors and all(graph._is_host(t) for t in tensors):
            return graph._host_op(func, args, kwargs)
        if any(graph._is_host(t) and t.dim() > 0 for t in tensors):
            raise CaptureError(f"{func} mixes host tensors with device tensors during capture")
        if _reads_host(func):
            raise CaptureError(f"{func} reads a tensor value on the host during capture (a host sync)")
        if torch.Tag.inplace_view in getattr(func, "tags", ()) or _is_view(func):
            return func(*args, **kwargs)  # metadata only: no kernel
        if torch.Tag.nondeterministic_seeded in getattr(func, "tags", ()):
            graph._check_generator(kwargs.get("generator"), func)
        written = _written(func, args, kwargs)
        returns = func._schema.returns
        results = []
        fresh_meta = None
        for r in returns:
            key = tuple(sorted(r.alias_info.before_set)) if r.alias_info is not None else None
            if key is not None and key in written:
                results.append(written[key])
            else:
                if fresh_meta is None:
                    fresh_meta = self._shapes(func, args, kwargs)
                results.append(None)
        fresh = []
        if fresh_meta is not None:
            metas = fresh_meta if isinstance(fresh_meta, (tuple, list)) else (fresh_meta,)
            for i, r in enumerate(results):
                if r is None:
                    results[i] = tree_map(lambda m: _fresh_like(m) if isinstance(m, torch.Tensor) else m,
                                          metas[i])
                    fresh.append((i, results[i]))
        graph._ops.append((func, args, kwargs, tuple(fresh)))
        graph._made.extend(t for _, out in fresh for t in tree_flatten(out)[0] if isinstance(t, torch.Tensor))
        if not returns:
            return None
        return results[0] if len(returns) == 1 else tuple(results)

    @staticmethod
    def _shapes(func, args, kwargs):
        """The op's outputs on the meta device (shapes, dtypes, strides), without running it."""
        to_meta = lambda v: v.to("meta") if isinstance(v, torch.Tensor) else v  # noqa: E731
        meta_kwargs = {k: v for k, v in kwargs.items() if k != "generator"}
        if "device" in meta_kwargs:
            meta_kwargs["device"] = torch.device("meta")
        try:
            return func(*tree_map(to_meta, args), **tree_map(to_meta, meta_kwargs))
        except (NotImplementedError, RuntimeError):  # no meta kernel: run on copies, keep the shapes
            copies = tree_map(lambda v: v.clone() if isinstance(v, torch.Tensor) else v, (args, kwargs))
            return tree_map(to_meta, func(*copies[0], **copies[1]))


class CUDAGraph:
    def __init__(self):
        self._ops: list | None = None
        self._made: list = []  # tensors the capture made (they live in the graph's pool)
        self._generators: list = []
        self._identity: dict = {}  # sentinel seed -> registered generator, during capture
        self._pool = None
        self._host: dict = {}  # id -> host tensor (held), during capture
        self._host_ops: list = []  # host code run at capture: (func, args, kwargs, out, value read)
        self.replays = 0

    def _is_host(self, t) -> bool:
        return id(t) in self._host or (t._base is not None and id(t._base) in self._host)

    def _host_op(self, func, args, kwargs):
        """Host code during capture runs now, once; a value it reads is baked into the graph."""
        if func is torch.ops.aten._to_copy.default and kwargs.get("device") is not None:
            raise CaptureError("a host tensor is copied to the device during capture")
        out = func(*args, **kwargs)
        if _written(func, args, kwargs):
            self._host_ops.append((func, args, kwargs, None, None))  # host state changed, once
        elif _reads_host(func):
            self._host_ops.append((func, args, kwargs, None, out))
        else:
            self._host_ops.append((func, args, kwargs, out, None))
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor):
                self._host[id(t)] = t
        return out

    def _check_host_values(self):
        """A replay is only right while the host values the capture read are what they were."""
        new = {}
        sub = lambda v: new.get(id(v), v) if isinstance(v, torch.Tensor) else v  # noqa: E731
        for func, args, kwargs, out, value in self._host_ops:
            if out is None and value is None:
                continue
            result = func(*tree_map(sub, args), **tree_map(sub, kwargs))
            if out is not None:
                for o, r in zip(tree_flatten(out)[0], tree_flatten(result)[0]):
                    new[id(o)] = r
            elif result != value:
                raise CaptureError(f"replay after a host value the capture read ({func}) changed: "
                                   f"{value!r} then, {result!r} now")

    def register_generator_state(self, generator: torch.Generator) -> None:
        self._generators.append(generator)

    def pool(self):
        return self._pool

    def _check_generator(self, generator, func):
        if generator is None or generator.initial_seed() in self._identity:
            return
        if generator.initial_seed() == torch.default_generator.initial_seed() and \
                torch.equal(generator.get_state(), torch.default_generator.get_state()):
            return
        raise CaptureError(f"{func} draws from a generator not registered with the graph")

    @contextlib.contextmanager
    def _capturing(self, pool, host):
        if self._ops is not None:
            raise CaptureError("this graph was captured already")
        self._ops, self._pool = [], pool if pool is not None else _PoolHandle()  # else a private pool
        self._host = {id(t): t for t in host()}
        saved = [(g, g.get_state()) for g in self._generators] + \
                [(torch.default_generator, torch.default_generator.get_state())]
        for g in self._generators:  # a registered generator is known by a sentinel seed
            seed = next(_SENTINEL_SEEDS)
            g.manual_seed(seed)
            self._identity[seed] = g
        try:
            with _Capture(self):
                yield
        finally:
            for g, state in saved:  # the capture draws nothing
                g.set_state(state)
            self._identity.clear()
        self._pool.graphs.append(self)

    def replay(self) -> None:
        if self._ops is None:
            raise CaptureError("replay of a graph that was never captured")
        self._check_host_values()
        self.replays += 1
        for func, args, kwargs, fresh in self._ops:
            out = func(*args, **kwargs)
            outs = out if isinstance(out, (tuple, list)) and len(func._schema.returns) > 1 else (out,)
            for i, target in fresh:
                for t, value in zip(tree_flatten(target)[0], tree_flatten(outs[i])[0]):
                    if isinstance(t, torch.Tensor):
                        t.copy_(value)
        for other in self._pool.graphs:
            if other is not self:
                for t in other._made:
                    _garbage(t)


class _PoolHandle:
    """A pool id, as torch.cuda.graph_pool_handle() returns; here it also lists its graphs."""

    def __init__(self):
        self.graphs: list = []


def graph_pool_handle():
    return _PoolHandle()


def graph(cuda_graph: CUDAGraph, pool=None, stream=None, capture_error_mode="global"):
    return cuda_graph._capturing(pool, EMULATION.host_tensors)


class Stream:
    def wait_stream(self, other) -> None:
        pass

    def synchronize(self) -> None:
        pass


_CURRENT = Stream()


def current_stream() -> Stream:
    return _CURRENT


@contextlib.contextmanager
def stream(s: Stream):
    yield


EMULATION = types.SimpleNamespace(device_type="cpu", CUDAGraph=CUDAGraph, graph=graph,
                                  graph_pool_handle=graph_pool_handle, Stream=Stream, stream=stream,
                                  current_stream=current_stream, host_tensors=lambda: ())


def install(monkeypatch, *modules, host_tensors=lambda: ()) -> None:
    """Put EMULATION into the modules' `graph_api`. `host_tensors()`: the tensors that live in host
    memory on a GPU run (all tensors are on the CPU here), read at each capture; ops on them run at
    capture time as host code does. A CPU tensor's record_stream (one stream here) does nothing."""
    monkeypatch.setattr(EMULATION, "host_tensors", host_tensors)
    for module in modules:
        monkeypatch.setattr(module, "graph_api", EMULATION)
    original = torch.Tensor.record_stream

    def record_stream(self, s):
        if isinstance(s, Stream):
            return None
        return original(self, s)

    monkeypatch.setattr(torch.Tensor, "record_stream", record_stream)
