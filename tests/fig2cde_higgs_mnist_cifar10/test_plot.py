"""plot_2cde: groups completed runs by (task, data set, model), mean and ddof=1 std over seeds in
percent, compares LE with the update-matched BP baseline, names the data set the runs recorded, says
in an empty panel why it is empty, skips run folders it cannot read, refuses to run without runs."""
import json

import numpy as np
import pytest
import yaml

from fig2cde_higgs_mnist_cifar10.plot_2cde import main, plot


def _run(root, task, model, seed, error, status="completed", dataset=None, **keys):
    d = root / f"{task}_{model}{'_' + '_'.join(keys.values()) if keys else ''}_{dataset or task}" / f"seed{seed}"
    d.mkdir(parents=True)
    cfg = {"task": task, "model": model, "seed": seed, "dataset": dataset or task, **keys}
    (d / "config.yaml").write_text(yaml.safe_dump(cfg))
    final = {"test_error": error} if status == "completed" else {}
    (d / "summary.json").write_text(json.dumps({"status": status, "final": final, "diverged_epoch": 1}))
    return d


@pytest.fixture
def texts(monkeypatch):
    """The texts of the last figure drawn: {axes title: [texts in and around those axes]}, "" for the figure's."""
    import matplotlib.figure

    got, real = {}, matplotlib.figure.Figure.savefig

    def savefig(fig, path, *args, **kwargs):
        got.clear()
        got[""] = [fig._suptitle.get_text()] + [t.get_text() for t in fig.texts]
        for ax in fig.axes:
            got[ax.get_title()] = ([ax.get_xlabel(), ax.get_ylabel()] + [t.get_text() for t in ax.texts]
                                   + [t.get_text() for t in ax.get_xticklabels()])
        return real(fig, path, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", savefig)
    return got


def test_groups_mean_std_and_figure(tmp_path):
    dirs = [_run(tmp_path, "mnist", "le", s, e) for s, e in ((1, 1.0), (2, 2.0), (3, 3.0))]
    dirs += [_run(tmp_path, "mnist", "bp", 1, 5.0), _run(tmp_path, "higgs", "le", 1, 30.0, "interrupted")]
    out = tmp_path / "fig" / "f.png"
    drawn = plot(dirs, out)
    assert sorted(drawn.series) == [("mnist", "MNIST", "bp"), ("mnist", "MNIST", "le")]
    mean, std, n = drawn.series[("mnist", "MNIST", "le")]
    assert (mean, n) == (pytest.approx(2.0), 3)  # percent, as recorded
    assert std == pytest.approx(np.std([1.0, 2.0, 3.0], ddof=1))
    assert np.isnan(drawn.series[("mnist", "MNIST", "bp")][1])  # one seed: no std
    assert not drawn.skipped and out.stat().st_size > 1000


def test_unreadable_runs_are_skipped_and_named(tmp_path, capsys):
    _run(tmp_path, "mnist", "le", 1, 2.0)
    (_run(tmp_path, "mnist", "le", 2, 4.0) / "summary.json").write_text('{"status": "completed", "final": "x"}')
    _run(tmp_path, "cifar10", "le", 1, "garbage")
    _run(tmp_path, "cifar10", "le", 2, 1e308)
    assert main([str(tmp_path), "--out", str(tmp_path / "f.png")]) == 0
    out, err = capsys.readouterr()
    assert "mnist    le on MNIST: test error 2.00 % (n=1, ddof=1)" in out and "cifar10" not in out
    assert "mnist_le_mnist/seed2: summary.json 'final' is str" in err
    assert "cifar10_le_cifar10/seed1: summary.json final has no number 'test_error'" in err
    assert "cifar10_le_cifar10/seed2: summary.json final 'test_error' = 1e+308 is outside 0-100 %" in err


def test_le_is_compared_with_the_update_matched_baseline_beside_the_authors_bp(tmp_path, texts):
    """bp_baseline update_matched runs form the bp_matched bar, labelled so; the authors' BP (with the
    key or from before it existed) stays bp, labelled as the authors'."""
    dirs = [_run(tmp_path, "mnist", "bp", 1, 60.0, bp_baseline="authors"), _run(tmp_path, "mnist", "bp", 2, 62.0),
            _run(tmp_path, "mnist", "bp", 1, 9.0, bp_baseline="update_matched"),
            _run(tmp_path, "mnist", "le", 1, 8.0)]
    drawn = plot(dirs, tmp_path / "f.png")
    assert {k: v[0] for k, v in drawn.series.items()} == \
        {("mnist", "MNIST", "bp"): pytest.approx(61.0), ("mnist", "MNIST", "bp_matched"): 9.0,
         ("mnist", "MNIST", "le"): 8.0}
    assert texts["d: MNIST (LeNet-5)"][-3:] == ["LE", "BP\nupdate-matched", "BP\n(authors')"]


def test_stand_in_data_is_named_and_empty_panels_say_why(tmp_path, texts):
    _run(tmp_path, "mnist", "le", 1, 30.0, dataset="synthetic")
    _run(tmp_path, "mnist", "bp", 1, 40.0, dataset="synthetic", bp_baseline="update_matched")
    _run(tmp_path, "cifar10", "le", 1, None, status="diverged")
    drawn = plot([tmp_path], tmp_path / "f.png")
    assert set(drawn.series) == {("mnist", "synthetic smoke data (stand-in for MNIST)", "le"),
                                 ("mnist", "synthetic smoke data (stand-in for MNIST)", "bp_matched")}
    assert "d: synthetic smoke data (stand-in for MNIST) (LeNet-5)" in texts
    higgs = " ".join(texts["c: HIGGS"])
    assert "no HIGGS runs in these run folders" in higgs and "python scripts/fetch_data.py higgs" in higgs
    assert "no completed CIFAR-10 runs:\n1 diverged (seed 1, epoch 1)" in texts["e: CIFAR-10 (LeNet-5)"]
    assert "not drawn: cifar10_le_cifar10: 1 diverged (seed 1, epoch 1)" in texts[""]


def test_no_runs_is_refused_in_one_line_and_the_figure_goes_beside_the_runs(tmp_path, capsys):
    assert main([str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no Fig. 2c-e run folders" in err[0] and not list(tmp_path.iterdir())
    _run(tmp_path / "runs", "mnist", "le", 1, 2.0)
    assert main([str(tmp_path / "runs")]) == 0
    assert (tmp_path / "runs" / "fig2cde.png").is_file()
