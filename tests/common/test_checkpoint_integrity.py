"""A checkpoint or summary that cannot be trusted stops the resume with exit code 2 and one line that
names the file and offers --restart; nothing is overwritten and nothing claims to be complete."""
import hashlib
import io
import json
import pickle
import shutil

import numpy as np
import pytest
import torch

from common.checkpoint import MAGIC, load_checkpoint, save_checkpoint
from tests.common.runs import interrupted_run, metrics, run, status


def refused(tmp_path, capsys, name):
    code, err = run(tmp_path, capsys)
    assert code == 2 and len(err) == 1, err
    assert str(tmp_path / "run" / name) in err[0] and "--restart" in err[0]
    return err[0]


def truncate(p):
    p.write_bytes(p.read_bytes()[:len(p.read_bytes()) // 2])


def empty(p):
    p.write_bytes(b"")


def garbage(p):
    p.write_bytes(np.random.default_rng(0).bytes(3000))


def flip_64_bytes(p):
    raw = bytearray(p.read_bytes())
    middle = len(raw) // 2
    raw[middle:middle + 64] = bytes(b ^ 0xFF for b in raw[middle:middle + 64])
    p.write_bytes(bytes(raw))


def directory(p):
    p.unlink()
    p.mkdir()


@pytest.mark.parametrize("damage, words", [(truncate, "damaged"), (empty, "empty"),
                                           (garbage, "not a checkpoint"), (flip_64_bytes, "damaged")])
def test_damaged_checkpoint(tmp_path, capsys, monkeypatch, damage, words):
    folder = interrupted_run(tmp_path, capsys, monkeypatch)
    damage(folder / "checkpoint.pt")
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file() and p.name != "summary.json"}
    assert words in refused(tmp_path, capsys, "checkpoint.pt")
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["status"] == "failed" and "checkpoint.pt" in summary["error"]
    after = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file() and p.name != "summary.json"}
    assert after == before                       # the evidence is kept as it was
    assert refused(tmp_path, capsys, "checkpoint.pt")         # still refused on the next try
    code, _ = run(tmp_path, capsys, "--restart")
    assert code == 0 and status(folder) == "completed"


def test_directory_in_place_of_the_checkpoint(tmp_path, capsys, monkeypatch):
    """The project never writes a folder named checkpoint.pt: the folder is not used, even with
    --restart, and nothing in it is removed."""
    folder = interrupted_run(tmp_path, capsys, monkeypatch)
    directory(folder / "checkpoint.pt")
    (folder / "checkpoint.pt" / "mine.txt").write_text("kept")
    for extra in ((), ("--restart",)):
        code, err = run(tmp_path, capsys, *extra)
        assert code == 2 and len(err) == 1 and "checkpoint.pt/" in err[0] and "did not write" in err[0]
    assert (folder / "checkpoint.pt" / "mine.txt").read_text() == "kept"
    assert status(folder) == "interrupted"


def test_checkpoint_of_another_run(tmp_path, capsys, monkeypatch):
    folder = interrupted_run(tmp_path, capsys, monkeypatch)
    assert run(tmp_path, capsys, "lr=0.01", out="other")[0] == 0
    shutil.copyfile(tmp_path / "other" / "checkpoint.pt", folder / "checkpoint.pt")
    assert "'lr': 0.01 there, 0.05 now" in refused(tmp_path, capsys, "checkpoint.pt")
    assert status(folder) == "failed"


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_pickle_code_in_a_checkpoint_never_runs(tmp_path):
    flag = tmp_path / "code_ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(flag), "w"))

    buffer = io.BytesIO()
    torch.save({"epoch": Payload()}, buffer)    # a torch file whose unpickling would call open()
    path = tmp_path / "checkpoint.pt"
    for blob in (pickle.dumps({"epoch": Payload()}), buffer.getvalue()):
        path.write_bytes(MAGIC + hashlib.sha256(blob).hexdigest().encode() + b"\n" + blob)
        with pytest.raises(Exception, match="cannot be read"):
            load_checkpoint(path)
    assert not flag.exists()


def test_numpy_values_round_trip(tmp_path):
    rng = np.random.RandomState(3)
    state = {"S": np.arange(12, dtype=np.float32).reshape(3, 4), "active": np.array([True, False]),
             "rng": rng.get_state(), "t": np.float64(0.25), "n": 7, "w": torch.ones(2)}
    save_checkpoint(tmp_path / "c.pt", state)
    back = load_checkpoint(tmp_path / "c.pt")
    assert back["S"].dtype == np.float32 and np.array_equal(back["S"], state["S"])
    assert back["active"].tolist() == [True, False] and back["t"] == 0.25 and back["n"] == 7
    rng2 = np.random.RandomState()
    rng2.set_state(back["rng"])
    assert rng2.rand() == rng.rand()


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '{"status": "done"}'])
def test_broken_summary(tmp_path, capsys, monkeypatch, text):
    folder = interrupted_run(tmp_path, capsys, monkeypatch)
    (folder / "summary.json").write_text(text)
    refused(tmp_path, capsys, "summary.json")
    assert (folder / "summary.json").read_text() == text


def test_leftover_temp_files_are_removed_and_resume_is_exact(tmp_path, capsys, monkeypatch):
    assert run(tmp_path, capsys, out="reference")[0] == 0
    folder = interrupted_run(tmp_path, capsys, monkeypatch)
    (folder / "checkpoint.pt.k2j4x.tmp").write_bytes(b"half a checkpoint")   # a killed save
    (folder / "summary.json.tmp").write_text("")
    assert run(tmp_path, capsys)[0] == 0
    assert not list(folder.glob("*.tmp"))
    assert metrics(folder) == metrics(tmp_path / "reference")
