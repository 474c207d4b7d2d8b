"""`train.py sweep`: K seeds as one ensemble write the run folders of the K separate runs (bitwise on the
CPU), resume after SIGTERM, a diverging member ends `diverged` while the others go on unchanged and
stays so on a rerun, and --restart starts over only the members that cannot be resumed.
The batched (GPU) kernels are compared with single networks in test_ensemble.py."""
import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from common.checkpoint import load_checkpoint
from fig2cde_higgs_mnist_cifar10 import train
from tests.fig2cde_higgs_mnist_cifar10.helpers import flat_tensors, one_math_thread  # noqa: F401
from tests.fig2cde_higgs_mnist_cifar10.test_cli import CONFIGS, FOLDER

SEEDS = (1, 2, 3)

pytestmark = pytest.mark.usefixtures("one_math_thread")


def _rows(run_dir):
    with open(run_dir / "metrics.csv") as f:
        return [{k: v for k, v in r.items() if k != "wall_time"} for r in csv.DictReader(f)]


def _checkpoint(run_dir):
    return flat_tensors(load_checkpoint(run_dir / "checkpoint.pt")["trainer"])


def _sweep_and_singles(tmp_path, config, overrides):
    root = tmp_path / "sweep"
    seeds = ",".join(map(str, SEEDS))
    assert train.main(["sweep", str(CONFIGS / config), "--seeds", seeds, "--root", str(root)] + overrides) == 0
    pairs = []
    for s in SEEDS:
        single = tmp_path / f"single{s}"
        assert train.main([str(CONFIGS / config), f"seed={s}", "--out", str(single)] + overrides) == 0
        pairs.append((root / config.removesuffix(".yaml") / f"seed{s}", single))
    return pairs


SMALL = {"higgs": ["epochs=2", "train_samples=48"],
         "mnist": ["epochs=1", "train_samples=32", "eval_samples=16"]}


@pytest.mark.parametrize("task", ["higgs", "mnist"])
@pytest.mark.parametrize("model", ["le", "bp"])
def test_sweep_is_bitwise_the_separate_runs(tmp_path, task, model):
    """On the CPU every member runs the single network's kernels: same files, metrics, summary and
    checkpoint (weights, neuron state, momentum buffers) as `train.py CONFIG seed=S`."""
    for ens, single in _sweep_and_singles(tmp_path, f"smoke_{task}_{model}.yaml", SMALL[task]):
        assert sorted(p.name for p in ens.iterdir()) == sorted(p.name for p in single.iterdir())
        assert _rows(ens) == _rows(single)
        final = [json.loads((d / "summary.json").read_text()) for d in (ens, single)]
        assert final[0]["status"] == "completed" and final[0]["final"] == final[1]["final"]
        assert final[0]["steps"] == final[1]["steps"]
        a, b = _checkpoint(ens), _checkpoint(single)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_sweep_resumes_after_sigterm(tmp_path):
    """SIGTERM once every member has a checkpoint; the rerun resumes all of them and ends with the
    metrics of an uninterrupted sweep."""
    args = [str(CONFIGS / "smoke_higgs_le.yaml"), "epochs=4", "--seeds", "1,2"]
    ref, run = tmp_path / "ref", tmp_path / "run"
    assert train.main(["sweep"] + args + ["--root", str(ref)]) == 0
    cmd = [sys.executable, str(FOLDER / "train.py"), "sweep"] + args + ["--root", str(run)]
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    members = [run / "smoke_higgs_le" / f"seed{s}" for s in (1, 2)]
    deadline = time.monotonic() + 120
    while not all((m / "checkpoint.pt").is_file() for m in members) and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 128 + signal.SIGTERM
    for m in members:
        assert json.loads((m / "summary.json").read_text())["status"] == "interrupted"
    assert len(_rows(members[0])) < len(_rows(ref / "smoke_higgs_le" / "seed1"))
    assert subprocess.run(cmd, env=env, capture_output=True).returncode == 0
    for s, m in zip((1, 2), members):
        done = ref / "smoke_higgs_le" / f"seed{s}"
        assert _rows(m) == _rows(done)
        assert "resuming" in (m / "log.txt").read_text()
        final = [json.loads((d / "summary.json").read_text())["final"] for d in (m, done)]
        assert final[0] == final[1]


def test_diverging_member_is_recorded_and_dropped(tmp_path, monkeypatch):
    """Seed 2 starts with runaway weights: it ends `diverged` at epoch 1; seeds 1 and 3 complete with
    exactly their separate runs' metrics."""
    setup = train.setup

    def runaway_seed2(cfg, device):
        trainer, loaders = setup(cfg, device)
        if cfg.seed == 2:
            trainer.net.stages[0].W.mul_(1e8)  # |W| > WEIGHT_LIMIT after the first epoch
        return trainer, loaders

    config, overrides = CONFIGS / "smoke_higgs_le.yaml", ["epochs=2"]
    singles = {}
    for s in (1, 3):
        singles[s] = tmp_path / f"single{s}"
        assert train.main([str(config), f"seed={s}", "--out", str(singles[s])] + overrides) == 0
    monkeypatch.setattr(train, "setup", runaway_seed2)
    root = tmp_path / "sweep"
    assert train.main(["sweep", str(config), "--seeds", "1-3", "--root", str(root)] + overrides) == 0
    summary = json.loads((root / "smoke_higgs_le" / "seed2" / "summary.json").read_text())
    assert summary["status"] == "diverged" and summary["diverged_epoch"] == 1
    assert [r["split"] for r in _rows(root / "smoke_higgs_le" / "seed2")] == ["test_initial"]
    for s in (1, 3):
        run = root / "smoke_higgs_le" / f"seed{s}"
        assert json.loads((run / "summary.json").read_text())["status"] == "completed"
        assert _rows(run) == _rows(singles[s])
    # the rerun of the finished sweep trains nothing: diverged is final like completed
    before = {s: _files(root / "smoke_higgs_le" / f"seed{s}") for s in SEEDS}
    built = []
    monkeypatch.setattr(train, "setup", lambda cfg, device: built.append(cfg.seed) or setup(cfg, device))
    assert train.main(["sweep", str(config), "--seeds", "1-3", "--root", str(root), "--restart"] + overrides) == 0
    assert built == []
    assert {s: _files(root / "smoke_higgs_le" / f"seed{s}") for s in SEEDS} == before


def _files(run_dir):
    """Every file of a run folder and its bytes (.lock is the operating system's)."""
    return {p.name: p.read_bytes() for p in sorted(run_dir.iterdir()) if p.name != ".lock"}


def test_restart_of_a_sweep_starts_over_only_its_broken_member(tmp_path, capsys):
    """Seed 1 completed, seed 2's folder holds a run of another config: without --restart the sweep
    stops with one line that names the sweep option for that folder alone, and changes nothing; with
    --restart seed 2 is computed (equal to its single run) and seed 1 keeps every byte."""
    config, overrides = str(CONFIGS / "smoke_higgs_le.yaml"), ["epochs=1"]
    root = tmp_path / "sweep"
    done, broken = root / "smoke_higgs_le" / "seed1", root / "smoke_higgs_le" / "seed2"
    assert train.main(["sweep", config, "--seeds", "1", "--root", str(root)] + overrides) == 0
    assert train.main([config, "seed=2", "epochs=2", "--out", str(broken)]) == 0  # another config
    before = _files(done), _files(broken)
    capsys.readouterr()
    assert train.main(["sweep", config, "--seeds", "1-2", "--root", str(root)] + overrides) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "another config" in err[0] and f"--restart-run {broken}" in err[0]
    assert (_files(done), _files(broken)) == before
    assert train.main(["sweep", config, "--seeds", "1-2", "--root", str(root), "--restart"] + overrides) == 0
    assert _files(done) == before[0]
    single = tmp_path / "single2"
    assert train.main([config, "seed=2", "--out", str(single)] + overrides) == 0
    assert _rows(broken) == _rows(single)


@pytest.mark.parametrize("args", [["--seeds", "1,x"], ["--seeds", "1,1"], ["--seeds", "1", "seed=3"], []])
def test_bad_sweep_arguments_exit_2_with_one_line(tmp_path, capsys, args):
    code = train.main(["sweep", str(CONFIGS / "smoke_higgs_le.yaml"), "--root", str(tmp_path)] + args)
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:")
    assert not any(tmp_path.iterdir())
