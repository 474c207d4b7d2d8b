"""Checkpoint files that can neither execute code nor pass for good when damaged.

A checkpoint is one header line `LE-CHECKPOINT 1 sha256=<hex>` followed by a torch.save payload that
holds only tensors, numbers, strings, bytes, None and dicts/lists/tuples of them (read back with
torch.load(weights_only=True)). numpy arrays and scalars (e.g. numpy RNG states) are stored as tagged
byte tensors and come back as numpy. The file is written atomically (common/atomic.py).
Tensors come back on the CPU whatever device wrote them: the code that resumes moves them to its run's
device (a run may resume on a GPU from a checkpoint written on the CPU, and the other way round).
"""
import collections
import hashlib
import io
from pathlib import Path

import numpy as np
import torch

from common.atomic import write_atomic
from common.errors import UsageError

MAGIC = b"LE-CHECKPOINT 1 sha256="
_NUMPY = "__numpy__"                       # tag of an encoded numpy array or scalar


class CheckpointError(UsageError):
    """A checkpoint file is there but cannot be trusted."""


def _encode(obj):
    if isinstance(obj, (np.ndarray, np.generic)):
        arr = np.asarray(obj)
        if arr.dtype.hasobject:
            raise TypeError("a checkpoint cannot hold numpy object arrays")
        data = torch.from_numpy(np.frombuffer(np.ascontiguousarray(arr).tobytes(), np.uint8).copy())
        return {_NUMPY: arr.dtype.str, "shape": None if isinstance(obj, np.generic) else list(arr.shape),
                "data": data}
    if isinstance(obj, dict):
        items = [(k, _encode(v)) for k, v in obj.items()]
        return collections.OrderedDict(items) if isinstance(obj, collections.OrderedDict) else dict(items)
    if isinstance(obj, (list, tuple)):
        return type(obj)(_encode(v) for v in obj)
    if obj is None or isinstance(obj, (torch.Tensor, bool, int, float, str, bytes)):
        return obj
    raise TypeError(f"a checkpoint cannot hold {type(obj).__name__} values")


def _decode(obj):
    if isinstance(obj, dict):
        if _NUMPY in obj:
            arr = np.frombuffer(obj["data"].numpy().tobytes(), np.dtype(obj[_NUMPY]))
            return arr[0] if obj["shape"] is None else arr.reshape(obj["shape"]).copy()
        items = [(k, _decode(v)) for k, v in obj.items()]
        return collections.OrderedDict(items) if isinstance(obj, collections.OrderedDict) else dict(items)
    if isinstance(obj, (list, tuple)):
        return type(obj)(_decode(v) for v in obj)
    return obj


def save_checkpoint(path, state):
    """Write the dict `state` atomically; an OSError (full disk, read-only folder) leaves the previous
    checkpoint in place and removes the temp file."""
    buffer = io.BytesIO()
    torch.save(_encode(state), buffer)
    payload = buffer.getvalue()
    write_atomic(path, MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)


def load_checkpoint(path):
    """The saved dict, or None when there is no checkpoint; CheckpointError (one line naming the file)
    when the file is empty, truncated, altered, not a checkpoint, or not a file."""
    path = Path(path)
    if not path.exists():
        return None
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} is not a file")
    try:
        blob = path.read_bytes()
    except OSError as err:
        raise CheckpointError(f"checkpoint {path} cannot be read ({err.strerror or err})")
    header, _, payload = blob.partition(b"\n")
    if not blob:
        raise CheckpointError(f"checkpoint {path} is empty")
    if not header.startswith(MAGIC) or len(header) != len(MAGIC) + 64:
        raise CheckpointError(f"checkpoint {path} is not a checkpoint of this project (no LE-CHECKPOINT header)")
    if hashlib.sha256(payload).hexdigest().encode() != header[len(MAGIC):]:
        raise CheckpointError(f"checkpoint {path} is damaged (its sha256 does not match its contents)")
    try:
        state = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
        state = _decode(state)
    except Exception as err:          # unreadable despite the checksum: written by something else
        raise CheckpointError(f"checkpoint {path} cannot be read ({type(err).__name__})")
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint {path} does not hold a dict")
    return state
