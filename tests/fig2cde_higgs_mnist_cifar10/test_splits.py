"""Split sizes that do not fit the data or batch_size stop the run before training: exit code 2, one
line on stderr naming the keys, and no run folder that claims to be complete."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from common.synthetic import write_higgs, write_idx_gz, write_mnist_like
from fig2cde_higgs_mnist_cifar10.train import main

FOLDER = Path(__file__).resolve().parents[2] / "fig2cde_higgs_mnist_cifar10"
CONFIGS = FOLDER / "configs"


@pytest.fixture
def higgs_root(tmp_path):
    """A real HIGGS.csv.gz of 120 rows: with higgs_test_rows 40 the train/val pool has 80 rows."""
    root = tmp_path / "data"
    root.mkdir()
    write_higgs(root / "HIGGS.csv.gz", 120)
    return root


def _higgs_args(root, out, *overrides):
    return [str(CONFIGS / "smoke_higgs_le.yaml"), "dataset=higgs", f"data_root={root}", "higgs_rows=120",
            "higgs_test_rows=40", "val_size=16", "epochs=1", *overrides, "--out", str(out)]


def _assert_refused(out, err, keys):
    lines = err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ") and all(f"'{k}'" in lines[0] for k in keys), lines[0]
    summary = out / "summary.json"
    assert not summary.is_file() or json.loads(summary.read_text())["status"] != "completed"
    assert not (out / "metrics.csv").is_file()  # stopped before any evaluation or training


@pytest.mark.parametrize("overrides,keys", [
    (["val_size=80"], ["val_size"]),  # the whole pool to validation: no training samples
    # val 8 < batch 16 and its partial batch dropped
    (["val_size=8", "eval_drop_last=true"], ["batch_size", "eval_drop_last", "val_size"]),
    (["train_samples=8"], ["batch_size", "drop_last", "train_samples"]),
    (["higgs_test_rows=8", "eval_drop_last=true"], ["batch_size", "eval_drop_last", "higgs_test_rows"]),
    (["train_samples=100"], ["train_samples"]),  # the train split has 64
    (["eval_samples=20"], ["eval_samples"]),  # the val split has 16
    (["higgs_rows=200", "higgs_test_rows=40"], ["higgs_rows"]),  # the file has 120 rows
])
def test_sizes_that_do_not_fit_exit_2(higgs_root, tmp_path, capsys, overrides, keys):
    out = tmp_path / "run"
    assert main(_higgs_args(higgs_root, out, *overrides)) == 2
    _assert_refused(out, capsys.readouterr().err, keys)


@pytest.mark.parametrize("overrides", [["val_size=16", "eval_drop_last=true"],  # exactly one full batch
                                       ["val_size=4", "eval_drop_last=false"]])  # one partial batch
def test_sizes_at_the_limit_run(higgs_root, tmp_path, overrides):
    """The check refuses only what cannot run: a split of one batch (or one partial batch kept)."""
    out = tmp_path / "run"
    assert main(_higgs_args(higgs_root, out, *overrides)) == 0
    assert json.loads((out / "summary.json").read_text())["status"] == "completed"


def test_cli_refuses_empty_train_split(higgs_root, tmp_path):
    """Through the command line: exit code 2 and one line, no traceback."""
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, str(FOLDER / "train.py"), *_higgs_args(higgs_root, out, "val_size=80")],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    _assert_refused(out, proc.stderr, ["val_size"])


def test_fewer_labels_than_images_exit_2(tmp_path, capsys):
    """A label file shorter than its image file is an error, not a silently smaller data set."""
    raw = tmp_path / "MNIST" / "raw"
    write_mnist_like(raw, 96, 32)
    write_idx_gz(raw / "train-labels-idx1-ubyte.gz", np.arange(90) % 10)  # 90 labels for 96 images
    out = tmp_path / "run"
    code = main([str(CONFIGS / "smoke_mnist_le.yaml"), "dataset=mnist", f"data_root={tmp_path}",
                 "val_size=16", "epochs=1", "--out", str(out)])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "90 labels" in err[0] and "96 images" in err[0], err
    summary = out / "summary.json"
    assert not summary.is_file() or json.loads(summary.read_text())["status"] != "completed"
