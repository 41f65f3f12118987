"""The one atomic file writer: temp file beside the target, normal permissions, rename, cleanup."""

from __future__ import annotations

import os
import stat

import pytest
from PIL import Image

from stargan_cli.fileio import atomic_path, atomic_write, publish, reserve_temp


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    try:
        yield 0o640  # what open(path, "w") gives a new file under this umask
    finally:
        os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_writes_the_file_with_normal_permissions(tmp_path, umask_027):
    target = tmp_path / "sub" / "dir" / "out.bin"  # missing folders are created
    seen = []

    def write(tmp):
        seen.append(tmp)
        assert tmp.parent == target.parent and tmp.name.startswith(".out.bin.") and tmp.name.endswith(".tmp")
        tmp.write_bytes(b"new content")

    assert atomic_write(target, write) == target
    assert target.read_bytes() == b"new content"
    assert _mode(target) == umask_027  # not mkstemp's 0600
    assert not seen[0].exists()
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.bin"]


def test_failure_keeps_the_old_file_and_removes_the_temp(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    seen = []

    def broken(tmp):
        seen.append(tmp)
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, broken)
    assert target.read_text() == "old"
    assert seen and not seen[0].exists()
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]

    # Ctrl-C (a BaseException) cleans up too.
    def interrupted(tmp):
        tmp.write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, interrupted)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_atomic_path_keeps_the_extension_for_writers_that_need_it(tmp_path, umask_027):
    target = tmp_path / "x.png"
    with atomic_path(target, suffix=".tmp.png") as tmp:
        assert tmp.name.startswith(".x.png.") and tmp.name.endswith(".tmp.png")
        assert tmp.exists() and not target.exists()
        Image.new("RGB", (4, 4), (9, 8, 7)).save(tmp)  # no format given: PIL reads the extension
    assert not tmp.exists()
    with Image.open(target) as image:
        assert image.format == "PNG" and image.getpixel((0, 0)) == (9, 8, 7)
    assert _mode(target) == umask_027

    with pytest.raises(ValueError):
        with atomic_path(target, suffix=".tmp.png") as tmp:
            tmp.write_bytes(b"not a png")
            raise ValueError("encoder failed")
    assert not tmp.exists()
    with Image.open(target) as image:
        assert image.getpixel((0, 0)) == (9, 8, 7)  # the old file is intact
    assert [p.name for p in tmp_path.iterdir()] == ["x.png"]


def test_reserve_and_publish_for_long_lived_writers(tmp_path, umask_027):
    target = tmp_path / "video.mp4"
    target.write_bytes(b"old video")
    tmp = reserve_temp(target, suffix=".part.mp4")
    assert tmp.exists() and tmp.parent == tmp_path and tmp.suffix == ".mp4"
    assert _mode(tmp) == umask_027
    tmp.write_bytes(b"new video")
    assert target.read_bytes() == b"old video"  # nothing visible before publish
    assert publish(tmp, target) == target
    assert target.read_bytes() == b"new video" and not tmp.exists()
    assert _mode(target) == umask_027
