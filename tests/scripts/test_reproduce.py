"""scripts/reproduce.py: the quick plan (data fallbacks, valid overrides), dry runs, paper counts."""
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))
import panels  # noqa: E402
import plan_quick  # noqa: E402
import reproduce  # noqa: E402
import step_runner  # noqa: E402
from common.config import load_config  # noqa: E402

NO_DATA = {"mnist": False, "fashion_mnist": False, "cifar10": False, "higgs": False}


def _dataset(step):
    return next((a.split("=", 1)[1] for a in step.argv if a.startswith("dataset=")), None)


def test_without_data_mnist_panels_are_skipped_with_the_command(tmp_path):
    steps, skipped, banners = plan_quick.quick_steps(NO_DATA, tmp_path)
    assert {s.panel for s in steps} == {"fig1", "fig2a", "fig3", "fig5"}
    why = dict(skipped)
    for panel in ("fig2b", "fig4a", "fig4c"):
        assert "python scripts/fetch_data.py mnist" in why[panel]
    assert "python scripts/fetch_data.py higgs" in why["fig2c (HIGGS)"]
    assert "python scripts/fetch_data.py cifar10" in why["fig2e (CIFAR-10)"]
    assert not banners


def test_fashion_mnist_stands_in_loudly(tmp_path):
    steps, _, banners = plan_quick.quick_steps(dict(NO_DATA, fashion_mnist=True), tmp_path)
    vision = [s for s in steps if s.panel in ("fig2b", "fig4a", "fig4c", "fig2cde")]
    assert {s.panel for s in vision} == {"fig2b", "fig4a", "fig4c", "fig2cde"}
    assert all(_dataset(s) == "fashion_mnist" for s in vision)
    assert len(banners) == 1 and "STANDS IN FOR MNIST" in banners[0]


def test_real_data_used_when_present(tmp_path):
    data = {"mnist": True, "fashion_mnist": True, "cifar10": True, "higgs": True}
    steps, skipped, banners = plan_quick.quick_steps(data, tmp_path)
    assert not skipped and not banners
    two_cde = {_dataset(s) for s in steps if s.panel == "fig2cde"}
    assert two_cde == {"mnist", "higgs", "cifar10"}
    assert all(_dataset(s) == "mnist" for s in steps if s.panel in ("fig2b", "fig4a", "fig4c"))


def test_only_selects_panels(tmp_path):
    steps, _, _ = plan_quick.quick_steps(NO_DATA, tmp_path, only=["fig3"])
    assert {s.panel for s in steps} == {"fig3"} and len(steps) == len(panels.BARS_N)


def _config_class(script):
    if script.endswith("fig2b_fig4ac_mnist/src/train.py"):
        from fig2b_fig4ac_mnist.src.config import Config
        return Config
    if script.endswith("fig2cde_higgs_mnist_cifar10/train.py"):
        from fig2cde_higgs_mnist_cifar10.config import Config
        return Config
    from fig3fig5_dendritic_microcircuits.src import config
    return config.MimicConfig if script.endswith("run_single_mc.py") else config.BarsConfig


def test_every_step_names_an_existing_script_and_valid_overrides(tmp_path):
    """Each quick run's config with its overrides loads through the folder's own Config class, so a
    renamed key or a bad value shows up here, not 10 minutes into reproduce.py."""
    data = {"mnist": True, "fashion_mnist": True, "cifar10": True, "higgs": True}
    steps, _, _ = plan_quick.quick_steps(data, tmp_path)
    names = [s.name for s in steps]
    assert len(names) == len(set(names))
    for step in steps:
        script = step.argv[1]
        assert Path(script).is_file(), script
        configs = [a for a in step.argv if a.endswith(".yaml")]
        overrides = [a for a in step.argv[2:] if "=" in a and not a.startswith("-")]
        for config in configs:
            load_config(_config_class(script), config, overrides)
        out = step.argv[step.argv.index("--out" if "--out" in step.argv else "--root") + 1]
        assert Path(out).is_relative_to(tmp_path)


def test_progress_rescales_estimates():
    steps = [step_runner.Step("p", f"s{i}", "t", [], est_s=10.0) for i in range(3)]
    progress = step_runner.Progress(steps, jobs=2)
    assert progress.remaining() == 15.0                    # 30 s of work on 2 parallel jobs
    progress.finished(steps[0], 80.0)              # 70 s slower than estimated: scale (80+60)/(10+60) = 2
    assert progress.remaining() == pytest.approx(20.0)
    # steps[1] has run 5 s: 15 s left of it, 20 s of steps[2]; 2 jobs cannot beat the longest step
    assert progress.remaining([(steps[1], 5.0)]) == pytest.approx(20.0)
    single = [step_runner.Step("p", "one", "t", [], est_s=10.0)]
    assert step_runner.Progress(single, jobs=4).remaining() == 10.0


def test_dry_run_cli(tmp_path):
    out = subprocess.run([sys.executable, str(REPO / "scripts" / "reproduce.py"), "--dry-run", "--only", "fig3,fig5",
                          "--runs", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert f"{len(panels.BARS_N) + 1} steps, estimated" in out.stdout
    assert "run_single_mc.py train" in out.stdout and not list(tmp_path.iterdir())
    bad = subprocess.run([sys.executable, str(REPO / "scripts" / "reproduce.py"), "--only", "fig9"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "fig9" in bad.stderr


def test_paper_dry_run_counts_the_sweeps():
    out = subprocess.run([sys.executable, str(REPO / "scripts" / "reproduce.py"), "--profile", "paper", "--dry-run"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    # the paper's sweeps (the seeds and grids of docs/model/): 4 x 10, 5 x 10 x 4, 5 x 6 x 3, 22 x 10, 3 tasks x 2 x 9
    for panel, runs in (("fig2b", 40), ("fig4a", 200), ("fig4c", 90), ("fig3", 220), ("fig2cde", 54)):
        assert f"{panel}: " in text and f"{runs} runs in" in text.split(f"\n{panel}: ")[1].split("\n")[0]
    assert "core-hours" in text and "PROJECTED, not measured" in text
    table = text.split("\npanel ")[1].split("\n\n")[0].splitlines()
    assert [row.split()[0] for row in table[1:]] == list(panels.PANEL_IDS) + ["total"]


def _quick_cli(monkeypatch, tmp_path, data, argv, download):
    """reproduce.main with the data detection, the MNIST download and the runs replaced."""
    calls, planned = [], []
    monkeypatch.setattr(reproduce, "detect_data", lambda root: dict(data))
    monkeypatch.setattr(reproduce, "download_mnist", lambda: calls.append(1) or download())
    monkeypatch.setattr(reproduce, "run_steps", lambda steps, jobs, log, outcome: planned.extend(steps) or ([], 0.0))
    monkeypatch.setattr(reproduce, "make_figures", lambda roots, out, not_run: ([], {}, []))
    code = reproduce.main(["--only", "fig2b", "--runs", str(tmp_path / "runs"), "--figures", str(tmp_path / "f"),
                           *argv])
    return code, calls, {_dataset(s) for s in planned}


def test_missing_mnist_is_downloaded_before_the_runs(monkeypatch, tmp_path, capsys):
    code, calls, datasets = _quick_cli(monkeypatch, tmp_path, dict(NO_DATA, fashion_mnist=True), [],
                                       lambda: "60000 train / 10000 test")
    assert code == 0 and calls == [1] and datasets == {"mnist"}
    assert "STANDS IN" not in capsys.readouterr().out


def test_no_download_keeps_the_announced_stand_in(monkeypatch, tmp_path, capsys):
    code, calls, datasets = _quick_cli(monkeypatch, tmp_path, dict(NO_DATA, fashion_mnist=True), ["--no-download"],
                                       lambda: "unused")
    assert code == 0 and calls == [] and datasets == {"fashion_mnist"}
    assert "STANDS IN FOR MNIST" in capsys.readouterr().out


def test_offline_download_falls_back_to_the_stand_in(monkeypatch, tmp_path, capsys):
    from fetch_data import FetchFailed

    def offline():
        raise FetchFailed("MNIST missing: place the files in data/MNIST/raw (download failed: no network)")

    code, calls, datasets = _quick_cli(monkeypatch, tmp_path, dict(NO_DATA, fashion_mnist=True), [], offline)
    out = capsys.readouterr().out
    assert code == 0 and calls == [1] and datasets == {"fashion_mnist"}
    assert "MNIST download failed" in out and "STANDS IN FOR MNIST" in out


def test_dry_run_plans_with_mnist_but_downloads_nothing(monkeypatch, tmp_path, capsys):
    code, calls, _ = _quick_cli(monkeypatch, tmp_path, NO_DATA, ["--dry-run"], lambda: "unused")
    out = capsys.readouterr().out
    assert code == 0 and calls == [] and "the run downloads it first" in out and "dataset=mnist" in out


def test_present_mnist_is_not_downloaded(monkeypatch, tmp_path):
    code, calls, datasets = _quick_cli(monkeypatch, tmp_path, dict(NO_DATA, mnist=True), [], lambda: "unused")
    assert code == 0 and calls == [] and datasets == {"mnist"}


@pytest.mark.slow
def test_one_panel_end_to_end(tmp_path):
    out = subprocess.run([sys.executable, str(REPO / "scripts" / "reproduce.py"), "--only", "fig5",
                          "--runs", str(tmp_path / "runs"), "--figures", str(tmp_path / "fig")],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    assert (tmp_path / "fig" / "fig5.png").is_file() and (tmp_path / "fig" / "results.md").is_file()
    assert "mimic_tpres_100" in out.stdout and "final validation MSE" in out.stdout


def test_offline_results_md_says_why_each_panel_was_skipped_and_how_to_get_the_data(monkeypatch, tmp_path, capsys):
    """No data and no network: the MNIST, HIGGS and CIFAR-10 parts are skipped, and results.md (not only
    the console) gives each reason with the command that gets the data."""
    monkeypatch.setattr(reproduce, "detect_data", lambda root: dict(NO_DATA))
    monkeypatch.setattr(reproduce, "run_steps", lambda steps, jobs, log, outcome: ([], 0.0))
    code = reproduce.main(["--no-download", "--runs", str(tmp_path / "runs"), "--figures", str(tmp_path / "f")])
    assert code == 0
    text = (tmp_path / "f" / "results.md").read_text()
    for title, command in (("Fig. 2b", "fetch_data.py mnist"), ("Fig. 4a", "fetch_data.py mnist"),
                           ("Fig. 4c", "fetch_data.py mnist"), ("Fig. 2c-e", "fetch_data.py higgs"),
                           ("Fig. 2c-e", "fetch_data.py cifar10"), ("Fig. 2c-e", "fetch_data.py mnist")):
        section = text.split(f"## {title}")[1].split("\n## ")[0]
        assert "Not run: " in section and command in section, title


def test_a_diverged_run_is_never_reported_done(tmp_path, capsys):
    """A diverged run exits 0: its progress line says DIVERGED with seed and epoch, never done."""
    out = tmp_path / "runs" / "fig2b" / "2b_big_tau" / "seed69"
    write = ("import json, pathlib, sys; p = pathlib.Path(sys.argv[1]); p.mkdir(parents=True); "
             "(p / 'config.yaml').write_text('seed: 69\\ndataset: mnist\\n'); "
             "(p / 'summary.json').write_text(json.dumps({'status': sys.argv[2], 'final': {}, 'diverged_epoch': 2}))")
    le = out.parent.parent / "2b_le" / "seed69"
    steps = [step_runner.Step("fig2b", "big", "2b_big_tau", [sys.executable, "-c", write, str(out), "diverged",
                                                             "--out", str(out)], 1.0),
             step_runner.Step("fig2b", "le", "2b_le", [sys.executable, "-c", write, str(le), "completed",
                                                       "--out", str(le)], 1.0)]
    failed, _ = step_runner.run_steps(steps, 1, tmp_path, outcome=reproduce.step_outcome)
    lines = [line for line in capsys.readouterr().out.splitlines() if "(1/2)" in line or "(2/2)" in line]
    assert not failed
    big = [line for line in lines if "2b_big_tau" in line and "start" not in line]
    assert len(big) == 1 and "] DIVERGED (1/2) 2b_big_tau in " in big[0] and big[0].endswith(
        ": 1 diverged (seed 69, epoch 2)") and "done" not in big[0]
    assert any("] done  (2/2) 2b_le in" in line for line in lines)
    assert reproduce.step_outcome(steps[1]) == ("done ", "")
