"""Find run folders, group them by experiment and config (seeds pooled), and summarise over seeds.

A run folder is any folder holding summary.json and config.yaml (the layout common/runfolder.py
writes). Runs are grouped by experiment folder, entry script and resolved config with the seed (and
keys that do not change the result, like data_root) removed, so `key=value` overrides form their own
groups. Statistics use completed runs only; every other status is counted and named, never averaged.
"""
import csv
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

FOLDERS = ("fig2b_fig4ac_mnist", "fig2cde_higgs_mnist_cifar10", "fig3fig5_dendritic_microcircuits")
# Keys that say where or how a run executed, not what it computes: not part of the group identity.
NOT_IDENTITY = {"seed", "data_root", "download", "device", "out", "num_workers", "log_every"}
STATUSES = ("completed", "diverged", "running", "interrupted", "failed")


@dataclass
class Run:
    path: Path
    summary: dict
    config: dict
    folder: str           # experiment folder name, or "unknown"
    script: str           # entry script file name, e.g. train.py
    stem: str             # config stem, e.g. 2b_le
    seed: object          # int, or None when the run does not say

    @property
    def status(self):
        return self.summary.get("status", "unknown")

    @property
    def final(self):
        return self.summary.get("final") or {}

    def metrics(self):
        """Rows of metrics.csv as dicts (numbers as float where they parse), [] when absent."""
        path = self.path / "metrics.csv"
        if not path.is_file():
            return []
        with open(path, newline="") as f:
            return [{k: _num(v) for k, v in row.items()} for row in csv.DictReader(f)]


def _num(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return text


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
    command = [str(c) for c in summary.get("command") or []]
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
    flat = flatten(config)
    seeds = [v for k, v in flat.items() if k.split(".")[-1] == "seed" and isinstance(v, int)]
    if len(seeds) == 1:                   # top-level `seed` or nested, e.g. `training.seed`
        return seeds[0]
    if isinstance(summary.get("seed"), int):
        return summary["seed"]
    match = re.fullmatch(r"seed-?(\d+)", path.name)
    return int(match.group(1)) if match else None


def load_run(path):
    path = Path(path)
    summary = json.loads((path / "summary.json").read_text())
    config = yaml.safe_load((path / "config.yaml").read_text()) or {}
    folder, script, stem = _identify(path, summary)
    return Run(path, summary, config, folder, script, stem, _seed(path, config, summary))


def find_runs(roots):
    """Every run folder under the given roots (sorted, each once); unreadable folders are skipped
    with a note in the returned `problems` list."""
    runs, problems, seen = [], [], set()
    for root in roots:
        root = Path(root)
        candidates = [root] if (root / "summary.json").is_file() else sorted(
            p.parent for p in root.rglob("summary.json"))
        for path in candidates:
            if path.resolve() in seen or not (path / "config.yaml").is_file():
                continue
            seen.add(path.resolve())
            try:
                runs.append(load_run(path))
            except (OSError, ValueError, yaml.YAMLError) as err:
                problems.append(f"{path}: unreadable ({err})")
    return runs, problems


@dataclass
class Group:
    folder: str
    script: str
    stem: str
    settings: dict                        # config keys (flattened) that identify the group
    runs: list = field(default_factory=list)
    label: str = ""

    def by_status(self):
        out = {}
        for run in self.runs:
            out.setdefault(run.status, []).append(run)
        return out

    @property
    def completed(self):
        return [r for r in self.runs if r.status == "completed"]

    def stats(self, metric):
        """mean, std (ddof=1; None for one seed), n over completed runs that report `metric`."""
        values = [float(r.final[metric]) for r in self.completed
                  if isinstance(r.final.get(metric), (int, float)) and not isinstance(r.final.get(metric), bool)]
        return mean_std(values)

    def status_note(self):
        """'' when every run completed, else e.g. '1 diverged (seed 5, epoch 3); 2 running (seeds 1, 2)'."""
        notes = []
        for status, runs in sorted(self.by_status().items()):
            if status == "completed":
                continue
            seeds = ", ".join(str(r.seed) for r in sorted(runs, key=lambda r: str(r.seed)))
            extra = ""
            if status == "diverged":
                epochs = sorted({str(r.summary.get("diverged_epoch")) for r in runs})
                extra = f", epoch {', '.join(epochs)}"
            notes.append(f"{len(runs)} {status} (seed{'s' if len(runs) > 1 else ''} {seeds}{extra})")
        return "; ".join(notes)


def mean_std(values):
    values = [v for v in values if math.isfinite(v)]
    n = len(values)
    if n == 0:
        return None, None, 0
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else None
    return mean, std, n


def group_runs(runs):
    """Group runs that differ only in seed (and NOT_IDENTITY keys); labels name the distinguishing keys."""
    groups = {}
    for run in runs:
        ident = {k: v for k, v in flatten(run.config).items() if k.split(".")[-1] not in NOT_IDENTITY}
        key = (run.folder, run.script, run.stem, tuple(sorted((k, repr(v)) for k, v in ident.items())))
        if key not in groups:
            groups[key] = Group(run.folder, run.script, run.stem, ident)
        groups[key].runs.append(run)
    out = list(groups.values())
    # Label groups of the same stem by the keys whose values differ among them.
    by_stem = {}
    for g in out:
        by_stem.setdefault((g.folder, g.script, g.stem), []).append(g)
    for same in by_stem.values():
        keys = sorted({k for g in same for k in g.settings}
                      - {k for k in same[0].settings if all(g.settings.get(k, object()) == same[0].settings[k]
                                                              for g in same)})
        for g in same:
            diff = ", ".join(f"{k}={_fmt_value(g.settings.get(k))}" for k in keys)
            g.label = f"{g.stem} ({diff})" if diff else g.stem
    for g in out:
        g.runs.sort(key=lambda r: (str(r.seed), str(r.path)))
    return sorted(out, key=lambda g: (g.folder, g.stem, g.label))


def _fmt_value(v):
    if isinstance(v, tuple):
        return "[" + ", ".join(_fmt_value(x) for x in v) + "]"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def fmt_mean_std(mean, std, digits=3):
    if mean is None:
        return "—"
    if std is None:
        return f"{mean:.{digits}g}"
    return f"{mean:.{digits}g} ± {std:.2g}"
