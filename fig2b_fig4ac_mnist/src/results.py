"""Reading run folders for the plots: configs, metrics and final results, grouped over seeds."""
import csv
import json
from pathlib import Path

import numpy as np
import yaml


def completed_runs(run_dirs):
    """The run folders among `run_dirs` whose summary.json says completed."""
    out = []
    for d in map(Path, run_dirs):
        s = d / "summary.json"
        if s.is_file() and json.loads(s.read_text()).get("status") == "completed":
            out.append(d)
    return out


def config(run_dir):
    return yaml.safe_load((Path(run_dir) / "config.yaml").read_text())


def final(run_dir):
    return json.loads((Path(run_dir) / "summary.json").read_text())["final"]


def val_curve(run_dir):
    """(epochs, val_error %) of one run."""
    rows = [r for r in csv.DictReader(open(Path(run_dir) / "metrics.csv")) if r["split"] == "val"]
    return np.array([int(r["epoch"]) for r in rows]), np.array([float(r["error"]) for r in rows])


def variant(run_dir):
    """Runs live in runs/<variant>/seed<seed>/."""
    return Path(run_dir).parent.name


def mean_std(values):
    """Mean and sample std (ddof = 1; 0 for a single seed) along axis 0."""
    a = np.asarray(values, dtype=float)
    return a.mean(0), (a.std(0, ddof=1) if len(a) > 1 else np.zeros_like(a[0]))


def expand(paths, pattern):
    """Run folders: each path is a run folder itself or a runs/ root searched with `pattern`."""
    out = []
    for p in map(Path, paths):
        out.extend([p] if (p / "config.yaml").is_file() else sorted(p.glob(pattern)))
    return out
