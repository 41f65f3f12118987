"""Legacy Haar helpers (photos.haar): detection, CelebA framing, cropping, paste-back, box smoothing."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from stargan_cli.errors import StarganError
from stargan_cli.image_files import example_image_path
from stargan_cli.photos import haar
from stargan_cli.photos.face import Box
from stargan_cli.photos.haar import BoxSmoother, celeba_box, detect_faces, extract_crop, model_square, paste_back
from stargan_cli.photos.paste import feather_mask

# The Haar functions stay for callers of the API; the package itself finds faces with
# landmarks now and runs with OpenCV 5, whose wheels ship no cascades.
_cv2 = pytest.importorskip("cv2")
needs_haar = pytest.mark.skipif(
    not (hasattr(_cv2, "CascadeClassifier") and getattr(getattr(_cv2, "data", None), "haarcascades", None)),
    reason="this OpenCV ships no Haar cascades",
)


@pytest.fixture(scope="module")
def portrait() -> Image.Image:
    with Image.open(example_image_path()) as image:
        return image.convert("RGB")


def two_faces(portrait: Image.Image, right_scale: float = 1.0) -> Image.Image:
    small = portrait.resize((256, 256))
    right = small.resize((round(256 * right_scale),) * 2)
    sheet = Image.new("RGB", (256 + right.size[0], max(256, right.size[1])), (90, 90, 90))
    sheet.paste(small, (0, 0))
    sheet.paste(right, (256, 0))
    return sheet


@needs_haar
def test_finds_the_astronauts_face(portrait):
    found = detect_faces(portrait)
    assert len(found) == 1
    box = found[0]
    cx, cy = box.center
    # Her face is in the upper middle of the 512x512 portrait.
    assert 180 < cx < 280 and 60 < cy < 170 and 60 < box.w < 140
    # Arrays work the same as PIL images.
    assert detect_faces(np.asarray(portrait)) == found


@needs_haar
def test_no_face_in_flat_or_noisy_images():
    assert detect_faces(Image.new("RGB", (300, 240), (128, 128, 128))) == []
    noise = np.random.default_rng(0).integers(0, 256, (240, 300, 3), dtype=np.uint8)
    assert detect_faces(noise) == []


@needs_haar
def test_several_faces_ordered_left_to_right_or_largest(portrait):
    sheet = two_faces(portrait, right_scale=1.5)
    left_first = detect_faces(sheet)
    assert len(left_first) == 2
    assert left_first[0].center[0] < 256 < left_first[1].center[0]
    largest_first = detect_faces(sheet, order="largest")
    assert largest_first[0] == left_first[1] and largest_first[0].area > largest_first[1].area
    with pytest.raises(ValueError):
        detect_faces(sheet, order="random")


@needs_haar
def test_large_photos_are_searched_downscaled_with_boxes_in_full_coordinates(portrait):
    big = portrait.resize((2048, 2048))
    box = detect_faces(big, max_side=512)[0]
    small = detect_faces(portrait)[0]
    assert abs(box.center[0] - 4 * small.center[0]) < 16 and abs(box.w - 4 * small.w) < 24


def test_missing_haar_cascade_is_a_clear_error(monkeypatch, portrait):
    """OpenCV 5 wheels have neither cv2.data nor CascadeClassifier."""
    import cv2

    with monkeypatch.context() as patch:  # not monkeypatch.undo(): that lifts conftest's settings too
        patch.setattr(haar, "_cascade_cache", {})
        patch.delattr(cv2, "data", raising=False)
        with pytest.raises(StarganError, match=r"opencv-python<5.*--no-detect"):
            detect_faces(portrait)
    monkeypatch.setattr(haar, "_cascade_cache", {})
    monkeypatch.delattr(cv2, "CascadeClassifier", raising=False)
    with pytest.raises(StarganError, match="opencv-python<5"):
        detect_faces(portrait)


def test_celeba_box_has_celeba_proportions_and_measured_framing():
    face = Box(100, 80, 60, 60)
    box = celeba_box(face, (400, 400))
    assert box.w == round(60 * haar.CELEBA_SCALE)
    assert abs(box.h / box.w - 218 / 178) < 0.01
    # Same horizontal centre; centre raised by CELEBA_SHIFT face widths.
    assert abs(box.center[0] - face.center[0]) <= 1
    assert abs((face.center[1] - box.center[1]) - haar.CELEBA_SHIFT * 60) <= 1
    # Whole pixels, and the model square inside holds the whole detected face.
    assert all(float(v).is_integer() for v in (box.x, box.y, box.w, box.h))
    left, top, right, bottom = model_square(box)
    assert right - left == bottom - top == box.w
    assert left <= face.x and top <= face.y and right >= face.right and bottom >= face.bottom


def test_celeba_box_may_pass_the_border_but_must_touch_the_image():
    near_edge = celeba_box(Box(0, 0, 50, 50), (200, 200))
    assert near_edge.x < 0 and near_edge.y < 0
    with pytest.raises(ValueError):
        celeba_box(Box(500, 500, 20, 20), (200, 200))


def test_extract_crop_inside_equals_a_plain_crop(portrait):
    box = Box(100, 50, 178, 218)
    crop = extract_crop(portrait, box)
    assert crop.size == (178, 218)
    assert np.array_equal(np.asarray(crop), np.asarray(portrait.crop((100, 50, 278, 268))))


def test_extract_crop_mirrors_past_the_border():
    array = np.arange(10 * 12 * 3, dtype=np.uint8).reshape(10, 12, 3)
    crop = np.asarray(extract_crop(array, Box(-3, -2, 8, 9)))
    assert crop.shape == (9, 8, 3)
    # Rows/columns inside the image are the image itself...
    assert np.array_equal(crop[2:, 3:], array[0:7, 0:5])
    # ...and outside they mirror it (reflection about the first row/column).
    assert np.array_equal(crop[2:, 2], array[0:7, 1])
    assert np.array_equal(crop[1, 3:], array[1, 0:5])
    assert np.array_equal(crop[0, 0], array[2, 3])


def test_feather_mask_is_one_inside_and_fades_to_the_edges():
    mask = feather_mask(100, 0.1)
    assert mask.shape == (100, 100)
    assert mask[50, 50] == 1.0 and mask[15:85, 15:85].min() == 1.0
    assert mask[0, 50] < 0.05 and mask[0, 0] < mask[0, 50]
    assert np.allclose(mask, mask[::-1, ::-1]) and np.allclose(mask, mask.T)
    assert np.all(np.diff(mask[50, :50]) >= 0)


@needs_haar
def test_paste_back_keeps_size_and_changes_only_the_square(portrait):
    box = celeba_box(detect_faces(portrait)[0], portrait.size)
    left, top, right, bottom = model_square(box)
    red = Image.new("RGB", (32, 32), (255, 0, 0))
    out = paste_back(portrait, red, box, mode="replace")
    assert out.size == portrait.size
    before, after = np.asarray(portrait), np.asarray(out)
    outside = np.ones(before.shape[:2], bool)
    outside[max(top, 0):bottom, max(left, 0):right] = False
    assert np.array_equal(before[outside], after[outside])
    # The centre of the square is the translated patch; its rim stays close to the photo.
    cy, cx = (top + bottom) // 2, (left + right) // 2
    assert tuple(after[cy, cx]) == (255, 0, 0)
    rim = np.abs(after[max(top, 0), left:right].astype(int) - before[max(top, 0), left:right].astype(int))
    assert rim.mean() < 30


def test_paste_back_handles_squares_reaching_past_the_border():
    photo = Image.new("RGB", (100, 80), (0, 0, 255))
    box = Box(-40, -30, 120, 147)
    out = np.asarray(paste_back(photo, Image.new("RGB", (32, 32), (0, 255, 0)), box, mode="replace"))
    assert out.shape == (80, 100, 3)
    left, top, right, bottom = model_square(box)
    assert tuple(out[(top + bottom) // 2, (left + right) // 2]) == (0, 255, 0)
    assert tuple(out[79, 99]) == (0, 0, 255)


def test_box_smoother_steadies_jittery_detections():
    rng = np.random.default_rng(1)
    smoother = BoxSmoother(alpha=0.3)
    raw, smooth = [], []
    for _ in range(60):
        noisy = Box(*(np.array([100, 80, 60, 60]) + rng.normal(0, 3, 4)))
        raw.append(noisy.x)
        smooth.append(smoother.update([noisy])[0].x)
    assert np.std(smooth[10:]) < 0.6 * np.std(raw[10:])
    assert abs(np.mean(smooth[10:]) - 100) < 2


def test_box_smoother_holds_lost_faces_then_drops_them_and_tracks_new_ones():
    smoother = BoxSmoother(alpha=0.5, max_missing=2)
    first = Box(300, 50, 40, 40)
    assert smoother.update([first]) == [first]
    assert smoother.update([]) == [first]  # one missed frame: kept
    assert smoother.update([]) == [first]
    assert smoother.update([]) == []  # gone after max_missing frames
    left, right = Box(10, 10, 40, 40), Box(300, 50, 40, 40)
    assert smoother.update([right, left]) == [left, right]  # left to right
    moved = smoother.update([Box(310, 50, 40, 40), left])
    assert moved[1].x == 305  # half way towards the new detection
    smoother.reset()
    assert smoother.update([]) == []
