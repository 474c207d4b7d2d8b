"""The `device` config key (cpu | cuda | auto) -> a torch.device, the same way in every folder."""
import torch

from common.errors import UsageError


def resolve_device(name):
    """'auto' picks cuda when torch sees a GPU, else cpu; 'cuda' without a GPU is a usage error."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name not in ("cpu", "cuda"):
        raise UsageError(f"config key 'device': {name!r} is not allowed (allowed: 'cpu', 'cuda', 'auto')")
    if name == "cuda" and not torch.cuda.is_available():
        raise UsageError("config key 'device': cuda requested but torch sees no GPU; "
                         "use device=cpu or device=auto")
    return torch.device(name)
