"""scripts/runs_index.py: finding, grouping and summarising run folders."""
import math
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import runs_index  # noqa: E402
from fabricate import make_run  # noqa: E402

F2B = "fig2b_fig4ac_mnist"


def test_mean_std_uses_sample_std():
    mean, std, n = runs_index.mean_std([1.0, 2.0, 4.0])
    assert n == 3 and mean == pytest.approx(7 / 3)
    assert std == pytest.approx(math.sqrt(((1 - 7 / 3) ** 2 + (2 - 7 / 3) ** 2 + (4 - 7 / 3) ** 2) / 2))
    assert runs_index.mean_std([5.0]) == (5.0, None, 1)
    assert runs_index.mean_std([]) == (None, None, 0)


def test_grouping_by_config_and_seed(tmp_path):
    for seed, err in [(1, 2.0), (2, 4.0)]:
        make_run(tmp_path, F2B, "src/train.py", "2b_le", seed, final={"test_error": err})
    # same stem, an override (dt) -> its own group, labelled by the key that differs
    for seed in (1, 2):
        make_run(tmp_path / "b", F2B, "src/train.py", "2b_le", seed, final={"test_error": 9.0},
                 config={"dt": 0.1, "n_updates": 100})
    make_run(tmp_path, F2B, "src/train.py", "2b_fa", 1, final={"test_error": 3.0})
    runs, problems = runs_index.find_runs([tmp_path])
    assert len(runs) == 5 and not problems
    groups = runs_index.group_runs(runs)
    labels = sorted(g.label for g in groups)
    assert labels == ["2b_fa", "2b_le (dt=0.01)", "2b_le (dt=0.1)"]
    g = next(g for g in groups if g.label == "2b_le (dt=0.01)")
    assert g.folder == F2B and g.script == "train.py"
    assert [r.seed for r in g.runs] == [1, 2]
    mean, std, n = g.stats("test_error")
    assert (mean, n) == (3.0, 2) and std == pytest.approx(math.sqrt(2))


def test_diverged_and_incomplete_are_not_averaged(tmp_path):
    make_run(tmp_path, F2B, "src/train.py", "4a_params", 1, final={"test_error": 10.0})
    make_run(tmp_path, F2B, "src/train.py", "4a_params", 2, final={"test_error": 20.0})
    make_run(tmp_path, F2B, "src/train.py", "4a_params", 3, status="diverged", final={"test_error": 90.0},
             extra_summary={"diverged_epoch": 4})
    make_run(tmp_path, F2B, "src/train.py", "4a_params", 4, status="running", final={})
    make_run(tmp_path, F2B, "src/train.py", "4a_params", 5, status="interrupted")
    [g] = runs_index.group_runs(runs_index.find_runs([tmp_path])[0])
    assert g.stats("test_error") == (15.0, pytest.approx(math.sqrt(50)), 2)
    note = g.status_note()
    assert "1 diverged (seed 3, epoch 4)" in note
    assert "1 running (seed 4)" in note and "1 interrupted (seed 5)" in note


def test_unreadable_and_partial_folders(tmp_path):
    make_run(tmp_path, F2B, "src/train.py", "2b_le", 1, final={"test_error": 2.0})
    bad = make_run(tmp_path, F2B, "src/train.py", "2b_le", 2)
    (bad / "summary.json").write_text("{not json")
    lonely = tmp_path / "x" / "seed3"
    lonely.mkdir(parents=True)
    (lonely / "summary.json").write_text("{}")  # no config.yaml: not a run folder
    runs, problems = runs_index.find_runs([tmp_path])
    assert [r.seed for r in runs] == [1]
    assert len(problems) == 1 and "seed2" in problems[0]


def test_folder_found_from_run_path_when_command_lacks_it(tmp_path):
    path = make_run(tmp_path / "fig3fig5_dendritic_microcircuits" / "runs", "elsewhere", "x.py",
                    "bars_le_tpres_10", 7, final={"test_acc": 1.0})
    run = runs_index.load_run(path)
    assert run.folder == "fig3fig5_dendritic_microcircuits" and run.stem == "bars_le_tpres_10"
    assert run.seed == 7
