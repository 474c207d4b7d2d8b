"""The run folder: config.yaml, metrics.csv, summary.json, log.txt and the checkpoint of one run.

A process holds an OS lock (flock on `.lock`) on the folder while it runs in it, so a second process
is refused; the kernel drops the lock when the process dies, so a killed run never blocks its resume.

A folder is used only when it is empty, or holds nothing but files this project writes
(PROJECT_FILES); it is resumed only when its config.yaml is the run's config. `--restart` removes
only PROJECT_FILES. The repository root and the folders above it are never run folders.
"""
import atexit
import contextlib
import csv
import fcntl
import fnmatch
import io
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from common.atomic import write_atomic
from common.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from common.config import MAX_BYTES, ConfigError, config_to_dict, read_yaml
from common.device import describe, device_record
from common.errors import Diverged, Interrupted, UsageError

REPO = Path(__file__).resolve().parents[1]
METRIC_COLUMNS = ["epoch", "split", "loss", "error", "accuracy", "wall_time"]
STATUSES = ("running", "completed", "diverged", "failed", "interrupted")
STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR1)
LOCK = ".lock"
RESTART_HINT = "rerun with --restart to discard the run folder and start over"
# Every file an entry script of this project writes into a run folder, as glob patterns relative to
# it ("/" for a sub-folder); a `P.*.tmp` beside one is an unfinished atomic write of it. `--restart`
# removes only these, and a folder that holds anything else is never used. An entry script that
# writes a new kind of file adds its pattern here (tests/test_bad_input.py checks every entry).
PROJECT_FILES = (
    # every run: this module
    "config.yaml", "metrics.csv", "summary.json", "log.txt", "checkpoint.pt", LOCK,
    # fig2b_fig4ac_mnist/src: fourier_synthesis.py, relaxation_demo.py
    "le.npy", "no_prospective.npy", "fourier_synthesis.png", "traces.npz", "relaxation.png",
    # fig3fig5_dendritic_microcircuits/src: bars_train.py, run_bars.py
    "weights_pre.npz", "weights_post.npz", "weights_epoch[0-9]*.npz", "eval_train.npz", "eval_test.npz",
    "traces/train_epochs_*.npz", "bars_*.png",
    # fig3fig5_dendritic_microcircuits/src: run_single_mc.py, mimic_plots.py
    "teacher.npz", "weights_init.npz", "weights_post_selfpred.npz", "selfpred_traces.npz",
    "train_traces.npz", "eval_pretrain_train.npz", "eval_pretrain_test.npz", "val_mse.npy", "mimic_*.png",
)
_PROJECT_DIRS = {p.rsplit("/", 1)[0] for p in PROJECT_FILES if "/" in p}
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


def _is_temp(rel):
    return any(fnmatch.fnmatchcase(rel, p + ".*.tmp") or rel == p + ".tmp" for p in PROJECT_FILES)


def _is_project_file(rel):
    return any(fnmatch.fnmatchcase(rel, p) for p in PROJECT_FILES) or _is_temp(rel)


def folder_contents(path):
    """(project files, foreign entries) under the folder `path`, as paths relative to it: project
    files are regular files named in PROJECT_FILES (temp files of them included); everything else
    (other names, links, pipes, other folders) is foreign. Sub-folders of PROJECT_FILES are walked."""
    ours, foreign = [], []

    def walk(folder, prefix):
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            rel = prefix + entry.name
            if entry.is_dir(follow_symlinks=False) and rel in _PROJECT_DIRS:
                walk(entry.path, rel + "/")
            elif entry.is_file(follow_symlinks=False) and _is_project_file(rel):
                ours.append(rel)
            else:
                foreign.append(rel + ("/" if entry.is_dir(follow_symlinks=False) else ""))

    walk(path, "")
    return ours, foreign


def check_place(path):
    """A run folder (or any output folder of an entry) is never the repository root or above it, nor
    a folder with files this project did not write: UsageError (one line) if it is."""
    resolved = path.resolve()
    if resolved == REPO or resolved in REPO.parents:
        raise UsageError(f"run folder {path} is the repository root or a folder above it; "
                         "choose a folder of its own with --out (e.g. runs/NAME)")
    if not path.is_dir():
        return
    try:
        _, foreign = folder_contents(path)
    except OSError as err:
        raise UsageError(f"cannot read run folder {path}: {err.strerror or err}; "
                         "choose another --out or make it readable")
    if foreign:
        more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
        raise UsageError(f"run folder {path} holds {foreign[0]}{more}, which this project did not "
                         "write; it is left as it is: choose an empty or new folder with --out, or "
                         "move those files away")


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
        self._lines = []                  # metrics.csv as written so far (header first)
        self._columns = None
        self._pending_final = None        # final metrics of a final checkpoint not yet marked completed
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
        self._device = None                       # summary.json `device` (common/device.py)

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
        check_place(self.path)                   # before anything is written there
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
        missing = [k for k in ("_metrics", "_wall_time", "_steps", "_config") if k not in state]
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
        """Remove the project files (config.yaml last, so that a half-cleared folder still says
        whose it is) and the project sub-folders they leave empty; nothing else is touched."""
        ours, _ = folder_contents(self.path)
        for rel in sorted((r for r in ours if r != LOCK), key=lambda r: r == "config.yaml"):
            (self.path / rel).unlink(missing_ok=True)
        for rel in _PROJECT_DIRS:
            folder = self.path / rel
            if folder.is_dir() and not folder.is_symlink() and not any(folder.iterdir()):
                folder.rmdir()

    def _read_config_file(self):
        """The config stored in the folder; a folder of run files without a readable config.yaml is
        not provably a run of this config and is refused."""
        config_file = self.path / "config.yaml"
        if not config_file.is_file():
            ours = [r for r in folder_contents(self.path)[0] if r != LOCK and not _is_temp(r)]
            raise UsageError(f"run folder {self.path} holds {', '.join(ours[:3])} but no config.yaml, "
                             f"so it cannot be a resumable run of this config; {RESTART_HINT}, or choose "
                             "another --out")
        try:
            old = read_yaml(config_file, max_bytes=4 * MAX_BYTES)
        except ConfigError as err:
            raise UsageError(f"{err}; {RESTART_HINT}")
        diff = _first_difference(old, self.config) if isinstance(old, dict) else "not a mapping"
        if diff:
            raise UsageError(f"run folder {self.path} holds a run of another config ({diff}); "
                             "rerun with --restart to discard it, or choose --out")

    def _restore_metrics(self, text):
        """metrics.csv as the checkpoint recorded it: rows written after the checkpoint are dropped,
        and a file that was deleted or cut is rebuilt (and said so)."""
        path = self.path / "metrics.csv"
        try:
            now = path.read_bytes().decode()           # as written: csv rows end in \r\n
        except (OSError, UnicodeDecodeError):
            now = ""
        if not now.startswith(text):
            self._notes.append(f"note: {path} was missing or did not hold the rows of the checkpoint; "
                               "rebuilt from the checkpoint")
        lines = text.splitlines(keepends=True)
        self._lines = lines
        self._columns = lines[0].strip().split(",") if lines else None
        if now != text:
            write_atomic(path, text.encode())

    def _rebuild_completed_metrics(self):
        """metrics.csv of a completed run was deleted: rebuilt from a final checkpoint, else said."""
        path = self.path / "metrics.csv"
        try:
            state = load_checkpoint(self.checkpoint_path)
        except CheckpointError:
            state = None
        if state is not None and "_final" in state and "_metrics" in state:
            write_atomic(path, state["_metrics"].encode())
            print(f"note: {path} was missing; rebuilt from the final checkpoint")
        else:
            print(f"note: {path} is missing; rerun with --restart to compute the run again")

    def _prepare(self):
        ours, _ = folder_contents(self.path)
        for rel in ours:
            if _is_temp(rel):                     # left by a process killed while writing
                (self.path / rel).unlink(missing_ok=True)
        if self.restart:
            self._clear()
        elif any(rel != LOCK and not _is_temp(rel) for rel in ours):
            self._read_config_file()
            summary = self._read_summary()
            if summary is not None and summary["status"] == "completed":
                self.already_completed = True
                if not (self.path / "metrics.csv").is_file():
                    self._rebuild_completed_metrics()
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
            if self.resumed_state is None:        # this config's run, not checkpointed: start over
                self._clear()
        if self.resumed_state is not None:
            self._restore_metrics(self.resumed_state.pop("_metrics"))
            self._wall_before = self.resumed_state.pop("_wall_time")
            self.steps = self.resumed_state.pop("_steps")
            self.resumed_state.pop("_config")
            self._pending_final = self.resumed_state.pop("_final", None)
        write_atomic(self.path / "config.yaml", yaml.safe_dump(self.config, sort_keys=False).encode())

    def __enter__(self):
        self._lock()
        try:
            try:
                self._prepare()
            except OSError as err:
                raise _storage_error(err.filename or self.path, err)
            if self.already_completed:
                self._unlock()
                print(f"{self.path}: already completed (summary.json), kept as it is (to compute it again: "
                      f"--restart on its single-run command, or --restart-run {self.path} on its sweep)")
                return self
            self._start = time.monotonic()
            self._sha = git_sha()
            self._log = _Log(self.path / "log.txt")
            self._streams = sys.stdout, sys.stderr
            sys.stdout, sys.stderr = _Tee(sys.stdout, self._log), _Tee(sys.stderr, self._log)
            self._old_handlers = {s: signal.signal(s, self._on_signal) for s in STOP_SIGNALS}
            self._device = device_record(getattr(self.cfg, "device", "cpu"))
            self._log.write(describe(self._device) + "\n")
            for note in self._notes:
                print(note)
            if self._pending_final is not None:
                print(f"{self.path}: completed from its final checkpoint (the previous process ended "
                      "before it could record that)")
                self.complete(self._pending_final)
                self.already_completed = True
                self._teardown()
                return self
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
        try:                       # a partial row is dropped on resume (the checkpoint holds the rows)
            with open(path, "a", newline="") as f:
                f.write(text.getvalue())
        except OSError as err:
            raise _storage_error(path, err)
        self._lines += text.getvalue().splitlines(keepends=True)
        self._write_summary()

    def save_checkpoint(self, state, final=None):
        """Atomically store `state` together with the bookkeeping needed to resume exactly (the
        metrics rows so far included); a failed write (full disk) keeps the previous checkpoint and
        ends the run with a one-line error. `final`: this is the run's last checkpoint and these are
        its final metrics; the run is marked completed right after, and a process that dies between
        the two is completed by the rerun from the checkpoint."""
        state = dict(state, _metrics="".join(self._lines), _wall_time=self.wall_time(),
                     _steps=self.steps, _config=self.config)
        if final is not None:
            state["_final"] = dict(final)
        try:
            save_checkpoint(self.checkpoint_path, state)
        except OSError as err:
            raise _storage_error(self.checkpoint_path, err)
        if final is not None:
            self.complete(final)

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
            "device": self._device,
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
        with _sigint_deferred():                      # a second Ctrl-C must not cut the outcome short
            return self._end(exc_type, exc)

    def _end(self, exc_type, exc):
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


@contextlib.contextmanager
def _sigint_deferred():
    """Ignore Ctrl-C inside the block (main thread only: elsewhere signals cannot be handled)."""
    main = threading.current_thread() is threading.main_thread()
    old = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        yield
    finally:
        if old is not None:
            signal.signal(signal.SIGINT, old)


@atexit.register
def _mark_unfinished():
    """A run still open when the interpreter exits (e.g. an ensemble whose later folder could not be
    entered) is recorded as failed rather than left `running`."""
    for run in list(_open_runs):
        run.__exit__(RuntimeError, RuntimeError("the process ended before the run finished"), None)
