"""scripts/panels.py: the one panel list that the README, make_figures, the quick and the paper plans read."""
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))
import make_figures  # noqa: E402
import panels  # noqa: E402
import plan_quick  # noqa: E402

ALL_DATA = {"mnist": True, "fashion_mnist": True, "cifar10": True, "higgs": True}


def _readme_panel_rows():
    """The rows of the README's figure table, without the header and the make_figures row."""
    text = (REPO / "README.md").read_text().split("\n## Figures\n", 1)[1].strip()
    rows = text.split("\n\n", 1)[0].splitlines()
    assert all(r.startswith("|") for r in rows)
    return [r for r in rows[2:] if "scripts/make_figures.py" not in r]


def test_readme_table_is_the_registry():
    assert _readme_panel_rows() == panels.readme_rows()


def test_every_consumer_reads_the_registry(tmp_path):
    assert make_figures.PANELS is panels.PANELS
    steps, skipped, _ = plan_quick.quick_steps(ALL_DATA, tmp_path)
    assert not skipped and {s.panel for s in steps} == set(panels.PANEL_IDS)
    for p in panels.PANELS:
        assert (REPO / p.plot_file).is_file(), p.plot_file
        assert p.sweep.kind in ("jobs", "single", "submit")
        if p.sweep.kind == "jobs":
            assert (REPO / p.sweep.script).is_file(), p.sweep.script


def test_only_the_parts_with_data_are_skipped(tmp_path):
    steps, skipped, _ = plan_quick.quick_steps(dict(ALL_DATA, higgs=False), tmp_path, only=["fig2cde"])
    assert [label for label, _ in skipped] == ["fig2c (HIGGS)"]
    assert {Path(s.argv[2]).stem for s in steps} == {f"{task}_{model}" for task in ("mnist", "cifar10")
                                                     for model in ("le", "bp_matched", "bp")}


def test_quick_fig2cde_compares_le_with_its_update_matched_baseline(tmp_path):
    """The update-matched BP run of each task takes its LE run's n_updates, multiplier and batches."""
    steps, _, _ = plan_quick.quick_steps(ALL_DATA, tmp_path, only=["fig2cde"])
    overrides = {Path(s.argv[2]).stem: [w for w in s.argv[3:] if "=" in w] for s in steps}
    for task in ("mnist", "higgs", "cifar10"):
        assert overrides[f"{task}_bp_matched"] == overrides[f"{task}_le"]


def test_quick_steps_run_longest_first_within_the_budget(tmp_path):
    """The quick profile's calibrated estimate (measured step costs x the plan's steps x each panel's
    measured factor, 2 jobs) stays within the target of 10 minutes on 2 idle cores with MNIST, HIGGS
    and CIFAR-10 all present."""
    steps, _, _ = plan_quick.quick_steps(ALL_DATA, tmp_path)
    est = [s.est_s for s in steps]
    assert est == sorted(est, reverse=True)
    assert max(sum(est) / 2, est[0]) <= 10 * 60
