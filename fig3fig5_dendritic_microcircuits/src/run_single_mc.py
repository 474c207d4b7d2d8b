"""Mimic task (Fig. 5): a student microcircuit with LE learns to reproduce a teacher (model §6).

  python run_single_mc.py train CONFIG.yaml [--seed S] [--out DIR] [--restart] [key=value ...]
  python run_single_mc.py eval RUN_DIR

The whole task is ~0.6 M steps (about a second compiled), so it writes no intermediate checkpoint:
a stop request (SIGTERM, SIGUSR1, Ctrl-C) ends it after the current engine call with status
interrupted, and the rerun starts over.
"""
import sys
from pathlib import Path

import numpy as np

from common.cli import UsageParser, entry_parser, entry_point, parse_entry_args
from common.errors import UsageError
from common.runfolder import RunFolder, default_run_dir

from fig3fig5_dendritic_microcircuits.src.config import MimicConfig
from fig3fig5_dendritic_microcircuits.src.mimic import run_mimic
from fig3fig5_dendritic_microcircuits.src.mimic_plots import RUN_FILES, plot_all
from fig3fig5_dendritic_microcircuits.src.runfolders import (load_run_config, require_files, save_array,
                                                             save_arrays)

FOLDER = Path(__file__).resolve().parents[1]


def save_results(path, res):
    save_arrays(path / "teacher.npz", dict(x=res["teacher_x"], y=res["teacher_y"],
                                           **res["teacher_weights"]))
    for name in ("weights_init", "weights_post_selfpred", "weights_post", "selfpred_traces",
                 "train_traces"):
        if name in res:
            save_arrays(path / f"{name}.npz", res[name])
    for stage in ("eval_pretrain", "eval"):
        for split, d in res[stage].items():
            save_arrays(path / f"{stage}_{split}.npz", d)
    save_array(path / "val_mse.npy", res["val_mse"])


def cmd_train(argv):
    parser = entry_parser(prog="run_single_mc.py train", seed_key="training.seed")
    cfg, a = parse_entry_args(MimicConfig, argv, parser=parser)
    out = a.out or default_run_dir(FOLDER, a.config, cfg.training.seed)
    with RunFolder(out, cfg, restart=a.restart) as run:
        if run.already_completed:
            return 0
        tr = cfg.training

        def log_rows(epoch_end, rows):
            for e, (mse, _) in enumerate(rows):
                run.log_metrics(epoch=e + 1, split="val", loss=mse)

        res = run_mimic(cfg, on_epoch_block=log_rows, check_stop=run.check_stop)
        if res["engine_note"]:
            print(f"note: {res['engine_note']}")
        run.add_steps(cfg.network.steps_per_pattern * tr.n_patterns * (tr.n_epochs_selfpred + 4 + tr.n_epochs * 2))
        save_results(run.path, res)
        for split in ("train", "test"):
            run.log_metrics(epoch=0, split=f"pretrain_{split}", loss=res["eval_pretrain"][split]["mse"])
        for split in ("train", "test"):
            run.log_metrics(epoch=tr.n_epochs, split=split, loss=res["eval"][split]["mse"])
        wt, wp = res["teacher_weights"], res["weights_post"]
        final = {"test_loss": res["eval"]["test"]["mse"], "final_val_loss": float(res["val_mse"][-1]),
                 "pretrain_test_loss": res["eval_pretrain"]["test"]["mse"], "engine": res["engine"]}
        for key in ("W_up_1", "W_up_out"):
            final[f"{key}_student"] = float(wp[key].ravel()[0]) if wp[key].size == 1 else None
            final[f"{key}_teacher"] = float(wt[key].ravel()[0]) if wt[key].size == 1 else None
            final[f"{key}_max_abs_diff"] = float(np.abs(wp[key] - wt[key]).max())
        final["W_ip_1_minus_W_up_out_max_abs"] = float(np.abs(wp["W_ip_1"] - wp["W_up_out"]).max())
        run.complete(final)
        print(f"final validation MSE {final['final_val_loss']:.3g}; test MSE {final['test_loss']:.3g} "
              f"(before training {final['pretrain_test_loss']:.3g})")
    if run.status == "completed":       # after the run: a failed plot leaves it completed
        plot_all(run.path, cfg)
    return run.exit_code


def cmd_eval(argv):
    p = UsageParser(prog="run_single_mc.py eval")
    p.add_argument("run_dir", type=Path)
    a = p.parse_args(argv)
    require_files(a.run_dir, RUN_FILES, "mimic")
    plot_all(a.run_dir, load_run_config(MimicConfig, a.run_dir))
    print(f"plots written to {a.run_dir}")
    return 0


@entry_point
def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] not in ("train", "eval"):
        raise UsageError("usage: run_single_mc.py train CONFIG.yaml [...] | eval RUN_DIR")
    return {"train": cmd_train, "eval": cmd_eval}[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
