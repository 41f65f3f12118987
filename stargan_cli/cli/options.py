"""Options that several commands take, declared once: their flags, short names, limits and how
they show in ``--help``.

The help text stays with each command (``--model`` compares several models in ``grid`` and
offers several in ``app``, for instance), so most declarations here take it as an argument:
``model: Annotated[Optional[str], model_option("Model name ...")] = None``. Options the
commands declare word for word are ready-made ``Annotated`` types, as ``common.DeviceOption``.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer


def model_option(help: str) -> Any:
    """``--model/-m``: a model name or checkpoint (a list where a command takes several)."""
    return typer.Option("--model", "-m", help=help, show_default=False)


def to_option(help: str) -> Any:
    """``--to/-t``: targets (attribute names, ``ATTR=0``)."""
    return typer.Option("--to", "-t", help=help, show_default=False)


def output_option(help: str) -> Any:
    """``--output/-o``: the file or folder to write."""
    return typer.Option("--output", "-o", help=help, show_default=False)


def source_attrs_option(help: str) -> Any:
    """``--source-attrs``: the input's own attributes instead of estimating them."""
    return typer.Option("--source-attrs", help=help, show_default=False)


def paste_option(help: str) -> Any:
    """``--paste MODE``: how translated faces go back into the image (:data:`photos.paste.PASTE_MODES`)."""
    return typer.Option("--paste", metavar="MODE", help=help)


def face_option(help: str) -> Any:
    """``--face N``: one of the detected faces, 1 = leftmost."""
    return typer.Option("--face", help=help, min=1, show_default=False)


def no_detect_option(help: str) -> Any:
    """``--no-detect``: take each image as an aligned face crop."""
    return typer.Option("--no-detect", help=help)


def data_option(help: str) -> Any:
    """``--data``: the dataset folder."""
    return typer.Option("--data", help=help, show_default=False)


def batch_size_option(help: str, **extra: Any) -> Any:
    """``--batch-size``: images (or faces) per batch on the device, 1 to 4096."""
    return typer.Option("--batch-size", help=help, min=1, max=4096, **extra)


RecursiveOption = Annotated[bool, typer.Option("--recursive", "-r", help="Look into sub-folders of folder inputs.")]
OverwriteOption = Annotated[bool, typer.Option("--overwrite", help="Replace existing output files.")]
