"""Exclusive locks between processes: one writer per run folder and per download.

A lock is a small file (``RUN/.lock``, ``<downloads>/<file>.lock``) locked with the operating
system's advisory lock (``flock`` on POSIX, ``msvcrt.locking`` on Windows) and holding the
owner's process id for the error message. The operating system drops the lock when its process
ends, however it ends, so a lock left by a killed process never blocks the next one; the file
itself is deleted on release.

A forked child (a data-loader worker) would share the locked descriptor, and with it the lock,
for as long as it lives: a killed run's workers then kept its folder locked for seconds. Every
held lock's descriptor is therefore closed in a forked child as soon as it is born (see
``os.register_at_fork``). POSIX record locks (``fcntl.lockf``), which children do not inherit,
were not used instead: they belong to the whole process, so a second Lock on the same file in
one process would not be refused, and closing *any* descriptor of the file (reading the PID)
would silently drop the lock.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Callable

from .errors import StarganError
from .fileio import writing

LOCK_SUFFIX = ".lock"
# Windows locks a byte range: lock one byte far past the PID so that others can still read it.
_WINDOWS_LOCK_OFFSET = 1 << 30
_POLL_SECONDS = 0.2


# Locks held by this process, so that a forked child can let go of their descriptors.
_HELD: "set[Lock]" = set()
_HELD_GUARD = threading.Lock()


def _drop_in_child() -> None:
    """Run in a freshly forked child: close the descriptors of the parent's locks (the parent
    keeps its locks; the child never held them)."""
    for lock in list(_HELD):
        fd, lock._fd = lock._fd, None
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass
    _HELD.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_drop_in_child)


class LockHeld(StarganError):
    """Another process holds the lock; ``pid`` is its process id when it could be read."""

    def __init__(self, message: str, pid: int | None) -> None:
        super().__init__(message)
        self.pid = pid


def _try_lock_windows(fd: int) -> bool:
    """``msvcrt`` byte-range lock of ``fd`` without waiting; False when another process holds it."""
    import msvcrt

    os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
    try:
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    except OSError:
        return False
    return True


def _try_lock_posix(fd: int) -> bool:
    """``flock`` of ``fd`` without waiting; False when another process holds it."""
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except (BlockingIOError, PermissionError):
        return False
    return True


_try_lock = _try_lock_windows if os.name == "nt" else _try_lock_posix


def _read_pid(fd: int) -> int | None:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 32).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


class Lock:
    """An exclusive lock on ``path`` (created if needed; its folder must exist); ``what`` names
    the thing it guards in messages ("run folder runs/a"). Use as a context manager or call
    :meth:`acquire` and :meth:`release`."""

    def __init__(self, path: str | os.PathLike, what: str) -> None:
        self.path = Path(path)
        self.what = what
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock now."""
        return self._fd is not None

    def acquire(self, wait: float | None = 0.0, on_wait: Callable[[int | None], None] | None = None) -> "Lock":
        """Take the lock. While another process holds it: wait up to ``wait`` seconds (None:
        for ever), calling ``on_wait(pid)`` once, then raise :class:`LockHeld` naming it."""
        deadline = None if wait is None else time.monotonic() + wait
        told = False
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            if _try_lock(fd):
                if self._still_ours(fd):
                    try:
                        with writing(self.path):  # a full disk names the lock file
                            os.ftruncate(fd, 0)
                            os.lseek(fd, 0, os.SEEK_SET)
                            os.write(fd, f"{os.getpid()}\n".encode("ascii"))
                    except BaseException:
                        self._unlock_and_delete(fd)
                        raise
                    with _HELD_GUARD:
                        self._fd = fd
                        _HELD.add(self)
                    return self
                os.close(fd)  # released and deleted by its holder meanwhile: try the new file
                continue
            pid = _read_pid(fd)
            os.close(fd)
            if deadline is not None and time.monotonic() >= deadline:
                who = f"PID {pid}" if pid is not None else "PID unknown"
                raise LockHeld(
                    f"{self.what} is in use by another stargan process ({who}): wait for it to "
                    "finish, or stop it", pid,
                )
            if on_wait is not None and not told:
                on_wait(pid)
                told = True
            time.sleep(_POLL_SECONDS)

    def _still_ours(self, fd: int) -> bool:
        """Whether ``path`` is still the file ``fd`` locked (its holder may have deleted it
        between our open and our lock; a lock on the deleted file guards nothing)."""
        try:
            return os.path.samestat(os.fstat(fd), os.stat(self.path))
        except OSError:
            return False

    def release(self) -> None:
        """Give the lock up and delete its file (before unlocking, so no one locks a file on its way out)."""
        with _HELD_GUARD:
            fd, self._fd = self._fd, None
            _HELD.discard(self)
        if fd is not None:
            self._unlock_and_delete(fd)

    def _unlock_and_delete(self, fd: int) -> None:
        if os.name != "nt":  # Windows cannot delete an open file: it goes after the close
            self.path.unlink(missing_ok=True)
        os.close(fd)
        if os.name == "nt":
            try:
                self.path.unlink(missing_ok=True)
            except OSError:  # another process opened it meanwhile: it is theirs now
                pass

    def __enter__(self) -> "Lock":
        return self if self.held else self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


__all__ = ["LOCK_SUFFIX", "Lock", "LockHeld"]
