"""plot_2cde: groups completed runs by (task, model), mean and ddof=1 std over seeds in percent, skips
run folders it cannot read, writes a figure."""
import json

import numpy as np
import pytest
import yaml

from fig2cde_higgs_mnist_cifar10.plot_2cde import main, plot


def _run(root, task, model, seed, error, status="completed", **keys):
    d = root / f"{task}_{model}{'_' + '_'.join(keys.values()) if keys else ''}" / f"seed{seed}"
    d.mkdir(parents=True)
    (d / "config.yaml").write_text(yaml.safe_dump({"task": task, "model": model, "seed": seed, **keys}))
    final = {"test_error": error} if status == "completed" else {}
    (d / "summary.json").write_text(json.dumps({"status": status, "final": final}))
    return d


def test_groups_mean_std_and_figure(tmp_path):
    dirs = [_run(tmp_path, "mnist", "le", s, e) for s, e in ((1, 1.0), (2, 2.0), (3, 3.0))]
    dirs += [_run(tmp_path, "mnist", "bp", 1, 5.0), _run(tmp_path, "higgs", "le", 1, 30.0, "interrupted")]
    out = tmp_path / "fig" / "f.png"
    drawn = plot(dirs, out)
    assert sorted(drawn.series) == [("mnist", "bp"), ("mnist", "le")]
    mean, std, n = drawn.series[("mnist", "le")]
    assert (mean, n) == (pytest.approx(2.0), 3)  # percent, as recorded
    assert std == pytest.approx(np.std([1.0, 2.0, 3.0], ddof=1))
    assert np.isnan(drawn.series[("mnist", "bp")][1])  # one seed: no std
    assert not drawn.skipped and out.stat().st_size > 1000


def test_unreadable_runs_are_skipped_and_named(tmp_path, capsys):
    _run(tmp_path, "mnist", "le", 1, 2.0)
    (_run(tmp_path, "mnist", "le", 2, 4.0) / "summary.json").write_text('{"status": "completed", "final": "x"}')
    _run(tmp_path, "cifar10", "le", 1, "garbage")
    assert main([str(tmp_path), "--out", str(tmp_path / "f.png")]) == 0
    out, err = capsys.readouterr()
    assert "mnist    le: test error 2.00 % (n=1, ddof=1)" in out and "cifar10" not in out
    assert "mnist_le/seed2: summary.json 'final' is str" in err
    assert "cifar10_le/seed1: summary.json final has no number 'test_error'" in err


def test_update_matched_baseline_has_its_own_bar(tmp_path):
    """bp_baseline update_matched runs form the bp_matched group; the authors' BP (with the key or
    from before it existed) stays bp."""
    dirs = [_run(tmp_path, "mnist", "bp", 1, 60.0, bp_baseline="authors"), _run(tmp_path, "mnist", "bp", 2, 62.0),
            _run(tmp_path, "mnist", "bp", 1, 9.0, bp_baseline="update_matched"),
            _run(tmp_path, "mnist", "le", 1, 8.0)]
    drawn = plot(dirs, tmp_path / "f.png")
    assert {k: v[0] for k, v in drawn.series.items()} == \
        {("mnist", "bp"): pytest.approx(61.0), ("mnist", "bp_matched"): 9.0, ("mnist", "le"): 8.0}
