"""docs/model/fig2b_fig4ac_mnist.md §8 T12: split, pixel scaling, batch order and the epoch schedule."""
import csv
import json

import pytest
import torch

from fig2b_fig4ac_mnist.src import ensemble_runs, train as train_mod
from fig2b_fig4ac_mnist.src.data import Split, batch_order, split_indices, to_rates
from fig2b_fig4ac_mnist.src.paths import CONFIGS


def test_split_and_batches_match_the_authors():
    tr, va, te = split_indices(60_000, 10_000, -1, -1, -1)
    assert (tr.start, tr.stop, va.start, va.stop, te.start, te.stop) == (0, 50_000, 50_000, 60_000, 0, 10_000)
    batches = batch_order(len(tr), 512, False, None)
    assert len(batches) == 97 and torch.equal(batches[0], torch.arange(512))
    assert torch.equal(torch.cat(batches), torch.arange(49_664))  # fixed order, drop_last (docs/model/fig2b_fig4ac_mnist.md Q5)
    assert torch.equal(torch.cat(batch_order(len(tr), 512, False, None)), torch.cat(batches))
    assert sum(len(b) for b in batch_order(len(va), 512, False, None)) == 9_728
    shuffled = batch_order(len(tr), 512, True, torch.Generator().manual_seed(0))
    assert len(shuffled) == 97 and not torch.equal(shuffled[0], batches[0])


def test_pixels_are_divided_by_256():
    images = torch.tensor([[[0, 255], [128, 1]]], dtype=torch.uint8)
    x = to_rates(images)
    assert x.shape == (1, 4) and x.max().item() == 255 / 256 and x[0, 2].item() == 0.5


class CountingNet:
    """Stands in for LENetwork: counts the steps of each mode."""

    K, batch = 1, None

    def __init__(self, cfgs, device="cpu", dtype=torch.float32, noise_seeds=None):
        self.train_steps, self.eval_steps = 0, 0
        self.W = [torch.zeros(1, 1)]
        self.device = torch.device(device)

    def present(self, x, y, n_updates, train):
        if train:
            self.train_steps += n_updates
        else:
            self.eval_steps += n_updates
        return torch.zeros_like(y).expand(1, *y.shape[-2:])  # K x B x classes

    def member_state(self, k):
        return {"train": self.train_steps, "eval": self.eval_steps}


def _run_schedule(tmp_path, monkeypatch, epoch_qty):
    nets = []
    monkeypatch.setattr(ensemble_runs, "LENetwork", lambda *a, **k: nets.append(CountingNet(*a, **k)) or nets[-1])

    def fake_splits(cfg, device, dtype):
        def split(n):  # zero-stride 1-pixel images: the sample counts of MNIST without the memory
            return Split(torch.zeros(1, 1).expand(n, -1), torch.zeros(1, 10).expand(n, -1))
        return split(50_000), split(10_000), split(10_000)

    monkeypatch.setattr(ensemble_runs, "load_splits", fake_splits)
    out = tmp_path / "run"
    assert train_mod.main([str(CONFIGS / "2b_le.yaml"), "device=cpu", f"epoch_qty={epoch_qty}",
                           "--out", str(out)]) == 0
    net = nets[0]
    assert net.train_steps == (epoch_qty - 1) * 9_700  # epoch 0 is evaluation only
    assert net.eval_steps == epoch_qty * 1_900 + 1_900
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    assert [r["split"] for r in rows].count("val") == epoch_qty and [r["split"] for r in rows].count("test") == 1
    assert [int(r["epoch"]) for r in rows if r["split"] == "val"] == list(range(epoch_qty))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["final"]["test_error"] == 0.0  # all-zero outputs and labels: argmax 0 both


def test_schedule_counts(tmp_path, monkeypatch):
    _run_schedule(tmp_path, monkeypatch, 5)


@pytest.mark.slow
def test_schedule_of_a_200_epoch_run(tmp_path, monkeypatch):
    _run_schedule(tmp_path, monkeypatch, 200)
