"""Data of the MNIST experiments: split, pixel scaling, one-hot targets, batches (model §2)."""
from dataclasses import dataclass

import torch

from common.data import load_vision
from common.errors import UsageError
from common.synthetic import synthetic_root

VAL_DEFAULT = 10_000


@dataclass
class Split:
    x: torch.Tensor  # N x 784 input rates in [0, 255/256]
    y: torch.Tensor  # N x classes one-hot


def to_rates(images):
    """uint8 N x 28 x 28 -> N x 784, divided by 256 (model Q19)."""
    return images.reshape(len(images), -1).to(torch.float32) / 256.0


def split_indices(n_train_file, n_test_file, train_samples, val_samples, test_samples):
    """(train, val, test) index ranges: train from 0, validation = the last block of the training file.

    With -1 everywhere and MNIST's 60,000 / 10,000 images this is [0, 50k), [50k, 60k), [0, 10k).
    """
    n_val = VAL_DEFAULT if val_samples == -1 else val_samples
    n_train = n_train_file - n_val if train_samples == -1 else train_samples
    n_test = n_test_file if test_samples == -1 else test_samples
    if n_train + n_val > n_train_file or n_train <= 0:
        raise UsageError(f"config keys 'train_samples' ({train_samples}) and 'val_samples' ({val_samples}) ask for "
                         f"{n_train} + {n_val} images but the training file has {n_train_file}; "
                         f"set them to counts that fit (-1 for train_samples takes all before the validation block)")
    if n_test > n_test_file:
        raise UsageError(f"config key 'test_samples' ({test_samples}) asks for {n_test} images but the test file "
                         f"has {n_test_file}; set it to at most {n_test_file} or -1")
    return range(0, n_train), range(n_train_file - n_val, n_train_file), range(0, n_test)


def _make_split(images, labels, idx, classes, device, dtype):
    images, labels = images[idx.start:idx.stop], labels[idx.start:idx.stop]
    keep = labels < classes  # higher labels are skipped when classes < 10
    x = to_rates(images[keep]).to(device, dtype)
    y = torch.nn.functional.one_hot(labels[keep], classes).to(device, dtype)
    return Split(x, y)


def load_splits(cfg, device="cpu", dtype=torch.float32):
    """(train, val, test) Splits for the config's dataset."""
    root, name = cfg.data_root, cfg.dataset
    if name == "synthetic":
        root = synthetic_root("mnist", n_train=cfg.train_samples + cfg.val_samples,
                              n_test=cfg.test_samples, seed=0)
        name = "mnist"
    x_tr, y_tr = load_vision(name, train=True, root=root, download=cfg.download)
    x_te, y_te = load_vision(name, train=False, root=root, download=cfg.download)
    tr, va, te = split_indices(len(x_tr), len(x_te), cfg.train_samples, cfg.val_samples, cfg.test_samples)
    return (_make_split(x_tr, y_tr, tr, cfg.classes, device, dtype),
            _make_split(x_tr, y_tr, va, cfg.classes, device, dtype),
            _make_split(x_te, y_te, te, cfg.classes, device, dtype))


def batch_order(n, batch_size, shuffle, gen, drop_last=True):
    """Index tensors of the batches of one pass; a permutation only if shuffle. With drop_last a partial
    last batch is left out (the authors' DataLoaders, model Q5)."""
    order = torch.randperm(n, generator=gen) if shuffle else torch.arange(n)  # model Q5: authors fixed order
    n_batches = n // batch_size if drop_last else -(-n // batch_size)
    return [order[i * batch_size:(i + 1) * batch_size] for i in range(n_batches)]
