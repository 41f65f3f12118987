"""Old import path of the alignment helpers, kept for library callers: they now live in
:mod:`stargan_cli.photos` (:mod:`~stargan_cli.photos.face` for :class:`Frame`,
:mod:`~stargan_cli.photos.align` and :mod:`~stargan_cli.photos.paste`)."""

from .photos.align import extract_square
from .photos.face import CELEBA_LANDMARKS, Frame, invert
from .photos.paste import DEFAULT_PASTE, PASTE_MODES, change_mask, paste_square

__all__ = [
    "CELEBA_LANDMARKS", "DEFAULT_PASTE", "Frame", "PASTE_MODES", "change_mask", "extract_square", "invert",
    "paste_square",
]
