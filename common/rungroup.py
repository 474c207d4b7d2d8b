"""The K run folders of one ensemble, open together, and a sweep's runs grouped into ensembles.

An ensemble steps K networks at once but each network keeps its own standard run folder, so
`RunGroup` enters K RunFolders in order and exits them in reverse order, each with the outcome of its
own network: completed, diverged, interrupted or failed.
"""
import signal

from common.errors import Interrupted
from common.runfolder import RunFolder

_OPEN = object()        # no outcome of its own: the folder ends with the group's


class RunGroup:
    """Context manager around the run folders of one ensemble.

    jobs: [(cfg, out_dir)]. Folders whose summary says `completed` are reported and left out; the
    others are `entered` and listed with their configs as `members` [(run, cfg)]. A run that called
    `complete()` ends completed, one given an outcome by `mark` ends with that, and every other run
    ends with the exception (or none) the `with` block ends with. If a folder cannot be entered (held
    by another process, a broken checkpoint) the ones already entered end `failed` and the error goes
    on. With `sigint_stops`, Ctrl-C while the group is open is a stop request like SIGTERM/SIGUSR1,
    so the training loop ends at its next `check_stop` with every folder consistent.
    """

    def __init__(self, jobs, restart=False, sigint_stops=False):
        self.all = [RunFolder(out, cfg, restart=restart) for cfg, out in jobs]
        self.cfgs = [cfg for cfg, _ in jobs]
        self.sigint_stops = sigint_stops
        self.entered = []
        self.members = []
        self._outcome = {}
        self._sigint = None
        self._old_sigint = None

    def __enter__(self):
        try:
            for run in self.all:
                run.__enter__()
                if not run.already_completed:
                    self.entered.append(run)
        except BaseException as err:
            self.__exit__(type(err), err, err.__traceback__)
            raise
        self.members = [(r, c) for r, c in zip(self.all, self.cfgs) if not r.already_completed]
        if self.sigint_stops:
            self._old_sigint = signal.signal(signal.SIGINT, self._on_sigint)
        return self

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
