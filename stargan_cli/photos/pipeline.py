"""One path for a photo, top to bottom: open, detect, align, (translate), paste.

::

    image = open_photo("group.jpg")                  # RGB, EXIF orientation applied
    faces = cut_faces(image, 128, name="group.jpg")  # detect (MTCNN) + align: Face objects
    ...                                              # the model turns each face.crop into squares
    out = paste_faces(image, faces, squares, mode="masked")   # back into the photo

The model step in the middle is :class:`~stargan_cli.translate.Translator`'s (labels, batches,
the generator); saving is the caller's (:mod:`stargan_cli.output_plan` for the command line,
the app's workspace for the web page). Everything a photo needs on the way lives in this
package: :mod:`.detect`, :mod:`.align`, :mod:`.paste` and the shared types of :mod:`.face`.
"""

from __future__ import annotations

import os
from typing import Any, Sequence, Union

import numpy as np
from PIL import Image, ImageOps

from ..errors import StarganError
from ..images import crop_resize, open_image, to_rgb
from .align import extract_square
from .detect import LandmarkFace, detect_landmarks
from .face import Face, Frame
from .paste import DEFAULT_PASTE, paste_square

ImageInput = Union[Image.Image, str, os.PathLike, np.ndarray]


def image_name(item: Any) -> str:
    """How an input is named in messages: its path, or ``"image"``."""
    if isinstance(item, (str, os.PathLike)):
        return str(item)
    return "image"


def open_photo(item: ImageInput) -> Image.Image:
    """Open: an RGB PIL image, EXIF orientation applied, from a path, PIL image or (H, W, 3) array."""
    if isinstance(item, (str, os.PathLike)):
        return open_image(item)
    if isinstance(item, Image.Image):
        return to_rgb(ImageOps.exif_transpose(item))
    if isinstance(item, np.ndarray):
        array = item
        if array.ndim == 2:
            return Image.fromarray(array.astype(np.uint8)).convert("RGB")
        if array.ndim == 3 and array.shape[2] in (3, 4):
            return to_rgb(Image.fromarray(array.astype(np.uint8)))
        raise StarganError(f"expected an image array of shape (H, W, 3), got {array.shape}")
    raise StarganError(f"cannot use a {type(item).__name__} as an image: pass a path or PIL image")


def find_faces(image: Image.Image, name: str = "image") -> list[LandmarkFace]:
    """Detect: every face of ``image`` with its five landmarks, left to right (numbered from 1
    in that order); an error that says what to do when there is none."""
    found = detect_landmarks(image)
    if not found:
        raise StarganError(f"no face found in {name}: if it is already a face crop, pass --no-detect")
    return found


def pick_faces(found: Sequence[LandmarkFace], face: int | None, name: str = "image") -> list[int]:
    """The 1-based numbers of the faces to translate: all, or only ``face``."""
    if face is None:
        return list(range(1, len(found) + 1))
    if not 1 <= face <= len(found):
        raise StarganError(
            f"{name} has {len(found)} face(s), numbered 1 to {len(found)} from the "
            f"left: --face {face} does not exist"
        )
    return [face]


def align_face(image: Image.Image, found: LandmarkFace, number: int, size: int) -> Face:
    """Align: the face's frame from its landmarks and the model-size square cut through it."""
    frame = Frame.from_landmarks(found.points)
    square = extract_square(image, frame, size)
    return Face(
        number=number, face_box=found.box, box=frame.bounding_box(), crop=square, frame=frame, landmarks=found.points,
    )


def cut_faces(
    image: Image.Image, size: int, *, detect: bool = True, face: int | None = None, name: str = "image"
) -> tuple[int, list[Face]]:
    """Detect and align: (faces found, the faces to translate with their ``size`` squares).
    With ``detect=False`` the whole image is one face crop, cut as a CelebA image is."""
    if not detect:
        return 1, [Face(number=1, face_box=None, box=None, crop=crop_resize(image, size))]
    found = find_faces(image, name)
    return len(found), [align_face(image, found[n - 1], n, size) for n in pick_faces(found, face, name)]


def paste_faces(
    image: Image.Image, faces: Sequence[Face], squares: Sequence[Image.Image], mode: str = DEFAULT_PASTE
) -> Image.Image:
    """Paste: each face's translated square (``squares``, one per face) back into ``image``
    through its frame, as ``mode`` says (:data:`.paste.PASTE_MODES`)."""
    composed = image
    for face, square in zip(faces, squares):
        composed = paste_square(composed, square, face.frame, source=face.crop, mode=mode)
    return composed


__all__ = [
    "ImageInput", "align_face", "cut_faces", "find_faces", "image_name", "open_photo", "paste_faces", "pick_faces",
]
