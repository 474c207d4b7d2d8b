"""common/runs.py: finding, validating, grouping and summarising run folders."""
import json
import math
from pathlib import Path

import numpy as np
import pytest

from common import runs
from tests.scripts.fabricate import make_run

F2B = "fig2b_fig4ac_mnist"


def test_mean_std_uses_sample_std():
    mean, std, n = runs.mean_std([1.0, 2.0, 4.0])
    assert n == 3 and mean == pytest.approx(7 / 3)
    assert std == pytest.approx(math.sqrt(((1 - 7 / 3) ** 2 + (2 - 7 / 3) ** 2 + (4 - 7 / 3) ** 2) / 2))
    mean, std, n = runs.mean_std([5.0])
    assert (mean, n) == (5.0, 1) and math.isnan(std)  # one seed: no spread
    assert math.isnan(runs.mean_std([])[0]) and runs.mean_std([])[2] == 0


def test_mean_curve_averages_each_epoch_over_the_runs_that_have_it():
    a = (np.array([0, 1, 2, 3]), np.array([8.0, 4.0, 2.0, 1.0]))
    b = (np.array([0, 1]), np.array([6.0, 2.0]))
    c = (np.array([1, 2]), np.array([3.0, 4.0]))  # starts late: still counted where it has values
    epochs, mean, std, n = runs.mean_curve([a, b, c])
    assert list(epochs) == [0, 1, 2, 3] and list(n) == [2, 3, 2, 1]
    assert mean == pytest.approx([7, 3, 3, 1])
    assert std[:3] == pytest.approx([np.std([8, 6], ddof=1), 1.0, np.std([2, 4], ddof=1)]) and np.isnan(std[3])


def test_fmt_mean_std_percent_and_significant_digits():
    assert runs.fmt_mean_std(4.0, 2.6457513, percent=True) == "4.00 ± 2.65"
    assert runs.fmt_mean_std(0.015, 0.0070711) == "0.015 ± 0.00707"
    assert runs.fmt_mean_std(5.0, math.nan, percent=True) == "5.00"
    assert runs.fmt_mean_std(math.nan, math.nan) == "—"
    assert [k for k in ("test_error", "accuracy", "test_loss", "le_mean_abs_error_after_learning")
            if runs.is_percent(k)] == ["test_error", "accuracy"]


def test_grouping_by_config_and_seed(tmp_path):
    for seed, err in [(1, 2.0), (2, 4.0)]:
        make_run(tmp_path, F2B, "src/train.py", "2b_le", seed, final={"test_error": err})
    # same stem, an override (dt) -> its own group, labelled by the key that differs
    for seed in (1, 2):
        make_run(tmp_path / "b", F2B, "src/train.py", "2b_le", seed, final={"test_error": 9.0},
                 config={"dt": 0.1, "n_updates": 100})
    make_run(tmp_path, F2B, "src/train.py", "2b_fa", 1, final={"test_error": 3.0})
    found, skipped = runs.find_runs([tmp_path])
    assert len(found) == 5 and not skipped
    groups = runs.group_runs(found)
    assert sorted(g.label for g in groups) == ["2b_fa", "2b_le (dt=0.01)", "2b_le (dt=0.1)"]
    g = next(g for g in groups if g.label == "2b_le (dt=0.01)")
    assert g.folder == F2B and g.script == "train.py"
    assert [r.seed for r in g.runs] == [1, 2]
    mean, std, n = g.stats("test_error")
    assert (mean, n) == (3.0, 2) and std == pytest.approx(math.sqrt(2))


def test_groups_and_seeds_ordered_by_the_numbers_in_their_names(tmp_path):
    F35 = "fig3fig5_dendritic_microcircuits"
    for n in (100, 20, 3):
        for seed in (10, 9):
            make_run(tmp_path, F35, "src/run_bars.py", f"bars_le_tpres_{n}", seed, final={"test_loss": 0.1})
    groups = runs.group_runs(runs.find_runs([tmp_path])[0])
    assert [g.stem for g in groups] == ["bars_le_tpres_3", "bars_le_tpres_20", "bars_le_tpres_100"]
    assert [r.seed for r in groups[0].runs] == [9, 10]


def test_diverged_and_incomplete_are_not_averaged_and_are_listed_by_seed(tmp_path):
    make_run(tmp_path, F2B, "src/train.py", "4a_params", 1, final={"test_error": 10.0})
    make_run(tmp_path, F2B, "src/train.py", "4a_params", 2, final={"test_error": 20.0})
    make_run(tmp_path, F2B, "src/train.py", "4a_params", 3, status="diverged", final={"test_error": 90.0},
             extra_summary={"diverged_epoch": 4})
    make_run(tmp_path, F2B, "src/train.py", "4a_params", 4, status="running", final={})
    make_run(tmp_path, F2B, "src/train.py", "4a_params", 5, status="interrupted")
    make_run(tmp_path, F2B, "src/train.py", "4a_params", 6, status="interrupted")
    [g] = runs.group_runs(runs.find_runs([tmp_path])[0])
    mean, std, n = g.stats("test_error")
    assert (mean, n) == (15.0, 2) and std == pytest.approx(math.sqrt(50))
    assert g.status_note() == "1 diverged (seed 3, epoch 4); 2 interrupted (seeds 5, 6); 1 running (seed 4)"


@pytest.mark.parametrize("summary,reason", [
    ("{not json", "summary.json: Expecting property name"),
    ("[1, 2]", "summary.json holds list, not a mapping"),
    ('"completed"', "summary.json holds str, not a mapping"),
    (json.dumps({"status": "completed", "final": "garbage"}), "summary.json 'final' is str, not a mapping"),
    (json.dumps({"status": 3, "final": {}}), "summary.json has no status string (3)"),
])
def test_summary_of_the_wrong_shape_is_skipped_and_named(tmp_path, summary, reason):
    make_run(tmp_path, F2B, "src/train.py", "2b_le", 1, final={"test_error": 2.0})
    bad = make_run(tmp_path, F2B, "src/train.py", "2b_le", 2)
    (bad / "summary.json").write_text(summary)
    found, skipped = runs.find_runs([tmp_path])
    assert [r.seed for r in found] == [1]
    assert len(skipped) == 1 and skipped[0].startswith(f"{bad}: {reason}")


def test_config_of_the_wrong_shape_and_non_run_folders(tmp_path):
    bad = make_run(tmp_path, F2B, "src/train.py", "2b_le", 1)
    (bad / "config.yaml").write_text("- a\n- b\n")
    lonely = tmp_path / "x" / "seed3"
    lonely.mkdir(parents=True)
    (lonely / "summary.json").write_text("{}")  # no config.yaml: not a run folder, passed over
    found, skipped = runs.find_runs([tmp_path, tmp_path / "missing"])
    assert found == [] and skipped == [f"{bad}: config.yaml holds list, not a mapping",
                                       f"{tmp_path / 'missing'}: no such folder"]


def test_final_values_and_curves_that_cannot_be_read(tmp_path):
    rows = [{"epoch": 0, "split": "val", "loss": 0.1, "error": 50, "accuracy": 50},
            {"epoch": 1, "split": "val", "loss": 0.1, "error": "", "accuracy": ""},
            {"epoch": 2, "split": "val", "loss": 0.1, "error": 20, "accuracy": 80},
            {"epoch": 2, "split": "test", "loss": 0.1, "error": 21, "accuracy": 79}]
    good = make_run(tmp_path, F2B, "src/train.py", "2b_le", 1, final={"test_error": 21, "x": "garbage",
                                                                       "y": True}, metrics=rows)
    empty = make_run(tmp_path, F2B, "src/train.py", "2b_le", 2)
    (empty / "metrics.csv").write_text("")
    header = make_run(tmp_path, F2B, "src/train.py", "2b_le", 3)
    (header / "metrics.csv").write_text("epoch,split,loss,error,accuracy,wall_time\n")
    run = runs.load_run(good)
    epochs, err = run.curve("val", "error")
    assert list(epochs) == [0, 2] and list(err) == [50.0, 20.0]  # the row without a value is left out
    assert run.value("test_error") == 21.0
    for key in ("x", "y", "missing"):
        with pytest.raises(runs.Unreadable, match=f"no number '{key}'"):
            run.value(key)
    got, skipped = runs.extract([run, runs.load_run(empty), runs.load_run(header)],
                                lambda r: r.curve("val", "error"))
    assert [r.path for r, _ in got] == [good]
    assert skipped == [f"{empty}: metrics.csv is empty", f"{header}: metrics.csv has no val rows with a number in 'error'"]
    _, skipped = runs.extract([run], lambda r: r.config["no_such_key"])
    assert skipped == [f"{good}: KeyError 'no_such_key'"]


def test_folder_found_from_run_path_when_command_lacks_it(tmp_path):
    path = make_run(tmp_path / "fig3fig5_dendritic_microcircuits" / "runs", "elsewhere", "x.py",
                    "bars_le_tpres_10", 7, final={"test_acc": 1.0})
    run = runs.load_run(path)
    assert run.folder == "fig3fig5_dendritic_microcircuits" and run.stem == "bars_le_tpres_10"
    assert run.seed == 7


def test_values_a_metric_cannot_take_are_refused_with_the_reason():
    assert runs.out_of_range("test_error", 1e308) == "= 1e+308 is outside 0-100 %"
    assert runs.out_of_range("val_accuracy", -0.5) == "= -0.5 is outside 0-100 %"
    assert runs.out_of_range("test_loss", -1e-3) == "= -0.001 is negative"
    assert runs.out_of_range("test_loss", math.inf).startswith("is not a finite number")
    assert runs.out_of_range("final_val_MSE", -1.0) == "= -1 is negative"
    assert [runs.out_of_range(k, v) for k, v in (("test_error", 0.0), ("test_error", 100.0), ("test_loss", 41.1),
                                                 ("le_step_lag_tau", -3.0))] == [None] * 4


def test_mean_std_near_the_float_limit_stays_finite():
    mean, std, n = runs.mean_std([1e308, 1.5e308])
    assert (n, mean) == (2, pytest.approx(1.25e308)) and std == pytest.approx(math.sqrt(2) * 0.25e308)


def test_out_of_range_finals_and_curve_points_are_left_out_with_a_note(tmp_path):
    rows = [{"epoch": e, "split": "val", "loss": 0.1, "error": err, "accuracy": 0} for e, err in
            enumerate([50, 1e308, 20, -3])]
    for seed, err in ((1, 10.0), (2, 1e308), (3, 30.0)):
        make_run(tmp_path, F2B, "src/train.py", "2b_le", seed, final={"test_error": err}, metrics=rows)
    found, _ = runs.find_runs([tmp_path])
    group, = runs.group_runs(found)
    assert group.stats("test_error") == (20.0, pytest.approx(math.sqrt(200)), 2)
    assert group.left_out("test_error") == ["seed 2: test_error = 1e+308 is outside 0-100 %"]
    with pytest.raises(runs.Unreadable, match=r"'test_error' = 1e\+308 is outside 0-100 %: left out"):
        found[1].value("test_error")
    epochs, err = found[0].curve("val", "error")
    assert list(epochs) == [0, 2] and list(err) == [50.0, 20.0]
    assert found[0].notes == ["metrics.csv: 2 val row(s) with 'error' = 1e+308 is outside 0-100 % left out"]


def test_the_recorded_data_set_is_the_label_and_a_stand_in_is_marked(tmp_path):
    cfg = {"dt": 0.1, "n_updates": 10}
    fmnist = make_run(tmp_path, F2B, "src/train.py", "2b_le", 1, config=dict(cfg, dataset="fashion_mnist"))
    real = make_run(tmp_path, F2B, "src/train.py", "2b_fa", 1, config=dict(cfg, dataset="fashion_mnist"),
                    extra_summary={"dataset": "mnist"})                  # summary.json is the record read first
    smoke = make_run(tmp_path, "fig2cde_higgs_mnist_cifar10", "train.py", "cifar10_le", 1,
                     config={"task": "cifar10", "model": "le", "dataset": "synthetic"})
    bars = make_run(tmp_path, "fig3fig5_dendritic_microcircuits", "src/run_bars.py", "bars_le_tpres_10", 1)
    label = {r.stem: (r.data_label, r.stand_in) for r in runs.find_runs([tmp_path])[0]}
    assert label == {"2b_le": ("Fashion-MNIST (stand-in for MNIST)", True), "2b_fa": ("MNIST", False),
                     "cifar10_le": ("synthetic smoke data (stand-in for CIFAR-10)", True),
                     "bars_le_tpres_10": (None, False)}
    assert runs.data_title([runs.load_run(p) for p in (fmnist, real)]) == \
        "Fashion-MNIST (stand-in for MNIST) and MNIST"
    assert runs.data_title([runs.load_run(p) for p in (smoke, bars)]) == \
        "data set not recorded and synthetic smoke data (stand-in for CIFAR-10)"


def test_not_drawn_note_names_each_run_that_did_not_complete(tmp_path):
    make_run(tmp_path, F2B, "src/train.py", "2b_le", 1)
    make_run(tmp_path, F2B, "src/train.py", "2b_big_tau", 1, status="diverged", extra_summary={"diverged_epoch": 3})
    make_run(tmp_path, F2B, "src/train.py", "2b_big_tau", 2, status="diverged", extra_summary={"diverged_epoch": 3})
    make_run(tmp_path, F2B, "src/train.py", "2b_fa", 1, status="failed")
    found, _ = runs.find_runs([tmp_path])
    assert runs.not_drawn_note(found) == ("not drawn: 2b_big_tau: 2 diverged (seeds 1, 2, epoch 3); "
                                          "2b_fa: 1 failed (seed 1)")
    assert runs.not_drawn_note(found[:0]) == ""


def test_special_files_are_named_and_never_opened(tmp_path):
    import os

    run = make_run(tmp_path, F2B, "src/train.py", "2b_le", 1)
    (run / "metrics.csv").unlink(missing_ok=True)
    os.mkfifo(run / "metrics.csv")
    piped = make_run(tmp_path, F2B, "src/train.py", "2b_le", 2)
    (piped / "summary.json").unlink()
    os.mkfifo(piped / "summary.json")
    found, skipped = runs.find_runs([tmp_path])
    assert [r.path for r in found] == [run]
    assert skipped == [f"{run / 'metrics.csv'}: a named pipe, not a regular file or folder: skipped",
                       f"{piped / 'summary.json'}: a named pipe, not a regular file or folder: skipped"]
    with pytest.raises(runs.Unreadable, match="metrics.csv is a named pipe, not a regular file"):
        found[0].metrics()
    with pytest.raises(runs.Unreadable, match="summary.json is a named pipe"):
        runs.load_run(piped)
    os.mkfifo(tmp_path / "pipe_root")
    assert runs.find_runs([tmp_path / "pipe_root"]) == ([], [f"{tmp_path / 'pipe_root'}: a named pipe, not a "
                                                             "regular file or folder: skipped"])


def test_figures_go_beside_their_runs_never_into_the_repository_root(tmp_path):
    from common.errors import UsageError

    a = make_run(tmp_path / "runs", F2B, "src/train.py", "2b_le", 1)
    b = make_run(tmp_path / "runs", F2B, "src/train.py", "2b_fa", 1)
    assert runs.default_out([a], "f.png") == a.parent / "f.png"           # a run folder gains no file
    assert runs.default_out([a, b], "f.png") == tmp_path / "runs" / "f.png"
    assert runs.default_out([tmp_path / "runs"], "f.png") == tmp_path / "runs" / "f.png"
    repo = Path(runs.__file__).resolve().parents[1]
    for where in ([repo], [repo / F2B, tmp_path], [repo.parent]):
        with pytest.raises(UsageError, match="give --out"):
            runs.default_out(where, "f.png")
