"""`device`: auto follows torch's view of the GPU; cuda without a GPU or without kernels for it is a one-line
usage error naming the build to install; every run records its device."""
import json
import subprocess
import sys

import pytest
import torch

from common import device as device_module
from common.device import resolve_device
from common.errors import UsageError

from tests.common.test_entry_cli import CONFIG, TOY


@pytest.mark.parametrize("gpu", [False, True])
def test_auto_follows_cuda_availability(monkeypatch, gpu):
    monkeypatch.setattr(device_module.torch.cuda, "is_available", lambda: gpu)
    if gpu:
        _fake_gpu(monkeypatch, "NVIDIA H100 80GB HBM3", (9, 0), CU130)
    assert resolve_device("auto") == torch.device("cuda" if gpu else "cpu")
    assert resolve_device("cpu") == torch.device("cpu")


def test_cuda_without_gpu_is_a_usage_error(monkeypatch):
    monkeypatch.setattr(device_module.torch.cuda, "is_available", lambda: False)
    with pytest.raises(UsageError) as info:
        resolve_device("cuda")
    assert "'device'" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(UsageError, match="'tpu'"):
        resolve_device("tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine where torch sees no GPU")
def test_entry_with_cuda_on_cpu_machine_exits_2(tmp_path):
    cfg = tmp_path / "toy.yaml"
    cfg.write_text(CONFIG)
    out = subprocess.run([sys.executable, str(TOY), str(cfg), "--out", str(tmp_path / "run"),
                          "device=cuda"], capture_output=True, text=True)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "'device'" in lines[0]
    assert not (tmp_path / "run").exists()


CU130 = ["sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"]   # torch 2.14.1's default build
CU126 = ["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"]


def _fake_gpu(monkeypatch, name, capability, arch_list):
    cuda = device_module.torch.cuda
    monkeypatch.setattr(cuda, "is_available", lambda: True)
    monkeypatch.setattr(cuda, "get_device_capability", lambda index=0: capability)
    monkeypatch.setattr(cuda, "get_device_name", lambda index=0: name)
    monkeypatch.setattr(cuda, "get_arch_list", lambda: list(arch_list))


@pytest.mark.parametrize("capability, arch_list, ok", [
    ((7, 0), CU130, False),                     # V100 on the CUDA 13 build: no kernels
    ((7, 0), CU126, True),
    ((9, 0), CU130, True),
    ((8, 9), ["sm_80", "sm_86"], True),         # a cubin sm_86 runs on 8.9 (same major, later minor)
    ((8, 0), ["sm_86"], False),                 # ... but not on 8.0
    ((12, 0), ["sm_90", "compute_90"], True),   # PTX compiles for any later GPU
    ((12, 0), ["sm_90"], False),
])
def test_has_kernels_follows_cuda_binary_compatibility(capability, arch_list, ok):
    assert device_module.has_kernels(capability, arch_list) is ok


def test_gpu_without_kernels_stops_with_the_build_to_install(monkeypatch):
    _fake_gpu(monkeypatch, "Tesla V100-SXM2-32GB", (7, 0), CU130)
    with pytest.raises(UsageError) as info:
        resolve_device("cuda")
    line = str(info.value)
    assert "\n" not in line and "sm_70" in line and "V100" in line
    assert "--index-url https://download.pytorch.org/whl/cu126" in line
    _fake_gpu(monkeypatch, "NVIDIA H100 80GB HBM3", (9, 0), CU130)
    assert resolve_device("cuda") == torch.device("cuda")


def test_entry_on_a_gpu_without_kernels_exits_2_before_any_run_folder(monkeypatch, tmp_path, capsys):
    from tests.common import toy_entry
    _fake_gpu(monkeypatch, "Tesla V100-SXM2-32GB", (7, 0), CU130)
    cfg = tmp_path / "toy.yaml"
    cfg.write_text(CONFIG)
    assert toy_entry.main([str(cfg), "--out", str(tmp_path / "run"), "device=cuda"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cu126" in err[0] and not (tmp_path / "run").exists()


def test_device_record_of_a_gpu(monkeypatch):
    _fake_gpu(monkeypatch, "NVIDIA H100 80GB HBM3", (9, 0), CU130)
    monkeypatch.setattr(device_module, "driver_version", lambda: "580.65.06")
    record = device_module.device_record(torch.device("cuda"))
    assert record == {"type": "cuda", "name": "NVIDIA H100 80GB HBM3", "capability": "9.0",
                      "torch": torch.__version__, "cuda": torch.version.cuda, "driver": "580.65.06"}
    assert "9.0" in device_module.describe(record) and "580.65.06" in device_module.describe(record)


def test_every_run_records_its_device_in_summary_and_log(tmp_path):
    from tests.common import toy_entry
    cfg = tmp_path / "toy.yaml"
    cfg.write_text(CONFIG)
    assert toy_entry.main([str(cfg), "--out", str(tmp_path / "run")]) == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["device"]["type"] == "cpu" and summary["device"]["torch"] == torch.__version__
    assert device_module.describe(summary["device"]) in (tmp_path / "run" / "log.txt").read_text()
