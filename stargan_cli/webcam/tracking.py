"""Following a face over video frames: detection every k frames, smoothed in between."""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..errors import StarganError
from ..faces import Box, BoxSmoother, detect_faces


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
