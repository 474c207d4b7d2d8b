"""Bars task (Fig. 3): train one config, evaluate a run folder, or sweep configs x seeds as ensembles.

  python run_bars.py train CONFIG.yaml [--seed S] [--out DIR] [--restart] [key=value ...]
  python run_bars.py eval RUN_DIR
  python run_bars.py sweep CONFIG.yaml ... --seeds 12345-12354 [--root DIR] [--restart] [key=value ...]
        [--variant NAME "key=value ..." ...] [--name PATTERN] [--restart-run RUN_DIR ...]

A sweep (common/sweep.py) writes one standard run folder per (config, variant, seed), ROOT/<stem>/seed<S>
by default, identical to what `train` writes for that run; runs whose configs differ only in
PER_NETWORK keys (bars_train.py; e.g. LE and orig of one step count) are simulated as one ensemble.
"""
import csv
import sys
from pathlib import Path

import numpy as np

from common.cli import UsageParser, entry_parser, entry_point, parse_entry_args
from common.errors import UsageError
from common.runfolder import default_run_dir
from common.sweep import parse_sweep, run_sweep

from fig3fig5_dendritic_microcircuits.src.bars_train import PER_NETWORK, build, train_group
from fig3fig5_dendritic_microcircuits.src.config import BarsConfig
from fig3fig5_dendritic_microcircuits.src.dataset import bars_data
from fig3fig5_dendritic_microcircuits.src.plots import plot_outputs, plot_val_curve
from fig3fig5_dendritic_microcircuits.src.protocol import evaluate
from fig3fig5_dendritic_microcircuits.src.runfolders import (load_run_config, load_weights,
                                                             require_files, save_arrays)

FOLDER = Path(__file__).resolve().parents[1]


def cmd_train(argv):
    parser = entry_parser(prog="run_bars.py train", seed_key="training.seed")
    cfg, a = parse_entry_args(BarsConfig, argv, parser=parser)
    out = a.out or default_run_dir(FOLDER, a.config, cfg.training.seed)
    return train_group([(cfg, out)], a.restart)


def cmd_sweep(argv):
    sweep = parse_sweep(argv, BarsConfig, FOLDER, seed_key="training.seed", prog="run_bars.py sweep")
    return run_sweep(sweep, PER_NETWORK, train_group,
                     describe=lambda cfg: f"{cfg.network.steps_per_pattern} steps per pattern")


def cmd_eval(argv):
    """Recompute the final evaluation from the stored weights, compare it with the stored metrics
    (exit code 1 if they differ) and draw the run's plots."""
    p = UsageParser(prog="run_bars.py eval")
    p.add_argument("run_dir", type=Path)
    run_dir = p.parse_args(argv).run_dir
    require_files(run_dir, ("config.yaml", "metrics.csv", "weights_post.npz"), "bars")
    cfg = load_run_config(BarsConfig, run_dir)
    net, _ = build([cfg])                                 # replays the seed's RNG stream
    load_weights(net, run_dir / "weights_post.npz", 0)
    ev = evaluate(net, [bars_data(cfg)], cfg.network.steps_per_pattern, cfg.record_every,
                  [cfg.training.eval_metric == "accuracy"])[0]
    with open(run_dir / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
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
        plot_outputs(ev[split]["u_out"], ev[split]["u_tgt"], run_dir / f"bars_eval_{split}_u_out.png",
                     title=f"{split} set, {'LE' if cfg.network.latent_eq else 'orig'}")
    print(f"plots written to {run_dir}")
    return code


@entry_point
def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] not in ("train", "eval", "sweep"):
        raise UsageError("usage: run_bars.py train|eval|sweep ... (see the module docstring)")
    return {"train": cmd_train, "eval": cmd_eval, "sweep": cmd_sweep}[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
