"""What a run records: every evaluation says how many samples it scored (metrics rows, summary, log),
a dropped partial batch is named in the log, error and accuracy are percent, and every summary has the
same final keys."""
import csv
import json
from pathlib import Path

import pytest
import torch

from common.checkpoint import load_checkpoint
from common.config import load_config
from common.synthetic import write_higgs
from fig2cde_higgs_mnist_cifar10.config import Config
from fig2cde_higgs_mnist_cifar10.datasets import load_splits
from fig2cde_higgs_mnist_cifar10.train import main, setup

CONFIGS = Path(__file__).resolve().parents[2] / "fig2cde_higgs_mnist_cifar10" / "configs"


@pytest.fixture(scope="module")
def higgs_root(tmp_path_factory):
    """A real HIGGS.csv.gz of 120 rows: test = the last 40, val 20 and train 60 from the other 80."""
    root = tmp_path_factory.mktemp("data")
    write_higgs(root / "HIGGS.csv.gz", 120)
    return root


def _run(root, out, model, *overrides):
    args = [str(CONFIGS / f"smoke_higgs_{model}.yaml"), "dataset=higgs", f"data_root={root}",
            "higgs_rows=120", "higgs_test_rows=40", "val_size=20", "epochs=1", *overrides, "--out", str(out)]
    assert main(args) == 0
    with open(out / "metrics.csv") as f:
        rows = {r["split"]: r for r in csv.DictReader(f)}
    return rows, json.loads((out / "summary.json").read_text())["final"], (out / "log.txt").read_text()


@pytest.mark.parametrize("eval_drop_last,n_val,n_test", [(True, 16, 32), (False, 20, 40)])
def test_every_evaluation_records_n_scored(higgs_root, tmp_path, eval_drop_last, n_val, n_test):
    """Batch 16: val 20 and test 40 lose their partial batch (4 and 8 samples) only with
    eval_drop_last; training (60, drop_last true) scores 48 either way."""
    rows, final, log = _run(higgs_root, tmp_path / "run", "le", f"eval_drop_last={str(eval_drop_last).lower()}")
    assert {k: int(r["n_scored"]) for k, r in rows.items()} == \
        {"test_initial": n_test, "train": 48, "val": n_val, "test": n_test}
    assert final["n_scored"] == n_test
    assert f"scored {n_val} of 20" in log and f"scored {n_test} of 40" in log and "scored 48 of 60" in log
    assert ("'eval_drop_last' dropped the last partial batch" in log) == eval_drop_last


FINAL_KEYS = {"test_error", "test_accuracy", "test_loss", "val_error", "val_loss", "n_scored", "epochs"}


@pytest.mark.parametrize("model", ["le", "bp", "bp_matched"])
def test_error_and_accuracy_in_percent(higgs_root, tmp_path, model):
    """Every row: error + accuracy = 100 and error * n_scored / 100 is a whole number of wrong
    predictions; the summary holds the common final keys, taken from the last val and the test row."""
    rows, final, _ = _run(higgs_root, tmp_path / "run", model, "epochs=2")
    for r in rows.values():
        error, accuracy, n = float(r["error"]), float(r["accuracy"]), int(r["n_scored"])
        assert error + accuracy == pytest.approx(100.0)
        assert error * n / 100 == pytest.approx(round(error * n / 100), abs=1e-9)
    assert any(0 < float(r["error"]) < 100 for r in rows.values())  # not a trivial 0 or 100
    assert set(final) == FINAL_KEYS
    assert (final["test_error"], final["test_accuracy"], final["test_loss"]) == \
        (float(rows["test"]["error"]), float(rows["test"]["accuracy"]), float(rows["test"]["loss"]))
    assert (final["val_error"], final["val_loss"]) == (float(rows["val"]["error"]), float(rows["val"]["loss"]))


def test_test_error_is_the_percentage_of_wrong_test_predictions(higgs_root, tmp_path):
    """BP (stateless evaluation): the recorded test error equals 100 x the fraction of test rows the
    checkpointed network gets wrong, counted here independently."""
    out = tmp_path / "run"
    _, final, _ = _run(higgs_root, out, "bp")
    cfg = load_config(Config, out / "config.yaml")
    trainer, _ = setup(cfg, torch.device("cpu"))
    trainer.load_state_dict(load_checkpoint(out / "checkpoint.pt")["trainer"])
    test = load_splits(cfg)["test"]  # HIGGS rows: float features, 0/1 labels
    with torch.no_grad():
        wrong = int(((trainer.model(test.x)[:, 0] >= 0).long() != test.y).sum())  # sigmoid >= 0.5
    assert final["n_scored"] == len(test.y) == 40
    assert final["test_error"] == pytest.approx(100.0 * wrong / len(test.y))


@pytest.mark.parametrize("model,train_steps,eval_steps", [("le", 6, 6), ("bp", 1, 1), ("bp_matched", 6, 1)])
def test_step_count_follows_the_trainers(higgs_root, tmp_path, model, train_steps, eval_steps):
    """summary.json `steps`: n_updates network steps per training batch and n_eval_steps per evaluation
    batch (LE: n_updates = 6 for both; BP: one SGD step / one forward pass; update-matched BP: 6 SGD
    steps / one forward pass). Batches of 16: train 60 -> 4 (3 with drop_last, LE and matched), val 20
    -> 2, test 40 -> 3, initial test only for LE."""
    out = tmp_path / "run"
    _run(higgs_root, out, model, "epochs=2", "eval_drop_last=false")
    train_batches = 4 if model == "bp" else 3
    eval_batches = 2 * 2 + 3 + (3 if model == "le" else 0)
    steps = json.loads((out / "summary.json").read_text())["steps"]
    assert steps == 2 * train_batches * train_steps + eval_batches * eval_steps
