"""Live translation of a camera, stream or video file: the library behind ``stargan webcam``.

One frame goes through::

    capture -> face box (Haar every k frames, smoothed) -> CelebA crop -> G -> paste back
            -> original | result side by side, target and fps drawn -> window and/or video file

Keeping up with a camera: frames of a live source (camera index, stream URL) are read by a
background thread into a one-slot buffer (:class:`LatestFrame`). When a frame is not taken
before the next one arrives it is overwritten and counted as dropped, so the picture shown is
always the newest one and never seconds behind. A video file is read in the loop's own thread
and every frame is processed (what you want when recording a file); with ``realtime=True`` it
is instead paced at its own frame rate and dropped like a camera.

Face detection, the CelebA framing, cropping and pasting back are those of ``stargan
translate`` (:mod:`stargan_cli.faces`); the model side is a :class:`~stargan_cli.translate.
Translator` wrapped by :class:`ModelEngine`. Everything that does not need a window (keys,
buffering, drawing, recording) works headless, which is how the tests drive it.
"""

from __future__ import annotations

import contextlib
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Mapping, Protocol, Sequence

import numpy as np
from PIL import Image

from .errors import StarganError
from .faces import Box, BoxSmoother, celeba_box, detect_faces, extract_crop, model_square, paste_back
from .images import crop_resize, normalize, pil_to_uint8, tensor_to_pil

if TYPE_CHECKING:
    from .translate import Translator

NO_FACE_NOTICE = "no face in view"
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".avi", ".mkv")
DEFAULT_CAMERA_FPS = 30.0
DEFAULT_FILE_FPS = 25.0
# How long a live source may stay silent before the loop gives up on it.
FRAME_TIMEOUT_S = 10.0

# ---- keys -----------------------------------------------------------------------------------

ESC, SPACE = 27, 32
# cv2.waitKeyEx codes: X11 keysyms (GTK and Qt backends), Windows virtual keys << 16, macOS.
LEFT_KEYS = frozenset({0xFF51, 0x250000, 0xF702})
RIGHT_KEYS = frozenset({0xFF53, 0x270000, 0xF703})
KEY_HELP = (
    "keys: 1-9/0 pick a target, left/right (or , .) cycle targets, space save a snapshot, "
    "p toggle paste-back, q/Esc quit"
)


class Action(str, Enum):
    """What the loop must do after a key press (beyond the new state)."""

    NONE = "none"
    QUIT = "quit"
    SNAPSHOT = "snapshot"
    TARGET = "target"
    PASTE = "paste"


@dataclass(frozen=True)
class ViewState:
    """What the user controls with keys: the current target (0-based) and paste-back mode."""

    target: int = 0
    targets: int = 1
    paste_back: bool = True

    def __post_init__(self) -> None:
        if self.targets < 1:
            raise ValueError("there must be at least one target")
        if not 0 <= self.target < self.targets:
            raise ValueError(f"target {self.target} out of range 0..{self.targets - 1}")


def handle_key(state: ViewState, key: int | None) -> tuple[ViewState, Action]:
    """The new state and the action for ``key`` (a ``cv2.waitKeyEx`` code; -1 or None: none).

    Number keys ``1``-``9`` pick targets 1-9 and ``0`` the tenth (ignored beyond the list);
    left/right arrows (or ``,``/``.``) step through the targets, wrapping around; space asks
    for a snapshot; ``p`` toggles paste-back; ``q`` or Esc quits. Other keys do nothing.
    """
    if key is None or key < 0:
        return state, Action.NONE
    if key in LEFT_KEYS or key in (ord(","), ord("<")):
        return replace(state, target=(state.target - 1) % state.targets), Action.TARGET
    if key in RIGHT_KEYS or key in (ord("."), ord(">")):
        return replace(state, target=(state.target + 1) % state.targets), Action.TARGET
    if key > 0xFF:
        return state, Action.NONE
    char = chr(key).lower()
    if key == ESC or char == "q":
        return state, Action.QUIT
    if key == SPACE:
        return state, Action.SNAPSHOT
    if char == "p":
        return replace(state, paste_back=not state.paste_back), Action.PASTE
    if char.isdigit():
        index = (int(char) - 1) % 10  # "0" is the tenth target
        if index < state.targets:
            return replace(state, target=index), Action.TARGET
    return state, Action.NONE


# ---- frame sources ----------------------------------------------------------------------------


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
    """

    def __init__(self, spec: SourceSpec, capture, first: np.ndarray, realtime: bool) -> None:
        import cv2

        if not realtime and spec.live:
            raise StarganError(
                f"{spec.describe()} is live: its frames cannot wait, so --all-frames only works "
                "with a video file"
            )
        self.spec = spec
        self.realtime = realtime
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
            while not self._stop.is_set():
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


def open_source(spec: SourceSpec | str | int, realtime: bool | None = None) -> FrameSource:
    """Open ``spec`` with OpenCV and read its first frame, with clear errors when that fails.

    ``realtime`` None means: drop frames for cameras and streams, process every frame of a file.
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
    return FrameSource(spec, capture, first, realtime)


# ---- faces over time ------------------------------------------------------------------------


class FaceTracker:
    """The face box of each frame: detection every ``detect_every`` frames, smoothed in between.

    Detections go through :class:`faces.BoxSmoother` (steadies the box from one detection to
    the next and keeps it through ``max_missing`` missed detections); the box used for a frame
    then glides ``glide`` of the way towards that target per frame, so it moves smoothly
    instead of jumping every k frames. The largest face is followed. Detection runs on a copy
    whose longer side is at most ``detect_side`` pixels (a face in front of a camera is large,
    and Haar's cost grows with the area).
    """

    def __init__(
        self,
        detect_every: int = 5,
        *,
        detect_side: int = 480,
        detector: Callable[[np.ndarray], list[Box]] | None = None,
        glide: float = 0.5,
        alpha: float = 0.5,
        max_missing: int = 1,
    ) -> None:
        if detect_every < 1:
            raise StarganError("--detect-every must be at least 1")
        self.detect_every = detect_every
        self.detector = detector or (lambda rgb: detect_faces(rgb, order="largest", max_side=detect_side))
        self.glide = glide
        self._smoother = BoxSmoother(alpha=alpha, max_missing=max_missing)
        self._frame = 0
        self._target: Box | None = None
        self._box: Box | None = None

    def update(self, rgb: np.ndarray) -> tuple[Box | None, bool]:
        """Feed one RGB frame; returns (face box or None, whether detection ran on it)."""
        detected = self._frame % self.detect_every == 0
        self._frame += 1
        if detected:
            tracked = self._smoother.update(self.detector(rgb))
            self._target = max(tracked, key=lambda b: b.area) if tracked else None
            if self._target is None:
                self._box = None
            elif self._box is None or self._box.iou(self._target) < 0.1:
                self._box = self._target  # a new face: no glide across the frame
        if self._box is not None and self._target is not None:
            g, a, b = self.glide, self._box, self._target
            self._box = Box(
                a.x + g * (b.x - a.x), a.y + g * (b.y - a.y), a.w + g * (b.w - a.w), a.h + g * (b.h - a.h)
            )
        return self._box, detected


# ---- the model side ---------------------------------------------------------------------------


class Engine(Protocol):
    """What the loop needs from a model; :class:`ModelEngine` is the real one, tests fake it."""

    image_size: int

    def __len__(self) -> int: ...  # number of targets to cycle through

    def reset(self) -> None: ...  # the face was lost: forget its estimated attributes

    def observe(self, square: Image.Image) -> None: ...  # a fresh detection: re-estimate

    def target(self, index: int) -> tuple[str, list[float]]: ...  # (name shown, G label)

    def translate(self, square: Image.Image, label: Sequence[float]) -> Image.Image: ...


class ModelEngine:
    """A :class:`Translator` as the loop's engine.

    Targets: one per ``to`` value (each may name several attributes, ``"Blond_Hair,Male=0"``),
    or by default one per attribute as the original's test grid (hair colour set, any other
    attribute flipped relative to the face's own). The face's own attributes come from
    ``source_attrs`` or from the discriminator, re-estimated at each detection and averaged
    over time (``smoothing``: weight of the newest estimate) so targets do not flicker.
    """

    def __init__(
        self,
        translator: "Translator",
        to: Sequence[str] | None = None,
        *,
        source_attrs: str | Sequence[str] | None = None,
        smoothing: float = 0.5,
    ) -> None:
        from .translate import NO_CLASSIFIER

        self.translator = translator
        self.image_size = translator.image_size
        self.smoothing = smoothing
        self._explicit = [translator.parse_targets(value) for value in to] if to else None
        self._fixed = None if source_attrs is None else translator.parse_source(source_attrs)
        if self._fixed is None and not translator.has_classifier:
            raise StarganError(NO_CLASSIFIER)
        self._scores: list[float] | None = None

    def __len__(self) -> int:
        if self._explicit is not None:
            return len(self._explicit)
        return len(self.translator.attributes)

    @property
    def source_label(self) -> list[float]:
        """The 0/1 label taken as the face's own attributes right now."""
        if self._fixed is not None:
            return list(self._fixed)
        if self._scores is None:
            return [0.0] * len(self.translator.attributes)
        return self.translator.label_from_scores(self._scores)

    def reset(self) -> None:
        """Forget the estimate (a new face may come)."""
        self._scores = None

    def observe(self, square: Image.Image) -> None:
        """Update the estimate of the face's attributes from a model-size square."""
        if self._fixed is not None:
            return
        probs = self.translator.classify(normalize(pil_to_uint8(square))[None])[0].tolist()
        if self._scores is None:
            self._scores = probs
        else:
            w = self.smoothing
            self._scores = [w * p + (1 - w) * s for p, s in zip(probs, self._scores)]

    def target(self, index: int) -> tuple[str, list[float]]:
        """Name and generator label of target ``index`` for the current source attributes."""
        from .translate import target_name

        source = self.source_label
        if self._explicit is not None:
            wanted = self._explicit[index]
            return target_name(wanted), self.translator.target_label(source, wanted)
        name, label = self.translator.domain_targets(source)[index]
        position = self.translator.attributes.index(name)
        return target_name({name: label[position]}), label

    def translate(self, square: Image.Image, label: Sequence[float]) -> Image.Image:
        """Run G on one model-size square."""
        import torch

        x = normalize(pil_to_uint8(square))[None]
        out = self.translator.generate(x, torch.tensor([list(label)], dtype=torch.float32))
        return tensor_to_pil(out[0])


# ---- drawing ----------------------------------------------------------------------------------


def _font_scale(height: int) -> float:
    return max(0.35, min(1.0, height / 720 * 0.8))


def draw_text(
    image: np.ndarray,
    text: str,
    anchor: tuple[int, int],
    *,
    align: str = "left",
    bottom: bool = False,
    color: tuple[int, int, int] = (255, 255, 255),
    scale: float | None = None,
) -> tuple[int, int, int, int]:
    """Outlined text on a BGR image in place, readable on any background.

    ``anchor`` is the top-left (``align="left"``), top-right (``"right"``) or top-centre
    (``"center"``) of the text, or its bottom with ``bottom=True``. Returns the
    (left, top, right, bottom) it covers.
    """
    import cv2

    font = cv2.FONT_HERSHEY_SIMPLEX
    scale = scale or _font_scale(image.shape[0])
    thickness = 1 if scale < 0.7 else 2
    (width, height), baseline = cv2.getTextSize(text, font, scale, thickness)
    x, y = anchor
    if bottom:
        y -= height + baseline
    if align == "right":
        x -= width
    elif align == "center":
        x -= width // 2
    origin = (int(x), int(y + height))
    cv2.putText(image, text, origin, font, scale, (0, 0, 0), thickness + 2, cv2.LINE_AA)
    cv2.putText(image, text, origin, font, scale, color, thickness, cv2.LINE_AA)
    pad = thickness + 2
    return int(x) - pad, int(y) - pad, int(x + width) + pad, int(y + height + baseline) + pad


def letterbox(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``image`` scaled to fit (width, height), centred on black."""
    import cv2

    width, height = size
    scale = min(width / image.shape[1], height / image.shape[0])
    w, h = max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale))
    canvas = np.zeros((height, width, 3), np.uint8)
    x, y = (width - w) // 2, (height - h) // 2
    canvas[y : y + h, x : x + w] = cv2.resize(image, (w, h), interpolation=cv2.INTER_LINEAR)
    return canvas


def compose(
    original: np.ndarray,
    result: np.ndarray,
    *,
    target: str,
    fps: float | None = None,
    notice: str | None = None,
    face: tuple[int, int, int, int] | None = None,
) -> np.ndarray:
    """The picture shown: ``original | result`` (BGR, same size) with the text drawn on it.

    The target name sits at the top of the result half, the frame rate at the bottom right,
    ``notice`` (e.g. no face) in the middle of the result half; ``face`` outlines the square
    the model sees on the original (used when the result half shows the square alone).
    """
    import cv2

    height, width = original.shape[:2]
    canvas = np.concatenate([original, result], axis=1)
    margin = max(4, height // 60)
    if face is not None:
        left, top, right, bottom = face
        cv2.rectangle(canvas, (left, top), (right - 1, bottom - 1), (0, 255, 255), 1)
    draw_text(canvas, "input", (margin, margin))
    draw_text(canvas, target, (width + margin, margin), color=(120, 255, 120))
    if fps is not None:
        draw_text(canvas, f"{fps:.1f} fps", (2 * width - margin, height - margin), align="right", bottom=True)
    if notice:
        draw_text(canvas, notice, (width + width // 2, height // 2), align="center", color=(0, 215, 255))
    return canvas


class FpsMeter:
    """Frames per second over the last ``window`` frames."""

    def __init__(self, window: int = 30) -> None:
        self._times: deque[float] = deque(maxlen=window)

    def tick(self, now: float | None = None) -> None:
        """Record that a frame was finished (at ``now``, default the current time)."""
        self._times.append(time.perf_counter() if now is None else now)

    @property
    def fps(self) -> float | None:
        """The rate, or None before two frames."""
        if len(self._times) < 2 or self._times[-1] <= self._times[0]:
            return None
        return (len(self._times) - 1) / (self._times[-1] - self._times[0])


# ---- output: window, video file, snapshots ---------------------------------------------------


def gui_backend() -> str:
    """The GUI OpenCV was built with (``QT5``, ``GTK3``, ``WIN32UI``, ``COCOA``, ``NONE``...)."""
    import cv2

    match = re.search(r"^\s*GUI:\s*(\S+)", cv2.getBuildInformation(), re.MULTILINE)
    return match.group(1).upper() if match else "UNKNOWN"


def display_problem(
    environ: Mapping[str, str] | None = None, platform: str | None = None, gui: str | None = None
) -> str | None:
    """Why no window can be shown here, or None when one probably can (no window is opened).

    Checks that OpenCV has a GUI at all and, on Linux and BSD, that an X display is set
    (OpenCV's Qt/GTK windows need X or XWayland; without one Qt aborts the whole process).
    """
    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    gui = gui_backend() if gui is None else gui
    if gui == "NONE":
        return (
            "this OpenCV was built without window support (opencv-python-headless?): use "
            "--headless (with --output FILE to record), or install opencv-python"
        )
    if platform.startswith(("win", "darwin", "cygwin")):
        return None
    if not environ.get("DISPLAY"):
        wayland = ""
        if environ.get("WAYLAND_DISPLAY"):
            wayland = " (Wayland without XWayland is not supported by OpenCV windows)"
        return (
            f"no display available: DISPLAY is not set{wayland}; use --headless (with --output "
            "FILE to record a video)"
        )
    return None


def _probe_window() -> str | None:
    """Open and close a window in a child process: a dead X server kills the process (Qt
    aborts), so we find that out there and not here. Returns the problem, or None."""
    import subprocess

    code = "import cv2; cv2.namedWindow('probe'); cv2.waitKey(1); cv2.destroyAllWindows()"
    try:
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=20
        )
    except subprocess.TimeoutExpired:
        return "opening a window timed out"
    if done.returncode != 0:
        lines = [l for l in (done.stderr or "").splitlines() if l.strip()]
        return lines[0][:120] if lines else f"exit code {done.returncode}"
    return None


class Display(Protocol):
    """Where the composed frames go; returns the key pressed (-1: none)."""

    def show(self, canvas: np.ndarray) -> int: ...

    def close(self) -> None: ...


class HeadlessDisplay:
    """No window: nothing is shown and no key is ever pressed."""

    def show(self, canvas: np.ndarray) -> int:
        """Ignore the frame."""
        return -1

    def close(self) -> None:
        """Nothing to close."""


class WindowDisplay:
    """An OpenCV window; closing it counts as quitting."""

    def __init__(self, title: str = "stargan webcam", *, probe: bool = True) -> None:
        import cv2

        problem = display_problem()
        if problem is None and probe:
            found = _probe_window()
            if found is not None:
                problem = f"no display available ({found}): use --headless (with --output FILE to record)"
        if problem is not None:
            raise StarganError(problem)
        self.title = title
        try:
            cv2.namedWindow(title, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO)
        except cv2.error as err:
            first = (str(err).strip().splitlines() or ["cv2.error"])[-1][:100]
            raise StarganError(
                f"OpenCV cannot open a window ({first}): use --headless (with --output FILE to record)"
            ) from None
        self._shown = False

    def show(self, canvas: np.ndarray) -> int:
        """Show the frame and return the key pressed (Esc when the window was closed)."""
        import cv2

        cv2.imshow(self.title, canvas)
        key = cv2.waitKeyEx(1)
        if self._shown and cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1:
            return ESC
        self._shown = True
        return key

    def close(self) -> None:
        """Close the window."""
        import cv2

        with contextlib.suppress(cv2.error):
            cv2.destroyWindow(self.title)
            cv2.waitKey(1)


def check_video_path(path: str | os.PathLike) -> Path:
    """``path`` if it names a video container we can write, else a StarganError."""
    path = Path(path).expanduser()
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise StarganError(
            f"cannot record to {path.name}: use a video file name ending in {', '.join(VIDEO_SUFFIXES)}"
        )
    if path.is_dir():
        raise StarganError(f"{path} is a folder: --output takes a video file name, e.g. out.mp4")
    return path


class VideoRecorder:
    """An mp4v video written to a temporary name in the target folder and renamed at :meth:`finish`.

    A run that fails half way calls :meth:`abort` instead, which leaves nothing behind.
    """

    def __init__(self, path: str | os.PathLike, fps: float, size: tuple[int, int]) -> None:
        import cv2

        self.path = check_video_path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.size = (int(size[0]), int(size[1]))
        # The container is chosen from the name's ending, so the temp name keeps the suffix.
        fd, tmp = tempfile.mkstemp(
            prefix=f".{self.path.stem}.", suffix=f".part{self.path.suffix}", dir=self.path.parent
        )
        os.close(fd)
        self._tmp = Path(tmp)
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
            self._writer.write(frame)
            self.frames += 1

    def finish(self) -> Path:
        """Close the file and move it to its final name."""
        self._writer.release()
        _publish(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Close and delete the partial file."""
        self._writer.release()
        self._tmp.unlink(missing_ok=True)


def _publish(tmp: Path, path: Path) -> None:
    """Give ``tmp`` the permissions of a normally created file (mkstemp makes it 0600) and
    move it onto ``path``."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, path)


def _write_png(path: Path, image: np.ndarray) -> None:
    """Write a BGR image as PNG atomically (temp file in the same folder, then rename)."""
    import cv2

    ok, data = cv2.imencode(".png", image)
    if not ok:
        raise StarganError(f"could not encode {path.name} as PNG")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.tobytes())
        _publish(Path(tmp), path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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


# ---- the loop ------------------------------------------------------------------------------------

STAGES = ("capture", "detect", "infer", "draw", "output")


@dataclass
class WebcamOptions:
    """Settings of :func:`run_webcam`."""

    detect_every: int = 5
    paste_back: bool = True
    max_frames: int | None = None
    output: Path | None = None
    snapshots: Path | None = None  # None: the current folder
    start_target: int = 0


@dataclass
class FrameResult:
    """One processed frame, for ``on_frame`` callbacks: BGR arrays, the model square's box
    (None: no face), and what was drawn."""

    index: int
    original: np.ndarray
    result: np.ndarray
    canvas: np.ndarray
    face: tuple[int, int, int, int] | None
    target: str
    paste_back: bool
    skipped: int


@dataclass
class WebcamStats:
    """What a run did: counts, wall time and the time per stage of each processed frame."""

    processed: int = 0
    frames_read: int = 0
    dropped: int = 0
    no_face: int = 0
    seconds: float = 0.0
    stage_times: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STAGES})
    snapshots: list[Path] = field(default_factory=list)
    output: Path | None = None
    frames_written: int = 0
    interrupted: bool = False

    @property
    def fps(self) -> float:
        """Frames processed per second of wall time."""
        return self.processed / self.seconds if self.seconds > 0 else 0.0

    def median_ms(self) -> dict[str, float]:
        """Median milliseconds per frame of each stage."""
        return {s: 1000 * statistics.median(v) if v else 0.0 for s, v in self.stage_times.items()}

    def mean_ms(self) -> dict[str, float]:
        """Mean milliseconds per frame of each stage (detection every k frames shows here)."""
        return {s: 1000 * statistics.fmean(v) if v else 0.0 for s, v in self.stage_times.items()}

    def summary(self) -> str:
        """One line for the end of a run."""
        line = (
            f"processed {self.processed} frames in {self.seconds:.1f} s: {self.fps:.1f} fps "
            f"(read {self.frames_read}, dropped {self.dropped}"
        )
        if self.no_face:
            line += f", no face in {self.no_face}"
        return line + ")"


def _to_bgr(image: Image.Image | np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2BGR)


def run_webcam(
    source: FrameSource,
    engine: Engine,
    options: WebcamOptions | None = None,
    *,
    display: Display | None = None,
    tracker: FaceTracker | None = None,
    on_frame: Callable[[FrameResult], None] | None = None,
    log: Callable[[str], None] | None = None,
) -> WebcamStats:
    """Run the capture-translate-show loop until the source ends, ``max_frames`` frames were
    processed, the user quits, or Ctrl-C (which ends the run normally).

    The recording (``options.output``) is finished on a normal end and removed when the run
    fails. Returns the run's :class:`WebcamStats`.
    """
    import cv2

    options = options or WebcamOptions()
    display = display or HeadlessDisplay()
    tracker = tracker or FaceTracker(options.detect_every)
    log = log or (lambda message: None)
    snapshots = Path(options.snapshots) if options.snapshots is not None else Path.cwd()
    state = ViewState(target=options.start_target, targets=len(engine), paste_back=options.paste_back)
    stats = WebcamStats()
    meter = FpsMeter()
    recorder: VideoRecorder | None = None
    had_face = False
    times = stats.stage_times
    start = time.perf_counter()
    try:
        while options.max_frames is None or stats.processed < options.max_frames:
            t0 = time.perf_counter()
            grabbed = source.read()
            t1 = time.perf_counter()
            if grabbed is None:
                break
            frame = grabbed.frame
            height, width = frame.shape[:2]
            rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            face_box, detected = tracker.update(rgb)
            crop = None
            if face_box is not None:
                try:
                    crop = celeba_box(face_box, (width, height))
                except ValueError:  # the box drifted off the frame
                    crop = None
            if crop is None and had_face:
                engine.reset()
            had_face = crop is not None
            t2 = time.perf_counter()
            square = translated = None
            if crop is not None:
                square = crop_resize(extract_crop(rgb, crop), engine.image_size)
                if detected:
                    engine.observe(square)
            name, label = engine.target(state.target)
            if square is not None:
                translated = engine.translate(square, label)
            t3 = time.perf_counter()
            face = model_square(crop) if crop is not None else None
            if translated is None:
                result, notice = frame, NO_FACE_NOTICE
                stats.no_face += 1
            elif state.paste_back:
                result, notice = _to_bgr(paste_back(rgb, translated, crop)), None
            else:
                result, notice = letterbox(_to_bgr(translated), (width, height)), None
            canvas = compose(
                frame, result, target=f"{state.target + 1}/{state.targets} {name}", fps=meter.fps,
                notice=notice, face=face if translated is not None and not state.paste_back else None,
            )
            t4 = time.perf_counter()
            if options.output is not None and recorder is None:
                recorder = VideoRecorder(options.output, source.fps, (canvas.shape[1], canvas.shape[0]))
            if recorder is not None:
                # Live: repeat the frame for those dropped, so the video keeps real time.
                recorder.write(canvas, 1 + grabbed.skipped if source.realtime else 1)
            key = display.show(canvas)
            t5 = time.perf_counter()
            for stage, seconds in zip(STAGES, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
                times[stage].append(seconds)
            stats.processed += 1
            meter.tick(t5)
            if on_frame is not None:
                on_frame(FrameResult(
                    stats.processed - 1, frame, result, canvas, face if translated is not None else None,
                    name, state.paste_back, grabbed.skipped,
                ))
            shown_paste = state.paste_back
            state, action = handle_key(state, key)
            if action is Action.SNAPSHOT:
                # Without paste-back the result is the model square itself, not its enlargement.
                saved_result = _to_bgr(translated) if translated is not None and not shown_paste else result
                paths = save_snapshot(snapshots, frame, saved_result)
                stats.snapshots.extend(paths)
                log(f"saved {paths[0].name} and {paths[1].name} in {paths[0].parent}")
            elif action is Action.PASTE:
                log(f"paste-back {'on' if state.paste_back else 'off'}")
            elif action is Action.QUIT:
                break
    except KeyboardInterrupt:
        stats.interrupted = True
    except BaseException:
        if recorder is not None:
            recorder.abort()
        raise
    finally:
        stats.seconds = time.perf_counter() - start
        stats.frames_read = source.frames_read
        stats.dropped = source.dropped
        display.close()
    if recorder is not None:
        stats.frames_written = recorder.frames
        stats.output = recorder.finish()
    return stats


__all__ = [
    "Action", "Display", "Engine", "FaceTracker", "FpsMeter", "FrameResult", "FrameSource", "Grabbed",
    "HeadlessDisplay", "LatestFrame", "ModelEngine", "NO_FACE_NOTICE", "SourceSpec", "VideoRecorder",
    "ViewState", "WebcamOptions", "WebcamStats", "WindowDisplay", "check_video_path", "compose",
    "display_problem", "draw_text", "handle_key", "letterbox", "open_source", "parse_source",
    "run_webcam", "save_snapshot",
]
