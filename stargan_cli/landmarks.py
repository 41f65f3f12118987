"""Old import path of the MTCNN landmark detector, kept for library callers: it now lives in
:mod:`stargan_cli.photos.detect`."""

from .photos.detect import DETECT_MAX_SIDE, LandmarkFace, detect_landmarks, load_nets

__all__ = ["DETECT_MAX_SIDE", "LandmarkFace", "detect_landmarks", "load_nets"]
