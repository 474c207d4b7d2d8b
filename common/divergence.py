"""NaN/inf and runaway detection that ends a run with status `diverged`."""
import math

import numpy as np
import torch

from common.errors import Diverged


def _max_abs(value):
    if isinstance(value, torch.Tensor):
        return float(value.detach().abs().max()) if value.numel() else 0.0
    arr = np.asarray(value, dtype=np.float64)
    return float(np.abs(arr).max()) if arr.size else 0.0


def check_finite(epoch, limit=None, **values):
    """Raise Diverged if any value is NaN/inf or (with `limit`) exceeds it in absolute value."""
    for name, value in values.items():
        m = _max_abs(value)
        if math.isnan(m) or math.isinf(m):
            raise Diverged(epoch, f"{name} is not finite")
        if limit is not None and m > limit:
            raise Diverged(epoch, f"|{name}| reached {m:.3g} > {limit:g}")
