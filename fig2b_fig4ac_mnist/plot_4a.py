"""Fig. 4a: final test error (%) vs dt (T = n_updates * dt) per variant, mean +- std over seeds (ddof = 1).

python fig2b_fig4ac_mnist/plot_4a.py [RUN_DIR_OR_RUNS_ROOT ...] [--out PATH]

Run folders that cannot be read are named on stderr.
"""
import argparse
import re
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from common.runs import Plotted, extract, find_runs, mean_std, with_status  # noqa: E402
from fig2b_fig4ac_mnist.src.paths import FOLDER, RUNS  # noqa: E402

LABELS = {"exact": "exact tau (sigma_tau = 0)", "jitter20": "sigma_tau = 0.2", "jitter30": "sigma_tau = 0.3",
          "taur_errors": "tau^r-based errors, sigma_tau = 0.01", "learned_tau_m": "learned tau_m, sigma_tau = 0.2"}


def point(run):
    """(variant, dt, n_updates, test error): runs live in runs/4a_<variant>_dt<dt>/seed<S>/."""
    name = re.sub(r"_dt[0-9.e-]+$", "", run.stem).removeprefix("4a_")
    return name, float(run.config["dt"]), run.config["n_updates"], run.value("test_error")


def plot(run_dirs, out_path):
    """Draw the figure; Plotted.series: {variant: {dt: (mean, std, n)}}."""
    runs, skipped = find_runs(run_dirs)
    runs = [r for r in with_status(runs, "completed") if r.stem.startswith("4a_")]
    points, bad = extract(runs, point)
    groups = {}
    for _, (name, dt, _, error) in points:
        groups.setdefault(name, {}).setdefault(dt, []).append(error)
    series = {name: {dt: mean_std(by_dt[dt]) for dt in sorted(by_dt)} for name, by_dt in sorted(groups.items())}
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name, by_dt in series.items():
        stats = list(by_dt.values())
        ax.errorbar(list(by_dt), [m for m, _, _ in stats], yerr=[s for _, s, _ in stats], marker="o", capsize=2,
                    label=f"{LABELS.get(name, name)} (n={min(n for _, _, n in stats)})")
    n_updates = sorted({p[2] for _, p in points})
    ax.set_xscale("log")
    ax.set_xlabel(f"dt (presentation time T = {'/'.join(map(str, n_updates))} dt)")
    ax.set_ylabel("test error (%)")
    ax.set_title("Fig. 4a: mean +- std over seeds (ddof=1)", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_path)
    plt.close(fig)
    return Plotted(series, skipped + bad)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="*", default=[RUNS], help="run folders or runs/ roots (default: runs/)")
    p.add_argument("--out", default=FOLDER / "figures" / "fig4a.png")
    a = p.parse_args(argv)
    drawn = plot(a.runs, a.out)
    for line in drawn.skipped:
        print(f"skipped {line}", file=sys.stderr)
    print({name: {dt: n for dt, (_, _, n) in by_dt.items()} for name, by_dt in drawn.series.items()}, "->", a.out)


if __name__ == "__main__":
    main()
