"""Broken data files on disk end the run with exit code 2 and one line naming the file, the fault and
how to get a good copy; the run folder then says `failed`, never `completed`."""
import gzip
import json
import pickle

import numpy as np
import pytest

from common import data
from common.data import load_vision
from common.synthetic import synthetic_root, write_higgs, write_idx_gz, write_mnist_like
from tests.common import toy_entry

CONFIG = "lr: 0.05\nepochs: 2\nbatches: 3\nnoise: 0.1\noptimizer: sgd\nseed: 1\n"


def run_toy(tmp_path, capsys, dataset, root):
    cfg = tmp_path / "toy.yaml"
    cfg.write_text(CONFIG)
    out = tmp_path / "run"
    code = toy_entry.main([str(cfg), "--out", str(out), f"dataset={dataset}", f"data_root={root}"])
    err = capsys.readouterr().err.strip().splitlines()
    return code, err, json.loads((out / "summary.json").read_text())


def assert_refused(tmp_path, capsys, dataset, root, *words):
    code, err, summary = run_toy(tmp_path, capsys, dataset, root)
    assert code == 2 and len(err) == 1, err
    assert "fetch_data.py" in err[0] and all(w in err[0] for w in words), err[0]
    assert summary["status"] == "failed" and summary["final"] == {}
    return err[0]


def mnist_root(tmp_path, n_train=30, n_test=10):
    root = tmp_path / "data"
    write_mnist_like(root / "MNIST" / "raw", n_train, n_test)
    return root


def test_good_copy_runs(tmp_path, capsys):
    code, err, summary = run_toy(tmp_path, capsys, "mnist", mnist_root(tmp_path))
    assert code == 0 and summary["status"] == "completed"


def test_truncated_gz(tmp_path, capsys):
    root = mnist_root(tmp_path)
    gz = root / "MNIST" / "raw" / "train-images-idx3-ubyte.gz"
    gz.write_bytes(gz.read_bytes()[:len(gz.read_bytes()) // 2])
    assert_refused(tmp_path, capsys, "mnist", root, str(gz), "gzip")


def test_corrupt_gz(tmp_path, capsys):
    root = mnist_root(tmp_path)
    gz = root / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(gz.read_bytes())
    raw[12:-8] = bytes(b ^ 0x5A for b in raw[12:-8])
    gz.write_bytes(bytes(raw))
    assert_refused(tmp_path, capsys, "mnist", root, str(gz), "gzip")


def test_truncated_plain_idx(tmp_path, capsys):
    root = tmp_path / "data"
    raw = root / "FashionMNIST" / "raw"
    write_mnist_like(raw, 30, 10)
    for gz in raw.glob("*.gz"):                      # plain files, as torchvision leaves them
        (raw / gz.stem).write_bytes(gzip.open(gz).read())
        gz.unlink()
    plain = raw / "train-images-idx3-ubyte"
    plain.write_bytes(plain.read_bytes()[:-100])
    assert_refused(tmp_path, capsys, "fashion_mnist", root, str(plain), "truncated")


def test_wrong_magic(tmp_path, capsys):
    root = mnist_root(tmp_path)
    gz = root / "MNIST" / "raw" / "train-labels-idx1-ubyte.gz"
    write_idx_gz(gz, np.zeros((30, 28, 28)))         # an image file where the labels belong
    assert_refused(tmp_path, capsys, "mnist", root, "train-labels-idx1-ubyte", "magic")


def test_wrong_image_size(tmp_path, capsys):
    root = mnist_root(tmp_path)
    write_idx_gz(root / "MNIST" / "raw" / "train-images-idx3-ubyte.gz", np.zeros((30, 32, 32)))
    assert_refused(tmp_path, capsys, "mnist", root, "train-images-idx3-ubyte", "32x32", "28x28")


def test_label_count_differs(tmp_path, capsys):
    root = mnist_root(tmp_path)
    write_idx_gz(root / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz", np.zeros(9))
    assert_refused(tmp_path, capsys, "mnist", root, "t10k-labels-idx1-ubyte", "9 labels", "10 images")


def test_higgs_bad_row(tmp_path, capsys):
    write_higgs(tmp_path / "HIGGS.csv.gz", 20)
    lines = gzip.open(tmp_path / "HIGGS.csv.gz", "rt").read().splitlines()
    lines[6] = lines[6].replace(",", ",x", 1)
    with gzip.open(tmp_path / "HIGGS.csv.gz", "wt") as f:
        f.write("\n".join(lines) + "\n")
    assert_refused(tmp_path, capsys, "higgs", tmp_path, "HIGGS.csv.gz", "line 7, column 2")


def test_higgs_wrong_column_count(tmp_path, capsys):
    (tmp_path / "HIGGS.csv").write_text("1,2,3\n0,5,6\n")
    assert_refused(tmp_path, capsys, "higgs", tmp_path, "HIGGS.csv", "3 columns", "29")


def test_higgs_truncated_gz(tmp_path, capsys):
    write_higgs(tmp_path / "HIGGS.csv.gz", 200)
    gz = tmp_path / "HIGGS.csv.gz"
    gz.write_bytes(gz.read_bytes()[:-40])
    assert_refused(tmp_path, capsys, "higgs", tmp_path, "HIGGS.csv.gz", "gzip")


@pytest.mark.parametrize("where", ["MNIST/raw", "MNIST"])
def test_replaced_gz_is_what_loads(tmp_path, where):
    root = tmp_path / "data"
    write_mnist_like(root / where, 10, 5, seed=0)
    assert len(load_vision("mnist", True, root)[1]) == 10
    write_mnist_like(root / where, 20, 5, seed=1)
    x, y = load_vision("mnist", True, root)
    assert len(y) == 20 and len(x) == 20


def test_gz_wins_over_plain_copies_left_in_raw(tmp_path):
    """raw/ holds plain 10-image copies unpacked from an older .gz; MNIST/ holds the new .gz."""
    root = tmp_path / "data"
    write_mnist_like(root / "MNIST", 20, 5, seed=1)
    old = tmp_path / "old"
    write_mnist_like(old, 10, 5, seed=0)
    (root / "MNIST" / "raw").mkdir()
    for gz in old.glob("*.gz"):
        (root / "MNIST" / "raw" / gz.stem).write_bytes(gzip.open(gz).read())
    assert len(load_vision("mnist", True, root)[1]) == 20


class _Payload:
    """A pickle that, when loaded, creates a file: the proof that loading ran code."""

    def __init__(self, flag):
        self.flag = flag

    def __reduce__(self):
        return (open, (str(self.flag), "w"))


def test_planted_cifar_pickles_are_not_loaded(tmp_path, capsys):
    root = tmp_path / "data"
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    flag = tmp_path / "code_ran"
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch", "batches.meta"]:
        (folder / name).write_bytes(pickle.dumps({"data": _Payload(flag), "labels": []}))
    (folder / "SYNTHETIC").write_text("")            # the marker that used to skip the md5 check
    assert_refused(tmp_path, capsys, "cifar10", root, "data_batch_1", "md5")
    assert not flag.exists()


def test_synthetic_cifar_only_through_the_api(tmp_path):
    made = synthetic_root("cifar10", n_train=20, n_test=5, root=tmp_path / "made")
    assert load_vision("cifar10", False, made)[0].shape == (5, 3, 32, 32)
    copy = tmp_path / "copy"
    (copy).mkdir()
    (made / "cifar-10-synthetic").rename(copy / "cifar-10-synthetic")   # files alone do not count
    with pytest.raises(Exception, match="cifar10 not found"):
        load_vision("cifar10", False, copy)


def test_the_data_root_wins_over_the_debian_folder(tmp_path, monkeypatch):
    """Plain files in the data root load even where the Debian package holds .gz files."""
    debian = tmp_path / "debian"
    write_mnist_like(debian, 20, 5, seed=1)
    monkeypatch.setattr(data, "FASHION_DEBIAN", debian)
    root = tmp_path / "data"
    write_mnist_like(root / "FashionMNIST" / "raw", 10, 5, seed=0)
    for gz in (root / "FashionMNIST" / "raw").glob("*.gz"):
        (gz.parent / gz.stem).write_bytes(gzip.open(gz).read())
        gz.unlink()
    assert len(load_vision("fashion_mnist", True, root)[1]) == 10
    assert len(load_vision("fashion_mnist", True, tmp_path / "empty")[1]) == 20   # no data root: Debian
