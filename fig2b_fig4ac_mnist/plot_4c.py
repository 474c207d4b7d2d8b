"""Fig. 4c: final test error vs presentation time T = n_updates * dt per (dt, tau_s), mean +- std (ddof = 1).

python fig2b_fig4ac_mnist/plot_4c.py [RUN_DIR_OR_RUNS_ROOT ...] [--out PATH]
"""
import argparse
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from fig2b_fig4ac_mnist.src.paths import FOLDER, RUNS  # noqa: E402
from fig2b_fig4ac_mnist.src.results import completed_runs, config, expand, final, mean_std  # noqa: E402


def plot(run_dirs, out_path):
    groups = defaultdict(lambda: defaultdict(list))  # (dt, tau_s) -> T -> test errors
    for d in completed_runs(run_dirs):
        cfg = config(d)
        groups[(cfg["dt"], cfg["tau_s"])][cfg["n_updates"] * cfg["dt"]].append(final(d)["test_error"])
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for (dt, tau_s), by_T in sorted(groups.items()):
        Ts = sorted(by_T)
        stats = [mean_std(by_T[T]) for T in Ts]
        label = f"dt = {dt}, " + ("no filter" if tau_s == 0 else f"tau_s = {tau_s} (dt/tau_s = {dt / tau_s:g})")
        ax.errorbar(Ts, [m for m, _ in stats], yerr=[s for _, s in stats], marker="o", capsize=2,
                    label=f"{label} (n={min(len(v) for v in by_T.values())})")
    ax.set_xscale("log")
    ax.set_xlabel("presentation time T = n_updates dt")
    ax.set_ylabel("test error (%)")
    ax.set_title("Fig. 4c: mean +- std over seeds (ddof=1)", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_path)
    plt.close(fig)
    return {f"dt={k[0]} tau_s={k[1]}": {T: len(v) for T, v in g.items()} for k, g in groups.items()}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="*", default=[RUNS], help="run folders or runs/ roots (default: runs/)")
    p.add_argument("--out", default=FOLDER / "figures" / "fig4c.png")
    a = p.parse_args(argv)
    print(plot(expand(a.runs, "4c_*/seed*"), a.out), "->", a.out)


if __name__ == "__main__":
    main()
