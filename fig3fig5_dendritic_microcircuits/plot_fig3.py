"""Fig. 3: final test accuracy and MSE of the bars task against presentation time N (steps per
pattern), LE vs orig, mean +- standard deviation over seeds (sample std, ddof=1), from run folders.

  python plot_fig3.py RUNS_DIR [RUNS_DIR ...] [--out fig3.png] [--table]

A run folder is any directory below RUNS_DIR with config.yaml and summary.json of a bars run.
Diverged runs have no test metrics; they are counted per point and left out of mean and std.
"""
import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import yaml  # noqa: E402


def collect(run_dirs_or_dir):
    """{(variant, N): {"mse": [...], "acc": [...], "seeds": [...], "diverged": int, "other": int}}."""
    roots = [run_dirs_or_dir] if isinstance(run_dirs_or_dir, (str, Path)) else run_dirs_or_dir
    table = {}
    for root in roots:
        for summ in sorted(Path(root).rglob("summary.json")):
            cfg_path = summ.parent / "config.yaml"
            if not cfg_path.is_file():
                continue
            cfg = yaml.safe_load(cfg_path.read_text())
            if "bars_drop_last_pattern" not in cfg.get("training", {}):
                continue
            net = cfg["network"]
            key = ("le" if net["latent_eq"] else "orig", int(round(net["t_pattern"] / net["dt"])))
            s = json.loads(summ.read_text())
            e = table.setdefault(key, {"mse": [], "acc": [], "seeds": [], "diverged": 0, "other": 0})
            if s["status"] == "completed":
                e["mse"].append(s["final"]["test_loss"])
                e["acc"].append(s["final"]["test_accuracy"])
                e["seeds"].append(cfg["training"]["seed"])
            elif s["status"] == "diverged":
                e["diverged"] += 1
            else:
                e["other"] += 1
    return table


def _stat(v):
    v = np.asarray(v, dtype=float)
    if v.size == 0:
        return np.nan, np.nan
    return v.mean(), (v.std(ddof=1) if v.size > 1 else 0.0)


def markdown(table):
    lines = ["| N | variant | runs | diverged | test accuracy (mean ± std) | test MSE (mean ± std) |",
             "|---|---|---|---|---|---|"]
    for (variant, N) in sorted(table, key=lambda k: (k[1], k[0])):
        e = table[(variant, N)]
        am, asd = _stat(e["acc"])
        mm, msd = _stat(e["mse"])
        lines.append(f"| {N} | {variant} | {len(e['acc'])} | {e['diverged']} | {am:.1f} ± {asd:.1f} | "
                     f"{mm:.4g} ± {msd:.2g} |")
    return "\n".join(lines)


def plot(run_dirs_or_dir, out_path):
    table = collect(run_dirs_or_dir)
    fig, (ax_acc, ax_mse) = plt.subplots(1, 2, figsize=(10, 3.8))
    for j, variant in enumerate(("le", "orig")):
        Ns = sorted(N for v, N in table if v == variant)
        if not Ns:
            continue
        acc = np.array([_stat(table[(variant, N)]["acc"]) for N in Ns])
        mse = np.array([_stat(table[(variant, N)]["mse"]) for N in Ns])
        label = "with LE" if variant == "le" else "without LE (orig)"
        ax_acc.errorbar(Ns, acc[:, 0], yerr=acc[:, 1], marker="o", capsize=3, color=f"C{j}",
                        label=label)
        ax_mse.errorbar(Ns, mse[:, 0], yerr=mse[:, 1], marker="o", capsize=3, color=f"C{j}",
                        label=label)
    ax_mse.axhline(0.17719, ls=":", color="gray", label="best constant predictor")
    for ax in (ax_acc, ax_mse):
        ax.set_xscale("log")
        ax.set_xlabel("presentation time N (steps of dt)")
        ax.legend(fontsize=8)
    ax_acc.set_ylabel("final test accuracy (%)")
    ax_acc.set_ylim(-5, 105)
    ax_mse.set_ylabel("final test MSE")
    ax_mse.set_yscale("log")
    fig.suptitle("bars task, mean ± std over seeds (ddof=1)")
    fig.tight_layout()
    fig.savefig(out_path, dpi=130)
    plt.close(fig)
    return table


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--out", type=Path, default=Path("fig3.png"))
    p.add_argument("--table", action="store_true", help="also print a markdown table")
    a = p.parse_args(argv)
    missing = [str(r) for r in a.runs if not r.is_dir()]
    if missing:
        print(f"error: not a directory: {', '.join(missing)}", file=sys.stderr)
        return 2
    table = plot(a.runs, a.out)
    if a.table:
        print(markdown(table))
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
