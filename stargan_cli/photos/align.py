"""Align: a face's :class:`~.face.Frame` applied to the photo, in and out.

In: :func:`extract_square` cuts the square the model sees (the centre 178x178 of the aligned
CelebA image) out of the photo at the model's size, the face turned upright. Out:
:func:`warp_to_photo` carries a square-sized layer (a translation, a difference, a mask) back
through the inverse transform onto the part of the photo the square covers; :mod:`.paste`
decides what that layer is and how it is blended in.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from ..images import CELEBA_WIDTH, rgb_array
from .face import Frame


def extract_square(image: "Image.Image | np.ndarray", frame: Frame, size: int) -> Image.Image:
    """The model square of ``frame`` at ``size`` x ``size`` (mirroring past the photo border).

    The photo is warped at about its own resolution and then shrunk with PIL's bilinear
    filter, as ``images.crop_resize`` does for a CelebA image, so a large face is averaged,
    not aliased.
    """
    import cv2

    array = np.ascontiguousarray(rgb_array(image))
    per_pixel = frame.scale * size / CELEBA_WIDTH  # square pixels per photo pixel
    side = size * min(8, math.ceil(1 / per_pixel)) if per_pixel < 1 else size
    warped = cv2.warpAffine(
        array, frame.square_matrix(side), (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
    )
    square = Image.fromarray(warped)
    return square if side == size else square.resize((size, size), Image.BILINEAR)


def footprint(frame: Frame, width: int, height: int) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1): the pixels of a ``width`` x ``height`` photo that the model square
    of ``frame`` can reach (None when it lies outside the photo)."""
    corners = frame.square_corners()
    x0, y0 = np.floor(corners.min(0)).astype(int)
    x1, y1 = np.ceil(corners.max(0)).astype(int) + 1
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if x1 <= x0 or y1 <= y0:
        return None
    return int(x0), int(y0), int(x1), int(y1)


def warp_to_photo(
    layer: np.ndarray, weight: np.ndarray, frame: Frame, region: tuple[int, int, int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """``layer`` (S, S, 3) and its blending ``weight`` (S, S), both float32 over the model
    square, carried back through the inverse of ``frame`` onto the photo pixels of ``region``
    (from :func:`footprint`). The layer is sampled bicubically (past its edge: the edge
    repeated), the weight bilinearly (past its edge: 0). Returns (layer, weight[..., None])
    of the region's size."""
    import cv2

    x0, y0, x1, y1 = region
    # Photo pixel (x0 + i, y0 + j) -> square pixel: sample the square there.
    to_square = frame.square_matrix(layer.shape[0])
    to_square[:, 2] += to_square[:, :2] @ np.array([x0, y0], dtype=np.float64)
    region_size = (x1 - x0, y1 - y0)
    inverse = cv2.WARP_INVERSE_MAP
    warped = cv2.warpAffine(
        layer, to_square, region_size, flags=cv2.INTER_CUBIC | inverse, borderMode=cv2.BORDER_REPLICATE
    )
    weights = cv2.warpAffine(
        weight, to_square, region_size, flags=cv2.INTER_LINEAR | inverse, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )[:, :, None]
    return warped, weights


__all__ = ["extract_square", "footprint", "warp_to_photo"]
