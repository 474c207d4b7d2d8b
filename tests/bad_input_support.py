"""What tests/test_bad_input.py needs besides its table: entry scripts called in-process, tiny
files in the real formats that are wrong in one way, and runs that die (as with kill -9) or are
interrupted at one write point, in a forked child so that nothing of the test process is touched."""
import builtins
import contextlib
import csv
import fnmatch
import gzip
import importlib
import io
import json
import os
import signal
import struct
import subprocess
import sys
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
KILLED = 137                                  # exit status of a process killed by SIGKILL


def entry_main(rel):
    """The `main(argv)` of the entry script at the repository path `rel` (None if it has none)."""
    parts = Path(rel).with_suffix("").parts
    if parts[0] == "scripts":                 # scripts/ is a folder of scripts, not a package
        if str(REPO / "scripts") not in sys.path:
            sys.path.insert(0, str(REPO / "scripts"))
        return getattr(importlib.import_module(parts[-1]), "main", None)
    return getattr(importlib.import_module(".".join(parts)), "main", None)


def call(rel, argv, capsys):
    """(exit code, stderr lines) of the entry script `rel` run in-process with `argv`; argparse's
    own exit (SystemExit) counts as an exit code. Any other exception fails the test: a traceback.
    A script that reads its arguments in its `__main__` block runs as a process."""
    main = entry_main(rel)
    if main is None:
        out = subprocess.run([sys.executable, str(REPO / rel), *map(str, argv)], capture_output=True,
                             text=True, timeout=300, cwd=REPO)
        return out.returncode, out.stderr.strip().splitlines()
    capsys.readouterr()
    try:
        code = main([str(a) for a in argv])
    except SystemExit as stop:
        code = stop.code
    return code, capsys.readouterr().err.strip().splitlines()


def entry_scripts():
    """Repository paths of every script with a `__main__` block, tests excluded."""
    found = set()
    for path in REPO.rglob("*.py"):
        rel = path.relative_to(REPO)
        if rel.parts[0] in ("tests", "build", ".git") or "site-packages" in rel.parts:
            continue
        if 'if __name__ == "__main__"' in path.read_text(errors="replace"):
            found.add(rel.as_posix())
    return found


# ------------------------------------------------------------------------------------ files
def write_idx(path, dims, payload=b"", ndim=None):
    """A gzip IDX file of uint8 with the header `dims` and the bytes `payload` after it."""
    ndim = len(dims) if ndim is None else ndim
    with gzip.open(path, "wb") as f:
        f.write(bytes([0, 0, 8, ndim]) + struct.pack(f">{len(dims)}I", *dims) + payload)


def mnist_root(tmp, images_dims=None, labels_dims=None, images_payload=None):
    """A data root with the four MNIST .gz files of 10 images each; the train images or labels
    replaced by a header `images_dims`/`labels_dims` (and `images_payload`) where given."""
    raw = tmp / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for prefix in ("train", "t10k"):
        write_idx(raw / f"{prefix}-images-idx3-ubyte.gz", (10, 28, 28), bytes(7840))
        write_idx(raw / f"{prefix}-labels-idx1-ubyte.gz", (10,), bytes(range(10)))
    if images_dims is not None:
        payload = bytes(7840) if images_payload is None else images_payload
        write_idx(raw / "train-images-idx3-ubyte.gz", images_dims, payload, ndim=3)
    if labels_dims is not None:
        write_idx(raw / "train-labels-idx1-ubyte.gz", labels_dims, bytes(range(10)), ndim=1)
    return tmp / "data"


def tree(folder):
    """{relative path: bytes} of every file under `folder` (links and pipes as their kind), but
    the lock file, which each start rewrites with its pid."""
    out = {}
    for path in sorted(Path(folder).rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if rel == ".lock":
            continue
        if path.is_symlink():
            out[rel] = b"<link>"
        elif path.is_fifo():
            out[rel] = b"<fifo>"
        elif path.is_file():
            out[rel] = path.read_bytes()
    return out


def status(folder):
    return json.loads((Path(folder) / "summary.json").read_text())["status"]


def metrics(folder):
    return [{k: v for k, v in r.items() if k != "wall_time"}
            for r in csv.DictReader(open(Path(folder) / "metrics.csv"))]


# ------------------------------------------------------------------------------------ dying runs
def in_child(run, hooks):
    """Run `run()` (-> exit code) in a forked child after `hooks()` patched the child's functions;
    returns the child's exit status (KILLED when a hook killed it). An exception that escapes
    `run` is written to the child's stderr file and fails the caller (status 99 and its text)."""
    err_file = Path(os.environ.get("TMPDIR", "/tmp")) / f"bad_input_child_{os.getpid()}.err"
    pid = os.fork()
    if pid == 0:                                          # the child never returns
        code = 99
        try:
            sys.stdout = sys.stderr = io.StringIO()
            hooks()
            code = run()
        except BaseException:
            err_file.write_text(traceback.format_exc())
        finally:
            os._exit(code if isinstance(code, int) else 98)
    _, wait_status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(wait_status)
    if code == 99:
        text = err_file.read_text()
        err_file.unlink()
        raise AssertionError(f"the run ended with a traceback:\n{text}")
    return code


def die_at_replace(name, nth=1, when=b""):
    """Hook: the process dies (kill -9) at the nth atomic write of the file `name` (whose temp file
    holds `when`), after the temp file is written and before it replaces `name`."""
    def hook():
        real, seen = os.replace, [0]

        def replace(src, dst, *args, **kwargs):
            if Path(dst).name == name and when in Path(src).read_bytes():
                seen[0] += 1
                if seen[0] == nth:
                    os._exit(KILLED)
            return real(src, dst, *args, **kwargs)
        os.replace = replace
    return hook


def die_in_append(name, nth=1):
    """Hook: the process dies in the middle of its nth append to the file `name` (half a row)."""
    def hook():
        real, seen = builtins.open, [0]

        def opener(file, mode="r", *args, **kwargs):
            f = real(file, mode, *args, **kwargs)
            if Path(str(file)).name == name and "a" in mode:
                seen[0] += 1
                if seen[0] == nth:
                    write = f.write

                    def half(text):
                        write(text[:len(text) // 2])
                        f.flush()
                        os._exit(KILLED)
                    f.write = half
            return f
        builtins.open = opener
    return hook


def ctrl_c_twice(entry_module, on):
    """Hook: Ctrl-C (SIGINT) when `entry_module`.`on(epoch, ...)` is called for epoch 1, and a
    second Ctrl-C while the run records that it was interrupted."""
    def hook():
        module = importlib.import_module(entry_module)
        real_on, real_replace = getattr(module, on), os.replace

        def first(*args, **kwargs):
            if args and args[0] == 1:
                os.kill(os.getpid(), signal.SIGINT)
            return real_on(*args, **kwargs)

        def replace(src, dst, *args, **kwargs):
            if Path(dst).name == "summary.json" and b'"status": "interrupted"' in Path(src).read_bytes():
                os.kill(os.getpid(), signal.SIGINT)
            return real_replace(src, dst, *args, **kwargs)
        setattr(module, on, first)
        os.replace = replace
        # Python's own Ctrl-C handler, also where pytest was started with SIGINT ignored (a background job)
        signal.signal(signal.SIGINT, signal.default_int_handler)
    return hook


@contextlib.contextmanager
def no_write_into(folder):
    """Fails if the block creates a run file directly in `folder` (e.g. the repository root); other
    processes may create other files there meanwhile."""
    from common.runfolder import PROJECT_FILES
    before = set(os.listdir(folder))
    try:
        yield
    finally:
        made = {n for n in set(os.listdir(folder)) - before
                if any(fnmatch.fnmatchcase(n, p) or fnmatch.fnmatchcase(n, p + ".*.tmp") for p in PROJECT_FILES)}
        for name in made:
            if (Path(folder) / name).is_file():
                (Path(folder) / name).unlink()
        assert not made, f"files written into {folder}: {sorted(made)}"
