"""`stargan webcam`: keys, frame dropping, sources, drawing, recording, and the whole command
run headless on short synthetic videos (a packaged portrait moving over a background)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

cv2 = pytest.importorskip("cv2")

from stargan_cli import webcam  # noqa: E402
from stargan_cli.errors import StarganError  # noqa: E402
from stargan_cli.photos.face import Box  # noqa: E402
from stargan_cli.photos.detect import LandmarkFace  # noqa: E402
from stargan_cli.webcam import (  # noqa: E402
    NO_FACE_NOTICE, Action, FaceTracker, LatestFrame, ViewState, WebcamOptions, handle_key,
    open_source, parse_source, run_webcam,
)

ASTRONAUT = Path(webcam.__file__).parent.parent / "assets" / "astronaut.jpg"
FRAME_W, FRAME_H = 320, 240
LEFT_GTK, RIGHT_GTK, LEFT_WIN, RIGHT_WIN = 0xFF51, 0xFF53, 0x250000, 0x270000
SPACE_KEY = 32


def _background(width: int = FRAME_W, height: int = FRAME_H) -> np.ndarray:
    """A smooth gradient with a few soft shapes: easy to compress, no face in it."""
    rgb = np.zeros((height, width, 3), np.uint8)
    rgb[..., 0] = np.linspace(40, 200, width)[None, :].astype(np.uint8)
    rgb[..., 1] = np.linspace(180, 60, height)[:, None].astype(np.uint8)
    rgb[..., 2] = 110
    return rgb


def _write_video(path: Path, frames_rgb: list[np.ndarray], fps: float = 10.0) -> Path:
    height, width = frames_rgb[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    assert writer.isOpened()
    for rgb in frames_rgb:
        writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def _read_video(path: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames


@pytest.fixture(scope="module")
def face_video(tmp_path_factory) -> Path:
    """12 frames of 320x240: the astronaut portrait (240 px, face ~48 px) drifting right over
    a gradient; the landmark detector finds the face in every frame."""
    portrait = Image.open(ASTRONAUT).convert("RGB").resize((240, 240), Image.BILINEAR)
    frames = []
    for i in range(12):
        image = Image.fromarray(_background())
        image.paste(portrait, (25 + 3 * i, 0))
        frames.append(np.asarray(image))
    return _write_video(tmp_path_factory.mktemp("video") / "face.mp4", frames)


@pytest.fixture(scope="module")
def blank_video(tmp_path_factory) -> Path:
    """8 frames with no face at all."""
    return _write_video(tmp_path_factory.mktemp("video") / "blank.mp4", [_background()] * 8)


@pytest.fixture
def tiny_checkpoint(tmp_path, tiny_config) -> Path:
    import torch

    from stargan_cli.checkpoints import Checkpoint, save_checkpoint
    from stargan_cli.models import build_discriminator, build_generator

    torch.manual_seed(0)
    checkpoint = Checkpoint(
        config=tiny_config, G=build_generator(tiny_config).state_dict(),
        D=build_discriminator(tiny_config).state_dict(),
    )
    return save_checkpoint(checkpoint, tmp_path / "tiny.pt")


class FakeEngine:
    """A model stand-in: two targets; 'translation' inverts the square (optionally slowly)."""

    image_size = 32

    def __init__(self, delay: float = 0.0, fail_at: int | None = None) -> None:
        self.delay = delay
        self.fail_at = fail_at
        self.calls = 0
        self.observed = 0
        self.resets = 0

    def __len__(self) -> int:
        return 2

    def reset(self) -> None:
        self.resets += 1

    def observe(self, square: Image.Image) -> None:
        assert square.size == (32, 32)
        self.observed += 1

    def target(self, index: int) -> tuple[str, list[float]]:
        return ("invert", "flip")[index], [float(index)]

    def translate(self, square: Image.Image, label) -> Image.Image:
        self.calls += 1
        if self.fail_at is not None and self.calls >= self.fail_at:
            raise RuntimeError("engine broke")
        if self.delay:
            time.sleep(self.delay)
        out = ImageOps.invert(square)
        return out if label[0] == 0 else ImageOps.mirror(out)


class ScriptedDisplay:
    """A display that 'presses' keys at given frames and keeps what it was shown."""

    def __init__(self, keys: dict[int, int] | None = None) -> None:
        self.keys = keys or {}
        self.shown: list[np.ndarray] = []
        self.closed = False

    def show(self, canvas: np.ndarray) -> int:
        self.shown.append(canvas)
        return self.keys.get(len(self.shown) - 1, -1)

    def close(self) -> None:
        self.closed = True


def _cli(args: list[str]):
    from typer.testing import CliRunner

    from stargan_cli.cli import app

    return CliRunner().invoke(app, ["webcam", *args])


# ---- keys -----------------------------------------------------------------------------------


def test_number_keys_pick_targets_and_ignore_missing_ones():
    state = ViewState(target=0, targets=5)
    new, action = handle_key(state, ord("3"))
    assert (new.target, action) == (2, Action.TARGET)
    assert state.target == 0  # pure: the old state is untouched
    assert handle_key(state, ord("9")) == (state, Action.NONE)  # only 5 targets
    assert handle_key(ViewState(0, 12), ord("0"))[0].target == 9  # "0" is the tenth


@pytest.mark.parametrize("left,right", [(LEFT_GTK, RIGHT_GTK), (LEFT_WIN, RIGHT_WIN), (ord(","), ord("."))])
def test_left_right_cycle_and_wrap(left, right):
    state = ViewState(target=0, targets=3)
    state, action = handle_key(state, left)
    assert (state.target, action) == (2, Action.TARGET)
    state, _ = handle_key(state, right)
    state, _ = handle_key(state, right)
    assert state.target == 1


def test_snapshot_paste_and_quit_keys():
    state = ViewState(target=1, targets=3, paste_back=True)
    assert handle_key(state, ord(" ")) == (state, Action.SNAPSHOT)
    toggled, action = handle_key(state, ord("p"))
    assert (toggled.paste_back, action) == (False, Action.PASTE)
    assert handle_key(toggled, ord("P"))[0].paste_back is True
    for key in (ord("q"), ord("Q"), 27):
        assert handle_key(state, key) == (state, Action.QUIT)
    for key in (-1, None, ord("x"), 0xFF52, 0x260000):  # nothing, unmapped letter, up arrows
        assert handle_key(state, key) == (state, Action.NONE)


# ---- frame dropping ---------------------------------------------------------------------------


def test_latest_frame_buffer_drops_old_frames_for_a_slow_consumer():
    buffer = LatestFrame()
    total = 150

    def produce():
        for i in range(total):
            buffer.put(i)
            time.sleep(0.001)
        buffer.close()

    thread = threading.Thread(target=produce)
    thread.start()
    received, skipped = [], 0
    while True:
        grabbed = buffer.get(timeout=5)
        if grabbed is None:
            break
        received.append(grabbed.frame)
        skipped += grabbed.skipped
        time.sleep(0.015)  # much slower than the producer
    thread.join()
    assert received == sorted(set(received))  # always newer, never repeated
    assert received[-1] == total - 1  # the newest frame is not lost at the end
    assert len(received) < total / 3
    assert buffer.produced == total
    assert buffer.dropped == skipped == total - len(received)


def test_latest_frame_timeout_and_producer_error():
    buffer = LatestFrame()
    with pytest.raises(TimeoutError):
        buffer.get(timeout=0.05)
    buffer.put("a")
    buffer.close(StarganError("camera unplugged"))
    assert buffer.get(timeout=1).frame == "a"
    with pytest.raises(StarganError, match="unplugged"):
        buffer.get(timeout=1)


def test_file_every_frame_by_default_but_dropped_in_realtime(face_video, tmp_path):
    slow = FakeEngine(delay=0.15)  # 6-7 fps against a 10 fps file
    source = open_source(face_video)
    try:
        stats = run_webcam(source, slow, WebcamOptions(detect_every=4))
    finally:
        source.close()
    assert (stats.processed, stats.dropped, stats.frames_read) == (12, 0, 12)

    slow = FakeEngine(delay=0.15)
    source = open_source(face_video, realtime=True)
    out = tmp_path / "live.mp4"
    try:
        stats = run_webcam(source, slow, WebcamOptions(detect_every=4, output=out))
    finally:
        source.close()
    assert stats.frames_read == 12
    assert stats.dropped > 0 and stats.processed < 12
    assert stats.processed + stats.dropped == 12
    # Dropped frames are filled with the frame shown, so the recording keeps real time.
    assert stats.frames_written == 12 == len(_read_video(out))


# ---- sources and errors -------------------------------------------------------------------------


def test_parse_source(tmp_path, face_video):
    assert parse_source("0").kind == "camera" and parse_source(" 2 ").value == 2
    assert parse_source("rtsp://127.0.0.1:8554/cam").kind == "url"
    spec = parse_source(str(face_video))
    assert (spec.kind, spec.live) == ("file", False)
    with pytest.raises(StarganError, match="does not exist.*--source 0"):
        parse_source(str(tmp_path / "nope.mp4"))
    with pytest.raises(StarganError, match="folder"):
        parse_source(str(tmp_path))


def test_cli_missing_file_and_missing_camera(tmp_path, tiny_checkpoint):
    result = _cli(["--source", str(tmp_path / "missing.mp4"), "--headless", "--model", str(tiny_checkpoint)])
    assert result.exit_code == 1
    assert "does not exist" in result.output and "Traceback" not in result.output

    result = _cli(["--source", "57", "--headless", "--model", str(tiny_checkpoint)])
    assert result.exit_code == 1
    assert "no camera at index 57" in result.output and "--source FILE" in result.output


def test_cli_unreadable_video_and_bad_options(tmp_path, tiny_checkpoint, face_video):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"this is not a video" * 100)
    result = _cli(["--source", str(broken), "--headless", "--model", str(tiny_checkpoint)])
    assert result.exit_code == 1 and "could not be opened as a video" in result.output

    result = _cli(["--source", "0", "--all-frames", "--headless"])
    assert result.exit_code == 2 and "--all-frames needs a video file" in result.output

    result = _cli(["--source", str(face_video), "--headless", "--output", str(tmp_path / "out.gif")])
    assert result.exit_code == 1 and ".mp4" in result.output

    result = _cli(["--source", str(face_video), "--headless", "--model", str(tiny_checkpoint), "--to", "Blnd_Hair"])
    assert result.exit_code == 2 and "did you mean Blond_Hair" in result.output

    result = _cli(["--source", str(face_video), "--headless", "--paste", "blend"])
    assert result.exit_code == 2 and "--paste must be one of delta, masked, mask, replace" in result.output

    result = _cli(["--source", str(face_video), "--headless", "--paste", "mask"])
    assert result.exit_code == 2 and "--paste mask is for photos" in result.output


def test_no_display_is_detected_before_any_window(monkeypatch, face_video):
    assert "--headless" in webcam.display_problem({}, "linux", "QT5")
    assert "Wayland" in webcam.display_problem({"WAYLAND_DISPLAY": "wayland-0"}, "linux", "QT5")
    assert webcam.display_problem({"DISPLAY": ":0"}, "linux", "QT5") is None
    assert webcam.display_problem({}, "darwin", "COCOA") is None
    assert "headless" in webcam.display_problem({"DISPLAY": ":0"}, "linux", "NONE")

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    result = _cli(["--source", str(face_video)])
    assert result.exit_code == 1
    assert "no display available" in result.output and "--headless" in result.output


def test_window_failures_become_clear_errors(monkeypatch):
    # A dead display makes Qt abort the process: the probe runs in a child process.
    monkeypatch.delenv("DISPLAY", raising=False)
    assert webcam.display._probe_window() is not None

    # OpenCV built without GUI support raises on namedWindow.
    def no_gui(*args, **kwargs):
        raise cv2.error("The function is not implemented. Rebuild the library with Windows, GTK+ 2.x or Cocoa support")

    monkeypatch.setattr(webcam.display, "display_problem", lambda: None)  # what WindowDisplay checks
    monkeypatch.setattr(cv2, "namedWindow", no_gui)
    with pytest.raises(StarganError, match="cannot open a window.*--headless"):
        webcam.WindowDisplay(probe=False)


def test_window_mode_keys_through_the_cli(monkeypatch, face_video, tiny_checkpoint, tmp_path):
    """The window path with OpenCV's GUI calls faked: keys 2, space, p, then closing the window."""
    keys = iter([ord("2"), -1, SPACE_KEY, ord("p"), -1, -1, -1])
    shown, visible = [], iter([1.0] * 5 + [0.0] * 10)
    monkeypatch.setattr(webcam, "display_problem", lambda *a, **k: None)  # what the CLI checks
    monkeypatch.setattr(webcam.display, "display_problem", lambda *a, **k: None)  # what WindowDisplay checks
    monkeypatch.setattr(webcam.display, "_probe_window", lambda: None)
    monkeypatch.setattr(cv2, "namedWindow", lambda *a, **k: None)
    monkeypatch.setattr(cv2, "imshow", lambda title, canvas: shown.append(canvas.copy()))
    monkeypatch.setattr(cv2, "waitKeyEx", lambda delay: next(keys))
    monkeypatch.setattr(cv2, "getWindowProperty", lambda *a: next(visible))
    monkeypatch.setattr(cv2, "destroyWindow", lambda *a: None)
    snaps = tmp_path / "snaps"
    result = _cli(["--source", str(face_video), "--model", str(tiny_checkpoint), "--source-attrs", "Brown_Hair",
                   "--snapshots", str(snaps), "--all-frames"])
    assert result.exit_code == 0, result.output
    # Frame 7 found the window closed (visible 0 after 5 frames shown + the first): quit.
    assert "processed 7 frames" in result.output.lower()
    assert "saved 1 snapshot" in result.output.lower()
    assert sorted(p.name.split("-")[-1] for p in snaps.iterdir()) == ["original.png", "result.png"]
    assert "keys:" in result.output


# ---- tracking, drawing -----------------------------------------------------------------------------


class MovingFace:
    """A textured blob (a stand-in face) moving at a constant speed over a flat background, and
    a detector that reports its true landmarks, counting its calls."""

    POINTS = np.array([[-12.0, -8.0], [12.0, -8.0], [0.0, 4.0], [-9.0, 14.0], [9.0, 14.0]])

    def __init__(self, speed: tuple[float, float], start=(60.0, 120.0)) -> None:
        rng = np.random.default_rng(3)
        noise = rng.uniform(0, 255, (12, 12, 3)).astype(np.uint8)
        self.texture = np.asarray(Image.fromarray(noise).resize((64, 64), Image.BICUBIC))
        self.speed, self.start = np.array(speed), np.array(start)
        self.calls = 0

    def centre(self, index: int) -> np.ndarray:
        return self.start + index * self.speed

    def frame(self, index: int) -> np.ndarray:
        rgb = np.full((FRAME_H, FRAME_W, 3), 100, np.uint8)
        x, y = np.round(self.centre(index) - 32).astype(int)
        rgb[y:y + 64, x:x + 64] = self.texture
        return rgb

    def detector(self, index_of):
        def detect(rgb):
            self.calls += 1
            points = self.POINTS + self.centre(index_of())
            return [LandmarkFace(Box(*(points.min(0) - 10), 44, 44), 1.0, points)]
        return detect


@pytest.mark.parametrize("speed", [(0.0, 0.0), (2.0, 0.0), (8.0, 0.0), (6.0, -3.0)])
def test_tracker_follows_a_face_at_constant_speed_between_detections(speed):
    face = MovingFace(speed)
    index = [0]
    tracker = FaceTracker(detect_every=5, detector=face.detector(lambda: index[0]))
    errors, flags = [], []
    for i in range(25):
        index[0] = i
        points, detected = tracker.update(face.frame(i))
        flags.append(detected)
        errors.append(np.abs(points.mean(0) - (face.POINTS.mean(0) + face.centre(i))).max())
    assert flags == [True, False, False, False, False] * 5 and face.calls == 5
    # The stated bound: within 1.5 px of the true position on every frame (no lag from smoothing).
    assert max(errors) < 1.5, errors


def test_tracker_asks_for_detection_when_the_flow_loses_the_face_and_drops_a_gone_face():
    face = MovingFace((4.0, 0.0))
    index = [0]
    tracker = FaceTracker(detect_every=10, detector=face.detector(lambda: index[0]))
    tracker.update(face.frame(0))
    index[0] = 1
    flat = np.full((FRAME_H, FRAME_W, 3), 100, np.uint8)  # the face vanished: nothing to follow
    points, detected = tracker.update(flat)
    assert not detected and np.allclose(points.mean(0), face.POINTS.mean(0) + face.centre(0), atol=1e-6)
    points, detected = tracker.update(face.frame(2))
    assert detected and face.calls == 2  # looked again at once, not after 10 frames

    lost = FaceTracker(detect_every=1, detector=lambda rgb: [], max_missing=0)
    assert lost.update(np.zeros((10, 10, 3), np.uint8)) == (None, True)
    gone = FaceTracker(detect_every=1, detector=face.detector(lambda: 0), max_missing=1)
    assert gone.update(face.frame(0))[0] is not None
    gone.detector = lambda rgb: []
    assert gone.update(face.frame(0))[0] is not None  # one missed detection: kept
    assert gone.update(face.frame(0))[0] is None


def test_compose_draws_labels_and_notice_on_top_of_the_halves():
    frame = np.full((120, 160, 3), 90, np.uint8)
    canvas = webcam.compose(frame, frame, target="1/2 Blond_Hair", fps=12.5, notice=NO_FACE_NOTICE)
    assert canvas.shape == (120, 320, 3)
    changed = np.any(canvas != np.concatenate([frame, frame], axis=1), axis=2)
    assert changed[:20, 160:].any()  # target name, top of the result half
    assert changed[100:, 240:].any()  # fps, bottom right
    assert changed[55:75, 170:310].any()  # the notice, middle of the result half
    assert not changed[30:50, :].any()  # nothing else


# ---- the loop with a fake engine (exact pixels, keys) -----------------------------------------------


def test_keys_drive_the_loop_snapshot_paste_target_quit(face_video, tmp_path):
    engine = FakeEngine()
    display = ScriptedDisplay({1: ord("2"), 3: ord(" "), 4: ord("p"), 6: ord("q")})
    frames: list = []
    source = open_source(face_video)
    try:
        stats = run_webcam(
            source, engine, WebcamOptions(detect_every=2, snapshots=tmp_path / "snaps"),
            display=display, on_frame=frames.append,
        )
    finally:
        source.close()
    assert stats.processed == 7 and display.closed  # q on the 7th frame stopped it
    assert [f.target for f in frames] == ["invert", "invert", "flip", "flip", "flip", "flip", "flip"]
    assert [f.paste_back for f in frames] == [True] * 5 + [False] * 2
    assert engine.observed == 4  # frames 0, 2, 4, 6: detection every 2 frames
    for f in frames[:5]:  # paste-back: only the face square changed, the rest is untouched
        left, top, right, bottom = f.face
        outside = np.ones(f.original.shape[:2], bool)
        outside[max(top, 0):bottom, max(left, 0):right] = False
        assert np.array_equal(f.result[outside], f.original[outside])
        quarter = (right - left) // 4
        inner = (slice(top + quarter, bottom - quarter), slice(left + quarter, right - quarter))
        assert np.abs(f.result[inner].astype(int) - f.original[inner]).mean() > 40
    for f in frames[5:]:  # paste-back off: the model square enlarged, letterboxed
        assert f.result.shape == f.original.shape
        assert not f.result[:, :30].any() and f.result[:, 60:260].any()
    snaps = sorted((tmp_path / "snaps").iterdir())
    assert [p.name.endswith(s) for p, s in zip(snaps, ("original.png", "result.png"))] == [True, True]
    original = cv2.imread(str(snaps[0]))
    assert original.shape == (FRAME_H, FRAME_W, 3) and np.array_equal(original, frames[3].original)
    assert np.array_equal(cv2.imread(str(snaps[1])), frames[3].result)
    assert len(display.shown) == 7 and display.shown[0].shape == (FRAME_H, 2 * FRAME_W, 3)


def test_no_face_frames_pass_through_with_a_notice(blank_video):
    engine = FakeEngine()
    display = ScriptedDisplay()
    frames: list = []
    source = open_source(blank_video)
    try:
        stats = run_webcam(source, engine, display=display, on_frame=frames.append)
    finally:
        source.close()
    assert stats.processed == stats.no_face == 8
    assert engine.calls == 0
    for f in frames:
        assert f.face is None
        assert np.array_equal(f.result, f.original)  # unchanged
        right = f.canvas[:, FRAME_W:]
        band = slice(FRAME_H // 2 - 5, FRAME_H // 2 + 20)
        assert np.any(right[band] != f.original[band])  # the notice is drawn there
        assert np.array_equal(right[40:FRAME_H // 2 - 10], f.original[40:FRAME_H // 2 - 10])


def test_failed_run_leaves_no_partial_recording(face_video, tmp_path):
    out = tmp_path / "rec" / "out.mp4"
    source = open_source(face_video)
    try:
        with pytest.raises(RuntimeError, match="engine broke"):
            run_webcam(source, FakeEngine(fail_at=4), WebcamOptions(output=out))
    finally:
        source.close()
    assert list(out.parent.iterdir()) == []


# ---- the model side and the whole command ---------------------------------------------------------


def test_model_engine_targets(tiny_checkpoint):
    from stargan_cli.translate import Translator

    translator = Translator(tiny_checkpoint, device="cpu")
    engine = webcam.ModelEngine(translator, source_attrs="Brown_Hair,Male")
    assert len(engine) == 5
    names = [engine.target(i)[0] for i in range(5)]
    assert names == ["Black_Hair", "Blond_Hair", "Brown_Hair", "Male=0", "Young"]
    assert engine.target(1)[1] == [0.0, 1.0, 0.0, 1.0, 0.0]  # hair colours exclusive
    assert engine.target(3)[1] == [0.0, 0.0, 1.0, 0.0, 0.0]  # Male flipped off

    chosen = webcam.ModelEngine(translator, ["Blond_Hair", "young=0,Male"], source_attrs="none")
    assert [chosen.target(i)[0] for i in range(len(chosen))] == ["Blond_Hair", "Young=0+Male"]
    square = Image.new("RGB", (32, 32), (128, 100, 90))
    assert chosen.translate(square, chosen.target(0)[1]).size == (32, 32)

    estimated = webcam.ModelEngine(translator)
    estimated.observe(square)
    assert len(estimated.source_label) == 5 and set(estimated.source_label) <= {0.0, 1.0}


def test_cli_headless_records_translated_face_over_untouched_background(face_video, tiny_checkpoint, tmp_path):
    from stargan_cli.photos.face import Frame
    from stargan_cli.photos.detect import detect_landmarks

    out = tmp_path / "out.mp4"
    result = _cli([
        "--source", str(face_video), "--model", str(tiny_checkpoint), "--headless",
        "--output", str(out), "--detect-every", "3", "--to", "Blond_Hair", "--to", "Male=0", "--cycle-every", "6",
    ])
    assert result.exit_code == 0, result.output
    assert "processed 12 frames" in result.output.lower() and "fps" in result.output
    assert "dropped 0" in result.output
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".mp4" or ".part" in p.name] == ["out.mp4"]

    shown, given = _read_video(out), _read_video(face_video)
    assert len(shown) == 12 and shown[0].shape == (FRAME_H, 2 * FRAME_W, 3)
    for i in (2, 7, 11):
        original, right = given[i].astype(int), shown[i][:, FRAME_W:].astype(int)
        rgb = cv2.cvtColor(given[i], cv2.COLOR_BGR2RGB)
        frame = Frame.from_landmarks(detect_landmarks(rgb, order="largest")[0].points)
        left, top, r, bottom = frame.square_box().ltrb()
        side = r - left
        face = (slice(max(top, 0) + side // 4, bottom - side // 4), slice(left + side // 4, r - side // 4))
        assert np.abs(right[face] - original[face]).mean() > 15  # the face was translated
        away = np.ones((FRAME_H, FRAME_W), bool)  # background: off the face square and the text
        away[max(top - side // 3, 0):bottom + side // 3, max(left - side // 3, 0):r + side // 3] = False
        away[:30], away[-30:] = False, False
        assert away.sum() > 10_000
        assert np.abs(right[away] - original[away]).mean() < 4  # only compression noise

    # An existing recording is kept unless --overwrite, as translate does.
    before = out.read_bytes()
    args = ["--source", str(face_video), "--model", str(tiny_checkpoint), "--headless", "--output", str(out),
            "--max-frames", "2", "--to", "Young"]
    refused = _cli(args)
    assert refused.exit_code == 1 and "--overwrite" in refused.output and out.read_bytes() == before
    replaced = _cli([*args, "--overwrite"])
    assert replaced.exit_code == 0, replaced.output
    assert len(_read_video(out)) == 2


def test_ffmpeg_own_log_lines_are_silenced(tmp_path):
    """A non-video must give our one error line, not FFmpeg's "moov atom not found" too."""
    import os
    import subprocess
    import sys

    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"this is not a video" * 100)
    code = (
        "import sys\nfrom stargan_cli.webcam import open_source\nfrom stargan_cli.errors import StarganError\n"
        "try:\n    open_source(sys.argv[1])\nexcept StarganError as err:\n    print('caught', err)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "OPENCV_FFMPEG_LOGLEVEL"}
    done = subprocess.run([sys.executable, "-c", code, str(broken)], capture_output=True, text=True, env=env, timeout=60)
    assert "could not be opened as a video" in done.stdout
    assert done.stderr.strip() == ""


def test_cycle_every_moves_through_the_targets(face_video):
    frames: list = []
    source = open_source(face_video)
    try:
        run_webcam(source, FakeEngine(), WebcamOptions(cycle_every=3), on_frame=frames.append)
    finally:
        source.close()
    assert [f.target for f in frames] == ["invert"] * 3 + ["flip"] * 3 + ["invert"] * 3 + ["flip"] * 3


def test_headless_with_several_targets_needs_cycle_every(face_video, tiny_checkpoint):
    for targets in (["--to", "Blond_Hair", "--to", "Male=0"], []):  # given, or the model's own
        result = _cli(["--source", str(face_video), "--model", str(tiny_checkpoint), "--headless", *targets])
        assert result.exit_code == 2, result.output
        assert "no window to pick one" in result.output and "--cycle-every N" in result.output
    result = _cli(["--source", str(face_video), "--model", str(tiny_checkpoint), "--headless", "--max-frames", "4",
                   "--to", "Blond_Hair", "--to", "Male=0", "--cycle-every", "2"])
    assert result.exit_code == 0, result.output
    assert "2 target(s), the next every 2 frames" in result.output


def test_max_frames_counts_frames_of_the_source_with_or_without_dropping(face_video, tmp_path):
    source = open_source(face_video, limit=4)  # every frame: 4 read, 4 processed
    try:
        stats = run_webcam(source, FakeEngine(), WebcamOptions(detect_every=4))
    finally:
        source.close()
    assert (stats.processed, stats.frames_read, stats.dropped) == (4, 4, 0)
    out = tmp_path / "five.mp4"
    source = open_source(face_video, realtime=True, limit=5)  # slower than the file: some dropped
    try:
        stats = run_webcam(source, FakeEngine(delay=0.15), WebcamOptions(detect_every=4, output=out))
    finally:
        source.close()
    assert stats.frames_read == 5 and stats.processed + stats.dropped == 5
    assert stats.frames_written == 5 == len(_read_video(out))


def test_cli_realtime_max_frames_agrees_with_itself(face_video, tiny_checkpoint, tmp_path):
    out = tmp_path / "rt.mp4"
    result = _cli(["--source", str(face_video), "--model", str(tiny_checkpoint), "--headless", "--realtime",
                   "--max-frames", "5", "--to", "Young", "--output", str(out)])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())  # long paths wrap
    assert "read 5," in said and f"Recorded {out} (5 frames)" in said
    assert "Translating frames: 5/5 frames (100%)" in result.output  # the progress counts them too
