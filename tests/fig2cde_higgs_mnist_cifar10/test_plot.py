"""plot_2cde: groups completed runs by (task, model), mean and ddof=1 std over seeds, writes a figure."""
import json

import numpy as np
import pytest
import yaml

from fig2cde_higgs_mnist_cifar10.plot_2cde import collect, plot, stats


def _run(root, task, model, seed, error, status="completed"):
    d = root / f"{task}_{model}" / f"seed{seed}"
    d.mkdir(parents=True)
    (d / "config.yaml").write_text(yaml.safe_dump({"task": task, "model": model, "seed": seed}))
    final = {"test_error": error} if status == "completed" else {}
    (d / "summary.json").write_text(json.dumps({"status": status, "final": final}))
    return d


def test_groups_mean_std_and_figure(tmp_path):
    dirs = [_run(tmp_path, "mnist", "le", s, e) for s, e in ((1, 0.01), (2, 0.02), (3, 0.03))]
    dirs += [_run(tmp_path, "mnist", "bp", 1, 0.05), _run(tmp_path, "higgs", "le", 1, 0.3, "interrupted")]
    groups = collect(dirs)
    assert sorted(groups) == [("mnist", "bp"), ("mnist", "le")]
    mean, std, n = stats(groups[("mnist", "le")])
    assert (mean, n) == (pytest.approx(0.02), 3)
    assert std == pytest.approx(np.std([0.01, 0.02, 0.03], ddof=1))
    assert stats(groups[("mnist", "bp")])[1] == 0.0
    out = tmp_path / "fig" / "f.png"
    plot(dirs, out)
    assert out.stat().st_size > 1000
