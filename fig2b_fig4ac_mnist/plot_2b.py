"""Fig. 2b: validation error (%) vs epoch per variant, mean +- std over seeds (ddof = 1).

python fig2b_fig4ac_mnist/plot_2b.py [RUN_DIR_OR_RUNS_ROOT ...] [--out PATH]

Runs of different lengths are averaged epoch by epoch over the seeds that reached the epoch; the
legend gives the range of seed counts. Run folders that cannot be read are named on stderr.
"""
import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from common.runs import Plotted, extract, find_runs, mean_curve, with_status  # noqa: E402
from fig2b_fig4ac_mnist.src.paths import FOLDER, RUNS  # noqa: E402

LABELS = {"2b_le": "LE", "2b_fa": "LE + feedback alignment", "2b_big_tau": "LE, big tau (tau = 200, tau_m = 20)",
          "2b_no_prospective": "no prospective coding"}


def seed_count(n):
    return f"n={n.min()}" if n.min() == n.max() else f"n={n.min()}-{n.max()} by epoch"


def plot(run_dirs, out_path):
    """Draw the figure; Plotted.series: {run name: {"epochs", "mean", "std", "n"}} (n seeds per epoch)."""
    runs, skipped = find_runs(run_dirs)
    runs = [r for r in with_status(runs, "completed") if r.stem.startswith("2b_")]
    curves, bad = extract(runs, lambda r: r.curve("val", "error"))
    groups = {}
    for run, curve in curves:
        groups.setdefault(run.stem, []).append(curve)
    series = {}
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name, group in sorted(groups.items()):
        epochs, m, s, n = mean_curve(group)
        series[name] = {"epochs": epochs, "mean": m, "std": s, "n": n}
        ax.plot(epochs, m, label=f"{LABELS.get(name, name)} ({seed_count(n)})")
        ax.fill_between(epochs, m - s, m + s, alpha=0.3)
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation error (%)")
    ax.set_yscale("log")
    ax.set_title("Fig. 2b: mean +- std (ddof=1) over the seeds that reached each epoch", fontsize=8)
    ax.legend(fontsize=7)
    fig.tight_layout()
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_path)
    plt.close(fig)
    return Plotted(series, skipped + bad)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="*", default=[RUNS], help="run folders or runs/ roots (default: runs/)")
    p.add_argument("--out", default=FOLDER / "figures" / "fig2b.png")
    a = p.parse_args(argv)
    drawn = plot(a.runs, a.out)
    for line in drawn.skipped:
        print(f"skipped {line}", file=sys.stderr)
    print({name: int(s["n"].max()) for name, s in drawn.series.items()}, "->", a.out)


if __name__ == "__main__":
    main()
