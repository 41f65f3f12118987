"""The face and frame types every step of the photo path shares.

- :class:`Box`: an axis-aligned box in photo pixels (a detector's box, a face's footprint).
- :class:`Frame`: the similarity transform (rotation, scale, shift) from a photo's pixels to an
  aligned 178x218 CelebA image. :meth:`Frame.from_landmarks` fits it to a face's five
  landmarks (:mod:`.detect`) so that the eyes (and, lightly weighted, the mouth corners) land
  where they are in CelebA's aligned images, :data:`CELEBA_LANDMARKS`: CelebA itself was
  aligned on the eyes, so a tilted face is turned upright and sized the way the model saw
  faces in training. :meth:`Frame.from_box` is the same for an axis-aligned CelebA-framed box
  (no rotation). :mod:`.align` applies it (photo -> square and back).
- :class:`Face`: one face of a photo on its way through :mod:`.pipeline`: where it was found,
  its frame, the model-size square cut from it, and once the model has run, its attributes
  and translated squares.

Coordinates follow OpenCV: pixel centres at integers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from PIL import Image

from ..images import CELEBA_HEIGHT, CELEBA_WIDTH

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


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in pixel coordinates: left, top, width, height (floats allowed)."""

    x: float
    y: float
    w: float
    h: float

    @property
    def right(self) -> float:
        """x + w."""
        return self.x + self.w

    @property
    def bottom(self) -> float:
        """y + h."""
        return self.y + self.h

    @property
    def center(self) -> tuple[float, float]:
        """(cx, cy)."""
        return self.x + self.w / 2, self.y + self.h / 2

    @property
    def area(self) -> float:
        """w * h."""
        return max(self.w, 0.0) * max(self.h, 0.0)

    def ltrb(self) -> tuple[int, int, int, int]:
        """Integer (left, top, right, bottom), rounded."""
        left, top = int(round(self.x)), int(round(self.y))
        return left, top, left + int(round(self.w)), top + int(round(self.h))

    def intersection(self, other: "Box") -> float:
        """Area shared with ``other``."""
        w = min(self.right, other.right) - max(self.x, other.x)
        h = min(self.bottom, other.bottom) - max(self.y, other.y)
        return max(w, 0.0) * max(h, 0.0)

    def iou(self, other: "Box") -> float:
        """Intersection over union with ``other`` (0 when disjoint)."""
        inter = self.intersection(other)
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0

    def scaled(self, factor: float) -> "Box":
        """All coordinates multiplied by ``factor`` (for moving between image scales)."""
        return Box(self.x * factor, self.y * factor, self.w * factor, self.h * factor)


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
        """The axis-aligned frame of a CelebA-framed box (:func:`.haar.celeba_box`)."""
        left, top, right, bottom = box.ltrb()
        kx, ky = CELEBA_WIDTH / (right - left), CELEBA_HEIGHT / (bottom - top)
        # Pixel edges map to pixel edges: c + 0.5 = (p + 0.5 - left) * k.
        return cls.from_matrix([[kx, 0, (0.5 - left) * kx - 0.5], [0, ky, (0.5 - top) * ky - 0.5]])

    def in_resized_photo(self, old_size: tuple[int, int], new_size: tuple[int, int]) -> "Frame":
        """The same alignment in the photo resized from ``old_size`` to ``new_size`` (width,
        height): e.g. a face found on a reduced working copy, pasted into the original."""
        sx, sy = old_size[0] / new_size[0], old_size[1] / new_size[1]
        # Pixel edges map to pixel edges: p + 0.5 = (q + 0.5) * s, from new pixels q to old p.
        to_old = np.array([[sx, 0, 0.5 * sx - 0.5], [0, sy, 0.5 * sy - 0.5]])
        return Frame.from_matrix(_compose(self.array, to_old))

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


@dataclass
class Face:
    """One translated face (or the whole image with ``detect=False``).

    ``number`` is 1-based, counted left to right among all faces found in the photo.
    ``face_box`` is the detector's box, ``box`` the axis-aligned box around the aligned
    178x218 CelebA frame in photo coordinates, ``frame`` the alignment itself and
    ``landmarks`` the five points, shape (5, 2) (all ``None`` without detection);
    ``crop`` the model-size square the model saw; ``source`` the attribute scores used as the
    input's own attributes (probabilities when estimated, the given values otherwise) and
    ``source_label`` the 0/1 label made of them; ``outputs`` maps target names to translated
    model-size squares, and ``masks`` to the model's own masks of them (grayscale, white =
    changed; empty for a model without a mask).
    """

    number: int
    face_box: Box | None
    box: Box | None
    crop: Image.Image
    source: dict[str, float] = field(default_factory=dict)
    source_label: list[float] = field(default_factory=list)
    estimated: bool = False
    outputs: dict[str, Image.Image] = field(default_factory=dict)
    masks: dict[str, Image.Image] = field(default_factory=dict)
    frame: Frame | None = None
    landmarks: np.ndarray | None = field(default=None, compare=False)


__all__ = ["Box", "CELEBA_LANDMARKS", "Face", "Frame", "invert"]
