"""Per-step costs of every model of the paper: CPU time measured on one core, and the GPU projection.

    OMP_NUM_THREADS=1 python scripts/step_costs.py           # measure here (a few minutes), print them
    OMP_NUM_THREADS=1 python scripts/step_costs.py --write   # ... and record them in step_costs.json

CPU: seconds of CPU time of one thread (time.thread_time, one math thread), the minimum over short
repeats, so that other programs on a shared machine inflate it little. Each model is measured with
its own paper config and code path (the config's `input_current` form for fc): training steps (with
plasticity), evaluation steps (none) and the fc tau_m-adaptation step (an evaluation step with the
tau_m rule on, docs/model/fig2b_fig4ac_mnist.md §1.7) apart. A step is averaged over a whole
presentation (fc: the config's n_updates steps; LeNet / HIGGS LE and the update-matched BP: 10 steps),
so work done once per presentation is spread over its steps.

GPU (no GPU measured: a PROJECTION). One presentation of every model is traced on the CPU, with
the kernels a GPU runs where the CPU picks others for the same sums (le_layers.gpu_kernels()): the
kernels it launches (every non-view aten op), their FLOPs (matrix products and convolutions), the
bytes they read and write (every tensor argument and result), the bytes the model holds (parameters,
state, optimiser) and the peak of the temporaries alive at once. A step of K networks stepped
together (one batched kernel per op for all K) is then projected as

    t(K) = K * max(FLOPs / F, bytes / BW) + kernels * t_kernel        (CUDA-graph replay)
    t(K) = max(K * max(FLOPs / F, bytes / BW) + kernels * t_kernel, kernels * t_launch)   (eager)

with the device constants of GPU (printed by the paper profile), and the memory of an ensemble as

    peak = context + data set + K * (held + pool)

(held: what the networks keep between steps at the config's batch size; pool: the peak of one step's
temporaries, which a CUDA graph keeps in its private pool). The fc and LeNet/HIGGS LE networks replay
CUDA graphs on a GPU; the BP baselines run eagerly.
"""
import json
import sys
import time
import weakref
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from common.cli import UsageParser, entry_point  # noqa: E402

# The recorded costs (step_costs.json: the command, date, machine and load average of the measurement
# under "measured"). Per step, in seconds: fc and LE one Euler step of one network; bp one batch; bpm
# one SGD step in training, one batch in evaluation; "trace": see trace().
RECORD = Path(__file__).with_name("step_costs.json")

FC_CONFIGS = ("2b_le", "2b_fa", "2b_big_tau", "2b_no_prospective", "4a_params", "4c_params")
TASKS_2CDE = ("higgs", "mnist", "cifar10")
FC_ENSEMBLE = 8    # the CPU ensemble size measured for fc networks
MC_ENSEMBLE = 20   # 2 variants x 10 seeds: one bars_jobs.sh sweep
PRESENTATION_2CDE = 10  # steps per measured presentation of the LeNet / HIGGS LE and update-matched BP

F2B_CONFIGS = REPO / "fig2b_fig4ac_mnist" / "configs"
F2CDE_CONFIGS = REPO / "fig2cde_higgs_mnist_cifar10" / "configs"
# Fig. 2c-e split sizes (docs/model/fig2cde_higgs_mnist_cifar10.md §2.2): train, validation, test samples
SPLITS_2CDE = {"higgs": (342_000, 18_000, 40_000), "mnist": (50_000, 10_000, 10_000),
               "cifar10": (40_000, 10_000, 10_000)}
BARS_PATTERNS = 16            # per epoch; evaluation passes are a few patterns and not counted

# The projection's device: one H100 SXM. FP32 without TF32 (the training configs keep tf32 off) and
# HBM3, each at a fraction of its peak that small matrix products and element-wise kernels reach.
GPU = {"name": "H100 SXM", "peak_flops": 67e12, "flops_fraction": 0.5, "peak_bandwidth": 3.35e12,
       "bandwidth_fraction": 0.7, "kernel_s": 2e-6, "launch_s": 6e-6, "context_bytes": 0.6e9}
# data set on the device, float32 (fc and LeNet loaders move the whole split there)
DATA_BYTES = {"mnist": 70_000 * 794 * 4, "higgs": 400_000 * 29 * 4, "cifar10": 60_000 * 3073 * 4}


# ------------------------------------------------------------------ configs and step counts
def _config_class(path):
    folder = Path(path).resolve().parent.parent.name
    if folder == "fig2b_fig4ac_mnist":
        from fig2b_fig4ac_mnist.src.config import Config
    elif folder == "fig2cde_higgs_mnist_cifar10":
        from fig2cde_higgs_mnist_cifar10.config import Config
    else:
        raise ValueError(f"{path}: no step-count model for this folder")
    return Config


def resolve(config, overrides=()):
    """The config file's values with `key=value` overrides, loaded and checked exactly as the entry
    script loads them (a bad key or value stops with one line), as a dict."""
    from common.config import config_to_dict, load_config

    return config_to_dict(load_config(_config_class(config), config, list(overrides)))


def fc_steps(cfg):
    """(training, evaluation, tau-adaptation) Euler steps of one fc train.py run
    (docs/model/fig2b_fig4ac_mnist.md §3, §1.7): epoch 0 only evaluates, every epoch validates, the last one also
    tests; tau adaptation runs passes over the validation batches with tau_adapt_steps per batch,
    priced at its cap of tau_adapt_max_passes per layer (it stops earlier once converged)."""
    B, n, E = cfg["batch_size"], cfg["n_updates"], cfg["epoch_qty"]
    train, val, test = (s // B for s in (cfg["train_samples"] if cfg["train_samples"] > 0 else 50_000,
                                         cfg["val_samples"] if cfg["val_samples"] > 0 else 10_000,
                                         cfg["test_samples"] if cfg["test_samples"] > 0 else 10_000))
    layers = len(cfg["hidden_sizes"]) + 1
    adapt = layers * cfg["tau_adapt_max_passes"] * val * cfg["tau_adapt_steps"] if cfg["adapt_tau"] else 0
    return (E - 1) * train * n, (E * val + test) * n, adapt


def model_2cde(cfg):
    """'le', 'bp' (the authors' baseline) or 'bpm' (the update-matched one)."""
    if cfg["model"] == "le":
        return "le"
    return "bpm" if cfg["bp_baseline"] == "update_matched" else "bp"


def le_bp_steps(cfg):
    """Fig. 2c-e: (training steps, evaluation steps) of one run, in the units of MEASURED: LE steps
    (n_updates per batch), update-matched BP SGD steps (n_updates per batch) and evaluation batches,
    BP batches. Partial batches as the config's drop_last / eval_drop_last say."""
    task, B, E = cfg["task"], cfg["batch_size"], cfg["epochs"]
    train, val, test = SPLITS_2CDE[task]
    if cfg.get("train_samples"):
        train = min(train, cfg["train_samples"])
    if cfg.get("eval_samples"):
        val, test = min(val, cfg["eval_samples"]), min(test, cfg["eval_samples"])

    def batches(n, drop):
        return n // B if drop else -(-n // B)

    tr, va, te = batches(train, cfg["drop_last"]), batches(val, cfg["eval_drop_last"]), batches(test, cfg["eval_drop_last"])
    model = model_2cde(cfg)
    if model == "le":
        n = cfg["n_updates"]
        return E * tr * n, (E * va + (1 + bool(cfg.get("initial_test"))) * te) * n
    return E * tr * (cfg["n_updates"] if model == "bpm" else 1), E * va + te


def fc_core_s(stem, cfg, costs=None):
    """CPU seconds (one core) of one fc run of config file `stem` with resolved values `cfg`."""
    c = (costs or MEASURED)["fc"][stem]
    train, evals, adapt = fc_steps(cfg)
    return train * c["train"] + evals * c["eval"] + adapt * c.get("adapt", c["eval"])


def fc_ensemble_factor(costs=None):
    """Measured CPU cost of one network in an fc ensemble of FC_ENSEMBLE, relative to it alone."""
    fc = (costs or MEASURED)["fc"]
    return fc["ensemble"]["train"] / fc["2b_le"]["train"]


def le_bp_core_s(cfg, costs=None):
    """CPU seconds (one core) of one Fig. 2c-e run; other batch sizes than the measured one in proportion."""
    c = (costs or MEASURED)["fig2cde"][cfg["task"]][model_2cde(cfg)]
    train, evals = le_bp_steps(cfg)
    return (train * c["train"] + evals * c["eval"]) * cfg["batch_size"] / c["batch"]


def bars_network_steps(N, epochs=1000):
    return epochs * BARS_PATTERNS * N


# ------------------------------------------------------------------ the GPU projection
def gpu_step_s(trace, K=1, graphs=True):
    """Projected GPU seconds of one step of K networks stepped together (see the module docstring)."""
    work = K * max(trace["flops"] / (GPU["peak_flops"] * GPU["flops_fraction"]),
                   trace["bytes"] / (GPU["peak_bandwidth"] * GPU["bandwidth_fraction"]))
    t = work + trace["kernels"] * GPU["kernel_s"]
    return t if graphs else max(t, trace["kernels"] * GPU["launch_s"])


def gpu_bytes(trace, K, data):
    """Projected peak GPU memory of K networks stepped together in one process."""
    return GPU["context_bytes"] + DATA_BYTES[data] + K * (trace["held"] + trace["pool"])


def gpu_assumptions():
    g = GPU
    return (f"one {g['name']}: FP32 at {g['flops_fraction']:.0%} of {g['peak_flops'] / 1e12:.0f} TFLOP/s, "
            f"memory at {g['bandwidth_fraction']:.0%} of {g['peak_bandwidth'] / 1e12:.2f} TB/s, "
            f"{g['kernel_s'] * 1e6:.0f} us per kernel in a CUDA-graph replay, {g['launch_s'] * 1e6:.0f} us per "
            f"eager launch (BP); t(K) = K max(FLOPs/F, bytes/BW) + kernels x t_kernel, kernels, FLOPs and "
            f"bytes traced per step on the CPU (scripts/step_costs.py); memory = "
            f"{g['context_bytes'] / 1e9:.1f} GB context + data set + K (held + pool)")


# ------------------------------------------------------------------ measuring
def _best(fn, n, repeats):
    """Minimum over repeats of the thread CPU time per call of fn."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.thread_time()
        for _ in range(n):
            fn()
        best = min(best, (time.thread_time() - t0) / n)
    return best


def _nbytes(t):
    return t.numel() * t.element_size()


def held_bytes(*objs):
    """Bytes of the distinct tensor storages reachable from objs (attributes, lists, dicts, modules,
    optimisers, gradients): what a model keeps between steps."""
    import torch

    storages, visited = {}, set()

    def visit(o, depth):
        if isinstance(o, torch.Tensor):
            for t in (o, o.grad) if o.grad is not None else (o,):
                s = t.untyped_storage()
                storages[s.data_ptr()] = max(storages.get(s.data_ptr(), 0), s.nbytes())
            return
        if depth > 8 or id(o) in visited:
            return
        visited.add(id(o))
        if isinstance(o, dict):
            items = list(o.keys()) + list(o.values())
        elif isinstance(o, (list, tuple, set)):
            items = o
        elif type(o).__module__.startswith(("fig2", "common", "torch.nn", "torch.optim")) and hasattr(o, "__dict__"):
            items = vars(o).values()
        else:
            return
        for v in items:
            visit(v, depth + 1)

    for o in objs:
        visit(o, 0)
    return sum(storages.values())


def _flop_formula(func):
    """torch's FLOP formula of an aten op (its in-place form counted as the out-of-place one), or None."""
    import torch
    from torch.utils.flop_counter import flop_registry

    packet = func._overloadpacket
    if packet not in flop_registry and packet.__name__.endswith("_"):
        packet = getattr(torch.ops.aten, packet.__name__.rstrip("_"), packet)
    return flop_registry.get(packet)


def trace(fn):
    """Totals of fn(): kernels (non-view aten ops), FLOPs (torch's formulas for matrix products and
    convolutions), bytes read and written by the kernels, and the peak bytes of temporaries alive at once."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_flatten

    no_kernel = {torch.ops.aten.empty.memory_format, torch.ops.aten.empty_like.default,
                 torch.ops.aten.empty_strided.default, torch.ops.aten.lift_fresh.default,
                 torch.ops.aten._local_scalar_dense.default}

    class Count(TorchDispatchMode):
        kernels = flops = bytes = live = peak = 0

        def _free(self, n):
            self.live -= n

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            if func.is_view or func in no_kernel:
                return out
            ins = [t for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)]
            outs = [t for t in tree_flatten(out)[0] if isinstance(t, torch.Tensor)]
            seen = {id(t) for t in ins}
            inplace = func._schema.name.endswith("_")
            formula = _flop_formula(func)
            if formula is not None:
                self.flops += formula(*args, **{k: v for k, v in kwargs.items() if k != "out"}, out_val=out)
            self.kernels += 1
            self.bytes += sum(map(_nbytes, ins)) + sum(_nbytes(t) for t in outs if inplace or id(t) not in seen)
            for t in outs:
                if id(t) not in seen:  # a fresh allocation: a temporary until it is freed
                    self.live += _nbytes(t)
                    self.peak = max(self.peak, self.live)
                    weakref.finalize(t, self._free, _nbytes(t))
            return out

    with Count() as count:
        fn()
    return {"flops": count.flops, "bytes": count.bytes, "kernels": count.kernels, "pool": count.peak}


def trace_presentation(present, n, *held):
    """Per step of a presentation of n steps, from traces of presentations of 1 and 2 steps (work done
    once per presentation spread over its n steps), with the bytes `held` keeps."""
    one, two = trace(lambda: present(1)), trace(lambda: present(2))
    out = {}
    for key in ("flops", "bytes", "kernels"):
        step = two[key] - one[key]
        out[key] = step + (one[key] - step) / n
    return dict(out, held=held_bytes(*held), pool=max(one["pool"], two["pool"]))


def measure_fc(repeats=3, trace_it=True, stems=FC_CONFIGS, ensemble=True):
    """{stem: {train, eval[, adapt], input_current, trace}, "ensemble": {train, eval}}: per step, each
    over one presentation of the config's n_updates steps (tau_adapt_steps for adaptation)."""
    import torch

    from common.config import load_config
    from fig2b_fig4ac_mnist.src.config import Config
    from fig2b_fig4ac_mnist.src.network import LENetwork

    def setup(stem, K=1):
        cfg = load_config(Config, F2B_CONFIGS / f"{stem}.yaml", ["device=cpu"])
        torch.manual_seed(0)
        net = LENetwork([cfg] * K, device="cpu")
        x = torch.rand(cfg.batch_size, cfg.input_size)  # B x 784
        y = torch.nn.functional.one_hot(torch.randint(0, cfg.classes, (cfg.batch_size,)), cfg.classes).float()
        net.present(x, y, 2, train=True)  # first call sizes the state
        return cfg, net, x, y

    out = {}
    for stem in stems:
        cfg, net, x, y = setup(stem)
        n = cfg.n_updates
        costs = {"train": _best(lambda: net.present(x, y, n, train=True), 1, repeats) / n,
                 "eval": _best(lambda: net.present(x, y, n, train=False), 1, repeats) / n,
                 "input_current": getattr(cfg, "input_current", "stepwise")}
        if trace_it:
            costs["trace"] = {"train": trace_presentation(lambda m: net.present(x, y, m, train=True), n, net, x, y),
                              "eval": trace_presentation(lambda m: net.present(x, y, m, train=False), n, net, x, y)}
        if stem == "4a_params":
            net.tau_learning.fill_(True)
            a = cfg.tau_adapt_steps
            costs["adapt"] = _best(lambda: net.present(x, y, a, train=False), 1, repeats) / a
            if trace_it:
                costs["trace"]["adapt"] = trace_presentation(lambda m: net.present(x, y, m, train=False), a, net, x, y)
        out[stem] = costs
    if not ensemble:
        return out
    cfg, ens, x, y = setup("2b_le", FC_ENSEMBLE)
    n = cfg.n_updates
    out["ensemble"] = {"train": _best(lambda: ens.present(x, y, n, train=True), 1, repeats) / n / FC_ENSEMBLE,
                       "eval": _best(lambda: ens.present(x, y, n, train=False), 1, repeats) / n / FC_ENSEMBLE}
    return out


def measure_2cde(repeats=2, trace_it=True):
    """{task: {le|bp|bpm: {train, eval, batch, trace}}} at the paper configs' batch sizes; LE steps
    timed over presentations of PRESENTATION_2CDE steps, traced for the config's n_updates."""
    import torch

    from common.config import load_config
    from fig2cde_higgs_mnist_cifar10.config import Config
    from fig2cde_higgs_mnist_cifar10.model import le_layers
    from fig2cde_higgs_mnist_cifar10.model.architectures import INPUT_SHAPES
    from fig2cde_higgs_mnist_cifar10.trainers import BPTrainer, LETrainer

    m = PRESENTATION_2CDE
    out = {}
    for task in TASKS_2CDE:
        out[task] = {}
        for model, stem in (("le", f"{task}_le"), ("bp", f"{task}_bp"), ("bpm", f"{task}_bp_matched")):
            torch.manual_seed(0)
            cfg = load_config(Config, F2CDE_CONFIGS / f"{stem}.yaml", ["device=cpu"])
            trainer = (LETrainer if model == "le" else BPTrainer)(cfg, "cpu")
            x = torch.rand(cfg.batch_size, *INPUT_SHAPES[task])
            labels = torch.randint(0, 2 if task == "higgs" else 10, (cfg.batch_size,))
            held = (trainer, x, labels)
            costs = {"batch": cfg.batch_size}
            if model == "le":
                y = trainer.target(labels)
                trainer.present(x, y, 1, train=True)

                def train(k):
                    return trainer.present(x, y, k, train=True)

                def evaluate(k):
                    return trainer.present(x, None, k, train=False)

                costs["train"] = _best(lambda: train(m), 1, repeats) / m
                costs["eval"] = _best(lambda: evaluate(m), 1, repeats) / m
                if trace_it:
                    with le_layers.gpu_kernels():  # the kernels a GPU runs
                        costs["trace"] = {"train": trace_presentation(train, cfg.n_updates, *held),
                                          "eval": trace_presentation(evaluate, cfg.n_updates, *held)}
            else:
                def train(k):  # k SGD steps on one batch (bpm; the authors' baseline takes one)
                    trainer.n_updates = k
                    return trainer.train_batch(x, labels)

                k = m if model == "bpm" else 1
                train(k)
                costs["train"] = _best(lambda: train(k), 1, repeats) / k
                costs["eval"] = _best(lambda: trainer.eval_batch(x, labels), 1, repeats)
                if trace_it:
                    batch = trace(lambda: trainer.eval_batch(x, labels))
                    costs["trace"] = {"train": trace_presentation(train, cfg.n_updates if model == "bpm" else 1, *held),
                                      "eval": dict(batch, held=held_bytes(*held))}
            out[task][model] = costs
    return out


def measure_mc(repeats=3, patterns=8):
    import numpy as np

    from common.config import load_config
    from fig3fig5_dendritic_microcircuits.src.config import BarsConfig
    from fig3fig5_dendritic_microcircuits.src.bars_train import build

    configs = REPO / "fig3fig5_dendritic_microcircuits" / "experiment_configs"
    N = 100

    def per_network_step(K):
        seeds = range(12345, 12345 + K // 2 if K > 1 else 12346)
        variants = ("le", "orig") if K > 1 else ("le",)
        cfgs = [load_config(BarsConfig, configs / f"bars_{v}_tpres_{N}.yaml",
                            [f"training.seed={s}", "training.engine=numba", "training.n_epochs=2"])
                for v in variants for s in seeds]
        net, scheds = build(cfgs)
        X = np.stack([s.X for s in scheds])[:, :patterns]  # K x P x 9
        T = np.stack([s.T for s in scheds])[:, :patterns]  # K x P x 4
        net.run(X[:, :1], T[:, :1], learn=T[:, :1, -1] == 1, n=N)  # compile or load the cache
        t = _best(lambda: net.run(X, T, learn=T[:, :, -1] == 1, n=N), 1, repeats)
        return t / (net.K * patterns * N)

    return {"single": per_network_step(1), "ensemble": per_network_step(MC_ENSEMBLE)}


def measure():
    """The same structure as MEASURED, measured now in this process (one math thread)."""
    import torch

    torch.set_num_threads(1)
    return {"fc": measure_fc(), "fig2cde": measure_2cde(), "mc": measure_mc()}


def _rounded(o):
    if isinstance(o, dict):
        return {k: _rounded(v) for k, v in o.items()}
    return float(f"{o:.3g}") if isinstance(o, float) else o


def _machine():
    import os
    import platform

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else platform.processor()
    return f"{os.cpu_count()} cores, {cpu}"


@entry_point
def main(argv=None):
    import os

    parser = UsageParser(description="measure the per-step costs of every model here (one math thread)")
    parser.add_argument("--write", action="store_true", help=f"record them in {RECORD.name}")
    args = parser.parse_args(argv)
    load0 = os.getloadavg()[0]
    costs = _rounded(measure())
    costs["measured"] = {"command": "OMP_NUM_THREADS=1 python scripts/step_costs.py --write",
                         "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": _machine(),
                         "load_average": f"{load0:.1f} at the start, {os.getloadavg()[0]:.1f} at the end"}
    text = json.dumps(costs, indent=1)
    if args.write:
        RECORD.write_text(text + "\n")
    print(text)
    return 0


MEASURED = json.loads(RECORD.read_text())

if __name__ == "__main__":
    sys.exit(main())
