"""The capture-translate-show loop and what it measures."""

from __future__ import annotations

import statistics
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from ..photos.align import extract_square
from ..photos.face import Frame
from ..photos.paste import DEFAULT_PASTE, paste_square
from .display import Display, HeadlessDisplay
from .drawing import compose, letterbox
from .engine import Engine
from .keys import Action, ViewState, handle_key, next_target
from .recording import VideoRecorder, save_snapshot
from .sources import FrameSource
from .tracking import FaceTracker

NO_FACE_NOTICE = "no face in view"
STAGES = ("capture", "detect", "infer", "draw", "output")


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


@dataclass
class WebcamOptions:
    """Settings of :func:`run_webcam`."""

    detect_every: int = 5
    paste_back: bool = True
    paste_mode: str = DEFAULT_PASTE  # how the face goes back: see photos.paste.PASTE_MODES
    max_frames: int | None = None
    output: Path | None = None
    snapshots: Path | None = None  # None: the current folder
    start_target: int = 0
    cycle_every: int | None = None  # move on to the next target every N processed frames


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

    def mean_ms(self) -> dict[str, float]:
        """Mean milliseconds per frame of each stage (detection every k frames shows here)."""
        return {s: 1000 * statistics.fmean(v) if v else 0.0 for s, v in self.stage_times.items()}

    def summary(self) -> str:
        """One line for the end of a run."""
        line = (
            f"processed {self.processed} frame{'' if self.processed == 1 else 's'} in {self.seconds:.1f} s: {self.fps:.1f} fps "
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
            points, detected = tracker.update(rgb)
            crop = None
            if points is not None:
                crop = Frame.from_landmarks(points)
                box = crop.square_box()
                if box.right <= 0 or box.bottom <= 0 or box.x >= width or box.y >= height:
                    crop = None  # the face drifted off the frame
            if crop is None and had_face:
                engine.reset()
            had_face = crop is not None
            t2 = time.perf_counter()
            square = translated = None
            if crop is not None:
                square = extract_square(rgb, crop, engine.image_size)
                if detected:
                    engine.observe(square)
            name, label = engine.target(state.target)
            if square is not None:
                translated = engine.translate(square, label)
            t3 = time.perf_counter()
            face = crop.square_box().ltrb() if crop is not None else None
            if translated is None:
                result, notice = frame, NO_FACE_NOTICE
                stats.no_face += 1
            elif state.paste_back:
                pasted = paste_square(rgb, translated, crop, source=square, mode=options.paste_mode)
                result, notice = _to_bgr(pasted), None
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
            if options.cycle_every and stats.processed % options.cycle_every == 0:
                state = next_target(state)
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
