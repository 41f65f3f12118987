"""The suite's own guard (tests/isolation.py): the real user folders and the network are off limits."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

import isolation


def test_platform_folders_point_into_the_temporary_home(monkeypatch):
    from platformdirs import user_cache_dir, user_data_dir

    from stargan_cli import paths

    fake = Path(os.environ["HOME"])
    assert fake.name.startswith("stargan-tests-home-")
    # Even without conftest's STARGAN_HOME (what a monkeypatch.undo() used to do), the
    # folders stargan would use are below the temporary home.
    monkeypatch.delenv("STARGAN_HOME")
    for path in (paths.cache_root(), paths.data_root(), Path(user_cache_dir("x")), Path(user_data_dir("x"))):
        assert path.is_relative_to(fake), path
        assert not any(str(path).startswith(root + os.sep) for root in isolation.forbidden_roots)


@pytest.fixture
def guarded(tmp_path):
    """A folder the guard treats as a real user folder; the violations the test causes are
    taken back afterwards, so only the assertions decide."""
    root = tmp_path / "real-cache"
    root.mkdir()
    isolation.forbidden_roots.append(str(root))
    before = len(isolation.violations)
    yield root
    isolation.forbidden_roots.remove(str(root))
    del isolation.violations[before:]


def test_writes_below_a_real_user_folder_are_refused_and_recorded(guarded):
    target = guarded / "stargan" / "preprocessed"
    with pytest.raises(isolation.IsolationError, match="real user folder"):
        target.mkdir(parents=True)
    with pytest.raises(isolation.IsolationError):
        (guarded / "file.bin").write_bytes(b"x")
    with pytest.raises(isolation.IsolationError):
        os.open(guarded / "raw", os.O_CREAT | os.O_WRONLY)
    assert list(guarded.iterdir()) == []  # refused before anything happened
    assert len(isolation.violations) >= 3
    (guarded.parent / "elsewhere.txt").write_text("fine")  # tmp_path itself is allowed


def test_connections_only_to_localhost(guarded):
    with pytest.raises(isolation.IsolationError, match="192.0.2.1"):
        socket.create_connection(("192.0.2.1", 9), timeout=0.1)
    with pytest.raises(isolation.IsolationError, match="example.org"):
        socket.getaddrinfo("example.org", 80)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname(), timeout=2):
            pass
    assert any("192.0.2.1" in v for v in isolation.violations)
