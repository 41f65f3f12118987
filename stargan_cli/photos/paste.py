"""Paste: bringing a translated square back into the photo, in one of the :data:`PASTE_MODES`.

- ``"delta"``: only what the model changed, ``G(x) - x``, is scaled up and added to the photo,
  so the photo keeps its own resolution and fine detail; an unchanged square leaves the photo
  exactly as it was.
- ``"masked"`` (default): the same difference, applied only where it is large (a soft mask of
  the smoothed change), so the model's small errors elsewhere (slight blur, colour drift) are
  dropped too. Chosen by measurement: with the bundled model it kept slightly more of the photo
  than ``delta`` and far more than ``replace`` (``benchmarks/paste_detail.py``).
- ``"mask"``: the same difference, applied where the model's own mask is open (models trained
  with ``--g-output mask`` give one with every square; the default for them). Such a model
  changes ``A*C + (1-A)*x``, so the difference is already ``A*(C - x)``; leaving out where
  ``A`` is nearly shut also drops the faint haze its colour image ``C`` leaves there.
- ``"replace"``: the model's square itself, scaled up, replaces the photo (the old behaviour).

Each mode is one entry of the table :data:`MODES`: from the translated square (and the square
the model was given) it makes the layer that goes back and where it goes back (a weight per
square pixel). A new mode is a new function and a new entry. In every mode the layer is
blended in with a feathered edge through :func:`.align.warp_to_photo`, and pixels outside the
square's footprint in the photo are never touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from PIL import Image

from ..errors import UsageError
from ..images import rgb_array
from .align import extract_square, footprint, warp_to_photo
from .face import Frame

# "masked" paste: the change (mean over channels, 0-255, smoothed) is ignored below LOW and
# kept whole above HIGH.
MASK_LOW, MASK_HIGH = 6.0, 18.0
# "mask" paste: the model's mask (0-1) is ignored below LOW and kept whole above HIGH.
MODEL_MASK_LOW, MODEL_MASK_HIGH = 0.05, 0.25


def smoothstep(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """0 below ``low``, 1 above ``high``, a smooth S in between (float32)."""
    t = np.clip((values - low) / (high - low), 0.0, 1.0)
    return (t * t * (3 - 2 * t)).astype(np.float32)


def feather_mask(side: int, feather: float = 0.12, *, zero_edge: bool = False) -> np.ndarray:
    """A (side, side) float mask: 1 inside, easing to 0 over ``feather`` * side at each edge
    (``zero_edge``: exactly 0 on the outermost pixels, so a warped copy stays inside)."""
    margin = max(1.0, feather * side)
    distance = np.minimum(np.arange(side), np.arange(side)[::-1]).astype(np.float32) + (0.0 if zero_edge else 0.5)
    ramp = np.clip(distance / margin, 0.0, 1.0)
    ramp = ramp * ramp * (3 - 2 * ramp)  # smoothstep: no visible seam at the inner edge
    return np.outer(ramp, ramp).astype(np.float32)


def change_mask(delta: np.ndarray, low: float = MASK_LOW, high: float = MASK_HIGH) -> np.ndarray:
    """Where the model changed the square: 0 below ``low``, 1 above ``high`` (mean absolute
    change over the channels, 0-255, smoothed over ~1/32 of the square), smooth in between."""
    import cv2

    side = delta.shape[0]
    change = np.abs(delta).mean(axis=2).astype(np.float32)
    sigma = max(0.5, side / 32)
    change = cv2.GaussianBlur(change, (0, 0), sigma)
    return smoothstep(change, low, high)


@dataclass(frozen=True)
class Squares:
    """What a paste mode works from, float32 arrays over the model square: ``translated``
    (S, S, 3, 0-255), ``source`` (the square the model was given; None for a mode that does
    not need it), ``feather`` (S, S), the feathered edge every mode blends with, and ``mask``
    (S, S, 0-1), the model's own mask (None when the model has none)."""

    translated: np.ndarray
    source: np.ndarray | None
    feather: np.ndarray
    mask: np.ndarray | None = None


@dataclass(frozen=True)
class PasteMode:
    """One way back into the photo. ``layer`` makes (layer, weight) from the :class:`Squares`;
    ``replaces``: the photo becomes the layer where the weight is 1 (else the layer is added
    to the photo); ``needs_source``: the mode uses the square the model was given;
    ``needs_mask``: it uses the model's own mask."""

    layer: Callable[[Squares], tuple[np.ndarray, np.ndarray]]
    replaces: bool
    needs_source: bool
    needs_mask: bool = False


def _delta(squares: Squares) -> tuple[np.ndarray, np.ndarray]:
    return squares.translated - squares.source, squares.feather


def _masked(squares: Squares) -> tuple[np.ndarray, np.ndarray]:
    delta = squares.translated - squares.source
    return delta, squares.feather * change_mask(delta)


def _model_mask(squares: Squares) -> tuple[np.ndarray, np.ndarray]:
    assert squares.mask is not None  # paste_square checks it
    return squares.translated - squares.source, squares.feather * smoothstep(squares.mask, MODEL_MASK_LOW, MODEL_MASK_HIGH)


def _replace(squares: Squares) -> tuple[np.ndarray, np.ndarray]:
    return squares.translated, squares.feather


MODES: dict[str, PasteMode] = {
    "delta": PasteMode(_delta, replaces=False, needs_source=True),
    "masked": PasteMode(_masked, replaces=False, needs_source=True),
    "mask": PasteMode(_model_mask, replaces=False, needs_source=True, needs_mask=True),
    "replace": PasteMode(_replace, replaces=True, needs_source=False),
}
PASTE_MODES = tuple(MODES)
DEFAULT_PASTE = "masked"
# The paste of a model that has a mask, unless asked otherwise.
MASK_MODEL_PASTE = "mask"
NO_MASK = (
    "--paste mask uses the model's own mask, and this model has none (its generator redraws every "
    "pixel): use a model trained with --g-output mask, or another --paste mode"
)


def default_paste(has_mask: bool) -> str:
    """The paste mode used when none is asked for: the model's own mask where it has one."""
    return MASK_MODEL_PASTE if has_mask else DEFAULT_PASTE


def check_paste(paste: str, has_mask: bool | None = None) -> None:
    """Refuse a ``paste`` mode that is not one of :data:`PASTE_MODES` (a command-line mistake),
    or, when ``has_mask`` is known to be False, a mode that needs the model's mask."""
    if paste not in MODES:
        raise UsageError(f"--paste must be one of {', '.join(PASTE_MODES)}, not {paste!r}")
    if has_mask is False and MODES[paste].needs_mask:
        raise UsageError(NO_MASK)


def paste_square(
    image: "Image.Image | np.ndarray",
    translated: Image.Image,
    frame: Frame,
    *,
    source: Image.Image | None = None,
    mode: str = DEFAULT_PASTE,
    feather: float = 0.12,
    mask: Image.Image | None = None,
) -> Image.Image:
    """Bring a translated model square back into ``image`` through ``frame``; returns a new image.

    ``source`` is the square the model was given (``"delta"``, ``"masked"`` and ``"mask"``
    need it; by default it is cut from ``image`` again with :func:`.align.extract_square`).
    ``mask`` is the model's own mask of the square (a grayscale image, white = changed; the
    ``"mask"`` mode needs it). ``feather``: the width of the blended edge as a fraction of the
    square. Pixels outside the square's footprint keep their exact values, and the result has
    the size of ``image``.
    """
    if mode not in MODES:
        raise ValueError(f"paste mode must be one of {', '.join(PASTE_MODES)}, not {mode!r}")
    paste = MODES[mode]
    if paste.needs_mask and mask is None:
        raise ValueError(f"the {mode!r} paste needs the model's mask of the square")
    base = rgb_array(image).copy()
    height, width = base.shape[:2]
    size = translated.size[0]
    source_array = None
    if paste.needs_source:
        if source is None:
            source = extract_square(base, frame, size)
        source_array = np.asarray(source.convert("RGB"), dtype=np.float32)
    # The feather mask is 0 on the square's outermost pixels, so interpolation never reaches
    # past the footprint.
    mask_array = None if mask is None else np.asarray(mask.convert("L"), dtype=np.float32) / 255
    squares = Squares(
        np.asarray(translated.convert("RGB"), dtype=np.float32), source_array, feather_mask(size, feather, zero_edge=True),
        mask_array,
    )
    layer, weight = paste.layer(squares)
    region = footprint(frame, width, height)
    if region is None:
        return Image.fromarray(base)
    warped, weights = warp_to_photo(layer, weight, frame, region)
    x0, y0, x1, y1 = region
    photo = base[y0:y1, x0:x1].astype(np.float32)
    blended = photo + weights * (warped - photo) if paste.replaces else photo + weights * warped
    base[y0:y1, x0:x1] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
    return Image.fromarray(base)


def mask_in_photo(
    size: tuple[int, int], squares: Sequence[tuple[Frame, Image.Image]], feather: float = 0.12
) -> Image.Image:
    """The model's masks of translated squares (``(frame, mask)`` each, grayscale, white =
    changed) brought into a photo of ``size`` (width, height) as :func:`paste_square` brings
    the squares: through each frame, with the same feathered edge; where faces overlap the
    larger value counts. Returns a grayscale image of the photo's size, black where nothing
    could change."""
    width, height = size
    out = np.zeros((height, width), dtype=np.float32)
    for frame, mask in squares:
        region = footprint(frame, width, height)
        if region is None:
            continue
        side = mask.size[0]
        weight = feather_mask(side, feather, zero_edge=True) * (np.asarray(mask.convert("L"), dtype=np.float32) / 255)
        _, warped = warp_to_photo(np.zeros((side, side, 3), dtype=np.float32), weight, frame, region)
        x0, y0, x1, y1 = region
        out[y0:y1, x0:x1] = np.maximum(out[y0:y1, x0:x1], warped[:, :, 0])
    return Image.fromarray(np.clip(np.rint(out * 255), 0, 255).astype(np.uint8), mode="L")


__all__ = [
    "DEFAULT_PASTE", "MASK_MODEL_PASTE", "MODES", "PASTE_MODES", "PasteMode", "Squares", "change_mask", "check_paste",
    "default_paste", "feather_mask", "mask_in_photo", "paste_square", "smoothstep",
]
