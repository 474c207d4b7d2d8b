"""Fig. 4c: final test error (%) vs presentation time T = n_updates * dt per (dt, tau_s), mean +- std (ddof = 1).

python fig2b_fig4ac_mnist/plot_4c.py [RUN_DIR_OR_RUNS_ROOT ...] [--out PATH]

Run folders that cannot be read are named on stderr.
"""
import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from common.runs import Plotted, extract, find_runs, mean_std, with_status  # noqa: E402
from fig2b_fig4ac_mnist.src.paths import FOLDER, RUNS  # noqa: E402


def point(run):
    """((dt, tau_s), T, test error)."""
    dt, tau_s = float(run.config["dt"]), float(run.config["tau_s"])
    return (dt, tau_s), run.config["n_updates"] * dt, run.value("test_error")


def label(dt, tau_s):
    return f"dt = {dt:g}, " + ("no filter" if tau_s == 0 else f"tau_s = {tau_s:g} (dt/tau_s = {dt / tau_s:g})")


def plot(run_dirs, out_path):
    """Draw the figure; Plotted.series: {(dt, tau_s): {T: (mean, std, n)}}."""
    runs, skipped = find_runs(run_dirs)
    runs = [r for r in with_status(runs, "completed") if r.stem.startswith("4c_")]
    points, bad = extract(runs, point)
    groups = {}
    for _, (key, T, error) in points:
        groups.setdefault(key, {}).setdefault(T, []).append(error)
    series = {key: {T: mean_std(by_T[T]) for T in sorted(by_T)} for key, by_T in sorted(groups.items())}
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for (dt, tau_s), by_T in series.items():
        stats = list(by_T.values())
        ax.errorbar(list(by_T), [m for m, _, _ in stats], yerr=[s for _, s, _ in stats], marker="o", capsize=2,
                    label=f"{label(dt, tau_s)} (n={min(n for _, _, n in stats)})")
    ax.set_xscale("log")
    ax.set_xlabel("presentation time T = n_updates dt")
    ax.set_ylabel("test error (%)")
    ax.set_title("Fig. 4c: mean +- std over seeds (ddof=1)", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_path)
    plt.close(fig)
    return Plotted(series, skipped + bad)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="*", default=[RUNS], help="run folders or runs/ roots (default: runs/)")
    p.add_argument("--out", default=FOLDER / "figures" / "fig4c.png")
    a = p.parse_args(argv)
    drawn = plot(a.runs, a.out)
    for line in drawn.skipped:
        print(f"skipped {line}", file=sys.stderr)
    print({label(*key): {T: n for T, (_, _, n) in by_T.items()} for key, by_T in drawn.series.items()}, "->", a.out)


if __name__ == "__main__":
    main()
