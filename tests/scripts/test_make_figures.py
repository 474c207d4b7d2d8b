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
    assert ("## Fig. 4a" in text and f"No runs found under {tmp_path / 'runs'}: panel not drawn. "
            "Its runs: `bash fig2b_fig4ac_mnist/4a_jobs.sh`" in text)
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


# ---------------------------------------------------------------- what the outputs say must be true
def _texts(fig):
    """Every text of a figure: titles, axis labels, tick labels, notes and legend entries."""
    texts = [fig._suptitle.get_text() if fig._suptitle else ""] + [t.get_text() for t in fig.texts]
    for ax in fig.axes:
        texts += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()] + [t.get_text() for t in ax.texts]
        texts += [t.get_text() for t in ax.get_xticklabels()]
        if ax.get_legend():
            texts += [t.get_text() for t in ax.get_legend().get_texts()]
    return texts


@pytest.fixture
def saved(monkeypatch):
    """{file name: texts of the figure saved there} for every figure saved during the test."""
    import matplotlib.figure

    texts, real = {}, matplotlib.figure.Figure.savefig

    def savefig(fig, path, *args, **kwargs):
        texts[Path(path).name] = _texts(fig)
        return real(fig, path, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", savefig)
    return texts


def _fc(root, stem, seed, data, status="completed", error=10.0, summary=None):
    """A fully connected run whose config.yaml says `dataset: data` (summary.json: `summary`)."""
    return make_run(root, F2B, "src/train.py", stem, seed, status=status,
                    final={"test_error": error} if status == "completed" else {},
                    config={"dt": 0.1, "n_updates": 10, "tau_s": 0.0, "dataset": data},
                    metrics=_val_rows([80, 40, error]), extra_summary=summary)


def test_the_data_set_each_run_used_is_named_and_a_stand_in_is_marked(tmp_path, saved):
    """Source of truth: what the run recorded (summary.json, else config.yaml), never the panel's name."""
    runs = tmp_path / "runs"
    _fc(runs, "2b_le", 1, "fashion_mnist", summary={"dataset": "fashion_mnist"})
    _fc(runs, "2b_le", 2, "fashion_mnist")                    # no summary record: config.yaml says it
    _fc(runs, "4c_dt0.1_taus0.0_n10", 1, "mnist", summary={"dataset": "mnist"})
    out = tmp_path / "fig"
    table, _, _ = make_figures.make_figures([runs], out)
    text = (out / "results.md").read_text()
    fig2b = text.split("## Fig. 2b")[1].split("\n## ")[0]
    assert fig2b.startswith(": MNIST error vs epoch — on Fashion-MNIST (stand-in for MNIST)\n")
    assert "**Stand-in data** in 2 of 2 runs" in fig2b and "python scripts/fetch_data.py mnist" in fig2b
    assert "| setting | data | metric |" in fig2b
    assert "| 2b_le | Fashion-MNIST (stand-in for MNIST) | test error (%) | 10.00 ± 0.00 |" in fig2b
    fig4c = text.split("## Fig. 4c")[1].split("\n## ")[0]
    assert "stand-in" not in fig4c.lower() and "Data (as the runs recorded it): MNIST." in fig4c
    assert "| 4c_dt0.1_taus0.0_n10 | MNIST | test error (%) |" in fig4c
    assert {r["panel"]: r["data"] for r in table} == {"fig2b": "Fashion-MNIST (stand-in for MNIST)",
                                                      "fig4c": "MNIST"}
    assert "Fig. 2b on Fashion-MNIST (stand-in for MNIST):" in saved["fig2b.png"][1]
    assert any(t.startswith("Fig. 4c on MNIST:") for t in saved["fig4c.png"])


def test_skipped_panels_say_why_and_how_to_get_the_data(tmp_path, monkeypatch):
    """reproduce.py hands the reasons of the parts it skipped to results.md (offline: no data)."""
    import plan_quick
    import reproduce

    no_data = {"mnist": False, "fashion_mnist": False, "cifar10": False, "higgs": False}
    _, skipped, _ = plan_quick.quick_steps(no_data, tmp_path / "runs")
    why = reproduce.not_run(skipped)
    assert set(why) == {"fig2b", "fig4a", "fig4c", "fig2cde"} and len(why["fig2cde"]) == 3
    make_run(tmp_path / "runs", F35, "src/run_bars.py", "bars_le_tpres_10", 1,
             final={"test_accuracy": 100.0, "test_loss": 0.01})
    make_figures.make_figures([tmp_path / "runs"], tmp_path / "fig", not_run=why)
    text = (tmp_path / "fig" / "results.md").read_text()
    for panel, command in (("Fig. 2b", "fetch_data.py mnist"), ("Fig. 4a", "fetch_data.py mnist"),
                           ("Fig. 2c-e", "fetch_data.py higgs"), ("Fig. 2c-e", "fetch_data.py cifar10")):
        section = text.split(f"## {panel}")[1].split("\n## ")[0]
        assert "Not run: " in section and command in section and "No runs found" not in section
    assert "fig2c (HIGGS): higgs not found" in text


def test_impossible_metrics_are_left_out_with_a_note(tmp_path, fake_plots):
    for seed, err in [(1, 2.0), (2, 4.0), (3, 1e308), (4, -5.0)]:
        make_run(tmp_path, F2B, "src/train.py", "2b_le", seed, final={"test_error": err})
    for seed, mse in [(1, 0.1), (2, -0.2), (3, 0.3)]:
        make_run(tmp_path, F35, "src/run_bars.py", "bars_le_tpres_10", seed,
                 final={"test_accuracy": 100.0, "test_loss": mse})
    table, _, _ = make_figures.make_figures([tmp_path], tmp_path / "fig")
    rows = {(r["setting"], r["metric"]): r for r in table}
    le = rows[("2b_le", "test error (%)")]
    assert (le["mean"], le["n"]) == (pytest.approx(3.0), 2)
    assert "left out: seed 3: test_error = 1e+308 is outside 0-100 %" in le["other"]
    assert "left out: seed 4: test_error = -5 is outside 0-100 %" in le["other"]
    mse = rows[("bars_le_tpres_10", "test MSE")]
    assert (mse["mean"], mse["n"]) == (pytest.approx(0.2), 2) and "seed 2: test_loss = -0.2 is negative" in mse["other"]
    text = (tmp_path / "fig" / "results.md").read_text()
    assert "inf" not in text and "e+30" not in text.replace("1e+308 is outside", "")


def test_diverged_runs_are_named_in_the_figure_and_the_table(tmp_path, saved):
    runs = tmp_path / "runs"
    _fc(runs, "2b_le", 1, "mnist")
    _fc(runs, "2b_big_tau", 69, "mnist", status="diverged", summary={"diverged_epoch": 2})
    table, figures, _ = make_figures.make_figures([runs], tmp_path / "fig")
    assert "not drawn: 2b_big_tau: 1 diverged (seed 69, epoch 2)" in saved["fig2b.png"]
    big = next(r for r in table if r["setting"] == "2b_big_tau")
    assert big["ours"] == "—" and big["other"] == "1 diverged (seed 69, epoch 2)"


def test_results_md_lists_exactly_the_figures_written(tmp_path, real_plots):
    runs = tmp_path / "runs"
    _fc(runs, "2b_le", 1, "mnist")
    make_run(runs, F35, "src/run_bars.py", "bars_le_tpres_10", 1, final={"test_accuracy": 100.0, "test_loss": 0.01},
             config={"network": {"latent_eq": True, "t_pattern": 1.0, "dt": 0.1},
                     "training": {"bars_drop_last_pattern": True}})
    for formats in (("png",), ("png", "pdf")):
        out = tmp_path / "-".join(formats)
        assert make_figures.main([str(runs), "--out", str(out), "--formats", ",".join(formats)]) == 0
        listed = [name for line in (out / "results.md").read_text().splitlines() if line.startswith("Figure: ")
                  for name in line.removeprefix("Figure: ").split(", ")]
        assert sorted(listed) == sorted(p.name for p in out.iterdir() if p.name != "results.md")
        assert sorted(listed) == sorted(f"{f}.{x}" for f in ("fig2b", "fig3") for x in formats)


def test_the_published_results_list_only_files_that_are_there():
    docs = REPO / "docs" / "results"
    listed = [name for line in (docs / "results.md").read_text().splitlines() if line.startswith("Figure: ")
              for name in line.removeprefix("Figure: ").split(", ")]
    assert listed and all((docs / name).is_file() for name in listed), listed


def test_no_run_folders_is_refused_in_one_line(tmp_path, capsys):
    assert make_figures.main([str(tmp_path), "--out", str(tmp_path / "fig")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no run folders under" in err[0] and not (tmp_path / "fig").exists()


PLOTS = {"make_figures": [sys.executable, str(REPO / "scripts" / "make_figures.py")],
         "plot_2b": [sys.executable, str(REPO / F2B / "plot_2b.py")],
         "plot_4a": [sys.executable, str(REPO / F2B / "plot_4a.py")],
         "plot_2cde": [sys.executable, str(REPO / "fig2cde_higgs_mnist_cifar10" / "plot_2cde.py")],
         "plot_fig3": [sys.executable, str(REPO / F35 / "plot_fig3.py")]}


@pytest.mark.parametrize("name", sorted(PLOTS))
def test_named_pipes_and_sockets_are_skipped_never_read(tmp_path, name):
    """A named pipe where a reader expects summary.json, config.yaml or metrics.csv, and a socket:
    each is named and skipped, and the command finishes (opening a pipe would block forever)."""
    import os
    import socket
    import subprocess

    runs = tmp_path / "runs"
    _fc(runs, "2b_le", 1, "mnist")
    _fc(runs, "4a_exact_dt0.1", 1, "mnist")
    make_run(runs, "fig2cde_higgs_mnist_cifar10", "train.py", "mnist_le", 1, final={"test_error": 5.0},
             config={"task": "mnist", "model": "le", "dataset": "mnist"})
    make_run(runs, F35, "src/run_bars.py", "bars_le_tpres_10", 1, final={"test_accuracy": 100.0, "test_loss": 0.01},
             config={"network": {"latent_eq": True, "t_pattern": 1.0, "dt": 0.1},
                     "training": {"bars_drop_last_pattern": True}})
    pipes = [runs / "2b_le" / "seed2", runs / "2b_le" / "seed3", runs / "2b_le" / "seed4"]
    for folder, pipe in zip(pipes, ("summary.json", "config.yaml", "metrics.csv")):
        _fc(runs, "2b_le", int(folder.name[-1]), "mnist")
        (folder / pipe).unlink()
        os.mkfifo(folder / pipe)
    os.mkfifo(runs / "stray_pipe")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(runs / "a.sock"))
    try:
        res = subprocess.run(PLOTS[name] + [str(runs), "--out", str(tmp_path / ("fig" if name == "make_figures"
                                                                                  else "fig.png"))],
                             capture_output=True, text=True, timeout=120, cwd=REPO)
    finally:
        sock.close()
    assert res.returncode == 0, res.stderr
    for path in (runs / "stray_pipe", runs / "a.sock", pipes[0] / "summary.json", pipes[1] / "config.yaml"):
        assert f"{path}: a {'socket' if path.suffix == '.sock' else 'named pipe'}, not a regular file" in res.stderr
    if name in ("make_figures", "plot_2b"):
        assert f"{pipes[2]}: metrics.csv is a named pipe, not a regular file" in res.stderr


def test_real_runs_record_their_data_set_and_every_output_names_it(tmp_path, saved):
    """Smoke runs of the fc and the LeNet entry scripts on synthetic data: summary.json records the data
    set, and results.md and the figure titles mark it as a stand-in for MNIST."""
    import json
    import subprocess

    runs = tmp_path / "runs"
    env = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    for argv in ([str(REPO / F2B / "src" / "train.py"), str(REPO / F2B / "configs" / "smoke.yaml"), "epoch_qty=2",
                  "--out", str(runs / "2b_le" / "seed1")],
                 [str(REPO / "fig2cde_higgs_mnist_cifar10" / "train.py"),
                  str(REPO / "fig2cde_higgs_mnist_cifar10" / "configs" / "smoke_mnist_le.yaml"), "epochs=1",
                  "--out", str(runs / "mnist_le" / "seed1")]):
        res = subprocess.run([sys.executable, *argv], capture_output=True, text=True, timeout=300, cwd=REPO, env=env)
        assert res.returncode == 0, res.stdout + res.stderr
    for stem in ("2b_le", "mnist_le"):
        assert json.loads((runs / stem / "seed1" / "summary.json").read_text())["dataset"] == "synthetic"
    make_figures.make_figures([runs], tmp_path / "fig", formats=("png",))
    text = (tmp_path / "fig" / "results.md").read_text()
    assert "## Fig. 2b: MNIST error vs epoch — on synthetic smoke data (stand-in for MNIST)" in text
    assert "| mnist_le | synthetic smoke data (stand-in for MNIST) | test error (%) |" in text
    assert any(t.startswith("Fig. 2b on synthetic smoke data (stand-in for MNIST):") for t in saved["fig2b.png"])
    assert "d: synthetic smoke data (stand-in for MNIST) (LeNet-5)" in saved["fig2cde.png"]


def test_a_per_run_figure_whose_folder_holds_a_pipe_is_not_drawn(tmp_path):
    """The Fig. 2a plot reads config.yaml and the traces of its folder: with a pipe among them the
    folder is named and left out, and assembly finishes."""
    import os
    import subprocess

    demo = tmp_path / "runs" / "fig2a_fourier"
    demo.mkdir(parents=True)
    for name in ("le", "no_prospective"):
        np.save(demo / f"{name}.npy", np.zeros((3, 4)))
    (demo / "summary.json").write_text(json.dumps({"params": {"seed": 1}, "le_mean_abs_error_after_learning": 0.1,
                                                   "no_prospective_mean_abs_error_after_learning": 0.3}))
    os.mkfifo(demo / "config.yaml")
    res = subprocess.run([sys.executable, str(REPO / "scripts" / "make_figures.py"), str(tmp_path / "runs"),
                          "--out", str(tmp_path / "fig")], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert res.returncode == 0, res.stderr
    assert f"{demo}: holds config.yaml, not regular files: not drawn (left out of fig2a)" in res.stderr
    assert "| fig2a_fourier | LE: mean abs(target - output) after learning | 0.1 |" in \
        (tmp_path / "fig" / "results.md").read_text()
