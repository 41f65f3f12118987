"""The Translator API: preprocessing, labels, estimation, faces, batching, inputs."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from stargan_cli import Translator as LazyTranslator
from stargan_cli import paths
from stargan_cli.checkpoints import Checkpoint, save_checkpoint
from stargan_cli.errors import StarganError
from stargan_cli.grid.layout import SheetStyle
from stargan_cli.grid.sheet import result_strip
from stargan_cli.photos.detect import detect_landmarks
from stargan_cli.images import tensor_to_pil
from stargan_cli.models import ModelConfig, build_discriminator, build_generator
from stargan_cli.attributes import target_name
from stargan_cli.image_files import collect_inputs, example_image_path, looks_like_output, output_items, save_image
from stargan_cli.translate import Translator

ATTRS = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young")


def make_checkpoint(config: ModelConfig, path, with_d: bool = True, seed: int = 0):
    torch.manual_seed(seed)
    G, D = build_generator(config), build_discriminator(config)
    save_checkpoint(Checkpoint(config, G.state_dict(), D.state_dict() if with_d else None), path)
    return path


@pytest.fixture
def ckpt(tmp_path, tiny_config):
    return make_checkpoint(tiny_config, tmp_path / "tiny.pt")


@pytest.fixture
def translator(ckpt):
    return Translator(ckpt, device="cpu")


@pytest.fixture(scope="module")
def portrait() -> Image.Image:
    with Image.open(example_image_path()) as image:
        return image.convert("RGB")


def aligned_celeba_like(seed: int = 0) -> Image.Image:
    """A 178x218 RGB image with structure (not just noise)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:218, 0:178]
    base = np.stack([x * 1.3, y * 1.1, (x + y) * 0.6], -1) + rng.normal(0, 20, (218, 178, 3))
    return Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))


def reference_input(image: Image.Image, size: int) -> torch.Tensor:
    """The original StarGAN test transform, written independently with torchvision."""
    from torchvision import transforms as T

    transform = T.Compose([
        T.CenterCrop(178), T.Resize(size), T.ToTensor(), T.Normalize((0.5,) * 3, (0.5,) * 3),
    ])
    return transform(image)


def test_lazy_import_is_the_class():
    assert LazyTranslator is Translator


def test_no_detect_equals_the_original_pipeline(translator, tiny_config):
    image = aligned_celeba_like()
    x = reference_input(image, tiny_config.image_size)
    out = translator(image, to=["Blond_Hair", "Young=0"], source="Black_Hair,Young", detect=False)
    label = torch.tensor([[0.0, 1.0, 0.0, 0.0, 0.0]])  # Black off (hair exclusive), Young off
    with torch.no_grad():
        expected = tensor_to_pil(translator.G(x[None], label)[0])
    assert out.size == (32, 32)
    assert np.array_equal(np.asarray(out), np.asarray(expected))


def test_estimates_come_from_the_discriminator_class_head(translator, tiny_config):
    image = aligned_celeba_like(3)
    x = reference_input(image, tiny_config.image_size)
    with torch.no_grad():
        probs = torch.sigmoid(translator.D(x[None])[1])[0]
    estimate = translator.estimate_attributes(image, detect=False)
    assert list(estimate) == list(ATTRS)
    assert np.allclose(list(estimate.values()), probs.numpy(), atol=1e-6)


def test_unnamed_attributes_keep_the_estimated_values(translator, tiny_config):
    image = aligned_celeba_like(5)
    result = next(translator.translate_many([image], to=["Male"], detect=False))
    face = result.faces[0]
    assert face.estimated
    expected_source = translator.label_from_scores([face.source[a] for a in ATTRS])
    assert face.source_label == expected_source
    label = list(expected_source)
    label[3] = 1.0
    x = reference_input(image, tiny_config.image_size)
    with torch.no_grad():
        direct = tensor_to_pil(translator.G(x[None], torch.tensor([label]))[0])
    assert np.array_equal(np.asarray(result.outputs["Male"]), np.asarray(direct))


def test_label_logic(translator):
    source = [1.0, 0.0, 0.0, 1.0, 1.0]
    assert translator.target_label(source, translator.parse_targets("Blond_Hair")) == [0, 1, 0, 1, 1]
    assert translator.target_label(source, translator.parse_targets(["Male=0", "young=0"])) == [1, 0, 0, 0, 0]
    assert translator.target_label(source, translator.parse_targets({"Brown_Hair": 1, "Male": 0})) == [0, 0, 1, 0, 1]
    assert target_name(translator.parse_targets("Blond_Hair,Male=0")) == "Blond_Hair+Male=0"
    # Estimated hair colours are exclusive too: the likeliest above 0.5 wins.
    assert translator.label_from_scores([0.7, 0.9, 0.2, 0.6, 0.4]) == [0, 1, 0, 1, 0]
    assert translator.parse_source("Black_Hair,Male") == [1, 0, 0, 1, 0]
    assert translator.parse_source("none") == [0, 0, 0, 0, 0]
    names = [n for n, _ in translator.domain_targets(source)]
    assert names == ["Black_Hair", "Blond_Hair", "Brown_Hair", "Male=flip", "Young=flip"]
    labels = dict(translator.domain_targets(source))
    assert labels["Brown_Hair"] == [0, 0, 1, 1, 1] and labels["Male=flip"] == [1, 0, 0, 0, 1]


def test_bad_targets_are_clear_errors(translator):
    with pytest.raises(StarganError, match="did you mean Blond_Hair"):
        translator.parse_targets("Blonde_Hair")
    with pytest.raises(StarganError, match="not trained on Eyeglasses: it knows Black_Hair"):
        translator.parse_targets("Eyeglasses")
    with pytest.raises(StarganError, match="--to ATTR"):
        next(translator.translate_many([aligned_celeba_like()], to=None, detect=False))


@pytest.mark.parametrize("value", ["2", "-1", "nan", "inf"])
def test_target_values_outside_0_to_1_are_refused(translator, value):
    with pytest.raises(StarganError, match="values go from 0 \\(off\\) to 1 \\(on\\)"):
        translator.parse_targets(f"Male={value}")
    assert translator.parse_targets("Male=0.5") == {"Male": 0.5}  # in between stays allowed


def test_single_label_model_uses_argmax_and_one_domain(tmp_path):
    config = ModelConfig(
        attributes=("Black_Hair", "Blond_Hair", "Brown_Hair"), image_size=32, g_conv_dim=8,
        g_repeat=1, d_conv_dim=8, d_repeat=2, label_mode="single",
    )
    translator = Translator(make_checkpoint(config, tmp_path / "single.pt"), device="cpu")
    assert translator.exclusive_start == 0
    assert translator.label_from_scores([0.2, 0.45, 0.35]) == [0, 1, 0]
    assert translator.target_label([1, 0, 0], {"Brown_Hair": 1.0}) == [0, 0, 1]
    with pytest.raises(StarganError, match="exclusive"):  # refused as two hair colours
        translator.parse_targets("Blond_Hair,Brown_Hair")
    with pytest.raises(StarganError, match="exactly one"):
        translator.parse_targets("Blond_Hair=0")
    probs = translator.estimate_attributes(aligned_celeba_like(), detect=False)
    assert abs(sum(probs.values()) - 1) < 1e-5  # softmax over exclusive domains
    assert [n for n, _ in translator.domain_targets([1, 0, 0])] == list(config.attributes)


def test_joint_model_labels_carry_the_mask(tmp_path):
    config = ModelConfig(
        attributes=("Black_Hair", "Blond_Hair", "Male", "angry", "happy"), image_size=32,
        g_conv_dim=8, g_repeat=1, d_conv_dim=8, d_repeat=2, label_mode="joint", joint_split=3,
    )
    translator = Translator(make_checkpoint(config, tmp_path / "joint.pt"), device="cpu")
    assert translator.exclusive_start == 3
    assert translator.target_label([1, 0, 1, 0, 1], {"Blond_Hair": 1.0}) == [0, 1, 1, 0, 0, 1, 0]
    assert translator.target_label([1, 0, 1, 0, 1], {"angry": 1.0}) == [0, 0, 0, 1, 0, 0, 1]
    with pytest.raises(StarganError, match="exactly one"):
        translator.parse_targets("angry,Male")
    out = translator(aligned_celeba_like(), to="happy", detect=False)
    assert out.size == (32, 32)


def test_detected_face_is_pasted_back_into_the_full_photo(translator, portrait):
    out = translator(portrait, to="Blond_Hair")
    assert out.size == portrait.size
    left, top, right, bottom = translator.prepare(portrait).faces[0].frame.square_box().ltrb()
    before, after = np.asarray(portrait).astype(int), np.asarray(out).astype(int)
    # Far from the face: untouched. On the face: the (random) model changed it.
    assert np.array_equal(before[:, right:], after[:, right:])
    assert np.array_equal(before[bottom:], after[bottom:])
    assert np.abs(before[top + 20:bottom - 20, left + 20:right - 20] - after[top + 20:bottom - 20, left + 20:right - 20]).mean() > 5


def test_each_face_is_translated_and_face_picks_one(translator, portrait):
    sheet = Image.new("RGB", (512, 256), (90, 90, 90))
    small = portrait.resize((256, 256))
    sheet.paste(small, (0, 0))
    sheet.paste(small, (256, 0))
    before = np.asarray(sheet).astype(int)
    both = np.asarray(translator(sheet, to="Male")).astype(int)
    changed = np.abs(both - before).sum(2) > 0
    assert changed[:, :256].any() and changed[:, 256:].any()
    assert len(translator.translate_faces(sheet, to="Male")) == 2
    right_only = np.asarray(translator(sheet, to="Male", face=2)).astype(int)
    changed = np.abs(right_only - before).sum(2) > 0
    assert not changed[:, :200].any() and changed[:, 256:].any()
    with pytest.raises(StarganError, match="2 face.*--face 3"):
        translator(sheet, to="Male", face=3)


def test_prepare_frames_faces_without_running_the_model(translator, portrait):
    prepared = translator.prepare(portrait)
    assert prepared.ok and prepared.faces_found == 1 and translator.exclusive_start == 5
    face = prepared.faces[0]
    assert face.crop.size == (32, 32) and face.box == face.frame.bounding_box()
    assert face.landmarks.shape == (5, 2) and face.face_box.intersection(face.box) == face.face_box.area
    assert not face.outputs and not face.source
    whole = translator.prepare(portrait, detect=False)
    assert whole.faces[0].box is None and whole.faces[0].crop.size == (32, 32)
    assert "no face found" in translator.prepare(Image.new("RGB", (64, 64))).error


def test_no_face_is_an_error_for_that_input_only(translator, portrait):
    blank = Image.new("RGB", (200, 200), (128, 128, 128))
    results = list(translator.translate_many([blank, portrait], to="Young"))
    assert "no face found" in results[0].error and "--no-detect" in results[0].error
    assert results[1].ok and results[1].outputs["Young"].size == portrait.size
    with pytest.raises(StarganError, match="no face found"):
        translator(blank, to="Young")


def test_all_domains_and_the_strip(translator, portrait):
    result = translator.translate_all(portrait)
    assert result.targets == ["Black_Hair", "Blond_Hair", "Brown_Hair", "Male=flip", "Young=flip"]
    assert all(result.outputs[t].size == portrait.size for t in result.targets)
    bare = SheetStyle(cell_size=32, padding=0, labels=False)  # the original's plain strip
    strip = result_strip(result, bare)
    assert strip.size == (32 * 6, 32)
    assert np.array_equal(np.asarray(strip)[:, :32], np.asarray(result.faces[0].crop))
    assert np.array_equal(np.asarray(strip)[:, 64:96], np.asarray(result.faces[0].outputs["Blond_Hair"]))
    labelled = result_strip(result)  # the default: readable cells, a header per column
    assert labelled.size[0] > 256 * 6 and labelled.size[1] > 256
    tokens = [t for t, _ in output_items(result, crop_only=True, strip=True)]
    assert tokens == [*result.targets, "all"]


def test_batch_size_does_not_change_results(translator, portrait):
    images = [aligned_celeba_like(i) for i in range(5)]
    one = [r.outputs["Blond_Hair"] for r in translator.translate_many(images, to="Blond_Hair", detect=False, batch_size=1)]
    many = [r.outputs["Blond_Hair"] for r in translator.translate_many(images, to="Blond_Hair", detect=False, batch_size=4)]
    for a, b in zip(one, many):
        assert np.abs(np.asarray(a).astype(int) - np.asarray(b).astype(int)).max() <= 1


def test_translate_squares_matches_no_detect(translator):
    image = aligned_celeba_like(7)
    squares = translator.translate_squares([image, image], to="Male")
    assert np.array_equal(np.asarray(squares[0]), np.asarray(translator(image, to="Male", detect=False)))


def test_model_without_discriminator_needs_source(tmp_path, tiny_config, portrait):
    translator = Translator(make_checkpoint(tiny_config, tmp_path / "g_only.pt", with_d=False), device="cpu")
    assert not translator.has_classifier
    with pytest.raises(StarganError, match="--source-attrs"):
        translator(portrait, to="Blond_Hair")
    with pytest.raises(StarganError, match="--source-attrs"):
        translator.estimate_attributes(portrait)
    assert translator(portrait, to="Blond_Hair", source="Black_Hair").size == portrait.size


def test_from_pretrained_paths_names_official_files_and_offline_default(tmp_path, tiny_config, ckpt):
    assert Translator.from_pretrained(ckpt, device="cpu").attributes == ATTRS
    installed = paths.models_dir() / "mine.pt"
    installed.write_bytes(ckpt.read_bytes())
    assert Translator.from_pretrained("mine", device="cpu").image_size == 32
    # An official release pair: plain state dicts named NNNNNN-G.ckpt / -D.ckpt.
    torch.manual_seed(1)
    torch.save(build_generator(tiny_config).state_dict(), tmp_path / "200000-G.ckpt")
    torch.save(build_discriminator(tiny_config).state_dict(), tmp_path / "200000-D.ckpt")
    official = Translator.from_pretrained(tmp_path / "200000-G.ckpt", device="cpu")
    assert official.attributes == ATTRS and official.has_classifier and official.image_size == 32
    with pytest.raises(StarganError, match="not installed"):
        Translator.from_pretrained("stargan-celeba-128")  # STARGAN_OFFLINE=1 in the tests


def encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "mode,fmt,suffix",
    [("RGBA", "PNG", ".png"), ("CMYK", "JPEG", ".jpg"), ("L", "PNG", ".png"), ("P", "PNG", ".png"),
     ("RGB", "WEBP", ".webp"), ("RGB", "BMP", ".bmp")],
)
def test_every_image_kind_is_translated(translator, portrait, tmp_path, mode, fmt, suffix):
    path = tmp_path / f"face{suffix}"
    path.write_bytes(encode(portrait.resize((256, 256)).convert(mode), fmt))
    out = translator(path, to="Blond_Hair")
    assert out.mode == "RGB" and out.size == (256, 256)


def test_exif_orientation_is_applied(translator, portrait, tmp_path):
    upright = portrait.resize((256, 192))
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # what the camera wrote
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    path = tmp_path / "phone.jpg"
    path.write_bytes(encode(stored, "JPEG", exif=exif.tobytes(), quality=95))
    assert detect_landmarks(stored) == []  # sideways: the detector cannot see it...
    out = translator(path, to="Young")  # ...but the upright photo has a face
    assert out.size == upright.size


def test_collect_inputs_files_folders_globs(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "sub").mkdir()
    (tmp_path / "empty").mkdir()
    for name in ("a/1.jpg", "a/2.PNG", "a/sub/3.webp", "a/1.Blond_Hair.png", "a/.hidden.jpg", "a/notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    files, errors = collect_inputs([tmp_path / "a"])
    assert [f.path.name for f in files] == ["1.jpg", "2.PNG"] and not errors
    files, _ = collect_inputs([tmp_path / "a"], recursive=True)
    assert [f.path.name for f in files] == ["1.jpg", "2.PNG", "3.webp"]
    assert files[2].relative_parent.as_posix() == "sub"
    files, errors = collect_inputs([str(tmp_path / "a" / "*.jpg"), tmp_path / "a" / "1.jpg", tmp_path / "nope.jpg",
                                    tmp_path / "empty", str(tmp_path / "*.gif")])
    assert [f.path.name for f in files] == ["1.jpg"]
    assert errors == [f"{tmp_path / 'nope.jpg'} does not exist", f"{tmp_path / 'empty'} holds no images (JPEG, PNG, WebP, BMP)",
                      f"no images match {tmp_path / '*.gif'}"]
    _, errors = collect_inputs([tmp_path / "a" / "sub" / ".."])
    assert not errors
    (tmp_path / "only_sub" / "x").mkdir(parents=True)
    (tmp_path / "only_sub" / "x" / "p.jpg").write_bytes(b"x")
    _, errors = collect_inputs([tmp_path / "only_sub"])
    assert "add --recursive" in errors[0]
    assert looks_like_output(tmp_path / "x.face2.Male=0.png", ATTRS)
    assert looks_like_output(tmp_path / "x.all.png", ATTRS)
    assert not looks_like_output(tmp_path / "john.smith.jpg", ATTRS)


def test_save_image_is_atomic(tmp_path, monkeypatch):
    image = Image.new("RGB", (8, 8), (1, 2, 3))
    target = tmp_path / "out.png"
    save_image(image, target)
    assert Image.open(target).getpixel((0, 0)) == (1, 2, 3)

    def broken_save(self, fp, format=None, **kwargs):
        if hasattr(fp, "write"):  # images are encoded in memory first, then written whole
            fp.write(b"\x89PNG half")
        else:
            with open(fp, "wb") as fh:
                fh.write(b"\x89PNG half")
        raise OSError("disk full")

    with monkeypatch.context() as patch:  # not monkeypatch.undo(): that lifts conftest's settings too
        patch.setattr(Image.Image, "save", broken_save)
        with pytest.raises(OSError):
            save_image(Image.new("RGB", (8, 8)), target)
    assert Image.open(target).getpixel((0, 0)) == (1, 2, 3)  # the old file is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]  # no temp file left
    with pytest.raises(StarganError, match=r"\.png, \.jpg"):
        save_image(image, tmp_path / "out.tiff")


def test_save_image_past_a_format_size_limit_is_a_clear_error(tmp_path):
    wide = Image.new("RGB", (16384, 2))
    with pytest.raises(StarganError, match="WEBP images are at most 16383 pixels.*use a .png name"):
        save_image(wide, tmp_path / "wide.webp")
    assert list(tmp_path.iterdir()) == []  # nothing half-written
    save_image(wide, tmp_path / "wide.png")  # PNG has no such limit
