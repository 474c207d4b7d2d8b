"""Fig. 2b: validation error vs epoch per variant, mean +- std over seeds (ddof = 1).

python fig2b_fig4ac_mnist/plot_2b.py [RUN_DIR_OR_RUNS_ROOT ...] [--out PATH]
"""
import argparse
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from fig2b_fig4ac_mnist.src.paths import FOLDER, RUNS  # noqa: E402
from fig2b_fig4ac_mnist.src.results import completed_runs, expand, mean_std, val_curve, variant  # noqa: E402

LABELS = {"2b_le": "LE", "2b_fa": "LE + feedback alignment", "2b_big_tau": "LE, big tau (tau = 200, tau_m = 20)",
          "2b_no_prospective": "no prospective coding"}


def plot(run_dirs, out_path):
    groups = defaultdict(list)
    for d in completed_runs(run_dirs):
        groups[variant(d)].append(val_curve(d))
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name, curves in sorted(groups.items()):
        n = min(len(c[0]) for c in curves)
        m, s = mean_std([c[1][:n] for c in curves])
        epochs = curves[0][0][:n]
        ax.plot(epochs, m, label=f"{LABELS.get(name, name)} (n={len(curves)})")
        ax.fill_between(epochs, m - s, m + s, alpha=0.3)
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation error (%)")
    ax.set_yscale("log")
    ax.set_title("Fig. 2b: mean +- std over seeds (ddof=1)", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_path)
    plt.close(fig)
    return {k: len(v) for k, v in groups.items()}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="*", default=[RUNS], help="run folders or runs/ roots (default: runs/)")
    p.add_argument("--out", default=FOLDER / "figures" / "fig2b.png")
    a = p.parse_args(argv)
    print(plot(expand(a.runs, "2b_*/seed*"), a.out), "->", a.out)


if __name__ == "__main__":
    main()
