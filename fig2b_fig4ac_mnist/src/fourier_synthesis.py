"""Fig. 2a: Fourier synthesis of a 20 Hz sawtooth with and without prospective rates (model §6).

python fig2b_fig4ac_mnist/src/fourier_synthesis.py [--steps N] [--out DIR] [--authors-sign] [--restart]
Writes a run folder: le.npy and no_prospective.npy (steps x 4: t [s], target, output, u_1),
config.yaml, summary.json (mean |target - output| after learning) and fourier_synthesis.png
(target vs outputs, every 100th step).
"""
import argparse
import sys
from dataclasses import replace
from pathlib import Path

import matplotlib
import numpy as np
import yaml

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from common.cli import UsageParser, entry_point  # noqa: E402
from common.errors import UsageError  # noqa: E402
from common.runfolder import RunFolder  # noqa: E402
from fig2b_fig4ac_mnist.src.fourier import FourierParams, n_steps, run  # noqa: E402
from fig2b_fig4ac_mnist.src.paths import RUNS  # noqa: E402

NETS = {"le": "LE (tau^r = tau = 10 ms)", "no_prospective": "no prospective rates (tau^r = 0)"}


def plot(run_dir, out_path, every=100):
    """Target and both outputs against time from a run folder of this script."""
    run_dir = Path(run_dir)
    t_learn = yaml.safe_load((run_dir / "config.yaml").read_text())["t_learn"]
    fig, ax = plt.subplots(figsize=(7, 3))
    for i, (name, label) in enumerate(NETS.items()):
        h = np.load(run_dir / f"{name}.npy")[::every]
        if i == 0:
            ax.plot(h[:, 0] * 1000, h[:, 1], color="black", lw=1.0, label="target")
        ax.plot(h[:, 0] * 1000, h[:, 2], lw=0.8, label=label)
    ax.axvline(t_learn, color="grey", ls=":", lw=0.8)
    ax.set_xlabel("t (ms); learning (beta = 0.1) left of the dotted line, beta = 0 right of it")
    ax.set_ylabel("output")
    ax.set_ylim(-2, 2)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(out_path)
    plt.close(fig)


def error_after_learning(hist, p):
    """Mean |target - output| after learning (beta = 0, weights fixed)."""
    start = int(round(p.t_learn / p.dt)) + 1
    return float(np.abs(hist[start:, 1] - hist[start:, 2]).mean()) if len(hist) > start else float("nan")


@entry_point
def main(argv=None):
    ap = UsageParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=None, help="shorter run (default: the full 119,999)")
    ap.add_argument("--out", type=Path, default=RUNS / "fourier")
    ap.add_argument("--authors-sign", action="store_true", help="nudge away from the target (model F2)")
    ap.add_argument("--restart", action="store_true")
    a = ap.parse_args(argv)
    p = FourierParams(authors_sign=a.authors_sign)
    if a.steps is not None and a.steps <= 0:
        raise UsageError("--steps must be > 0")
    steps = n_steps(p) if a.steps is None else min(a.steps, n_steps(p))
    if steps < n_steps(p):  # keep the learn/test proportion 2:1
        p = replace(p, t_max=(steps + 0.5) * p.dt, t_learn=round(steps * 2 / 3) * p.dt)
    with RunFolder(a.out, p, restart=a.restart) as rf:
        if rf.already_completed:
            return 0
        final = {"steps": steps}
        for name, tau_r in (("le", p.tau), ("no_prospective", 0.0)):
            hist, _ = run(replace(p, tau_r=tau_r), steps, hook=lambda n: rf.check_stop())
            rf.add_steps(steps)
            np.save(a.out / f"{name}.npy", hist)
            final[f"{name}_mean_abs_error_after_learning"] = error_after_learning(hist, p)
            print(f"{name}: mean |target - output| after learning = {final[f'{name}_mean_abs_error_after_learning']:.4f}")
        plot(a.out, a.out / "fourier_synthesis.png")
        rf.complete(final)
    return rf.exit_code


if __name__ == "__main__":
    sys.exit(main())
