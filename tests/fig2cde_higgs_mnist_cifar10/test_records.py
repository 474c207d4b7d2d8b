"""What a run records: every evaluation says how many samples it scored (metrics rows, summary, log),
and a dropped partial batch is named in the log."""
import csv
import json
from pathlib import Path

import pytest

from common.synthetic import write_higgs
from fig2cde_higgs_mnist_cifar10.train import main

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
