"""Aligning faces like CelebA, and bringing the translation back into the photo.

A :class:`Frame` is the similarity transform (rotation, scale, shift) from a photo's pixels to
an aligned 178x218 CelebA image. :meth:`Frame.from_landmarks` fits it to a face's five
landmarks (:mod:`stargan_cli.landmarks`) so that the eyes (and, lightly weighted, the mouth
corners) land where they are in CelebA's aligned images, :data:`CELEBA_LANDMARKS`: CelebA
itself was aligned on the eyes, so a tilted face is turned upright and sized the way the model
saw faces in training. :meth:`Frame.from_box` is the same for an axis-aligned CelebA-framed box
(no rotation).

:func:`extract_square` cuts the square the model sees (the centre 178x178 of the aligned image)
out of the photo at the model's size; :func:`paste_square` warps the translated square back
with the inverse transform. How it is brought back is the ``mode`` (:data:`PASTE_MODES`):

- ``"delta"``: only what the model changed, ``G(x) - x``, is scaled up and added to the photo,
  so the photo keeps its own resolution and fine detail; an unchanged square leaves the photo
  exactly as it was.
- ``"masked"`` (default): the same difference, applied only where it is large (a soft mask of
  the smoothed change), so the model's small errors elsewhere (slight blur, colour drift) are
  dropped too. Chosen by measurement: with the bundled model it kept slightly more of the photo
  than ``delta`` and far more than ``replace`` (``benchmarks/paste_detail.py``).
- ``"replace"``: the model's square itself, scaled up, replaces the photo (the old behaviour).

In every mode the result is blended in with a feathered edge, and pixels outside the square's
footprint in the photo are never touched. Coordinates follow OpenCV: pixel centres at integers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from PIL import Image

from .faces import Box, _as_array, feather_mask
from .images import CELEBA_HEIGHT, CELEBA_WIDTH

PASTE_MODES = ("delta", "masked", "replace")
DEFAULT_PASTE = "masked"
# Where MTCNN's five landmarks lie in CelebA's aligned 178x218 images: the median over the
# first 200 training images of the CelebA subset (found in 199; ``python
# benchmarks/align_accuracy.py --template 200`` measures it). Left eye, right eye, nose, left
# and right mouth corner, in pixels (centres at integers).
CELEBA_LANDMARKS = np.array(
    [[68.5, 110.9], [107.9, 110.8], [87.8, 135.5], [70.6, 151.7], [104.8, 151.4]], dtype=np.float64
)
# Weights of the five points in the fit: CelebA was aligned on the eyes; the mouth steadies
# the scale a little; the nose moves most when the head turns.
LANDMARK_WEIGHTS = np.array([1.0, 1.0, 0.0, 0.25, 0.25])
# The model square: the centre 178x178 of the 178x218 aligned image.
SQUARE_TOP = (CELEBA_HEIGHT - CELEBA_WIDTH) / 2
# "masked" paste: the change (mean over channels, 0-255, smoothed) is ignored below LOW and
# kept whole above HIGH.
MASK_LOW, MASK_HIGH = 6.0, 18.0


def _similarity(src: np.ndarray, dst: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The 2x3 similarity (no reflection) that maps ``src`` points closest to ``dst`` points
    in weighted least squares (Umeyama's method)."""
    w = weights / weights.sum()
    mu_s, mu_d = w @ src, w @ dst
    s, d = src - mu_s, dst - mu_d
    cov = (d * w[:, None]).T @ s
    u, sig, vt = np.linalg.svd(cov)
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[-1] = -1
    rot = u @ np.diag(sign) @ vt
    var = (w * (s**2).sum(1)).sum()
    scale = float((sig * sign).sum() / var) if var > 0 else 1.0
    matrix = np.zeros((2, 3))
    matrix[:, :2] = scale * rot
    matrix[:, 2] = mu_d - scale * rot @ mu_s
    return matrix


def _compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """2x3 affine ``outer`` after ``inner``."""
    full = np.vstack([inner, [0.0, 0.0, 1.0]])
    return (np.vstack([outer, [0.0, 0.0, 1.0]]) @ full)[:2]


def invert(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a 2x3 affine transform."""
    return np.linalg.inv(np.vstack([matrix, [0.0, 0.0, 1.0]]))[:2]


@dataclass(frozen=True)
class Frame:
    """Photo pixels -> aligned CelebA image pixels (178x218), a 2x3 similarity transform."""

    matrix: tuple[tuple[float, float, float], tuple[float, float, float]]

    @classmethod
    def from_matrix(cls, matrix: np.ndarray) -> "Frame":
        """From a 2x3 array."""
        m = np.asarray(matrix, dtype=np.float64).reshape(2, 3)
        return cls((tuple(m[0]), tuple(m[1])))  # type: ignore[arg-type]

    @classmethod
    def from_landmarks(cls, points: np.ndarray | Sequence[Sequence[float]]) -> "Frame":
        """Fit to five landmarks (left eye, right eye, nose, mouth corners) in photo pixels."""
        src = np.asarray(points, dtype=np.float64).reshape(5, 2)
        return cls.from_matrix(_similarity(src, CELEBA_LANDMARKS, LANDMARK_WEIGHTS))

    @classmethod
    def from_box(cls, box: Box) -> "Frame":
        """The axis-aligned frame of a CelebA-framed box (:func:`faces.celeba_box`)."""
        left, top, right, bottom = box.ltrb()
        kx, ky = CELEBA_WIDTH / (right - left), CELEBA_HEIGHT / (bottom - top)
        # Pixel edges map to pixel edges: c + 0.5 = (p + 0.5 - left) * k.
        return cls.from_matrix([[kx, 0, (0.5 - left) * kx - 0.5], [0, ky, (0.5 - top) * ky - 0.5]])

    @property
    def array(self) -> np.ndarray:
        """The 2x3 matrix as an array."""
        return np.array(self.matrix, dtype=np.float64)

    @property
    def scale(self) -> float:
        """CelebA pixels per photo pixel."""
        m = self.array
        return float(math.sqrt(abs(np.linalg.det(m[:, :2]))))

    @property
    def angle(self) -> float:
        """Rotation of the photo needed to make the face upright, in degrees."""
        m = self.array
        return math.degrees(math.atan2(m[1, 0], m[0, 0]))

    def square_matrix(self, side: int) -> np.ndarray:
        """Photo pixels -> pixels of the model square drawn at ``side`` x ``side``."""
        k = side / CELEBA_WIDTH
        # Pixel edges of the 178x178 centre square map to the edges of the side x side square.
        to_square = np.array([[k, 0, 0.5 * k - 0.5], [0, k, (0.5 - SQUARE_TOP) * k - 0.5]])
        return _compose(to_square, self.array)

    def square_corners(self) -> np.ndarray:
        """The model square's four corners in photo pixels, (4, 2), clockwise from top left."""
        corners = np.array([[0, SQUARE_TOP], [CELEBA_WIDTH, SQUARE_TOP], [CELEBA_WIDTH, SQUARE_TOP + CELEBA_WIDTH],
                            [0, SQUARE_TOP + CELEBA_WIDTH]], dtype=np.float64) - 0.5
        inv = invert(self.array)
        return corners @ inv[:, :2].T + inv[:, 2]

    def square_box(self) -> Box:
        """The axis-aligned box around the model square in the photo."""
        c = self.square_corners()
        x0, y0 = c.min(0) + 0.5
        x1, y1 = c.max(0) + 0.5
        return Box(float(x0), float(y0), float(x1 - x0), float(y1 - y0))

    def bounding_box(self) -> Box:
        """The axis-aligned box around the whole aligned 178x218 image in the photo."""
        corners = np.array([[0, 0], [CELEBA_WIDTH, 0], [CELEBA_WIDTH, CELEBA_HEIGHT], [0, CELEBA_HEIGHT]]) - 0.5
        inv = invert(self.array)
        c = corners @ inv[:, :2].T + inv[:, 2] + 0.5
        x0, y0 = c.min(0)
        x1, y1 = c.max(0)
        return Box(float(x0), float(y0), float(x1 - x0), float(y1 - y0))


def extract_square(image: "Image.Image | np.ndarray", frame: Frame, size: int) -> Image.Image:
    """The model square of ``frame`` at ``size`` x ``size`` (mirroring past the photo border).

    The photo is warped at about its own resolution and then shrunk with PIL's bilinear
    filter, as ``images.crop_resize`` does for a CelebA image, so a large face is averaged,
    not aliased.
    """
    import cv2

    array = np.ascontiguousarray(_as_array(image))
    per_pixel = frame.scale * size / CELEBA_WIDTH  # square pixels per photo pixel
    side = size * min(8, math.ceil(1 / per_pixel)) if per_pixel < 1 else size
    warped = cv2.warpAffine(
        array, frame.square_matrix(side), (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
    )
    square = Image.fromarray(warped)
    return square if side == size else square.resize((size, size), Image.BILINEAR)


def change_mask(delta: np.ndarray, low: float = MASK_LOW, high: float = MASK_HIGH) -> np.ndarray:
    """Where the model changed the square: 0 below ``low``, 1 above ``high`` (mean absolute
    change over the channels, 0-255, smoothed over ~1/32 of the square), smooth in between."""
    import cv2

    side = delta.shape[0]
    change = np.abs(delta).mean(axis=2).astype(np.float32)
    sigma = max(0.5, side / 32)
    change = cv2.GaussianBlur(change, (0, 0), sigma)
    t = np.clip((change - low) / (high - low), 0.0, 1.0)
    return (t * t * (3 - 2 * t)).astype(np.float32)


def paste_square(
    image: "Image.Image | np.ndarray",
    translated: Image.Image,
    frame: Frame,
    *,
    source: Image.Image | None = None,
    mode: str = DEFAULT_PASTE,
    feather: float = 0.12,
) -> Image.Image:
    """Bring a translated model square back into ``image`` through ``frame``; returns a new image.

    ``source`` is the square the model was given (``"delta"`` and ``"masked"`` need it; by
    default it is cut from ``image`` again with :func:`extract_square`). ``feather``: the
    width of the blended edge as a fraction of the square. Pixels outside the square's
    footprint keep their exact values, and the result has the size of ``image``.
    """
    import cv2

    if mode not in PASTE_MODES:
        raise ValueError(f"paste mode must be one of {', '.join(PASTE_MODES)}, not {mode!r}")
    base = _as_array(image).copy()
    height, width = base.shape[:2]
    size = translated.size[0]
    out = np.asarray(translated.convert("RGB"), dtype=np.float32)
    # The feather mask is 0 on the square's outermost pixels, so interpolation never reaches
    # past the footprint.
    mask = feather_mask(size, feather, zero_edge=True)
    if mode == "replace":
        patch = out
    else:
        if source is None:
            source = extract_square(base, frame, size)
        patch = out - np.asarray(source.convert("RGB"), dtype=np.float32)
        if mode == "masked":
            mask = mask * change_mask(patch)
    corners = frame.square_corners()
    x0, y0 = np.floor(corners.min(0)).astype(int)
    x1, y1 = np.ceil(corners.max(0)).astype(int) + 1
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if x1 <= x0 or y1 <= y0:
        return Image.fromarray(base)
    # Photo pixel (x0 + i, y0 + j) -> square pixel: sample the square there.
    to_square = frame.square_matrix(size)
    to_square[:, 2] += to_square[:, :2] @ np.array([x0, y0], dtype=np.float64)
    region_size = (x1 - x0, y1 - y0)
    inverse = cv2.WARP_INVERSE_MAP
    warped = cv2.warpAffine(
        patch, to_square, region_size, flags=cv2.INTER_CUBIC | inverse, borderMode=cv2.BORDER_REPLICATE
    )
    weight = cv2.warpAffine(
        mask, to_square, region_size, flags=cv2.INTER_LINEAR | inverse, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )[:, :, None]
    region = base[y0:y1, x0:x1].astype(np.float32)
    if mode == "replace":
        blended = region + weight * (warped - region)
    else:
        blended = region + weight * warped
    base[y0:y1, x0:x1] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
    return Image.fromarray(base)


__all__ = [
    "CELEBA_LANDMARKS", "DEFAULT_PASTE", "Frame", "PASTE_MODES", "change_mask", "extract_square", "invert",
    "paste_square",
]
