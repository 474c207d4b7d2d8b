"""Atomic checkpoint files: a crash mid-write leaves the previous checkpoint intact."""
import os
import tempfile
from pathlib import Path

import torch


def save_checkpoint(path, state):
    """Write `state` (any torch.save-able dict) to a temp file, fsync, then rename over `path`."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_checkpoint(path):
    """The saved dict, or None when there is no checkpoint."""
    path = Path(path)
    if not path.is_file():
        return None
    return torch.load(path, map_location="cpu", weights_only=False)
