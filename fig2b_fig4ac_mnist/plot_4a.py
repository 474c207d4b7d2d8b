"""Fig. 4a: final test error vs dt (T = n_updates * dt) per variant, mean +- std over seeds (ddof = 1).

python fig2b_fig4ac_mnist/plot_4a.py [RUN_DIR_OR_RUNS_ROOT ...] [--out PATH]
"""
import argparse
import re
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from fig2b_fig4ac_mnist.src.paths import FOLDER, RUNS  # noqa: E402
from fig2b_fig4ac_mnist.src.results import completed_runs, config, expand, final, mean_std, variant  # noqa: E402

LABELS = {"exact": "exact tau (sigma_tau = 0)", "jitter20": "sigma_tau = 0.2", "jitter30": "sigma_tau = 0.3",
          "taur_errors": "tau^r-based errors, sigma_tau = 0.01", "learned_tau_m": "learned tau_m, sigma_tau = 0.2"}


def plot(run_dirs, out_path):
    groups = defaultdict(lambda: defaultdict(list))  # variant -> dt -> test errors
    n_updates = None
    for d in completed_runs(run_dirs):
        cfg = config(d)
        name = re.sub(r"_dt[0-9.e-]+$", "", variant(d)).removeprefix("4a_")
        groups[name][cfg["dt"]].append(final(d)["test_error"])
        n_updates = cfg["n_updates"]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name, by_dt in sorted(groups.items()):
        dts = sorted(by_dt)
        stats = [mean_std(by_dt[dt]) for dt in dts]
        ax.errorbar(dts, [m for m, _ in stats], yerr=[s for _, s in stats], marker="o", capsize=2,
                    label=f"{LABELS.get(name, name)} (n={min(len(v) for v in by_dt.values())})")
    ax.set_xscale("log")
    ax.set_xlabel(f"dt (presentation time T = {n_updates} dt)")
    ax.set_ylabel("test error (%)")
    ax.set_title("Fig. 4a: mean +- std over seeds (ddof=1)", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_path)
    plt.close(fig)
    return {k: {dt: len(v) for dt, v in g.items()} for k, g in groups.items()}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="*", default=[RUNS], help="run folders or runs/ roots (default: runs/)")
    p.add_argument("--out", default=FOLDER / "figures" / "fig4a.png")
    a = p.parse_args(argv)
    print(plot(expand(a.runs, "4a_*/seed*"), a.out), "->", a.out)


if __name__ == "__main__":
    main()
