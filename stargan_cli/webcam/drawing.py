"""Drawing on frames (OpenCV, BGR): outlined text, letterboxing, the side-by-side picture."""

from __future__ import annotations

import numpy as np


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
