"""Fig. 3: final test accuracy and MSE of the bars task against presentation time N (steps per
pattern), LE vs orig, mean +- standard deviation over seeds (sample std, ddof=1), from run folders.

  python plot_fig3.py RUNS_DIR [RUNS_DIR ...] [--out PATH] [--table]

A run folder is any directory below RUNS_DIR with config.yaml and summary.json of a bars run
(read with common/runs.py; folders that cannot be read are named on stderr). Accuracy is percent.
Diverged and other incomplete runs have no test metrics; they are listed per point (seeds, and the
epoch of divergence), named under the axes and left out of mean and std. The figure goes beside the
runs (fig3.png in the folder that holds them) unless --out says otherwise.
"""
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from common.cli import UsageParser, entry_point  # noqa: E402
from common.errors import UsageError  # noqa: E402
from common.runs import (Plotted, default_out, extract, find_runs, fmt_mean_std, layout, mean_std,  # noqa: E402
                         not_drawn_note, save_figure, status_note)
from fig3fig5_dendritic_microcircuits.src.params import n_steps  # noqa: E402


def point(run):
    """(variant, N): LE or orig, and the presentation time in steps of dt."""
    net = run.config["network"]
    return "le" if net["latent_eq"] else "orig", n_steps(net["t_pattern"], net["dt"])


def _is_bars(run):
    return isinstance(run.config.get("training"), dict) and "bars_drop_last_pattern" in run.config["training"]


def bars_table(run_dirs):
    """{(variant, N): {"mse": [...], "acc": [...], "seeds": [...] of completed runs, "runs": all runs}},
    ordered by N, and "<path>: <reason>" for each run folder that cannot be read."""
    runs, skipped = find_runs(run_dirs)

    def read(run):
        done = run.status == "completed"
        return point(run), (run.value("test_loss"), run.value("test_accuracy")) if done else None

    got, bad = extract([r for r in runs if _is_bars(r)], read)
    table = {}
    for run, (key, final) in got:
        e = table.setdefault(key, {"mse": [], "acc": [], "seeds": [], "runs": []})
        e["runs"].append(run)
        if final is not None:
            e["mse"].append(final[0])
            e["acc"].append(final[1])
            e["seeds"].append(run.seed)
    by_N = sorted(table, key=lambda key: (key[1], key[0]))
    return {key: table[key] for key in by_N}, skipped + bad


def markdown(table):
    lines = ["| N | variant | completed | test accuracy (%, mean ± std) | test MSE (mean ± std) | other runs |",
             "|---|---|---|---|---|---|"]
    for (variant, N), e in table.items():
        acc, mse = mean_std(e["acc"]), mean_std(e["mse"])
        lines.append(f"| {N} | {variant} | {acc[2]} | {fmt_mean_std(*acc[:2], percent=True)} | "
                     f"{fmt_mean_std(*mse[:2])} | {status_note(e['runs']) or '—'} |")
    return "\n".join(lines)


def plot(run_dirs, out_path):
    """Draw the figure; Plotted.series is bars_table's table."""
    roots = [run_dirs] if isinstance(run_dirs, (str, Path)) else run_dirs
    table, skipped = bars_table(roots)
    fig, (ax_acc, ax_mse) = plt.subplots(1, 2, figsize=(10, 3.8))
    for j, variant in enumerate(("le", "orig")):
        Ns = sorted(N for v, N in table if v == variant)
        if not Ns:
            continue
        acc = np.array([mean_std(table[(variant, N)]["acc"]) for N in Ns])
        mse = np.array([mean_std(table[(variant, N)]["mse"]) for N in Ns])
        label = "with LE" if variant == "le" else "without LE (orig)"
        ax_acc.errorbar(Ns, acc[:, 0], yerr=acc[:, 1], marker="o", capsize=3, color=f"C{j}",
                        label=label)
        ax_mse.errorbar(Ns, mse[:, 0], yerr=mse[:, 1], marker="o", capsize=3, color=f"C{j}",
                        label=label)
    ax_mse.axhline(0.17719, ls=":", color="gray", label="best constant predictor")
    for ax in (ax_acc, ax_mse):
        ax.set_xscale("log")
        ax.set_xlabel("presentation time N (steps of dt)")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    ax_acc.set_ylabel("final test accuracy (%)")
    ax_acc.set_ylim(-5, 105)
    ax_mse.set_ylabel("final test MSE")
    ax_mse.set_yscale("log")
    fig.suptitle("bars task, mean ± std over seeds (ddof=1)")
    layout(fig, [not_drawn_note([r for e in table.values() for r in e["runs"]])])
    save_figure(fig, out_path, dpi=130)
    plt.close(fig)
    return Plotted(table, skipped)


@entry_point
def main(argv=None):
    p = UsageParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--out", type=Path, default=None, help="figure file (default: fig3.png beside the runs)")
    p.add_argument("--table", action="store_true", help="also print a markdown table")
    a = p.parse_args(argv)
    missing = [str(r) for r in a.runs if not r.is_dir()]
    if missing:
        raise UsageError(f"not a directory: {', '.join(missing)}")
    if not any(_is_bars(r) for r in find_runs(a.runs)[0]):
        raise UsageError(f"no bars run folders under {', '.join(map(str, a.runs))}; make them with "
                         "`bash fig3fig5_dendritic_microcircuits/bars_jobs.sh`")
    out = a.out or default_out(a.runs, "fig3.png")
    drawn = plot(a.runs, out)
    for line in drawn.skipped:
        print(f"skipped {line}", file=sys.stderr)
    if a.table:
        print(markdown(drawn.series))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
