"""Seeding covers python, numpy and torch; progress prints plain lines off a terminal."""
import random

import numpy as np
import torch

from common.divergence import check_finite
from common.errors import Diverged
from common.progress import progress
from common.seeding import get_rng_state, seed_everything, set_rng_state

import pytest


def draws():
    return random.random(), float(np.random.rand()), float(torch.rand(1))


def test_seed_and_restore():
    seed_everything(5)
    first = draws()
    seed_everything(5)
    assert draws() == first
    state = get_rng_state()
    after = draws()
    set_rng_state(state)
    assert draws() == after


def test_plain_progress_lines(capsys):
    items = list(progress(range(5), desc="work", every=0.0))
    assert items == list(range(5))
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("work: 1/5") and out[-1].startswith("work: 5/5")


def test_check_finite():
    check_finite(3, a=torch.ones(2), b=np.zeros(3), c=1.0)
    with pytest.raises(Diverged, match="epoch 3"):
        check_finite(3, a=torch.tensor([1.0, float("nan")]))
    with pytest.raises(Diverged, match="reached"):
        check_finite(2, limit=10.0, u=np.array([11.0]))
