"""One path for a photo, top to bottom: open, detect, align, translate squares, paste.

::

    image = open_photo("group.jpg")                  # open: RGB, EXIF orientation applied
    found, faces = cut_faces(image, 128)             # detect (MTCNN) and align: Face objects
    model(faces)                                     # translate squares: fills face.outputs
    out = paste_faces(image, faces, squares, mode="masked")   # paste back into the photo

:func:`translate_photos` runs these steps for many inputs, batching the faces of several
photos for the model. The model step is a function handed in: the
:class:`~stargan_cli.translate.Translator`'s (labels, the generator), which knows nothing of
photos. Saving is the caller's (:mod:`stargan_cli.output_plan` for the command line, the
app's workspace for the web page). What a photo needs on the way lives in this package:
:mod:`.detect`, :mod:`.align`, :mod:`.paste` and the shared types of :mod:`.face`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Sequence, Union

import numpy as np
from PIL import Image, ImageOps

from ..errors import StarganError
from ..images import crop_resize, grayscale_rgb, is_grayscale, open_image, to_rgb
from .align import extract_square
from .detect import LandmarkFace, detect_landmarks
from .face import Face, Frame
from .paste import DEFAULT_PASTE, mask_in_photo, paste_square

ImageInput = Union[Image.Image, str, os.PathLike, np.ndarray]
# The model step: fills ``face.outputs`` (target name -> translated square) of every face given,
# and ``face.masks`` (the model's masks of them) when the model has a mask.
TranslateFaces = Callable[[list[Face]], None]


@dataclass
class TranslationResult:
    """What :func:`translate_photos` (and :meth:`~stargan_cli.translate.Translator.translate_many`)
    yields for one input.

    ``outputs`` maps each target name (in ``targets`` order) to the finished image: the photo
    with every translated face pasted back, or the model-size square with ``detect=False``.
    ``masks`` maps them to where the model changed that image (grayscale, white = changed, the
    image's size: the model's masks brought into the photo like the faces), for a model that
    has a mask; else it is empty.
    ``error`` is set (and the rest empty) when this input could not be translated.
    """

    key: Any
    name: str
    image: Image.Image | None = None
    detect: bool = True
    faces: list[Face] = field(default_factory=list)
    faces_found: int = 0
    targets: list[str] = field(default_factory=list)
    outputs: dict[str, Image.Image] = field(default_factory=dict)
    masks: dict[str, Image.Image] = field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the input was translated."""
        return self.error is None


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
    image: Image.Image,
    faces: Sequence[Face],
    squares: Sequence[Image.Image],
    mode: str = DEFAULT_PASTE,
    masks: Sequence[Image.Image] | None = None,
) -> Image.Image:
    """Paste: each face's translated square (``squares``, one per face) back into ``image``
    through its frame, as ``mode`` says (:data:`.paste.PASTE_MODES`); ``masks``: the model's
    masks of the squares, one per face (the ``"mask"`` mode needs them). A black-and-white
    photo stays black and white: the model, trained on colour faces, paints colour into it."""
    composed = image
    for i, (face, square) in enumerate(zip(faces, squares)):
        mask = None if masks is None else masks[i]
        composed = paste_square(composed, square, face.frame, source=face.crop, mode=mode, mask=mask)
    return grayscale_rgb(composed) if is_grayscale(image) else composed


def compose_faces(
    image: Image.Image,
    faces: Sequence[Face],
    squares: Sequence[Image.Image],
    mode: str = DEFAULT_PASTE,
    masks: Sequence[Image.Image] | None = None,
) -> tuple[Image.Image, Image.Image | None]:
    """The finished picture of translated faces and where the model changed it: the photo with
    the squares pasted back (:func:`paste_faces`) and the model's masks brought into it
    (:func:`.paste.mask_in_photo`; None without ``masks``). Faces without a frame (the whole
    image taken as one crop, no detection) give their square and its mask as they are (a grey
    crop's square in grey)."""
    if faces[0].frame is None:
        square = grayscale_rgb(squares[0]) if is_grayscale(faces[0].crop) else squares[0]
        return square, None if masks is None else masks[0]
    out = paste_faces(image, faces, squares, mode, masks)
    if masks is None:
        return out, None
    return out, mask_in_photo(out.size, [(face.frame, mask) for face, mask in zip(faces, masks)])


def prepare_photo(item: ImageInput, size: int, *, detect: bool = True, face: int | None = None) -> TranslationResult:
    """Open, detect and align one input: its faces with their ``size`` squares (all, left to
    right, or only the 1-based ``face``; the whole image with ``detect=False``). A problem
    (unreadable file, no face) is in ``error`` of the result, not raised."""
    name = image_name(item)
    result = TranslationResult(key=item, name=name, detect=detect)
    try:
        image = open_photo(item)
        result.faces_found, result.faces = cut_faces(image, size, detect=detect, face=face, name=name)
        result.image = image
    except StarganError as err:
        result.error = str(err)
    return result


def _translate_and_paste(
    pending: list[TranslationResult], model: TranslateFaces, paste: str
) -> list[TranslationResult]:
    faces = [f for r in pending if r.ok for f in r.faces]
    if faces:
        model(faces)
    for result in (r for r in pending if r.ok):
        if is_grayscale(result.image):  # the squares too, for --crop-only and the --all strip
            for face in result.faces:
                face.outputs = {name: grayscale_rgb(square) for name, square in face.outputs.items()}
        result.targets = list(result.faces[0].outputs)
        for name in result.targets:
            squares = [f.outputs[name] for f in result.faces]
            masks = [f.masks[name] for f in result.faces] if all(name in f.masks for f in result.faces) else None
            result.outputs[name], mask = compose_faces(result.image, result.faces, squares, paste, masks)
            if mask is not None:
                result.masks[name] = mask
    return pending


def translate_photos(
    inputs: Iterable[ImageInput],
    size: int,
    model: TranslateFaces,
    *,
    detect: bool = True,
    face: int | None = None,
    batch_size: int = 16,
    paste: str = DEFAULT_PASTE,
) -> Iterator[TranslationResult]:
    """The whole path for many inputs: open, detect and align each one (:func:`prepare_photo`),
    let ``model`` translate the squares of about ``batch_size`` faces at a time (faces of
    several photos share a batch), paste them back, and yield one result per input, in input
    order. Inputs are read only as the results are asked for; saving is the caller's."""
    pending: list[TranslationResult] = []
    count = 0
    for item in inputs:
        result = prepare_photo(item, size, detect=detect, face=face)
        pending.append(result)
        count += len(result.faces)
        if count >= batch_size:
            yield from _translate_and_paste(pending, model, paste)
            pending, count = [], 0
    if pending:
        yield from _translate_and_paste(pending, model, paste)


__all__ = [
    "ImageInput", "TranslateFaces", "TranslationResult", "align_face", "cut_faces", "find_faces", "image_name",
    "open_photo", "paste_faces", "pick_faces", "prepare_photo", "translate_photos",
]
