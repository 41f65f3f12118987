"""Opening image files: every failure is one clear StarganError."""

from __future__ import annotations

import pytest
from PIL import Image

from stargan_cli.errors import StarganError
from stargan_cli.images import celeba_crop_box, open_image


def test_empty_truncated_and_foreign_files(tmp_path):
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(StarganError, match="is empty"):
        open_image(empty)
    good = tmp_path / "good.jpg"
    Image.new("RGB", (64, 64), (200, 10, 10)).save(good)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(good.read_bytes()[:200])
    with pytest.raises(StarganError, match="truncated or damaged"):
        open_image(cut)
    text = tmp_path / "notes.jpg"
    text.write_text("hello")
    with pytest.raises(StarganError, match="not an image"):
        open_image(text)
    assert open_image(good).size == (64, 64)


def test_celeba_crop_box_matches_torchvision_centre_crop():
    assert celeba_crop_box(178, 218) == (0, 20, 178, 198)
    left, top, right, bottom = celeba_crop_box(1000, 800)
    assert right - left == bottom - top == round(800 * 178 / 218)


def test_is_grayscale_finds_one_coloured_pixel_in_a_large_grey_photo():
    import numpy as np

    from stargan_cli.images import grayscale_rgb, is_grayscale

    rng = np.random.default_rng(0)
    grey = np.repeat(rng.integers(0, 256, (1200, 900, 1), dtype=np.uint8), 3, axis=2)
    assert is_grayscale(Image.fromarray(grey)) and is_grayscale(Image.fromarray(grey[..., 0]))
    grey[700, 450] = (10, 11, 10)
    assert not is_grayscale(Image.fromarray(grey))
    colour = Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    assert not is_grayscale(colour)
    back = np.asarray(grayscale_rgb(Image.fromarray(grey)))
    assert np.array_equal(back[..., 0], back[..., 2]) and back[0, 0, 0] == grey[0, 0, 0]
