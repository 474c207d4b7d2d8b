"""Entry scripts: train/eval/sweep run folders, resume, divergence, job script, figure scripts."""
import csv
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import yaml

from common.rungroup import RunGroup
from fig3fig5_dendritic_microcircuits import plot_fig3, plot_fig5
from fig3fig5_dendritic_microcircuits.src import bars_train, run_bars, run_single_mc

from .helpers import CONFIGS, FOLDER

SMOKE = CONFIGS / "smoke_bars.yaml"
REPO = FOLDER.parent


def rows(run_dir, drop=("wall_time",)):
    with open(run_dir / "metrics.csv") as f:
        return [{k: v for k, v in r.items() if k not in drop} for r in csv.DictReader(f)]


def summary(run_dir):
    return json.loads((run_dir / "summary.json").read_text())


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("smoke") / "run"
    assert run_bars.main(["train", str(SMOKE), "--out", str(out)]) == 0
    return out


def test_train_writes_run_folder_with_bookkeeping(smoke_run):  # docs/model/fig3fig5_dendritic_microcircuits.md §10 test 13
    s = summary(smoke_run)
    assert s["status"] == "completed"
    r = rows(smoke_run)
    val = [x for x in r if x["split"] == "val"]
    assert [int(x["epoch"]) for x in val] == [1, 2, 3]
    assert [int(x["patterns_seen"]) for x in val] == [8, 16, 24]
    test = [x for x in r if x["split"] == "test"][0]
    assert float(test["loss"]) == pytest.approx(s["final"]["test_loss"])
    assert float(test["accuracy"]) == s["final"]["test_accuracy"]
    assert s["steps"] == 3 * 16 * 10 + 2 * 8 * 10
    N, c = 10, 2                                                         # record_dt 0.2 / dt 0.1
    (tr,) = list((smoke_run / "traces").glob("*.npz"))
    with np.load(tr) as z:
        assert z["layer_0_pyr_apical"].shape == (3 * 16 * N // c, 30)
        assert z["layer_1_pyr_soma"].shape == (3 * 16 * N // c, 3)
    with np.load(smoke_run / "eval_test.npz") as z:
        assert z["u_out"].shape == (8 * N // c, 3) and z["out"].shape == (8, 3)
    for name in ("weights_pre.npz", "weights_post.npz"):
        with np.load(smoke_run / name, allow_pickle=False) as z:
            assert "W_up_out" in z.files


def test_eval_reproduces_stored_test_metrics_and_plots(smoke_run, capsys):
    before = dict(np.load(smoke_run / "eval_test.npz"))
    assert run_bars.main(["eval", str(smoke_run)]) == 0
    out = capsys.readouterr().out
    assert out.count("matches the stored metrics") == 2
    after = dict(np.load(smoke_run / "eval_test.npz"))
    assert np.array_equal(before["out"], after["out"])
    for name in ("bars_train_val_acc.png", "bars_eval_train_u_out.png", "bars_eval_test_u_out.png"):
        assert (smoke_run / name).stat().st_size > 1000


def _orig_smoke(tmp_path):
    """The smoke config without LE, recording other traces (as the paper's N = 500 configs do)."""
    cfg = yaml.safe_load(SMOKE.read_text())
    cfg["network"]["latent_eq"] = False
    cfg["training"]["recorded_quants"] = [["inn_soma", "W_up", "W_ip"], ["pyr_soma", "W_up"]]
    path = tmp_path / "smoke_orig.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_sweep_and_train_agree_on_a_run(tmp_path):
    orig = _orig_smoke(tmp_path)
    code = run_bars.main(["sweep", str(SMOKE), str(orig), "--seeds", "7-8", "--root",
                          str(tmp_path / "sweep"), "training.n_epochs=2"])
    assert code == 0
    for stem in ("smoke_bars", "smoke_orig"):
        for seed in (7, 8):
            assert summary(tmp_path / "sweep" / stem / f"seed{seed}")["status"] == "completed"
    for config, stem in ((orig, "smoke_orig"), (SMOKE, "smoke_bars")):
        single = tmp_path / f"single_{stem}"
        assert run_bars.main(["train", str(config), "--seed", "8", "--out", str(single),
                              "training.n_epochs=2"]) == 0
        swept = tmp_path / "sweep" / stem / "seed8"
        assert rows(single) == rows(swept)
        (trace,) = [p.relative_to(single) for p in single.glob("traces/*.npz")]
        for name in ("weights_post.npz", "eval_test.npz", trace):   # each with its own traces
            a, b = np.load(single / name), np.load(swept / name)
            assert a.files == b.files and all(np.array_equal(a[k], b[k]) for k in a.files)


def test_interrupted_run_resumes_to_identical_metrics(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bars_train, "STEPS_PER_BLOCK", 1)                  # one epoch per block
    full = tmp_path / "full"
    assert run_bars.main(["train", str(SMOKE), "--out", str(full)]) == 0
    calls = {"n": 0}

    def stop_after_first_block(self):          # checked before each engine call
        calls["n"] += 1
        return signal.SIGTERM if calls["n"] == 2 else None

    monkeypatch.setattr(RunGroup, "stop_signal", stop_after_first_block)
    part = tmp_path / "part"
    assert run_bars.main(["train", str(SMOKE), "--out", str(part)]) == 128 + signal.SIGTERM
    assert summary(part)["status"] == "interrupted"
    assert len(rows(part)) == 1 and (part / "checkpoint.pt").is_file()
    assert run_bars.main(["train", str(SMOKE), "--out", str(part)]) == 0
    assert summary(part)["status"] == "completed"
    assert rows(part) == rows(full)
    a, b = np.load(full / "weights_post.npz"), np.load(part / "weights_post.npz")
    assert all(np.array_equal(a[k], b[k]) for k in a.files)
    capsys.readouterr()
    assert run_bars.main(["train", str(SMOKE), "--out", str(part)]) == 0   # completed: not rerun
    assert "already completed" in capsys.readouterr().out


def test_runaway_voltages_end_with_status_diverged(tmp_path):
    out = tmp_path / "div"
    code = run_bars.main(["train", str(SMOKE), "--out", str(out), "training.init_selfpred=false",
                          "network.init_weights.down=1000", "network.init_weights.pi=1000"])
    assert code == 0
    s = summary(out)
    assert s["status"] == "diverged" and s["diverged_epoch"] == 1


def test_entry_scripts_run_from_any_cwd(tmp_path):
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    for cwd, script in ((REPO, "fig3fig5_dendritic_microcircuits/src/run_bars.py"),
                        (FOLDER / "src", "run_bars.py")):
        out = tmp_path / cwd.name
        p = subprocess.run([sys.executable, script, "train", str(SMOKE), "--out", str(out),
                            "training.n_epochs=1"], cwd=cwd, capture_output=True, text=True,
                           env=env, timeout=300)
        assert p.returncode == 0, p.stderr
        assert summary(out)["status"] == "completed"
    p = subprocess.run([sys.executable, "run_bars.py", "train", str(SMOKE), "network.dt=-1"],
                       cwd=FOLDER / "src", capture_output=True, text=True, timeout=300)
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1
    assert "network.dt" in p.stderr


def test_mimic_train_and_eval(tmp_path, capsys):
    out = tmp_path / "mimic"
    assert run_single_mc.main(["train", str(CONFIGS / "mimic_tpres_100.yaml"), "--out", str(out),
                               "training.n_epochs=20"]) == 0
    s = summary(out)
    assert s["status"] == "completed"
    assert s["final"]["test_loss"] < s["final"]["pretrain_test_loss"]
    assert len([r for r in rows(out) if r["split"] == "val"]) == 20
    for name in ("selfpred_ws", "selfpred_volts_comp", "selfpred_apical", "train_val_acc",
                 "pretrain_eval_test_u_out", "eval_test_u_out", "train_ws", "train_apical",
                 "train_pyr_volts", "train_pyr_error"):
        assert (out / f"mimic_{name}.png").is_file(), name
    assert run_single_mc.main(["eval", str(out)]) == 0
    fig = tmp_path / "fig5.png"
    plot_fig5.plot(out, fig)
    assert fig.stat().st_size > 1000


def test_reading_an_unfinished_run_folder_exits_2_with_one_line(tmp_path, capsys):
    (tmp_path / "config.yaml").write_text("network: {}\n")
    for main, argv, missing in ((run_bars.main, ["eval", str(tmp_path)], "metrics.csv"),
                                (run_single_mc.main, ["eval", str(tmp_path)], "teacher.npz"),
                                (plot_fig5.main, [str(tmp_path)], "teacher.npz")):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and str(tmp_path) in err[0] and missing in err[0]


def test_plot_fig3_aggregates_over_seeds(tmp_path):
    orig = _orig_smoke(tmp_path)
    assert run_bars.main(["sweep", str(SMOKE), str(orig), "--seeds", "1-2", "--root",
                          str(tmp_path / "r"), "training.n_epochs=1"]) == 0
    fig = tmp_path / "fig3.png"
    drawn = plot_fig3.plot(tmp_path / "r", fig)
    assert fig.stat().st_size > 1000 and not drawn.skipped
    assert sorted(drawn.series) == [("le", 10), ("orig", 10)]
    e = drawn.series[("le", 10)]
    mses = [summary(tmp_path / "r" / "smoke_bars" / f"seed{s}")["final"]["test_loss"] for s in (1, 2)]
    assert sorted(e["mse"]) == sorted(mses) and sorted(e["seeds"]) == [1, 2]
    assert [r.status for r in e["runs"]] == ["completed", "completed"]


def test_bars_jobs_dry_run_lists_all_220_runs():
    p = subprocess.run(["bash", str(FOLDER / "bars_jobs.sh"), "--dry-run", "training.n_epochs=2"],
                       capture_output=True, text=True, timeout=60, env=dict(os.environ, JOBS="1"))
    assert p.returncode == 0
    lines = p.stdout.strip().splitlines()
    assert lines[-1] == "# 12 sweeps, 220 runs"
    cmds = lines[:-1]
    assert len(cmds) == 12 and all("sweep" in c and "training.n_epochs=2" in c for c in cmds)
    assert [c.split("--seeds ")[1].split()[0] for c in cmds[:3]] == [
        "12345-12349", "12350-12354", "12345-12354"]                   # N = 5000 in seed halves
    assert all("--seeds 12345-12354" in c for c in cmds[2:])
    for N in (3, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000):
        assert sum(f"bars_le_tpres_{N}.yaml" in c and f"bars_orig_tpres_{N}.yaml" in c
                   for c in cmds) == (2 if N == 5000 else 1)
    p = subprocess.run(["bash", str(FOLDER / "bars_jobs.sh"), "--dry-run"], capture_output=True,
                       text=True, timeout=60, env=dict(os.environ, SLURM_JOB_ID="1"))
    assert all(c.startswith("srun ") for c in p.stdout.strip().splitlines()[:-1])


def test_bars_jobs_split_sweep_writes_one_folder_per_config_and_seed(tmp_path):
    """Two sweeps side by side, one per seed half, write the same folders one sweep would."""
    env = dict(os.environ, NS="3", SPLIT_NS="3", SEEDS="1-3", JOBS="2")
    p = subprocess.run(["bash", str(FOLDER / "bars_jobs.sh"), "--root", str(tmp_path),
                        "training.n_epochs=1"], capture_output=True, text=True, timeout=300, env=env)
    assert p.returncode == 0, p.stderr
    assert p.stdout.count("ensemble of") == 2 and "ensemble of 4 runs" in p.stdout
    runs = sorted(f"{d.parent.name}/{d.name}" for d in tmp_path.glob("*/seed*"))
    assert runs == [f"bars_{v}_tpres_3/seed{s}" for v in ("le", "orig") for s in (1, 2, 3)]
    assert all(summary(tmp_path / r)["status"] == "completed" for r in runs)


def test_snapshot_epochs_and_bias_option(tmp_path):
    out = tmp_path / "snap"
    assert run_bars.main(["train", str(SMOKE), "--out", str(out), "training.snapshot_epochs=[1, 2]",
                          "network.bias.on=true", "network.bias.val=0.5"]) == 0
    assert summary(out)["status"] == "completed"
    with np.load(out / "weights_epoch00001.npz") as a, np.load(out / "weights_epoch00002.npz") as b:
        assert a["W_up_1"].shape == (30, 10) and a["W_ip_1"].shape == (3, 31)   # bias column
        assert not np.array_equal(a["W_up_1"], b["W_up_1"])


def test_sweep_puts_le_and_orig_of_one_N_into_one_ensemble(tmp_path, capsys):
    code = run_bars.main(["sweep", str(CONFIGS / "bars_le_tpres_500.yaml"),
                          str(CONFIGS / "bars_orig_tpres_500.yaml"), "--seeds", "1-2", "--root",
                          str(tmp_path), "training.n_epochs=1"])
    assert code == 0
    out = capsys.readouterr().out
    assert out.count("ensemble of") == 1 and "ensemble of 4 runs, 500 steps" in out


def test_diverging_member_of_a_sweep_leaves_the_others_intact(tmp_path):
    cfg = yaml.safe_load(SMOKE.read_text())
    cfg["training"]["init_selfpred"] = False
    cfg["network"]["init_weights"].update(down=1000.0, pi=1000.0)
    bad = tmp_path / "smoke_bad.yaml"
    bad.write_text(yaml.safe_dump(cfg))
    assert run_bars.main(["sweep", str(SMOKE), str(bad), "--seeds", "12354", "--root",
                          str(tmp_path / "s")]) == 0
    assert summary(tmp_path / "s" / "smoke_bad" / "seed12354")["status"] == "diverged"
    good = tmp_path / "s" / "smoke_bars" / "seed12354"
    assert summary(good)["status"] == "completed"
    alone = tmp_path / "alone"
    assert run_bars.main(["train", str(SMOKE), "--seed", "12354", "--out", str(alone)]) == 0
    assert rows(alone) == rows(good)
