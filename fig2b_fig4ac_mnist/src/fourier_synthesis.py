"""Fig. 2a: Fourier synthesis of a 20 Hz sawtooth with and without prospective rates (spec §6).

python fig2b_fig4ac_mnist/src/fourier_synthesis.py [--steps N] [--out DIR] [--authors-sign]
Writes DIR/le.npy and DIR/no_prospective.npy (steps x 4: t [s], target, output, u_1), summary.json
and fourier_synthesis.png (target vs outputs, every 100th step).
"""
import argparse
import json
import sys
from dataclasses import asdict, replace
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from common.cli import entry_point  # noqa: E402
from common.errors import UsageError  # noqa: E402
from fig2b_fig4ac_mnist.src.fourier import FourierParams, n_steps, run  # noqa: E402
from fig2b_fig4ac_mnist.src.paths import RUNS  # noqa: E402

RUNS_ = {"le": "LE (tau^r = tau = 10 ms)", "no_prospective": "no prospective rates (tau^r = 0)"}


def plot(run_dir, out_path, every=100):
    run_dir = Path(run_dir)
    fig, ax = plt.subplots(figsize=(7, 3))
    target_drawn = False
    for name, label in RUNS_.items():
        h = np.load(run_dir / f"{name}.npy")[::every]
        if not target_drawn:
            ax.plot(h[:, 0] * 1000, h[:, 1], color="black", lw=1.0, label="target")
            target_drawn = True
        ax.plot(h[:, 0] * 1000, h[:, 2], lw=0.8, label=label)
    info = json.loads((run_dir / "summary.json").read_text())
    ax.axvline(info["params"]["t_learn"], color="grey", ls=":", lw=0.8)
    ax.set_xlabel("t (ms)")
    ax.set_ylabel("output")
    ax.set_ylim(-2, 2)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(out_path)
    plt.close(fig)


def test_error(hist, p):
    """Mean |target - output| after learning (beta = 0, weights fixed)."""
    start = int(round(p.t_learn / p.dt)) + 1
    return float(np.abs(hist[start:, 1] - hist[start:, 2]).mean()) if len(hist) > start else float("nan")


@entry_point
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=None, help="shorter run (default: the full 119,999)")
    ap.add_argument("--out", type=Path, default=RUNS / "fourier")
    ap.add_argument("--authors-sign", action="store_true", help="nudge away from the target (spec F2)")
    a = ap.parse_args(argv)
    p = FourierParams(authors_sign=a.authors_sign)
    if a.steps is not None and a.steps <= 0:
        raise UsageError("--steps must be > 0")
    steps = n_steps(p) if a.steps is None else a.steps
    if a.steps is not None and a.steps < n_steps(p):  # keep the learn/test proportion 2:1
        p = replace(p, t_learn=steps * p.dt * 2 / 3)
    a.out.mkdir(parents=True, exist_ok=True)
    summary = {"steps": steps, "params": asdict(p)}
    for name, tau_r in (("le", p.tau), ("no_prospective", 0.0)):
        hist, _ = run(replace(p, tau_r=tau_r), steps)
        np.save(a.out / f"{name}.npy", hist)
        summary[f"{name}_mean_abs_error_after_learning"] = test_error(hist, p)
        print(f"{name}: mean |target - output| after learning = {summary[f'{name}_mean_abs_error_after_learning']:.4f}")
    (a.out / "summary.json").write_text(json.dumps(summary, indent=1))
    plot(a.out, a.out / "fourier_synthesis.png")
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
