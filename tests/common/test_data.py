"""Every loader reads the synthetic real-format files; missing data names the files."""
import gzip

import numpy as np
import pytest
import torch

from common import data
from common.data import DataMissing, load_higgs, load_vision
from common.errors import UsageError
from common.synthetic import synthetic_root, write_idx_gz, write_mnist_like


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_mnist_like(tmp_path, name):
    root = synthetic_root(name, n_train=60, n_test=20, root=tmp_path)
    x, y = load_vision(name, train=True, root=root)
    xt, yt = load_vision(name, train=False, root=root)
    assert x.shape == (60, 28, 28) and x.dtype == torch.uint8 and y.dtype == torch.int64
    assert xt.shape == (20, 28, 28) and int(y.max()) <= 9
    assert sorted(set(y.tolist())) == list(range(10))


def test_cifar10(tmp_path):
    root = synthetic_root("cifar10", n_train=50, n_test=10, root=tmp_path)
    x, y = load_vision("cifar10", train=True, root=root)
    assert x.shape == (50, 3, 32, 32) and x.dtype == torch.uint8 and y.shape == (50,)
    assert load_vision("cifar10", train=False, root=root)[0].shape == (10, 3, 32, 32)


def test_idx_roundtrip_is_the_real_format(tmp_path):
    arr = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    write_idx_gz(tmp_path / "a.gz", arr)
    raw = gzip.open(tmp_path / "a.gz").read()
    assert raw[:4] == b"\x00\x00\x08\x03" and int.from_bytes(raw[4:8], "big") == 2
    assert np.array_equal(np.frombuffer(raw[16:], np.uint8).reshape(2, 28, 28), arr)


def test_fashion_mnist_from_debian_folder(tmp_path, monkeypatch):
    debian = tmp_path / "debian"
    write_mnist_like(debian, n_train=30, n_test=10)
    monkeypatch.setattr(data, "FASHION_DEBIAN", debian)
    x, y = load_vision("fashion_mnist", train=True, root=tmp_path / "root")
    assert x.shape == (30, 28, 28)
    assert not (tmp_path / "root").exists()              # read in place, nothing copied


def test_higgs_rows_and_columns(tmp_path):
    root = synthetic_root("higgs", n_train=80, n_test=20, root=tmp_path)
    X, y = load_higgs(root, max_rows=70)
    assert X.shape == (70, 28) and X.dtype == torch.float32 and set(y.tolist()) <= {0.0, 1.0}
    assert load_higgs(root)[0].shape == (100, 28)


def test_higgs_wrong_format(tmp_path):
    (tmp_path / "HIGGS.csv").write_text("1,2,3\n4,5,6\n")
    with pytest.raises(UsageError, match="29"):
        load_higgs(tmp_path)


@pytest.mark.parametrize("name, expected", [
    ("mnist", "MNIST/raw/train-images-idx3-ubyte"),
    ("cifar10", "cifar-10-batches-py/test_batch"),
])
def test_missing_data_message_names_files(tmp_path, name, expected):
    with pytest.raises(DataMissing) as info:
        load_vision(name, root=tmp_path)
    msg = str(info.value)
    assert expected in msg and "fetch_data.py" in msg and "\n" not in msg


def test_missing_higgs_names_files(tmp_path):
    with pytest.raises(DataMissing, match="HIGGS.csv.gz"):
        load_higgs(tmp_path)


def test_root_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("LE_DATA_DIR", str(tmp_path))
    assert data.data_root() == tmp_path
    assert data.data_root(tmp_path / "x") == tmp_path / "x"
