"""Frame sources: what ``--source`` names, opening it, and reading frames without falling behind.

A live source (camera, stream) is read by a background thread into a one-slot buffer
(:class:`LatestFrame`): a frame not taken before the next one arrives is dropped, so the
loop always gets the newest frame. A video file is read in the caller's thread, every frame.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import StarganError

DEFAULT_CAMERA_FPS = 30.0
DEFAULT_FILE_FPS = 25.0
# How long a live source may stay silent before the loop gives up on it.
FRAME_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class SourceSpec:
    """What ``--source`` names: a camera index, a stream URL or a video file."""

    kind: str  # "camera" | "url" | "file"
    value: int | str

    @property
    def live(self) -> bool:
        """Cameras and streams produce frames whether or not we are ready for them."""
        return self.kind != "file"

    def describe(self) -> str:
        """``camera 0``, the URL or the file path."""
        return f"camera {self.value}" if self.kind == "camera" else str(self.value)


def parse_source(text: str | int | os.PathLike) -> SourceSpec:
    """Interpret ``--source``: digits are a camera index, ``scheme://...`` a stream, anything
    else a video file (which must exist)."""
    if isinstance(text, int):
        return SourceSpec("camera", text)
    value = str(text).strip()
    if not value:
        raise StarganError("empty --source: give a camera index (0), a video file or a stream URL")
    if value.isdigit():
        return SourceSpec("camera", int(value))
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", value):
        return SourceSpec("url", value)
    path = Path(value).expanduser()
    if not path.exists():
        raise StarganError(
            f"video file {path} does not exist (for a camera give its index, e.g. --source 0)"
        )
    if path.is_dir():
        raise StarganError(f"{path} is a folder: --source takes a video file, a camera index or a URL")
    return SourceSpec("file", str(path))


@contextlib.contextmanager
def _quiet_opencv() -> Iterator[None]:
    """Silence OpenCV's own log lines while probing (a missing camera prints several)."""
    # FFmpeg logs through its own channel ("moov atom not found" for a non-video); OpenCV
    # reads this before its first capture. A value the user set is kept.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
    import cv2

    logging = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging is None:
        yield
        return
    old = logging.getLogLevel()
    logging.setLogLevel(logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        logging.setLogLevel(old)


@dataclass
class Grabbed:
    """A frame handed to the loop (BGR uint8) and how many frames were dropped just before it."""

    frame: np.ndarray
    skipped: int = 0


class LatestFrame:
    """A one-slot buffer between a producer thread and a slower consumer: the newest frame wins.

    :meth:`put` never blocks: a frame still waiting is replaced (and counted in ``dropped``).
    :meth:`get` waits for a frame newer than the last one taken. After :meth:`close` the frame
    still waiting is delivered, then ``get`` returns None.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._frame: np.ndarray | None = None
        self._skipped = 0
        self._closed = False
        self._error: BaseException | None = None
        self.produced = 0
        self.dropped = 0

    def put(self, frame: np.ndarray) -> None:
        """Offer a new frame, replacing one that was not taken yet."""
        with self._cond:
            if self._frame is not None:
                self.dropped += 1
                self._skipped += 1
            self._frame = frame
            self.produced += 1
            self._cond.notify_all()

    def close(self, error: BaseException | None = None) -> None:
        """No more frames will come (``error``: why, re-raised by :meth:`get`)."""
        with self._cond:
            self._closed = True
            self._error = error
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        """Whether the producer has finished."""
        return self._closed

    def get(self, timeout: float | None = None) -> Grabbed | None:
        """The newest frame not taken yet; None once closed and empty.

        Raises TimeoutError when nothing arrives within ``timeout`` seconds, and the
        producer's error when it closed with one.
        """
        with self._cond:
            if not self._cond.wait_for(lambda: self._frame is not None or self._closed, timeout):
                raise TimeoutError("no frame within the timeout")
            if self._frame is None:
                if self._error is not None:
                    raise self._error
                return None
            grabbed = Grabbed(self._frame, self._skipped)
            self._frame, self._skipped = None, 0
            return grabbed


class FrameSource:
    """Frames of an opened OpenCV capture, with the dropping policy chosen.

    ``realtime=False`` (video files only): :meth:`read` decodes the next frame itself, so
    every frame is processed. ``realtime=True``: a reader thread keeps only the newest frame
    in a :class:`LatestFrame`; a file is then paced at its own frame rate, like a camera.
    ``limit``: the source ends after that many frames taken from the capture (processed or
    dropped alike), so that ``--max-frames`` means the same with and without dropping.
    """

    def __init__(self, spec: SourceSpec, capture, first: np.ndarray, realtime: bool, limit: int | None = None) -> None:
        import cv2

        if not realtime and spec.live:
            raise StarganError(
                f"{spec.describe()} is live: its frames cannot wait, so --all-frames only works "
                "with a video file"
            )
        self.spec = spec
        self.realtime = realtime
        self.limit = limit
        self._capture = capture
        self._first: np.ndarray | None = first
        self.size = (int(first.shape[1]), int(first.shape[0]))
        fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        default = DEFAULT_CAMERA_FPS if spec.live else DEFAULT_FILE_FPS
        # Cameras and broken headers report 0, NaN or nonsense such as 90000.
        self.fps = fps if 1.0 <= fps <= 240.0 else default
        self._frames_read = 1
        self._buffer: LatestFrame | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    @property
    def frames_read(self) -> int:
        """Frames taken from the capture so far (processed or dropped)."""
        return self._buffer.produced if self._buffer is not None else self._frames_read

    @property
    def length(self) -> int | None:
        """Frames in a video file by its header (None for a live source or when unknown)."""
        import cv2

        if self.spec.live:
            return None
        count = self._capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0
        return int(count) if 0 < count < 1e9 else None

    @property
    def dropped(self) -> int:
        """Frames replaced by a newer one before the loop could take them."""
        return self._buffer.dropped if self._buffer is not None else 0

    def read(self) -> Grabbed | None:
        """The next frame to process, or None when the source has ended."""
        if self.realtime:
            if self._thread is None:
                self._start()
            try:
                return self._buffer.get(timeout=FRAME_TIMEOUT_S)
            except TimeoutError:
                raise StarganError(
                    f"{self.spec.describe()} sent no frame for {FRAME_TIMEOUT_S:.0f} s: "
                    "is it still connected?"
                ) from None
        if self._first is not None:
            frame, self._first = self._first, None
            return Grabbed(frame)
        if self.limit is not None and self._frames_read >= self.limit:
            return None
        ok, frame = self._capture.read()
        if not ok or frame is None:
            return None
        self._frames_read += 1
        return Grabbed(frame)

    def _start(self) -> None:
        self._buffer = LatestFrame()
        self._thread = threading.Thread(target=self._reader, name="stargan-frame-reader", daemon=True)
        self._thread.start()

    def _reader(self) -> None:
        """Background thread: read frames as they come and keep only the newest."""
        buffer = self._buffer
        assert buffer is not None
        period = None if self.spec.live else 1.0 / self.fps
        start = time.perf_counter()
        count = 0
        try:
            # A camera's first frame was read before the model loaded: too old to show.
            frame = None if self.spec.live else self._first
            self._first = None
            while not self._stop.is_set() and (self.limit is None or count < self.limit):
                if frame is None:
                    if period is not None:  # a file plays at its own speed, like a camera
                        delay = start + count * period - time.perf_counter()
                        if delay > 0 and self._stop.wait(delay):
                            break
                    ok, frame = self._capture.read()
                    if not ok or frame is None:
                        break
                buffer.put(frame)
                count += 1
                frame = None
        except BaseException as err:  # report it to the loop instead of dying silently
            buffer.close(StarganError(f"reading {self.spec.describe()} failed: {err}"))
            return
        buffer.close()

    def close(self) -> None:
        """Stop the reader thread and release the capture."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            if self._thread.is_alive():
                return  # stuck in a driver call: releasing under it could crash; it is a daemon
        self._capture.release()


def open_source(spec: SourceSpec | str | int, realtime: bool | None = None, limit: int | None = None) -> FrameSource:
    """Open ``spec`` with OpenCV and read its first frame, with clear errors when that fails.

    ``realtime`` None means: drop frames for cameras and streams, process every frame of a file.
    ``limit``: end after that many frames (see :class:`FrameSource`).
    """
    import cv2

    if not isinstance(spec, SourceSpec):
        spec = parse_source(spec)
    if realtime is None:
        realtime = spec.live
    with _quiet_opencv():
        capture = cv2.VideoCapture(spec.value)
        opened = capture.isOpened()
        ok, first = capture.read() if opened else (False, None)
    if not ok or first is None:
        capture.release()
        if spec.kind == "camera":
            what = "no camera at index" if not opened else "camera opened but sent no frame at index"
            raise StarganError(
                f"{what} {spec.value}: check it is connected and not in use by another program, "
                "or pass a video with --source FILE"
            )
        if spec.kind == "url":
            raise StarganError(f"could not open the stream {spec.value}: check the URL and that it is reachable")
        raise StarganError(
            f"{spec.value} could not be opened as a video: is it a video file (mp4, avi, mov, ...) "
            "that FFmpeg can read?"
        )
    if spec.kind == "camera":
        # Keep the driver's own queue short; not every backend supports it.
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
    return FrameSource(spec, capture, first, realtime, limit)
