"""Entry-script behaviour: smoke run, resume after SIGTERM, bad config values."""
import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from common.config import ConfigError, load_config
from fig2b_fig4ac_mnist.src.config import Config

from fig2b_fig4ac_mnist.src.paths import CONFIGS, FOLDER

TRAIN = FOLDER / "src" / "train.py"
ENV = dict(os.environ, OMP_NUM_THREADS="1")  # tiny runs: one thread avoids spinning on a shared machine


def _run(args, cwd, **kw):
    return subprocess.run([sys.executable, str(TRAIN), *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=300, env=ENV, **kw)


def _metrics(path):
    return [{k: v for k, v in r.items() if k != "wall_time"} for r in csv.DictReader(open(path / "metrics.csv"))]


def test_smoke_run_writes_a_complete_run_folder(tmp_path):
    out = tmp_path / "smoke"
    res = _run([CONFIGS / "smoke.yaml", "--out", out], cwd=tmp_path)  # any cwd works
    assert res.returncode == 0, res.stderr
    for name in ("config.yaml", "metrics.csv", "summary.json", "log.txt", "checkpoint.pt"):
        assert (out / name).is_file(), name
    rows = _metrics(out)
    assert [(r["epoch"], r["split"]) for r in rows] == [("0", "val"), ("1", "val"), ("2", "val"), ("2", "test")]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "completed"
    assert set(summary["final"]) >= {"test_error", "test_loss"}
    # 2 training epochs x 2 batches x 10 steps + 3 validation passes + 1 test pass of 1 batch x 10 steps
    assert summary["steps"] == 2 * 2 * 10 + 3 * 10 + 10
    assert float(rows[-1]["error"]) < float(rows[0]["error"])  # it learns the synthetic classes


def test_resume_after_sigterm_gives_identical_metrics(tmp_path):
    args = [CONFIGS / "smoke.yaml", "hidden_sizes=[30, 20]", "epoch_qty=20"]  # many short epochs
    full = tmp_path / "full"
    assert _run(args + ["--out", full], cwd=tmp_path).returncode == 0
    part = tmp_path / "part"
    proc = subprocess.Popen([sys.executable, str(TRAIN), *map(str, args + ["--out", part])], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    deadline = time.time() + 120
    while not (part / "checkpoint.pt").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 128 + signal.SIGTERM
    assert json.loads((part / "summary.json").read_text())["status"] == "interrupted"
    res = _run(args + ["--out", part], cwd=tmp_path)
    assert res.returncode == 0 and "resuming" in res.stdout
    assert _metrics(part) == _metrics(full)
    final = [json.loads((p / "summary.json").read_text())["final"] for p in (part, full)]
    assert final[0] == final[1]


@pytest.mark.parametrize("override,key", [("dt=0", "dt"), ("tau_m=-1", "tau_m"), ("variant=leaky", "variant")])
def test_bad_config_values_exit_2_with_one_line(tmp_path, override, key):
    res = _run([CONFIGS / "smoke.yaml", override, "--out", tmp_path / "bad"], cwd=tmp_path)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and key in lines[0], res.stderr
    assert not (tmp_path / "bad").exists()


@pytest.mark.parametrize("override,key", [("dt=-0.1", "dt"), ("tau=-5", "tau"), ("tau_s=-1", "tau_s"),
                                          ("tau_m=0", "tau_m"), ("noise_width=-0.2", "noise_width"),
                                          ("lr_factors=[1.0]", "lr_factors"), ("dataset=cifar", "dataset"),
                                          ("device=tpu", "device"), ("n_updates=0", "n_updates")])
def test_bad_config_values_name_the_key(override, key):
    with pytest.raises(ConfigError, match=f"'{key}'"):
        load_config(Config, CONFIGS / "smoke.yaml", [override])


def test_every_config_loads():
    for path in sorted(CONFIGS.glob("*.yaml")):
        load_config(Config, path)
