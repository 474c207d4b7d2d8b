"""Run-folder helpers of the microcircuit entry scripts (entry-script side, does I/O): network k's
state out of an ensemble state and back, and the checks of a finished run folder."""
from pathlib import Path

import numpy as np
import yaml

from common.config import load_config_dict
from common.errors import UsageError


def split_state(state, k):
    """State of network k from an ensemble state dict (arrays with leading K axis)."""
    return {key: np.array(v[k]) for key, v in state.items()}


def stack_states(states):
    return {key: np.stack([st[key] for st in states]) for key in states[0]}


def require_files(run_dir, names, what):
    """UsageError (exit 2, one line) unless run_dir holds every file in names."""
    for name in names:
        if not (Path(run_dir) / name).is_file():
            raise UsageError(f"{run_dir} is not a finished {what} run folder (no {name})")


def load_run_config(cfg_cls, run_dir):
    """The resolved config stored in a run folder, checked like a config file."""
    return load_config_dict(cfg_cls, yaml.safe_load((Path(run_dir) / "config.yaml").read_text()))
