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
import sys
import time
from pathlib import Path

from make_figures import format_table, make_figures
from plan_paper import launch_paper, list_paper
from plan_quick import PANEL_IDS, detect_data, quick_steps
from step_runner import fmt_s, run_steps, show

REPO = Path(__file__).resolve().parents[1]


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def run_quick(args):
    data = detect_data(args.data_root)
    steps, skipped, banners = quick_steps(data, args.runs, args.only)
    for banner in banners:
        print(banner)
    total_est = max([sum(s.est_s for s in steps) / args.jobs] + [s.est_s for s in steps])
    if args.dry_run:
        for i, s in enumerate(steps, 1):
            print(f"({i}/{len(steps)}) {s.panel}: {s.title} [~{fmt_s(s.est_s)}]\n    {show(s.argv)}")
        for panel, why in skipped:
            print(f"skipped {panel}: {why}")
        print(f"{len(steps)} steps, estimated {fmt_s(total_est)} with {args.jobs} at once on a quiet machine; "
              f"runs under {args.runs}, figures in {args.figures}")
        return 0
    log_dir = args.runs / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    print(f"{len(steps)} steps, {args.jobs} at once, estimated {fmt_s(total_est)}; runs under {args.runs}, "
          f"logs in {log_dir}", flush=True)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        failed, seconds = run_steps(steps, args.jobs, log_dir)
    except KeyboardInterrupt:
        print("\ninterrupted: rerun the same command to continue (completed runs are skipped, interrupted "
              "runs resume from their checkpoints)")
        return 130
    t_fig = time.monotonic()
    print("assembling figures ...", flush=True)
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
    print(f"total time {fmt_s(seconds + time.monotonic() - t_fig)}")
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
    parser.add_argument("--jobs", type=int, default=min(os.cpu_count() or 1, 4),
                        help="steps at once, one math thread each (default: cores, at most 4)")
    parser.add_argument("--runs", type=Path, default=REPO / "runs" / "reproduce", help="runs root (quick profile)")
    parser.add_argument("--figures", type=Path, default=REPO / "figures", help="figure folder")
    parser.add_argument("--data-root", type=Path, default=None, help="data folder (default: $LE_DATA_DIR, else data/)")
    args = parser.parse_args(argv)
    if args.only:
        args.only = [p.strip() for p in args.only.split(",") if p.strip()]
        unknown = [p for p in args.only if p not in PANEL_IDS]
        if unknown:
            parser.error(f"--only: unknown panel {', '.join(unknown)} (allowed: {', '.join(PANEL_IDS)})")
    if args.jobs < 1:
        parser.error("--jobs must be >= 1")
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
