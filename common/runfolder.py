"""The run folder: config.yaml, metrics.csv, summary.json, log.txt and the checkpoint of one run.

A process holds an OS lock (flock on `.lock`) on the folder while it runs in it, so a second process
is refused; the kernel drops the lock when the process dies, so a killed run never blocks its resume.
"""
import atexit
import csv
import fcntl
import io
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

from common.atomic import remove_temps, write_atomic
from common.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from common.config import config_to_dict
from common.errors import Diverged, Interrupted, UsageError

REPO = Path(__file__).resolve().parents[1]
METRIC_COLUMNS = ["epoch", "split", "loss", "error", "accuracy", "wall_time"]
STATUSES = ("running", "completed", "diverged", "failed", "interrupted")
STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR1)
LOCK = ".lock"
RESTART_HINT = "rerun with --restart to discard the run folder and start over"
_open_runs = set()        # entered and not yet exited; marked failed if the process ends first


def default_run_dir(experiment_folder, config_path, seed):
    return Path(experiment_folder) / "runs" / Path(config_path).stem / f"seed{seed}"


def git_sha():
    try:
        out = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _storage_error(path, err):
    path = Path(path)
    return UsageError(f"cannot write {path}: {getattr(err, 'strerror', None) or err}; free space or fix "
                      f"permissions in {path.parent}, then rerun the same command to resume")


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


class _Log:
    """log.txt. The first failed write (e.g. a full disk) raises a one-line UsageError; later writes
    are dropped, so messages printed while the run ends still reach the terminal."""

    def __init__(self, path):
        self.path = path
        try:
            self.file = open(path, "a", buffering=1)
        except OSError as err:
            raise _storage_error(path, err)
        self.raise_errors = True

    def _do(self, method, *args):
        if self.file is None:
            return
        try:
            getattr(self.file, method)(*args)
        except OSError as err:
            broken, self.file = self.file, None
            try:
                broken.close()
            except OSError:
                pass
            if self.raise_errors:
                raise _storage_error(self.path, err)

    def write(self, text):
        self._do("write", text)

    def flush(self):
        self._do("flush")

    def close(self):
        self.raise_errors = False
        self._do("close")
        self.file = None


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
        self._start = time.monotonic()
        self._sha = None
        self._stop_signal = None
        self._extra_summary = {}
        self._lock_fd = None
        self._log = None
        self._streams = None
        self._old_handlers = {}
        self._notes = []

    @property
    def checkpoint_path(self):
        return self.path / self.CHECKPOINT

    @property
    def summary_path(self):
        return self.path / "summary.json"

    # ----------------------------------------------------------------------------- lock
    def _lock(self):
        if self.path.exists() and not self.path.is_dir():
            raise UsageError(f"run folder {self.path} is a file, not a folder; choose another --out")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            raise UsageError(f"cannot write in run folder {self.path}: {err.strerror or err}; "
                             "choose another --out or make it writable")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 200).decode(errors="replace").strip()
            os.close(fd)
            raise UsageError(f"run folder {self.path} is in use by another process"
                             f"{f' ({holder})' if holder else ''}; wait for it to end or choose another --out")
        self._lock_fd = fd
        try:                                      # only for the message a second process prints
            os.ftruncate(fd, 0)
            os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}".encode())
        except OSError:
            pass

    def _unlock(self):
        if self._lock_fd is not None:
            os.close(self._lock_fd)               # closing drops the flock
            self._lock_fd = None

    # ----------------------------------------------------------------------------- set-up
    def _read_summary(self):
        """The summary of an earlier process, None if there is none; broken ones stop the start."""
        path = self.summary_path
        if not path.exists():
            return None
        try:
            summary = json.loads(path.read_text())
        except (OSError, ValueError) as err:        # UnicodeDecodeError and JSONDecodeError included
            raise UsageError(f"{path} cannot be read as JSON ({type(err).__name__}); {RESTART_HINT}")
        if not isinstance(summary, dict) or summary.get("status") not in STATUSES:
            raise UsageError(f"{path} is not a run summary (no status among {', '.join(STATUSES)}); "
                             f"{RESTART_HINT}")
        return summary

    def _load_resume_state(self):
        state = load_checkpoint(self.checkpoint_path)
        if state is None:
            return None
        missing = [k for k in ("_metrics_rows", "_wall_time", "_steps", "_config") if k not in state]
        if missing:
            raise CheckpointError(f"checkpoint {self.checkpoint_path} lacks '{missing[0]}'")
        stored = state["_config"]
        diff = _first_difference(stored, self.config) if isinstance(stored, dict) else "no config stored"
        if diff:
            raise CheckpointError(f"checkpoint {self.checkpoint_path} belongs to another run ({diff})")
        return state

    def _record_failure(self, reason, summary):
        """status `failed` with the reason, the rest of the old summary kept; best effort."""
        summary = dict(summary or {}, status="failed", error=reason)
        try:
            write_atomic(self.summary_path, json.dumps(summary, indent=1, default=float).encode())
        except OSError:
            pass

    def _clear(self):
        for child in self.path.iterdir():
            if child.name == LOCK:
                continue
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()

    def _prepare(self):
        remove_temps(self.checkpoint_path)
        remove_temps(self.summary_path)
        config_file = self.path / "config.yaml"
        if self.restart:
            self._clear()
        elif config_file.is_file():
            try:
                old = yaml.safe_load(config_file.read_text()) or {}
            except (OSError, ValueError, yaml.YAMLError) as err:
                raise UsageError(f"{config_file} cannot be read ({type(err).__name__}); {RESTART_HINT}")
            diff = _first_difference(old, self.config) if isinstance(old, dict) else "not a mapping"
            if diff:
                raise UsageError(f"run folder {self.path} holds a run of another config ({diff}); "
                                 "rerun with --restart to discard it, or choose --out")
            summary = self._read_summary()
            if summary is not None and summary["status"] == "completed":
                self.already_completed = True
                return
            if summary is not None and summary["status"] == "running":
                self._notes.append(f"note: {self.summary_path} said `running` but no process holds the "
                                   "folder: the previous process ended without recording why (killed, "
                                   "or out of disk space)")
            try:
                self.resumed_state = self._load_resume_state()
            except CheckpointError as err:
                self._record_failure(str(err), summary)
                raise UsageError(f"{err}; {RESTART_HINT}")
        metrics = self.path / "metrics.csv"
        if self.resumed_state is None:
            for name in ("metrics.csv", "log.txt", self.CHECKPOINT, "summary.json"):
                (self.path / name).unlink(missing_ok=True)
        else:
            self._rows = self.resumed_state.pop("_metrics_rows")
            self._wall_before = self.resumed_state.pop("_wall_time")
            self.steps = self.resumed_state.pop("_steps")
            self.resumed_state.pop("_config")
            if metrics.is_file():
                lines = metrics.read_text().splitlines(keepends=True)
                self._columns = lines[0].strip().split(",") if lines else None
                write_atomic(metrics, "".join(lines[:self._rows + 1]).encode())
        write_atomic(config_file, yaml.safe_dump(self.config, sort_keys=False).encode())

    def __enter__(self):
        self._lock()
        try:
            try:
                self._prepare()
            except OSError as err:
                raise _storage_error(err.filename or self.path, err)
            if self.already_completed:
                self._unlock()
                print(f"{self.path}: already completed (summary.json); use --restart to run it again")
                return self
            self._start = time.monotonic()
            self._sha = git_sha()
            self._log = _Log(self.path / "log.txt")
            self._streams = sys.stdout, sys.stderr
            sys.stdout, sys.stderr = _Tee(sys.stdout, self._log), _Tee(sys.stderr, self._log)
            self._old_handlers = {s: signal.signal(s, self._on_signal) for s in STOP_SIGNALS}
            for note in self._notes:
                print(note)
            if self.resumed_state is not None:
                print(f"resuming {self.path} from its checkpoint")
            self._write_summary()
        except BaseException:
            self._teardown()
            raise
        _open_runs.add(self)
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
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=self._columns)
        if new:
            writer.writeheader()
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
        try:                       # a partial row is dropped on resume (only _rows rows are kept)
            with open(path, "a", newline="") as f:
                f.write(text.getvalue())
        except OSError as err:
            raise _storage_error(path, err)
        self._rows += 1
        self._write_summary()

    def save_checkpoint(self, state):
        """Atomically store `state` together with the bookkeeping needed to resume exactly; a failed
        write (full disk) keeps the previous checkpoint and ends the run with a one-line error."""
        state = dict(state, _metrics_rows=self._rows, _wall_time=self.wall_time(),
                     _steps=self.steps, _config=self.config)
        try:
            save_checkpoint(self.checkpoint_path, state)
        except OSError as err:
            raise _storage_error(self.checkpoint_path, err)

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
        try:
            write_atomic(self.summary_path, json.dumps(summary, indent=1, default=float).encode())
        except OSError as err:
            raise _storage_error(self.summary_path, err)

    def _teardown(self):
        """Undo what __enter__ set up (each part once), then drop the lock."""
        for s, handler in self._old_handlers.items():
            signal.signal(s, handler)
        self._old_handlers = {}
        if self._streams is not None:
            sys.stdout, sys.stderr = self._streams
            self._streams = None
        if self._log is not None:
            self._log.close()
            self._log = None
        self._unlock()
        _open_runs.discard(self)

    def __exit__(self, exc_type, exc, tb):
        if self.already_completed:
            return False
        if self._log is not None:
            self._log.raise_errors = False            # the outcome below must not fail on log.txt
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
        try:
            self._write_summary(**info)
        except UsageError as err:
            # summary.json stays `running`: the next start finds the folder unlocked and says so
            if exc_type is None:
                self._teardown()
                raise err
        self._teardown()
        return suppress


@atexit.register
def _mark_unfinished():
    """A run still open when the interpreter exits (e.g. an ensemble whose later folder could not be
    entered) is recorded as failed rather than left `running`."""
    for run in list(_open_runs):
        run.__exit__(RuntimeError, RuntimeError("the process ended before the run finished"), None)
