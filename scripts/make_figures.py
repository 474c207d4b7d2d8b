"""Assemble every paper panel that has data from run folders, plus a results table.

    python scripts/make_figures.py [RUN_ROOTS ...] --out figures/ [--formats png,pdf]

RUN_ROOTS default to the experiment folders' runs/ folders and runs/ (reproduce.py's output). Run
folders are found anywhere below them, read and grouped by experiment, config and seed
(common/runs.py), and handed to the plot function of their folder (plot(run_dirs, out_path), one
call per format). Only completed and diverged runs are plotted; running, interrupted and failed runs
are listed in results.md and never enter a mean. results.md has one row per setting and metric:
mean +- std (ddof = 1) over completed seeds (error and accuracy in percent), seed count against the
paper's, and the other runs by status. Every section names the data set each run recorded it used
and marks a stand-in (Fashion-MNIST or synthetic data where the paper used MNIST) on the panel and on
each of its rows. A run folder that cannot be read (by this script or by a plot function), a metric
that cannot be a result (common/runs.py out_of_range) and anything below a root that is neither a
regular file nor a folder are left out and listed in results.md; they never stop the other runs or panels.
"""
import importlib.util
import math
import sys
import traceback
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from panels import PANELS  # noqa: E402
from common.cli import UsageParser, entry_point  # noqa: E402
from common.runs import (Run, Unreadable, find_runs, fmt_mean_std, group_runs, is_percent, read_json,  # noqa: E402
                         scan, special_kind)

REPO = Path(__file__).resolve().parents[1]
F2B, F2CDE, F35 = "fig2b_fig4ac_mnist", "fig2cde_higgs_mnist_cifar10", "fig3fig5_dendritic_microcircuits"
PLOTTED = ("completed", "diverged")
FORMATS = ("png", "pdf")


def _demo_run(path, marker):
    """A Run for the output folder of fig2a's or fig1's demo script (not a standard run folder), None
    for another folder; Unreadable when its summary.json does not have the demo's shape."""
    info = read_json(path / "summary.json")
    try:
        if marker == "le.npy" and (path / "no_prospective.npy").is_file() and "params" in info:
            final = {k: v for k, v in info.items() if k.endswith("_after_learning")}
            return Run(path, {"status": "completed", "final": final}, dict(info["params"]), F2B,
                       "fourier_synthesis.py", path.name, info["params"].get("seed"))
        if marker == "traces.npz" and "layers" in info and "le" in info:
            final = {}
            for chain in ("le", "no_prospective"):
                final[f"{chain}_smooth_lag_tau"] = info[chain]["smooth_lag_tau"]
                final[f"{chain}_step_lag_tau"] = max(info[chain]["step_lag_tau"])
            config = {k: v for k, v in info.items() if not isinstance(v, dict)}
            return Run(path, {"status": "completed", "final": final}, config, F2B, "relaxation_demo.py",
                       path.name, None)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise Unreadable(f"summary.json of a demo output has the wrong shape ({type(err).__name__}: {err})") from None
    return None


def find_demos(roots):
    """The outputs of fourier_synthesis.py (le.npy, no_prospective.npy, summary.json with params) and
    relaxation_demo.py (traces.npz, summary.json with the lags), as Runs; and the skipped folders."""
    found, skipped = [], []
    for root in map(Path, roots):
        markers, _ = scan(root, ("le.npy", "traces.npz"))  # find_runs has noted the special files
        for marker, folders in markers.items():
            for folder in folders:
                try:
                    run = _demo_run(folder, marker)
                except Unreadable as err:
                    skipped.append(f"{folder}: {err}")
                    continue
                if run:
                    found.append(run)
    return found, skipped


def default_roots():
    return [REPO / f / "runs" for f in (F2B, F2CDE, F35)] + [REPO / "runs"]


def _load_plot(plot_file):
    path = REPO / plot_file
    if not path.is_file():
        return None, f"{plot_file} does not exist"
    spec = importlib.util.spec_from_file_location(f"plot_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not callable(getattr(module, "plot", None)):
        return None, f"{plot_file} has no plot(run_dirs, out_path)"
    return module.plot, None


def _figure_names(panel, runs):
    """panel id alone for one run; else panel id + run name (+ seed), made unique."""
    if len(runs) == 1:
        return [panel.id]
    names, seen = [], {}
    for r in runs:
        name = f"{panel.id}_{r.stem.removeprefix(panel.id + '_')}" + (f"_seed{r.seed}" if r.seed is not None else "")
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return names


def _failure(err):
    return traceback.format_exception_only(type(err), err)[-1].strip()


def draw(panel, runs, out_dir, formats=FORMATS):
    """Call the folder's plot function once per format; returns (paths written, problem or None, the
    run folders left out: unreadable for the plot function, or a per-run figure that failed)."""
    plotted = [r for r in runs if r.status in PLOTTED]
    if not plotted:
        return [], "no completed or diverged runs", []
    try:
        plot, problem = _load_plot(panel.plot_file)
    except Exception as err:  # a plot module that does not load must not stop the other panels
        return [], f"{panel.plot_file} failed: {_failure(err)}", []
    if plot is None:
        return [], problem, []
    if panel.per_run:  # one figure per run folder, named after the run when there are several
        jobs = [(r.path, name) for r, name in zip(plotted, _figure_names(panel, plotted))]
    else:
        jobs = [([r.path for r in plotted], panel.id)]
    written, failed = [], None
    skipped = {}  # ordered set: the same folder is reported by the PNG and the PDF call
    for arg, name in jobs:
        odd = [f.name for f in Path(arg).iterdir() if special_kind(f)] if panel.per_run else []
        if odd:  # a per-run plot reads files of its own choosing: none may be a pipe that blocks it
            skipped[f"{arg}: holds {', '.join(odd)}, not regular files: not drawn"] = None
            continue
        try:
            for suffix in formats:
                path = out_dir / f"{name}.{suffix}"
                drawn = plot(arg, path)
                skipped.update(dict.fromkeys(getattr(drawn, "skipped", ())))  # per-run plots return None
                if path.is_file():
                    written.append(path)
        except Exception as err:  # one broken figure must not stop the other figures and panels
            if panel.per_run:
                skipped[f"{arg}: {panel.plot_file} failed: {_failure(err)}"] = None
            else:
                failed = f"{panel.plot_file} failed: {_failure(err)}"
    if not (written or failed):
        failed = ("every run folder was left out (listed at the end)" if panel.per_run and skipped
                  else f"{panel.plot_file} wrote no {panel.id}.{'/.'.join(formats)}")
    return written, failed, list(skipped)


def results_rows(panel, groups):
    """One row per (setting, metric): panel, setting, data (the data set the runs recorded, '' when
    they record none), metric, ours, seeds, other runs (statuses, and values left out as impossible)."""
    rows = []
    for g in groups:
        total = len(g.runs)
        data = g.data_label or ""
        for key, label in panel.metrics:
            mean, std, n = g.stats(key)
            if n == 0 and not any(key in r.final for r in g.runs):
                continue
            other = "; ".join([g.status_note()] * bool(g.status_note())
                              + [f"left out: {note}" for note in g.left_out(key)])
            rows.append({"panel": panel.id, "setting": g.label, "data": data, "metric": label,
                         "ours": fmt_mean_std(mean, std, percent=is_percent(key)), "mean": mean, "std": std, "n": n,
                         "seeds": f"{n} of {total} run, paper {panel.paper_seeds}", "other": other or "—"})
        if not any(r["setting"] == g.label and r["panel"] == panel.id for r in rows):
            rows.append({"panel": panel.id, "setting": g.label, "data": data, "metric": "—", "ours": "—",
                         "mean": math.nan, "std": math.nan, "n": 0,
                         "seeds": f"0 of {total} run, paper {panel.paper_seeds}",
                         "other": g.status_note() or "no final metrics"})
    return rows


def data_lines(runs):
    """The section's data line: the data sets the runs recorded, and a stand-in warning."""
    labels = sorted({r.data_label for r in runs if r.data_label})
    if not labels:
        return []
    lines = [f"Data (as the runs recorded it): {', '.join(labels)}."]
    stand_in = [r for r in runs if r.stand_in]
    if stand_in:
        lines[0] = f"**Stand-in data** in {len(stand_in)} of {len(runs)} runs. " + lines[0]
        fetch = " and ".join(f"`python scripts/fetch_data.py {name}`"
                             for name in sorted({r.nominal_dataset for r in stand_in}))
        lines.append(f"Their numbers are not comparable with the paper's; get the paper's data with {fetch} "
                     "and rerun.")
    return lines + [""]


def table_lines(rows):
    """A markdown table; the data column only when a run of the section records its data set."""
    cols = [("setting", "setting"), ("data", "data"), ("metric", "metric"), ("ours (mean ± std)", "ours"),
            ("seeds", "seeds"), ("other runs", "other")]
    if not any(r["data"] for r in rows):
        cols.remove(("data", "data"))
    return (["| " + " | ".join(h for h, _ in cols) + " |", "|" + "---|" * len(cols)]
            + ["| " + " | ".join(r[k] or "—" for _, k in cols) + " |" for r in rows])


def make_figures(roots, out_dir, not_run=None, formats=FORMATS):
    """Draw every panel with data and write results.md; returns (table rows, figure paths, notes).
    not_run: {panel id: [why, ...]} for the parts a caller skipped (e.g. no data), said in the section."""
    not_run = not_run or {}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    runs, skipped = find_runs(roots)
    demos, demo_skipped = find_demos(roots)
    runs += demos
    skipped += demo_skipped
    notes = []
    table, figures = [], {}
    lines = ["# Results", "", f"Run folders: {len(runs)} under {', '.join(str(r) for r in roots)}.",
             "Mean ± std (ddof = 1) over completed seeds; classification error and accuracy in percent. "
             "Diverged, running, interrupted and failed runs are listed in the last column and are not "
             "part of any mean, nor is a value that a metric cannot take (an error outside 0-100 %, a negative "
             "loss, a non-finite number): it is named there. The paper shows these panels as figures "
             "without tabulated values; each "
             "section states what its figure shows.", ""]
    claimed = set()
    for panel in PANELS:
        mine = [r for r in runs if panel.selects(r)]
        claimed |= {id(r) for r in mine}
        stand_in = sorted({r.data_label for r in mine if r.stand_in})
        heading = panel.title + (f" — on {', '.join(stand_in)}" if stand_in else "")
        lines += [f"## {heading}", "", f"Paper: {panel.paper}.", ""]
        lines += [f"Not run: {why}." for why in not_run.get(panel.id, [])] + [""] * bool(not_run.get(panel.id))
        if not mine:
            if not not_run.get(panel.id):
                lines += [f"No runs found under {', '.join(str(r) for r in roots)}: panel not drawn. "
                          f"Its runs: {panel.readme[1]}.", ""]
            continue
        lines += data_lines(mine)
        written, problem, left_out = draw(panel, mine, out_dir, formats)
        figures[panel.id] = written
        skipped += [f"{line} (left out of {panel.id})" for line in left_out if line not in skipped]
        lines.append("Figure: " + (", ".join(p.name for p in written) if written else f"not drawn ({problem})"))
        lines.append("")
        rows = results_rows(panel, group_runs(mine))
        table += rows
        lines += table_lines(rows) + [""]
    stray = [r for r in runs if id(r) not in claimed]
    if stray:
        notes.append(f"{len(stray)} run folders belong to no panel: "
                     + ", ".join(sorted({f'{r.folder}/{r.script} {r.stem}' for r in stray})))
    if notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    skipped = list(dict.fromkeys(skipped))
    if skipped:
        lines[2] += f" {len(skipped)} could not be read; they are listed at the end."
        lines += ["## Run folders that could not be read", ""] + [f"- {s}" for s in skipped] + [""]
    (out_dir / "results.md").write_text("\n".join(lines))
    return table, figures, notes + [f"skipped {s}" for s in skipped]


def format_table(table):
    """A plain-text table: panel, setting, data, metric, our value, seeds, other runs."""
    head = ("panel", "setting", "data", "metric", "ours", "seeds", "other runs")
    rows = [head] + [(r["panel"], r["setting"], r["data"] or "—", r["metric"], r["ours"], r["seeds"], r["other"])
                     for r in table]
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(head))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows)


@entry_point
def main(argv=None):
    parser = UsageParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("roots", nargs="*", type=Path, help="folders to search for run folders "
                        "(default: the experiment folders' runs/ and runs/)")
    parser.add_argument("--out", type=Path, default=REPO / "figures", help="output folder (default: figures/)")
    parser.add_argument("--formats", default=",".join(FORMATS),
                        help="figure formats, comma-separated (default: png,pdf; docs/results/ keeps png)")
    args = parser.parse_args(argv)
    formats = tuple(f.strip() for f in args.formats.split(",") if f.strip())
    if not formats or set(formats) - set(FORMATS):
        parser.error(f"--formats: choose from {', '.join(FORMATS)} (got {args.formats!r})")
    roots = args.roots or [r for r in default_roots() if r.exists()]
    missing = [r for r in roots if not r.exists()]
    if missing:
        print(f"error: no such folder: {', '.join(str(m) for m in missing)}", file=sys.stderr)
        return 2
    if not roots or not (find_runs(roots)[0] or find_demos(roots)[0]):
        where = ", ".join(str(r) for r in roots) or "the experiment folders' runs/ and runs/"
        print(f"error: no run folders under {where}: run an experiment first (e.g. python scripts/reproduce.py) "
              f"or name the folders that hold its runs", file=sys.stderr)
        return 2
    try:
        table, figures, notes = make_figures(roots, args.out, formats=formats)
    except OSError as err:
        print(f"error: cannot write in {args.out}: {err.strerror or err}; choose another --out", file=sys.stderr)
        return 2
    print(format_table(table))
    for panel, paths in figures.items():
        print(f"{panel}: {', '.join(str(p) for p in paths) if paths else 'not drawn (see results.md)'}")
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"results: {args.out / 'results.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
