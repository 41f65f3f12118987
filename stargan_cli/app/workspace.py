"""The app's temporary folder: only files written there, looked up by a random name, are served."""

from __future__ import annotations

import secrets
import shutil
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path

from PIL import Image

from .errors import NotFound

KEEP_FILES = 64


class Workspace:
    """The temporary folder of one server: files written there get a random name, and only
    those names are served. Oldest files beyond ``keep`` are deleted; :meth:`close` removes
    the folder."""

    def __init__(self, keep: int = KEEP_FILES) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="stargan-app-"))
        self.keep = keep
        self._files: OrderedDict[str, Path] = OrderedDict()
        self._lock = threading.Lock()

    def save(self, image: Image.Image, kind: str = "png") -> str:
        """Write ``image`` (PNG, or JPEG with ``kind="jpg"``) and return the name to fetch it by."""
        name = f"{secrets.token_urlsafe(12)}.{kind}"
        path = self.root / name
        if kind == "jpg":
            image.save(path, "JPEG", quality=92)
        else:
            image.save(path, "PNG", compress_level=1)  # fast: these files are local and short-lived
        with self._lock:
            self._files[name] = path
            while len(self._files) > self.keep:
                _, old = self._files.popitem(last=False)
                old.unlink(missing_ok=True)
        return name

    def path(self, name: str) -> Path:
        """The file written as ``name``; NotFound for any other name."""
        with self._lock:
            found = self._files.get(name)
        if found is None or not found.is_file():
            raise NotFound("no such file (it may have been replaced by newer results)")
        return found

    def forget(self, name: str) -> None:
        """Delete the file written as ``name`` (if still there)."""
        with self._lock:
            path = self._files.pop(name, None)
        if path is not None:
            path.unlink(missing_ok=True)

    def close(self) -> None:
        """Remove the folder and everything in it."""
        with self._lock:
            self._files.clear()
        shutil.rmtree(self.root, ignore_errors=True)


__all__ = ["KEEP_FILES", "Workspace"]
