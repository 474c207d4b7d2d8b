"""Bars task (Fig. 3): train one config, evaluate a run folder, or sweep configs x seeds as ensembles.

  python run_bars.py train CONFIG.yaml [--seed S] [--out DIR] [--restart] [key=value ...]
  python run_bars.py eval RUN_DIR
  python run_bars.py sweep CONFIG.yaml ... --seeds 12345-12354 [--root DIR] [--restart] [key=value ...]

A sweep simulates all (config, seed) runs that share the step count per pattern as one ensemble and
writes one standard run folder per (config, seed), identical to what `train` writes for that run.
"""
import sys
from pathlib import Path

from common.cli import UsageParser, entry_parser, entry_point, parse_entry_args, parse_seeds
from common.config import load_config
from common.errors import UsageError
from common.runfolder import default_run_dir

from fig3fig5_dendritic_microcircuits.src.bars_eval import evaluate_run_folder
from fig3fig5_dendritic_microcircuits.src.bars_train import sweep, train_group
from fig3fig5_dendritic_microcircuits.src.config import BarsConfig

FOLDER = Path(__file__).resolve().parents[1]


def cmd_train(argv):
    parser = entry_parser(prog="run_bars.py train", seed_key="training.seed")
    cfg, a = parse_entry_args(BarsConfig, argv, parser=parser)
    out = a.out or default_run_dir(FOLDER, a.config, cfg.training.seed)
    return train_group([(cfg, out)], a.restart)


def cmd_sweep(argv):
    p = UsageParser(prog="run_bars.py sweep")
    p.add_argument("items", nargs="+", metavar="CONFIG.yaml|key=value")
    p.add_argument("--seeds", required=True)
    p.add_argument("--root", type=Path, default=None, help="run folders go to ROOT/<stem>/seed<S>")
    p.add_argument("--restart", action="store_true")
    a = p.parse_intermixed_args(argv)
    configs = [Path(x) for x in a.items if "=" not in x]
    over = [x for x in a.items if "=" in x]
    if not configs:
        raise UsageError("sweep needs at least one CONFIG.yaml")
    jobs = []
    for path in configs:
        for seed in parse_seeds(a.seeds):
            cfg = load_config(BarsConfig, path, over + [f"training.seed={seed}"])
            out = (a.root / path.stem / f"seed{seed}") if a.root else default_run_dir(FOLDER, path, seed)
            jobs.append((cfg, out))
    return sweep(jobs, a.restart)


def cmd_eval(argv):
    p = UsageParser(prog="run_bars.py eval")
    p.add_argument("run_dir", type=Path)
    return evaluate_run_folder(p.parse_args(argv).run_dir)


@entry_point
def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] not in ("train", "eval", "sweep"):
        raise UsageError("usage: run_bars.py train|eval|sweep ... (see the module docstring)")
    return {"train": cmd_train, "eval": cmd_eval, "sweep": cmd_sweep}[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
