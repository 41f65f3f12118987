"""One path for a photo: open, detect, align, paste, with one face/frame type shared by all.

- :mod:`.face`: :class:`Box`, :class:`Frame` (photo -> aligned CelebA image, fitted to five
  landmarks) and :class:`Face` (one face on its way through the path);
- :mod:`.detect`: MTCNN, faces with five landmarks (:func:`detect_landmarks`);
- :mod:`.align`: the frame applied, in (:func:`extract_square`) and out (:func:`warp_to_photo`);
- :mod:`.paste`: every way a translated square goes back into the photo (:data:`PASTE_MODES`);
- :mod:`.pipeline`: the steps in order (:func:`translate_photos` runs them all, with the
  model step handed in), as :class:`~stargan_cli.translate.Translator`, the grid, the webcam
  and the app use them;
- :mod:`.haar`: legacy Haar-cascade boxes, kept for library callers (not used by the package).

The model itself is not here: :class:`~stargan_cli.translate.Translator` turns squares into
translated squares between the align and paste steps.
"""

from .align import extract_square, footprint, warp_to_photo
from .detect import LandmarkFace, detect_landmarks
from .face import CELEBA_LANDMARKS, Box, Face, Frame, invert
from .paste import (
    DEFAULT_PASTE, MODES, PASTE_MODES, change_mask, check_paste, default_paste, feather_mask, mask_in_photo, paste_square,
)
from .pipeline import (
    ImageInput, TranslateFaces, TranslationResult, align_face, compose_faces, cut_faces, find_faces, image_name, open_photo,
    paste_faces, pick_faces, prepare_photo, translate_photos,
)

__all__ = [
    "Box", "CELEBA_LANDMARKS", "DEFAULT_PASTE", "Face", "Frame", "ImageInput", "LandmarkFace", "MODES",
    "PASTE_MODES", "TranslateFaces", "TranslationResult", "align_face", "change_mask", "check_paste", "compose_faces",
    "cut_faces",
    "default_paste", "detect_landmarks", "extract_square", "feather_mask", "find_faces", "footprint", "image_name", "invert",
    "mask_in_photo", "open_photo", "paste_faces", "paste_square", "pick_faces", "prepare_photo", "translate_photos",
    "warp_to_photo",
]
