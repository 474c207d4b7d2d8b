"""Exceptions that end a run in a known way (no traceback for user mistakes)."""


class UsageError(Exception):
    """A mistake of the user (bad config, missing data): one line on stderr, exit code 2."""


class Diverged(Exception):
    """The simulation produced NaN/inf or runaway values; the run ends with status `diverged`."""

    def __init__(self, epoch, reason):
        super().__init__(f"diverged at epoch {epoch}: {reason}")
        self.epoch = epoch
        self.reason = reason


class Interrupted(Exception):
    """SIGTERM/SIGUSR1 arrived; the run ends with status `interrupted` and resumes on rerun."""

    def __init__(self, signum):
        super().__init__(f"interrupted by signal {signum}")
        self.signum = signum
