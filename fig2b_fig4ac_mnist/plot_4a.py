"""Fig. 4a: final test error (%) vs dt (T = n_updates * dt) per variant, mean +- std over seeds (ddof = 1).

python fig2b_fig4ac_mnist/plot_4a.py [RUN_DIR_OR_RUNS_ROOT ...] [--out PATH]

The title names the data set the runs recorded (a stand-in for MNIST is marked); runs that did not
complete are named under the axes. The figure goes beside the runs (default: runs/fig4a.png) unless
--out says otherwise. Run folders that cannot be read are named on stderr.
"""
import re
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from common.cli import UsageParser, entry_point  # noqa: E402
from common.errors import UsageError  # noqa: E402
from common.runs import (Plotted, data_title, default_out, draw_errorbars, extract, find_runs, layout,  # noqa: E402
                         mean_std_by_x, not_drawn_note, save_figure, with_status)
from fig2b_fig4ac_mnist.src.paths import RUNS  # noqa: E402

PREFIX = "4a_"  # the run names of this panel: 4a_<variant>_dt<dt>
LABELS = {"exact": "exact tau (sigma_tau = 0)", "jitter20": "sigma_tau = 0.2", "jitter30": "sigma_tau = 0.3",
          "taur_errors": "tau^r-based errors, sigma_tau = 0.01", "learned_tau_m": "learned tau_m, sigma_tau = 0.2"}


def variant_label(name):
    variant, _, data = name.partition(" [")
    return LABELS.get(variant, variant) + (f" [{data}" if data else "")


def point(run):
    """(variant, dt, n_updates, test error): runs live in runs/4a_<variant>_dt<dt>/seed<S>/."""
    name = re.sub(r"_dt[0-9.e-]+$", "", run.stem).removeprefix(PREFIX)
    return name, float(run.config["dt"]), run.config["n_updates"], run.value("test_error")


def plot(run_dirs, out_path):
    """Draw the figure; Plotted.series: {variant: {dt: (mean, std, n)}}, the variant with the data set
    appended when the runs used more than one."""
    runs, skipped = find_runs(run_dirs, PREFIX)
    points, bad = extract(with_status(runs, "completed"), point)
    several = len({r.data_label for r, _ in points}) > 1
    series = mean_std_by_x((f"{name} [{run.data_label}]" if several else name, dt, error)
                           for run, (name, dt, _, error) in points)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    draw_errorbars(ax, series, variant_label)
    n_updates = sorted({p[2] for _, p in points})
    ax.set_xscale("log")
    ax.set_xlabel(f"dt (presentation time T = {'/'.join(map(str, n_updates))} dt)")
    ax.set_ylabel("test error (%)")
    ax.set_title(f"Fig. 4a on {data_title(runs)}: mean +- std over seeds (ddof=1)", fontsize=8)
    if series:
        ax.legend(fontsize=7)
    layout(fig, [not_drawn_note(runs)])
    save_figure(fig, out_path)
    plt.close(fig)
    return Plotted(series, skipped + bad)


@entry_point
def main(argv=None):
    p = UsageParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="*", type=Path, default=[RUNS], help="run folders or runs/ roots (default: runs/)")
    p.add_argument("--out", type=Path, default=None, help="figure file (default: fig4a.png beside the runs)")
    a = p.parse_args(argv)
    if not find_runs(a.runs, PREFIX)[0]:
        raise UsageError(f"no Fig. 4a run folders (4a_*/seed*) under {', '.join(map(str, a.runs))}; "
                         "make them with `bash fig2b_fig4ac_mnist/4a_jobs.sh`")
    out = a.out or default_out(a.runs, "fig4a.png")
    drawn = plot(a.runs, out)
    for line in drawn.skipped:
        print(f"skipped {line}", file=sys.stderr)
    print({name: {dt: n for dt, (_, _, n) in by_dt.items()} for name, by_dt in drawn.series.items()}, "->", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
