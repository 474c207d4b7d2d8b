"""Fig. 2c-e: final test error of LE vs BP per task, mean +- standard deviation over seeds.

    python fig2cde_higgs_mnist_cifar10/plot_2cde.py [RUN_DIR ...] [--out figures/fig2cde.png]

Without RUN_DIRs it reads every completed run under runs/. Errors are percent, as recorded. The
standard deviation uses ddof = 1 (sample standard deviation over seeds); a group with a single run
shows no error bar. Run folders that cannot be read are named on stderr.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from common.runs import Plotted, extract, find_runs, fmt_mean_std, mean_std, with_status  # noqa: E402

FOLDER = Path(__file__).resolve().parent
TASKS = (("higgs", "c: HIGGS"), ("mnist", "d: MNIST (LeNet-5)"), ("cifar10", "e: CIFAR-10 (LeNet-5)"))
MODELS = (("le", "LE", "tab:blue"), ("bp", "BP", "tab:gray"), ("bp_matched", "BP\nmatched", "tab:orange"))


def line(config: dict) -> str:
    """The bar a run belongs to: le, bp (the authors' baseline) or bp_matched (update-matched BP)."""
    if config["model"] == "bp" and config.get("bp_baseline") == "update_matched":
        return "bp_matched"
    return config["model"]


def test_errors(run_dirs) -> tuple[dict, list[str]]:
    """{(task, model): (mean, std, n) of the test error (%) of the completed runs}, skipped folders."""
    runs, skipped = find_runs(run_dirs)
    points, bad = extract(with_status(runs, "completed"),
                          lambda r: ((r.config["task"], line(r.config)), r.value("test_error")))
    groups: dict[tuple[str, str], list[float]] = {}
    for _, (key, error) in points:
        groups.setdefault(key, []).append(error)
    return {key: mean_std(v) for key, v in sorted(groups.items())}, skipped + bad


def plot(run_dirs, out_path) -> Plotted:
    """Draw the figure; Plotted.series: {(task, model): (mean, std, n)} of the test error (%)."""
    series, skipped = test_errors(run_dirs)
    draw(series, out_path)
    return Plotted(series, skipped)


def draw(series, out_path) -> None:
    fig, axes = plt.subplots(1, 3, figsize=(9, 3.2))
    for ax, (task, title) in zip(axes, TASKS):
        for i, (model, label, color) in enumerate(MODELS):
            if (task, model) not in series:
                continue
            mean, std, n = series[(task, model)]
            ax.bar(i, mean, yerr=std if n > 1 else None, color=color, capsize=4)
            ax.text(i, mean + (std if n > 1 else 0), f"{mean:.2f}\nn={n}", ha="center", va="bottom", fontsize=7)
        ax.set_xticks(range(len(MODELS)), [m[1] for m in MODELS])
        ax.set_title(title, fontsize=9)
        ax.set_ylabel("test error (%)")
        ax.margins(y=0.25)
    fig.suptitle("LE vs BP, mean +- std over seeds (ddof=1)", fontsize=9)
    fig.tight_layout()
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_path)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dirs", nargs="*", type=Path)
    parser.add_argument("--out", type=Path, default=FOLDER / "figures" / "fig2cde.png")
    args = parser.parse_args(argv)
    series, skipped = test_errors(args.run_dirs or [FOLDER / "runs"])
    for line in skipped:
        print(f"skipped {line}", file=sys.stderr)
    if not series:
        print("no completed runs found", file=sys.stderr)
        return 1
    for (task, model), (mean, std, n) in series.items():
        print(f"{task:8s} {model}: test error {fmt_mean_std(mean, std, percent=True)} % (n={n}, ddof=1)")
    draw(series, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
