"""Per-step costs of every experiment on one CPU core, measured here, and the GPU projection model.

    python scripts/step_costs.py            # measure on this machine (about a minute), print as a dict

Every cost is seconds of CPU time of one thread (time.thread_time, one math thread), the minimum over
short repeats, so that other programs on a shared machine inflate it little. Training steps (with
plasticity) and evaluation steps (no plasticity) are priced separately; the fc tau_m adaptation step
is an evaluation step with the tau_m rule on (spec le_continuous_fc §1.7).

MEASURED below: `OMP_NUM_THREADS=1 python scripts/step_costs.py`, 2026-12-04, on the 2-core
development machine while a long experiment used both cores (thread CPU time, min of repeats).
"""
import json
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]

MEASURED = {
    # fc 784-300-100-10, batch 512, per config file: seconds per Euler step
    "fc": {"2b_le": {"train": 6.80e-3, "eval": 3.66e-3}, "2b_fa": {"train": 6.95e-3, "eval": 3.73e-3},
           "2b_big_tau": {"train": 6.70e-3, "eval": 3.61e-3},
           "2b_no_prospective": {"train": 6.63e-3, "eval": 3.59e-3},
           "4a_params": {"train": 6.66e-3, "eval": 3.60e-3, "adapt": 3.78e-3},
           "4c_params": {"train": 7.58e-3, "eval": 4.47e-3},
           # one 2b_le network in an ensemble of FC_ENSEMBLE, per network: measured in a second run the
           # same day as a ratio to 2b_le alone (0.98x training, 0.93x evaluation), applied to the values above
           "ensemble": {"train": 6.70e-3, "eval": 3.41e-3}},
    # Fig. 2c-e LE (per update step) and BP (per batch: forward+backward+SGD, or forward) at the paper
    # configs' batch sizes; other batch sizes are priced in proportion
    "fig2cde": {"higgs": {"le_train": 1.32e-3, "le_eval": 0.592e-3, "bp_train": 2.41e-3, "bp_eval": 0.948e-3,
                          "le_batch": 128, "bp_batch": 128},
                "mnist": {"le_train": 148e-3, "le_eval": 111e-3, "bp_train": 44.1e-3, "bp_eval": 20.8e-3,
                          "le_batch": 512, "bp_batch": 128},
                "cifar10": {"le_train": 43.9e-3, "le_eval": 35.4e-3, "bp_train": 71.8e-3, "bp_eval": 34.1e-3,
                            "le_batch": 128, "bp_batch": 128}},
    # microcircuit [9, 30, 3] on the bars task, N = 100: seconds per network-step, alone and in an ensemble
    # (the vectorised engine; measured with measure_mc(repeats=5, patterns=16) on the idle machine)
    "mc": {"single": 2.41e-6, "ensemble": 0.351e-6},
}

FC_CONFIGS = ("2b_le", "2b_fa", "2b_big_tau", "2b_no_prospective", "4a_params", "4c_params")
TASKS_2CDE = ("higgs", "mnist", "cifar10")
FC_ENSEMBLE = 8   # DESIGN's CPU ensemble size for fc networks
MC_ENSEMBLE = 20  # 2 variants x 10 seeds: one bars_jobs.sh sweep

# GPU: none on the development machine, so no GPU cost is measured. PROJECTION from the DESIGN targets
# on one H100: one full Fig. 2b run (2b_le, 199 training epochs) <= 10 min as a single network, and
# all 40 Fig. 2b runs <= 60 min with ensembles of 16. The step of every continuous and discrete LE
# network is launch-bound on a GPU (a few dozen small kernels per step at these sizes), so each step,
# training or evaluation, fc or LeNet or BP, is priced at the same per-step time.
GPU_TARGET_2B_RUN_S = 600.0
GPU_TARGET_2B_ALL_S = 3600.0
GPU_TARGET_2B_RUNS = 40


F2B_CONFIGS = REPO / "fig2b_fig4ac_mnist" / "configs"
F2CDE_CONFIGS = REPO / "fig2cde_higgs_mnist_cifar10" / "configs"
# Fig. 2c-e split sizes (spec le_discrete_layers §2.2): train, validation, test samples
SPLITS_2CDE = {"higgs": (342_000, 18_000, 40_000), "mnist": (50_000, 10_000, 10_000),
               "cifar10": (40_000, 10_000, 10_000)}
BARS_PATTERNS = 16            # per epoch; evaluation passes are a few patterns and not counted


def resolve(config, overrides=()):
    """A config file's values with `key=value` overrides applied (values parsed as YAML)."""
    cfg = yaml.safe_load(Path(config).read_text())
    cfg.update({k: yaml.safe_load(v) for k, v in (w.split("=", 1) for w in overrides)})
    return cfg


def fc_steps(cfg):
    """(training, evaluation, tau-adaptation) Euler steps of one fc train.py run (spec §3, §1.7):
    epoch 0 only evaluates, every epoch validates, the last one also tests; tau adaptation runs
    passes over the validation batches with tau_adapt_steps per batch, priced at its cap of
    tau_adapt_max_passes per layer (it stops earlier once converged; the count depends on the data)."""
    B, n, E = cfg["batch_size"], cfg["n_updates"], cfg["epoch_qty"]
    train, val, test = (s // B for s in (cfg["train_samples"] if cfg["train_samples"] > 0 else 50_000,
                                         cfg["val_samples"] if cfg["val_samples"] > 0 else 10_000,
                                         cfg["test_samples"] if cfg["test_samples"] > 0 else 10_000))
    layers = len(cfg["hidden_sizes"]) + 1
    adapt = layers * cfg["tau_adapt_max_passes"] * val * cfg["tau_adapt_steps"] if cfg["adapt_tau"] else 0
    return (E - 1) * train * n, (E * val + test) * n, adapt


def fc_core_s(stem, cfg, costs=None):
    """CPU seconds (one core) of one fc run of config file `stem` with resolved values `cfg`."""
    c = (costs or MEASURED)["fc"][stem]
    train, evals, adapt = fc_steps(cfg)
    return train * c["train"] + evals * c["eval"] + adapt * c.get("adapt", c["eval"])


def fc_ensemble_factor(costs=None):
    """Measured CPU cost of one network in an fc ensemble of FC_ENSEMBLE, relative to it alone."""
    fc = (costs or MEASURED)["fc"]
    return fc["ensemble"]["train"] / fc["2b_le"]["train"]


def le_bp_steps(cfg):
    """Fig. 2c-e: (training steps, evaluation steps) of one run; LE steps are update steps (n per
    batch, drop_last), BP steps are batches (partial batches kept)."""
    task, B, E = cfg["task"], cfg["batch_size"], cfg["epochs"]
    train, val, test = SPLITS_2CDE[task]
    if cfg.get("train_samples"):
        train = min(train, cfg["train_samples"])
    if cfg.get("eval_samples"):
        val, test = min(val, cfg["eval_samples"]), min(test, cfg["eval_samples"])
    if cfg["model"] == "le":
        n = cfg["n_updates"]
        tests = 1 + bool(cfg.get("initial_test"))
        return E * (train // B) * n, (E * (val // B) + tests * (test // B)) * n
    return E * -(-train // B), E * -(-val // B) + -(-test // B)


def le_bp_core_s(cfg, costs=None):
    c = (costs or MEASURED)["fig2cde"][cfg["task"]]
    train, evals = le_bp_steps(cfg)
    scale = cfg["batch_size"] / c[f"{cfg['model']}_batch"]
    return (train * c[f"{cfg['model']}_train"] + evals * c[f"{cfg['model']}_eval"]) * scale


def bars_network_steps(N, epochs=1000):
    return epochs * BARS_PATTERNS * N


def gpu_step_s(ensemble):
    """PROJECTED GPU seconds per network-step (see the GPU_TARGET constants): the 2b_le run's steps
    divided into the DESIGN target time, alone or as one of an ensemble of 16."""
    steps = sum(fc_steps(resolve(F2B_CONFIGS / "2b_le.yaml")))
    return GPU_TARGET_2B_ALL_S / GPU_TARGET_2B_RUNS / steps if ensemble else GPU_TARGET_2B_RUN_S / steps


def _best(fn, n, repeats):
    """Minimum over repeats of the thread CPU time per call of fn."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.thread_time()
        for _ in range(n):
            fn()
        best = min(best, (time.thread_time() - t0) / n)
    return best


def measure_fc(repeats=5, n=5):
    import torch

    from common.config import load_config
    from fig2b_fig4ac_mnist.src.config import Config
    from fig2b_fig4ac_mnist.src.network import LENetwork
    from fig2b_fig4ac_mnist.src.paths import CONFIGS

    out = {}
    for stem in FC_CONFIGS:
        cfg = load_config(Config, CONFIGS / f"{stem}.yaml", ["device=cpu"])
        torch.manual_seed(0)
        net = LENetwork(cfg, device="cpu")
        x = torch.rand(cfg.batch_size, cfg.input_size)  # B x 784
        y = torch.nn.functional.one_hot(torch.randint(0, 10, (cfg.batch_size,)), 10).float()  # B x 10
        for _ in range(3):
            net.step(x, y, train=True)
        costs = {"train": _best(lambda: net.step(x, y, train=True), n, repeats),
                 "eval": _best(lambda: net.step(x, y, train=False), n, repeats)}
        if stem == "4a_params":
            net.tau_learning.fill_(True)
            costs["adapt"] = _best(lambda: net.step(x, y, train=False), n, repeats)
        out[stem] = costs
    cfg = load_config(Config, CONFIGS / "2b_le.yaml", ["device=cpu"])
    ens = LENetwork([cfg] * FC_ENSEMBLE, device="cpu")
    ens.step(x, y, train=True)
    out["ensemble"] = {"train": _best(lambda: ens.step(x, y, train=True), n, repeats) / FC_ENSEMBLE,
                       "eval": _best(lambda: ens.step(x, y, train=False), n, repeats) / FC_ENSEMBLE}
    return out


def measure_2cde(repeats=3, n=2):
    import torch

    from common.config import load_config
    from fig2cde_higgs_mnist_cifar10.config import Config
    from fig2cde_higgs_mnist_cifar10.model.architectures import INPUT_SHAPES
    from fig2cde_higgs_mnist_cifar10.trainers import BPTrainer, LETrainer

    configs = REPO / "fig2cde_higgs_mnist_cifar10" / "configs"
    out = {}
    for task in TASKS_2CDE:
        torch.manual_seed(0)
        le_cfg = load_config(Config, configs / f"{task}_le.yaml", ["device=cpu"])
        bp_cfg = load_config(Config, configs / f"{task}_bp.yaml", ["device=cpu"])
        le, bp = LETrainer(le_cfg, "cpu"), BPTrainer(bp_cfg, "cpu")
        x = torch.rand(le_cfg.batch_size, *INPUT_SHAPES[task])
        labels = torch.randint(0, 2 if task == "higgs" else 10, (le_cfg.batch_size,))
        y = le.target(labels)
        xb = torch.rand(bp_cfg.batch_size, *INPUT_SHAPES[task])
        lb = torch.randint(0, 2 if task == "higgs" else 10, (bp_cfg.batch_size,))
        le.net.step(x, y, train=True)
        bp.train_batch(xb, lb)
        out[task] = {"le_train": _best(lambda: le.net.step(x, y, train=True), n, repeats),
                     "le_eval": _best(lambda: le.net.step(x, None, train=False), n, repeats),
                     "bp_train": _best(lambda: bp.train_batch(xb, lb), n, repeats),
                     "bp_eval": _best(lambda: bp.eval_batch(xb, lb), n, repeats),
                     "le_batch": le_cfg.batch_size, "bp_batch": bp_cfg.batch_size}
    return out


def measure_mc(repeats=3, patterns=8):
    import numpy as np

    from common.config import load_config
    from fig3fig5_dendritic_microcircuits.src.config import BarsConfig
    from fig3fig5_dendritic_microcircuits.src.bars_task import build

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


def main():
    print(json.dumps(measure(), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
