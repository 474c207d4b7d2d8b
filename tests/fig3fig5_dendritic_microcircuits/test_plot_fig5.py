"""plot_fig5 on a fabricated mimic run folder (the files run_single_mc.py writes): every axis that
shows data is labelled, the figure goes beside the run folder, and a named pipe in place of a file
it reads is refused in one line instead of blocking."""
import os
import shutil

import numpy as np

from fig3fig5_dendritic_microcircuits import plot_fig5
from tests.fig3fig5_dendritic_microcircuits.helpers import CONFIGS

T = 20  # recorded samples per trace


def _mimic_folder(path, selfpred=True):
    """The files plot_fig5 reads, with the keys run_single_mc.py records."""
    path.mkdir(parents=True)
    shutil.copy(CONFIGS / "mimic_tpres_100.yaml", path / "config.yaml")
    (path / "summary.json").write_text('{"status": "completed", "final": {}}')
    ramp = np.linspace(0, 1, T, dtype=np.float32)[:, None, None]  # (samples, 1, 1)
    traces = {k: ramp for k in ("layer_1_W_up", "layer_0_W_ip", "layer_0_W_down", "layer_0_W_pi", "layer_1_pyr_forw",
                                "layer_0_inn_forw", "layer_0_pyr_apical", "layer_0_W_up", "layer_0_pyr_forw",
                                "layer_0_pyr_basal")}
    traces["time"] = np.arange(T, dtype=np.float32)
    np.savez(path / "train_traces.npz", **traces)
    if selfpred:
        np.savez(path / "selfpred_traces.npz", **traces)
    np.savez(path / "teacher.npz", W_up_out=np.ones((1, 1)), W_up_1=np.ones((1, 1)), W_ip_1=np.ones((1, 1)))
    np.save(path / "val_mse.npy", np.geomspace(1e-1, 1e-7, 10))
    for name in ("eval_pretrain_test.npz", "eval_test.npz"):
        np.savez(path / name, u_out=ramp, u_tgt=ramp)
    return path


def test_every_axis_with_data_is_labelled_and_the_figure_goes_beside_the_run(tmp_path, monkeypatch, capsys):
    import matplotlib.figure

    run = _mimic_folder(tmp_path / "runs" / "mimic_tpres_100" / "seed12345")
    axes, real = [], matplotlib.figure.Figure.savefig

    def savefig(fig, *args, **kwargs):
        axes.extend((a.get_title(), a.get_xlabel(), a.get_ylabel()) for a in fig.axes if a.axison)
        return real(fig, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", savefig)
    assert plot_fig5.main([str(run)]) == 0
    out = run.parent / "fig5_seed12345.png"
    assert out.stat().st_size > 1000 and f"wrote {out}" in capsys.readouterr().out
    assert sorted(os.listdir(run)) == sorted(p.name for p in run.iterdir())  # nothing new in the run folder
    assert not (run / "fig5.png").exists()
    assert len(axes) == 8 and all(x and y for _, x, y in axes), axes
    axes.clear()
    plot_fig5.plot(_mimic_folder(tmp_path / "no_selfpred", selfpred=False), tmp_path / "f.png")
    assert len(axes) == 5 and all(x and y for _, x, y in axes), axes  # the empty (a) panels are switched off


def test_a_named_pipe_in_place_of_a_trace_is_refused_in_one_line(tmp_path, capsys):
    run = _mimic_folder(tmp_path / "run")
    (run / "train_traces.npz").unlink()
    os.mkfifo(run / "train_traces.npz")
    assert plot_fig5.main([str(run), "--out", str(tmp_path / "f.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {run / 'train_traces.npz'} is a named pipe, not a regular file: not read"]
