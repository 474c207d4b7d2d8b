"""Divergence ends a run with status `diverged` (never completed with meaningless numbers, never a
traceback), and no input check of this folder is an `assert`."""
import ast
import json

import numpy as np
import yaml

from fig3fig5_dendritic_microcircuits.src import run_single_mc
from fig3fig5_dendritic_microcircuits.src.protocol import epochs_before_divergence

from .helpers import CONFIGS, FOLDER

MIMIC = CONFIGS / "mimic_tpres_100.yaml"


def _summary(run_dir):
    return json.loads((run_dir / "summary.json").read_text())


def test_epochs_before_divergence_cut_at_runaway_or_non_finite_mse():
    rows = [(0.5, 50.0), (0.4, 60.0), (np.nan, 0.0), (0.3, 70.0)]
    assert epochs_before_divergence(rows[:2], -1, 16) == (rows[:2], None)
    assert epochs_before_divergence(rows, -1, 16) == (rows[:2], 3)       # NaN MSE in epoch 3
    assert epochs_before_divergence(rows, 17, 16) == (rows[:1], 2)       # runaway at pattern 17


def test_mimic_teacher_divergence_ends_the_run_diverged(tmp_path, capsys):
    """dt = 0.2 makes the teacher's Euler steps unstable: before, its outputs were dropped silently
    and the run completed with every MSE exactly 0."""
    out = tmp_path / "dt02"
    assert run_single_mc.main(["train", str(MIMIC), "--out", str(out), "network.dt=0.2",
                               "training.n_epochs=5"]) == 0
    s = _summary(out)
    assert s["status"] == "diverged" and s["diverged_epoch"] == 0
    assert "teacher" in s["diverged_reason"]
    assert not (out / "metrics.csv").exists() and not (out / "eval_test.npz").exists()
    assert "Traceback" not in capsys.readouterr().err


def test_mimic_self_prediction_divergence_is_status_diverged_not_assertion(tmp_path, capsys):
    cfg = yaml.safe_load(MIMIC.read_text())
    cfg["network"]["eta_selfpred"].update(pi=[1e9, 0.0], ip=[1e9, 0.0])
    path = tmp_path / "huge_eta_selfpred.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "run"
    assert run_single_mc.main(["train", str(path), "--out", str(out), "training.n_epochs=5"]) == 0
    s = _summary(out)
    assert s["status"] == "diverged" and s["diverged_epoch"] == 0
    assert "self-prediction" in s["diverged_reason"]
    assert "Traceback" not in capsys.readouterr().err


def test_no_assert_statements_in_the_folder():
    """Input checks raise UsageError/ConfigError (exit 2) or Diverged; `python -O` cannot skip them."""
    for path in sorted(FOLDER.rglob("*.py")):
        tree = ast.parse(path.read_text())
        lines = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Assert)]
        assert not lines, f"{path.relative_to(FOLDER)}: assert on lines {lines}"
