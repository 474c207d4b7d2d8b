"""MNIST, Fashion-MNIST, CIFAR-10 (torchvision) and HIGGS (UCI csv), with clear missing-data errors."""
import gzip
import os
import shutil
from pathlib import Path

import numpy as np
import torch
import torchvision

from common.errors import UsageError

REPO = Path(__file__).resolve().parents[1]
FASHION_DEBIAN = Path("/usr/share/datasets/fashion-mnist")
IDX_FILES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
HIGGS_URL = "https://archive.ics.uci.edu/ml/machine-learning-databases/00280/HIGGS.csv.gz"
SOURCES = {
    "mnist": "https://yann.lecun.com/exdb/mnist/ (torchvision mirror: ossci-datasets.s3.amazonaws.com/mnist/)",
    "fashion_mnist": "https://github.com/zalandoresearch/fashion-mnist",
    "cifar10": "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
}


class DataMissing(UsageError):
    pass


def data_root(root=None):
    """The argument, else $LE_DATA_DIR, else <repo>/data."""
    if root is not None:
        return Path(root)
    return Path(os.environ.get("LE_DATA_DIR") or REPO / "data")


def _idx_source(folder):
    """A folder holding all four IDX files, plain or .gz, or None."""
    if all((folder / n).is_file() or (folder / f"{n}.gz").is_file() for n in IDX_FILES):
        return folder
    return None


def _install_idx(source, raw):
    """Put plain IDX files into torchvision's raw/ folder (gunzipping the distributed .gz files)."""
    raw.mkdir(parents=True, exist_ok=True)
    for name in IDX_FILES:
        target = raw / name
        if target.is_file():
            continue
        if (source / name).is_file():
            shutil.copyfile(source / name, target)
            continue
        tmp = target.with_suffix(".part")
        with gzip.open(source / f"{name}.gz", "rb") as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst)
        os.replace(tmp, target)


def _missing(name, root, expected, download_error=None):
    lines = [f"{name} not found under {root}: expected {', '.join(str(p) for p in expected)}.",
             f"Get it with `python scripts/fetch_data.py {name}` (source: {SOURCES[name]}),",
             "or set LE_DATA_DIR to a folder that holds it, or set `download: true` in the config."]
    if name == "fashion_mnist":
        lines.append(f"Debian: `apt-get install dataset-fashion-mnist` puts the files in {FASHION_DEBIAN}.")
    if name == "mnist":
        lines.append("Fashion-MNIST can stand in for MNIST: `dataset=fashion_mnist`.")
    if download_error:
        lines.append(f"(download failed: {download_error})")
    return DataMissing(" ".join(lines))


class _SyntheticCIFAR10(torchvision.datasets.CIFAR10):
    """The real CIFAR-10 reader; the md5 check is skipped because synthetic batches are not the
    official files (common/synthetic.py marks them)."""

    meta = dict(torchvision.datasets.CIFAR10.meta, md5=None)

    def _check_integrity(self):
        return True


def _load_mnist_like(name, train, root, download):
    cls, folder = {"mnist": (torchvision.datasets.MNIST, "MNIST"),
                   "fashion_mnist": (torchvision.datasets.FashionMNIST, "FashionMNIST")}[name]
    raw = root / folder / "raw"
    candidates = [raw, root / folder, root]
    if name == "fashion_mnist":
        candidates.append(FASHION_DEBIAN)
    source = next((c for c in candidates if _idx_source(c)), None)
    if source is not None:
        _install_idx(source, raw)
    try:
        ds = cls(str(root), train=train, download=download)
    except (RuntimeError, OSError) as err:                 # OSError: URLError when offline
        expected = [raw / f"{n}[.gz]" for n in IDX_FILES]
        if name == "fashion_mnist":
            expected.append(FASHION_DEBIAN)
        raise _missing(name, root, expected, str(err).splitlines()[0] if download else None)
    return ds.data, ds.targets                            # uint8 [N, 28, 28], int64 [N]


def _load_cifar10(train, root, download):
    folder = root / "cifar-10-batches-py"
    cls = _SyntheticCIFAR10 if (folder / "SYNTHETIC").is_file() else torchvision.datasets.CIFAR10
    try:
        ds = cls(str(root), train=train, download=download)
    except (RuntimeError, OSError) as err:                 # OSError: URLError when offline
        expected = [folder / n for n in ["data_batch_1 ... data_batch_5", "test_batch", "batches.meta"]]
        raise _missing("cifar10", root, expected, str(err).splitlines()[0] if download else None)
    x = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()    # uint8 [N, 3, 32, 32]
    return x, torch.tensor(ds.targets, dtype=torch.int64)            # int64 [N]


def load_vision(name, train=True, root=None, download=False):
    """Images and labels of 'mnist', 'fashion_mnist' or 'cifar10' (uint8 images, int64 labels)."""
    root = data_root(root)
    if name in ("mnist", "fashion_mnist"):
        return _load_mnist_like(name, train, root, download)
    if name == "cifar10":
        return _load_cifar10(train, root, download)
    raise UsageError(f"unknown data set '{name}' (allowed: mnist, fashion_mnist, cifar10)")


def higgs_path(root=None):
    root = data_root(root)
    for path in (root / "HIGGS.csv", root / "HIGGS.csv.gz"):
        if path.is_file():
            return path
    raise DataMissing(
        f"HIGGS not found: expected {root / 'HIGGS.csv'} or {root / 'HIGGS.csv.gz'} (UCI format: label "
        f"then 28 features, no header). Get it with `python scripts/fetch_data.py higgs` "
        f"(source: {HIGGS_URL}, 2.6 GB), or set LE_DATA_DIR to a folder that holds it.")


def load_higgs(root=None, max_rows=None):
    """Features float32 [N, 28] and labels float32 [N] from the first `max_rows` rows."""
    path = higgs_path(root)
    try:
        table = np.loadtxt(path, delimiter=",", dtype=np.float32, max_rows=max_rows, ndmin=2)
    except ValueError as err:
        raise UsageError(f"{path} is not in the UCI HIGGS format: {err}")
    if table.shape[1] != 29:
        raise UsageError(f"{path} has {table.shape[1]} columns; the UCI HIGGS format has 29 "
                         "(label then 28 features)")
    return torch.from_numpy(table[:, 1:].copy()), torch.from_numpy(table[:, 0].copy())
