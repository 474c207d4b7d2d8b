"""Train and evaluate the continuous-time LE network (Fig. 2b, 4a, 4c), one run or a sweep of ensembles.

python fig2b_fig4ac_mnist/src/train.py CONFIG.yaml [key=value ...] [--out DIR] [--restart]
python fig2b_fig4ac_mnist/src/train.py sweep CONFIG.yaml [CONFIG.yaml ...] --seeds 1-10 [key=value ...]
        [--variant NAME "key=value ..." ...] [--root DIR] [--name NAME] [--restart]

A sweep runs every (config, variant, seed) and writes one standard run folder per run,
ROOT/NAME/seed<S> (ROOT: fig2b_fig4ac_mnist/runs; NAME: `{stem}`, the config's file stem; `{variant}`
stands for the variant's name). A variant's overrides apply before the sweep's key=value pairs. Runs
that share shapes, dt, n_updates and data are stepped together as one ensemble; each network's metrics
are those of its own single run.
"""
import shlex
import sys
from pathlib import Path

from common.cli import UsageParser, entry_point, parse_entry_args, parse_seeds
from common.config import load_config
from common.errors import UsageError
from common.runfolder import default_run_dir
from common.rungroup import run_ensembles
from fig2b_fig4ac_mnist.src.config import Config
from fig2b_fig4ac_mnist.src.ensemble_runs import ensemble_key, train_ensemble
from fig2b_fig4ac_mnist.src.paths import FOLDER, RUNS


def sweep(argv):
    parser = UsageParser(prog="train.py sweep", description="configs x seeds as ensembles")
    parser.add_argument("items", nargs="+", metavar="CONFIG.yaml|key=value")
    parser.add_argument("--seeds", required=True, help="e.g. 1-10 or 42,69,12345")
    parser.add_argument("--root", type=Path, default=RUNS, help="parent of the run folders")
    parser.add_argument("--variant", nargs=2, action="append", metavar=("NAME", "OVERRIDES"),
                        help="a variant of every config: its name and key=value overrides (repeatable)")
    parser.add_argument("--name", default="{stem}",
                        help="run folder name under ROOT ({stem}: config stem, {variant}: variant name)")
    parser.add_argument("--restart", action="store_true", help="discard run folders of other configs")
    args = parser.parse_intermixed_args(argv)
    configs = [Path(x) for x in args.items if "=" not in x]
    overrides = [x for x in args.items if "=" in x]
    if not configs:
        raise UsageError("sweep needs at least one CONFIG.yaml")
    jobs, outs = [], set()
    for path in configs:
        for variant, variant_overrides in args.variant or [("", "")]:
            for seed in parse_seeds(args.seeds):
                cfg = load_config(Config, path, shlex.split(variant_overrides) + overrides + [f"seed={seed}"])
                try:
                    name = args.name.format(stem=path.stem, variant=variant)
                except (KeyError, IndexError, ValueError):
                    raise UsageError(f"--name {args.name!r}: only {{stem}} and {{variant}} can be filled in") from None
                out = args.root / name / f"seed{seed}"
                if out in outs:
                    raise UsageError(f"two runs would write {out}; put {{stem}} or {{variant}} into --name")
                outs.add(out)
                jobs.append((cfg, out))

    def train(group_jobs):
        print(f"ensemble of {len(group_jobs)} networks", flush=True)
        return train_ensemble(group_jobs, args.restart)

    return run_ensembles(jobs, ensemble_key, train)


@entry_point
def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "sweep":
        return sweep(argv[1:])
    cfg, args = parse_entry_args(Config, argv, description=__doc__)
    out = args.out or default_run_dir(FOLDER, args.config, cfg.seed)
    return train_ensemble([(cfg, out)], args.restart)


if __name__ == "__main__":
    sys.exit(main())
