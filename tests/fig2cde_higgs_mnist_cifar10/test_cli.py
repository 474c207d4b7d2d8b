"""Entry script: smoke runs of every task x model on synthetic real-format data, run-folder contents,
config errors (exit 2), and exact resume after SIGTERM."""
import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fig2cde_higgs_mnist_cifar10.train import main

FOLDER = Path(__file__).resolve().parents[2] / "fig2cde_higgs_mnist_cifar10"
CONFIGS = FOLDER / "configs"


def _rows(run_dir):
    with open(run_dir / "metrics.csv") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("task", ["higgs", "mnist", "cifar10"])
@pytest.mark.parametrize("model", ["le", "bp", "bp_matched"])
def test_smoke_run(tmp_path, task, model):
    out = tmp_path / "run"
    assert main([str(CONFIGS / f"smoke_{task}_{model}.yaml"), "epochs=1", "train_samples=64",
                 "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "completed"
    rows = _rows(out)
    assert [(r["epoch"], r["split"]) for r in rows if r["split"] != "test_initial"] == \
        [("1", "train"), ("1", "val"), ("1", "test")]
    test = rows[-1]
    assert float(test["error"]) == pytest.approx(100 - float(test["accuracy"]))  # percent
    assert summary["final"]["test_error"] == pytest.approx(float(test["error"]))
    # LE drops the last partial batch (Q10): 48 test samples at batch 16 are all used either way
    assert summary["final"]["n_scored"] == 48
    assert (out / "checkpoint.pt").is_file() and (out / "config.yaml").is_file()


@pytest.mark.parametrize("override,key", [("dt=0", "dt"), ("tau=-1", "tau"), ("variant=instant", "variant"),
                                          ("lr=0.1", "lr"), ("lr_factors=[1.0]", "lr_factors")])
def test_bad_config_exits_2_naming_the_key(tmp_path, capsys, override, key):
    code = main([str(CONFIGS / "smoke_higgs_le.yaml"), override, "--out", str(tmp_path / "r")])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"'{key}" in err[0]


def test_resume_after_sigterm_matches_uninterrupted_run(tmp_path):
    """SIGTERM once the first checkpoint exists; the rerun resumes and ends with the same metrics."""
    config_args = [str(CONFIGS / "smoke_higgs_le.yaml"), "epochs=6"]
    args = [sys.executable, str(FOLDER / "train.py")] + config_args
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    ref = tmp_path / "ref"
    assert main(config_args + ["--out", str(ref)]) == 0  # uninterrupted, in this process
    run = tmp_path / "run"
    proc = subprocess.Popen(args + ["--out", str(run)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (run / "checkpoint.pt").is_file() and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 128 + signal.SIGTERM
    assert json.loads((run / "summary.json").read_text())["status"] == "interrupted"
    assert len(_rows(run)) < len(_rows(ref))
    assert subprocess.run(args + ["--out", str(run)], env=env, capture_output=True).returncode == 0
    strip = lambda rows: [{k: v for k, v in r.items() if k != "wall_time"} for r in rows]
    assert strip(_rows(run)) == strip(_rows(ref))
    final = [json.loads((d / "summary.json").read_text())["final"] for d in (ref, run)]
    assert final[0] == final[1]
