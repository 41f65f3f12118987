"""Following a face over video frames: landmarks detected every k frames, optical flow in between.

Detection (MTCNN, :mod:`stargan_cli.photos.detect`) runs on a small copy of the frame every
``detect_every`` frames. On the frames between, the face's landmarks are carried along by
sparse optical flow (pyramidal Lucas-Kanade on a grid of points over the face), so the box is
where the face is in *this* frame, not where it was at the last detection. When the flow loses
the face, it falls back to the face's velocity for the frame and asks for a detection on the
next one. Nothing is averaged over time, so following adds no lag.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..errors import StarganError
from ..photos.face import Box

# Landmark detections: (box, five points) per face, in the frame's pixels.
Detector = Callable[[np.ndarray], list]


def _default_detector(detect_side: int) -> Detector:
    from ..photos.detect import detect_landmarks

    def detect(rgb: np.ndarray) -> list:
        return detect_landmarks(rgb, order="largest", max_side=detect_side)

    return detect


class FaceTracker:
    """The face (five landmarks) of each frame of a video.

    ``update(rgb)`` returns the landmarks, shape (5, 2), of the largest face, or None. Every
    ``detect_every`` frames (and on the frame after the flow lost the face) the detector runs
    on a copy whose longer side is ``detect_side`` pixels; in between the points follow the
    optical flow of the face, computed on a copy of ``flow_side`` pixels. A face the
    detector misses is followed by the flow for up to ``max_missing`` more detections.
    """

    def __init__(
        self,
        detect_every: int = 5,
        *,
        detect_side: int = 320,
        flow_side: int = 320,
        detector: Detector | None = None,
        max_missing: int = 1,
    ) -> None:
        if detect_every < 1:
            raise StarganError("--detect-every must be at least 1")
        self.detect_every = detect_every
        self.detector = detector or _default_detector(detect_side)
        self.flow_side = flow_side
        self.max_missing = max_missing
        self._frame = 0
        self._points: np.ndarray | None = None
        self._velocity = np.zeros(2)
        self._gray: np.ndarray | None = None
        self._scale = 1.0
        self._missing = 0
        self._force_detect = False

    @property
    def box(self) -> Box | None:
        """The box around the current landmarks (None without a face)."""
        if self._points is None:
            return None
        x0, y0 = self._points.min(0)
        x1, y1 = self._points.max(0)
        return Box(float(x0), float(y0), float(x1 - x0), float(y1 - y0))

    def _small_gray(self, rgb: np.ndarray) -> np.ndarray:
        import cv2

        height, width = rgb.shape[:2]
        self._scale = min(1.0, self.flow_side / max(height, width))
        gray = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
        if self._scale < 1.0:
            size = (max(1, round(width * self._scale)), max(1, round(height * self._scale)))
            gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
        return gray

    def _flow(self, gray: np.ndarray) -> np.ndarray | None:
        """The face's shift from the previous frame (full-size pixels), or None if lost."""
        import cv2

        assert self._points is not None and self._gray is not None
        pts = self._points * self._scale
        (x0, y0), (x1, y1) = pts.min(0), pts.max(0)
        pad = 0.25 * max(x1 - x0, y1 - y0, 4.0)
        gx, gy = np.meshgrid(np.linspace(x0 - pad, x1 + pad, 6), np.linspace(y0 - pad, y1 + pad, 6))
        grid = np.concatenate([pts, np.stack([gx.ravel(), gy.ravel()], 1)]).astype(np.float32)
        height, width = gray.shape
        inside = (grid[:, 0] >= 0) & (grid[:, 0] < width) & (grid[:, 1] >= 0) & (grid[:, 1] < height)
        grid = grid[inside].reshape(-1, 1, 2)
        if len(grid) < 6:
            return None
        params = dict(winSize=(15, 15), maxLevel=3, criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03))
        moved, status, _ = cv2.calcOpticalFlowPyrLK(self._gray, gray, grid, None, **params)
        # Forward-backward check: a point is trusted only if tracking it back lands where it began.
        back, back_status, _ = cv2.calcOpticalFlowPyrLK(gray, self._gray, moved, None, **params)
        drift = np.linalg.norm((back - grid).reshape(-1, 2), axis=1)
        ok = (status.ravel() == 1) & (back_status.ravel() == 1) & (drift < 0.5)
        if ok.sum() < max(6, len(grid) // 3):
            return None
        shift = np.median((moved - grid).reshape(-1, 2)[ok], axis=0)
        return shift / self._scale

    def update(self, rgb: np.ndarray) -> tuple[np.ndarray | None, bool]:
        """Feed one RGB frame; returns (landmarks of the face or None, whether detection ran)."""
        detect = self._frame % self.detect_every == 0 or self._force_detect or self._points is None
        self._frame += 1
        gray = self._small_gray(rgb)
        if self._points is not None and self._gray is not None and self._gray.shape == gray.shape:
            shift = self._flow(gray)
            if shift is None:  # lost: guess from the last motion, and look again next frame
                shift = self._velocity
                self._force_detect = True
            self._velocity = shift
            self._points = self._points + shift
        if detect:
            self._force_detect = False
            found = self.detector(rgb)
            if found:
                if self._points is None:
                    self._velocity = np.zeros(2)
                self._points = np.asarray(found[0].points, dtype=np.float64)
                self._missing = 0
            elif self._points is not None:
                self._missing += 1
                if self._missing > self.max_missing:
                    self._points, self._velocity = None, np.zeros(2)
        self._gray = gray
        return (None if self._points is None else self._points.copy()), detect
