"""Atomic checkpoints: a crash in the middle of a write leaves the previous checkpoint intact."""
import os

import pytest
import torch

from common import atomic
from common.checkpoint import load_checkpoint, save_checkpoint


def test_roundtrip_and_missing(tmp_path):
    assert load_checkpoint(tmp_path / "none.pt") is None
    save_checkpoint(tmp_path / "c.pt", {"w": torch.arange(3.0), "epoch": 4})
    state = load_checkpoint(tmp_path / "c.pt")
    assert state["epoch"] == 4 and torch.equal(state["w"], torch.arange(3.0))


def test_crash_mid_write_keeps_previous(tmp_path, monkeypatch):
    path = tmp_path / "c.pt"
    save_checkpoint(path, {"epoch": 1})
    real_write = os.write

    def crashing_write(fd, data):
        real_write(fd, bytes(data[:100]))              # part of the file reaches the disk ...
        raise KeyboardInterrupt                        # ... then the job is killed

    monkeypatch.setattr(atomic.os, "write", crashing_write)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, {"epoch": 2, "w": torch.zeros(1000)})
    monkeypatch.undo()
    assert load_checkpoint(path) == {"epoch": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]     # no temp file left behind
