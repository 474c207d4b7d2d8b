"""A run killed with SIGTERM checkpoints, ends `interrupted`, and resumes to the same metrics."""
import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

TOY = Path(__file__).with_name("toy_entry.py")
CONFIG = "lr: 0.05\nepochs: 6\nbatches: 10\nnoise: 0.5\noptimizer: sgd\nseed: 1\nsleep: 0.02\n"


def start(cfg, out):
    return subprocess.Popen([sys.executable, str(TOY), str(cfg), "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def metrics(out):
    return [{k: v for k, v in r.items() if k != "wall_time"}
            for r in csv.DictReader(open(out / "metrics.csv"))]


def test_sigterm_then_rerun_matches_uninterrupted(tmp_path):
    cfg = tmp_path / "toy.yaml"
    cfg.write_text(CONFIG)
    reference = tmp_path / "reference"
    assert start(cfg, reference).wait(60) == 0

    out = tmp_path / "interrupted"
    proc = start(cfg, out)
    deadline = time.time() + 60
    while not (out / "checkpoint.pt").exists():
        assert time.time() < deadline and proc.poll() is None
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 128 + signal.SIGTERM
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "interrupted"
    assert len(metrics(out)) < 6

    assert start(cfg, out).wait(60) == 0
    assert json.loads((out / "summary.json").read_text())["status"] == "completed"
    assert metrics(out) == metrics(reference)
    final = json.loads((out / "summary.json").read_text())["final"]
    assert final == json.loads((reference / "summary.json").read_text())["final"]
    assert "resuming" in (out / "log.txt").read_text()
