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


def test_fc_steps_follow_the_schedule_of_the_model():
    """docs/model/fig2b_fig4ac_mnist.md §3: epoch 0 only evaluates; 97 training and 19 validation batches
    per epoch; one test pass; §1.7: tau adaptation passes of 19 batches x 10 steps per layer."""
    train, evals, adapt = step_costs.fc_steps(resolve(F2B_CONFIGS / "2b_le.yaml"))
    assert (train, evals, adapt) == (199 * 97 * 100, (200 * 19 + 19) * 100, 0)
    learned = resolve(F2B_CONFIGS / "4a_params.yaml", ["adapt_tau=true", "tau_adapt_max_passes=7"])
    assert step_costs.fc_steps(learned)[2] == 3 * 7 * 19 * 10


def test_fig2cde_le_steps_match_the_model():
    """docs/model/fig2cde_higgs_mnist_cifar10.md §4: sequential LE update steps per run HIGGS 5.63 M,
    MNIST 1.15 M, CIFAR-10 1.95 M."""
    for task, paper in (("higgs", 5.63e6), ("mnist", 1.15e6), ("cifar10", 1.95e6)):
        assert sum(step_costs.le_bp_steps(resolve(F2CDE_CONFIGS / f"{task}_le.yaml"))) == pytest.approx(paper, rel=0.01)


def test_evaluation_and_adaptation_steps_are_priced_on_their_own():
    costs = {"fc": {"4a_params": {"train": 3.0, "eval": 1.0, "adapt": 2.0}}}
    cfg = resolve(F2B_CONFIGS / "4a_params.yaml", ["adapt_tau=true"])
    train, evals, adapt = step_costs.fc_steps(cfg)
    assert step_costs.fc_core_s("4a_params", cfg, costs) == 3.0 * train + 1.0 * evals + 2.0 * adapt


def test_bars_priced_alone_and_as_ensemble():
    costs = {"mc": {"single": 2e-6, "ensemble": 1e-6}}
    cfg = REPO / "fig3fig5_dendritic_microcircuits" / "experiment_configs"
    command = (f"python {REPO}/fig3fig5_dendritic_microcircuits/src/run_bars.py sweep {cfg}/bars_le_tpres_100.yaml "
               f"{cfg}/bars_orig_tpres_100.yaml --seeds 1-3,7")
    [nets] = plan_paper.ensembles(command)
    price = plan_paper.price_ensemble(nets, costs)
    steps = 2 * 4 * 1000 * 16 * 100
    assert len(nets) == 8
    assert price.cpu == pytest.approx(steps * 2e-6) and price.cpu_ens == pytest.approx(steps * 1e-6)
    assert price.gpu == 0


def test_bars_grouped_into_ensembles_as_the_sweep_groups_them():
    """LE and orig of one step count differ only in PER_NETWORK keys (one ensemble); another step count is
    another ensemble, priced with its own N and the n_epochs override."""
    cfg = REPO / "fig3fig5_dendritic_microcircuits" / "experiment_configs"
    command = (f"python {REPO}/fig3fig5_dendritic_microcircuits/src/run_bars.py sweep {cfg}/bars_le_tpres_100.yaml "
               f"{cfg}/bars_orig_tpres_100.yaml {cfg}/bars_le_tpres_200.yaml --seeds 1,2 training.n_epochs=3")
    groups = plan_paper.ensembles(command)
    assert [len(nets) for nets in groups] == [4, 2]
    price = plan_paper.price_ensemble(groups[1], {"mc": {"single": 1.0, "ensemble": 0.5}})
    assert price.cpu == 2 * 3 * 16 * 200 and price.cpu_ens == price.cpu / 2


def _networks(commands):
    return sum(len(nets) for command in commands for nets in plan_paper.ensembles(command))


@pytest.mark.parametrize("panel", [p for p in panels.PANELS if p.sweep.kind != "single"], ids=lambda p: p.id)
def test_every_panel_prices_the_networks_its_job_script_launches(panel):
    """configs x variants x seeds of every command, parsed by the entry script's sweep parser, equal the
    run count that the job script's --dry-run declares (Fig. 2c-e: the sweeps of each submit script's
    --dry-run, an LE and a BP ensemble of the PAPER_SEEDS of submit_lib.sh, where it declares no count)."""
    commands, networks, declared, sizes, _ = plan_paper.describe(panel)
    assert networks == _networks(commands) == sum(sizes)
    if panel.sweep.kind == "jobs":
        assert declared is not None and networks == declared
    else:
        for task_commands, task_declared in map(plan_paper.submit_commands, plan_paper.SUBMIT_SCRIPTS):
            expected = task_declared if task_declared is not None else 2 * len(plan_paper.paper_seeds())
            assert _networks(task_commands) == expected
    assert networks == {"fig2b": 40, "fig2cde": 54, "fig3": 220, "fig4a": 200, "fig4c": 90}[panel.id]


def test_variant_overrides_are_loaded_as_real_overrides():
    """Fig. 4a: the five variants of 4a_jobs.sh reach the configs as typed values, and only the learned
    tau_m variant has adaptation steps."""
    commands, _ = plan_paper.job_commands("fig2b_fig4ac_mnist/4a_jobs.sh")
    nets = [n for nets in plan_paper.ensembles(commands[0]) for n in nets]
    settings = {(n.cfg["tau_width"], n.cfg["adapt_tau"], n.cfg["prosp_rate_errors"]) for n in nets}
    assert settings == {(0.0, False, False), (0.2, False, False), (0.3, False, False), (0.01, False, True),
                        (0.2, True, True)}
    for n in nets:
        assert (step_costs.fc_steps(n.cfg)[2] > 0) == n.cfg["adapt_tau"]


def test_a_bad_variant_override_stops_with_one_line():
    from common.errors import UsageError

    command = (f"python {REPO}/fig2b_fig4ac_mnist/src/train.py sweep {F2B_CONFIGS / '4a_params.yaml'} "
               f"--variant v 'adapt_tau=maybe tau_width=0.2' --seeds 1")
    with pytest.raises(UsageError, match="adapt_tau"):
        plan_paper.ensembles(command)


def test_trace_counts_the_work_of_a_batched_matrix_product():
    """One bmm of K x B x n by K x n x m: 2 K B n m FLOPs and one kernel; every operand read and every
    result written once; the product is a temporary."""
    import torch

    a, b = torch.rand(3, 8, 5), torch.rand(3, 5, 7)
    t = step_costs.trace(lambda: torch.bmm(a, b).sum())
    assert t["flops"] == 2 * 3 * 8 * 5 * 7
    assert t["kernels"] == 2  # bmm, sum
    assert t["bytes"] == 4 * ((3 * 8 * 5 + 3 * 5 * 7 + 3 * 8 * 7) + (3 * 8 * 7 + 1))
    assert t["pool"] >= 4 * 3 * 8 * 7


def test_gpu_projection_shares_kernels_across_an_ensemble():
    """t(K) = K work + kernels x t_kernel: per network an ensemble costs less than a network alone and
    more than its work; eager launches cost at least kernels x t_launch; memory as the stated formula."""
    tr = {"flops": 1e9, "bytes": 4e7, "kernels": 60, "held": 2e7, "pool": 1e6}
    g = step_costs.GPU
    work = max(1e9 / (g["peak_flops"] * g["flops_fraction"]), 4e7 / (g["peak_bandwidth"] * g["bandwidth_fraction"]))
    one, sixteen = step_costs.gpu_step_s(tr, 1), step_costs.gpu_step_s(tr, 16)
    assert one == pytest.approx(work + 60 * g["kernel_s"])
    assert work < sixteen / 16 < one
    assert step_costs.gpu_step_s(tr, 1, graphs=False) >= 60 * g["launch_s"]
    assert step_costs.gpu_bytes(tr, 4, "mnist") == pytest.approx(
        g["context_bytes"] + step_costs.DATA_BYTES["mnist"] + 4 * (2e7 + 1e6))


def test_measure_has_the_structure_of_the_recorded_costs():
    """Keys as in step_costs.json; every cost and traced quantity positive and finite (no two timings
    are compared: one measurement on a shared machine orders nothing)."""
    import math

    measured = step_costs.measure_fc(repeats=1, stems=("4a_params",), ensemble=False)["4a_params"]
    recorded = step_costs.MEASURED["fc"]["4a_params"]
    assert measured.keys() == recorded.keys()
    for key in ("train", "eval", "adapt"):
        assert 0 < measured[key] and math.isfinite(measured[key])
        assert measured["trace"][key].keys() == recorded["trace"][key].keys()
        assert all(0 < v and math.isfinite(v) for v in measured["trace"][key].values())


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
        sizes = [len(nets) for command in (tmp_path / "launch" / f"{panel}.list").read_text().splitlines()
                 for nets in plan_paper.ensembles(command)]
        assert sum(sizes) == runs and min(sizes) >= smallest
