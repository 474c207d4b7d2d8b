"""Tiny learnable data sets, loaded through common.data: MNIST-like IDX .gz and HIGGS csv in the real
formats; CIFAR-10 as npz files that only a `synthetic_root`/`write_cifar10` call makes readable."""
import atexit
import gzip
import shutil
import struct
import tempfile
from pathlib import Path

import numpy as np

from common.data import SYNTHETIC_CIFAR10, register_synthetic_cifar10

_ROOTS = {}


def write_idx_gz(path, array):
    """An IDX file (as distributed by MNIST/Fashion-MNIST): uint8 data, big-endian header, gzipped."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.tobytes())


def _images(rng, n, shape, n_classes=10):
    """Class prototypes (random smooth patterns) times a random intensity, plus noise."""
    protos = rng.random((n_classes,) + shape)
    for axis in range(len(shape)):
        protos = (protos + np.roll(protos, 1, axis=axis + 1) + np.roll(protos, -1, axis=axis + 1)) / 3
    protos = (protos > np.median(protos)).astype(np.float64)
    labels = np.arange(n) % n_classes
    rng.shuffle(labels)
    x = protos[labels] * rng.uniform(0.6, 1.0, (n,) + (1,) * len(shape)) * 255
    x = x + rng.normal(0, 30, x.shape)
    return np.clip(x, 0, 255).astype(np.uint8), labels.astype(np.uint8)


def write_mnist_like(folder, n_train, n_test, seed=0):
    """train-/t10k- images and labels as IDX .gz files in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    x, y = _images(rng, n_train + n_test, (28, 28))
    for prefix, sl in (("train", slice(0, n_train)), ("t10k", slice(n_train, None))):
        write_idx_gz(folder / f"{prefix}-images-idx3-ubyte.gz", x[sl])
        write_idx_gz(folder / f"{prefix}-labels-idx1-ubyte.gz", y[sl])


def write_cifar10(root, n_train, n_test, seed=0):
    """cifar-10-synthetic/{train,test}.npz (x uint8 [N, 3, 32, 32], y int64 [N]) under `root`, which
    load_vision reads from then on in this process. Not the pickle batches of the real data set:
    real batches are only read after torchvision's md5 check, which synthetic ones cannot pass."""
    folder = Path(root) / SYNTHETIC_CIFAR10
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    x, y = _images(rng, n_train + n_test, (3, 32, 32))
    for name, sl in (("train", slice(0, n_train)), ("test", slice(n_train, None))):
        np.savez(folder / f"{name}.npz", x=x[sl], y=y[sl].astype(np.int64))
    register_synthetic_cifar10(root)


def write_higgs(path, n_rows, seed=0):
    """HIGGS.csv.gz in the UCI format: label (0/1) then 28 features, no header."""
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 2, n_rows)
    shift = rng.normal(0, 1, 28) * 0.8
    features = rng.normal(0, 1, (n_rows, 28)) + label[:, None] * shift + 1.0
    table = np.column_stack([label.astype(np.float64), features])
    with gzip.open(path, "wt") as f:
        np.savetxt(f, table, delimiter=",", fmt=["%.1f"] + ["%.6f"] * 28)


def synthetic_root(kind, n_train=600, n_test=200, seed=0, root=None):
    """A data root holding a tiny `kind` data set ('mnist', 'fashion_mnist', 'cifar10', 'higgs').

    Without `root`, a temporary folder is made once per process and arguments, removed at exit.
    For 'higgs', n_train + n_test rows are written.
    """
    key = (kind, n_train, n_test, seed)
    if root is None and key in _ROOTS:
        return _ROOTS[key]
    if root is None:
        root = Path(tempfile.mkdtemp(prefix=f"le-synthetic-{kind}-"))
        atexit.register(shutil.rmtree, root, True)
        _ROOTS[key] = root
    root = Path(root)
    if kind == "mnist":
        write_mnist_like(root / "MNIST" / "raw", n_train, n_test, seed)
    elif kind == "fashion_mnist":
        write_mnist_like(root / "FashionMNIST" / "raw", n_train, n_test, seed)
    elif kind == "cifar10":
        write_cifar10(root, n_train, n_test, seed)
    elif kind == "higgs":
        root.mkdir(parents=True, exist_ok=True)
        write_higgs(root / "HIGGS.csv.gz", n_train + n_test, seed)
    else:
        raise ValueError(f"unknown synthetic data set '{kind}'")
    return root
