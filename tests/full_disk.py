"""A full disk for tests: ``open`` inside a module gives files whose writes fail with ENOSPC."""

from __future__ import annotations

import errno
import os
from pathlib import Path


class FullDisk:
    """A file whose writes fail with ``code`` once ``room`` bytes are used (a full disk)."""

    def __init__(self, raw, room: int = 0, code: int = errno.ENOSPC) -> None:
        self.raw, self.room, self.code = raw, room, code

    def write(self, data) -> int:
        self.room -= len(data)
        if self.room < 0:
            raise OSError(self.code, os.strerror(self.code))
        return self.raw.write(data)

    def __getattr__(self, name):
        return getattr(self.raw, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.raw.close()


def full_when(module, predicate, monkeypatch, code: int = errno.ENOSPC) -> None:
    """Make ``open`` inside ``module`` give files that cannot be written for paths ``predicate`` picks."""
    import builtins

    def opener(path, mode="r", *args, **kwargs):
        raw = builtins.open(path, mode, *args, **kwargs)
        return FullDisk(raw, code=code) if any(c in mode for c in "wa+") and predicate(Path(path)) else raw

    monkeypatch.setattr(module, "open", opener, raising=False)
