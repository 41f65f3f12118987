"""Writing sheets and animations: formats, names of the animation files, atomic saves."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Mapping, Sequence

from PIL import Image

from ..errors import StarganError, UsageError
from ..fileio import file_in_the_way
from ..images import write_image
from .inputs import GridInput
from .models import GridModel

SHEET_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}
ANIMATION_FORMATS = {".gif": "GIF", ".webp": "WEBP"}
JPEG_MAX_SIDE = 65_500


def save_animation(
    frames: Sequence[tuple[Image.Image, bool]], path: str | os.PathLike, *, frame_ms: int = 80, hold: int = 4
) -> Path:
    """Write frames as a looping animated GIF or WebP (by extension), atomically.

    Each frame lasts ``frame_ms``; hold frames (input and targets) ``hold`` times longer.
    """
    path = Path(path)
    fmt = ANIMATION_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise UsageError(f"cannot write an animation to {path.name}: use a .gif or .webp name")
    if frame_ms < 1:
        raise UsageError("--frame-ms must be at least 1")
    images = [f.convert("RGB") for f, _ in frames]
    durations = [frame_ms * (hold if h else 1) for _, h in frames]
    options: dict[str, Any] = {"save_all": True, "append_images": images[1:], "duration": durations, "loop": 0}
    if fmt == "WEBP":
        options.update(lossless=False, quality=90)
    else:
        options.update(optimize=False, disposal=1)
    return _write(path, images[0], fmt, options)


def animation_paths(
    output: str | os.PathLike, inputs: Sequence[GridInput], models: Sequence[GridModel]
) -> list[tuple[int, int, Path]]:
    """``(input index, model index, path)`` of every animation.

    One input and one model: ``output`` itself. Otherwise ``STEM-NN-INPUT[-MODEL]SUFFIX``
    beside it (NN: 1-based input number; the model name only with several models).
    """
    output = Path(output)
    if len(inputs) == 1 and len(models) == 1:
        return [(0, 0, output)]
    width = max(2, len(str(len(inputs))))
    out = []
    for i, item in enumerate(inputs):
        for m, model in enumerate(models):
            parts = [output.stem, f"{i + 1:0{width}d}", _slug(Path(item.name).stem)]
            if len(models) > 1:
                parts.append(_slug(model.name))
            out.append((i, m, output.with_name("-".join(p for p in parts if p) + output.suffix)))
    return out


def animation_plan(
    output: str | os.PathLike, inputs: Sequence[GridInput], models: Sequence[GridModel], *, overwrite: bool = False
) -> list[tuple[int, int, Path]]:
    """:func:`animation_paths`, each checked with :func:`check_output` before anything is computed."""
    plan = animation_paths(output, inputs, models)
    for _, _, path in plan:
        check_output(path, ANIMATION_FORMATS, overwrite)
    return plan


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=+]+", "_", text).strip("_.")


def check_output(path: str | os.PathLike, formats: Mapping[str, str], overwrite: bool) -> Path:
    """Refuse an unknown extension, or an existing file without ``overwrite``."""
    path = Path(path)
    if path.suffix.lower() not in formats:
        raise UsageError(f"-o {path}: name a {' or '.join(formats)} file")
    if path.is_dir():
        raise StarganError(f"-o {path} is a folder: name a file")
    blocker = file_in_the_way(path)
    if blocker is not None:
        raise StarganError(f"-o {path}: {blocker} is a file, not a folder; choose another path")
    if path.exists() and not overwrite:
        raise StarganError(f"{path} exists: pass --overwrite to replace it")
    return path


def save_sheet(sheet: Image.Image, path: str | os.PathLike, *, quality: int = 95) -> Path:
    """Write a sheet atomically as PNG or JPEG (by extension)."""
    path = Path(path)
    fmt = SHEET_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise UsageError(f"cannot write a sheet to {path.name}: use a .png or .jpg name")
    if fmt == "JPEG" and max(sheet.size) > JPEG_MAX_SIDE:
        raise StarganError(
            f"the sheet is {sheet.size[0]}x{sheet.size[1]} pixels, too large for JPEG "
            f"(at most {JPEG_MAX_SIDE} per side): write a .png, or use fewer images or a smaller --cell-size"
        )
    options = {"quality": quality} if fmt == "JPEG" else {}
    return _write(path, sheet, fmt, options)


def _write(path: Path, image: Image.Image, fmt: str, options: Mapping[str, Any]) -> Path:
    """:func:`write_image` with a file-system failure (disk full, no permission) as one line."""
    try:
        return write_image(image, path, fmt, **options)
    except OSError as err:
        raise StarganError(f"cannot write {path}: {err.strerror or err}") from None
