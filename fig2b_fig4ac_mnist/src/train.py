"""Train and evaluate the continuous-time LE network (Fig. 2b, 4a, 4c), one run or a sweep of ensembles.

python fig2b_fig4ac_mnist/src/train.py CONFIG.yaml [key=value ...] [--out DIR] [--restart]
python fig2b_fig4ac_mnist/src/train.py sweep CONFIG.yaml [CONFIG.yaml ...] --seeds 1-10 [key=value ...]
        [--variant NAME "key=value ..." ...] [--root DIR] [--name NAME] [--restart] [--restart-run DIR]

A sweep (common/sweep.py) runs every (config, variant, seed) and writes one standard run folder per
run, ROOT/NAME/seed<S> (ROOT: fig2b_fig4ac_mnist/runs; NAME: `{stem}`, the config's file stem;
`{variant}` stands for the variant's name). A variant's overrides apply before the sweep's key=value
pairs. Runs whose configs differ only in PER_NETWORK keys (ensemble_runs.py) are stepped together as
one ensemble; each network's metrics are those of its own single run. A single run is an ensemble of one.
"""
import sys

from common.cli import entry_point, parse_entry_args
from common.runfolder import default_run_dir
from common.sweep import parse_sweep, run_sweep
from fig2b_fig4ac_mnist.src.config import Config
from fig2b_fig4ac_mnist.src.ensemble_runs import PER_NETWORK, train_ensemble
from fig2b_fig4ac_mnist.src.paths import FOLDER


@entry_point
def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "sweep":
        sweep = parse_sweep(argv[1:], Config, FOLDER, prog="train.py sweep")
        return run_sweep(sweep, PER_NETWORK, train_ensemble)
    cfg, args = parse_entry_args(Config, argv, description=__doc__)
    out = args.out or default_run_dir(FOLDER, args.config, cfg.seed)
    return train_ensemble([(cfg, out)], args.restart)


if __name__ == "__main__":
    sys.exit(main())
