"""`run_bars.py eval RUN_DIR`: recompute the final evaluation from the stored weights, compare it with
the stored test metrics, and draw the run's plots (entry-script side)."""
import csv
from pathlib import Path

import numpy as np
import yaml

from common.config import load_config_dict
from common.errors import UsageError

from fig3fig5_dendritic_microcircuits.src.config import BarsConfig
from fig3fig5_dendritic_microcircuits.src.plots import plot_outputs, plot_val_curve


def read_metrics(run_dir):
    with open(Path(run_dir) / "metrics.csv") as f:
        return list(csv.DictReader(f))


def evaluate_run_folder(run_dir):
    from fig3fig5_dendritic_microcircuits.src.run_bars import build, evaluate, save_eval
    run_dir = Path(run_dir)
    for name in ("config.yaml", "metrics.csv", "weights_post.npz"):
        if not (run_dir / name).is_file():
            raise UsageError(f"{run_dir} is not a finished bars run folder (no {name})")
    cfg = load_config_dict(BarsConfig, yaml.safe_load((run_dir / "config.yaml").read_text()))
    net, _ = build([cfg])                                 # replays the seed's RNG stream
    net.load_weights(run_dir / "weights_post.npz", 0)
    n = cfg.network.steps(cfg.network.t_pattern)
    ev = evaluate(net, [cfg], n)[0]
    rows = read_metrics(run_dir)
    stored = {r["split"]: r for r in rows if r["split"] in ("train", "test")}
    code = 0
    for split in ("train", "test"):
        d = ev[split]
        save_eval(run_dir, split, d)
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
