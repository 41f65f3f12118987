"""The one place that turns an image file into a model input, and a model output into an image
(and an image into a file: :func:`write_image`, whole or not at all).

Preprocessing follows the original StarGAN test pipeline exactly: centre crop 178 (of the
178x218 aligned CelebA image), bilinear resize to the model size (PIL, as torchvision's
``Resize`` does on PIL images), scale to [-1, 1]. For images of other sizes the crop keeps the
CelebA framing: the largest centred square of a 178:218 portrait.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image, ImageChops, ImageOps, UnidentifiedImageError

from .errors import StarganError
from .fileio import atomic_write, write_whole

if TYPE_CHECKING:
    import numpy as np
    import torch

CELEBA_WIDTH, CELEBA_HEIGHT = 178, 218
# Bump when the pixels that crop_resize/pil_to_uint8 produce change: preprocessed caches are
# keyed by it and rebuilt.
PREPROCESS_VERSION = 1
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
# Pillow's own bomb limit is a warning below 2x; we refuse anything above it outright.
MAX_PIXELS = 89_478_485


def to_rgb(image: Image.Image) -> Image.Image:
    """RGB version of any PIL image: grayscale, palette, RGBA (on white), CMYK, 16-bit."""
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        return image.point(lambda v: v / 256).convert("L").convert("RGB")
    return image.convert("RGB")


def is_grayscale(image: Image.Image) -> bool:
    """Whether ``image`` is a black-and-white picture: a grey mode, or RGB with its three
    channels equal everywhere (what :func:`to_rgb` makes of a grey photo)."""
    if image.mode in ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"):
        return True
    if image.mode != "RGB":
        image = image.convert("RGB")
    factor = int((image.width * image.height / 250_000) ** 0.5)
    if factor > 1 and not _channels_equal(image.reduce(factor)):  # a colour photo is told quickly
        return False
    return _channels_equal(image)


def _channels_equal(image: Image.Image) -> bool:
    red, green, blue = image.split()
    return ImageChops.difference(red, green).getbbox() is None and ImageChops.difference(green, blue).getbbox() is None


def grayscale_rgb(image: Image.Image) -> Image.Image:
    """``image`` in grey (ITU-R 601 luma), as RGB: a grey pixel keeps its value exactly."""
    return image.convert("L").convert("RGB")


def rgb_array(image: "Image.Image | np.ndarray") -> "np.ndarray":
    """A PIL image or an image array as a uint8 (H, W, 3) RGB array (gray repeated, alpha dropped)."""
    import numpy as np

    if isinstance(image, Image.Image):
        return np.asarray(image.convert("RGB"))
    array = np.asarray(image)
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] not in (3, 4):
        raise ValueError(f"expected an RGB image array (H, W, 3), got shape {array.shape}")
    return array[:, :, :3].astype(np.uint8, copy=False)


def open_image(path: str | os.PathLike) -> Image.Image:
    """Open an image file as RGB with its EXIF orientation applied.

    Raises StarganError for a missing file, a file that is not an image, a truncated image
    and a decompression bomb.
    """
    path = Path(path)
    if not path.exists():
        raise StarganError(f"{path} does not exist")
    if path.is_dir():
        raise StarganError(f"{path} is a folder: pass image files (or the folder with --recursive)")
    if path.stat().st_size == 0:
        raise StarganError(f"{path} is empty (0 bytes): pass an image file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as raw:
                if raw.size[0] * raw.size[1] > MAX_PIXELS:
                    raise StarganError(
                        f"{path} is {raw.size[0]}x{raw.size[1]} pixels, too large to be a photo "
                        f"(limit {MAX_PIXELS:,} pixels): resize it first"
                    )
                raw.load()
                image = ImageOps.exif_transpose(raw)
                return to_rgb(image)
    except StarganError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise StarganError(f"{path} is too large to be a photo (decompression bomb?): resize it first") from None
    except UnidentifiedImageError:
        raise StarganError(f"{path} is not an image Pillow can read (JPEG, PNG, WebP, BMP)") from None
    except (OSError, SyntaxError, ValueError) as err:
        raise StarganError(f"{path} could not be read: it is truncated or damaged ({err})") from None


def celeba_crop_box(width: int, height: int) -> tuple[int, int, int, int]:
    """The centred square the model sees: 178x178 of a 178x218 CelebA image (top 20 px skipped).

    Matches torchvision's ``CenterCrop`` rounding for the CelebA size.
    """
    side = min(width, round(height * CELEBA_WIDTH / CELEBA_HEIGHT))
    left = int(round((width - side) / 2.0))
    top = int(round((height - side) / 2.0))
    return left, top, left + side, top + side


def crop_resize(image: Image.Image, size: int) -> Image.Image:
    """Centre crop with CelebA framing, then bilinear resize to ``size`` x ``size``."""
    cropped = image.crop(celeba_crop_box(*image.size))
    if cropped.size != (size, size):
        cropped = cropped.resize((size, size), Image.BILINEAR)
    return cropped


def pil_to_uint8(image: Image.Image) -> "torch.Tensor":
    """HWC PIL RGB image to a (3, H, W) uint8 tensor."""
    import numpy as np
    import torch

    return torch.from_numpy(np.asarray(image, dtype=np.uint8).copy()).permute(2, 0, 1).contiguous()


def normalize(batch: "torch.Tensor") -> "torch.Tensor":
    """uint8 images (any leading dims, 3, H, W) to float32 in [-1, 1], as ToTensor + Normalize(0.5, 0.5)."""
    return (batch.float() / 255.0 - 0.5) / 0.5


def denormalize(batch: "torch.Tensor") -> "torch.Tensor":
    """Model output in [-1, 1] to uint8 (same shape)."""
    import torch

    return ((batch.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def tensor_to_pil(image: "torch.Tensor") -> Image.Image:
    """A (3, H, W) tensor in [-1, 1] to a PIL RGB image."""
    return Image.fromarray(denormalize(image).permute(1, 2, 0).cpu().numpy())


def mask_to_pil(mask: "torch.Tensor") -> Image.Image:
    """A (1, H, W) or (H, W) mask in [0, 1] to a PIL grayscale image (white = 1)."""
    import torch

    values = (mask.detach().float().clamp(0, 1) * 255).round().to(torch.uint8)
    return Image.fromarray(values.reshape(values.shape[-2:]).cpu().numpy(), mode="L")


def to_model_input(image: Image.Image, size: int) -> "torch.Tensor":
    """PIL RGB image to the (3, size, size) float tensor in [-1, 1] that the model takes."""
    return normalize(pil_to_uint8(crop_resize(image, size)))


def write_image(image: Image.Image, path: str | os.PathLike, fmt: str, **options: Any) -> Path:
    """Write ``image`` to ``path`` as ``fmt`` (a Pillow format; ``options`` go to its encoder)
    whole or not at all: encoded in memory, written with every byte checked, then published
    atomically (see :func:`stargan_cli.fileio.write_whole`)."""

    def write(tmp: Path) -> None:
        buffer = io.BytesIO()
        image.save(buffer, format=fmt, **options)
        write_whole(tmp, buffer.getbuffer())

    return atomic_write(path, write)
