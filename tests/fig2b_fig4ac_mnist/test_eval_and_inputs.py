"""Evaluation records how many images it scored; a training file of another size exits 2 with one line."""
import csv
import json

import pytest

from common.synthetic import synthetic_root
from fig2b_fig4ac_mnist.src import bp_baseline, train as train_mod
from fig2b_fig4ac_mnist.src.paths import CONFIGS

SMALL = ["hidden_sizes=[30, 20]", "val_samples=40", "epoch_qty=2"]


@pytest.mark.parametrize("drop_last,scored", [(False, 40), (True, 32)])
def test_every_evaluation_records_n_scored(tmp_path, drop_last, scored):
    out = tmp_path / "run"
    assert train_mod.main([str(CONFIGS / "smoke.yaml"), *SMALL, f"eval_drop_last={str(drop_last).lower()}",
                           "--out", str(out)]) == 0
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    assert [int(r["n_scored"]) for r in rows] == [scored, scored, 32]  # val, val, test (32 images)
    assert f"scored {scored} of 40" in (out / "log.txt").read_text()
    final = json.loads((out / "summary.json").read_text())["final"]
    assert final["n_scored"] == 32 and final["val_n_scored"] == scored


def test_bp_baseline_summary_has_the_keys_of_the_le_summary(tmp_path):
    le, bp = tmp_path / "le", tmp_path / "bp"
    assert train_mod.main([str(CONFIGS / "smoke.yaml"), *SMALL, "--out", str(le)]) == 0
    assert bp_baseline.main([str(CONFIGS / "smoke.yaml"), *SMALL, "--out", str(bp)]) == 0
    finals = [json.loads((p / "summary.json").read_text())["final"] for p in (le, bp)]
    assert set(finals[0]) == set(finals[1])
    assert finals[1]["test_accuracy"] == pytest.approx(100.0 - finals[1]["test_error"])
    assert [r["n_scored"] for r in csv.DictReader(open(bp / "metrics.csv"))] == ["40", "40", "32"]


@pytest.mark.parametrize("main", [train_mod.main, bp_baseline.main])
def test_training_file_of_another_size_exits_2_naming_the_keys(tmp_path, capsys, main):
    synthetic_root("mnist", n_train=600, n_test=100, root=tmp_path / "data")
    code = main([str(CONFIGS / "2b_le.yaml"), "device=cpu", f"data_root={tmp_path / 'data'}",
                 "--out", str(tmp_path / "run")])
    assert code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "train_samples" in lines[0] and "val_samples" in lines[0] and "600" in lines[0]
    assert not (tmp_path / "run").exists()  # nothing that looks like a run
