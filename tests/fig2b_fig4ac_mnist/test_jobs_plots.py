"""Job scripts (dry run, local execution, overrides) and the plots reading run folders."""
import json
import os
import shlex
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml

from fig2b_fig4ac_mnist import plot_2b, plot_4a, plot_4c
from fig2b_fig4ac_mnist.src.paths import FOLDER


def _dry(script, *extra):
    res = subprocess.run(["bash", str(FOLDER / script), "--dry-run", *extra], capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.strip().splitlines()
    return lines[:-1], lines[-1]


def _run_folders(cmd):
    """The run folders one printed sweep command writes: NAME/seed<S> for every config and seed."""
    words = shlex.split(cmd)
    seeds = words[words.index("--seeds") + 1].split(",")
    name = words[words.index("--name") + 1]
    configs = [w for w in words if w.endswith(".yaml")]
    variants = [words[i + 1] for i, w in enumerate(words) if w == "--variant"] or [""]
    return [f"{name.format(stem=c.rsplit('/', 1)[1][:-5], variant=v)}/seed{s}"
            for c in configs for v in variants for s in seeds]


@pytest.mark.parametrize("script,sweeps,count", [("2b_jobs.sh", 3, 40), ("4a_jobs.sh", 10, 200),
                                                 ("4c_jobs.sh", 12, 90)])
def test_dry_run_lists_every_run_once_in_ensembles(script, sweeps, count):
    cmds, last = _dry(script, "epoch_qty=2")
    assert last == f"{sweeps} ensembles, {count} runs" and len(cmds) == sweeps
    assert all(" sweep " in c and "epoch_qty=2 --seeds" in c for c in cmds)
    outs = [o for c in cmds for o in _run_folders(c)]
    assert len(outs) == count and len(set(outs)) == count  # no two runs share a folder


def test_2b_includes_feedback_alignment_and_spec_overrides():
    cmds, _ = _dry("2b_jobs.sh")
    assert sum(o.startswith("2b_fa/") for c in cmds for o in _run_folders(c)) == 10  # never started by the authors
    cmds4a, _ = _dry("4a_jobs.sh")
    assert all("--variant learned_tau_m adapt_tau=true\\ prosp_rate_errors=true\\ tau_width=0.2" in c for c in cmds4a)
    assert sum(o.startswith("4a_learned_tau_m_dt") for c in cmds4a for o in _run_folders(c)) == 40
    cmds4c, _ = _dry("4c_jobs.sh")
    assert sum(o.startswith("4c_dt0.05_taus2.0_n1000/") for c in cmds4c for o in _run_folders(c)) == 3


def test_local_execution_runs_every_command(tmp_path):
    fake = tmp_path / "fakepython"
    fake.write_text(f"#!/bin/bash\necho \"$@\" >> {tmp_path}/calls.txt\n")
    fake.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "SLURM_JOB_ID"}
    env.update(PYTHON=str(fake), JOBS="3")
    res = subprocess.run(["bash", str(FOLDER / "4c_jobs.sh"), "epoch_qty=2"], env=env, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    calls = (tmp_path / "calls.txt").read_text().splitlines()
    assert len(calls) == 12 and len(set(calls)) == 12 and res.stdout.strip().endswith("12 ensembles (90 runs), 0 failed")


def _fake_run(root, name, seed, cfg, val_errors, test_error, status="completed"):
    d = root / name / f"seed{seed}"
    d.mkdir(parents=True)
    (d / "config.yaml").write_text(yaml.safe_dump(cfg))
    rows = ["epoch,split,loss,error,accuracy,wall_time"]
    rows += [f"{i},val,0.1,{e},{100 - e},1.0" for i, e in enumerate(val_errors)]
    rows.append(f"{len(val_errors) - 1},test,0.1,{test_error},{100 - test_error},1.0")
    (d / "metrics.csv").write_text("\n".join(rows) + "\n")
    (d / "summary.json").write_text(json.dumps({"status": status, "final": {"test_error": test_error}}))
    return d


def _counts(series):
    return {k: {x: n for x, (_, _, n) in v.items()} for k, v in series.items()}


def test_plots_group_runs_over_seeds(tmp_path):
    runs = tmp_path / "runs"
    for seed in (1, 2):
        for v in ("2b_le", "2b_fa"):
            _fake_run(runs, v, seed, {"dt": 0.01, "n_updates": 100, "tau_s": 0.0}, [90, 10, 5], 5)
        for dt in (0.01, 0.1):
            _fake_run(runs, f"4a_exact_dt{dt}", seed, {"dt": dt, "n_updates": 100, "tau_s": 0.0}, [90, 5], 4 + seed)
        for n in (20, 50):
            _fake_run(runs, f"4c_dt0.05_taus0.5_n{n}", seed, {"dt": 0.05, "n_updates": n, "tau_s": 0.5}, [90], 7)
    _fake_run(runs, "2b_le", 3, {"dt": 0.01}, [90], 50, status="interrupted")  # not counted
    got = plot_2b.plot(sorted(runs.glob("2b_*/seed*")), tmp_path / "a.png")
    assert {k: list(v["n"]) for k, v in got.series.items()} == {"2b_le": [2, 2, 2], "2b_fa": [2, 2, 2]}
    a = plot_4a.plot([runs], tmp_path / "b.png")  # a runs/ root: only the 4a_ runs count
    assert _counts(a.series) == {"exact": {0.01: 2, 0.1: 2}}
    mean, std, _ = a.series["exact"][0.1]
    assert mean == 5.5 and std == pytest.approx(np.std([5, 6], ddof=1))
    assert _counts(plot_4c.plot(sorted(runs.glob("4c_*/seed*")), tmp_path / "c.png").series) == {
        (0.05, 0.5): {1.0: 2, 2.5: 2}}
    assert all((tmp_path / n).stat().st_size > 1000 for n in ("a.png", "b.png", "c.png"))


def test_2b_averages_runs_of_different_lengths_per_epoch(tmp_path):
    """Every epoch is the mean over the seeds that reached it; no curve is cut to the shortest run."""
    runs = tmp_path / "runs"
    cfg = {"dt": 0.01, "n_updates": 100, "tau_s": 0.0}
    _fake_run(runs, "2b_le", 1, cfg, [80, 40, 20, 10], 10)
    _fake_run(runs, "2b_le", 2, cfg, [60, 20], 20)
    _fake_run(runs, "2b_le", 3, cfg, [70, 30, 30], 30)
    _fake_run(runs, "2b_fa", 1, cfg, [50, 25, 12, 6, 3], 3)
    got = plot_2b.plot([runs], tmp_path / "a.png").series
    le = got["2b_le"]
    assert list(le["epochs"]) == [0, 1, 2, 3] and list(le["n"]) == [3, 3, 2, 1]
    assert le["mean"] == pytest.approx([70, 30, 25, 10])
    assert le["std"][:3] == pytest.approx([10, 10, np.std([20, 30], ddof=1)]) and np.isnan(le["std"][3])
    assert got["2b_fa"]["mean"] == pytest.approx([50, 25, 12, 6, 3])  # the full curve of the longest run


def test_plots_skip_and_name_unreadable_runs(tmp_path, capsys):
    runs = tmp_path / "runs"
    cfg = {"dt": 0.01, "n_updates": 100, "tau_s": 0.0}
    _fake_run(runs, "2b_le", 1, cfg, [80, 40, 20], 10)
    (_fake_run(runs, "2b_le", 2, cfg, [60, 20], 20) / "metrics.csv").write_text("")
    (_fake_run(runs, "2b_le", 3, cfg, [60, 20], 20) / "summary.json").write_text("[1, 2]")
    (_fake_run(runs, "2b_le", 4, cfg, [60, 20], 20) / "summary.json").write_text("{garbage")
    (_fake_run(runs, "4a_exact_dt0.1", 1, cfg, [60], 20) / "summary.json").write_text(
        json.dumps({"status": "completed", "final": "garbage"}))
    _fake_run(runs, "4a_exact_dt0.1", 2, cfg, [60], 20)
    drawn = plot_2b.plot([runs], tmp_path / "a.png")
    assert drawn.series["2b_le"]["mean"] == pytest.approx([80, 40, 20])  # seed 1, in full
    reasons = dict(line.removeprefix(f"{runs}/").split(": ", 1) for line in drawn.skipped)
    assert reasons["2b_le/seed2"] == "metrics.csv is empty"
    assert reasons["2b_le/seed3"] == "summary.json holds list, not a mapping"
    assert reasons["2b_le/seed4"].startswith("summary.json: Expecting property name")
    assert reasons["4a_exact_dt0.1/seed1"] == "summary.json 'final' is str, not a mapping"
    assert _counts(plot_4a.plot([runs], tmp_path / "b.png").series) == {"exact": {0.01: 1}}
    plot_2b.main([str(runs), "--out", str(tmp_path / "c.png")])
    err = capsys.readouterr().err
    assert f"skipped {runs / '2b_le' / 'seed2'}: metrics.csv is empty" in err


@pytest.mark.slurm
def test_slurm_allocation_runs_each_job_as_a_step(tmp_path):
    import shutil

    if shutil.which("salloc") is None:
        pytest.skip("no SLURM client (salloc) on this machine")
    fake = tmp_path / "fakepython"
    fake.write_text(f"#!/bin/bash\necho \"$SLURM_STEP_ID $@\" >> {tmp_path}/calls.txt\n")
    fake.chmod(0o755)
    env = dict(os.environ, PYTHON=str(fake))
    res = subprocess.run(["salloc", "-n", "2", "bash", str(FOLDER / "2b_jobs.sh"), "epoch_qty=1"], env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    calls = (tmp_path / "calls.txt").read_text().splitlines()
    assert len(calls) == 3 and len({c.split()[0] for c in calls}) == 3  # one job step per ensemble


def _titles(monkeypatch):
    """{file name: [title, notes under the axes]} of every figure saved while the test runs."""
    import matplotlib.figure

    got, real = {}, matplotlib.figure.Figure.savefig

    def savefig(fig, path, *args, **kwargs):
        got[Path(path).name] = [fig.axes[0].get_title(), fig.axes[0].get_xlabel(), fig.axes[0].get_ylabel()] + [
            t.get_text() for t in fig.texts]
        return real(fig, path, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", savefig)
    return got


@pytest.mark.parametrize("plot", [plot_2b, plot_4a, plot_4c])
def test_plots_refuse_without_runs_and_write_beside_the_runs(tmp_path, capsys, plot, monkeypatch):
    name = plot.__name__.rsplit("_", 1)[1]  # 2b, 4a, 4c
    assert plot.main([str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"no Fig. {name} run folders" in err[0] and not list(tmp_path.iterdir())
    stem = {"2b": "2b_le", "4a": "4a_exact_dt0.1", "4c": "4c_dt0.05_taus0.0_n20"}[name]
    cfg = {"dt": 0.1, "n_updates": 20, "tau_s": 0.0, "dataset": "fashion_mnist"}
    _fake_run(tmp_path / "runs", stem, 1, dict(cfg, seed=1), [80, 20], 10)
    diverged = _fake_run(tmp_path / "runs", stem, 2, dict(cfg, seed=2), [80], 10)
    (diverged / "summary.json").write_text(json.dumps({"status": "diverged", "final": {}, "diverged_epoch": 1}))
    titles = _titles(monkeypatch)
    assert plot.main([str(tmp_path / "runs")]) == 0
    out = tmp_path / "runs" / f"fig{name}.png"
    assert out.stat().st_size > 1000 and list(titles) == [out.name]
    title, xlabel, ylabel, note = titles[out.name]
    assert title.startswith(f"Fig. {name} on Fashion-MNIST (stand-in for MNIST):") and xlabel and ylabel
    assert note == f"not drawn: {stem}: 1 diverged (seed 2, epoch 1)"
