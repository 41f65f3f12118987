"""Atomic file writing: the one way this package puts a file in place.

A file is written under a temporary name in its own folder (``.<name>.<random><suffix>``),
flushed to disk and renamed onto its real name with ``os.replace``, so readers see the old
file or the whole new one, never half of it. On failure the temporary file is deleted and an
existing file is left as it was. The temporary file gets the permissions a plain ``open()``
would give (``mkstemp`` creates it 0600).

Three forms of the same thing:

- :func:`atomic_write` ``(path, write)``: call ``write(tmp)``, then publish.
- :func:`atomic_path` ``(path)``: a context manager yielding the temporary path.
- :func:`reserve_temp` / :func:`publish`: the two halves, for a writer that lives across
  calls (a video recorder opened now and finished later).

:func:`write_whole` writes bytes and checks that all of them reached the file: a writer that
hands its file descriptor to C code (Pillow's JPEG and BMP encoders) can lose the tail of a
short write on a nearly full disk without any error, so images are encoded in memory first
and written with it.

``suffix`` ends the temporary name: keep the real extension in it (``".tmp.png"``,
``".part.mp4"``) when the writer picks the format from the name, as OpenCV does.

A write that fails for want of space or permission (ENOSPC, EDQUOT, EACCES, EPERM, EROFS)
raises a StarganError naming the file (``no space left on device while writing PATH``) instead
of an OSError: :func:`writing` does that for any write, and the atomic writers use it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path
from typing import Callable, Iterator

from .errors import StarganError

DEFAULT_SUFFIX = ".tmp"

# Write failures a user fixes outside the program (free space, permissions), by errno.
_STORAGE_ERRORS = {
    errno.ENOSPC: "no space left on device",
    getattr(errno, "EDQUOT", errno.ENOSPC): "disk quota exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "read-only file system",
    errno.EFBIG: "file too large for the file system (or the file-size limit)",
}


class StorageError(StarganError):
    """A write failed for want of space or permission: nothing more can be written there, so
    commands stop at the first one instead of going on to the next input."""


def storage_error(err: BaseException, path: str | os.PathLike) -> StorageError | None:
    """The one-line error for a write to ``path`` that failed for want of space or permission
    (``no space left on device while writing PATH``), or None for any other failure."""
    code = getattr(err, "errno", None) if isinstance(err, OSError) else None
    reason = _STORAGE_ERRORS.get(code)
    if reason is None:
        return None
    full = code in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG)
    hint = "free some space or choose another folder" if full else "choose a folder you can write to"
    return StorageError(f"{reason} while writing {path}: {hint}")


@contextlib.contextmanager
def writing(path: str | os.PathLike) -> Iterator[None]:
    """Turn a full disk or a refused write inside the block into a StarganError naming ``path``."""
    try:
        yield
    except OSError as err:
        failure = storage_error(err, path)
        if failure is None:
            raise
        raise failure from None


def write_whole(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` and flush it to disk; raise an ENOSPC OSError unless the file
    then holds every byte (Python's file objects retry short writes and raise the error that
    ends them; the size check is the last guard)."""
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    if os.path.getsize(path) != len(data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))


def file_in_the_way(path: str | os.PathLike) -> Path | None:
    """The nearest existing parent of ``path`` that is a file rather than a folder (``a.txt``
    for ``a.txt/x.png``: nothing can be written below it), or None."""
    return next((p for p in Path(path).parents if p.exists() and not p.is_dir()), None)


def _normal_mode() -> int:
    """The mode ``open(path, "w")`` gives a new file under the current umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def reserve_temp(path: str | os.PathLike, suffix: str = DEFAULT_SUFFIX) -> Path:
    """Create an empty temporary file beside ``path`` (its folder is created if needed) with
    normal permissions, and return its path. Pair it with :func:`publish`, or unlink it."""
    path = Path(path)
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        os.chmod(tmp, _normal_mode())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def publish(tmp: str | os.PathLike, path: str | os.PathLike) -> Path:
    """Flush ``tmp`` to disk and rename it onto ``path`` (replacing any file there)."""
    # Opened for writing: Windows refuses to flush a read-only handle (EBADF).
    with writing(path):
        with open(tmp, "r+b") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    return Path(path)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = DEFAULT_SUFFIX) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write; it is renamed onto ``path`` when the
    block ends normally and deleted when it raises (the old ``path`` stays as it was)."""
    path = Path(path)
    with writing(path):
        tmp = reserve_temp(path, suffix)
        try:
            yield tmp
            publish(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


def atomic_write(
    path: str | os.PathLike, write: Callable[[Path], object], suffix: str = DEFAULT_SUFFIX
) -> Path:
    """Call ``write(tmp_path)`` and move the result onto ``path`` only when it succeeded."""
    path = Path(path)
    with atomic_path(path, suffix) as tmp:
        write(tmp)
    return path


__all__ = [
    "StorageError", "atomic_path", "atomic_write", "file_in_the_way", "publish", "reserve_temp", "storage_error", "write_whole", "writing",
]
