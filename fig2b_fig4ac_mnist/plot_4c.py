"""Fig. 4c: final test error (%) vs presentation time T = n_updates * dt per (dt, tau_s), mean +- std (ddof = 1).

python fig2b_fig4ac_mnist/plot_4c.py [RUN_DIR_OR_RUNS_ROOT ...] [--out PATH]

The title names the data set the runs recorded (a stand-in for MNIST is marked); runs that did not
complete are named under the axes. The figure goes beside the runs (default: runs/fig4c.png) unless
--out says otherwise. Run folders that cannot be read are named on stderr.
"""
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

PREFIX = "4c_"  # the run names of this panel: 4c_dt<dt>_...


def point(run):
    """((dt, tau_s), T, test error)."""
    dt, tau_s = float(run.config["dt"]), float(run.config["tau_s"])
    return (dt, tau_s), run.config["n_updates"] * dt, run.value("test_error")


def label(dt, tau_s, data=None):
    text = f"dt = {dt:g}, " + ("no filter" if tau_s == 0 else f"tau_s = {tau_s:g} (dt/tau_s = {dt / tau_s:g})")
    return f"{text} [{data}]" if data else text


def plot(run_dirs, out_path):
    """Draw the figure; Plotted.series: {(dt, tau_s): {T: (mean, std, n)}}, the key with the data set
    appended when the runs used more than one."""
    runs, skipped = find_runs(run_dirs, PREFIX)
    points, bad = extract(with_status(runs, "completed"), point)
    several = len({r.data_label for r, _ in points}) > 1
    series = mean_std_by_x((key + (run.data_label,) * several, T, error) for run, (key, T, error) in points)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    draw_errorbars(ax, series, lambda key: label(*key))
    ax.set_xscale("log")
    ax.set_xlabel("presentation time T = n_updates dt")
    ax.set_ylabel("test error (%)")
    ax.set_title(f"Fig. 4c on {data_title(runs)}: mean +- std over seeds (ddof=1)", fontsize=8)
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
    p.add_argument("--out", type=Path, default=None, help="figure file (default: fig4c.png beside the runs)")
    a = p.parse_args(argv)
    if not find_runs(a.runs, PREFIX)[0]:
        raise UsageError(f"no Fig. 4c run folders (4c_*/seed*) under {', '.join(map(str, a.runs))}; "
                         "make them with `bash fig2b_fig4ac_mnist/4c_jobs.sh`")
    out = a.out or default_out(a.runs, "fig4c.png")
    drawn = plot(a.runs, out)
    for line in drawn.skipped:
            print(f"skipped {line}", file=sys.stderr)
    print({label(*key): {T: n for T, (_, _, n) in by_T.items()} for key, by_T in drawn.series.items()}, "->", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
