"""Reading run folders (the layout runfolder.py writes) for figures and tables.

A run folder is any folder with summary.json and config.yaml. Every plot script and
scripts/make_figures.py read them through this module, so that a folder that cannot be read is
skipped and named the same way everywhere ("<path>: <reason>"), and every mean ± std is the same
statistic: mean and sample standard deviation (ddof = 1) over seeds, no std for a single seed.
Classification error and accuracy are percent (0-100) in every record (see `is_percent`); a value
that cannot be one (outside 0-100 %, a negative loss, not finite) is left out with a note, never averaged.
Only regular files are ever opened: a named pipe, socket or device below a run root is named and skipped
(reading a pipe would block forever).
"""
import csv
import json
import math
import os
import re
import stat
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

FOLDERS = ("fig2b_fig4ac_mnist", "fig2cde_higgs_mnist_cifar10", "fig3fig5_dendritic_microcircuits")
# Keys that say where or how a run executed, not what it computes: not part of a group's identity.
NOT_IDENTITY = {"seed", "data_root", "download", "device", "out", "num_workers", "log_every"}


DATA_NAMES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST", "cifar10": "CIFAR-10", "higgs": "HIGGS",
              "synthetic": "synthetic smoke data"}


class Unreadable(Exception):
    """A run folder, or the part of it that a reader needs, cannot be read; the message says why."""


def special_kind(path):
    """None for a regular file or a folder, else what `path` is ('named pipe', 'socket', 'device',
    'broken link', ...): something a reader must not open."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "broken link" if os.path.islink(path) else "missing"
    except OSError as err:
        return f"unreadable ({err.strerror})"
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    if stat.S_ISFIFO(mode):
        return "named pipe"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "special file"


def _require_regular(path):
    kind = special_kind(path) if not path.is_file() else None
    if kind:
        raise Unreadable(f"{path.name} is {'missing' if kind == 'missing' else f'a {kind}, not a regular file'}")


def scan(root, names):
    """({name: [folders at or below root holding a regular file of that name]}, notes): one walk,
    each entry that is neither a regular file nor a folder noted ("<path>: a named pipe ...: skipped")
    and never opened."""
    found, notes = {n: [] for n in names}, []
    for dirpath, _, filenames in os.walk(root):
        for name in sorted(filenames):
            kind = special_kind(Path(dirpath) / name)
            if kind:
                notes.append(f"{Path(dirpath) / name}: a {kind}, not a regular file or folder: skipped")
            elif name in found:
                found[name].append(Path(dirpath))
    return {n: sorted(dirs) for n, dirs in found.items()}, notes


def _mapping(path, parse):
    _require_regular(path)
    try:
        data = parse(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as err:
        raise Unreadable(f"{path.name}: {' '.join(str(err).split())}") from None
    if not isinstance(data, dict):
        raise Unreadable(f"{path.name} holds {type(data).__name__}, not a mapping")
    return data


def read_json(path):
    """A JSON file that must hold a mapping; Unreadable otherwise."""
    return _mapping(Path(path), json.loads)


def _number(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return text


def _real(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def is_percent(key):
    """Classification error and accuracy (keys `error`, `test_error`, `accuracy`, ...) are percent."""
    return re.search(r"(^|_)(error|accuracy)$", key) is not None


def out_of_range(key, value):
    """Why `value` cannot be the metric `key` ('= 1e+308 is outside 0-100 %'), or None: error and
    accuracy are percent, a loss or MSE is >= 0, and every metric is a finite number."""
    if not _real(value):
        return f"is not a finite number ({value!r})"
    if is_percent(key) and not 0 <= value <= 100:
        return f"= {value:g} is outside 0-100 %"
    if re.search(r"(^|_)(loss|mse)$", key, re.IGNORECASE) and value < 0:
        return f"= {value:g} is negative"
    return None


@dataclass
class Run:
    path: Path
    summary: dict
    config: dict
    folder: str           # experiment folder name, or "unknown"
    script: str           # entry script file name, e.g. train.py
    stem: str             # run name: <stem>/seed<S> folder layout, else the config file's stem
    seed: object          # int, or None when the run does not say
    _rows: list = field(default=None, repr=False, compare=False)
    notes: list = field(default_factory=list, repr=False, compare=False)  # values a reader left out

    @property
    def status(self):
        return self.summary["status"]

    @property
    def dataset(self):
        """The data set the run recorded it used (summary.json, else config.yaml `dataset`); None
        when it records none (the microcircuit and demo runs make their own inputs)."""
        used = self.summary.get("dataset", self.config.get("dataset"))
        return used if isinstance(used, str) else None

    @property
    def nominal_dataset(self):
        """The paper's data set for this run: the config's `task` (Fig. 2c-e), else MNIST (the fully
        connected runs of Fig. 2b, 4a, 4c are the only others that record a data set)."""
        task = self.config.get("task")
        if isinstance(task, str):
            return task
        return "mnist" if self.dataset is not None else None

    @property
    def stand_in(self):
        """The run used another data set than the paper's (Fashion-MNIST or synthetic data for MNIST)."""
        return None not in (self.dataset, self.nominal_dataset) and self.dataset != self.nominal_dataset

    @property
    def data_label(self):
        """'MNIST', 'Fashion-MNIST (stand-in for MNIST)', ...; None when the run records no data set."""
        if self.dataset is None:
            return None
        name = DATA_NAMES.get(self.dataset, self.dataset)
        return f"{name} (stand-in for {DATA_NAMES.get(self.nominal_dataset, self.nominal_dataset)})" \
            if self.stand_in else name

    @property
    def final(self):
        return self.summary.get("final", {})

    def value(self, key):
        """The final metric `key` as a float; Unreadable when summary.json has no finite number there
        or one that the metric cannot take (out_of_range)."""
        v = self.final.get(key)
        if not _real(v):
            raise Unreadable(f"summary.json final has no number '{key}' ({v!r})")
        why = out_of_range(key, v)
        if why:
            raise Unreadable(f"summary.json final '{key}' {why}: left out")
        return float(v)

    def metrics(self):
        """Rows of metrics.csv as dicts, numbers as float; Unreadable when absent, empty or malformed."""
        if self._rows is None:
            path = self.path / "metrics.csv"
            _require_regular(path)
            try:
                with open(path, newline="") as f:
                    reader = csv.DictReader(f)
                    rows = [{k: _number(v) for k, v in row.items()} for row in reader]
                    header = reader.fieldnames or []
            except (OSError, UnicodeDecodeError, csv.Error) as err:
                raise Unreadable(f"metrics.csv: {err}") from None
            missing = {"epoch", "split"} - set(header)
            if missing:
                raise Unreadable("metrics.csv is empty" if not header else
                                 f"metrics.csv has no column {', '.join(sorted(missing))}")
            self._rows = rows
        return self._rows

    def curve(self, split, column):
        """(epochs, values) of the `split` rows of metrics.csv, by epoch; Unreadable when there are none.
        Values the metric cannot take (out_of_range) are left out and counted in `notes`."""
        rows = [r for r in self.metrics() if r["split"] == split and _real(r["epoch"]) and _real(r.get(column))]
        bad = [r for r in rows if out_of_range(column, r[column])]
        if bad:
            self.notes.append(f"metrics.csv: {len(bad)} {split} row(s) with '{column}' "
                              f"{out_of_range(column, bad[0][column])} left out")
        points = sorted((r["epoch"], r[column]) for r in rows if not out_of_range(column, r[column]))
        if not points:
            raise Unreadable(f"metrics.csv has no {split} rows with a number in '{column}'")
        epochs, values = zip(*points)
        return np.array(epochs, dtype=int), np.array(values, dtype=float)


def flatten(d, prefix=""):
    """{'a': {'b': 1}} -> {'a.b': 1}; lists become tuples so they can be compared and hashed."""
    out = {}
    for key, val in d.items():
        if isinstance(val, dict):
            out.update(flatten(val, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = tuple(val) if isinstance(val, list) else val
    return out


def _identify(path, summary):
    command = summary.get("command")
    command = [str(c) for c in command] if isinstance(command, list) else []
    script_path = next((c for c in command[1:] if c.endswith(".py")), "")
    parts = Path(script_path).parts + path.resolve().parts
    folder = next((p for p in parts if p in FOLDERS), "unknown")
    # The run's name: the job scripts' <name>/seed<S> layout, else the config file's stem.
    yamls = [c for c in command if c.endswith((".yaml", ".yml"))]
    if re.fullmatch(r"seed-?\d+", path.name):
        stem = path.parent.name
    elif len(yamls) == 1:
        stem = Path(yamls[0]).stem
    else:
        stem = path.name
    return folder, Path(script_path).name, stem


def _seed(path, config, summary):
    seeds = [v for k, v in flatten(config).items() if k.split(".")[-1] == "seed" and isinstance(v, int)]
    if len(seeds) == 1:                   # top-level `seed` or nested, e.g. `training.seed`
        return seeds[0]
    if isinstance(summary.get("seed"), int):
        return summary["seed"]
    match = re.fullmatch(r"seed-?(\d+)", path.name)
    return int(match.group(1)) if match else None


def load_run(path):
    """The Run of one folder; Unreadable when summary.json or config.yaml cannot be read or has the
    wrong shape (summary: a mapping with a string `status` and a mapping `final`)."""
    path = Path(path)
    summary = read_json(path / "summary.json")
    if not isinstance(summary.get("status"), str):
        raise Unreadable(f"summary.json has no status string ({summary.get('status')!r})")
    if not isinstance(summary.get("final", {}), dict):
        raise Unreadable(f"summary.json 'final' is {type(summary['final']).__name__}, not a mapping")
    config = _mapping(path / "config.yaml", yaml.safe_load)
    folder, script, stem = _identify(path, summary)
    return Run(path, summary, config, folder, script, stem, _seed(path, config, summary))


def find_runs(roots, prefix=""):
    """Every run folder at or below the given roots (sorted, each once) whose run name starts with
    `prefix` (e.g. "4a_" for one panel's runs), and "<path>: <reason>" for each one that cannot be read
    (skipped). A folder with summary.json but no config.yaml is not a run folder (e.g. a demo script's
    output) and is passed over silently."""
    runs, skipped, seen = [], [], set()
    for root in map(Path, roots):
        if not root.exists():
            skipped.append(f"{root}: no such folder")
            continue
        if special_kind(root):
            skipped.append(f"{root}: a {special_kind(root)}, not a regular file or folder: skipped")
            continue
        if (root / "summary.json").is_file():
            candidates = [root]
        else:
            found, notes = scan(root, ("summary.json",))
            candidates = found["summary.json"]
            skipped += notes
        for path in candidates:
            if path.resolve() in seen or not (path / "config.yaml").is_file():
                continue
            seen.add(path.resolve())
            try:
                runs.append(load_run(path))
            except Unreadable as err:
                skipped.append(f"{path}: {err}")
    return [r for r in runs if r.stem.startswith(prefix)], skipped


def with_status(runs, *statuses):
    return [r for r in runs if r.status in statuses]


def extract(runs, read):
    """[(run, read(run))] for the runs `read` can read, and "<path>: <reason>" for the others. `read`
    fails with Unreadable, or with KeyError/TypeError/ValueError on a config or summary that lacks
    what it needs."""
    got, skipped = [], []
    for run in runs:
        try:
            got.append((run, read(run)))
        except Unreadable as err:
            skipped.append(f"{run.path}: {err}")
        except (KeyError, TypeError, ValueError) as err:
            skipped.append(f"{run.path}: {type(err).__name__} {err}")
    return got, skipped


def mean_std(values):
    """(mean, sample std with ddof = 1, n); the mean is nan without values, the std nan for one.
    Values near the float limit are scaled first so that the sums cannot overflow."""
    v = np.asarray(values, dtype=float)
    scale = float(np.abs(v).max()) if v.size else 1.0
    scale = scale if scale > 1e150 else 1.0
    mean = float((v / scale).mean()) * scale if v.size else math.nan
    std = float((v / scale).std(ddof=1)) * scale if v.size > 1 else math.nan
    return mean, std, int(v.size)


def mean_std_by_x(points):
    """{series key: {x: (mean, std, n)}}, keys and x in order, from (series key, x, value) triples."""
    groups = {}
    for key, x, value in points:
        groups.setdefault(key, {}).setdefault(x, []).append(value)
    return {key: {x: mean_std(by_x[x]) for x in sorted(by_x)} for key, by_x in sorted(groups.items())}


def draw_errorbars(ax, series, label):
    """One line per key of `series` ({key: {x: (mean, std, n)}}): mean +- std against x, labelled
    label(key) and the fewest seeds behind a point."""
    for key, by_x in series.items():
        stats = list(by_x.values())
        ax.errorbar(list(by_x), [m for m, _, _ in stats], yerr=[s for _, s, _ in stats], marker="o", capsize=2,
                    label=f"{label(key)} (n={min(n for _, _, n in stats)})")


def mean_curve(curves):
    """Average of (epochs, values) curves of any lengths, epoch by epoch over the runs that have that
    epoch: (epochs, mean, std, n) arrays, std (ddof = 1) nan where only one run has the epoch."""
    epochs = np.unique(np.concatenate([e for e, _ in curves]))
    table = np.full((len(curves), len(epochs)), np.nan)  # runs x epochs, nan where a run has no value
    for row, (e, v) in zip(table, curves):
        row[np.searchsorted(epochs, e)] = v
    stats = np.array([mean_std(col[~np.isnan(col)]) for col in table.T]).reshape(-1, 3)
    return epochs, stats[:, 0], stats[:, 1], stats[:, 2].astype(int)


def fmt_mean_std(mean, std, percent=False):
    """'4.00 ± 2.65' for percent values, else 3 significant digits; '—' without a value."""
    if math.isnan(mean):
        return "—"
    num = (lambda x: f"{x:.2f}") if percent else (lambda x: f"{x:.3g}")
    return num(mean) if math.isnan(std) else f"{num(mean)} ± {num(std)}"


def status_note(runs):
    """'' when every run completed, else e.g. '1 diverged (seed 5, epoch 3); 2 running (seeds 1, 2)'."""
    by_status = {}
    for run in runs:
        by_status.setdefault(run.status, []).append(run)
    notes = []
    for status, same in sorted(by_status.items()):
        if status == "completed":
            continue
        seeds = ", ".join(str(r.seed) for r in sorted(same, key=lambda r: natural(str(r.seed))))
        extra = ""
        if status == "diverged":
            extra = f", epoch {', '.join(sorted({str(r.summary.get('diverged_epoch')) for r in same}))}"
        notes.append(f"{len(same)} {status} (seed{'s' if len(same) > 1 else ''} {seeds}{extra})")
    return "; ".join(notes)


def not_drawn_note(runs):
    """'not drawn: 2b_big_tau: 1 diverged (seed 69, epoch 2)' for the runs of a figure that did not
    complete (diverged, running, failed ...), '' when every run completed."""
    by_stem = {}
    for run in runs:
        if run.status != "completed":
            by_stem.setdefault(run.stem, []).append(run)
    parts = [f"{stem}: {status_note(same)}" for stem, same in sorted(by_stem.items(), key=lambda i: natural(i[0]))]
    return "not drawn: " + "; ".join(parts) if parts else ""


def data_title(runs):
    """The data sets the runs recorded, for a figure title: 'MNIST', 'Fashion-MNIST (stand-in for
    MNIST)', several joined by ' and '; 'data set not recorded' when a run records none."""
    labels = sorted({r.data_label or "data set not recorded" for r in runs})
    return " and ".join(labels) if labels else "no runs"


def layout(fig, notes=(), width=110):
    """tight_layout, with the notes (e.g. not_drawn_note) printed under the axes."""
    lines = [line for note in notes if note for line in textwrap.wrap(note, width)]
    if lines:
        height = fig.get_size_inches()[1]
        bottom = min(0.5, (0.1 + 0.13 * len(lines)) / height)
        fig.text(0.01, 0.01, "\n".join(lines), fontsize=7, ha="left", va="bottom")
        fig.tight_layout(rect=(0, bottom, 1, 1))
    else:
        fig.tight_layout()


def default_out(paths, name):
    """Where a figure of these run folders or roots goes without --out: beside them, in the folder
    that holds them all (a run folder's parent, so that no run folder gains a file). UsageError when
    that is the repository root or above it."""
    from common.errors import UsageError

    folders = [p.parent if (p / "summary.json").is_file() else p for p in (Path(x).resolve() for x in paths)]
    home = Path(os.path.commonpath(folders)) if folders else Path.cwd()
    repo = Path(__file__).resolve().parents[1]
    if repo.is_relative_to(home):
        raise UsageError(f"the run folders given share no folder below the repository root ({home}); "
                         f"give --out PATH")
    return home / name


def save_figure(fig, out_path, **savefig_kw):
    """fig.savefig(out_path), its folder made first; a path that cannot take the figure (a folder, no
    permission, a full disk, an unknown format) is a one-line UsageError."""
    from common.errors import UsageError

    out_path = Path(out_path)
    try:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out_path, **savefig_kw)
    except (OSError, ValueError) as err:
        raise UsageError(f"cannot write the figure {out_path}: {getattr(err, 'strerror', None) or err}; "
                         "choose another --out") from None


@dataclass
class Group:
    """Runs that differ only in their seed (and NOT_IDENTITY keys)."""
    folder: str
    script: str
    stem: str
    settings: dict                        # config keys (flattened) that identify the group
    runs: list = field(default_factory=list)
    label: str = ""

    @property
    def completed(self):
        return with_status(self.runs, "completed")

    def stats(self, key):
        """mean_std of the final metric `key` over the completed runs that report it as a number in
        its range (out_of_range values are left out: see left_out)."""
        return mean_std([float(r.final[key]) for r in self.completed if not out_of_range(key, r.final.get(key))])

    def left_out(self, key):
        """'seed 3: test_error = 1e+308 is outside 0-100 %' for each completed run whose `key` is
        there but is not a value the metric can take."""
        return [f"seed {r.seed}: {key} {out_of_range(key, r.final[key])}" for r in self.completed
                if key in r.final and out_of_range(key, r.final[key])]

    @property
    def data_label(self):
        return self.runs[0].data_label if self.runs else None

    def status_note(self):
        return status_note(self.runs)


def group_runs(runs):
    """Group runs by folder, script, run name and config without the seed; labels name the keys
    whose values tell groups of the same run name apart."""
    groups = {}
    for run in runs:
        ident = {k: v for k, v in flatten(run.config).items() if k.split(".")[-1] not in NOT_IDENTITY}
        key = (run.folder, run.script, run.stem, tuple(sorted((k, repr(v)) for k, v in ident.items())))
        if key not in groups:
            groups[key] = Group(run.folder, run.script, run.stem, ident)
        groups[key].runs.append(run)
    out = list(groups.values())
    by_stem = {}
    for g in out:
        by_stem.setdefault((g.folder, g.script, g.stem), []).append(g)
    for same in by_stem.values():
        first = same[0].settings
        keys = sorted({k for g in same for k in g.settings}
                      - {k for k in first if all(g.settings.get(k, object()) == first[k] for g in same)})
        for g in same:
            diff = ", ".join(f"{k}={_fmt_value(g.settings.get(k))}" for k in keys)
            g.label = f"{g.stem} ({diff})" if diff else g.stem
    for g in out:
        g.runs.sort(key=lambda r: (natural(str(r.seed)), str(r.path)))
    return sorted(out, key=lambda g: (g.folder, natural(g.stem), natural(g.label)))


def natural(text):
    """Sort key that orders the numbers inside names by value (bars_le_tpres_20 before _100)."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", text)]


def _fmt_value(v):
    if isinstance(v, tuple):
        return "[" + ", ".join(_fmt_value(x) for x in v) + "]"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


@dataclass
class Plotted:
    """What a plot function drew (its numbers, by series) and the run folders it left out."""
    series: dict
    skipped: list
