"""The update-matched BP baseline (`bp_baseline: update_matched`): in the small-beta limit it changes
the weights as LE does, from the same init on the same batches."""
from pathlib import Path

import pytest
import torch

from common.config import load_config
from fig2cde_higgs_mnist_cifar10.config import Config
from fig2cde_higgs_mnist_cifar10.model.le_layers import Conv2d
from fig2cde_higgs_mnist_cifar10.train import main, setup

CONFIGS = Path(__file__).resolve().parents[2] / "fig2cde_higgs_mnist_cifar10" / "configs"


def _weights_bp_layout(trainer):
    """[(W, b)] per weight layer, W in torch's [out, in] / [F, C, k, k] layout."""
    if hasattr(trainer, "net"):
        return [(s.W if isinstance(s, Conv2d) else s.W.t(), s.b) for s in trainer.net.weight_stages]
    mods = [m for m in trainer.model if hasattr(m, "weight")]
    return [(m.weight.detach(), m.bias.detach()) for m in mods]


@pytest.mark.parametrize("task,M", [("higgs", 640), ("mnist", 128)])
def test_matches_le_in_the_small_beta_limit(task, M):
    """beta = 1e-3, n_updates = 100, 2 batches of 8 from the smoke configs: the weight change of every
    tensor differs from LE's by <= 5 % of its norm (measured: <= 3.1 % HIGGS, <= 3.9 % LeNet; the
    rest is LE's pipeline delay, the first ~8-10 steps of each batch, and its error lagging the
    weights). A wrong per-layer rate (factor f_k, beta, n_updates or the conv-bias 1/T^2) shows up
    as a difference of tens of percent."""
    over = ["beta=0.001", "n_updates=100", f"batch_learning_multiplier={M}", "batch_size=8"]
    le, le_loaders = setup(load_config(Config, CONFIGS / f"smoke_{task}_le.yaml", over), torch.device("cpu"))
    bp, bp_loaders = setup(load_config(Config, CONFIGS / f"smoke_{task}_bp_matched.yaml", over),
                           torch.device("cpu"))
    start = [(w.clone(), b.clone()) for w, b in _weights_bp_layout(bp)]
    assert all(torch.equal(w0, w) and torch.equal(b0, b) for (w0, b0), (w, b) in zip(start, _weights_bp_layout(le)))
    for (x, labels), (x_bp, labels_bp), _ in zip(le_loaders["train"], bp_loaders["train"], range(2)):
        assert torch.equal(x, x_bp) and torch.equal(labels, labels_bp)  # the same batches
        le.train_batch(x, labels)
        bp.train_batch(x, labels)
    for (w0, b0), (w_le, b_le), (w_bp, b_bp) in zip(start, _weights_bp_layout(le), _weights_bp_layout(bp)):
        for p0, p_le, p_bp in ((w0, w_le, w_bp), (b0, b_le, b_bp)):
            d_bp = p_bp - p0
            # it learned, far above the float32 rounding of the weights (~1e-7 relative)
            assert float(d_bp.norm()) > 3e-5 * float(p0.norm())
            assert float((p_le - p0 - d_bp).norm()) <= 0.05 * float(d_bp.norm())


@pytest.mark.parametrize("config,override,key", [
    ("smoke_higgs_bp_matched", "lr=0.1", "lr"),  # the matched rate comes from the LE keys
    ("smoke_higgs_bp_matched", "dt=0.1", "dt"),  # dt cancels in the per-step rate
    ("smoke_higgs_bp_matched", "beta=null", "beta"),
    ("smoke_higgs_bp", "n_updates=10", "n_updates"),  # authors' BP: one step per batch
    ("smoke_higgs_bp", "bp_baseline=null", "bp_baseline"),
    ("smoke_higgs_le", "bp_baseline=authors", "bp_baseline"),
])
def test_keys_of_the_wrong_baseline_exit_2(tmp_path, capsys, config, override, key):
    out = tmp_path / "run"
    assert main([str(CONFIGS / f"{config}.yaml"), override, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"'{key}'" in err[0], err
    assert not out.exists()
