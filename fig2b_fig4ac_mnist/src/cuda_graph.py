"""`present` as a replayed CUDA graph: the n_updates Euler steps of one batch launched as one graph.

The first call of a (shape, n_updates, mode) runs eagerly on a side stream (it replicates the states and
warms up the kernels; its result is the real result of that batch). The second call captures the loop
into a graph with static input buffers, registering every network's noise generator with it, and each
call from then on copies its batch into the static buffers and replays. No host synchronisation happens
inside the loop. Steps with tau learning on stay eager (their per-network flags are host-side). The
graph holds the whole presentation: the once-per-presentation input current and, in the presentation
form of training, the summed W_1, b_1 update at its end.
"""
import torch

graph_api = torch.cuda  # the CUDA-graph calls below; tests put a CPU emulation here (tests/graph_emulation.py)


class GraphPresenter:
    def __init__(self, net):
        self.net = net
        self.seen = set()
        self.graphs = {}  # key -> (graph, x static, y static)

    def __call__(self, x, y, n_updates, train):
        net = self.net
        if bool(net.tau_learning.any()):
            return net.present(x, y, n_updates, train)
        key = (tuple(x.shape), tuple(y.shape), n_updates, bool(train))
        if key not in self.seen:  # warm-up: a real, eager presentation on a side stream
            self.seen.add(key)
            side = graph_api.Stream()
            side.wait_stream(graph_api.current_stream())
            with graph_api.stream(side):
                out = net.present(x, y, n_updates, train)
            graph_api.current_stream().wait_stream(side)
            out.record_stream(graph_api.current_stream())  # allocated on the side stream, used on this one
            return out
        if key not in self.graphs:
            xs, ys = x.clone(), y.clone()
            graph = graph_api.CUDAGraph()
            for k, gen in enumerate(net.gens):
                if net.noise_widths[k] != 0.0:
                    graph.register_generator_state(gen)
            with graph_api.graph(graph):
                net.run_presentation(xs, ys, n_updates, train)
            self.graphs[key] = (graph, xs, ys)
        graph, xs, ys = self.graphs[key]
        xs.copy_(x)
        ys.copy_(y)
        graph.replay()
        return net.r[-1].clone()
