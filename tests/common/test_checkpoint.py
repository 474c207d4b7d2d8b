"""Atomic checkpoints: a crash in the middle of a write leaves the previous checkpoint intact."""
import pytest
import torch

from common import checkpoint
from common.checkpoint import load_checkpoint, save_checkpoint


def test_roundtrip_and_missing(tmp_path):
    assert load_checkpoint(tmp_path / "none.pt") is None
    save_checkpoint(tmp_path / "c.pt", {"w": torch.arange(3.0), "epoch": 4})
    state = load_checkpoint(tmp_path / "c.pt")
    assert state["epoch"] == 4 and torch.equal(state["w"], torch.arange(3.0))


def test_crash_mid_write_keeps_previous(tmp_path, monkeypatch):
    path = tmp_path / "c.pt"
    save_checkpoint(path, {"epoch": 1})

    def crashing_save(obj, f):
        f.write(b"partial bytes of a checkpoint")
        raise KeyboardInterrupt                        # e.g. the job is killed mid-write

    monkeypatch.setattr(checkpoint.torch, "save", crashing_save)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, {"epoch": 2})
    monkeypatch.undo()
    assert load_checkpoint(path) == {"epoch": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]     # no temp file left behind
