"""The run folder: config.yaml, metrics.csv, summary.json, log.txt and the checkpoint of one run."""
import csv
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from common.checkpoint import load_checkpoint, save_checkpoint
from common.config import config_to_dict
from common.errors import Diverged, Interrupted, UsageError

REPO = Path(__file__).resolve().parents[1]
METRIC_COLUMNS = ["epoch", "split", "loss", "error", "accuracy", "wall_time"]
STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR1)


def default_run_dir(experiment_folder, config_path, seed):
    return Path(experiment_folder) / "runs" / Path(config_path).stem / f"seed{seed}"


def git_sha():
    try:
        out = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _write_atomic(path, text):
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _first_difference(old, new, prefix=""):
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key, "<absent>"), new.get(key, "<absent>")
        if isinstance(a, dict) and isinstance(b, dict):
            found = _first_difference(a, b, prefix + key + ".")
            if found:
                return found
        elif a != b:
            return f"'{prefix}{key}': {a!r} there, {b!r} now"
    return None


class _Tee:
    """A stream that writes to the original stream and to log.txt."""

    def __init__(self, stream, log):
        self.stream, self.log = stream, log

    def write(self, text):
        self.stream.write(text)
        self.log.write(text)
        return len(text)

    def flush(self):
        self.stream.flush()
        self.log.flush()

    def isatty(self):
        return self.stream.isatty()

    def fileno(self):
        return self.stream.fileno()

    def __getattr__(self, name):
        return getattr(self.stream, name)


class RunFolder:
    """Context manager around one run; see common/README.md for the protocol."""

    CHECKPOINT = "checkpoint.pt"

    def __init__(self, path, cfg, restart=False):
        self.path = Path(path)
        self.cfg = cfg
        self.config = config_to_dict(cfg)
        self.restart = restart
        self.resumed_state = None
        self.already_completed = False
        self.status = "running"
        self.exit_code = 0
        self.steps = 0
        self.final = {}
        self._rows = 0
        self._columns = None
        self._wall_before = 0.0
        self._stop_signal = None
        self._extra_summary = {}

    # ----------------------------------------------------------------------------- set-up
    @property
    def checkpoint_path(self):
        return self.path / self.CHECKPOINT

    def _prepare(self):
        config_file = self.path / "config.yaml"
        if self.path.exists() and config_file.is_file():
            old = yaml.safe_load(config_file.read_text()) or {}
            diff = _first_difference(old, self.config)
            if diff and not self.restart:
                raise UsageError(f"run folder {self.path} holds a run of another config ({diff}); "
                                 "rerun with --restart to discard it, or choose --out")
            if self.restart:
                shutil.rmtree(self.path)
            else:
                summary = self.path / "summary.json"
                if summary.is_file() and json.loads(summary.read_text()).get("status") == "completed":
                    self.already_completed = True
                    return
                self.resumed_state = load_checkpoint(self.checkpoint_path)
        self.path.mkdir(parents=True, exist_ok=True)
        metrics = self.path / "metrics.csv"
        if self.resumed_state is None:
            for name in ("metrics.csv", "log.txt", self.CHECKPOINT, "summary.json"):
                (self.path / name).unlink(missing_ok=True)
        else:
            self._rows = self.resumed_state.pop("_metrics_rows")
            self._wall_before = self.resumed_state.pop("_wall_time")
            self.steps = self.resumed_state.pop("_steps")
            self.resumed_state.pop("_config", None)
            if metrics.is_file():
                lines = metrics.read_text().splitlines(keepends=True)
                self._columns = lines[0].strip().split(",") if lines else None
                metrics.write_text("".join(lines[:self._rows + 1]))
        (self.path / "config.yaml").write_text(yaml.safe_dump(self.config, sort_keys=False))

    def __enter__(self):
        self._prepare()
        if self.already_completed:
            print(f"{self.path}: already completed (summary.json); use --restart to run it again")
            return self
        self._start = time.monotonic()
        self._sha = git_sha()
        self._log = open(self.path / "log.txt", "a", buffering=1)
        self._streams = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = _Tee(sys.stdout, self._log), _Tee(sys.stderr, self._log)
        self._old_handlers = {s: signal.signal(s, self._on_signal) for s in STOP_SIGNALS}
        if self.resumed_state is not None:
            print(f"resuming {self.path} from its checkpoint")
        self._write_summary()
        return self

    def _on_signal(self, signum, frame):
        self._stop_signal = signum

    # ----------------------------------------------------------------------------- during the run
    def wall_time(self):
        return self._wall_before + time.monotonic() - self._start

    def add_steps(self, n):
        self.steps += n

    def stop_requested(self):
        return self._stop_signal is not None

    @property
    def stop_signal(self):
        """The signal number that asked the run to stop, or None."""
        return self._stop_signal

    def check_stop(self):
        """Call at safe points: raises Interrupted once SIGTERM/SIGUSR1 has arrived."""
        if self._stop_signal is not None:
            raise Interrupted(self._stop_signal)

    def log_metrics(self, epoch, split, loss=None, error=None, accuracy=None, **extra):
        row = dict(epoch=epoch, split=split, loss=loss, error=error, accuracy=accuracy,
                   wall_time=round(self.wall_time(), 3), **extra)
        path = self.path / "metrics.csv"
        new = self._columns is None
        if new:
            self._columns = METRIC_COLUMNS + [k for k in extra]
        unknown = set(row) - set(self._columns)
        if unknown:
            raise ValueError(f"metrics columns {sorted(unknown)} were not in the first row")
        with open(path, "a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self._columns)
            if new:
                writer.writeheader()
            writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
            f.flush()
        self._rows += 1
        self._write_summary()

    def save_checkpoint(self, state):
        """Atomically store `state` together with the bookkeeping needed to resume exactly."""
        state = dict(state, _metrics_rows=self._rows, _wall_time=self.wall_time(),
                     _steps=self.steps, _config=self.config)
        save_checkpoint(self.checkpoint_path, state)

    def update_summary(self, **info):
        """Extra fields for summary.json (e.g. per-run notes of an ensemble)."""
        self._extra_summary.update(info)
        self._write_summary()

    def complete(self, final=None):
        self.final = dict(final or {})
        self.status = "completed"
        self._write_summary()

    # ----------------------------------------------------------------------------- tear-down
    def _write_summary(self, **info):
        wall = self.wall_time()
        summary = {
            "status": self.status,
            "final": self.final,
            "wall_time_s": round(wall, 3),
            "steps": self.steps,
            "steps_per_s": round(self.steps / wall, 3) if wall > 0 else None,
            "command": [sys.executable] + sys.argv,
            "host": socket.gethostname(),
            "versions": {"python": platform.python_version(), "numpy": np.__version__,
                         "torch": torch.__version__},
            "git_sha": self._sha,
            **self._extra_summary,
            **info,
        }
        _write_atomic(self.path / "summary.json", json.dumps(summary, indent=1, default=float))

    def __exit__(self, exc_type, exc, tb):
        if self.already_completed:
            return False
        suppress = False
        info = {}
        if exc_type is None:
            if self.status != "completed":
                self.status = "failed"
                info["error"] = "the run ended without completing"
        elif issubclass(exc_type, Interrupted):
            self.status, self.exit_code, suppress = "interrupted", 128 + exc.signum, True
            print(f"interrupted by signal {exc.signum}; rerun the same command to resume "
                  "from the last checkpoint")
        elif issubclass(exc_type, KeyboardInterrupt):
            self.status, self.exit_code, suppress = "interrupted", 130, True
            print("interrupted; rerun the same command to resume from the last checkpoint")
        elif issubclass(exc_type, Diverged):
            self.status, suppress = "diverged", True
            info = {"diverged_epoch": exc.epoch, "diverged_reason": exc.reason}
            print(f"run diverged at epoch {exc.epoch}: {exc.reason}")
        else:
            self.status = "failed"
            info["error"] = f"{exc_type.__name__}: {exc}"
        self._write_summary(**info)
        for s, handler in self._old_handlers.items():
            signal.signal(s, handler)
        sys.stdout, sys.stderr = self._streams
        self._log.close()
        return suppress
