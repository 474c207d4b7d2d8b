"""The epoch loop reads the device once per pass: the members' summed losses and correct counts stay
on the device batch after batch (on a GPU every read of a tensor's value waits for the device), and
the one read gives each member's own pass record."""
import pytest
import torch

from common.config import load_config
from fig2cde_higgs_mnist_cifar10 import train
from fig2cde_higgs_mnist_cifar10.config import Config
from fig2cde_higgs_mnist_cifar10.ensemble import build_ensemble
from tests.fig2cde_higgs_mnist_cifar10.helpers import one_math_thread  # noqa: F401
from tests.fig2cde_higgs_mnist_cifar10.test_cli import CONFIGS

pytestmark = pytest.mark.usefixtures("one_math_thread")

READS = ("item", "tolist", "__float__", "__int__", "__bool__", "numpy")  # a tensor's value to the host


class _NoStop:
    def check_stop(self):
        pass


def _members(config, seeds):
    cfgs = [load_config(Config, CONFIGS / config, [f"seed={s}", "train_samples=48", "eval_samples=32"])
            for s in seeds]
    pairs = [train.setup(c, torch.device("cpu")) for c in cfgs]
    return cfgs[0], [t for t, _ in pairs], [ld for _, ld in pairs]


@pytest.mark.parametrize("config", ["smoke_higgs_le.yaml", "smoke_mnist_le.yaml", "smoke_higgs_bp.yaml",
                                    "smoke_higgs_bp_matched.yaml"])
@pytest.mark.parametrize("split,train_mode", [("train", True), ("val", False)])
def test_a_pass_reads_the_device_once(monkeypatch, config, split, train_mode):
    cfg0, trainers, loaders = _members(config, (1, 2))
    ens = build_ensemble(cfg0, trainers, "cpu")
    reads = []
    for name in READS:
        original = getattr(torch.Tensor, name)
        monkeypatch.setattr(torch.Tensor, name,
                            lambda self, *a, _n=name, _f=original, **k: reads.append(_n) or _f(self, *a, **k))
    records = train.run_epoch(ens, [ld[split] for ld in loaders], [], _NoStop(), train_mode, split)
    monkeypatch.undo()
    assert len(loaders[0][split]) >= 2 and reads == ["tolist"]
    # the record of member 2 is that of its own single run, which reads as often as it likes
    _, (single,), (ld,) = _members(config, (2,))
    step = single.train_batch if train_mode else single.eval_batch
    sums = [0.0, 0.0]
    for x, labels in ld[split]:
        loss, correct = step(x, labels).tolist()
        sums = [sums[0] + loss, sums[1] + correct]
    assert records[1] == train.epoch_record(sums[0], sums[1], ld[split])
