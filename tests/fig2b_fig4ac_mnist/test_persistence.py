"""Weights as .npz (test helpers), per-network checkpoint state, divergence handling."""
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from fig2b_fig4ac_mnist.src.paths import CONFIGS, FOLDER
from tests.fig2b_fig4ac_mnist.helpers import batch, load_weights, make_net, save_weights


def test_save_and_load_weights_npz(tmp_path):
    net = make_net(dtype=torch.float32)
    x, y = batch(4, seed=1, dtype=torch.float32)
    net.present(x, y, 5, train=True)
    save_weights(net, tmp_path / "w.npz")
    with np.load(tmp_path / "w.npz") as f:
        assert sorted(f.files) == sorted(["W1", "b1", "B1", "W2", "b2", "B2", "W3", "b3", "B3"])
        assert f["W1"].shape == (784, 300) and f["W3"].shape == (100, 10) and f["b2"].shape == (100,)
        np.testing.assert_array_equal(f["W2"], net.W[1].numpy())
    other = make_net(dtype=torch.float32, seed=5)
    load_weights(other, tmp_path / "w.npz")
    assert all(torch.equal(a, b) for a, b in zip(net.W + net.b + net.B, other.W + other.b + other.B))


def test_member_state_restores_the_trajectory():
    a = make_net(dtype=torch.float32, noise_width=0.2, noise_seed=7)
    x, y = batch(4, seed=2, dtype=torch.float32)
    a.present(x, y, 7, train=True)
    b = make_net(dtype=torch.float32, noise_width=0.2, noise_seed=99, seed=3)
    state = a.net.member_state(0)
    torch.save(state, tmp := Path(tempfile.mkdtemp()) / "s.pt")
    b.net.set_member_state(0, torch.load(tmp, weights_only=True))  # plain tensors, lists and numbers
    assert torch.equal(a.present(x, y, 9, train=True), b.present(x, y, 9, train=True))
    assert all(torch.equal(p, q) for p, q in zip(a.W, b.W))


def test_unstable_euler_ends_as_diverged(tmp_path):
    out = tmp_path / "div"
    res = subprocess.run([sys.executable, str(FOLDER / "src" / "train.py"), str(CONFIGS / "smoke.yaml"),
                          "dt=100", "tau=1", "tau_m=1", "--out", str(out)], capture_output=True, text=True,
                         timeout=300, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert res.returncode == 0, res.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "diverged" and summary["diverged_epoch"] == 1
