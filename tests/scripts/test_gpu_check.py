"""scripts/gpu_check.py: without a GPU it prints SKIP and exits 0, writing nothing; its checks run on
the CPU with the presenters' graph calls emulated (tests/graph_emulation.py), where the graphed
networks must equal the eager ones bitwise and the "GPU" run (here: graphs replayed on the CPU) must
equal the CPU run exactly."""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from fig2b_fig4ac_mnist.src import cuda_graph
from fig2cde_higgs_mnist_cifar10 import graphs
from tests.graph_emulation import install

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "gpu_check.py"


def _module():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine where torch sees no GPU")
def test_without_a_gpu_it_prints_skip_and_writes_nothing(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1", "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, str(SCRIPT)], cwd=tmp_path, capture_output=True, text=True,
                         timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("SKIP") and "PASS" not in out.stdout
    assert list(tmp_path.iterdir()) == []


def test_report_goes_to_out_or_a_run_folder(monkeypatch):
    gpu_check = _module()
    monkeypatch.setenv("OUT", "/tmp/device-out")
    assert gpu_check.default_out() == Path("/tmp/device-out/gpu_check.json")
    monkeypatch.delenv("OUT")
    assert gpu_check.default_out() == Path("runs/gpu_check/gpu_check.json")


def test_checks_on_the_cpu_with_emulated_graphs(monkeypatch):
    gpu_check = _module()
    from tests.fig2b_fig4ac_mnist.test_cuda_graph import host_side
    nets = []
    original = cuda_graph.GraphPresenter.__init__

    def remember(self, net):
        nets.append(net)
        original(self, net)

    monkeypatch.setattr(cuda_graph.GraphPresenter, "__init__", remember)
    install(monkeypatch, cuda_graph, graphs, host_tensors=lambda: [t for n in nets for t in host_side(n)])
    report = gpu_check.run_checks("cpu", lambda: None, quick=True)
    assert report["replay_equals_eager"] == {"fc": True, "lenet": True}
    assert {k: r["max_rel_weight_diff"] for k, r in report["gpu_vs_cpu"].items()} == {"fc": 0.0, "lenet": 0.0}
    assert report["pass"] is True
    times = report["step_times"]
    assert sorted(times) == ["fc_k1", "fc_k15", "lenet_k9"]
    for name, row in times.items():
        assert row["K"] == int(name.split("_k")[1]) and row["step_ms"] > 0
        assert row["per_network_ms"] == pytest.approx(row["step_ms"] / row["K"])
        assert row["peak_memory_mib"] is None  # measured on a GPU only
    report["device"] = {"type": "cpu", "name": "x86_64", "torch": torch.__version__, "cuda": None,
                        "capability": None, "driver": None}
    text = gpu_check.table(report)
    lines = text.splitlines()
    assert any(line.startswith("graph replay == eager (lenet)") and line.endswith("PASS") for line in lines)
    assert any(line.startswith("step time fc_k15") for line in lines)
    json.dumps(report)  # the report is plain JSON


def test_the_cuda_tests_it_runs_exist():
    out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                          *_module().CUDA_TESTS], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    collected = [line for line in out.stdout.splitlines() if "::" in line]
    assert sum("[cuda" in line for line in collected) >= 5  # fc replay and the 4 LeNet/HIGGS cases
