"""Check a GPU node before the first long run (a few minutes on an H100; bounded step counts).

    python scripts/gpu_check.py [--out FILE]

Checks, all written to one JSON (FILE; default $OUT/gpu_check.json when $OUT is set, else
runs/gpu_check/gpu_check.json below the current folder) and printed as a short table:
- environment: the device record every run keeps (common/device.py), torch's architecture list, and
  whether this torch build has kernels for the GPU (else: which build to install, exit 2);
- the CUDA tests of the test suite (pytest, their node ids below);
- graph replay == eager, bitwise: the fc ensemble (noise on) and the LeNet ensemble;
- GPU vs CPU after a few hundred steps without noise (fc, LeNet): the largest weight difference
  relative to the largest weight, against a tolerance;
- time per Euler step of a training presentation replayed from a CUDA graph: fc K = 1 and K = 15
  (784-300-100-10, B = 512), LeNet K = 9 (B = 512), and the peak memory of each
  (torch.cuda.max_memory_allocated).
The float32 settings of training hold throughout (TF32 off, deterministic cuDNN). Without a GPU it
prints SKIP and exits 0. Exit 1 when a check fails.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from common.cli import UsageParser, entry_point  # noqa: E402
from common.config import load_config  # noqa: E402
from common.device import check_arch, describe, device_record  # noqa: E402
from common.errors import UsageError  # noqa: E402
from fig2b_fig4ac_mnist.src import cuda_graph  # noqa: E402
from fig2b_fig4ac_mnist.src.config import Config as FcConfig  # noqa: E402
from fig2b_fig4ac_mnist.src.network import LENetwork  # noqa: E402
from fig2b_fig4ac_mnist.src.paths import CONFIGS as FC_CONFIGS  # noqa: E402
from fig2cde_higgs_mnist_cifar10 import graphs  # noqa: E402
from fig2cde_higgs_mnist_cifar10.model.architectures import build_le  # noqa: E402
from fig2cde_higgs_mnist_cifar10.model.le_ensemble import network_input, stack  # noqa: E402
from fig2cde_higgs_mnist_cifar10.model.le_sequential import le_learning_rate  # noqa: E402

CUDA_TESTS = [
    "tests/fig2b_fig4ac_mnist/test_cuda_graph.py::test_graph_replay_equals_eager_steps[cuda]",
    "tests/fig2b_fig4ac_mnist/test_cuda_graph.py::test_gpu_follows_the_cpu_to_float32_rounding_without_noise",
    "tests/fig2cde_higgs_mnist_cifar10/test_cuda_graphs.py::test_graph_replay_is_bitwise_the_eager_steps",
]
TOLERANCE = {"fc": 1e-3, "lenet": 1e-2}  # max |W_gpu - W_cpu| / max |W_cpu| after the agreement steps


def training_settings() -> None:
    """float32 as the runs use it: no TF32, deterministic cuDNN."""
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False


def fc_net(K: int, device, noise_width: float = 0.0) -> LENetwork:
    """K networks of the Fig. 2b config (784-300-100-10), seeds 0..K-1."""
    cfgs = [load_config(FcConfig, FC_CONFIGS / "2b_le.yaml", ["device=cpu", f"seed={s}",
                                                              f"noise_width={noise_width}"])
            for s in range(K)]
    return LENetwork(cfgs, device=device, noise_seeds=list(range(K)))


def lenet(K: int, device):
    """K MNIST LeNet-5 LE networks (Fig. 2d hyper-parameters), seeds 0..K-1; K > 1: an ensemble."""
    def one(seed):
        torch.manual_seed(seed)
        return build_le("mnist", beta=0.1, tau=10.0, dt=0.1, eta=le_learning_rate(128, 100, 0.1),
                        lr_factors=[1.0, 0.2, 0.1, 0.1, 0.1, 0.1], variant="vanilla", device=device)
    return one(0) if K == 1 else stack([one(s) for s in range(K)], batched=True)  # the GPU's ensemble


def fc_batch(B: int, seed: int, device):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(B, 784, generator=g)  # B x 784
    y = torch.nn.functional.one_hot(torch.randint(0, 10, (B,), generator=g), 10).float()  # B x 10
    return x.to(device), y.to(device)


def lenet_batch(K: int, B: int, seed: int, device):
    """The ensemble input [B, K, 28, 28] (K = 1: [B, 1, 28, 28]) and target [K, B, 10] ([B, 10])."""
    g = torch.Generator().manual_seed(seed)
    xs = [torch.rand(B, 1, 28, 28, generator=g) for _ in range(K)]
    ys = [torch.nn.functional.one_hot(torch.randint(0, 10, (B,), generator=g), 10).float() for _ in range(K)]
    if K == 1:
        return xs[0].to(device), ys[0].to(device)
    return network_input(xs).to(device), torch.stack(ys).to(device)


def _lenet_weights(net):
    return [t for s in net.stages if s.has_weights for t in (s.W, s.b)]


def replay_equals_eager(device, B: int = 64, n: int = 10) -> dict:
    """Graph replay vs eager steps on `device`, bitwise, over train and eval batches."""
    eager, graphed = fc_net(3, device, 0.2), fc_net(3, device, 0.2)
    present = cuda_graph.GraphPresenter(graphed)
    fc = True
    for s in range(4):  # warm-up, capture + replay, replays
        x, y = fc_batch(B, s, device)
        for train in (True, False):
            fc &= torch.equal(eager.present(x, y, n, train), present(x, y, n, train))
    fc &= all(torch.equal(a, b) for a, b in zip(eager.W, graphed.W))
    eager, graphed = lenet(3, device), lenet(3, device)
    present = graphs.GraphedPresent(graphed)
    le = True
    for s in range(4):
        x, y = lenet_batch(3, B // 2, s, device)
        for train in (True, False):
            le &= torch.equal(eager.present(x, y if train else None, n, train),
                              present(x, y if train else None, n, train))
    le &= all(torch.equal(a, b) for a, b in zip(_lenet_weights(eager), _lenet_weights(graphed)))
    return {"fc": bool(fc), "lenet": bool(le)}


def _relative(a_list, b_list) -> float:
    diff = max(float((a.cpu() - b.cpu()).abs().max()) for a, b in zip(a_list, b_list))
    return diff / max(float(b.abs().max()) for b in b_list)


def gpu_vs_cpu(device, steps: int = 300, B: int = 64, n: int = 20) -> dict:
    """The same networks and batches on `device` and on the CPU, `steps` Euler steps, no noise."""
    out = {}
    nets = {"cpu": fc_net(1, "cpu"), "dev": fc_net(1, device)}
    present = cuda_graph.GraphPresenter(nets["dev"])
    for s in range(steps // n):
        x, y = fc_batch(B, s, "cpu")
        nets["cpu"].present(x, y, n, True)
        present(x.to(device), y.to(device), n, True)
    out["fc"] = _relative(nets["dev"].W, nets["cpu"].W)
    nets = {"cpu": lenet(1, "cpu"), "dev": lenet(1, device)}
    present = graphs.GraphedPresent(nets["dev"])
    for s in range(steps // n):
        x, y = lenet_batch(1, B // 2, s, "cpu")
        nets["cpu"].present(x, y, n, True)
        present(x.to(device), y.to(device), n, True)
    out["lenet"] = _relative(_lenet_weights(nets["dev"]), _lenet_weights(nets["cpu"]))
    return {k: {"steps": steps // n * n, "max_rel_weight_diff": v, "tolerance": TOLERANCE[k],
                "pass": v <= TOLERANCE[k]} for k, v in out.items()}


def _timed(present, x, y, n: int, repeats: int, sync, device) -> dict:
    """ms per Euler step of a training presentation of n steps (min over repeats), peak memory."""
    on_gpu = torch.device(device).type == "cuda"
    if on_gpu:
        torch.cuda.reset_peak_memory_stats()
    for _ in range(3):  # warm-up and capture (a fresh network's first batch has a key of its own)
        present(x, y, n, True)
    times = []
    for _ in range(repeats):
        sync()
        t0 = time.perf_counter()
        present(x, y, n, True)
        sync()
        times.append((time.perf_counter() - t0) / n)
    peak = torch.cuda.max_memory_allocated() / 2**20 if on_gpu else None
    return {"step_ms": min(times) * 1e3, "peak_memory_mib": peak}


def step_times(device, sync, B: int = 512, n: int = 100, repeats: int = 3) -> dict:
    rows = {}
    for K in (1, 15):
        net = fc_net(K, device)
        x, y = fc_batch(B, 0, device)
        rows[f"fc_k{K}"] = dict(_timed(cuda_graph.GraphPresenter(net), x, y, n, repeats, sync, device), K=K)
        del net
    net = lenet(9, device)
    x, y = lenet_batch(9, B, 0, device)
    rows["lenet_k9"] = dict(_timed(graphs.GraphedPresent(net), x, y, n, repeats, sync, device), K=9)
    for row in rows.values():
        row["per_network_ms"] = row["step_ms"] / row["K"]
        row.update(batch=B, n_updates=n)
    return rows


def cuda_tests() -> dict:
    cmd = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", *CUDA_TESTS]
    t0 = time.monotonic()
    try:
        out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=240)
    except subprocess.TimeoutExpired:
        return {"command": " ".join(cmd[1:]), "returncode": None, "summary": "timed out after 240 s",
                "wall_s": round(time.monotonic() - t0, 1), "pass": False}
    lines = [line for line in out.stdout.splitlines() if line.strip()]
    return {"command": " ".join(cmd[1:]), "returncode": out.returncode, "summary": lines[-1] if lines else "",
            "wall_s": round(time.monotonic() - t0, 1), "pass": out.returncode == 0 and "skipped" not in
            (lines[-1] if lines else "skipped")}


def run_checks(device, sync, quick: bool = False) -> dict:
    """Every check except the environment and the CUDA tests, on `device` (quick: tiny sizes)."""
    training_settings()
    report = {"replay_equals_eager": replay_equals_eager(device, B=8 if quick else 64, n=3 if quick else 10),
              "gpu_vs_cpu": gpu_vs_cpu(device, steps=6 if quick else 300, B=8 if quick else 64,
                                       n=3 if quick else 20),
              "step_times": step_times(device, sync, B=8 if quick else 512, n=3 if quick else 100,
                                       repeats=1 if quick else 3)}
    report["pass"] = (all(report["replay_equals_eager"].values())
                      and all(r["pass"] for r in report["gpu_vs_cpu"].values()))
    return report


def table(report: dict) -> str:
    rows = [("device", describe(report["device"])[len("device: "):])]
    if "cuda_tests" in report:
        rows.append(("CUDA tests", report["cuda_tests"]["summary"]))
    for k, ok in report["replay_equals_eager"].items():
        rows.append((f"graph replay == eager ({k})", "PASS" if ok else "FAIL"))
    for k, r in report["gpu_vs_cpu"].items():
        rows.append((f"GPU vs CPU, {r['steps']} steps ({k})", f"{'PASS' if r['pass'] else 'FAIL'} "
                     f"max rel. weight diff {r['max_rel_weight_diff']:.1e} (tol. {r['tolerance']:.0e})"))
    for k, r in report["step_times"].items():
        mem = f", peak {r['peak_memory_mib']:.0f} MiB" if r["peak_memory_mib"] is not None else ""
        rows.append((f"step time {k}", f"{r['step_ms']:.3f} ms per step ({r['per_network_ms']:.4f} ms per "
                     f"network), B = {r['batch']}{mem}"))
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name.ljust(width)}  {value}" for name, value in rows)


def default_out() -> Path:
    return Path(os.environ["OUT"]) / "gpu_check.json" if os.environ.get("OUT") else \
        Path("runs") / "gpu_check" / "gpu_check.json"


@entry_point
def main(argv=None) -> int:
    p = UsageParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=None, help="the JSON report (see above for the default)")
    args = p.parse_args(argv)
    if not torch.cuda.is_available():
        print(f"SKIP: torch sees no CUDA GPU (torch {torch.__version__}, CUDA build {torch.version.cuda}); "
              "nothing checked")
        return 0
    out = args.out or default_out()
    try:
        check_arch()
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    t0 = time.monotonic()
    report = {"device": device_record(torch.device("cuda")), "arch_list": torch.cuda.get_arch_list(),
              "cuda_tests": cuda_tests()}
    report.update(run_checks("cuda", torch.cuda.synchronize))
    report["pass"] = report["pass"] and report["cuda_tests"]["pass"]
    report["wall_s"] = round(time.monotonic() - t0, 1)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=1) + "\n")
    except OSError as err:
        print(f"error: cannot write {out}: {err.strerror or err}; choose another --out", file=sys.stderr)
        return 2
    print(table(report))
    print(f"{'PASS' if report['pass'] else 'FAIL'} in {report['wall_s']:.0f} s; report: {out}")
    return 0 if report["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
