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
translate`` (:mod:`stargan_cli.photos`); the model side is a :class:`~stargan_cli.translate.
Translator` wrapped by :class:`ModelEngine`. Everything that does not need a window (keys,
buffering, drawing, recording) works headless, which is how the tests drive it.

The package, one job per module:

- :mod:`.sources`: ``--source`` parsing, opening it, :class:`LatestFrame` and :class:`FrameSource`;
- :mod:`.tracking`: :class:`FaceTracker`, the face landmarks of each frame;
- :mod:`.engine`: :class:`ModelEngine`, targets and source attributes around a Translator;
- :mod:`.keys`: :class:`ViewState` and :func:`handle_key` (pure);
- :mod:`.drawing`: :func:`compose`, :func:`draw_text`, :func:`letterbox`;
- :mod:`.display`: the window (or none) and :func:`display_problem`;
- :mod:`.recording`: :class:`VideoRecorder` and :func:`save_snapshot`;
- :mod:`.loop`: :func:`run_webcam`, its options and statistics.

Every public name is importable from ``stargan_cli.webcam`` itself.
"""

from .display import Display, HeadlessDisplay, WindowDisplay, display_problem, gui_backend
from .drawing import compose, draw_text, letterbox
from .engine import Engine, ModelEngine
from .keys import ESC, KEY_HELP, LEFT_KEYS, RIGHT_KEYS, SPACE, Action, ViewState, handle_key
from .loop import NO_FACE_NOTICE, STAGES, FpsMeter, FrameResult, WebcamOptions, WebcamStats, run_webcam
from .recording import VIDEO_SUFFIXES, VideoRecorder, check_video_path, save_snapshot
from .sources import (
    DEFAULT_CAMERA_FPS, DEFAULT_FILE_FPS, FRAME_TIMEOUT_S, FrameSource, Grabbed, LatestFrame, SourceSpec,
    open_source, parse_source,
)
from .tracking import FaceTracker

__all__ = [
    "Action", "Display", "Engine", "FaceTracker", "FpsMeter", "FrameResult", "FrameSource", "Grabbed",
    "HeadlessDisplay", "LatestFrame", "ModelEngine", "NO_FACE_NOTICE", "SourceSpec", "VideoRecorder",
    "ViewState", "WebcamOptions", "WebcamStats", "WindowDisplay", "check_video_path", "compose",
    "display_problem", "draw_text", "handle_key", "letterbox", "open_source", "parse_source",
    "run_webcam", "save_snapshot",
]
