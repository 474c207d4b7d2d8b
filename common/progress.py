"""A tqdm bar on an interactive terminal, plain periodic log lines otherwise."""
import sys
import time

from tqdm import tqdm


class _Lines:
    """Iterator wrapper printing 'desc: i/total (elapsed, eta)' at most every `every` seconds."""

    def __init__(self, iterable, total, desc, every):
        self.iterable, self.total, self.desc, self.every = iterable, total, desc, every

    def __iter__(self):
        start = last = time.monotonic()
        i = 0
        for i, item in enumerate(self.iterable, 1):
            yield item
            now = time.monotonic()
            if now - last >= self.every:
                last = now
                elapsed = now - start
                eta = ""
                if self.total:
                    eta = f", ~{elapsed / i * (self.total - i):.0f}s left"
                total = f"/{self.total}" if self.total else ""
                print(f"{self.desc}: {i}{total} ({elapsed:.0f}s{eta})", flush=True)

    def __len__(self):
        return self.total


def progress(iterable, total=None, desc="", every=30.0, stream=None):
    """The bar goes to the real terminal (not into log.txt); plain lines go through print."""
    stream = stream or sys.__stderr__
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)
    if hasattr(stream, "isatty") and stream.isatty():
        return tqdm(iterable, total=total, desc=desc, file=stream, leave=False)
    return _Lines(iterable, total, desc, every)
