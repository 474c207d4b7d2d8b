"""Reproduce the paper's figures: a reduced-size run of every experiment on CPU, then the figures.

    python scripts/reproduce.py                         # quick profile, <= 15 min on 2 cores
    python scripts/reproduce.py --only fig3,fig5        # a subset of panels
    python scripts/reproduce.py --dry-run               # list the steps, run nothing
    python scripts/reproduce.py --profile paper --dry-run          # the full paper sweeps, counted
    python scripts/reproduce.py --profile paper --launcher slurm   # ... submitted to SLURM

The quick profile runs each step as a subprocess of a folder's entry script with reduced-size
overrides and `--out` under the runs root (default runs/reproduce/); a failing step is reported and
the others go on. MNIST panels use MNIST when it is under the data root, else Fashion-MNIST as a
stand-in (announced), else they are skipped with the command that gets the data. The paper profile
goes through the folders' job and submit scripts (see plan_paper.py).
"""
import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from make_figures import format_table, make_figures
from plan_paper import launch_paper, list_paper
from plan_quick import PANEL_IDS, detect_data, quick_steps

REPO = Path(__file__).resolve().parents[1]


def _fmt_s(seconds):
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class Progress:
    """What runs, elapsed time, and the remaining time from the steps' estimates (rescaled by how
    the finished steps compared with their estimates)."""

    def __init__(self, steps):
        self.steps, self.t0, self.done_est, self.done_real = steps, time.monotonic(), 0.0, 0.0

    def remaining(self, current=None, current_elapsed=0.0):
        # measured / estimated so far, damped by a minute of prior so that one step does not swing it
        scale = (self.done_real + 60.0) / (self.done_est + 60.0)
        left = sum(s.est_s for s in self.steps if not s.finished and s is not current)
        if current is not None:
            left += max(current.est_s * scale - current_elapsed, 0.0) / scale
        return left * scale

    def line(self, text, current=None, current_elapsed=0.0):
        elapsed = time.monotonic() - self.t0
        print(f"[{_fmt_s(elapsed)} elapsed, ~{_fmt_s(self.remaining(current, current_elapsed))} left] {text}",
              flush=True)

    def finished(self, step, seconds):
        step.finished = True
        self.done_est += step.est_s
        self.done_real += seconds


def run_step(step, index, total, progress, log_dir, every=20.0):
    """Run one step as a subprocess, its output in log_dir/<name>.log; returns (ok, seconds, note)."""
    log = log_dir / f"{step.name}.log"
    progress.line(f"({index}/{total}) {step.panel}: {step.title} (estimate {_fmt_s(step.est_s)})")
    env = dict(os.environ, PYTHONUNBUFFERED="1", MPLBACKEND="Agg")
    t0 = time.monotonic()
    with open(log, "w") as out:
        out.write("$ " + show(step.argv) + "\n")
        out.flush()
        proc = subprocess.Popen(step.argv, stdout=out, stderr=subprocess.STDOUT, cwd=REPO, env=env)
        last = t0
        try:
            while proc.poll() is None:
                time.sleep(0.5)
                now = time.monotonic()
                if now - last >= every:
                    last = now
                    progress.line(f"      {step.title}: running {_fmt_s(now - t0)}", step, now - t0)
        except KeyboardInterrupt:  # let the run checkpoint (SIGTERM), then stop
            proc.terminate()
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
            raise
    seconds = time.monotonic() - t0
    progress.finished(step, seconds)
    if proc.returncode == 0:
        print(f"      done in {_fmt_s(seconds)}", flush=True)
        return True, seconds, ""
    tail = log.read_text().strip().splitlines()[-6:]
    print(f"      FAILED (exit code {proc.returncode}) after {_fmt_s(seconds)}; log: {log}", flush=True)
    for line in tail:
        print(f"      | {line}")
    return False, seconds, f"exit code {proc.returncode}, see {log}"


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def show(argv):
    """A command as a user would type it from the repository root."""
    words = ["python" if a == sys.executable else a for a in argv]
    return " ".join(w.replace(str(REPO) + os.sep, "") for w in words)


def run_quick(args):
    data = detect_data(args.data_root)
    steps, skipped, banners = quick_steps(data, args.runs, args.only)
    for banner in banners:
        print(banner)
    if args.dry_run:
        for i, s in enumerate(steps, 1):
            print(f"({i}/{len(steps)}) {s.panel}: {s.title} [~{_fmt_s(s.est_s)}]\n    {show(s.argv)}")
        for panel, why in skipped:
            print(f"skipped {panel}: {why}")
        print(f"{len(steps)} steps, estimated {_fmt_s(sum(s.est_s for s in steps))} on 2 CPU cores; "
              f"runs under {args.runs}, figures in {args.figures}")
        return 0
    log_dir = args.runs / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    print(f"{len(steps)} steps, estimated {_fmt_s(sum(s.est_s for s in steps))}; runs under {args.runs}, "
          f"logs in {log_dir}", flush=True)
    progress = Progress(steps)
    failed = []
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        for i, step in enumerate(steps, 1):
            ok, _, note = run_step(step, i, len(steps), progress, log_dir)
            if not ok:
                failed.append((step, note))
    except KeyboardInterrupt:
        print("\ninterrupted: rerun the same command to continue (completed runs are skipped, interrupted "
              "runs resume from their checkpoints)")
        return 130
    progress.line("assembling figures")
    table, figures, notes = make_figures([args.runs], args.figures)
    print("\nResults (mean ± std over seeds; reduced-size runs, not the paper's schedule):")
    print(format_table(table) if table else "no results")
    print("\nFigures:")
    for panel, paths in figures.items():
        print(f"  {panel}: {', '.join(str(p) for p in paths) if paths else 'not drawn (see results.md)'}")
    for step in steps:
        for extra in step.figures:
            found = sorted(args.runs.glob(extra))
            print(f"  {step.panel}: {', '.join(str(p) for p in found) if found else f'no {extra} (see log)'}")
    print(f"  table: {args.figures / 'results.md'}")
    for note in notes:
        print(f"note: {note}")
    for banner in banners:
        print(banner)
    for panel, why in skipped:
        print(f"skipped {panel}: {why}")
    for step, note in failed:
        print(f"FAILED {step.panel} {step.title}: {note}")
    print(f"total time {_fmt_s(time.monotonic() - progress.t0)}")
    return 1 if failed else 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--profile", choices=("quick", "paper"), default="quick")
    parser.add_argument("--only", default=None, help=f"comma-separated panels: {','.join(PANEL_IDS)}")
    parser.add_argument("--dry-run", action="store_true", help="list what would run, with counts and cost")
    parser.add_argument("--launcher", choices=("local", "slurm"), default=None,
                        help="paper profile: run the job scripts here or submit them to SLURM")
    parser.add_argument("--runs", type=Path, default=REPO / "runs" / "reproduce", help="runs root (quick profile)")
    parser.add_argument("--figures", type=Path, default=REPO / "figures", help="figure folder")
    parser.add_argument("--data-root", type=Path, default=None, help="data folder (default: $LE_DATA_DIR, else data/)")
    args = parser.parse_args(argv)
    if args.only:
        args.only = [p.strip() for p in args.only.split(",") if p.strip()]
        unknown = [p for p in args.only if p not in PANEL_IDS]
        if unknown:
            parser.error(f"--only: unknown panel {', '.join(unknown)} (allowed: {', '.join(PANEL_IDS)})")
    args.runs, args.figures = args.runs.resolve(), args.figures.resolve()
    if args.data_root is not None:
        os.environ["LE_DATA_DIR"] = str(args.data_root.resolve())
    if args.profile == "quick":
        if args.launcher:
            parser.error("--launcher applies to --profile paper")
        return run_quick(args)
    if args.dry_run == bool(args.launcher):
        parser.error("--profile paper needs exactly one of --dry-run or --launcher local|slurm")
    if args.dry_run:
        return list_paper(args.only)
    return launch_paper(args.launcher, args.only)


if __name__ == "__main__":
    sys.exit(main())
