"""Run folder contents, refusal of a different config, and no rerun of a completed run."""
import csv
import json

import yaml

from tests.common import toy_entry

CONFIG = "lr: 0.05\nepochs: 3\nbatches: 5\nnoise: 0.1\noptimizer: sgd\nseed: 1\n"


def run_toy(tmp_path, *extra):
    cfg = tmp_path / "toy.yaml"
    cfg.write_text(CONFIG)
    return toy_entry.main([str(cfg), "--out", str(tmp_path / "run"), *extra])


def test_run_folder_contents(tmp_path):
    assert run_toy(tmp_path, "lr=0.04") == 0
    run = tmp_path / "run"
    assert yaml.safe_load((run / "config.yaml").read_text())["lr"] == 0.04
    rows = list(csv.DictReader(open(run / "metrics.csv")))
    assert [r["split"] for r in rows] == ["val", "val", "val", "test"]
    assert [r["epoch"] for r in rows] == ["0", "1", "2", "2"]
    assert list(rows[0]) == ["epoch", "split", "loss", "error", "accuracy", "wall_time"]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed"
    assert summary["final"]["test_loss"] == float(rows[-1]["loss"])
    assert summary["steps"] == 15 and summary["steps_per_s"] > 0
    assert set(summary["versions"]) == {"python", "numpy", "torch"}
    assert "epoch 2: loss" in (run / "log.txt").read_text()
    assert (run / "checkpoint.pt").is_file()


def test_default_folder_is_runs_stem_seed(tmp_path, monkeypatch):
    monkeypatch.setattr(toy_entry, "FOLDER", tmp_path)
    cfg = tmp_path / "my_config.yaml"
    cfg.write_text(CONFIG)
    assert toy_entry.main([str(cfg), "seed=3"]) == 0
    assert (tmp_path / "runs" / "my_config" / "seed3" / "summary.json").is_file()


def test_other_config_refused_unless_restart(tmp_path, capsys):
    assert run_toy(tmp_path) == 0
    assert run_toy(tmp_path, "lr=0.1") == 2
    err = capsys.readouterr().err
    assert "'lr': 0.05 there, 0.1 now" in err and "--restart" in err
    assert run_toy(tmp_path, "lr=0.1", "--restart") == 0
    assert yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["lr"] == 0.1


def test_completed_run_is_not_rerun(tmp_path, capsys):
    assert run_toy(tmp_path) == 0
    before = (tmp_path / "run" / "metrics.csv").read_text()
    assert run_toy(tmp_path) == 0
    assert "already completed" in capsys.readouterr().out
    assert (tmp_path / "run" / "metrics.csv").read_text() == before


def test_divergence_ends_with_status_and_epoch(tmp_path):
    assert run_toy(tmp_path, "lr=1e9") == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "diverged" and summary["diverged_epoch"] == 0
    assert "not finite" in summary["diverged_reason"]


def test_failure_is_recorded(tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("boom")
    monkeypatch.setattr(toy_entry, "check_finite", boom)
    try:
        run_toy(tmp_path)
    except RuntimeError:
        pass
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "failed" and "boom" in summary["error"]
