"""User mistakes at the command line exit with code 2 and one line on stderr, no traceback."""
import subprocess
import sys
from pathlib import Path

import pytest

TOY = Path(__file__).with_name("toy_entry.py")
CONFIG = "lr: 0.05\nepochs: 2\nbatches: 5\nnoise: 0.1\noptimizer: sgd\nseed: 1\n"


@pytest.mark.parametrize("overrides, key", [
    (["lr=-1"], "lr"), (["lrr=1"], "lrr"), (["optimizer=adam"], "optimizer"),
    (["epochs=1.5"], "epochs"),
])
def test_bad_config_exits_2_with_one_line(tmp_path, overrides, key):
    cfg = tmp_path / "toy.yaml"
    cfg.write_text(CONFIG)
    out = subprocess.run([sys.executable, str(TOY), str(cfg), "--out", str(tmp_path / "run"),
                          *overrides], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and key in lines[0] and "Traceback" not in out.stderr
    assert not (tmp_path / "run").exists()


def test_missing_key_exits_2(tmp_path):
    cfg = tmp_path / "toy.yaml"
    cfg.write_text(CONFIG.replace("seed: 1\n", ""))
    out = subprocess.run([sys.executable, str(TOY), str(cfg)], capture_output=True, text=True)
    assert out.returncode == 2 and "missing config key 'seed'" in out.stderr
