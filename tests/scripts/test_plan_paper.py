"""scripts/plan_paper.py and step_costs.py: step counts of the paper's runs, their prices, and the
SLURM submission of the job scripts' commands (ensembles where a command is a sweep over seeds)."""
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))
import panels  # noqa: E402
import plan_paper  # noqa: E402
import step_costs  # noqa: E402
from step_costs import F2B_CONFIGS, F2CDE_CONFIGS, resolve  # noqa: E402


def test_fc_steps_follow_the_schedule_of_the_spec():
    """le_continuous_fc §3: epoch 0 only evaluates; 97 training and 19 validation batches per epoch;
    one test pass; §1.7: tau adaptation passes of 19 batches x 10 steps per layer."""
    train, evals, adapt = step_costs.fc_steps(resolve(F2B_CONFIGS / "2b_le.yaml"))
    assert (train, evals, adapt) == (199 * 97 * 100, (200 * 19 + 19) * 100, 0)
    learned = resolve(F2B_CONFIGS / "4a_params.yaml", ["adapt_tau=true", "tau_adapt_max_passes=7"])
    assert step_costs.fc_steps(learned)[2] == 3 * 7 * 19 * 10


def test_fig2cde_le_steps_match_the_spec():
    """le_discrete_layers §4: sequential LE update steps per run HIGGS 5.63 M, MNIST 1.15 M, CIFAR 1.95 M."""
    for task, paper in (("higgs", 5.63e6), ("mnist", 1.15e6), ("cifar10", 1.95e6)):
        assert sum(step_costs.le_bp_steps(resolve(F2CDE_CONFIGS / f"{task}_le.yaml"))) == pytest.approx(paper, rel=0.01)


def test_evaluation_and_adaptation_steps_are_priced_on_their_own():
    costs = {"fc": {"4a_params": {"train": 3.0, "eval": 1.0, "adapt": 2.0}}}
    cfg = resolve(F2B_CONFIGS / "4a_params.yaml", ["adapt_tau=true"])
    train, evals, adapt = step_costs.fc_steps(cfg)
    assert step_costs.fc_core_s("4a_params", cfg, costs) == 3.0 * train + 1.0 * evals + 2.0 * adapt


def test_bars_priced_alone_and_as_ensemble():
    costs = {"mc": {"single": 2e-6, "ensemble": 1e-6}}
    command = "python run_bars.py sweep bars_le_tpres_100.yaml bars_orig_tpres_100.yaml --seeds 1-3,7"
    price = plan_paper.price_bars(command, costs)
    steps = 2 * 4 * 1000 * 16 * 100
    assert price.cpu == pytest.approx(steps * 2e-6) and price.cpu_ens == pytest.approx(steps * 1e-6)
    assert price.gpu == 0


def test_gpu_projection_meets_the_design_targets_it_comes_from():
    """A full 2b_le run at the single-network projection takes the DESIGN's 10 minutes; 40 of them in
    ensembles take its 60 minutes."""
    price = plan_paper.price_fc(f"python train.py {F2B_CONFIGS / '2b_le.yaml'} seed=1", step_costs.MEASURED)
    assert price.gpu == pytest.approx(600.0) and 40 * price.gpu_ens == pytest.approx(3600.0)


def test_measure_has_the_structure_of_the_recorded_costs():
    measured = step_costs.measure_fc(repeats=1, n=1)
    assert measured.keys() == step_costs.MEASURED["fc"].keys()
    for stem, costs in measured.items():
        assert costs.keys() == step_costs.MEASURED["fc"][stem].keys()
        assert 0 < costs["eval"] < costs["train"]  # no plasticity in evaluation


def test_slurm_launcher_submits_each_job_script_command_as_an_array_task(tmp_path, monkeypatch, capsys):
    fake = tmp_path / "bin" / "sbatch"
    fake.parent.mkdir()
    fake.write_text(f'#!/bin/bash\necho "$@" >> {tmp_path / "sbatch.args"}\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(plan_paper, "LAUNCH_DIR", tmp_path / "launch")
    assert plan_paper.launch_paper("slurm", only=["fig3", "fig2b"]) == 0
    calls = (tmp_path / "sbatch.args").read_text().splitlines()
    assert len(calls) == 2
    for panel in ("fig2b", "fig3"):
        commands, _ = plan_paper.job_commands(panels.BY_ID[panel].sweep.script)
        listing = (tmp_path / "launch" / f"{panel}.list").read_text().splitlines()
        assert listing == commands
        call = next(c for c in calls if f"--job-name=le-{panel}" in c)
        assert f"--array=0-{len(commands) - 1}" in call and str(tmp_path / "launch" / f"{panel}.list") in call
    # each task is an ensemble (configs x seeds in one process) and the tasks hold all the paper's runs
    for panel, runs, smallest in (("fig3", 220, 10), ("fig2b", 40, 10)):
        sizes = [len(configs) * k for configs, _, k in
                 map(plan_paper.command_parts, (tmp_path / "launch" / f"{panel}.list").read_text().splitlines())]
        assert sum(sizes) == runs and min(sizes) >= smallest
