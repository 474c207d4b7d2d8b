"""Fig. 2c-e: final test error of LE vs BP per task, mean +- standard deviation over seeds.

    python fig2cde_higgs_mnist_cifar10/plot_2cde.py [RUN_DIR ...] [--out PATH]

Without RUN_DIRs it reads every run under runs/; the figure goes beside the runs (default:
runs/fig2cde.png) unless --out says otherwise. Errors are percent, as recorded. The standard deviation
uses ddof = 1 (sample standard deviation over seeds); a group with a single run shows no error bar.
Each task is compared with the update-matched BP baseline (the equivalent ANN of the LE network, same
updates: README "The update-matched BP baseline"), beside the authors' BP. Panel titles name the data set the runs
recorded (a stand-in is marked); a task without completed runs says why in its panel, and runs that
did not complete are named under the axes. Run folders that cannot be read are named on stderr.
"""
from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from common.cli import UsageParser, entry_point  # noqa: E402
from common.errors import UsageError  # noqa: E402
from common.runs import (DATA_NAMES, Plotted, default_out, extract, find_runs, fmt_mean_std, layout,  # noqa: E402
                         mean_std, not_drawn_note, save_figure, status_note, with_status)

FOLDER = Path(__file__).resolve().parent
TASKS = (("higgs", "c", ""), ("mnist", "d", " (LeNet-5)"), ("cifar10", "e", " (LeNet-5)"))
MODELS = (("le", "LE", "tab:blue"), ("bp_matched", "BP\nupdate-matched", "tab:orange"),
          ("bp", "BP\n(authors')", "tab:gray"))


def line(config: dict) -> str:
    """The bar a run belongs to: le, bp (the authors' baseline) or bp_matched (update-matched BP)."""
    if config["model"] == "bp" and config.get("bp_baseline") == "update_matched":
        return "bp_matched"
    return config["model"]


def fig2cde_runs(run_dirs) -> tuple[list, list[str]]:
    """(the Fig. 2c-e runs below run_dirs (configs with a task and a model), of any status; the
    folders that cannot be read)."""
    runs, skipped = find_runs(run_dirs)
    return [r for r in runs if "task" in r.config and "model" in r.config], skipped


def test_errors(runs) -> tuple[dict, list[str]]:
    """{(task, data label, model): (mean, std, n) of the test error (%) of the completed runs},
    and the runs left out with the reason."""
    points, bad = extract(with_status(runs, "completed"),
                          lambda r: ((r.config["task"], r.data_label, line(r.config)), r.value("test_error")))
    groups: dict[tuple, list[float]] = {}
    for _, (key, error) in points:
        groups.setdefault(key, []).append(error)
    return {key: mean_std(v) for key, v in sorted(groups.items(), key=lambda i: str(i[0]))}, bad


def plot(run_dirs, out_path) -> Plotted:
    """Draw the figure; Plotted.series: {(task, data label, model): (mean, std, n)} of the test error (%)."""
    runs, skipped = fig2cde_runs(run_dirs)
    series, bad = test_errors(runs)
    draw(series, runs, out_path)
    return Plotted(series, skipped + bad)


def empty_reason(task: str, runs) -> str:
    """What an empty panel says: the task's runs that did not complete, or that there are none."""
    name = DATA_NAMES[task]
    mine = [r for r in runs if r.config.get("task") == task]
    if mine:
        return f"no completed {name} runs:\n{status_note(mine) or 'no test error recorded'}"
    return (f"no {name} runs in these run folders\n(the quick run skips {name}\nwithout its data; get it with\n"
            f"python scripts/fetch_data.py {task})")


def draw(series, runs, out_path) -> None:
    fig, axes = plt.subplots(1, 3, figsize=(9.5, 3.4))
    for ax, (task, letter, net) in zip(axes, TASKS):
        datas = sorted({d for t, d, _ in series if t == task}, key=str)
        bars = [(d, m) for d in datas for m in MODELS if (task, d, m[0]) in series]
        for i, (data, (model, label, color)) in enumerate(bars):
            mean, std, n = series[(task, data, model)]
            ax.bar(i, mean, yerr=std if n > 1 else None, color=color, capsize=4)
            ax.text(i, mean + (std if n > 1 else 0), f"{mean:.2f}\nn={n}", ha="center", va="bottom", fontsize=7)
        several = len(datas) > 1
        ticks = [label + (f"\n{data or 'not recorded'}" if several else "") for data, (_, label, _) in bars]
        ax.set_xticks(range(len(bars)), ticks, fontsize=7)
        if not bars:
            ax.text(0.5, 0.5, empty_reason(task, runs), transform=ax.transAxes, ha="center", va="center", fontsize=7)
            ax.set_yticks([])
        title = datas[0] if len(datas) == 1 and datas[0] else DATA_NAMES[task] + " task" * bool(datas)
        ax.set_title(f"{letter}: {title}{net}", fontsize=9)
        ax.set_xlabel("model")
        ax.set_ylabel("test error (%)")
        ax.margins(y=0.25)
    fig.suptitle("LE vs update-matched BP (and the authors' BP), mean +- std over seeds (ddof=1)", fontsize=9)
    layout(fig, [not_drawn_note(runs)])
    save_figure(fig, out_path)
    plt.close(fig)


@entry_point
def main(argv=None) -> int:
    parser = UsageParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dirs", nargs="*", type=Path)
    parser.add_argument("--out", type=Path, default=None, help="figure file (default: fig2cde.png beside the runs)")
    args = parser.parse_args(argv)
    roots = args.run_dirs or [FOLDER / "runs"]
    runs, skipped = fig2cde_runs(roots)
    if not runs:
        raise UsageError(f"no Fig. 2c-e run folders under {', '.join(map(str, roots))}; make them with "
                         f"`bash fig2cde_higgs_mnist_cifar10/submit_python_mnist_gpu_v100.sh` (or the quick run)")
    out = args.out or default_out(roots, "fig2cde.png")
    series, bad = test_errors(runs)
    for line_ in skipped + bad:
        print(f"skipped {line_}", file=sys.stderr)
    for (task, data, model), (mean, std, n) in series.items():
        print(f"{task:8s} {model} on {data or 'data set not recorded'}: test error "
              f"{fmt_mean_std(mean, std, percent=True)} % (n={n}, ddof=1)")
    draw(series, runs, out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
