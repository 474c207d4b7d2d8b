"""plot_fig3 on fabricated bars run folders: mean ± std (ddof = 1) per (variant, N) over completed
seeds, incomplete runs listed by seed, unreadable folders skipped and named."""
import json

import numpy as np
import yaml

from fig3fig5_dendritic_microcircuits import plot_fig3


def _bars_run(root, latent_eq, steps, seed, status="completed", final=None, **extra):
    d = root / f"bars_{'le' if latent_eq else 'orig'}_tpres_{steps}" / f"seed{seed}"
    d.mkdir(parents=True)
    cfg = {"network": {"latent_eq": latent_eq, "t_pattern": steps * 0.1, "dt": 0.1},
           "training": {"bars_drop_last_pattern": True, "seed": seed}}
    (d / "config.yaml").write_text(yaml.safe_dump(cfg))
    (d / "summary.json").write_text(json.dumps({"status": status, "final": final or {}, **extra}))
    return d


def test_table_stats_statuses_and_skipped(tmp_path, capsys):
    for seed, acc, mse in ((1, 100.0, 0.01), (2, 75.0, 0.03), (3, 50.0, 0.05)):
        _bars_run(tmp_path, True, 10, seed, final={"test_accuracy": acc, "test_loss": mse})
    _bars_run(tmp_path, True, 10, 4, status="diverged", diverged_epoch=7)
    _bars_run(tmp_path, False, 10, 1, final={"test_accuracy": 37.5, "test_loss": 0.2})
    _bars_run(tmp_path, False, 10, 2, final="garbage")
    _bars_run(tmp_path, False, 3, 1, final={"test_accuracy": "nan?", "test_loss": 0.2})
    drawn = plot_fig3.plot(tmp_path, tmp_path / "fig3.png")
    e = drawn.series[("le", 10)]
    assert e["acc"] == [100.0, 75.0, 50.0] and e["seeds"] == [1, 2, 3] and len(e["runs"]) == 4
    assert list(drawn.series) == [("le", 10), ("orig", 10)]  # the N = 3 run could not be read
    assert sorted(line.split(": ")[0].rsplit("/", 2)[1] for line in drawn.skipped) == [
        "bars_orig_tpres_10", "bars_orig_tpres_3"]
    table = plot_fig3.markdown(drawn.series)
    std = np.std([100.0, 75.0, 50.0], ddof=1)
    assert f"| 10 | le | 3 | 75.00 ± {std:.2f} | 0.03 ± 0.02 | 1 diverged (seed 4, epoch 7) |" in table
    assert "| 10 | orig | 1 | 37.50 | 0.2 | — |" in table
    assert plot_fig3.main([str(tmp_path), "--out", str(tmp_path / "f.png"), "--table"]) == 0
    err = capsys.readouterr().err
    assert "bars_orig_tpres_10/seed2: summary.json 'final' is str, not a mapping" in err
    assert "bars_orig_tpres_3/seed1: summary.json final has no number 'test_accuracy'" in err



def test_no_runs_refused_figure_beside_the_runs_and_unfinished_runs_named(tmp_path, capsys, monkeypatch):
    import matplotlib.figure

    assert plot_fig3.main([str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no bars run folders" in err[0] and not list(tmp_path.iterdir())
    runs = tmp_path / "runs"
    _bars_run(runs, True, 3, 1, final={"test_accuracy": 37.5, "test_loss": 0.3})
    _bars_run(runs, True, 3, 2, final={"test_accuracy": 50.0, "test_loss": -0.1})   # impossible MSE: left out
    _bars_run(runs, True, 3, 3, status="diverged", diverged_epoch=2)
    notes, real = [], matplotlib.figure.Figure.savefig
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig",
                        lambda fig, *a, **k: notes.extend(t.get_text() for t in fig.texts) or real(fig, *a, **k))
    assert plot_fig3.main([str(runs), "--table"]) == 0
    out, err = capsys.readouterr()
    assert (runs / "fig3.png").stat().st_size > 1000 and f"wrote {runs / 'fig3.png'}" in out
    assert "| 3 | le | 1 | 37.50 | 0.3 | 1 diverged (seed 3, epoch 2) |" in out
    assert "seed2: summary.json final 'test_loss' = -0.1 is negative: left out" in err
    assert notes[-1] == "not drawn: bars_le_tpres_3: 1 diverged (seed 3, epoch 2)"
