"""Download and verify the data sets of the paper's experiments.

    python scripts/fetch_data.py                       # mnist fashion_mnist cifar10
    python scripts/fetch_data.py higgs                 # HIGGS (2.6 GB download, 11 M rows)
    python scripts/fetch_data.py all --root /data/le   # everything, into another folder
    python scripts/fetch_data.py --check               # verify what is there, download nothing

Files go to --root, else $LE_DATA_DIR, else <repo>/data, in the layout common/data.py reads.
Vision data come through torchvision (md5 of every downloaded file checked against the published
sums that torchvision carries); each set is then loaded through common.data and its split sizes
and label range are checked. Offline, the script says which files to place where and exits 1.

HIGGS: UCI publishes no checksum for HIGGS.csv.gz. The download is checked against the size the
server announces (Content-Length), the whole gzip stream is decompressed (gzip's CRC-32 and length
trailer verify it), and the table must have the 11,000,000 rows of 29 columns (label + 28 features)
stated on the UCI data set page (https://archive.ics.uci.edu/dataset/280/higgs). The SHA-256 of the
verified file is written beside it (HIGGS.csv.gz.sha256) so later copies can be compared.
"""
import gzip
import hashlib
import os
import sys
import urllib.error
import urllib.request
import zlib
from pathlib import Path

import torch
import torchvision
from torchvision.datasets.utils import check_integrity

from common.cli import UsageParser, entry_point
from common.data import FASHION_DEBIAN, HIGGS_URL, SOURCES, data_root, load_vision
from common.errors import UsageError

VISION = ("mnist", "fashion_mnist", "cifar10")
ALL = VISION + ("higgs",)
SIZES = {"mnist": (60000, 10000), "fashion_mnist": (60000, 10000), "cifar10": (50000, 10000)}
TV_CLASS = {"mnist": (torchvision.datasets.MNIST, "MNIST"),
            "fashion_mnist": (torchvision.datasets.FashionMNIST, "FashionMNIST")}
HIGGS_ROWS, HIGGS_COLS = 11_000_000, 29  # UCI data set page: 11,000,000 instances, 28 features + label
CHUNK = 1 << 20


class FetchFailed(Exception):
    """One data set could not be fetched or verified; the message says what to do."""


def _md5_report(name, root):
    """Check the md5 of the distributed .gz files present in torchvision's raw folder."""
    if name not in TV_CLASS:
        return "md5 of every batch file checked by torchvision on load"
    cls, folder = TV_CLASS[name]
    raw = root / folder / "raw"
    checked = 0
    for filename, md5 in cls.resources:
        if (raw / filename).is_file():
            if not check_integrity(str(raw / filename), md5):
                raise FetchFailed(f"{raw / filename} has the wrong md5 (expected {md5}); delete it and rerun")
            checked += 1
    if checked == len(cls.resources):
        return "md5 of the 4 distributed .gz files matches the published sums"
    return ("published md5 sums not applicable (files installed from a copy, e.g. the Debian package, "
            "which recompresses them); structure checked instead")


def fetch_vision(name, root, download):
    try:
        x_tr, y_tr = load_vision(name, train=True, root=root, download=download)
        x_te, y_te = load_vision(name, train=False, root=root, download=download)
    except UsageError as err:  # DataMissing names the files, the source and the alternatives
        raise FetchFailed(str(err))
    except (urllib.error.URLError, OSError) as err:  # a failed download that torchvision lets through
        try:
            load_vision(name, train=True, root=root, download=False)
        except UsageError as missing:
            raise FetchFailed(f"{missing} (download failed: {err})")
        raise FetchFailed(f"{name}: download failed ({err})")
    got = (len(y_tr), len(y_te))
    if got != SIZES[name]:
        raise FetchFailed(f"{name}: {got[0]} train / {got[1]} test examples, expected "
                          f"{SIZES[name][0]} / {SIZES[name][1]}; delete {root} copies and rerun")
    labels = torch.cat([y_tr, y_te]).unique().tolist()
    if labels != list(range(10)):
        raise FetchFailed(f"{name}: labels {labels}, expected 0..9")
    if len(x_tr) != got[0] or len(x_te) != got[1]:
        raise FetchFailed(f"{name}: image and label counts differ")
    return f"{got[0]} train / {got[1]} test, labels 0-9; {_md5_report(name, root)}"


def _download(url, dest):
    """Stream `url` to `dest` (via dest.part, resuming a partial download); returns the byte count."""
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    with urllib.request.urlopen(request, timeout=60) as resp:
        if have and resp.status != 206:  # server ignored the range: start over
            have = 0
        length = resp.headers.get("Content-Length")
        total = have + int(length) if length is not None else None
        mode = "ab" if have else "wb"
        done, shown = have, 0
        with open(part, mode) as out:
            while block := resp.read(CHUNK):
                out.write(block)
                done += len(block)
                if done - shown >= 100 * CHUNK:
                    shown = done
                    pct = f" ({100 * done / total:.0f} %)" if total else ""
                    print(f"  {done / 1e9:.2f} GB{pct}", flush=True)
    if total is not None and part.stat().st_size != total:
        raise FetchFailed(f"download of {url} incomplete: {part.stat().st_size} of {total} bytes; rerun to resume")
    os.replace(part, dest)
    return done


def verify_higgs(path):
    """Decompress the whole file (gzip CRC check), count rows and columns, return the SHA-256."""
    sha = hashlib.sha256()
    rows, tail, cols = 0, b"", None
    opener = gzip.open if path.suffix == ".gz" else open
    if path.suffix == ".gz":
        with open(path, "rb") as raw:
            while block := raw.read(CHUNK):
                sha.update(block)
    try:
        with opener(path, "rb") as f:
            while block := f.read(CHUNK):
                if path.suffix != ".gz":
                    sha.update(block)
                if cols is None:
                    cols = block.split(b"\n", 1)[0].count(b",") + 1
                rows += block.count(b"\n")
                tail = block[-1:]
    except (OSError, EOFError, zlib.error) as err:
        raise FetchFailed(f"{path} is corrupt ({err}); delete it and rerun `python scripts/fetch_data.py higgs`")
    rows += tail not in (b"\n", b"")
    if (rows, cols) != (HIGGS_ROWS, HIGGS_COLS):
        raise FetchFailed(f"{path}: {rows} rows of {cols} columns, expected {HIGGS_ROWS} of {HIGGS_COLS} "
                          f"(UCI HIGGS); delete it and rerun")
    return sha.hexdigest()


def fetch_higgs(root, download):
    existing = [p for p in (root / "HIGGS.csv.gz", root / "HIGGS.csv") if p.is_file()]
    if existing:
        path = existing[0]
    elif not download:
        raise FetchFailed(f"HIGGS missing: place HIGGS.csv.gz (from {HIGGS_URL}) at {root / 'HIGGS.csv.gz'}")
    else:
        path = root / "HIGGS.csv.gz"
        root.mkdir(parents=True, exist_ok=True)
        print(f"  downloading {HIGGS_URL} (about 2.6 GB)", flush=True)
        try:
            _download(HIGGS_URL, path)
        except (urllib.error.URLError, OSError, TimeoutError) as err:
            raise FetchFailed(f"HIGGS download failed ({err}). Offline: download {HIGGS_URL} elsewhere and "
                              f"place it at {root / 'HIGGS.csv.gz'} (or the unpacked HIGGS.csv beside it), "
                              f"then run `python scripts/fetch_data.py higgs --check`")
    print(f"  verifying {path} (decompresses 11 M rows, about a minute)", flush=True)
    digest = verify_higgs(path)
    path.with_name(path.name + ".sha256").write_text(f"{digest}  {path.name}\n")
    return f"{HIGGS_ROWS} rows x {HIGGS_COLS} columns, gzip stream intact; sha256 {digest}"


@entry_point
def main(argv=None):
    parser = UsageParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("datasets", nargs="*", default=list(VISION), metavar="NAME",
                        help=f"any of {', '.join(ALL)}, or all (default: {' '.join(VISION)})")
    parser.add_argument("--root", type=Path, default=None,
                        help="data folder (default: $LE_DATA_DIR, else <repo>/data)")
    parser.add_argument("--check", action="store_true", help="verify what is present, download nothing")
    args = parser.parse_args(argv)
    names = list(ALL) if "all" in args.datasets else args.datasets
    unknown = [n for n in names if n not in ALL]
    if unknown:
        parser.error(f"unknown data set {', '.join(unknown)} (allowed: {', '.join(ALL)}, all)")
    root = data_root(args.root)
    print(f"data root: {root}")
    failed = []
    for name in names:
        print(f"{name}:", flush=True)
        try:
            if name == "higgs":
                report = fetch_higgs(root, download=not args.check)
            else:
                report = fetch_vision(name, root, download=not args.check)
            print(f"  ok: {report}")
        except FetchFailed as err:
            failed.append(name)
            print(f"  FAILED: {err}")
    if failed:
        print(f"\n{len(failed)} of {len(names)} data sets missing or invalid: {', '.join(failed)}.")
        print("Without network access, place the files as listed above, then rerun with --check.")
        print(f"Sources: " + "; ".join(f"{k}: {v}" for k, v in SOURCES.items()) + f"; higgs: {HIGGS_URL}.")
        print(f"Fashion-MNIST also comes with the Debian package dataset-fashion-mnist ({FASHION_DEBIAN}).")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
