"""`device`: auto follows torch's view of the GPU; cuda without a GPU is a one-line usage error."""
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
