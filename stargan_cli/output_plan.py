"""Where ``stargan translate`` writes: the output paths of each input, and writing them.

``-o`` names a file (one input) or a folder; without it the outputs go next to each input
(the bundled example's into the current folder). :class:`OutputPlan` turns an input and the
name part of each output (:func:`~stargan_cli.image_files.output_items`) into paths;
:func:`write_outputs` writes one input's outputs without overwriting anything by accident.
Which inputs there are and what the output images are is :mod:`stargan_cli.image_files`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from .errors import StarganError, UsageError
from .fileio import StorageError, file_in_the_way
from .image_files import MASK_SUFFIX, OUTPUT_FORMATS, InputFile, output_items, save_image

if TYPE_CHECKING:
    from PIL import Image

    from .translate import TranslationResult


def output_is_file(output: Path | None) -> bool:
    """Whether ``-o output`` names one image file (True) or a folder (False, also for None);
    an existing non-image file or an unknown image suffix is refused."""
    if output is None or output.is_dir():
        return False
    blocker = file_in_the_way(output)
    if blocker is not None:
        raise StarganError(f"-o {output}: {blocker} is a file, not a folder; choose another path")
    if str(output).endswith(("/", "\\")):
        return False
    if output.exists() and output.suffix.lower() not in OUTPUT_FORMATS:
        raise StarganError(
            f"-o {output} is an existing file, not a folder: name a folder (or a .png, .jpg, .webp "
            "or .bmp file) to write to"
        )
    if output.suffix.lower() in OUTPUT_FORMATS:
        return True
    if output.suffix:
        raise UsageError(
            f"-o {output}: {output.suffix} is not an image format we write: name a .png, .jpg, "
            ".webp or .bmp file, or a folder"
        )
    return False


@dataclass(frozen=True)
class OutputPlan:
    """Where the outputs of every input go: ``output`` as given to ``-o`` (None: next to each
    input), ``as_file`` whether it names one file (see :func:`output_is_file`), ``example`` the
    bundled example, whose outputs go to the current folder."""

    output: Path | None
    as_file: bool = False
    example: Path | None = None

    @classmethod
    def for_output(cls, output: Path | None, inputs: int, example: Path | None = None) -> "OutputPlan":
        """The plan for ``-o output`` and that many inputs, checked (see :func:`output_is_file`;
        one file for several inputs is refused)."""
        as_file = output_is_file(output)
        if as_file and inputs > 1:
            assert output is not None
            raise UsageError(
                f"-o {output} names one file, but {inputs} images were given: pass a folder (-o {output.with_suffix('')}/)"
            )
        return cls(output, as_file, example)

    def path(self, item: InputFile, token: str, single: bool) -> Path:
        """Where the output named ``token`` of ``item`` goes (``single``: its only output).

        The mask of an output (token ending in :data:`~stargan_cli.image_files.MASK_SUFFIX`)
        goes beside it: ``X.png`` -> ``X.mask.png``, whatever ``X`` is.
        """
        if token.endswith(MASK_SUFFIX):
            image = self.path(item, token[: -len(MASK_SUFFIX)], single)
            return image.with_name(f"{image.stem}{MASK_SUFFIX}{image.suffix}")
        if self.as_file:
            assert self.output is not None
            return self.output if single else self.output.with_name(f"{self.output.stem}.{token}{self.output.suffix}")
        default_dir = Path(".") if item.path == self.example else item.path.parent
        folder = default_dir if self.output is None else self.output / item.relative_parent
        return folder / f"{item.path.stem}.{token}.png"

    def outputs(
        self, result: "TranslationResult", item: InputFile, *, crop_only: bool = False, strip: bool = False,
        masks: bool = False,
    ) -> list[tuple[Path, "Image.Image"]]:
        """``(path, image)`` of every output of ``result`` (see :func:`output_items`)."""
        items = output_items(result, crop_only=crop_only, strip=strip, masks=masks)
        single = sum(not token.endswith(MASK_SUFFIX) for token, _ in items) == 1
        return [(self.path(item, token, single), image) for token, image in items]

    def existing(self, files: Sequence[InputFile], tokens: Sequence[str], single: bool) -> dict[Path, Path]:
        """Input -> an output that already exists, for the outputs known before translating
        (named ``tokens``)."""
        found = {}
        for item in files:
            for token in tokens:
                path = self.path(item, token, single)
                if path.exists():
                    found[item.path] = path
                    break
        return found


def write_outputs(
    outputs: Sequence[tuple[Path, "Image.Image"]], source: Path, overwrite: bool, written: dict[Path, Path]
) -> str | None:
    """Write one input's outputs (atomically); the problem as text when nothing could be written.

    Every path is checked before any is written, so a name clash leaves nothing half-done.
    ``written`` maps each resolved path written so far in this run to its input (updated here).
    A storage failure (full disk, refused folder) is raised: it would fail every input alike.
    """
    for path, _ in outputs:
        earlier = written.get(path.resolve())
        if earlier is not None:
            return f"{source} would write {path}, already written for {earlier}: use separate runs or -o folders"
        if path.exists() and not overwrite:
            return f"{path} exists: pass --overwrite to replace it"
    for path, image in outputs:
        try:
            save_image(image, path)
        except StorageError:
            raise  # a full disk or a refused folder fails every input alike: stop here
        except StarganError as err:
            return str(err)
        except OSError as err:
            return f"could not write {path}: {err.strerror or err}"
        written[path.resolve()] = source
    return None


__all__ = ["OutputPlan", "output_is_file", "write_outputs"]
