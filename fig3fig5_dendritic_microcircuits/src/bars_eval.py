"""`run_bars.py eval RUN_DIR`: recompute the final evaluation from the stored weights, compare it with
the stored test metrics, and draw the run's plots (entry-script side)."""
import csv
from pathlib import Path

import numpy as np

from .bars_task import bars_data, build
from .config import BarsConfig
from .evaluation import evaluate
from .plots import plot_outputs, plot_val_curve
from .runfolders import load_run_config, require_files
from .traces import save_arrays


def read_metrics(run_dir):
    with open(Path(run_dir) / "metrics.csv") as f:
        return list(csv.DictReader(f))


def evaluate_run_folder(run_dir):
    run_dir = Path(run_dir)
    require_files(run_dir, ("config.yaml", "metrics.csv", "weights_post.npz"), "bars")
    cfg = load_run_config(BarsConfig, run_dir)
    net, _ = build([cfg])                                 # replays the seed's RNG stream
    net.load_weights(run_dir / "weights_post.npz", 0)
    ev = evaluate(net, [bars_data(cfg)], cfg.network.steps_per_pattern, cfg.record_every, [cfg.training.eval_metric == "accuracy"])[0]
    rows = read_metrics(run_dir)
    stored = {r["split"]: r for r in rows if r["split"] in ("train", "test")}
    code = 0
    for split in ("train", "test"):
        d = ev[split]
        save_arrays(run_dir / f"eval_{split}.npz", d)
        line = f"{split}: MSE {d['mse']:.6g}, accuracy {d['acc']:.4g}"
        if split in stored:
            same = (np.isclose(float(stored[split]["loss"]), d["mse"], rtol=1e-6, atol=0)
                    and np.isclose(float(stored[split]["accuracy"]), d["acc"]))
            line += " (matches the stored metrics)" if same else (
                f" (stored: MSE {stored[split]['loss']}, accuracy {stored[split]['accuracy']})")
            code = code if same else 1
        print(line)
    val = [r for r in rows if r["split"] == "val"]
    plot_val_curve([int(r["epoch"]) for r in val], [float(r["loss"]) for r in val],
                   [float(r["accuracy"]) for r in val], run_dir / "bars_train_val_acc.png")
    for split in ("train", "test"):
        d = ev[split]
        plot_outputs(d["u_out"], d["u_tgt"], run_dir / f"bars_eval_{split}_u_out.png",
                     title=f"{split} set, {'LE' if cfg.network.latent_eq else 'orig'}")
    print(f"plots written to {run_dir}")
    return code
