"""Fig. 2c-e: final test error of LE vs BP per task, mean +- standard deviation over seeds.

    python fig2cde_higgs_mnist_cifar10/plot_2cde.py [RUN_DIR ...] [--out figures/fig2cde.png]

Without RUN_DIRs it reads every completed run under runs/*/seed*/. The standard deviation uses
ddof = 1 (sample standard deviation over seeds); a group with a single run shows no error bar.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import yaml  # noqa: E402

FOLDER = Path(__file__).resolve().parent
TASKS = (("higgs", "c: HIGGS"), ("mnist", "d: MNIST (LeNet-5)"), ("cifar10", "e: CIFAR-10 (LeNet-5)"))
MODELS = (("le", "LE", "tab:blue"), ("bp", "BP", "tab:gray"))


def collect(run_dirs) -> dict[tuple[str, str], list[float]]:
    """{(task, model): [test error of each completed run]}."""
    groups: dict[tuple[str, str], list[float]] = {}
    for d in map(Path, run_dirs):
        summary_file, config_file = d / "summary.json", d / "config.yaml"
        if not (summary_file.is_file() and config_file.is_file()):
            continue
        summary = json.loads(summary_file.read_text())
        if summary.get("status") != "completed" or "test_error" not in summary.get("final", {}):
            continue
        cfg = yaml.safe_load(config_file.read_text())
        groups.setdefault((cfg["task"], cfg["model"]), []).append(float(summary["final"]["test_error"]))
    return groups


def stats(values: list[float]) -> tuple[float, float, int]:
    """mean, sample std (ddof = 1; 0 for one run), n."""
    v = np.asarray(values, dtype=float)
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0, len(v)


def plot(run_dirs, out_path) -> None:
    groups = collect(run_dirs)
    fig, axes = plt.subplots(1, 3, figsize=(9, 3.2))
    for ax, (task, title) in zip(axes, TASKS):
        for i, (model, label, color) in enumerate(MODELS):
            if (task, model) not in groups:
                continue
            mean, std, n = stats(groups[(task, model)])
            ax.bar(i, 100 * mean, yerr=100 * std if n > 1 else None, color=color, capsize=4)
            ax.text(i, 100 * (mean + std), f"{100 * mean:.2f}\nn={n}", ha="center", va="bottom", fontsize=7)
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
    run_dirs = args.run_dirs or sorted(FOLDER.glob("runs/*/seed*"))
    groups = collect(run_dirs)
    if not groups:
        print("no completed runs found", file=sys.stderr)
        return 1
    for (task, model), values in sorted(groups.items()):
        mean, std, n = stats(values)
        print(f"{task:8s} {model}: test error {100 * mean:.2f} +- {100 * std:.2f} % (n={n}, ddof=1)")
    plot(run_dirs, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
