"""What a run saves: the video file (``--output``) and snapshots (space key), both atomically."""

from __future__ import annotations

import errno
import os
import shutil
import time
from pathlib import Path

import numpy as np

from ..errors import StarganError
from ..fileio import atomic_write, publish, reserve_temp, storage_error

VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".avi", ".mkv")
# OpenCV's writer drops frames silently when the disk fills up (it only logs a warning), so the
# recorder watches the free space itself: below this many bytes it stops with a clear error.
MIN_FREE_BYTES = 1 << 20
_FREE_CHECK_EVERY = 10  # frames


def check_video_path(path: str | os.PathLike, overwrite: bool = True) -> Path:
    """``path`` if it names a video container we can write, else a StarganError.

    With ``overwrite`` False an existing file is refused, as ``translate`` does.
    """
    path = Path(path).expanduser()
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise StarganError(
            f"cannot record to {path.name}: use a video file name ending in {', '.join(VIDEO_SUFFIXES)}"
        )
    if path.is_dir():
        raise StarganError(f"{path} is a folder: --output takes a video file name, e.g. out.mp4")
    if not overwrite and path.exists():
        raise StarganError(f"{path} already exists: pass --overwrite to replace it, or choose another name")
    return path


class VideoRecorder:
    """An mp4v video written to a temporary name in the target folder and renamed at :meth:`finish`.

    A run that fails half way calls :meth:`abort` instead, which leaves nothing behind.
    """

    def __init__(self, path: str | os.PathLike, fps: float, size: tuple[int, int]) -> None:
        import cv2

        self.path = check_video_path(path)
        self.size = (int(size[0]), int(size[1]))
        # The container is chosen from the name's ending, so the temp name keeps the suffix.
        self._tmp = reserve_temp(self.path, suffix=f".part{self.path.suffix}")
        self._writer = cv2.VideoWriter(str(self._tmp), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), self.size)
        if not self._writer.isOpened():
            self._tmp.unlink(missing_ok=True)
            raise StarganError(f"OpenCV cannot write an mp4v video to {self.path}: try a .mp4 or .avi name")
        self.frames = 0

    def write(self, frame: np.ndarray, repeat: int = 1) -> None:
        """Append ``frame`` (BGR) ``repeat`` times; other sizes are scaled to the video's."""
        import cv2

        if (frame.shape[1], frame.shape[0]) != self.size:
            frame = cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA)
        for _ in range(max(1, repeat)):
            if self.frames % _FREE_CHECK_EVERY == 0:
                self._check_space()
            self._writer.write(frame)
            self.frames += 1

    def _check_space(self) -> None:
        """Raise the ``no space left on device`` error when the video's disk is (nearly) full."""
        if shutil.disk_usage(self._tmp.parent).free < MIN_FREE_BYTES:
            raise _no_space(self.path)

    def finish(self) -> Path:
        """Close the file, check that it can be read back with every frame, and move it to its
        final name; a video that came out incomplete is deleted with a clear error."""
        import cv2

        self._writer.release()
        capture = cv2.VideoCapture(str(self._tmp))
        readable = capture.isOpened() and int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) >= self.frames
        capture.release()
        if not readable:
            self._tmp.unlink(missing_ok=True)
            if shutil.disk_usage(self.path.parent).free < MIN_FREE_BYTES:
                raise _no_space(self.path)
            raise StarganError(
                f"OpenCV could not write a complete video to {self.path}: try an .avi name or another folder"
            )
        return publish(self._tmp, self.path)

    def abort(self) -> None:
        """Close and delete the partial file."""
        self._writer.release()
        self._tmp.unlink(missing_ok=True)


def _no_space(path: Path) -> StarganError:
    """The ``no space left on device while writing PATH`` error of :mod:`stargan_cli.fileio`."""
    error = storage_error(OSError(errno.ENOSPC, "No space left on device"), path)
    assert error is not None  # ENOSPC is always a storage error
    return error


def _write_png(path: Path, image: np.ndarray) -> None:
    """Write a BGR image as PNG atomically (temp file in the same folder, then rename)."""
    import cv2

    ok, data = cv2.imencode(".png", image)
    if not ok:
        raise StarganError(f"could not encode {path.name} as PNG")
    atomic_write(path, lambda tmp: tmp.write_bytes(data.tobytes()))


def save_snapshot(folder: str | os.PathLike, original: np.ndarray, result: np.ndarray) -> tuple[Path, Path]:
    """Write ``original`` and ``result`` (BGR) as ``stargan-<time>-<n>-original.png`` and
    ``...-result.png`` in ``folder`` (created if needed); never overwrites a file."""
    folder = Path(folder).expanduser()
    if folder.exists() and not folder.is_dir():
        raise StarganError(f"--snapshots {folder} is a file: give a folder")
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    n = 1
    while True:
        paths = folder / f"stargan-{stamp}-{n}-original.png", folder / f"stargan-{stamp}-{n}-result.png"
        if not (paths[0].exists() or paths[1].exists()):
            break
        n += 1
    _write_png(paths[0], original)
    _write_png(paths[1], result)
    return paths
