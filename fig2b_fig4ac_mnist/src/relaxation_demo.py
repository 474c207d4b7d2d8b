"""Fig. 1-style demo: LE vs non-prospective neurons in a chain, smooth then stepped input.

python fig2b_fig4ac_mnist/src/relaxation_demo.py [--layers 4] [--dt 0.1] [--out DIR]
Writes DIR/traces.npz, DIR/summary.json, DIR/relaxation.png; prints the output lag of both chains.
"""
import argparse
import json
import sys
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from common.cli import UsageParser, entry_point  # noqa: E402
from common.config import load_config  # noqa: E402
from common.errors import UsageError  # noqa: E402
from common.runfolder import check_place  # noqa: E402
from fig2b_fig4ac_mnist.src.config import Config  # noqa: E402
from fig2b_fig4ac_mnist.src.paths import CONFIGS, RUNS  # noqa: E402
from fig2b_fig4ac_mnist.src.relaxation import chain_config, input_signal, simulate, smooth_lag, step_lag  # noqa: E402

CHAINS = {"le": "LE (tau = tau_m)", "no_prospective": "no prospective rates (tau = 0)"}


def plot(run_dir, out_path):
    d = np.load(Path(run_dir) / "traces.npz")
    t = d["t"]
    fig, axes = plt.subplots(2, 1, figsize=(7, 5), sharex=True)
    for ax, name in zip(axes, CHAINS):
        r, inst = d[f"{name}_rates"], d[f"{name}_inst"]
        for l in range(r.shape[1]):
            line, = ax.plot(t, r[:, l], lw=1, label=f"r_{l + 1}")
            ax.plot(t, inst[:, l], lw=1, ls="--", color=line.get_color())
        ax.set_title(f"{CHAINS[name]}: rates (solid) vs instantaneous rates (dashed)", fontsize=9)
        ax.set_ylabel("rate")
    axes[0].legend(fontsize=7, ncol=4)
    axes[1].set_xlabel("t (units of tau_m)")
    fig.tight_layout()
    fig.savefig(out_path)
    plt.close(fig)


@entry_point
def main(argv=None):
    ap = UsageParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--dt", type=float, default=0.1)
    ap.add_argument("--tau", type=float, default=10.0, help="tau_m of both chains, tau of the LE chain")
    ap.add_argument("--out", type=Path, default=RUNS / "relaxation")
    a = ap.parse_args(argv)
    if a.dt <= 0 or a.tau <= 0 or a.layers < 1:
        raise UsageError("--dt and --tau must be > 0 and --layers >= 1")
    base = load_config(Config, CONFIGS / "2b_le.yaml", ["device=cpu"])
    per_tau = int(round(a.tau / a.dt))  # steps per tau_m
    n_smooth, n_each = 20 * per_tau, 10 * per_tau
    x = input_signal(n_smooth, n_each, [0.2, 0.8, 0.4, 0.6], period_steps=10 * per_tau)
    check_place(a.out)  # not the repository root, nor a folder of someone else's files
    traces, summary = {"t": np.arange(1, len(x) + 1) * a.dt / a.tau, "x": x}, {"layers": a.layers, "dt": a.dt,
                                                                             "tau_m": a.tau}
    for name, tau in (("le", a.tau), ("no_prospective", 0.0)):
        rates, inst = simulate(chain_config(base, a.layers, tau, a.tau, a.dt), x)
        traces[f"{name}_rates"], traces[f"{name}_inst"] = rates, inst
        out, target = rates[:, -1], inst[:, -1]
        s_lag = smooth_lag(out[:n_smooth], target[:n_smooth], max_shift=8 * per_tau)
        k_lags = [step_lag(out, target, n_smooth + i * n_each, n_each) for i in range(1, 4)]
        summary[name] = {"smooth_lag_steps": s_lag, "smooth_lag_tau": s_lag * a.dt / a.tau,
                         "step_lag_steps": k_lags, "step_lag_tau": [k * a.dt / a.tau for k in k_lags]}
        print(f"{name}: output lag on the smooth input {s_lag} steps = {s_lag * a.dt / a.tau:.3g} tau_m; "
              f"after steps (within 5% of the jump) {k_lags} steps = "
              f"{[round(k * a.dt / a.tau, 3) for k in k_lags]} tau_m")
    try:
        a.out.mkdir(parents=True, exist_ok=True)
        np.savez(a.out / "traces.npz", **traces)
        (a.out / "summary.json").write_text(json.dumps(summary, indent=1))
        plot(a.out, a.out / "relaxation.png")
    except OSError as err:
        raise UsageError(f"cannot write {a.out}: {err.strerror or err}; free space or choose --out") from None
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
