"""scripts/fetch_data.py: HIGGS verification (gzip integrity, row/column counts) and offline messages."""
import gzip
import importlib.util
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("fetch_data", REPO / "scripts" / "fetch_data.py")
fetch = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fetch)


def _higgs_gz(path, rows, cols=29):
    table = np.random.default_rng(0).random((rows, cols))
    table[:, 0] = table[:, 0] > 0.5
    text = "\n".join(",".join(f"{v:.6e}" for v in row) for row in table) + "\n"
    with gzip.open(path, "wt") as f:
        f.write(text)
    return path


def test_higgs_verify_counts_and_integrity(tmp_path, monkeypatch):
    monkeypatch.setattr(fetch, "HIGGS_ROWS", 40)
    good = _higgs_gz(tmp_path / "HIGGS.csv.gz", rows=40)
    digest = fetch.verify_higgs(good)
    assert len(digest) == 64
    short = _higgs_gz(tmp_path / "short.csv.gz", rows=39)
    with pytest.raises(fetch.FetchFailed, match="39 rows"):
        fetch.verify_higgs(short)
    narrow = _higgs_gz(tmp_path / "narrow.csv.gz", rows=40, cols=28)
    with pytest.raises(fetch.FetchFailed, match="28 columns"):
        fetch.verify_higgs(narrow)
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(good.read_bytes()[:-20])  # truncated stream: gzip trailer (CRC, length) missing
    with pytest.raises(fetch.FetchFailed, match="corrupt"):
        fetch.verify_higgs(cut)


def test_higgs_from_local_url_writes_sha(tmp_path, monkeypatch):
    monkeypatch.setattr(fetch, "HIGGS_ROWS", 30)
    src = _higgs_gz(tmp_path / "src.csv.gz", rows=30)
    monkeypatch.setattr(fetch, "HIGGS_URL", src.as_uri())
    root = tmp_path / "data"
    report = fetch.fetch_higgs(root, download=True)
    assert (root / "HIGGS.csv.gz").read_bytes() == src.read_bytes()
    sha = (root / "HIGGS.csv.gz.sha256").read_text().split()[0]
    assert sha in report and not (root / "HIGGS.csv.gz.part").exists()


def test_offline_check_names_files_without_traceback(tmp_path, capsys):
    code = fetch.main(["higgs", "cifar10", "--check", "--root", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 1
    assert str(tmp_path / "HIGGS.csv.gz") in out
    assert str(tmp_path / "cifar-10-batches-py") in out
    assert "Traceback" not in out
