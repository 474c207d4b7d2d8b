"""The `device` config key (cpu | cuda | auto) -> a torch.device, the same way in every folder, and the
record of the device a run used (summary.json `device`, one line in log.txt)."""
import platform
import re
import subprocess

import torch

from common.errors import UsageError

# the torch build for GPUs the default (CUDA 13) build has no kernels for; README "Install"
OLD_GPU_BUILD = ("pip install torch==2.14.1 torchvision==0.29.1 "
                 "--index-url https://download.pytorch.org/whl/cu126")
NEW_GPU_BUILD = "pip install torch==2.14.1 torchvision==0.29.1"


def resolve_device(name):
    """'auto' picks cuda when torch sees a GPU, else cpu; 'cuda' without a GPU, or with a GPU this torch
    build has no kernels for, is a usage error."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name not in ("cpu", "cuda"):
        raise UsageError(f"config key 'device': {name!r} is not allowed (allowed: 'cpu', 'cuda', 'auto')")
    if name == "cuda" and not torch.cuda.is_available():
        raise UsageError("config key 'device': cuda requested but torch sees no GPU; "
                         "use device=cpu or device=auto")
    if name == "cuda":
        check_arch()
    return torch.device(name)


def _sm(arch):
    """'sm_86' / 'compute_90' / 'sm_90a' -> (8, 6) / (9, 0) / (9, 0): the last digit is the minor."""
    digits = re.sub(r"\D", "", arch.split("_", 1)[1])
    return int(digits[:-1]), int(digits[-1])


def has_kernels(capability, arch_list):
    """True when a build for `arch_list` runs on a GPU of `capability` (major, minor): a cubin sm_XY
    runs on X.Z with Z >= Y, PTX compute_XY is compiled for any later GPU; an empty list (a build
    that does not say) counts as yes."""
    if not arch_list:
        return True
    major, minor = capability
    for arch in arch_list:
        sm = _sm(arch)
        if arch.startswith("sm_") and sm[0] == major and sm[1] <= minor:
            return True
        if arch.startswith("compute_") and sm <= (major, minor):
            return True
    return False


def check_arch(index=0):
    """One-line UsageError when the installed torch has no kernels for GPU `index`."""
    capability = tuple(torch.cuda.get_device_capability(index))
    arch_list = torch.cuda.get_arch_list()
    if has_kernels(capability, arch_list):
        return
    name = torch.cuda.get_device_name(index)
    build = OLD_GPU_BUILD if capability < (7, 5) else NEW_GPU_BUILD
    raise UsageError(f"GPU {name} (sm_{capability[0]}{capability[1]}) has no kernels in torch "
                     f"{torch.__version__} (built for {' '.join(arch_list)}); install a build that has "
                     f"them: {build} (README, Install)")


def driver_version():
    """The NVIDIA driver version from nvidia-smi, 'unknown' without it."""
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    lines = out.stdout.strip().splitlines()
    if out.returncode == 0 and lines:
        return lines[0].strip()
    return "unknown"


def device_record(device):
    """What a run records about its device: name, compute capability, torch/CUDA versions, driver.
    `device`: a torch.device or a config value; never raises (resolve_device does the checking)."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError):
        device = torch.device("cpu")
    if device.type == "cuda" and torch.cuda.is_available():
        index = device.index or 0
        major, minor = torch.cuda.get_device_capability(index)
        return {"type": "cuda", "name": torch.cuda.get_device_name(index), "capability": f"{major}.{minor}",
                "torch": torch.__version__, "cuda": torch.version.cuda, "driver": driver_version()}
    return {"type": "cpu", "name": platform.processor() or platform.machine() or "cpu", "capability": None,
            "torch": torch.__version__, "cuda": torch.version.cuda, "driver": None}


def describe(record):
    """One log line for a device_record."""
    if record["type"] == "cpu":
        return f"device: cpu ({record['name']}), torch {record['torch']}"
    return (f"device: {record['name']} (compute capability {record['capability']}), torch "
            f"{record['torch']}, CUDA {record['cuda']}, driver {record['driver']}")
