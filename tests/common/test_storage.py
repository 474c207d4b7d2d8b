"""A run folder that cannot be written (a file in its place, read-only, full disk) ends the run with
exit code 2 and one line naming the folder; the last good checkpoint survives and the rerun resumes
to the metrics of an uninterrupted run; summary.json never stays `running` unexplained; the files it
writes get the mode of any new file."""
import errno
import json
import os
import subprocess

import pytest

from common import atomic
from tests.common.runs import metrics, run, status


def one_line(err, folder):
    assert len(err) == 1 and str(folder) in err[0] and "Traceback" not in err[0], err
    return err[0]


def test_out_is_a_file(tmp_path, capsys):
    (tmp_path / "run").write_text("not a folder")
    code, err = run(tmp_path, capsys)
    assert code == 2 and "is a file" in one_line(err, tmp_path / "run")


@pytest.fixture
def mount(tmp_path):
    """mount(args, target): a real mount under tmp_path, unmounted afterwards; skip where not allowed."""
    mounted = []

    def do(args, target):
        target.mkdir(parents=True, exist_ok=True)
        out = subprocess.run(["mount", *args, str(target)], capture_output=True, text=True)
        if out.returncode != 0:
            pytest.skip(f"cannot mount here ({out.stderr.strip()}): needs root with CAP_SYS_ADMIN")
        mounted.append(target)

    yield do
    for target in reversed(mounted):
        subprocess.run(["umount", "-l", str(target)], capture_output=True)


def test_read_only_folder(tmp_path, capsys, mount):
    src = tmp_path / "src"
    src.mkdir()
    ro = tmp_path / "ro"
    mount(["--bind", "-o", "ro", str(src)], ro)          # chmod does not stop root
    if os.access(ro, os.W_OK) and subprocess.run(["touch", str(ro / "x")]).returncode == 0:
        pytest.skip("the bind mount is not read-only here")
    code, err = run(tmp_path, capsys, out="ro/run")
    assert code == 2 and "Read-only" in one_line(err, tmp_path / "ro" / "run")


def enospc_on(monkeypatch, name, after=0):
    """os.write raises ENOSPC for temp files of `name`, from the (after+1)-th such write on."""
    real, seen = os.write, [0]

    def write(fd, data):
        if os.readlink(f"/proc/self/fd/{fd}").split("/")[-1].startswith(name + "."):
            seen[0] += 1
            if seen[0] > after:
                real(fd, bytes(data[:10]))
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd, data)

    monkeypatch.setattr(atomic.os, "write", write)


def test_disk_full_while_checkpointing(tmp_path, capsys, monkeypatch):
    assert run(tmp_path, capsys, out="reference")[0] == 0
    folder = tmp_path / "run"
    enospc_on(monkeypatch, "checkpoint.pt", after=2)      # epochs 0 and 1 are saved, epoch 2 is not
    code, err = run(tmp_path, capsys)
    monkeypatch.undo()
    assert code == 2 and "No space left on device" in one_line(err, folder)
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["status"] == "failed" and "No space left" in summary["error"]
    assert not list(folder.glob("*.tmp"))
    assert run(tmp_path, capsys)[0] == 0 and status(folder) == "completed"
    assert metrics(folder) == metrics(tmp_path / "reference")


def test_disk_full_while_writing_the_summary(tmp_path, capsys, monkeypatch):
    assert run(tmp_path, capsys, out="reference")[0] == 0
    folder = tmp_path / "run"
    enospc_on(monkeypatch, "summary.json", after=3)       # also the attempt to record `failed`
    code, err = run(tmp_path, capsys)
    monkeypatch.undo()
    assert code == 2 and "summary.json" in one_line(err, folder)
    assert not list(folder.glob("*.tmp"))                 # no 0-byte summary.json.tmp
    assert status(folder) == "running"                    # could not be recorded ...
    code = run(tmp_path, capsys)[0]
    assert code == 0 and status(folder) == "completed"
    assert "ended without recording why" in (folder / "log.txt").read_text()   # ... and is said so
    assert metrics(folder) == metrics(tmp_path / "reference")


@pytest.mark.parametrize("room", [12_000, 16_000, 28_000])   # summary, metrics.csv, checkpoint fail
def test_really_full_disk(tmp_path, capsys, mount, room):
    """A tiny tmpfs filled up: whatever write fails first, the run ends in one line and resumes."""
    assert run(tmp_path, capsys, out="reference")[0] == 0
    disk = tmp_path / "disk"
    mount(["-t", "tmpfs", "-o", "size=64k", "tmpfs"], disk)
    filler = disk / "filler"
    with open(filler, "wb") as f:
        try:
            f.write(b"x" * 200_000)
        except OSError:
            pass
    filler.write_bytes(filler.read_bytes()[:-room])     # room for some, not all, of the run
    folder = disk / "run"
    code, err = run(tmp_path, capsys, out="disk/run")
    assert code == 2 and "No space left on device" in one_line(err, folder)
    assert not list(folder.glob("*.tmp"))
    recorded = (folder / "summary.json").exists() and status(folder)
    assert recorded in (False, "running", "failed")
    filler.unlink()
    assert run(tmp_path, capsys, out="disk/run")[0] == 0 and status(folder) == "completed"
    assert metrics(folder) == metrics(tmp_path / "reference")
    if recorded == "running":
        assert "ended without recording why" in (folder / "log.txt").read_text()


def test_run_files_get_the_mode_of_a_new_file(tmp_path, capsys):
    """Files written atomically are readable as any new file is (0666 less the umask), not mkstemp's 0600."""
    old = os.umask(0o022)
    try:
        mode = atomic._new_file_mode()
    finally:
        os.umask(old)
    assert mode == 0o644
    code, _ = run(tmp_path, capsys)
    assert code == 0
    for name in ("config.yaml", "summary.json", "checkpoint.pt"):
        assert (tmp_path / "run" / name).stat().st_mode & 0o777 == atomic.NEW_FILE_MODE, name
