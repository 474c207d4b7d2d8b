"""Tiny fabricated run folders (the layout of common/runfolder.py) for the aggregation tests."""
import json
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def make_run(root, folder, script, stem, seed, status="completed", final=None, config=None,
             metrics=None, extra_summary=None, subdir=None):
    """Write config.yaml, summary.json and metrics.csv of one run under root/<stem>/seed<seed>."""
    path = Path(root) / (subdir or stem) / f"seed{seed}"
    path.mkdir(parents=True, exist_ok=True)
    cfg = dict(config or {"dt": 0.01, "n_updates": 100}, seed=seed)
    (path / "config.yaml").write_text(yaml.safe_dump(cfg))
    summary = {"status": status, "final": final or {},
               "command": ["python", str(REPO / folder / script), str(REPO / folder / f"{stem}.yaml"),
                           "--out", str(path)], **(extra_summary or {})}
    (path / "summary.json").write_text(json.dumps(summary))
    rows = metrics or []
    if rows:
        cols = list(rows[0])
        (path / "metrics.csv").write_text(
            ",".join(cols) + "\n" + "".join(",".join(str(r.get(c, "")) for c in cols) + "\n" for r in rows))
    (path / "log.txt").write_text("")
    return path
