"""The sweep command line (common/sweep.py): configs x variants x seeds give one run folder each, in the
folders single runs would write; overrides apply variant, sweep, seed; mistakes are one-line usage
errors; runs are one ensemble exactly when every key outside the per-network ones is equal."""
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from common.errors import UsageError
from common.runfolder import default_run_dir
from common.rungroup import Restart
from common.sweep import ensemble_key, parse_sweep, run_sweep
from tests.common.test_entry_cli import CONFIG
from tests.common.toy_entry import ToyConfig


@pytest.fixture
def configs(tmp_path):
    paths = [tmp_path / "a.yaml", tmp_path / "b.yaml"]
    for p in paths:
        p.write_text(CONFIG)
    return [str(p) for p in paths]


def test_jobs_are_configs_by_variants_by_seeds_in_the_single_run_folders(tmp_path, configs):
    sweep = parse_sweep(configs + ["--seeds", "3,5", "lr=0.2"], ToyConfig, tmp_path)
    assert [(c.seed, c.lr, out) for c, out in sweep.jobs] == [
        (s, 0.2, default_run_dir(tmp_path, path, s)) for path in configs for s in (3, 5)]
    assert sweep.restart == Restart()


def test_variant_overrides_come_before_the_sweeps(tmp_path, configs):
    argv = [configs[0], "--seeds", "1", "epochs=4", "--root", str(tmp_path / "r"), "--name", "{stem}_{variant}",
            "--variant", "slow", "lr=0.01 epochs=9", "--variant", "sign", "optimizer=sign"]
    jobs = parse_sweep(argv, ToyConfig, tmp_path).jobs
    assert [(c.lr, c.epochs, c.optimizer, out) for c, out in jobs] == [
        (0.01, 4, "sgd", tmp_path / "r" / "a_slow" / "seed1"),
        (0.05, 4, "sign", tmp_path / "r" / "a_sign" / "seed1")]


def test_restart_options(tmp_path, configs):
    root = tmp_path / "r"
    sweep = parse_sweep([configs[0], "--seeds", "1-2", "--root", str(root), "--restart",
                         "--restart-run", str(root / "a" / "seed2")], ToyConfig, tmp_path)
    assert sweep.restart == Restart(runs=frozenset({(root / "a" / "seed2").resolve()}), broken=True)


@pytest.mark.parametrize("args, words", [
    (["--seeds", "1", "seed=4"], "--seeds"),
    (["--seeds", "1", "--variant", "v", "seed=4"], "--seeds"),
    (["--seeds", "1", "--name", "x"], "two runs would write"),
    (["--seeds", "1", "--name", "{seed}"], "--name"),
    (["--seeds", "1", "--restart-run", "elsewhere/seed1"], "not a run folder of this sweep"),
    (["--seeds", "1-0"], "empty"),
    (["--seeds", "1", "lr=-1"], "lr"),
])
def test_mistakes_are_one_line_usage_errors(tmp_path, configs, args, words):
    with pytest.raises(UsageError, match=words):
        parse_sweep(configs + args, ToyConfig, tmp_path)
    assert not (tmp_path / "runs").exists()


@dataclass(frozen=True)
class Training:
    seed: int
    lr: float


@dataclass(frozen=True)
class Nested:
    steps: int
    training: Training


def test_ensemble_key_ignores_exactly_the_per_network_keys():
    cfg = Nested(steps=10, training=Training(seed=1, lr=0.1))
    per_network = ("training.seed",)
    assert ensemble_key(cfg, per_network) == ensemble_key(replace(cfg, training=Training(7, 0.1)), per_network)
    assert ensemble_key(cfg, per_network) != ensemble_key(replace(cfg, training=Training(1, 0.2)), per_network)
    assert ensemble_key(cfg, per_network) != ensemble_key(replace(cfg, steps=11), per_network)
    assert ensemble_key(cfg, ()) != ensemble_key(replace(cfg, training=Training(7, 0.1)), ())


def test_run_sweep_trains_one_ensemble_per_key_with_the_restart_it_was_given(tmp_path, configs, capsys):
    sweep = parse_sweep(configs + ["--seeds", "1-2", "--restart", "--variant", "x", "", "--variant", "y", "lr=0.2",
                                   "--name", "{stem}{variant}"], ToyConfig, tmp_path)
    groups = []
    assert run_sweep(sweep, ("seed",), lambda jobs, restart: groups.append((jobs, restart)) or 0,
                     describe=lambda c: f"lr {c.lr}") == 0
    assert [[(c.lr, Path(out).parent.name, c.seed) for c, out in jobs] for jobs, _ in groups] == [
        [(0.05, "ax", 1), (0.05, "ax", 2), (0.05, "bx", 1), (0.05, "bx", 2)],
        [(0.2, "ay", 1), (0.2, "ay", 2), (0.2, "by", 1), (0.2, "by", 2)]]
    assert all(restart is sweep.restart for _, restart in groups)
    assert capsys.readouterr().out.splitlines() == ["ensemble of 4 runs, lr 0.05", "ensemble of 4 runs, lr 0.2"]
