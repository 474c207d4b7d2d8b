"""Data of the two tasks: the 3x3 bars patterns (model §4.1) and the mimic teacher pairs (model §6)."""
import numpy as np

from common.errors import Diverged

from .network import Microcircuits
from .protocol import RUNAWAY


def bars_patterns(drop_last=True):
    """Bars images (P, 9) float64, row-major, and labels (P,) int.

    The generator yields 3 horizontal bars (np.unique order: bottom, middle, top row), their transposes
    (right, middle, left column) and diagonals cycling main, anti, main. The authors slice off the last
    sample (model Q8): drop_last=True gives their 8 patterns, False all 9."""
    rows = [np.zeros((3, 3)) for _ in range(3)]
    for img, r in zip(rows, (2, 1, 0)):
        img[r, :] = 1.0
    cols = [img.T.copy() for img in rows]
    diag = np.eye(3)
    diags = [diag, diag[::-1].copy(), diag]
    images = np.array([img.reshape(-1) for img in rows + cols + diags], dtype=np.float64)  # (9, 9)
    labels = np.array([0] * 3 + [1] * 3 + [2] * 3)
    if drop_last:
        images, labels = images[:-1], labels[:-1]
    return images, labels


def one_hot_targets(labels, n_classes, high, low):
    """Target potentials (P, n_classes): `high` at the label, `low` elsewhere (model §4.1)."""
    y = np.full((len(labels), n_classes), low, dtype=np.float64)
    y[np.arange(len(labels)), labels] = high
    return y


def bars_data(cfg):
    """(x (P, 9), y (P, 3)) target potentials of a bars config; train = val = test (model Q8)."""
    t = cfg.training
    x, labels = bars_patterns(drop_last=t.bars_drop_last_pattern)
    return x, one_hot_targets(labels, cfg.network.dims[-1], t.u_tgt_high, t.u_tgt_low)


def mimic_teacher_data(dims, params, teacher_seed, n_patterns, n_steps, bias_on, init_weights,
                       engine):
    """Teacher pairs of model §6.1: returns (x (P, N0) float64, y (P, N_L) float64, teacher weights).

    Teacher = Net(seed 42) reflected; inputs np.random.rand continue its stream; two evaluation runs
    (no learning, no nudging), each in its own permutation; the pairs come from the second run: the
    input at each pattern's first step (cast to float32, model Q14) and the mean ŭ^O over the pattern,
    which includes the switching transient (model Q14). Raises Diverged (epoch 0) if the teacher does.
    Its weights stay those of the reflected init: learning is off (the authors assert it)."""
    teacher = Microcircuits(dims, [params], [teacher_seed], bias_on=bias_on,
                            init_weights=init_weights, engine=engine)
    teacher.reflect()
    rng = teacher.rngs[0]
    inputs = rng.rand(n_patterns, dims[0])                                   # (P, N0)
    for _ in range(2):
        perm = rng.permutation(n_patterns)
        X = inputs[perm][None]                                               # (1, P, N0)
        T = np.zeros((1, n_patterns, dims[-1] + 1))
        res = teacher.run(X, T, learn=False, n=n_steps)
        if not teacher.active[0]:        # its targets would be meaningless
            raise Diverged(0, f"{RUNAWAY} in the teacher")
    x = X[0].astype(np.float32).astype(np.float64)                           # model Q14
    y = res.out[0].astype(np.float64)                                        # (P, N_L)
    return x, y, teacher.weights(0)
