"""Fig. 2b: validation error (%) vs epoch per variant, mean +- std over seeds (ddof = 1).

python fig2b_fig4ac_mnist/plot_2b.py [RUN_DIR_OR_RUNS_ROOT ...] [--out PATH]

Runs of different lengths are averaged epoch by epoch over the seeds that reached the epoch; the
legend gives the range of seed counts. The title names the data set the runs recorded (a stand-in for
MNIST is marked); runs that did not complete are named under the axes. The figure goes beside the
runs (default: runs/fig2b.png) unless --out says otherwise. Run folders that cannot be read are named
on stderr.
"""
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from common.cli import UsageParser, entry_point  # noqa: E402
from common.errors import UsageError  # noqa: E402
from common.runs import (Plotted, data_title, default_out, extract, find_runs, layout, mean_curve,  # noqa: E402
                         not_drawn_note, save_figure, with_status)
from fig2b_fig4ac_mnist.src.paths import RUNS  # noqa: E402

PREFIX = "2b_"  # the run names of this panel: the config stems 2b_*
LABELS = {"2b_le": "LE", "2b_fa": "LE + feedback alignment", "2b_big_tau": "LE, big tau (tau = 200, tau_m = 20)",
          "2b_no_prospective": "no prospective coding"}


def seed_count(n):
    return f"n={n.min()}" if n.min() == n.max() else f"n={n.min()}-{n.max()} by epoch"


def plot(run_dirs, out_path):
    """Draw the figure; Plotted.series: {run name: {"epochs", "mean", "std", "n"}} (n seeds per epoch),
    the name with the data set appended when the runs used more than one."""
    runs, skipped = find_runs(run_dirs, PREFIX)
    curves, bad = extract(with_status(runs, "completed"), lambda r: r.curve("val", "error"))
    several = len({r.data_label for r, _ in curves}) > 1
    groups = {}
    for run, curve in curves:
        groups.setdefault(f"{run.stem} [{run.data_label}]" if several else run.stem, []).append(curve)
    series = {}
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name, group in sorted(groups.items()):
        epochs, m, s, n = mean_curve(group)
        series[name] = {"epochs": epochs, "mean": m, "std": s, "n": n}
        stem, _, data = name.partition(" [")
        ax.plot(epochs, m, label=f"{LABELS.get(stem, stem)}{' [' + data if data else ''} ({seed_count(n)})")
        ax.fill_between(epochs, m - s, m + s, alpha=0.3)
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation error (%)")
    ax.set_yscale("log")
    ax.set_title(f"Fig. 2b on {data_title(runs)}:\nmean +- std (ddof=1) over the seeds that reached each epoch",
                 fontsize=8)
    if series:
        ax.legend(fontsize=7)
    notes = [f"{r.path}: {note} (rest of the curve drawn)" for r, _ in curves for note in r.notes]
    layout(fig, [not_drawn_note(runs)] + notes)
    save_figure(fig, out_path)
    plt.close(fig)
    return Plotted(series, skipped + bad + notes)


@entry_point
def main(argv=None):
    p = UsageParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="*", type=Path, default=[RUNS], help="run folders or runs/ roots (default: runs/)")
    p.add_argument("--out", type=Path, default=None, help="figure file (default: fig2b.png beside the runs)")
    a = p.parse_args(argv)
    if not find_runs(a.runs, PREFIX)[0]:
        raise UsageError(f"no Fig. 2b run folders (2b_*/seed*) under {', '.join(map(str, a.runs))}; "
                         "make them with `bash fig2b_fig4ac_mnist/2b_jobs.sh`")
    out = a.out or default_out(a.runs, "fig2b.png")
    drawn = plot(a.runs, out)
    for line in drawn.skipped:
        print(f"skipped {line}", file=sys.stderr)
    print({name: int(s["n"].max()) for name, s in drawn.series.items()}, "->", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
