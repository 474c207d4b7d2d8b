"""voltage_form (docs/model/fig2cde_higgs_mnist_cifar10.md Q2): the authors' float32 evaluation u_hat = u + tau ((a - u + eps) / tau), with
u_hat - a handed down, equals the exact form u_hat = a + eps up to rounding until the rounding flips a
hard-sigmoid kink or a max-pool choice."""
from pathlib import Path

import pytest
import torch

from common.config import load_config
from fig2cde_higgs_mnist_cifar10.config import Config
from fig2cde_higgs_mnist_cifar10.model.le_layers import MaxPool2d
from fig2cde_higgs_mnist_cifar10.model.le_sequential import le_learning_rate
from fig2cde_higgs_mnist_cifar10.train import main, setup
from tests.fig2cde_higgs_mnist_cifar10.helpers import batch, make_net

CONFIGS = Path(__file__).resolve().parents[2] / "fig2cde_higgs_mnist_cifar10" / "configs"


def _flipped(a, b) -> bool:
    """A kink (r' of a hard sigmoid) or a max-pool argmax differs between the two networks."""
    return any(not torch.equal(sa.rp, sb.rp) or (isinstance(sa, MaxPool2d) and not torch.equal(sa.idx, sb.idx))
               for sa, sb in zip(a.stages, b.stages))


@pytest.mark.parametrize("task,n", [("higgs", 20), ("mnist", 10)])
def test_forms_agree_before_the_first_flip(task, n):
    """Training from the same init on the same batches (per-step coefficient 0.4 HIGGS, 0.16 LeNet as
    in the paper configs): until the first flip every weight and output agrees to <= 1e-6 (measured:
    <= 3e-7; the LeNet flips first at step 28, the MLP not within 300 steps; after the flip the
    LeNet forms part: 3e-4 in the weights by step 100, 1e-2 by step 300), and the two forms
    do differ by rounding (else the authors' form would not be engaged)."""
    M = {"higgs": 64.0, "mnist": 12.8}[task]
    nets = [make_net(task, dt=0.1, eta=le_learning_rate(M, n, 0.1), seed=3, voltage_form=form)
            for form in ("exact", "authors")]
    rounding = 0.0
    for t in range(60):
        x, y = batch(task, B=16, seed=100 + t // n)
        for net in nets:
            net.step(x, y, train=True)
        exact, authors = nets
        if _flipped(exact, authors):
            break
        for se, sa in zip(exact.weight_stages, authors.weight_stages):
            rounding = max(rounding, float((se.u_hat - sa.u_hat).abs().max()))
            assert (se.W - sa.W).abs().max() <= 1e-6 and (se.b - sa.b).abs().max() <= 1e-6
        assert (exact.output - authors.output).abs().max() <= 1e-6
    assert rounding > 0.0


def test_unknown_voltage_form_exits_2(tmp_path, capsys):
    out = tmp_path / "run"
    assert main([str(CONFIGS / "smoke_higgs_le.yaml"), "voltage_form=leaky", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'voltage_form'" in err[0]


def test_authors_form_runs_from_the_config(tmp_path):
    """The key reaches every weight layer of the trained network."""
    cfg = load_config(Config, CONFIGS / "smoke_mnist_le.yaml", ["voltage_form=authors"])
    trainer, _ = setup(cfg, torch.device("cpu"))
    assert {s.voltage_form for s in trainer.net.weight_stages} == {"authors"}
