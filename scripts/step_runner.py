"""Run reproduce.py's steps as subprocesses, a few at a time, with a progress display.

Each step runs with one math thread (OMP/MKL/OpenBLAS/numba) and `jobs` steps run at once: on a
small machine that is faster than one step with several threads, and it does not collapse when
other programs compete for the cores (threads of one process that wait on each other spin).
"""
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ONE_THREAD = {k: "1" for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")}


@dataclass
class Step:
    panel: str
    name: str                 # file-safe, unique: log file name
    title: str
    argv: list
    est_s: float              # seconds of one core with one math thread, interpreter start included
    figures: tuple = ()       # globs (relative to the runs root) of figures the step draws itself
    finished: bool = field(default=False, compare=False)


def fmt_s(seconds):
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def show(argv):
    """A command as a user would type it from the repository root."""
    words = ["python" if a == sys.executable else str(a) for a in argv]
    return " ".join(w.replace(str(REPO) + os.sep, "") for w in words)


class Progress:
    """Elapsed time and the time left: the estimates (seconds of one core) of the steps not yet
    finished, divided by the parallel jobs, rescaled by how the finished steps compared with theirs."""

    def __init__(self, steps, jobs):
        self.steps, self.jobs, self.t0 = steps, jobs, time.monotonic()
        self.done_est, self.done_real = 0.0, 0.0

    def scale(self):
        # measured / estimated so far, damped by a minute of prior so that one step does not swing it
        return (self.done_real + 60.0) / (self.done_est + 60.0)

    def remaining(self, running=()):
        """running: [(step, seconds it has run)]."""
        scale = self.scale()
        busy = {id(s) for s, _ in running}
        left = [s.est_s * scale for s in self.steps if not s.finished and id(s) not in busy]
        left += [max(s.est_s * scale - t, 0.0) for s, t in running]
        return max([sum(left) / self.jobs] + left)  # no faster than the longest step left

    def line(self, text, running=()):
        elapsed = time.monotonic() - self.t0
        print(f"[{fmt_s(elapsed)} elapsed, ~{fmt_s(self.remaining(running))} left] {text}", flush=True)

    def finished(self, step, seconds):
        step.finished = True
        self.done_est += step.est_s
        self.done_real += seconds


class _Running:
    def __init__(self, step, index, log):
        self.step, self.index, self.log, self.t0 = step, index, log, time.monotonic()
        env = dict(os.environ, PYTHONUNBUFFERED="1", MPLBACKEND="Agg", **ONE_THREAD)
        self.out = open(log, "w")
        self.out.write("$ " + show(step.argv) + "\n")
        self.out.flush()
        self.proc = subprocess.Popen(step.argv, stdout=self.out, stderr=subprocess.STDOUT, cwd=REPO, env=env)

    def seconds(self):
        return time.monotonic() - self.t0

    def stop(self):
        """SIGTERM lets the run checkpoint; SIGKILL after two minutes."""
        self.proc.terminate()
        try:
            self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.out.close()


def run_steps(steps, jobs, log_dir, every=30.0, outcome=lambda step: ("done ", "")):
    """Run all steps, at most `jobs` at once; returns [(step, note)] of the failed ones. `outcome(step)`
    gives the word and note of a step that exited 0 (a diverged run exits 0 and is not "done").
    KeyboardInterrupt stops the running steps (they checkpoint) and propagates."""
    progress = Progress(steps, jobs)
    pending = list(enumerate(steps, 1))
    running, failed = [], []
    last = time.monotonic()
    try:
        while pending or running:
            while pending and len(running) < jobs:
                index, step = pending.pop(0)
                progress.line(f"start ({index}/{len(steps)}) {step.panel}: {step.title} "
                              f"(estimate {fmt_s(step.est_s)})", [(r.step, r.seconds()) for r in running])
                running.append(_Running(step, index, log_dir / f"{step.name}.log"))
            time.sleep(0.5)
            for r in [r for r in running if r.proc.poll() is not None]:
                running.remove(r)
                r.out.close()
                progress.finished(r.step, r.seconds())
                code = r.proc.returncode
                if code == 0:
                    word, note = outcome(r.step)
                    progress.line(f"{word} ({r.index}/{len(steps)}) {r.step.title} in {fmt_s(r.seconds())}"
                                  + (f": {note}" if note else ""), [(x.step, x.seconds()) for x in running])
                    continue
                failed.append((r.step, f"exit code {code}, log {r.log}"))
                progress.line(f"FAILED ({r.index}/{len(steps)}) {r.step.title}: exit code {code} after "
                              f"{fmt_s(r.seconds())}; log {r.log}", [(x.step, x.seconds()) for x in running])
                for line in r.log.read_text().strip().splitlines()[-6:]:
                    print(f"      | {line}")
            if running and time.monotonic() - last >= every:
                last = time.monotonic()
                progress.line("running: " + "; ".join(f"{r.step.title} ({fmt_s(r.seconds())})" for r in running),
                              [(r.step, r.seconds()) for r in running])
    except KeyboardInterrupt:
        for r in running:
            r.stop()
        raise
    return failed, time.monotonic() - progress.t0
