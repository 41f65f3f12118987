"""Legacy: faces found with OpenCV's Haar cascade, framed, cropped and pasted back by box.

The published StarGAN models were trained on aligned CelebA images (178x218, face centred),
of which the model sees the centred 178x178 square. To use them on a selfie or a group photo
each face is framed the same way:

1. :func:`detect_faces` finds faces with OpenCV's Haar cascade (shipped in opencv-python 4.x,
   works offline).
2. :func:`celeba_box` grows a Haar box into a 178:218 box with CelebA framing. The numbers were
   measured by running the same detector on aligned CelebA images: the CelebA width is
   :data:`CELEBA_SCALE` (1.70) times the Haar box width (median of ~570 images; 10th-90th
   percentile 1.55-1.88) and the CelebA centre lies :data:`CELEBA_SHIFT` (0.14) box widths
   above the Haar box centre (0.12-0.17); horizontally the centres agree.
3. :func:`extract_crop` cuts that box out; where it reaches past the photo border the photo is
   mirrored (reflection padding). ``images.crop_resize`` then takes its centre square at the
   model size, exactly as for a CelebA image.
4. :func:`paste_back` brings the translated square back into the photo with a feathered edge
   (:func:`.paste.paste_square`); pixels outside the square are untouched.

The package's own photo path does not use the Haar boxes: faces are found with five landmarks
(:mod:`.detect`) and aligned by :mod:`.align`. These functions stay for callers of the library
(they need opencv-python 4.x).

:class:`BoxSmoother` steadies boxes between video frames (the webcam now follows landmarks
with optical flow instead, see :mod:`stargan_cli.webcam.tracking`).

Everything here works on PIL images and numpy arrays; OpenCV is imported only where it is used.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from PIL import Image

from ..errors import StarganError
from ..images import CELEBA_HEIGHT, CELEBA_WIDTH, celeba_crop_box, rgb_array
from .face import Box, Frame
from .paste import DEFAULT_PASTE, paste_square

# CelebA crop width / Haar box width, and the upward shift of the crop centre in box widths.
CELEBA_SCALE = 1.70
CELEBA_SHIFT = 0.14
# Detection runs on a copy whose longer side is at most this (Haar cost grows with area).
DETECT_MAX_SIDE = 1280
CASCADE_FILE = "haarcascade_frontalface_default.xml"

_cascade_cache: dict[str, object] = {}


def _load_cascade():
    """OpenCV's frontal-face Haar cascade, loaded once; clear errors where it is missing."""
    if "face" in _cascade_cache:
        return _cascade_cache["face"]
    try:
        import cv2
    except ImportError:
        raise StarganError(
            "face detection needs OpenCV: pip install 'opencv-python<5' (or pass --no-detect)"
        ) from None
    data = getattr(cv2, "data", None)
    classifier = getattr(cv2, "CascadeClassifier", None)
    folder = getattr(data, "haarcascades", None)
    if classifier is None or not folder:
        version = getattr(cv2, "__version__", "?")
        raise StarganError(
            f"this OpenCV ({version}) ships no Haar face cascade (OpenCV 5 dropped it): "
            "pip install 'opencv-python<5', or pass --no-detect"
        )
    cascade = classifier(str(folder) + CASCADE_FILE)
    if cascade.empty():
        raise StarganError(
            f"OpenCV could not load {CASCADE_FILE} from {folder}: reinstall 'opencv-python<5', "
            "or pass --no-detect"
        )
    _cascade_cache["face"] = cascade
    return cascade


def _suppress_overlaps(boxes: list[Box], threshold: float = 0.3) -> list[Box]:
    """Drop boxes that overlap a larger kept one (IoU above ``threshold`` or mostly inside it)."""
    kept: list[Box] = []
    for box in sorted(boxes, key=lambda b: b.area, reverse=True):
        if all(box.iou(k) <= threshold and box.intersection(k) <= 0.6 * box.area for k in kept):
            kept.append(box)
    return kept


def detect_faces(
    image: "Image.Image | np.ndarray",
    *,
    order: str = "left_to_right",
    min_neighbors: int = 5,
    scale_factor: float = 1.1,
    min_size: int = 20,
    max_side: int = DETECT_MAX_SIDE,
) -> list[Box]:
    """Find frontal faces in an RGB image (PIL or uint8 array of shape (H, W, 3)).

    Returns Haar boxes in the image's pixel coordinates, ordered ``"left_to_right"`` (by box
    centre; the order the CLI numbers faces in) or ``"largest"`` (largest first). Large images
    are searched on a copy scaled to ``max_side``; ``min_size`` is in pixels of that copy.
    Overlapping duplicate detections are merged. An empty list means no face was found.
    """
    if order not in ("left_to_right", "largest"):
        raise ValueError(f"order must be 'left_to_right' or 'largest', not {order!r}")
    array = rgb_array(image)
    cascade = _load_cascade()
    import cv2

    height, width = array.shape[:2]
    scale = min(1.0, max_side / max(height, width))
    gray = cv2.cvtColor(np.ascontiguousarray(array), cv2.COLOR_RGB2GRAY)
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
    gray = cv2.equalizeHist(gray)
    found = cascade.detectMultiScale(
        gray, scaleFactor=scale_factor, minNeighbors=min_neighbors, minSize=(min_size, min_size)
    )
    boxes = [Box(float(x), float(y), float(w), float(h)).scaled(1.0 / scale) for x, y, w, h in found]
    boxes = _suppress_overlaps(boxes)
    if order == "largest":
        return sorted(boxes, key=lambda b: b.area, reverse=True)
    return sorted(boxes, key=lambda b: b.center[0])


def celeba_box(face_box: Box, image_size: tuple[int, int]) -> Box:
    """The 178:218 box around ``face_box`` framed like an aligned CelebA image.

    Coordinates are whole pixels and may reach past the border of an image of ``image_size``
    (width, height); :func:`extract_crop` pads there. The box always overlaps the image.
    """
    width_img, height_img = image_size
    cx, cy = face_box.center
    width = max(2, int(round(face_box.w * CELEBA_SCALE)))
    height = int(round(width * CELEBA_HEIGHT / CELEBA_WIDTH))
    left = int(round(cx - width / 2))
    top = int(round(cy - CELEBA_SHIFT * face_box.w - height / 2))
    if left >= width_img or top >= height_img or left + width <= 0 or top + height <= 0:
        raise ValueError(f"face box {face_box} lies outside the {width_img}x{height_img} image")
    return Box(float(left), float(top), float(width), float(height))


def extract_crop(image: "Image.Image | np.ndarray", box: Box) -> Image.Image:
    """Cut ``box`` out of ``image`` as a PIL RGB image, mirroring the photo past its border."""
    array = rgb_array(image)
    height, width = array.shape[:2]
    left, top, right, bottom = box.ltrb()
    inner = array[max(top, 0):min(bottom, height), max(left, 0):min(right, width)]
    if inner.size == 0:
        raise ValueError(f"box {box} lies outside the {width}x{height} image")
    pads = (
        (max(0, -top), max(0, bottom - height)),
        (max(0, -left), max(0, right - width)),
        (0, 0),
    )
    if any(p for pair in pads for p in pair):
        mode = "reflect" if min(inner.shape[:2]) > 1 else "edge"
        inner = np.pad(inner, pads, mode=mode)
    return Image.fromarray(np.ascontiguousarray(inner))


def model_square(box: Box) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the square the model sees inside a CelebA-framed box."""
    left, top, right, bottom = box.ltrb()
    sl, st, sr, sb = celeba_crop_box(right - left, bottom - top)
    return left + sl, top + st, left + sr, top + sb


def paste_back(
    image: "Image.Image | np.ndarray",
    translated_square: Image.Image,
    box: Box,
    feather: float = 0.12,
    *,
    mode: str | None = None,
    source: Image.Image | None = None,
) -> Image.Image:
    """Bring a translated model square back into ``image`` and return the new image.

    ``box`` is the CelebA-framed box the square was made from (:func:`celeba_box`); the
    square goes back over the box's centre square with a feathered edge (``feather`` =
    fraction of the side). ``mode`` and ``source`` are as for :func:`.paste.paste_square`
    (default: add only what the model changed). Pixels outside that square are left exactly
    as they were, and the result has the size of ``image``.
    """
    return paste_square(
        image, translated_square, Frame.from_box(box), source=source, mode=mode or DEFAULT_PASTE, feather=feather
    )


class BoxSmoother:
    """Exponential smoothing of face boxes between frames, so crops do not jitter.

    Each call to :meth:`update` takes one frame's detections. A detection that overlaps a
    tracked box (IoU >= ``match_iou``) moves it ``alpha`` of the way towards itself; others
    start new tracks. A track that is not seen is kept unchanged for ``max_missing`` frames
    (detectors flicker), then dropped. Boxes come back ordered left to right.
    """

    def __init__(self, alpha: float = 0.35, match_iou: float = 0.3, max_missing: int = 5) -> None:
        if not 0.0 < alpha <= 1.0:
            raise ValueError("alpha must be in (0, 1]")
        self.alpha = alpha
        self.match_iou = match_iou
        self.max_missing = max_missing
        self._tracks: list[list] = []  # [box, frames missing]

    def reset(self) -> None:
        """Forget all tracks."""
        self._tracks = []

    def update(self, boxes: Sequence[Box]) -> list[Box]:
        """Feed this frame's detections; return the smoothed boxes to use for this frame."""
        pairs = sorted(
            ((track[0].iou(box), ti, bi) for ti, track in enumerate(self._tracks) for bi, box in enumerate(boxes)),
            reverse=True,
        )
        used_tracks: set[int] = set()
        used_boxes: set[int] = set()
        for overlap, ti, bi in pairs:
            if overlap < self.match_iou:
                break
            if ti in used_tracks or bi in used_boxes:
                continue
            old, new = self._tracks[ti][0], boxes[bi]
            a = self.alpha
            self._tracks[ti] = [
                Box(
                    old.x + a * (new.x - old.x), old.y + a * (new.y - old.y),
                    old.w + a * (new.w - old.w), old.h + a * (new.h - old.h),
                ),
                0,
            ]
            used_tracks.add(ti)
            used_boxes.add(bi)
        for ti, track in enumerate(self._tracks):
            if ti not in used_tracks:
                track[1] += 1
        self._tracks = [t for t in self._tracks if t[1] <= self.max_missing]
        self._tracks += [[box, 0] for bi, box in enumerate(boxes) if bi not in used_boxes]
        return sorted((t[0] for t in self._tracks), key=lambda b: b.center[0])


__all__ = [
    "BoxSmoother", "CELEBA_SCALE", "CELEBA_SHIFT", "celeba_box", "detect_faces", "extract_crop", "model_square",
    "paste_back",
]
