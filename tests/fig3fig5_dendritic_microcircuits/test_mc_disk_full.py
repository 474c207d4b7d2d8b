"""A full disk while a bars or mimic run writes its array files (traces, weights, evaluation records)
ends the run with exit code 2 and one line naming the folder, leaves no partial file and status
`failed` where summary.json can still be written; the rerun of the same command ends with exactly the
records of an uninterrupted run."""
import csv
import errno
import json
import os
import subprocess

import numpy as np
import pytest

from common import atomic
from fig3fig5_dendritic_microcircuits.src import bars_train, run_bars, run_single_mc

from .helpers import CONFIGS

SMOKE = str(CONFIGS / "smoke_bars.yaml")
MIMIC = [str(CONFIGS / "mimic_tpres_100.yaml"), "training.n_epochs=5", "training.n_epochs_selfpred=5"]


def rows(run_dir):
    with open(run_dir / "metrics.csv") as f:
        return [{k: v for k, v in r.items() if k != "wall_time"} for r in csv.DictReader(f)]


def status(run_dir):
    return json.loads((run_dir / "summary.json").read_text())


def npz(path):
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def same_arrays(a, b):
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def one_line(capsys, folder):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(folder) in err[0] and "Traceback" not in err[0], err
    return err[0]


def enospc_on(monkeypatch, name):
    """Writes of the temp files of `name` (common.atomic) fail with ENOSPC."""
    real = os.write

    def write(fd, data):
        if os.readlink(f"/proc/self/fd/{fd}").split("/")[-1].startswith(name + "."):
            real(fd, bytes(data[:10]))
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd, data)

    monkeypatch.setattr(atomic.os, "write", write)


@pytest.fixture
def one_epoch_blocks(monkeypatch):
    monkeypatch.setattr(bars_train, "STEPS_PER_BLOCK", 1)         # a trace file and checkpoint per epoch


@pytest.mark.parametrize("name", ["train_epochs_00002-00002.npz", "weights_post.npz", "eval_test.npz"])
def test_bars_full_disk_at_an_array_file_fails_with_one_line_and_the_rerun_finishes(
        tmp_path, capsys, monkeypatch, one_epoch_blocks, name):
    ref, run = tmp_path / "reference", tmp_path / "run"
    assert run_bars.main(["train", SMOKE, "--out", str(ref)]) == 0
    with monkeypatch.context() as m:
        enospc_on(m, name)
        assert run_bars.main(["train", SMOKE, "--out", str(run)]) == 2
    assert "No space left on device" in one_line(capsys, run)
    s = status(run)
    assert s["status"] == "failed" and "No space left" in s["error"]
    assert not list(run.rglob("*.tmp")) and not list(run.rglob(name))
    assert run_bars.main(["train", SMOKE, "--out", str(run)]) == 0
    assert status(run)["status"] == "completed" and rows(run) == rows(ref)
    files = sorted(p.relative_to(ref) for p in ref.rglob("*.npz"))
    assert files == sorted(p.relative_to(run) for p in run.rglob("*.npz"))
    for f in files:
        assert same_arrays(npz(ref / f), npz(run / f)), f


def test_mimic_full_disk_at_the_traces_fails_with_one_line_and_the_rerun_finishes(
        tmp_path, capsys, monkeypatch):
    ref, run = tmp_path / "reference", tmp_path / "run"
    assert run_single_mc.main(["train", *MIMIC, "--out", str(ref)]) == 0
    with monkeypatch.context() as m:
        enospc_on(m, "train_traces.npz")
        assert run_single_mc.main(["train", *MIMIC, "--out", str(run)]) == 2
    assert "No space left on device" in one_line(capsys, run)
    assert status(run)["status"] == "failed" and not list(run.glob("*.tmp"))
    assert run_single_mc.main(["train", *MIMIC, "--out", str(run)]) == 0
    assert status(run)["status"] == "completed" and rows(run) == rows(ref)
    assert same_arrays(npz(ref / "train_traces.npz"), npz(run / "train_traces.npz"))
    assert np.array_equal(np.load(ref / "val_mse.npy"), np.load(run / "val_mse.npy"))


@pytest.fixture
def small_tmpfs(tmp_path):
    """A real 64 KiB file system (tmpfs) at tmp_path / "disk"; grow(size) enlarges it. Skips where
    mounting is not allowed (needs root with CAP_SYS_ADMIN)."""
    target = tmp_path / "disk"
    target.mkdir()
    out = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(target)],
                         capture_output=True, text=True)
    if out.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({out.stderr.strip()})")

    def grow(size):
        subprocess.run(["mount", "-o", f"remount,size={size}", str(target)], check=True)

    yield target, grow
    subprocess.run(["umount", "-l", str(target)], capture_output=True)


def test_bars_run_on_a_real_full_disk_ends_with_one_line_and_resumes_once_there_is_space(
        tmp_path, capsys, one_epoch_blocks, small_tmpfs):
    disk, grow = small_tmpfs
    ref, run = tmp_path / "reference", disk / "run"
    assert run_bars.main(["train", SMOKE, "--out", str(ref)]) == 0          # ~130 KB of files
    assert run_bars.main(["train", SMOKE, "--out", str(run)]) == 2
    assert "No space left on device" in one_line(capsys, run)
    # the summary is `failed`, or, if even it could not be written, `running`, which the next
    # start reports as a run that ended without recording why
    assert status(run)["status"] in ("failed", "running")
    assert not list(run.rglob("*.tmp"))
    grow("1m")
    assert run_bars.main(["train", SMOKE, "--out", str(run)]) == 0
    assert status(run)["status"] == "completed" and rows(run) == rows(ref)
    for f in ref.rglob("*.npz"):
        assert same_arrays(npz(f), npz(run / f.relative_to(ref))), f
