"""The array files of the microcircuit run folders (entry-script side, does I/O): weights, traces and
evaluation records as .npz, and the checks of a finished run folder."""
import io
from pathlib import Path

import numpy as np
import yaml

from common.atomic import write_atomic
from common.config import load_config_dict
from common.errors import UsageError


def save_arrays(path, arrays):
    """One .npz file of named arrays (scalars and flags included); see write_array_file."""
    write_array_file(path, np.savez, **{key: np.asarray(v) for key, v in arrays.items()})


def save_array(path, a):
    """One .npy file; see write_array_file."""
    write_array_file(path, np.save, np.asarray(a))


def write_array_file(path, writer, *args, **kwargs):
    """writer(file, *args, **kwargs) into `path` (its folder made if needed), atomically. A failed
    write (full disk) leaves no partial file and ends the run with one line naming the folder; the
    rerun of the same command redoes the work since the last checkpoint."""
    path = Path(path)
    buf = io.BytesIO()
    writer(buf, *args, **kwargs)
    try:
        path.parent.mkdir(exist_ok=True)
        write_atomic(path, buf.getbuffer())
    except OSError as err:
        raise UsageError(f"cannot write {path}: {err.strerror or err}; free space or fix permissions "
                         f"in {path.parent}, then rerun the same command to resume") from None


def load_weights(net, path, k=0):
    """Network k's weights from a weights .npz (keys W_up_1, W_down_1, ..., W_up_out)."""
    with np.load(path, allow_pickle=False) as z:
        net.set_weights(k, {key: z[key] for key in z.files})


def require_files(run_dir, names, what):
    """UsageError (exit 2, one line) unless run_dir holds every file in names."""
    for name in names:
        if not (Path(run_dir) / name).is_file():
            raise UsageError(f"{run_dir} is not a finished {what} run folder (no {name})")


def load_run_config(cfg_cls, run_dir):
    """The resolved config stored in a run folder, checked like a config file."""
    return load_config_dict(cfg_cls, yaml.safe_load((Path(run_dir) / "config.yaml").read_text()))
