"""Many RunFolders open at once for one ensemble simulation (entry-script side, does I/O).

common.RunFolder is a context manager for one run. An ensemble keeps K of them open; they are
entered in order and exited in reverse order, each with its own outcome (completed, diverged,
interrupted, failed), so every folder ends with the status of its own network. While the group is
open, SIGINT (Ctrl-C) is recorded like SIGTERM/SIGUSR1, so that the training loop stops at its next
check with every folder consistent (exit code 128 + signal).
"""
import signal
from pathlib import Path

import numpy as np
import yaml

from common.config import load_config_dict
from common.errors import Interrupted, UsageError
from common.runfolder import RunFolder


class RunGroup:
    def __init__(self, jobs, restart=False):
        """jobs: list of (cfg, out_dir). Completed runs are reported and dropped (self.runs)."""
        self.all = [RunFolder(out, cfg, restart=restart) for cfg, out in jobs]
        self.cfgs = [cfg for cfg, _ in jobs]
        self.outcome = {}

    def __enter__(self):
        self.entered = []
        for run in self.all:
            run.__enter__()
            if not run.already_completed:
                self.entered.append(run)
        self.runs = list(self.entered)
        self.run_cfgs = [c for r, c in zip(self.all, self.cfgs) if not r.already_completed]
        self._sigint = None
        self._old_sigint = signal.signal(signal.SIGINT, self._on_sigint)
        return self

    def _on_sigint(self, signum, frame):
        self._sigint = signum

    def stop_signal(self):
        """The signal that asked the ensemble to stop, or None."""
        if self._sigint is not None:
            return self._sigint
        for run in self.runs:
            if run.stop_requested():
                return run.stop_signal
        return None

    def check_stop(self):
        """Raises Interrupted once a stop signal has arrived (call between engine calls)."""
        sig = self.stop_signal()
        if sig is not None:
            raise Interrupted(sig)

    def mark(self, run, outcome):
        """outcome: None (completed) or an exception instance (Diverged, Interrupted, ...)."""
        self.outcome.setdefault(id(run), outcome)

    def __exit__(self, exc_type, exc, tb):
        signal.signal(signal.SIGINT, self._old_sigint)
        suppress = exc_type is None
        for run in reversed(self.entered):
            own = self.outcome.get(id(run), "missing")
            if exc_type is not None and (own == "missing" or own is None):
                run.__exit__(exc_type, exc, tb)
            elif own is None or own == "missing":
                run.__exit__(None, None, None)
            else:
                run.__exit__(type(own), own, None)
        if exc_type is not None and issubclass(exc_type, (Interrupted, KeyboardInterrupt)):
            suppress = True
        return suppress

    @property
    def exit_code(self):
        codes = [r.exit_code for r in self.entered]
        return max(codes) if codes else 0


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
