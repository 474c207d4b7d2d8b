"""One process per run folder: a second one is refused with exit code 2 and one line; a killed
process never blocks its own resume; concurrent writes of one file never share a temp file."""
import json
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from common.atomic import write_atomic
from common.errors import UsageError
from common.runfolder import RunFolder
from tests.common.runs import metrics, status
from tests.common import toy_entry
from tests.common.toy_entry import ToyConfig

TOY = Path(__file__).with_name("toy_entry.py")
CONFIG = "lr: 0.05\nepochs: 5\nbatches: 10\nnoise: 0.5\noptimizer: sgd\nseed: 1\n"
SLOW = "sleep=0.02"          # 1 s: time to catch it between checkpoints


def start(tmp_path, out, *overrides):
    cfg = tmp_path / "toy.yaml"
    return subprocess.Popen([sys.executable, str(TOY), str(cfg), "--out", str(out), *overrides],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(path, proc):
    deadline = time.time() + 60
    while not path.exists():
        assert time.time() < deadline and proc.poll() is None
        time.sleep(0.01)


@pytest.fixture(autouse=True)
def config(tmp_path):
    (tmp_path / "toy.yaml").write_text(CONFIG)


def test_second_process_is_refused(tmp_path):
    reference = tmp_path / "reference"
    assert toy_entry.main([str(tmp_path / "toy.yaml"), "--out", str(reference)]) == 0
    out = tmp_path / "run"
    first = start(tmp_path, out)
    wait_for(out / "summary.json", first)
    first.send_signal(signal.SIGSTOP)                  # paused mid-run, still holding the folder
    second = start(tmp_path, out)
    assert second.wait(120) == 2
    first.send_signal(signal.SIGCONT)
    err = second.stderr.read().strip().splitlines()
    assert len(err) == 1 and str(out) in err[0] and "in use by another process" in err[0]
    assert f"pid {first.pid}" in err[0]
    assert first.wait(120) == 0 and status(out) == "completed"
    assert metrics(out) == metrics(reference)          # one writer: no interleaved rows


def test_killed_run_resumes_and_says_what_happened(tmp_path):
    reference = tmp_path / "reference"
    assert toy_entry.main([str(tmp_path / "toy.yaml"), "--out", str(reference)]) == 0
    out = tmp_path / "run"
    proc = start(tmp_path, out, SLOW)
    wait_for(out / "checkpoint.pt", proc)
    proc.send_signal(signal.SIGKILL)                   # no handler runs: summary stays `running`
    proc.wait(60)
    assert status(out) == "running"
    again = start(tmp_path, out, SLOW)
    assert again.wait(120) == 0 and status(out) == "completed"
    assert "ended without recording why" in again.stdout.read()
    assert metrics(out) == metrics(reference)


def cfg():
    return ToyConfig(lr=0.1, epochs=1, batches=1, noise=0.0, optimizer="sgd", seed=0)


def test_same_folder_twice_in_one_process(tmp_path):
    with RunFolder(tmp_path / "run", cfg()):
        with pytest.raises(UsageError, match="in use by another process"):
            RunFolder(tmp_path / "run", cfg()).__enter__()
    with RunFolder(tmp_path / "run", cfg()) as run:     # released on exit
        run.complete()


def test_ensemble_that_cannot_enter_all_folders_leaves_none_running(tmp_path):
    """K folders entered one by one; the second is held elsewhere: the first must not stay `running`."""
    script = textwrap.dedent(f"""
        import sys
        from common.cli import entry_point
        from common.runfolder import RunFolder
        from tests.common.toy_entry import ToyConfig
        cfg = ToyConfig(lr=0.1, epochs=1, batches=1, noise=0.0, optimizer="sgd", seed=0)

        @entry_point
        def main():
            runs = [RunFolder(r"{tmp_path}/a", cfg), RunFolder(r"{tmp_path}/b", cfg)]
            for run in runs:
                run.__enter__()
        sys.exit(main())
    """)
    with RunFolder(tmp_path / "b", cfg()):
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                             cwd=Path(__file__).resolve().parents[2])
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["status"] == "failed" and "ended before the run finished" in summary["error"]


def test_concurrent_writes_of_one_file(tmp_path):
    """Two writers of one summary (e.g. two sweeps into one root) never collide on a temp name."""
    path = tmp_path / "summary.json"
    errors = []

    def writer(k):
        try:
            for i in range(200):
                write_atomic(path, json.dumps({"writer": k, "i": i}).encode())
        except Exception as err:                        # noqa: BLE001 - collected for the assert
            errors.append(err)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and json.loads(path.read_text())["i"] == 199
    assert list(tmp_path.glob("summary.json*")) == [path]
