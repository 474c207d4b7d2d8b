"""scripts/bench.py: PASS/FAIL from value vs goal, and robustness to missing or broken modules."""
import importlib.util
import json
import math
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _load_bench():
    spec = importlib.util.spec_from_file_location("bench_dispatch", REPO / "scripts" / "bench.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = _load_bench()

FAKE = '''
def measure(quick=False):
    return [
        {"name": "ratio_hi_pass", "value": 0.8, "goal": 0.7, "better": "higher", "unit": "", "details": {"q": float(quick)}},
        {"name": "ratio_hi_fail", "value": 0.5, "goal": 0.7, "better": "higher", "unit": "", "details": {}},
        {"name": "ratio_hi_equal", "value": 0.7, "goal": 0.7, "better": "higher", "unit": "", "details": {}},
        {"name": "time_lo_pass", "value": 1.2, "goal": 1.5, "better": "lower", "unit": "x", "details": {}},
        {"name": "time_lo_fail", "value": 2.0, "goal": 1.5, "better": "lower", "unit": "x", "details": {}},
        {"name": "nan_fails", "value": float("nan"), "goal": 1.5, "better": "lower", "unit": "x", "details": {}},
    ]
'''


@pytest.fixture
def modules(tmp_path):
    (tmp_path / "bench_fc.py").write_text(FAKE)
    (tmp_path / "bench_lenet.py").write_text("def measure(quick=False):\n    raise RuntimeError('boom')\n")
    (tmp_path / "bench_microcircuit.py").write_text(
        "def measure(quick=False):\n    return [{'name': 'x', 'value': 1.0, 'goal': 2.0, 'better': 'up', 'unit': ''}]\n")
    return tmp_path


def test_verdict_direction():
    assert bench.verdict({"value": 0.71, "goal": 0.7, "better": "higher"}) == "PASS"
    assert bench.verdict({"value": 0.69, "goal": 0.7, "better": "higher"}) == "FAIL"
    assert bench.verdict({"value": 1.49, "goal": 1.5, "better": "lower"}) == "PASS"
    assert bench.verdict({"value": 1.51, "goal": 1.5, "better": "lower"}) == "FAIL"
    assert bench.verdict({"value": math.inf, "goal": 1.5, "better": "higher"}) == "FAIL"


def test_rows_from_fake_module(modules):
    rows = bench.run_bench("fc", quick=True, modules_dir=modules)
    status = {r["name"]: r["status"] for r in rows}
    assert status == {"ratio_hi_pass": "PASS", "ratio_hi_fail": "FAIL", "ratio_hi_equal": "PASS",
                      "time_lo_pass": "PASS", "time_lo_fail": "FAIL", "nan_fails": "FAIL"}
    assert rows[0]["details"] == {"q": 1.0}  # quick was passed through


def test_missing_broken_and_malformed_modules(modules, tmp_path):
    (modules / "bench_fc.py").unlink()
    [missing] = bench.run_bench("fc", modules_dir=modules)
    assert missing["status"] == "MISSING" and "bench_fc.py" in missing["error"]
    [broken] = bench.run_bench("lenet", modules_dir=modules)
    assert broken["status"] == "ERROR" and "boom" in broken["error"]
    [bad] = bench.run_bench("microcircuit", modules_dir=modules)
    assert bad["status"] == "ERROR" and "better" in bad["error"]


def test_cli_json_and_exit_code(modules, capsys):
    assert bench.main(["all", "--json", "--quick"], modules_dir=modules) == 1
    rows = json.loads(capsys.readouterr().out)
    assert [r["bench"] for r in rows] == ["fc"] * 6 + ["lenet", "microcircuit"]
    (modules / "bench_lenet.py").write_text(
        "def measure(quick=False):\n    return [{'name': 'r', 'value': 1.0, 'goal': 1.5, 'better': 'lower', 'unit': 'x'}]\n")
    assert bench.main(["lenet"], modules_dir=modules) == 0
    text = capsys.readouterr().out
    assert "lenet: r" in text and "PASS" in text and "<= 1.5 x" in text


def test_skipped_rows_print_the_reason_and_never_pass(tmp_path, capsys):
    (tmp_path / "bench_fc.py").write_text(
        "def measure(quick=False):\n"
        "    return [{'name': 'cpu', 'value': 0.8, 'goal': 0.7, 'better': 'higher', 'unit': ''},\n"
        "            {'name': 'gpu', 'value': float('nan'), 'goal': 10.0, 'better': 'higher', 'unit': 'x',\n"
        "             'skip': 'no CUDA'}]\n")
    rows = bench.run_bench("fc", modules_dir=tmp_path)
    assert [r["status"] for r in rows] == ["PASS", "SKIP"]
    assert bench.main(["fc"], modules_dir=tmp_path) == 0  # a skipped row is not a failure
    text = capsys.readouterr().out
    assert "fc: gpu" in text and "SKIP (no CUDA)" in text and "1/2 targets met, 1 skipped" in text


def test_fc_gpu_rows_skip_without_cuda(monkeypatch):
    """The real bench_fc.measure() on a machine without CUDA: its three GPU rows are SKIP, not PASS."""
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA present: the GPU rows are measured")
    spec = importlib.util.spec_from_file_location("bench_fc_real", REPO / "scripts" / "bench_fc.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cpu_row = {"name": "cpu", "value": 1.0, "goal": 1.1, "better": "lower", "unit": "x"}
    monkeypatch.setattr(module, "_step_vs_matmul", lambda quick: cpu_row)  # the CPU timings are not under test
    monkeypatch.setattr(module, "_ensemble_cpu", lambda quick: cpu_row)
    rows = module.measure(quick=True)
    gpu = [r for r in rows if r["name"].startswith("fc_gpu_")]
    assert len(gpu) == 3 and all(r["skip"] == "no CUDA" and bench._check_row(r) is None for r in gpu)
    assert all(bench.verdict(r) != "PASS" for r in gpu)
