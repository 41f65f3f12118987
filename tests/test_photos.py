"""Landmark detection (MTCNN), CelebA alignment, and the paste modes."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from PIL import Image

from stargan_cli.image_files import example_image_path
from stargan_cli.errors import UsageError
from stargan_cli.photos import (
    CELEBA_LANDMARKS, MODES, PASTE_MODES, Box, Frame, change_mask, check_paste, default_paste, detect_landmarks,
    extract_square, invert, mask_in_photo, paste_square,
)


@pytest.fixture(scope="module")
def portrait() -> Image.Image:
    with Image.open(example_image_path()) as image:
        return image.convert("RGB")


def _similarity(angle: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    a = math.radians(angle)
    return np.array([[scale * math.cos(a), -scale * math.sin(a), shift[0]],
                     [scale * math.sin(a), scale * math.cos(a), shift[1]]])


def _apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ matrix[:, :2].T + matrix[:, 2]


def _textured(width: int, height: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.uniform(0, 255, (height // 4 + 1, width // 4 + 1, 3)).astype(np.float32)
    return np.asarray(Image.fromarray(noise.astype(np.uint8)).resize((width, height), Image.BICUBIC))


def _footprint(frame: Frame, shape) -> np.ndarray:
    """True on and next to the model square's footprint (a 1 px safety ring)."""
    mask = np.zeros(shape[:2], np.uint8)
    cv2.fillConvexPoly(mask, np.round(frame.square_corners()).astype(np.int32), 1)
    return cv2.dilate(mask, np.ones((5, 5), np.uint8)) > 0


def test_frame_fits_the_template_exactly_and_undoes_a_similarity():
    assert np.allclose(Frame.from_landmarks(CELEBA_LANDMARKS).array, [[1, 0, 0], [0, 1, 0]], atol=1e-9)
    # The template seen through a known rotation/scale/shift: the frame is its inverse.
    to_photo = _similarity(23.0, 1.7, (140.0, -35.0))
    frame = Frame.from_landmarks(_apply(to_photo, CELEBA_LANDMARKS))
    assert np.allclose(frame.array, invert(to_photo), atol=1e-9)
    assert frame.angle == pytest.approx(-23.0) and frame.scale == pytest.approx(1 / 1.7)


def test_frame_from_box_is_the_box_scaled_to_celeba():
    frame = Frame.from_box(Box(10, 20, 89, 109))  # half the CelebA size
    assert frame.scale == pytest.approx(2.0) and frame.angle == 0.0
    corners = frame.square_corners() + 0.5  # pixel edges
    assert np.allclose(corners[0], [10, 30]) and np.allclose(corners[2], [99, 119])


def test_a_frame_moves_with_its_photo_when_the_photo_is_resized():
    # A face box found on a 300x200 working copy is the same face in the 900x600 original.
    small = Frame.from_box(Box(30, 20, 89, 109))
    big = small.in_resized_photo((300, 200), (900, 600))
    assert big.scale == pytest.approx(small.scale / 3) and big.angle == pytest.approx(small.angle)
    assert np.allclose(big.square_corners() + 0.5, 3 * (small.square_corners() + 0.5))  # pixel edges
    assert np.allclose(big.in_resized_photo((900, 600), (300, 200)).array, small.array)
    # Unequal scales (a rounded reduction) keep the edges too.
    wide = small.in_resized_photo((300, 200), (601, 400))
    assert np.allclose((wide.square_corners() + 0.5)[2], (small.square_corners() + 0.5)[2] * [601 / 300, 2])


def test_extract_square_of_an_aligned_image_is_its_celeba_crop():
    from stargan_cli.images import crop_resize

    aligned = _textured(178, 218)
    frame = Frame.from_box(Box(0, 0, 178, 218))
    square = np.asarray(extract_square(aligned, frame, 64)).astype(int)
    expected = np.asarray(crop_resize(Image.fromarray(aligned), 64)).astype(int)
    assert np.abs(square - expected).mean() < 1.5


def test_warp_round_trip_returns_the_same_pixels():
    photo = _textured(300, 260)
    frame = Frame.from_matrix(_similarity(17.0, 0.8, (-20.0, 30.0)))
    square = extract_square(photo, frame, 64)
    # An unchanged square adds nothing: every pixel stays exactly as it was.
    for mode in ("delta", "masked"):
        assert np.array_equal(np.asarray(paste_square(photo, square, frame, source=square, mode=mode)), photo)
    # Replaced at the photo's own resolution, the warp there and back is close to the identity.
    fine = Frame.from_matrix(_similarity(17.0, 1.0, (-40.0, 10.0)))
    big = extract_square(photo, fine, 178)
    back = np.asarray(paste_square(photo, big, fine, mode="replace", feather=0.0)).astype(int)
    inner = np.zeros(photo.shape[:2], np.uint8)
    corners = fine.square_corners()
    centre = corners.mean(0)
    cv2.fillConvexPoly(inner, np.round(centre + 0.8 * (corners - centre)).astype(np.int32), 1)
    inner = inner > 0
    assert inner.sum() > 10_000
    assert np.abs(back[inner] - photo.astype(int)[inner]).mean() < 6


@pytest.mark.parametrize("mode", PASTE_MODES)
def test_paste_never_touches_pixels_outside_its_region(mode):
    photo = _textured(240, 200, seed=1)
    frame = Frame.from_matrix(_similarity(-31.0, 1.9, (30.0, 90.0)))  # rotated, reaching past the border
    rng = np.random.default_rng(2)
    translated = Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))
    mask = Image.new("L", (32, 32), 255) if MODES[mode].needs_mask else None
    out = np.asarray(paste_square(photo, translated, frame, mode=mode, mask=mask))
    assert out.shape == photo.shape
    region = _footprint(frame, photo.shape)
    assert (~region).sum() > 5_000 and region.sum() > 5_000
    assert np.array_equal(out[~region], photo[~region])
    assert not np.array_equal(out[region], photo[region])


def test_delta_keeps_the_photos_fine_detail_that_replace_loses():
    photo = _textured(512, 512, seed=3)
    fine = np.asarray(Image.fromarray(photo).resize((512, 512))).astype(np.int16)
    fine = np.clip(fine + np.random.default_rng(4).integers(-30, 31, fine.shape), 0, 255).astype(np.uint8)
    frame = Frame.from_box(Box(20, 0, 420, 514))
    square = extract_square(fine, frame, 32)
    # The "model" changes nothing but the colour of the whole square a little.
    tinted = Image.fromarray(np.clip(np.asarray(square).astype(int) + [20, 0, 0], 0, 255).astype(np.uint8))
    centre = (slice(200, 300), slice(200, 300))
    delta = np.asarray(paste_square(fine, tinted, frame, source=square, mode="delta")).astype(int)
    replace = np.asarray(paste_square(fine, tinted, frame, source=square, mode="replace")).astype(int)
    want = fine.astype(int) + [20, 0, 0]
    assert np.abs(delta[centre] - np.clip(want, 0, 255)[centre]).mean() < 1.0
    assert np.abs(replace[centre] - want[centre]).mean() > 10  # the fine noise is gone


def test_masked_paste_keeps_small_changes_out():
    photo = _textured(200, 200, seed=5)
    frame = Frame.from_box(Box(10, 0, 178, 218))
    square = extract_square(photo, frame, 64)
    changed = np.asarray(square).astype(int)
    changed[:, :] += np.random.default_rng(6).integers(-3, 4, changed.shape)  # model noise
    changed[40:60, 20:44] = 255  # a real change
    out = np.asarray(paste_square(photo, Image.fromarray(np.clip(changed, 0, 255).astype(np.uint8)), frame,
                                  source=square, mode="masked")).astype(int)
    top_rows = np.abs(out[40:80, 60:140] - photo.astype(int)[40:80, 60:140])
    assert top_rows.max() == 0  # noise only there: untouched
    assert np.abs(out[150:170, 90:120] - photo.astype(int)[150:170, 90:120]).mean() > 30
    mask = change_mask(np.asarray(changed, np.float32) - np.asarray(square, np.float32))
    assert mask.min() == 0.0 and mask.max() == pytest.approx(1.0)


def test_mask_paste_changes_only_where_the_models_mask_is_open():
    photo = _textured(200, 200, seed=8)
    frame = Frame.from_box(Box(10, 0, 178, 218))  # upright: square rows map to photo rows
    square = extract_square(photo, frame, 64)
    # The model's colour image is far off everywhere (+40), but its mask is open only on the
    # bottom half, and barely ajar (0.03: its haze) on the top half.
    changed = Image.fromarray(np.clip(np.asarray(square).astype(int) + 40, 0, 255).astype(np.uint8))
    mask = np.full((64, 64), round(0.03 * 255), np.uint8)
    mask[32:] = 255
    out = np.asarray(paste_square(photo, changed, frame, source=square, mode="mask",
                                  mask=Image.fromarray(mask))).astype(int)
    top, bottom = frame.square_box().ltrb()[1], frame.square_box().ltrb()[3]
    middle = (top + bottom) // 2
    assert np.array_equal(out[: middle - 4], photo[: middle - 4].astype(int))  # shut: untouched
    lower = (slice(middle + 20, bottom - 30), slice(60, 140))
    assert np.abs(out[lower] - np.clip(photo[lower].astype(int) + 40, 0, 255)).mean() < 1.5
    # The delta paste of the same square brings the haze everywhere.
    delta = np.asarray(paste_square(photo, changed, frame, source=square, mode="delta")).astype(int)
    assert np.abs(delta[60:80, 60:140] - photo[60:80, 60:140].astype(int)).mean() > 30
    with pytest.raises(ValueError, match="needs the model's mask"):
        paste_square(photo, changed, frame, source=square, mode="mask")


def test_the_mask_paste_is_the_default_only_for_models_with_a_mask():
    assert default_paste(True) == "mask" and default_paste(False) == "masked"
    check_paste("mask")  # a known mode
    check_paste("mask", has_mask=True)
    with pytest.raises(UsageError, match="--g-output mask"):
        check_paste("mask", has_mask=False)
    check_paste("delta", has_mask=False)


def test_mask_in_photo_follows_the_face_into_the_photo():
    frame = Frame.from_matrix(_similarity(-20.0, 1.5, (60.0, 40.0)))
    mask = Image.new("L", (32, 32), 255)
    photo_mask = mask_in_photo((240, 200), [(frame, mask)])
    assert photo_mask.mode == "L" and photo_mask.size == (240, 200)
    values = np.asarray(photo_mask)
    region = _footprint(frame, (200, 240))
    assert values[~region].max() == 0
    centre = np.round(frame.square_corners().mean(0)).astype(int)
    assert values[centre[1], centre[0]] == 255
    # A shut mask stays black; two faces: the larger value counts.
    assert np.asarray(mask_in_photo((240, 200), [(frame, Image.new("L", (32, 32), 0))])).max() == 0
    both = np.asarray(mask_in_photo((240, 200), [(frame, mask), (frame, Image.new("L", (32, 32), 0))]))
    assert np.array_equal(both, values)


def test_paste_rejects_unknown_modes(portrait):
    with pytest.raises(ValueError, match="delta"):
        paste_square(portrait, portrait.resize((32, 32)), Frame.from_box(Box(0, 0, 178, 218)), mode="blend")


def test_mtcnn_finds_the_astronaut_and_her_landmarks(portrait):
    found = detect_landmarks(portrait)
    assert len(found) == 1
    face = found[0]
    assert face.score > 0.95
    left_eye, right_eye, nose, mouth_left, mouth_right = face.points
    assert left_eye[0] < nose[0] < right_eye[0] and mouth_left[0] < mouth_right[0]
    assert max(left_eye[1], right_eye[1]) < nose[1] < min(mouth_left[1], mouth_right[1])
    box = face.box
    assert all(box.x <= x <= box.right and box.y <= y <= box.bottom for x, y in face.points)
    # Same face, same landmarks on a copy twice the size (searched on a smaller copy).
    big = detect_landmarks(portrait.resize((1024, 1024), Image.BILINEAR), max_side=512)
    assert len(big) == 1 and np.abs(big[0].points / 2 - face.points).max() < 4


def test_mtcnn_finds_nothing_in_noise_or_flat_images():
    assert detect_landmarks(Image.new("RGB", (300, 240), (128, 128, 128))) == []
    noise = np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    assert detect_landmarks(noise) == []
    with pytest.raises(ValueError, match="order"):
        detect_landmarks(noise, order="random")


def test_alignment_turns_a_tilted_face_upright(portrait):
    upright = Frame.from_landmarks(detect_landmarks(portrait)[0].points)
    tilted = portrait.rotate(20, resample=Image.BILINEAR, expand=True, fillcolor=(90, 90, 90))
    frame = Frame.from_landmarks(detect_landmarks(tilted)[0].points)
    assert abs(frame.angle - upright.angle) == pytest.approx(20, abs=4)
    assert frame.scale == pytest.approx(upright.scale, rel=0.08)
    a = np.asarray(extract_square(portrait, upright, 64)).astype(int)
    b = np.asarray(extract_square(tilted, frame, 64)).astype(int)
    assert np.abs(a - b)[8:56, 8:56].mean() < 20


def test_a_paste_mode_is_one_entry_of_the_table(monkeypatch):
    """paste_square dispatches through photos.paste.MODES: a new entry is a new mode, used
    with the same feathered edge and the same footprint as the others."""
    from stargan_cli.photos import paste

    photo = _textured(200, 200, seed=7)
    frame = Frame.from_box(Box(10, 0, 178, 218))
    square = extract_square(photo, frame, 64)
    seen = []

    def half(squares):
        seen.append(squares.source is not None)
        return squares.translated, squares.feather * 0.5

    monkeypatch.setitem(paste.MODES, "half", paste.PasteMode(half, replaces=True, needs_source=False))
    white = Image.new("RGB", (64, 64), (255, 255, 255))
    out = np.asarray(paste_square(photo, white, frame, mode="half")).astype(int)
    full = np.asarray(paste_square(photo, white, frame, mode="replace")).astype(int)
    assert seen == [False]
    centre = (slice(90, 110), slice(90, 110))
    assert np.abs(out[centre] - (photo[centre].astype(int) + 255) / 2).max() <= 1  # half way to white
    assert np.array_equal(full[centre], np.full_like(full[centre], 255))
    assert not ((out != photo) & (full == photo)).any()  # inside the same footprint
    with pytest.raises(ValueError, match="paste mode must be one of"):
        paste_square(photo, white, frame, mode="nope")
    assert np.array_equal(np.asarray(square), np.asarray(extract_square(photo, frame, 64)))


def test_the_pipeline_cuts_numbers_and_pastes_faces(portrait):
    """open -> cut_faces (detect + align) -> paste_faces: faces numbered left to right, --face
    picks one, a wrong number or a faceless photo says what to do, and pasting the squares back
    unchanged ("delta") leaves the photo as it was."""
    from stargan_cli.errors import StarganError
    from stargan_cli.photos import cut_faces, open_photo, paste_faces

    small = portrait.resize((256, 256))
    sheet = Image.new("RGB", (512, 256), (90, 90, 90))
    sheet.paste(small, (0, 0))
    sheet.paste(small.transpose(Image.FLIP_LEFT_RIGHT), (256, 0))
    photo = open_photo(np.asarray(sheet))
    found, faces = cut_faces(photo, 32, name="sheet")
    assert found == 2 and [f.number for f in faces] == [1, 2]
    assert faces[0].box.center[0] < 256 < faces[1].box.center[0]
    assert all(f.crop.size == (32, 32) and f.frame is not None for f in faces)
    found, second = cut_faces(photo, 32, face=2, name="sheet")
    assert found == 2 and [f.number for f in second] == [2] and second[0].frame == faces[1].frame
    with pytest.raises(StarganError, match="sheet has 2 face.*--face 3 does not exist"):
        cut_faces(photo, 32, face=3, name="sheet")
    with pytest.raises(StarganError, match="no face found in flat.*--no-detect"):
        cut_faces(Image.new("RGB", (200, 200), (128, 128, 128)), 32, name="flat")
    assert cut_faces(photo, 32, detect=False)[1][0].frame is None
    same = paste_faces(photo, faces, [f.crop for f in faces], mode="delta")
    assert np.array_equal(np.asarray(same), np.asarray(photo))


def test_translate_photos_runs_the_steps_with_the_model_step_handed_in(tmp_path):
    """translate_photos: inputs in order, faces of several photos share a batch of the model
    step, a bad input keeps its error and the others go on; pasting with detection is covered
    by the Translator's tests."""
    from stargan_cli.photos import translate_photos

    batches = []

    def model(faces):
        batches.append([f.number for f in faces])
        for f in faces:
            f.outputs["Grey"] = f.crop.convert("L").convert("RGB")

    images = [_textured(80, 60, seed=s) for s in range(3)]
    inputs = [images[0], tmp_path / "missing.png", images[1], images[2]]
    results = translate_photos(inputs, 16, model, detect=False, batch_size=2)
    assert batches == []  # nothing is read before the results are asked for
    results = list(results)
    assert batches == [[1, 1], [1]]
    assert [r.ok for r in results] == [True, False, True, True]
    assert "does not exist" in results[1].error
    for result, image in zip([results[0], *results[2:]], images):
        assert result.targets == ["Grey"] and result.outputs["Grey"].size == (16, 16)
        assert result.outputs["Grey"] is result.faces[0].outputs["Grey"]
        assert result.image.size == (80, 60)
