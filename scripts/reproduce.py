"""Reproduce the paper's figures: a reduced-size run of every experiment on CPU, then the figures.

    python scripts/reproduce.py                         # quick profile, <= 10 min on 2 idle cores
    python scripts/reproduce.py --only fig3,fig5        # a subset of panels
    python scripts/reproduce.py --dry-run               # list the steps, run nothing
    python scripts/reproduce.py --profile paper --dry-run          # the full paper sweeps, priced
    python scripts/reproduce.py --profile paper --dry-run --measure   # ... with step costs measured now
    python scripts/reproduce.py --profile paper --launcher slurm   # ... submitted to SLURM

The quick profile runs each step as a subprocess of a folder's entry script with reduced-size
overrides and `--out` under the runs root (default runs/reproduce/); a failing step is reported and
the others go on. MNIST panels use MNIST: when it is not under the data root it is downloaded first
(torchvision, md5 checked, progress bar; --no-download forbids it). Without it (offline or
--no-download) Fashion-MNIST stands in (announced, and marked in results.md and the figure titles),
else the panels are skipped, with the reason and the command that gets the data in results.md. A step
whose run diverged is reported DIVERGED, never done. The paper profile goes through the folders' job
and submit scripts (plan_paper.py).
"""
import argparse
import os
import signal
import sys
import time
from pathlib import Path

from make_figures import format_table, make_figures
from panels import PANELS
from plan_paper import launch_paper, list_paper
from plan_quick import MNIST_PANELS, PANEL_IDS, detect_data, quick_steps
from step_costs import measure
from step_runner import fmt_s, run_steps, show

from common.cli import UsageParser, entry_point
from common.runs import find_runs, status_note

REPO = Path(__file__).resolve().parents[1]


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def download_mnist():
    """Fetch MNIST into the data root through torchvision (md5 of every file checked, progress bar),
    then check its splits; returns the report, raises FetchFailed when that is impossible."""
    from common.data import data_root
    from fetch_data import fetch_vision

    return fetch_vision("mnist", data_root(None), download=True)


def ensure_mnist(data, args):
    """Download MNIST when a panel wants it, it is missing and downloads are allowed."""
    if data["mnist"] or not any(p in MNIST_PANELS for p in (args.only or PANEL_IDS)):
        return
    if args.no_download:
        print("MNIST is not under the data root and --no-download is set: not downloading it")
        return
    if args.dry_run:  # planned as it will run once the download has succeeded
        print("MNIST is not under the data root: the run downloads it first (--no-download forbids it; "
              "offline, Fashion-MNIST stands in)")
        data["mnist"] = True
        return
    from fetch_data import FetchFailed

    print("MNIST is not under the data root: downloading it (--no-download forbids this)", flush=True)
    try:
        print(f"MNIST: {download_mnist()}")
        data["mnist"] = True
    except (FetchFailed, RuntimeError) as err:
        print(f"MNIST download failed: {err}")


def step_runs(step):
    """The run folders a quick step writes: its --out folder, or <--root>/<config stem>/seed* of a sweep."""
    argv = [str(a) for a in step.argv]
    if "--out" in argv:
        return find_runs([argv[argv.index("--out") + 1]])[0]
    if "--root" in argv:
        stems = {Path(a).stem for a in argv if a.endswith((".yaml", ".yml"))}
        root = Path(argv[argv.index("--root") + 1])
        return [r for r in find_runs([root])[0] if r.path.parent.name in stems]
    return []


def step_outcome(step):
    """(word, note) of a step that exited 0: 'done ' when all its runs completed, else 'DIVERGED' (or
    'UNFINISHED') and the runs' statuses, e.g. '1 diverged (seed 69, epoch 2)'."""
    runs = step_runs(step)
    note = status_note(runs)
    if not note:
        return "done ", ""
    return ("DIVERGED" if any(r.status == "diverged" for r in runs) else "UNFINISHED"), note


def not_run(skipped):
    """{panel id: [why, ...]} from quick_steps' skipped [(label, why)]; a label is a panel id or the
    label of one of a panel's data needs (e.g. "fig2c (HIGGS)")."""
    out = {}
    for label, why in skipped:
        panel = next(p for p in PANELS if label == p.id or label in [lab for lab, _ in p.needs])
        out.setdefault(panel.id, []).append(f"{label}: {why}" if label != panel.id else why)
    return out


def run_quick(args):
    data = detect_data(args.data_root)
    ensure_mnist(data, args)
    steps, skipped, banners = quick_steps(data, args.runs, args.only)
    for banner in banners:
        print(banner)
    total_est = max([sum(s.est_s for s in steps) / args.jobs] + [s.est_s for s in steps])
    if args.dry_run:
        for i, s in enumerate(steps, 1):
            print(f"({i}/{len(steps)}) {s.panel}: {s.title} [~{fmt_s(s.est_s)}]\n    {show(s.argv)}")
        for panel, why in skipped:
            print(f"skipped {panel}: {why}")
        print(f"{len(steps)} steps, estimated {fmt_s(total_est)} with {args.jobs} at once on idle cores; "
              f"runs under {args.runs}, figures in {args.figures}")
        return 0
    log_dir = args.runs / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    print(f"{len(steps)} steps, {args.jobs} at once, estimated {fmt_s(total_est)}; runs under {args.runs}, "
          f"logs in {log_dir}", flush=True)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        failed, seconds = run_steps(steps, args.jobs, log_dir, outcome=step_outcome)
    except KeyboardInterrupt:
        print("\ninterrupted: rerun the same command to continue (completed runs are skipped, interrupted "
              "runs resume from their checkpoints)")
        return 130
    t_fig = time.monotonic()
    print("assembling figures ...", flush=True)
    table, figures, notes = make_figures([args.runs], args.figures, not_run=not_run(skipped))
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
    failed_steps = {id(step) for step, _ in failed}
    for step in steps:
        word, note = step_outcome(step) if id(step) not in failed_steps else ("", "")
        if note:
            print(f"{word} {step.panel} {step.title}: {note}; not drawn, see {args.figures / 'results.md'}")
    for step, note in failed:
        print(f"FAILED {step.panel} {step.title}: {note}")
    print(f"total time {fmt_s(seconds + time.monotonic() - t_fig)}")
    return 1 if failed else 0


@entry_point
def main(argv=None):
    parser = UsageParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--profile", choices=("quick", "paper"), default="quick")
    parser.add_argument("--only", default=None, help=f"comma-separated panels: {','.join(PANEL_IDS)}")
    parser.add_argument("--dry-run", action="store_true", help="list what would run, with counts and cost")
    parser.add_argument("--launcher", choices=("local", "slurm"), default=None,
                        help="paper profile: run the job scripts here or submit them to SLURM")
    parser.add_argument("--measure", action="store_true",
                        help="paper profile --dry-run: measure the per-step costs here first (about a minute)")
    parser.add_argument("--no-download", action="store_true", help="quick profile: never download MNIST")
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
        if args.launcher or args.measure:
            parser.error("--launcher and --measure apply to --profile paper")
        return run_quick(args)
    if args.dry_run == bool(args.launcher):
        parser.error("--profile paper needs exactly one of --dry-run or --launcher local|slurm")
    if args.dry_run:
        return list_paper(args.only, measure() if args.measure else None)
    if args.measure:
        parser.error("--measure applies to --dry-run")
    return launch_paper(args.launcher, args.only)


if __name__ == "__main__":
    sys.exit(main())
