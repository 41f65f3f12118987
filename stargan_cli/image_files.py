"""Which image files a command works on, and what the translated copies are called.

:func:`collect_inputs` expands the files, folders and globs of a command line into image
files (skipping earlier outputs, see :func:`looks_like_output`); :func:`output_items` names
the images to write for one translated input; :func:`save_image` writes one atomically in
the format its name asks for. The model side is :mod:`stargan_cli.translate`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

from PIL import Image

from .attributes import CELEBA_ATTRIBUTES
from .errors import StarganError
from .images import IMAGE_SUFFIXES, write_image

if TYPE_CHECKING:
    from .translate import TranslationResult

OUTPUT_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".bmp": "BMP"}
_GLOB_CHARS = set("*?[")
# What follows an output's name part in the name of its mask: NAME.<target>.mask.png.
MASK_SUFFIX = ".mask"
# Formats with a size limit (Pillow raises a bare ValueError past it).
_MAX_SIDE = {"WEBP": 16383, "JPEG": 65535}


@dataclass(frozen=True)
class InputFile:
    """An image file to translate; ``root`` is the folder argument it was found under (if any),
    so outputs written to an output folder keep the same sub-folders."""

    path: Path
    root: Path | None = None

    @property
    def relative_parent(self) -> Path:
        """Sub-folder of ``path`` below ``root`` (``.`` for files given directly)."""
        if self.root is None:
            return Path(".")
        return self.path.parent.relative_to(self.root)


def example_image_path() -> Path:
    """The public-domain sample portrait shipped with the package (NASA astronaut Eileen Collins)."""
    from importlib.resources import files

    path = Path(str(files("stargan_cli") / "assets" / "astronaut.jpg"))
    if not path.is_file():
        raise StarganError(f"the sample portrait is missing from the installation ({path}): reinstall stargan")
    return path


def looks_like_output(path: Path, names: Iterable[str]) -> bool:
    """True for files named like our outputs (``x.Blond_Hair.png``, ``x.face2.Male=0.png``,
    ``x.all.png``, ``x.Blond_Hair.mask.png``), so translating a folder twice does not translate
    the results."""
    stem = Path(path.name).stem
    if stem.lower().endswith(MASK_SUFFIX):  # x.Blond_Hair.mask.png: the mask of an output
        stem = stem[: -len(MASK_SUFFIX)]
    if "." not in stem:
        return False
    token = stem.rsplit(".", 1)[1].lower()
    if token == "all":
        return True
    known = {n.lower() for n in names}
    parts = token.split("+")
    return all(part.split("=", 1)[0] in known for part in parts)


def _images_in(folder: Path, recursive: bool) -> list[Path]:
    pattern = folder.rglob("*") if recursive else folder.glob("*")
    found = []
    for path in pattern:
        relative = path.relative_to(folder).parts
        if any(part.startswith(".") for part in relative):
            continue
        if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
            found.append(path)
    return sorted(found)


def collect_inputs(
    specs: Sequence[str | os.PathLike], recursive: bool = False, skip_names: Iterable[str] = CELEBA_ATTRIBUTES
) -> tuple[list[InputFile], list[str]]:
    """Expand files, folders (recursively with ``recursive``) and globs into image files.

    Returns the files (in order, duplicates removed) and one error line per argument that
    gave nothing: a missing path, an empty folder, a glob without matches. Files named like
    our outputs (see :func:`looks_like_output`) are skipped inside folders and globs; a file
    named explicitly is always taken (and rejected later if it is not an image).
    """
    import glob

    names = list(skip_names)
    files: list[InputFile] = []
    errors: list[str] = []
    seen: set[Path] = set()

    def add(item: InputFile) -> None:
        key = item.path.resolve()
        if key not in seen:
            seen.add(key)
            files.append(item)

    for spec in specs:
        text = str(spec)
        path = Path(text).expanduser()
        if path.is_dir():
            found = [p for p in _images_in(path, recursive) if not looks_like_output(p, names)]
            if not found:
                hint = ""
                if not recursive and _images_in(path, True):
                    hint = " (its sub-folders do: add --recursive)"
                errors.append(f"{text} holds no images (JPEG, PNG, WebP, BMP){hint}")
            for p in found:
                add(InputFile(p, path))
        elif path.exists():
            add(InputFile(path))
        elif _GLOB_CHARS & set(text):
            matches = sorted(Path(m) for m in glob.glob(os.path.expanduser(text), recursive=recursive))
            found = [m for m in matches if m.is_file() and m.suffix.lower() in IMAGE_SUFFIXES]
            found = [m for m in found if not looks_like_output(m, names)]
            if not found:
                errors.append(f"no images match {text}")
            for p in found:
                add(InputFile(p))
        else:
            errors.append(f"{text} does not exist")
    return files, errors


def output_items(
    result: "TranslationResult", *, crop_only: bool = False, strip: bool = False, masks: bool = False
) -> list[tuple[str, Image.Image]]:
    """The images to write for ``result``, each with the name part that goes between the
    input's stem and the suffix: ``Blond_Hair`` (photo with faces pasted back, or the model
    square with ``detect=False``), ``face2.Blond_Hair`` (``crop_only`` with several faces:
    just that face's square) and ``all`` (``strip``: input | each target).

    ``masks``: each output is followed by the model's mask of it (where the model changed the
    picture, white = changed), named like the output plus :data:`MASK_SUFFIX`
    (``Blond_Hair.mask``); a model without a mask has none to write.
    """
    items: list[tuple[str, Image.Image]] = []

    def add(token: str, image: Image.Image, mask: Image.Image | None) -> None:
        items.append((token, image))
        if masks and mask is not None:
            items.append((token + MASK_SUFFIX, mask))

    for target in result.targets:
        if crop_only:
            for f in result.faces:
                token = target if len(result.faces) == 1 else f"face{f.number}.{target}"
                add(token, f.outputs[target], f.masks.get(target))
        else:
            add(target, result.outputs[target], result.masks.get(target))
    if strip:
        from .grid.sheet import result_strip

        items.append(("all", result_strip(result)))
    return items


def save_image(image: Image.Image, path: str | os.PathLike) -> Path:
    """Write ``image`` atomically in the format its suffix names (PNG, JPEG, WebP, BMP)."""
    path = Path(path)
    fmt = OUTPUT_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise StarganError(
            f"cannot write {path.name}: use a .png, .jpg, .webp or .bmp name (or a folder)"
        )
    limit = _MAX_SIDE.get(fmt)
    if limit is not None and max(image.size) > limit:
        raise StarganError(
            f"cannot write {path.name}: {fmt} images are at most {limit} pixels wide and high, this one "
            f"is {image.size[0]}x{image.size[1]}; use a .png name"
        )
    options = {"quality": 95} if fmt in ("JPEG", "WEBP") else {}
    return write_image(image, path, fmt, **options)


__all__ = [
    "OUTPUT_FORMATS", "InputFile", "collect_inputs", "example_image_path", "looks_like_output",
    "output_items", "save_image",
]
