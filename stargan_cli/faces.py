"""Old import path of the Haar-cascade helpers, kept for library callers: they now live in
:mod:`stargan_cli.photos.haar` (and :class:`Box`, :func:`feather_mask` in
:mod:`stargan_cli.photos.face` and :mod:`stargan_cli.photos.paste`)."""

from .photos.face import Box
from .photos.haar import (
    CELEBA_SCALE, CELEBA_SHIFT, BoxSmoother, celeba_box, detect_faces, extract_crop, model_square, paste_back,
)
from .photos.paste import feather_mask

__all__ = [
    "Box", "BoxSmoother", "CELEBA_SCALE", "CELEBA_SHIFT", "celeba_box", "detect_faces",
    "extract_crop", "feather_mask", "model_square", "paste_back",
]
