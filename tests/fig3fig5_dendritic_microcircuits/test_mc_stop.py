"""Stop requests: the engine runs in short sub-blocks, a signal mid-block ends a sweep promptly with
status interrupted, and resuming gives exactly the metrics of an uninterrupted sweep."""
import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from fig3fig5_dendritic_microcircuits.src import protocol, run_bars, run_single_mc
from fig3fig5_dendritic_microcircuits.src.network import Microcircuits
from fig3fig5_dendritic_microcircuits.src.protocol import run_in_sub_blocks

from .helpers import CONFIGS, FOLDER, net, params, random_schedule


def test_sub_blocks_are_bit_identical_to_one_engine_call(monkeypatch):
    ps = [params(True), params(True)]
    X, T, learn = random_schedule(2, 30, (9, 30, 3), seed=4, p_learn=1.0)
    rec = [(0, "pyr_apical"), (1, "pyr_soma"), ("run", "u_tgt")]

    def ensemble():
        m = net(ps, [1, 2])
        for layer, f, v in ((0, "W_up", 1.0), (0, "W_down", 0.3), (0, "W_pi", 0.0), (1, "W_up", 0.2)):
            m.W(layer, f)[1] = v                   # network 1 runs away at pattern 11
        return m

    whole, parts = ensemble(), ensemble()
    learn[1] = False
    r = whole.run(X, T, learn=learn, n=10, record=rec, record_every=3)
    monkeypatch.setattr(protocol, "SUB_BLOCK_STEPS", 70)               # 3 patterns per call
    calls = []
    rs = run_in_sub_blocks(parts, X, T, learn, 10, lambda: calls.append(1), record=rec,
                           record_every=3)
    assert len(calls) == 10                                              # checked before each call
    assert r.diverged_at[1] > 3 and np.array_equal(rs.diverged_at, r.diverged_at)
    assert np.array_equal(rs.out, r.out) and np.array_equal(parts.S, whole.S)
    for key in rec:
        assert np.array_equal(rs.traces[key], r.traces[key])


def _rows(run_dir):
    with open(run_dir / "metrics.csv") as f:
        return [{k: v for k, v in r.items() if k != "wall_time"} for r in csv.DictReader(f)]


def _status(run_dir):
    return json.loads((run_dir / "summary.json").read_text())["status"]


def _wait_for(predicate, proc, what, timeout=120):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert proc.poll() is None, f"the sweep ended before {what}: {proc.communicate()}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_signal_mid_block_stops_the_sweep_and_resume_is_exact(tmp_path):
    """N = 2000, 2 networks: 25 patterns per engine call, blocks end at the snapshot epochs 1 and 3,
    so each later block of 32 patterns takes two calls. SIGTERM right after the first checkpoint and
    SIGINT right after the second each stop the sweep inside the next block (no epoch of it logged);
    the third run completes."""
    args = [str(CONFIGS / "bars_le_tpres_2000.yaml"), "--seeds", "1-2", "training.n_epochs=5",
            "training.snapshot_epochs=[1, 3]"]
    assert run_bars.main(["sweep", *args, "--root", str(tmp_path / "ref")]) == 0
    root = tmp_path / "stopped"
    runs = [root / "bars_le_tpres_2000" / f"seed{s}" for s in (1, 2)]
    cmd = [sys.executable, str(FOLDER / "src" / "run_bars.py"), "sweep", *args, "--root", str(root)]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    for sig, epochs_done in ((signal.SIGTERM, 1), (signal.SIGINT, 3)):
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        _wait_for(lambda: (runs[1] / "metrics.csv").is_file()
                  and len(_rows(runs[1])) == epochs_done and (runs[1] / "checkpoint.pt").is_file(),
                  proc, f"epoch {epochs_done}")
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 128 + sig, err
        for run in runs:
            assert _status(run) == "interrupted"
            assert [int(r["epoch"]) for r in _rows(run)] == list(range(1, epochs_done + 1))
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    for run in runs:
        ref = tmp_path / "ref" / run.relative_to(root)
        assert _status(run) == "completed" and _rows(run) == _rows(ref)
        a, b = np.load(ref / "weights_post.npz"), np.load(run / "weights_post.npz")
        assert all(np.array_equal(a[k], b[k]) for k in a.files)


def test_mimic_stops_at_the_next_engine_call_after_sigterm(tmp_path, monkeypatch):
    """A real SIGTERM during task training (engine call 8: 2 teacher, 2 self-prediction and 2
    evaluation calls come first) ends the run after that call with status interrupted and exit code
    143; nothing of the task is saved."""
    monkeypatch.setattr(protocol, "SUB_BLOCK_STEPS", 1000)            # 10 patterns per call
    calls = []
    engine_run = Microcircuits.run

    def run_and_signal(self, *a, **kw):
        calls.append(1)
        if len(calls) == 8:
            os.kill(os.getpid(), signal.SIGTERM)
        return engine_run(self, *a, **kw)

    monkeypatch.setattr(Microcircuits, "run", run_and_signal)
    out = tmp_path / "mimic"
    code = run_single_mc.main(["train", str(CONFIGS / "mimic_tpres_100.yaml"), "--out", str(out),
                               "training.n_epochs=20"])
    assert code == 128 + signal.SIGTERM and len(calls) == 8
    assert _status(out) == "interrupted" and not (out / "weights_post.npz").exists()
