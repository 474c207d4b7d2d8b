"""Atomic file writes: a uniquely named temp file beside the target, fsync, rename. A failed or killed
write never replaces the previous file; its temp file is removed on failure, and the one a killed
process left is removed by the next start in that run folder (common/runfolder.py)."""
import os
import tempfile
from pathlib import Path


def write_atomic(path, data):
    """Replace `path` by the bytes `data`; an OSError (e.g. ENOSPC) leaves `path` as it was."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
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

