"""Helpers for tests that run the toy entry in-process and inspect its run folder."""
import csv
import json
import os
import signal

from tests.common import toy_entry

CONFIG = "lr: 0.05\nepochs: 4\nbatches: 3\nnoise: 0.5\noptimizer: sgd\nseed: 1\n"


def config(tmp_path):
    path = tmp_path / "toy.yaml"
    path.write_text(CONFIG)
    return path


def run(tmp_path, capsys, *extra, out="run"):
    """(exit code, stderr lines) of one toy run into tmp_path/out."""
    code = toy_entry.main([str(config(tmp_path)), "--out", str(tmp_path / out), *extra])
    return code, capsys.readouterr().err.strip().splitlines()


def interrupted_run(tmp_path, capsys, monkeypatch, out="run"):
    """A run stopped by SIGTERM after the checkpoint of epoch 1, as on a preempted node."""
    real = toy_entry.check_finite

    def check_then_signal(epoch, **values):
        if epoch == 1:
            os.kill(os.getpid(), signal.SIGTERM)
        return real(epoch, **values)

    monkeypatch.setattr(toy_entry, "check_finite", check_then_signal)
    code, _ = run(tmp_path, capsys, out=out)
    monkeypatch.setattr(toy_entry, "check_finite", real)
    assert code == 128 + signal.SIGTERM and status(tmp_path / out) == "interrupted"
    return tmp_path / out


def status(folder):
    return json.loads((folder / "summary.json").read_text())["status"]


def metrics(folder):
    return [{k: v for k, v in r.items() if k != "wall_time"}
            for r in csv.DictReader(open(folder / "metrics.csv"))]
