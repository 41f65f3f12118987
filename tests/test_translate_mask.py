"""A model with a mask (``--g-output mask``) at the user's end: the mask in the translation
result, ``--paste mask`` (the default for such models), ``translate --save-mask``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from stargan_cli.checkpoints import Checkpoint, save_checkpoint
from stargan_cli.cli import app
from stargan_cli.image_files import example_image_path, looks_like_output
from stargan_cli.models import ModelConfig, build_discriminator, build_generator
from stargan_cli.translate import Translator

runner = CliRunner()
ATTRS = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young")


def tiny(path, g_output: str, seed: int = 0):
    """A random 32 px model (``Generator(5, 8, 1, output=g_output)``) saved at ``path``."""
    torch.manual_seed(seed)
    config = ModelConfig(attributes=ATTRS, image_size=32, g_conv_dim=8, g_repeat=1, d_conv_dim=8, d_repeat=2,
                         g_output=g_output)
    G, D = build_generator(config), build_discriminator(config)
    if g_output == "mask":
        # A random mask sits near 0.5 everywhere; tie it to the first colour channel, sharpened,
        # so that it is open in some places and shut in others, as a trained one is.
        last = G.main[-1].weight.data
        last[3] = last[0] * 8
    save_checkpoint(Checkpoint(config, G.state_dict(), D.state_dict()), path)
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    return {"mask": tiny(folder / "mask.pt", "mask"), "rgb": tiny(folder / "rgb.pt", "rgb")}


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "in" / "me.jpg"
    path.parent.mkdir()
    with Image.open(example_image_path()) as image:
        image.convert("RGB").resize((256, 256)).save(path, quality=95)
    return path


def run(*args):
    return runner.invoke(app, ["translate", *map(str, args)])


def pixels(path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image).astype(int)


def error_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert lines, result.output
    return lines[0]


def test_the_result_carries_the_models_own_mask(models, tmp_path):
    rng = np.random.default_rng(0)
    crop = Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))
    translator = Translator(models["mask"], device="cpu")
    assert translator.has_mask
    result = translator.translate_all(crop, source="Blond_Hair", detect=False)
    x = translator.square_tensor(result.faces[0].crop)[None]
    for name, label in translator.domain_targets(translator.parse_source("Blond_Hair")):
        with torch.no_grad():
            y, mask = translator.G(x, torch.tensor([label]), return_mask=True)
        expected = np.rint(mask[0, 0].numpy() * 255).astype(int)
        got = np.asarray(result.masks[name]).astype(int)
        assert result.masks[name].mode == "L" and result.masks[name].size == (32, 32)
        assert np.abs(got - expected).max() <= 1, name
        assert result.faces[0].masks[name] is result.masks[name]
    # A model without a mask has none.
    plain = Translator(models["rgb"], device="cpu")
    assert not plain.has_mask
    assert plain.translate_all(crop, source="Blond_Hair", detect=False).masks == {}


def test_photo_mask_has_the_photos_size_and_stays_inside_the_face(models, photo):
    translator = Translator(models["mask"], device="cpu")
    result = next(translator.translate_many([photo], to="Black_Hair"))
    mask = np.asarray(result.masks["Black_Hair"])
    assert result.masks["Black_Hair"].size == result.image.size
    left, top, right, bottom = result.faces[0].frame.square_box().ltrb()
    outside = np.ones_like(mask, dtype=bool)
    outside[max(top, 0):bottom, max(left, 0):right] = False
    assert mask[outside].max() == 0 and mask[~outside].max() > 0


def test_paste_mask_is_the_default_for_a_mask_model_and_refused_without_one(models, photo, tmp_path):
    outs = {}
    for mode in ("mask", "delta", None):
        out = tmp_path / f"{mode}.png"
        result = run(photo, "--to", "Black_Hair", "-m", models["mask"], "-o", out, *(["--paste", mode] if mode else []))
        assert result.exit_code == 0, result.output
        outs[mode] = pixels(out)
    assert np.array_equal(outs[None], outs["mask"])
    assert not np.array_equal(outs["mask"], outs["delta"])
    # A model without a mask keeps its default (masked) and refuses --paste mask.
    assert run(photo, "--to", "Black_Hair", "-m", models["rgb"], "-o", tmp_path / "rgb.png").exit_code == 0
    assert run(photo, "--to", "Black_Hair", "-m", models["rgb"], "--paste", "masked", "-o", tmp_path / "m.png").exit_code == 0
    assert np.array_equal(pixels(tmp_path / "rgb.png"), pixels(tmp_path / "m.png"))
    bad = run(photo, "--to", "Black_Hair", "-m", models["rgb"], "--paste", "mask")
    assert bad.exit_code == 2
    assert "--paste mask" in error_line(bad) and "--g-output mask" in error_line(bad)
    with pytest.raises(Exception, match="--g-output mask"):
        Translator(models["rgb"], device="cpu")(photo, to="Black_Hair", paste="mask")


def test_save_mask_writes_each_outputs_mask_beside_it(models, photo, tmp_path):
    result = run(photo, "--to", "Black_Hair", "-m", models["mask"], "--save-mask")
    assert result.exit_code == 0, result.output
    written = photo.parent / "me.Black_Hair.mask.png"
    api = next(Translator(models["mask"], device="cpu").translate_many([photo], to="Black_Hair"))
    assert np.array_equal(pixels(written), np.asarray(api.masks["Black_Hair"]).astype(int))
    assert Image.open(written).size == Image.open(photo).size
    # One file named with -o: its mask beside it; --all: a mask per target; crops: per face.
    assert run(photo, "--to", "Male", "-m", models["mask"], "--save-mask", "-o", tmp_path / "out.png").exit_code == 0
    assert (tmp_path / "out.png").is_file() and (tmp_path / "out.mask.png").is_file()
    assert run(photo, "--all", "-m", models["mask"], "--save-mask", "-o", tmp_path / "all").exit_code == 0
    outputs = [p for p in (tmp_path / "all").glob("me.*.png") if not p.name.endswith(".mask.png") and p.name != "me.all.png"]
    assert len(outputs) == len(ATTRS)
    for path in outputs:
        assert path.with_name(path.stem + ".mask.png").is_file()
    assert not (tmp_path / "all" / "me.all.mask.png").exists()
    assert run(photo, "--to", "Male", "-m", models["mask"], "--save-mask", "--crop-only", "-o", tmp_path / "c").exit_code == 0
    assert Image.open(tmp_path / "c" / "me.Male.mask.png").size == (32, 32)
    # Masks are earlier outputs: translating the folder again skips them.
    assert looks_like_output(written, ATTRS) and looks_like_output(tmp_path / "out.Male=0.mask.png", ATTRS)
    assert not looks_like_output(tmp_path / "holiday.mask.png", ATTRS)


def test_save_mask_with_a_model_without_mask_is_one_error_line(models, photo):
    result = run(photo, "--to", "Black_Hair", "-m", models["rgb"], "--save-mask")
    assert result.exit_code == 2
    assert "--save-mask" in error_line(result) and "--g-output mask" in error_line(result)
    assert not (photo.parent / "me.Black_Hair.png").exists()


def test_a_black_and_white_photo_stays_black_and_white(models, photo, tmp_path):
    gray_path = tmp_path / "bw.png"
    with Image.open(photo) as image:
        image.convert("L").save(gray_path)
    gray_in = np.asarray(Image.open(gray_path)).astype(int)
    for kind in ("mask", "rgb"):
        translator = Translator(models[kind], device="cpu")
        colour = next(translator.translate_many([photo], to="Blond_Hair")).outputs["Blond_Hair"]
        c = np.asarray(colour).astype(int)
        assert np.abs(c[..., 0] - c[..., 1]).max() > 10, kind  # the model paints colour
        result = next(translator.translate_many([gray_path], to="Blond_Hair"))
        out = np.asarray(result.outputs["Blond_Hair"]).astype(int)
        face_square = np.asarray(result.faces[0].outputs["Blond_Hair"]).astype(int)  # --crop-only, the strip
        assert np.array_equal(face_square[..., 0], face_square[..., 2]), kind
        assert np.array_equal(out[..., 0], out[..., 1]) and np.array_equal(out[..., 1], out[..., 2]), kind
        assert np.abs(out[..., 0] - gray_in).max() > 10, kind  # the face was still translated
        left, top, right, bottom = result.faces[0].frame.square_box().ltrb()
        outside = np.ones_like(gray_in, dtype=bool)
        outside[max(top, 0):bottom, max(left, 0):right] = False
        assert np.array_equal(out[..., 0][outside], gray_in[outside]), kind
        square = next(iter(translator.translate_all(gray_path, source="Blond_Hair", detect=False).outputs.values()))
        s = np.asarray(square).astype(int)
        assert np.array_equal(s[..., 0], s[..., 2]), kind
    # The command line writes the same grey picture.
    assert run(gray_path, "--to", "Blond_Hair", "-m", models["mask"], "-o", tmp_path / "bw.out.png").exit_code == 0
    written = pixels(tmp_path / "bw.out.png")
    assert np.array_equal(written[..., 0], written[..., 1])
