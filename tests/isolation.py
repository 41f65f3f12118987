"""The test suite's guard: no test writes to the user's real folders or reaches the network.

:func:`install` (called once from conftest.py, before any test module is imported) points
HOME and the platform folder variables at a throw-away folder, so platformdirs, torch.hub and
``~`` all land there, also in subprocesses. An audit hook then refuses, and records, any write
below the real user folders (cache, data, config, state, or a file directly in the real home)
and any connection or name lookup for a host other than 127.0.0.1 / localhost. A refused action
raises :class:`IsolationError` where it happens; conftest.py also fails the test that caused it,
even if the code under test swallowed the error.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

# 0.0.0.0 and :: are the wildcard addresses a local server binds to: no traffic leaves the machine.
LOCAL_HOSTS = frozenset({"127.0.0.1", "::1", "localhost", "0.0.0.0", "::"})
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_WRITE_EVENTS = frozenset({
    "os.mkdir", "os.rename", "os.remove", "os.rmdir", "os.link", "os.symlink", "os.truncate",
    "os.chmod", "os.utime", "shutil.rmtree", "shutil.copyfile", "shutil.move",
})
_REDIRECTED = ("HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME",
               "LOCALAPPDATA", "APPDATA", "USERPROFILE", "TORCH_HOME")


class IsolationError(RuntimeError):
    """A test tried to write to the user's real folders or to reach the network."""


violations: list[str] = []
forbidden_roots: list[str] = []
# The temporary home, the repository and the Python installation (a virtual environment may
# live below ~/.local or ~/.cache, and Python writes __pycache__ there).
allowed_roots: list[str] = []
_state = {"installed": False, "fake_home": ""}


def _real_roots() -> list[str]:
    """The user's real folders, computed before HOME is moved."""
    home = Path(os.path.expanduser("~"))
    candidates = [
        os.environ.get("XDG_CACHE_HOME") or home / ".cache",
        os.environ.get("XDG_DATA_HOME") or home / ".local" / "share",
        os.environ.get("XDG_CONFIG_HOME") or home / ".config",
        os.environ.get("XDG_STATE_HOME") or home / ".local" / "state",
        home / "Library",  # macOS
        os.environ.get("LOCALAPPDATA"), os.environ.get("APPDATA"),
    ]
    roots = set()
    for value in candidates:
        if value:
            roots.add(os.path.abspath(value))
            roots.add(os.path.realpath(value))
    return sorted(roots)


def _is_forbidden(path: object) -> bool:
    if isinstance(path, int) or path is None:
        return False
    try:
        text = os.path.abspath(os.fsdecode(path))
    except (TypeError, ValueError):
        return False
    if any(text == root or text.startswith(root + os.sep) for root in allowed_roots):
        return False
    if os.path.dirname(text) in _real_homes:
        return True  # a dot-file or folder directly in the real home
    return any(text == root or text.startswith(root + os.sep) for root in forbidden_roots)


def _refuse(message: str) -> None:
    violations.append(message)
    raise IsolationError(message)


def _check_host(host: object) -> None:
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    if host is None or str(host) in LOCAL_HOSTS:
        return
    _refuse(f"network access to {host} (tests may only reach 127.0.0.1)")


def _hook(event: str, args: tuple) -> None:
    if not _state["installed"]:
        return
    if event == "open":
        path, _mode, flags = args
        if isinstance(flags, int) and flags & _WRITE_FLAGS and _is_forbidden(path):
            _refuse(f"write to the real user folder: {os.fsdecode(path)}")
    elif event in _WRITE_EVENTS:
        paths = args[:2] if event in ("os.rename", "os.link", "os.symlink", "shutil.copyfile", "shutil.move") else args[:1]
        for path in paths:
            if _is_forbidden(path):
                _refuse(f"{event} in the real user folder: {os.fsdecode(path)}")
    elif event == "socket.connect":
        address = args[1]
        if isinstance(address, tuple) and address:
            _check_host(address[0])
    elif event == "socket.getaddrinfo":
        _check_host(args[0])


_real_homes: set[str] = set()


def install() -> str:
    """Move HOME and the platform folders to a temporary folder and start the guard; returns
    that folder. Safe to call twice."""
    if _state["installed"]:
        return _state["fake_home"]
    forbidden_roots.extend(_real_roots())
    home = os.path.expanduser("~")
    _real_homes.update({os.path.abspath(home), os.path.realpath(home)})
    fake = os.path.realpath(tempfile.mkdtemp(prefix="stargan-tests-home-"))
    _state["fake_home"] = fake
    repo = Path(__file__).resolve().parents[1]
    for path in (fake, repo, sys.prefix, sys.exec_prefix, sys.base_prefix):
        allowed_roots.extend({os.path.abspath(path), os.path.realpath(path)})
    for name in _REDIRECTED:
        os.environ[name] = fake if name in ("HOME", "USERPROFILE") else os.path.join(fake, name.lower())
    sys.addaudithook(_hook)
    _state["installed"] = True
    return fake


def remove_fake_home() -> None:
    """Delete the temporary home (at the end of the session)."""
    fake = _state["fake_home"]
    _state["installed"] = False
    if fake:
        shutil.rmtree(fake, ignore_errors=True)
