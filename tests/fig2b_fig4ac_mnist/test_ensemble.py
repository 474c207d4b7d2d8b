"""Ensembles: every network of a sweep ends with the metrics of its own single run (CPU, float32)."""
import csv
import json
import os
import signal

import pytest
import yaml

from common.runfolder import RunFolder

from fig2b_fig4ac_mnist.src import train as train_mod
from fig2b_fig4ac_mnist.src.paths import CONFIGS

SMALL = {"hidden_sizes": [30, 20], "train_samples": 64, "val_samples": 40, "test_samples": 32,
         "tau_adapt_max_passes": 2}
# two configs that differ in the per-network settings: jitter, noise, tau adaptation / FA, no prospective
VARIANTS = {
    "jitter_noise": dict(tau_width=0.2, noise_width=0.1, adapt_tau=True, prosp_rate_errors=True),
    "fa_no_prosp": dict(feedback_alignment=True, tau=0.0, tau_m=10.0, prosp_rate_errors=True, beta=0.2),
    "filtered": dict(tau_s=0.05, forward_filter=True, backward_filter=True, target_lpf=True, noise_width=0.2),
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
    """K = 6 (3 configs x 2 seeds): metrics.csv and final metrics equal bit for bit."""
    cfgs = [_config(tmp_path, "jitter_noise"), _config(tmp_path, "fa_no_prosp"), _config(tmp_path, "filtered")]
    root = tmp_path / "sweep"
    assert train_mod.main(["sweep", *map(str, cfgs), "--seeds", "3,4", "--root", str(root)]) == 0
    assert "6 networks:" in (root / "fa_no_prosp" / "seed4" / "log.txt").read_text()  # one ensemble
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


@pytest.mark.parametrize("how,code,rows", [
    ("sigterm", 128 + signal.SIGTERM, [3, 3, 3, 3]),  # honoured at the next batch: every network has epoch 2
    ("ctrl_c", 130, [3, 2, 2, 2]),  # between two checkpoint writes: resumed as two groups
])
def test_sweep_resumes_after_interruption_with_identical_metrics(tmp_path, monkeypatch, how, code, rows):
    """A real SIGTERM to this process, or Ctrl-C, after the ninth checkpoint write; rerunning resumes."""
    cfgs = [str(_config(tmp_path, "jitter_noise", epoch_qty=6)), str(_config(tmp_path, "fa_no_prosp", epoch_qty=6))]
    args = ["sweep", *cfgs, "--seeds", "1-2"]
    full, part = tmp_path / "full", tmp_path / "part"
    assert train_mod.main(args + ["--root", str(full)]) == 0
    writes = []
    save = RunFolder.save_checkpoint

    def save_then_signal(self, state, final=None):
        save(self, state, final=final)
        writes.append(state["epoch"])
        if len(writes) == 9:  # epochs 0 and 1 of all four networks, epoch 2 of the first
            if how == "sigterm":
                os.kill(os.getpid(), signal.SIGTERM)
            else:
                raise KeyboardInterrupt

    monkeypatch.setattr(RunFolder, "save_checkpoint", save_then_signal)
    assert train_mod.main(args + ["--root", str(part)]) == code
    monkeypatch.setattr(RunFolder, "save_checkpoint", save)
    runs = [part / c / f"seed{s}" for c in ("jitter_noise", "fa_no_prosp") for s in (1, 2)]
    assert {_summary(r)["status"] for r in runs} == {"interrupted"}
    assert [len(_metrics(r)) for r in runs] == rows
    assert train_mod.main(args + ["--root", str(part)]) == 0
    assert "resuming" in (runs[0] / "log.txt").read_text()
    for run in runs:
        ref = full / run.parent.name / run.name
        assert _metrics(run) == _metrics(ref)
        assert _summary(run)["final"] == _summary(ref)["final"]


def test_a_folder_of_another_config_stops_the_sweep_with_one_line(tmp_path, capsys):
    cfg = _config(tmp_path, "fa_no_prosp")
    root = tmp_path / "sweep"
    _single(cfg, 2, root / "fa_no_prosp" / "seed2", "beta=0.3")  # the sweep's seed-2 folder, another beta
    assert train_mod.main(["sweep", str(cfg), "--seeds", "1-2", "--root", str(root)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "another config" in err[0] and "beta" in err[0]
    assert _summary(root / "fa_no_prosp" / "seed1")["status"] == "failed"  # opened first, closed, not complete
    assert _summary(root / "fa_no_prosp" / "seed2")["status"] == "completed"  # the other run is untouched


def test_variants_of_one_config_form_one_ensemble(tmp_path):
    """--variant NAME OVERRIDES: per-network settings of one config, folders named by {variant}."""
    cfg = _config(tmp_path, "fa_no_prosp")
    root = tmp_path / "sweep"
    assert train_mod.main(["sweep", str(cfg), "--seeds", "1", "--root", str(root), "--name", "v_{variant}",
                           "--variant", "a", "beta=0.3 noise_width=0.05", "--variant", "b", "feedback_alignment=false",
                           "epoch_qty=2"]) == 0
    assert "2 networks:" in (root / "v_a" / "seed1" / "log.txt").read_text()
    for name, extra in (("a", ["beta=0.3", "noise_width=0.05"]), ("b", ["feedback_alignment=false"])):
        _single(cfg, 1, tmp_path / name, *extra, "epoch_qty=2")
        assert _metrics(root / f"v_{name}" / "seed1") == _metrics(tmp_path / name)
