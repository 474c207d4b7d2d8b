"""Ensembles: every network of a sweep ends with the metrics of its own single run (CPU, float32)."""
import csv
import json
import os
import signal
import subprocess
import sys
import time

import yaml

from fig2b_fig4ac_mnist.src import train as train_mod
from fig2b_fig4ac_mnist.src.paths import CONFIGS, FOLDER

TRAIN = FOLDER / "src" / "train.py"
ENV = dict(os.environ, OMP_NUM_THREADS="1")
SMALL = {"hidden_sizes": [30, 20], "train_samples": 64, "val_samples": 40, "test_samples": 32,
         "tau_adapt_max_passes": 2}
# two configs that differ in the per-network settings: jitter, noise, tau adaptation / FA, no prospective
VARIANTS = {
    "jitter_noise": dict(tau_width=0.2, noise_width=0.1, adapt_tau=True, prosp_rate_errors=True),
    "fa_no_prosp": dict(feedback_alignment=True, tau=0.0, tau_m=10.0, prosp_rate_errors=True, beta=0.2),
    "exploding": dict(tau=0.001, tau_m=0.001),  # dt / tau_m = 10: the Euler step diverges
}


def _config(tmp_path, name, **extra):
    data = yaml.safe_load((CONFIGS / "smoke.yaml").read_text())
    data.update(SMALL, **VARIANTS[name], **extra)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _metrics(path):
    with open(path / "metrics.csv") as f:
        return [{k: v for k, v in r.items() if k != "wall_time"} for r in csv.DictReader(f)]


def _summary(path):
    return json.loads((path / "summary.json").read_text())


def _single(cfg, seed, out, *extra):
    assert train_mod.main([str(cfg), f"seed={seed}", *extra, "--out", str(out)]) == 0


def test_ensemble_members_equal_their_single_runs(tmp_path):
    """K = 4 (2 configs x 2 seeds): metrics.csv and final metrics equal bit for bit."""
    cfgs = [_config(tmp_path, "jitter_noise"), _config(tmp_path, "fa_no_prosp")]
    root = tmp_path / "sweep"
    assert train_mod.main(["sweep", *map(str, cfgs), "--seeds", "3,4", "--root", str(root)]) == 0
    assert "4 networks:" in (root / "fa_no_prosp" / "seed4" / "log.txt").read_text()  # one ensemble
    for cfg in cfgs:
        for seed in (3, 4):
            member, single = root / cfg.stem / f"seed{seed}", tmp_path / "single" / cfg.stem / f"seed{seed}"
            _single(cfg, seed, single)
            assert _summary(member)["status"] == "completed"
            assert _metrics(member) == _metrics(single), (cfg.stem, seed)
            assert _summary(member)["final"] == _summary(single)["final"]
    rows = _metrics(root / "jitter_noise" / "seed3")
    assert rows != _metrics(root / "jitter_noise" / "seed4")  # the seeds are different networks


def test_diverging_member_is_masked_and_the_others_go_on(tmp_path):
    cfgs = [_config(tmp_path, "fa_no_prosp"), _config(tmp_path, "exploding")]
    root = tmp_path / "sweep"
    assert train_mod.main(["sweep", *map(str, cfgs), "--seeds", "5", "--root", str(root)]) == 0
    bad, good = root / "exploding" / "seed5", root / "fa_no_prosp" / "seed5"
    _single(cfgs[1], 5, tmp_path / "bad")
    _single(cfgs[0], 5, tmp_path / "good")
    expected = _summary(tmp_path / "bad")
    assert expected["status"] == "diverged"
    assert _summary(bad)["status"] == "diverged"
    assert _summary(bad)["diverged_epoch"] == expected["diverged_epoch"]
    assert _metrics(bad) == _metrics(tmp_path / "bad")
    assert _summary(good)["status"] == "completed"
    assert _metrics(good) == _metrics(tmp_path / "good")
    assert _summary(good)["final"] == _summary(tmp_path / "good")["final"]


def test_sweep_resumes_after_sigterm_with_identical_metrics(tmp_path):
    cfgs = [str(_config(tmp_path, "jitter_noise", epoch_qty=25)), str(_config(tmp_path, "fa_no_prosp", epoch_qty=25))]
    args = [sys.executable, str(TRAIN), "sweep", *cfgs, "--seeds", "1-2"]
    full, part = tmp_path / "full", tmp_path / "part"
    assert subprocess.run(args + ["--root", str(full)], env=ENV, capture_output=True, timeout=600).returncode == 0
    proc = subprocess.Popen(args + ["--root", str(part)], env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    first = part / "jitter_noise" / "seed1" / "checkpoint.pt"
    deadline = time.time() + 300
    while not first.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=300) == 128 + signal.SIGTERM
    runs = [(c, s) for c in ("jitter_noise", "fa_no_prosp") for s in (1, 2)]
    assert {_summary(part / c / f"seed{s}")["status"] for c, s in runs} == {"interrupted"}
    res = subprocess.run(args + ["--root", str(part)], env=ENV, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0 and "resuming" in res.stdout
    for c, s in runs:
        assert _metrics(part / c / f"seed{s}") == _metrics(full / c / f"seed{s}")
        assert _summary(part / c / f"seed{s}")["final"] == _summary(full / c / f"seed{s}")["final"]
