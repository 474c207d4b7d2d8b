"""The K run folders of one ensemble, open together, and a sweep's runs grouped into ensembles.

An ensemble steps K networks at once but each network keeps its own standard run folder, so
`RunGroup` enters K RunFolders in order and exits them in reverse order, each with the outcome of its
own network: completed, diverged, interrupted or failed. Completed and diverged runs are final: a
rerun leaves them out unless `restart` names them.
"""
import json
import signal
from dataclasses import dataclass, field
from pathlib import Path

from common.config import MAX_BYTES, ConfigError, config_to_dict, read_yaml
from common.errors import Interrupted, UsageError
from common.runfolder import RunFolder, check_place

_OPEN = object()        # no outcome of its own: the folder ends with the group's


@dataclass(frozen=True)
class Restart:
    """Which runs of a group start over: the run folders in `runs`, whatever their status, and with
    `broken` every run whose folder refuses to resume for what it holds (another config, unreadable
    records, a broken checkpoint), not for an operating-system reason (lock held, disk full,
    permissions). Every other folder keeps its files."""
    runs: frozenset = field(default_factory=frozenset)
    broken: bool = False

    @classmethod
    def of(cls, restart, jobs):
        """True: every run of `jobs` (a single-run --restart names its folder); False: none."""
        if isinstance(restart, Restart):
            return restart
        return cls(frozenset(Path(out).resolve() for _, out in jobs) if restart else frozenset())

    def names(self, path):
        return Path(path).resolve() in self.runs


def _refused_for_content(err):
    """A RunFolder refusal caused by the folder's contents, not by the OS (those chain an OSError,
    directly or under the ConfigError of a config.yaml that cannot be read)."""
    cause = err.__context__
    while cause is not None:
        if isinstance(cause, OSError):
            return False
        cause = cause.__context__
    return True


def earlier_divergence(path, cfg):
    """The summary of an earlier run of this config in `path` that ended `diverged`, else None."""
    path = Path(path)
    if not ((path / "summary.json").is_file() and (path / "config.yaml").is_file()):
        return None                     # never open a pipe: RunFolder refuses such a folder itself
    try:
        summary = json.loads((path / "summary.json").read_text())
        config = read_yaml(path / "config.yaml", max_bytes=4 * MAX_BYTES)
    except (OSError, ValueError, ConfigError):
        return None
    if isinstance(summary, dict) and summary.get("status") == "diverged" and config == config_to_dict(cfg):
        return summary
    return None


class RunGroup:
    """Context manager around the run folders of one ensemble.

    jobs: [(cfg, out_dir)]; restart: True (start every run over), False, or a `Restart`. Folders
    whose summary says `completed` or `diverged` are reported and left out, untouched, unless restart
    names them (`already_diverged` lists the latter); the others are `entered` and listed with their
    configs as `members` [(run, cfg)]. A folder that refuses to resume for its contents starts over
    where `restart.broken`; any other refusal ends the group's start. A run that called
    `complete()` ends completed, one given an outcome by `mark` ends with that, and every other run
    ends with the exception (or none) the `with` block ends with. If a folder cannot be entered (held
    by another process, a broken checkpoint) the ones already entered end `failed` and the error goes
    on. With `sigint_stops`, Ctrl-C while the group is open is a stop request like SIGTERM/SIGUSR1,
    so the training loop ends at its next `check_stop` with every folder consistent.
    """

    def __init__(self, jobs, restart=False, sigint_stops=False):
        self.restart = Restart.of(restart, jobs)
        self.in_sweep = isinstance(restart, Restart)  # refusals advise the sweep's own options
        self.all = [RunFolder(out, cfg, restart=self.restart.names(out)) for cfg, out in jobs]
        self.cfgs = [cfg for cfg, _ in jobs]
        self.already_diverged = []
        self.sigint_stops = sigint_stops
        self.entered = []
        self.members = []
        self._outcome = {}
        self._sigint = None
        self._old_sigint = None

    def __enter__(self):
        try:
            for i, run in enumerate(self.all):
                if not self.restart.names(run.path) and self._diverged_before(run):
                    continue
                self.all[i] = run = self._enter(run)
                if not run.already_completed:
                    self.entered.append(run)
        except BaseException as err:
            self.__exit__(type(err), err, err.__traceback__)
            raise
        self.members = [(r, c) for r, c in zip(self.all, self.cfgs) if r in self.entered]
        if self.sigint_stops:
            self._old_sigint = signal.signal(signal.SIGINT, self._on_sigint)
        return self

    def _diverged_before(self, run):
        summary = earlier_divergence(run.path, run.cfg)
        if summary is None:
            return False
        self.already_diverged.append(run)
        again = f"the sweep with --restart-run {run.path}" if self.in_sweep else "it with --restart"
        print(f"{run.path}: diverged at epoch {summary.get('diverged_epoch')} ({summary.get('diverged_reason')})"
              f" in an earlier run; kept as it is (rerun {again} to compute it again)")
        return True

    def _enter(self, run):
        """Enter `run`; where it refuses for its contents and broken runs restart, start it over."""
        try:
            run.__enter__()
            return run
        except UsageError as err:
            if not (_refused_for_content(err) and run.path.is_dir()):
                raise
            check_place(run.path)  # files this project did not write: no restart removes them
            reason = str(err).split("; ")[0]
            if not self.restart.broken:
                if self.in_sweep:  # the folder's own advice would be a single run's --restart
                    raise UsageError(f"{reason}; rerun the sweep with --restart-run {run.path} to start "
                                     "over this run only, or --restart for every run that cannot be resumed")
                raise
            print(f"--restart: starting over {run.path} ({reason})")
        run = RunFolder(run.path, run.cfg, restart=True)
        run.__enter__()
        return run

    def _on_sigint(self, signum, frame):
        self._sigint = signum

    def by_checkpoint(self):
        """The members in lists that go on from the same checkpoint epoch (fresh runs first)."""
        starts = {}
        for run, cfg in self.members:
            state = run.resumed_state
            starts.setdefault(-1 if state is None else state["epoch"], []).append((run, cfg))
        return [starts[e] for e in sorted(starts)]

    def stop_signal(self):
        """The signal that asked the ensemble to stop, or None."""
        if self._sigint is not None:
            return self._sigint
        for run in self.entered:
            if run.stop_requested():
                return run.stop_signal
        return None

    def check_stop(self):
        """Call at safe points: raises Interrupted once a stop signal has arrived."""
        sig = self.stop_signal()
        if sig is not None:
            raise Interrupted(sig)

    def mark(self, run, err):
        """err (Diverged, Interrupted, ...) ends this run whatever the others do; the first one counts."""
        self._outcome.setdefault(id(run), err)

    def __exit__(self, exc_type, exc, tb):
        if self._old_sigint is not None:
            signal.signal(signal.SIGINT, self._old_sigint)
            self._old_sigint = None
        for run in reversed(self.entered):
            own = self._outcome.get(id(run), _OPEN)
            if run.status == "completed":
                run.__exit__(None, None, None)
            elif own is _OPEN:
                run.__exit__(exc_type, exc, tb)
            else:
                run.__exit__(type(own), own, None)
        return exc_type is None or issubclass(exc_type, (Interrupted, KeyboardInterrupt))

    @property
    def exit_code(self):
        """128 + signal when the group was interrupted, else 0."""
        return max((r.exit_code for r in self.entered), default=0)


def run_ensembles(jobs, key, train):
    """Train the runs `jobs` [(cfg, out_dir)] as one ensemble per value of key(cfg), in the order the
    values first appear, with train(group_jobs) -> exit code. After an interrupted ensemble (exit code
    128 + signal) the rest is left for the rerun. Returns the largest exit code."""
    groups = {}
    for cfg, out in jobs:
        groups.setdefault(key(cfg), []).append((cfg, out))
    code = 0
    for group_jobs in groups.values():
        code = max(code, train(group_jobs))
        if code >= 128:
            break
    return code
