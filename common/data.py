"""MNIST, Fashion-MNIST, CIFAR-10 (torchvision) and HIGGS (UCI csv): every file is checked on load,
and missing or broken data ends with one line naming the file, the fault and how to get a good copy."""
import gzip
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import torch
import torchvision
from torchvision.datasets.utils import check_integrity

from common.errors import UsageError

REPO = Path(__file__).resolve().parents[1]
FASHION_DEBIAN = Path("/usr/share/datasets/fashion-mnist")
IDX_FILES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
HIGGS_URL = "https://archive.ics.uci.edu/ml/machine-learning-databases/00280/HIGGS.csv.gz"
HIGGS_COLUMNS = 29                                   # label, then 28 features
SOURCES = {
    "mnist": "https://yann.lecun.com/exdb/mnist/ (torchvision mirror: ossci-datasets.s3.amazonaws.com/mnist/)",
    "fashion_mnist": "https://github.com/zalandoresearch/fashion-mnist",
    "cifar10": "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
    "higgs": HIGGS_URL,
}
MAX_IDX_BYTES = 1 << 28                              # 5x the largest MNIST-like file (47 MB)
IMAGE_SHAPES = {"mnist": (28, 28), "fashion_mnist": (28, 28), "cifar10": (3, 32, 32)}
N_CLASSES = 10
SYNTHETIC_CIFAR10 = "cifar-10-synthetic"             # folder of common.synthetic's npz files
_synthetic_cifar10_roots = set()


class DataMissing(UsageError):
    pass


class DataCorrupt(UsageError):
    """A data file is there but is not a good copy."""

    def __init__(self, path, fault, name):
        super().__init__(f"{path} {fault}; get a good copy with `python scripts/fetch_data.py {name}` "
                         f"(source: {SOURCES[name]}) after deleting it")


def data_root(root=None):
    """The argument, else $LE_DATA_DIR, else <repo>/data."""
    if root is not None:
        return Path(root)
    return Path(os.environ.get("LE_DATA_DIR") or REPO / "data")


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


# ------------------------------------------------------------------------------------ IDX files
def _idx_files(folder):
    """The four files in `folder`, each the distributed .gz if there, else plain; None if incomplete."""
    files = [folder / f"{n}.gz" if (folder / f"{n}.gz").is_file() else folder / n for n in IDX_FILES]
    return files if all(f.is_file() for f in files) else None


def _find_idx(candidates):
    """The first folder with all four .gz files, else the first with all four in any form: a .gz
    is read afresh on every load, so no unpacked copy can go stale behind a replaced .gz."""
    found = [files for files in map(_idx_files, candidates) if files]
    gz = [files for files in found if all(f.suffix == ".gz" for f in files)]
    chosen = (gz or found or [None])[0]
    return None if chosen is None else dict(zip(IDX_FILES, chosen))


def _read_idx(name, path, ndim):
    """A uint8 IDX array of `ndim` dimensions, checked against its own header. The header is read
    and checked first, so a header that promises more than MAX_IDX_BYTES (or overflows) allocates
    nothing, and a .gz is decompressed no further than its header promises."""
    opener = gzip.open if path.suffix == ".gz" else open
    header_bytes = 4 + 4 * ndim
    try:
        with opener(path, "rb") as f:
            header = f.read(header_bytes)
            if len(header) < header_bytes:
                raise DataCorrupt(path, f"holds {len(header)} bytes, less than an IDX header", name)
            if header[:4] != bytes([0, 0, 0x08, ndim]):
                raise DataCorrupt(path, f"does not start with the IDX magic number of a uint8 array of "
                                  f"{ndim} dimension(s) (00000803 or 00000801; found {header[:4].hex()})",
                                  name)
            dims = struct.unpack(f">{ndim}I", header[4:])
            size = math.prod(dims)                    # python ints: no overflow
            shape = "x".join(map(str, dims))
            if size > MAX_IDX_BYTES:
                raise DataCorrupt(path, f"has the header {shape}, {size} bytes, more than the "
                                  f"{MAX_IDX_BYTES} any {name} file holds", name)
            data = f.read(size + 1)
    except (OSError, EOFError, zlib.error) as err:       # BadGzipFile is an OSError
        raise DataCorrupt(path, f"is not a complete gzip file ({err})", name)
    if len(data) != size:
        raise DataCorrupt(path, f"holds {'more than ' if len(data) > size else ''}{min(len(data), size)} "
                          f"data bytes where its header {shape} promises {size}"
                          f"{' (truncated?)' if len(data) < size else ''}", name)
    return np.frombuffer(bytearray(data), dtype=np.uint8).reshape(dims)   # writable, for torch


def _read_idx_pair(name, files, prefix):
    images_path, labels_path = files[f"{prefix}-images-idx3-ubyte"], files[f"{prefix}-labels-idx1-ubyte"]
    images = _read_idx(name, images_path, 3)
    if images.shape[1:] != IMAGE_SHAPES[name]:
        raise DataCorrupt(images_path, f"holds {images.shape[1]}x{images.shape[2]} images; {name} images "
                          f"are {IMAGE_SHAPES[name][0]}x{IMAGE_SHAPES[name][1]}", name)
    labels = _read_idx(name, labels_path, 1)
    if len(labels) != len(images):
        raise DataCorrupt(labels_path, f"holds {len(labels)} labels for the {len(images)} images of "
                          f"{images_path.name}", name)
    if len(labels) and labels.max() >= N_CLASSES:
        raise DataCorrupt(labels_path, f"holds the label {labels.max()}; {name} labels are 0-9", name)
    return torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64))


def _load_mnist_like(name, train, root, download):
    cls, folder = {"mnist": (torchvision.datasets.MNIST, "MNIST"),
                   "fashion_mnist": (torchvision.datasets.FashionMNIST, "FashionMNIST")}[name]
    raw = root / folder / "raw"
    candidates = [raw, root / folder, root]
    fallback = [FASHION_DEBIAN] if name == "fashion_mnist" else []    # only when the data root has none
    expected = [raw / f"{n}[.gz]" for n in IDX_FILES] + fallback
    files = _find_idx(candidates) or _find_idx(fallback)
    if files is None and download:
        try:
            cls(str(root), train=train, download=True)   # torchvision checks the md5 of what it fetches
        except (RuntimeError, OSError) as err:           # OSError: URLError when offline
            raise _missing(name, root, expected, str(err).splitlines()[0])
        files = _find_idx(candidates)
    if files is None:
        raise _missing(name, root, expected)
    return _read_idx_pair(name, files, "train" if train else "t10k")   # uint8 [N, 28, 28], int64 [N]


# ------------------------------------------------------------------------------------ CIFAR-10
def register_synthetic_cifar10(root):
    """Let load_vision read the npz files that common.synthetic wrote under `root` (this process only:
    no file on disk can switch a data root to the synthetic reader)."""
    _synthetic_cifar10_roots.add(Path(root).resolve())


def _load_synthetic_cifar10(train, root):
    path = root / SYNTHETIC_CIFAR10 / ("train.npz" if train else "test.npz")
    with np.load(path, allow_pickle=False) as f:
        x, y = f["x"], f["y"]
    return torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))


def _load_cifar10(train, root, download):
    if root.resolve() in _synthetic_cifar10_roots:
        return _load_synthetic_cifar10(train, root)
    cls = torchvision.datasets.CIFAR10
    folder = root / cls.base_folder
    md5 = dict(cls.train_list + cls.test_list + [(cls.meta["filename"], cls.meta["md5"])])
    try:
        ds = cls(str(root), train=train, download=download)   # verifies the md5 of every batch file
    except (RuntimeError, OSError) as err:                    # OSError: URLError when offline
        if all((folder / f).is_file() for f in md5):
            bad = next(f for f in md5 if not check_integrity(str(folder / f), md5[f]))
            raise DataCorrupt(folder / bad, "does not match the md5 of the official CIFAR-10 file "
                              "(truncated or altered)", "cifar10")
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


# ------------------------------------------------------------------------------------ HIGGS
def higgs_path(root=None):
    root = data_root(root)
    for path in (root / "HIGGS.csv", root / "HIGGS.csv.gz"):
        if path.is_file():
            return path
    raise DataMissing(
        f"HIGGS not found: expected {root / 'HIGGS.csv'} or {root / 'HIGGS.csv.gz'} (UCI format: label "
        f"then 28 features, no header). Get it with `python scripts/fetch_data.py higgs` "
        f"(source: {HIGGS_URL}, 2.6 GB), or set LE_DATA_DIR to a folder that holds it.")


def _first_bad_line(path):
    """'line N: what is wrong' for the first line that is not 29 numbers (read only after a failure)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", errors="replace") as f:
        for number, line in enumerate(f, 1):
            cells = line.rstrip("\n").split(",")
            if len(cells) != HIGGS_COLUMNS:
                return f"line {number} has {len(cells)} columns"
            for column, cell in enumerate(cells, 1):
                try:
                    float(cell)
                except ValueError:
                    return f"line {number}, column {column} is not a number ({cell.strip()[:20]!r})"
    return "unreadable line"


def load_higgs(root=None, max_rows=None):
    """Features float32 [N, 28] and labels float32 [N] from the first `max_rows` rows."""
    path = higgs_path(root)
    fmt = f"is not in the UCI HIGGS format ({HIGGS_COLUMNS} comma-separated numbers a row: label, 28 features)"
    try:
        table = np.loadtxt(path, delimiter=",", dtype=np.float32, max_rows=max_rows, ndmin=2)
    except (EOFError, zlib.error, gzip.BadGzipFile) as err:
        raise DataCorrupt(path, f"is not a complete gzip file ({err})", "higgs")
    except ValueError:
        raise DataCorrupt(path, f"{fmt}: {_first_bad_line(path)}", "higgs")
    if table.size == 0:
        raise DataCorrupt(path, "holds no rows", "higgs")
    if table.shape[1] != HIGGS_COLUMNS:
        raise DataCorrupt(path, f"has {table.shape[1]} columns; {fmt}", "higgs")
    bad = np.flatnonzero(~np.isfinite(table).all(1) | ~np.isin(table[:, 0], (0.0, 1.0)))
    if len(bad):
        raise DataCorrupt(path, f"row {bad[0] + 1} holds a non-finite value or a label other than 0/1",
                          "higgs")
    return torch.from_numpy(table[:, 1:].copy()), torch.from_numpy(table[:, 0].copy())
