"""The app's temporary folder: only files written there, looked up by a random name, are served."""

from __future__ import annotations

import secrets
import shutil
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path

from PIL import Image

from ..images import write_image
from .errors import NotFound

KEEP_FILES = 64
ORIGINALS = "originals"  # the sub-folder of uploaded files kept for full-size downloads


class Workspace:
    """The temporary folder of one server: files written there get a random name, and only
    those names are served. Oldest files beyond ``keep`` are deleted; :meth:`close` removes
    the folder."""

    def __init__(self, keep: int = KEEP_FILES) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="stargan-app-"))
        self.keep = keep
        self._files: OrderedDict[str, Path] = OrderedDict()
        self._lock = threading.Lock()

    def save(self, image: Image.Image, kind: str = "png", quality: int = 92) -> str:
        """Write ``image`` (PNG, or JPEG of ``quality`` with ``kind="jpg"``) and return the name
        to fetch it by."""
        name = f"{secrets.token_urlsafe(12)}.{kind}"
        path = self.root / name
        if kind == "jpg":
            write_image(image, path, "JPEG", quality=quality)
        else:
            write_image(image, path, "PNG", compress_level=1)  # fast: these files are local and short-lived
        with self._lock:
            self._files[name] = path
            while len(self._files) > self.keep:
                _, old = self._files.popitem(last=False)
                old.unlink(missing_ok=True)
        return name

    def keep_original(self, data: bytes) -> Path:
        """Write an uploaded file as it came, out of the served files and of their count; it
        stays until :meth:`drop_original` or :meth:`close`."""
        folder = self.root / ORIGINALS
        folder.mkdir(exist_ok=True)
        path = folder / secrets.token_urlsafe(12)
        try:
            path.write_bytes(data)
        except OSError:
            path.unlink(missing_ok=True)
            raise
        return path

    def drop_original(self, path: Path | None) -> None:
        """Delete a file :meth:`keep_original` wrote (None: nothing)."""
        if path is not None and path.parent == self.root / ORIGINALS:
            path.unlink(missing_ok=True)

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
