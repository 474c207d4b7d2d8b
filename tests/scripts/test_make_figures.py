"""scripts/make_figures.py on fabricated run folders: panel selection, status marking, mean ± std,
and run folders that cannot be read (listed in results.md, never stopping the other runs)."""
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_figures  # noqa: E402
from fabricate import make_run  # noqa: E402

F2B, F35 = "fig2b_fig4ac_mnist", "fig3fig5_dendritic_microcircuits"


@pytest.fixture
def fake_plots(monkeypatch):
    """Replace the folders' plot functions by one that records its run folders and writes the file."""
    calls = {}

    def load(plot_file):
        def plot(run_dirs, out_path):
            dirs = [run_dirs] if isinstance(run_dirs, (str, Path)) else run_dirs  # per-run plots get one folder
            calls.setdefault(Path(plot_file).name, []).append(sorted(Path(p).name for p in dirs))
            Path(out_path).write_text("figure")
        return plot, None

    monkeypatch.setattr(make_figures, "_load_plot", load)
    return calls


def _sweep(root):
    for seed, err in [(1, 2.0), (2, 3.0), (3, 7.0)]:
        make_run(root, F2B, "src/train.py", "2b_le", seed, final={"test_error": err})
    make_run(root, F2B, "src/train.py", "2b_le", 4, status="diverged", final={"test_error": 90.0},
             extra_summary={"diverged_epoch": 6})
    make_run(root, F2B, "src/train.py", "2b_le", 5, status="interrupted")
    for seed in (1, 2):
        make_run(root, F35, "src/run_bars.py", "bars_le_tpres_10", seed,
                 final={"test_accuracy": 1.0, "test_loss": 0.01 * seed})
    make_run(root, F35, "src/run_bars.py", "bars_orig_tpres_10", 1, status="running")


def test_partial_sweep_tables_and_figures(tmp_path, fake_plots):
    _sweep(tmp_path / "runs")
    out = tmp_path / "figures"
    table, figures, notes = make_figures.make_figures([tmp_path / "runs"], out)
    # figures: PNG and PDF of each panel with data; the interrupted and running runs are not plotted
    assert sorted(p.name for p in figures["fig2b"]) == ["fig2b.pdf", "fig2b.png"]
    assert fake_plots["plot_2b.py"][0] == ["seed1", "seed2", "seed3", "seed4"]
    assert fake_plots["plot_fig3.py"][0] == ["seed1", "seed2"]
    assert "fig4a" not in figures and "fig2cde" not in figures
    rows = {(r["panel"], r["setting"], r["metric"]): r for r in table}
    le = rows[("fig2b", "2b_le", "test error (%)")]
    assert le["mean"] == pytest.approx(4.0) and le["std"] == pytest.approx(2.6457513, rel=1e-6)
    assert le["n"] == 3 and le["seeds"].startswith("3 of 5")
    assert "1 diverged (seed 4, epoch 6)" in le["other"] and "1 interrupted (seed 5)" in le["other"]
    bars = rows[("fig3", "bars_le_tpres_10", "test MSE")]
    assert bars["mean"] == pytest.approx(0.015) and bars["n"] == 2
    orig = [r for r in table if r["setting"] == "bars_orig_tpres_10"]
    assert orig and all(r["ours"] == "—" and "1 running" in r["other"] for r in orig)
    text = (out / "results.md").read_text()
    assert "| 2b_le | test error (%) | 4.00 ± 2.65 | 3 of 5 run, paper 10 |" in text  # percent: 2 decimals
    assert "| bars_le_tpres_10 | test MSE | 0.015 ± 0.00707 | 2 of 2 run, paper 10 |" in text
    assert "## Fig. 4a" in text and "No runs found: panel not drawn." in text
    assert not notes


def test_missing_plot_module_is_reported(tmp_path, monkeypatch):
    make_run(tmp_path, F2B, "src/train.py", "4c_params", 1, final={"test_error": 5.0})
    monkeypatch.setattr(make_figures, "REPO", tmp_path)  # no plot files there
    table, figures, _ = make_figures.make_figures([tmp_path], tmp_path / "fig")
    assert figures["fig4c"] == [] and table[0]["ours"] == "5.00" and math.isnan(table[0]["std"])
    assert "not drawn (fig2b_fig4ac_mnist/plot_4c.py does not exist)" in (tmp_path / "fig" / "results.md").read_text()


def test_stray_runs_are_noted(tmp_path, fake_plots):
    make_run(tmp_path, F2B, "src/train.py", "smoke", 1, final={"test_error": 5.0})
    _, figures, notes = make_figures.make_figures([tmp_path], tmp_path / "fig")
    assert not figures and len(notes) == 1 and "smoke" in notes[0]


def test_fourier_outputs_are_found(tmp_path, fake_plots):
    out = tmp_path / "fig2a_fourier"
    out.mkdir()
    for name in ("le", "no_prospective"):
        np.save(out / f"{name}.npy", np.zeros((3, 4)))
    (out / "summary.json").write_text(json.dumps({"steps": 3, "params": {"seed": 1234},
                                                  "le_mean_abs_error_after_learning": 0.1,
                                                  "no_prospective_mean_abs_error_after_learning": 0.3}))
    table, figures, notes = make_figures.make_figures([tmp_path], tmp_path / "fig")
    assert sorted(p.name for p in figures["fig2a"]) == ["fig2a.pdf", "fig2a.png"]
    assert fake_plots["fourier_synthesis.py"][0] == ["fig2a_fourier"]
    values = {r["metric"].split(":")[0]: r["mean"] for r in table}
    assert values == {"LE": 0.1, "no prospective": 0.3} and not notes


def _val_rows(errors):
    return [{"epoch": e, "split": "val", "loss": 0.1, "error": err, "accuracy": 100 - err, "wall_time": 1.0}
            for e, err in enumerate(errors)]


@pytest.fixture
def real_plots(monkeypatch):
    """The folders' own plot functions, with what each call returned recorded by plot file name."""
    returned = {}
    load = make_figures._load_plot

    def recording(plot_file):
        plot, problem = load(plot_file)
        if plot is None:
            return plot, problem

        def wrapped(run_dirs, out_path):
            result = plot(run_dirs, out_path)
            returned.setdefault(Path(plot_file).name, []).append(result)
            return result
        return wrapped, None

    monkeypatch.setattr(make_figures, "_load_plot", recording)
    return returned


def test_unreadable_runs_are_listed_and_every_readable_curve_is_plotted_in_full(tmp_path, real_plots, capsys):
    runs = tmp_path / "runs"
    curves = {1: [80, 40, 20, 10, 5], 2: [60, 20, 10], 3: [70, 30, 15, 6]}  # different lengths
    for seed, errors in curves.items():
        make_run(runs, F2B, "src/train.py", "2b_le", seed, final={"test_error": errors[-1]}, metrics=_val_rows(errors))
    make_run(runs, F2B, "src/train.py", "2b_fa", 1, final={"test_error": 3.0}, metrics=_val_rows([50, 25, 12, 3]))
    empty = make_run(runs, F2B, "src/train.py", "2b_le", 4, final={"test_error": 9.0}, metrics=_val_rows([90]))
    (empty / "metrics.csv").write_text("")
    bad = {5: "{garbage", 6: "[1, 2]", 7: json.dumps({"status": "completed", "final": "garbage"}),
           8: json.dumps({"final": {}})}
    for seed, text in bad.items():
        (make_run(runs, F2B, "src/train.py", "2b_le", seed, final={"test_error": 1.0}) / "summary.json").write_text(text)
    make_run(runs, F35, "src/run_bars.py", "bars_le_tpres_10", 1, final={"test_accuracy": "garbage", "test_loss": 0.1},
             config={"network": {"latent_eq": True, "t_pattern": 1.0, "dt": 0.1},
                     "training": {"bars_drop_last_pattern": True}})
    demo = runs / "fig2a_fourier"
    demo.mkdir()
    np.save(demo / "le.npy", np.zeros(3))
    np.save(demo / "no_prospective.npy", np.zeros(3))
    (demo / "summary.json").write_text("[]")
    out = tmp_path / "fig"
    assert make_figures.main([str(runs), "--out", str(out)]) == 0

    # the plot saw every readable 2b run and averaged each epoch over the seeds that reached it
    drawn = real_plots["plot_2b.py"][-1].series
    le = drawn["2b_le"]
    assert list(le["epochs"]) == [0, 1, 2, 3, 4] and list(le["n"]) == [3, 3, 3, 2, 1]
    assert le["mean"] == pytest.approx([70, 30, 15, 8, 5])
    assert le["std"][:3] == pytest.approx([10, 10, 5]) and np.isnan(le["std"][4])
    assert drawn["2b_fa"]["mean"] == pytest.approx([50, 25, 12, 3])
    assert sorted(p.name for p in (out).glob("fig2b.*")) == ["fig2b.pdf", "fig2b.png"]

    text = (out / "results.md").read_text()
    assert f"Run folders: 6 under {runs}. 7 could not be read; they are listed at the end." in text
    listed = text.split("## Run folders that could not be read")[1]
    assert f"- {empty}: metrics.csv is empty (left out of fig2b)" in listed
    assert f"- {runs / '2b_le' / 'seed5'}: summary.json: Expecting property name" in listed
    assert f"- {runs / '2b_le' / 'seed6'}: summary.json holds list, not a mapping" in listed
    assert f"- {runs / '2b_le' / 'seed7'}: summary.json 'final' is str, not a mapping" in listed
    assert f"- {runs / '2b_le' / 'seed8'}: summary.json has no status string (None)" in listed
    assert f"- {demo}: summary.json holds list, not a mapping" in listed
    assert "seed1: summary.json final has no number 'test_accuracy' ('garbage') (left out of fig3)" in listed
    # the table: 4 readable 2b_le runs (seed 4's summary is fine), no mean from a garbage value
    assert "| 2b_le | test error (%) | 7.50 ± 2.38 | 4 of 4 run, paper 10 |" in text
    assert "| bars_le_tpres_10 | test MSE | 0.1 | 1 of 1 run, paper 10 |" in text
    err = capsys.readouterr().err
    assert f"note: skipped {runs / '2b_le' / 'seed6'}: summary.json holds list" in err


def test_a_failing_per_run_figure_leaves_the_others(tmp_path, monkeypatch):
    for seed in (1, 2, 3):
        make_run(tmp_path, F35, "src/run_single_mc.py", "mimic_tpres_100", seed, final={"test_loss": 0.1 * seed})

    def load(plot_file):
        def plot(run_dir, out_path):
            if Path(run_dir).name == "seed2":
                raise KeyError("W_up_1")
            Path(out_path).write_text("figure")
        return plot, None

    monkeypatch.setattr(make_figures, "_load_plot", load)
    _, figures, notes = make_figures.make_figures([tmp_path], tmp_path / "fig")
    assert sorted(p.name for p in figures["fig5"]) == [
        f"fig5_mimic_tpres_100_seed{s}.{x}" for s in (1, 3) for x in ("pdf", "png")]
    failed = f"{tmp_path / 'mimic_tpres_100' / 'seed2'}: {F35}/plot_fig5.py failed: KeyError: 'W_up_1' (left out of fig5)"
    assert f"- {failed}" in (tmp_path / "fig" / "results.md").read_text() and notes == [f"skipped {failed}"]
