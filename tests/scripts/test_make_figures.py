"""scripts/make_figures.py on fabricated run folders: panel selection, status marking, mean ± std."""
import sys
from pathlib import Path

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
    assert "| 2b_le | test error (%) | 4 ± 2.6 | 3 of 5 run, paper 10 |" in text
    assert "## Fig. 4a" in text and "No runs found: panel not drawn." in text
    assert not notes


def test_missing_plot_module_is_reported(tmp_path, monkeypatch):
    make_run(tmp_path, F2B, "src/train.py", "4c_params", 1, final={"test_error": 5.0})
    monkeypatch.setattr(make_figures, "REPO", tmp_path)  # no plot files there
    table, figures, _ = make_figures.make_figures([tmp_path], tmp_path / "fig")
    assert figures["fig4c"] == [] and table[0]["ours"] == "5"
    assert "not drawn (fig2b_fig4ac_mnist/plot_4c.py does not exist)" in (tmp_path / "fig" / "results.md").read_text()


def test_stray_runs_are_noted(tmp_path, fake_plots):
    make_run(tmp_path, F2B, "src/train.py", "smoke", 1, final={"test_error": 5.0})
    _, figures, notes = make_figures.make_figures([tmp_path], tmp_path / "fig")
    assert not figures and len(notes) == 1 and "smoke" in notes[0]


def test_fourier_outputs_are_found(tmp_path, fake_plots):
    import json
    import numpy as np
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
