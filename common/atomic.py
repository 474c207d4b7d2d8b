"""Atomic file writes: a uniquely named temp file beside the target, fsync, rename. A failed or killed
write never replaces the previous file; its temp file is removed on failure, and the one a killed
process left is removed by the next start in that run folder (common/runfolder.py)."""
import contextlib
import os
import tempfile
from pathlib import Path


def _new_file_mode():
    """0666 less the umask: the mode open() gives a new file (mkstemp's own 0600 would hide run
    results from the other members of a cluster group). Read once: os.umask can only be read by setting it."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


NEW_FILE_MODE = _new_file_mode()


def write_atomic(path, data):
    """Replace `path` by the bytes `data`; an OSError (e.g. ENOSPC) leaves `path` as it was."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    with contextlib.suppress(OSError):  # a file system without modes (some network mounts): write anyway
        os.fchmod(fd, NEW_FILE_MODE)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

