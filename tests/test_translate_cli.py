"""`stargan translate`: inputs, outputs, modes and the errors users meet."""

from __future__ import annotations


import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from stargan_cli import paths
from stargan_cli.checkpoints import Checkpoint, save_checkpoint
from stargan_cli.cli import app
from stargan_cli.image_files import example_image_path
from stargan_cli.models import build_discriminator, build_generator
from stargan_cli.translate import Translator

runner = CliRunner()
ATTRS = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young")
DEFAULT_TARGETS = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male=flip", "Young=flip")  # --all


@pytest.fixture
def ckpt(tmp_path, tiny_config):
    torch.manual_seed(0)
    path = tmp_path / "models" / "tiny.pt"
    G, D = build_generator(tiny_config), build_discriminator(tiny_config)
    save_checkpoint(Checkpoint(tiny_config, G.state_dict(), D.state_dict()), path)
    return path


@pytest.fixture(scope="module")
def portrait() -> Image.Image:
    with Image.open(example_image_path()) as image:
        return image.convert("RGB").resize((256, 256))


@pytest.fixture
def photo(tmp_path, portrait):
    path = tmp_path / "in" / "me.jpg"
    path.parent.mkdir()
    portrait.save(path, quality=95)
    return path


def run(*args):
    return runner.invoke(app, ["translate", *map(str, args)])


def pixels(path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB")).astype(int)


def error_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert lines, result.output
    return lines[0]


def test_default_output_next_to_input_same_size_and_attributes_printed(photo, ckpt):
    result = run(photo, "--to", "Blond_Hair", "--model", ckpt)
    assert result.exit_code == 0, result.output
    out = photo.parent / "me.Blond_Hair.png"
    assert Image.open(out).size == (256, 256)
    assert "1 face found" in result.stdout and "estimated" in result.stdout
    # Only the input and the output are there: no temporary files left behind.
    assert sorted(p.name for p in photo.parent.iterdir()) == ["me.Blond_Hair.png", "me.jpg"]


def test_never_overwrites_without_flag(photo, ckpt):
    out = photo.parent / "me.Young.png"
    out.write_bytes(b"mine")
    result = run(photo, "--to", "Young", "-m", ckpt)
    assert result.exit_code == 1
    assert error_line(result) == f"Error: {out} exists: pass --overwrite to replace it"
    assert out.read_bytes() == b"mine"
    result = run(photo, "--to", "Young", "-m", ckpt, "--overwrite")
    assert result.exit_code == 0 and Image.open(out).size == (256, 256)


def test_cli_equals_api(photo, ckpt, tmp_path):
    result = run(photo, "--to", "Male=0,Blond_Hair", "-m", ckpt, "-o", tmp_path / "cli.png")
    assert result.exit_code == 0, result.output
    api = Translator.from_pretrained(ckpt, device="cpu")(photo, to=["Male=0", "Blond_Hair"])
    assert np.array_equal(pixels(tmp_path / "cli.png"), np.asarray(api).astype(int))
    # Repeated --to means the same as comma-separated.
    result = run(photo, "--to", "Male=0", "--to", "Blond_Hair", "-m", ckpt)
    assert result.exit_code == 0
    assert np.array_equal(pixels(photo.parent / "me.Male=0+Blond_Hair.png"), pixels(tmp_path / "cli.png"))


def test_no_detect_writes_the_model_square_of_the_original_pipeline(tmp_path, ckpt):
    from torchvision import transforms as T

    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 256, (218, 178, 3), dtype=np.uint8))
    src = tmp_path / "aligned.png"
    image.save(src)
    result = run(src, "--no-detect", "--to", "Brown_Hair", "--source-attrs", "Blond_Hair,Male", "-m", ckpt)
    assert result.exit_code == 0, result.output
    x = T.Compose([T.CenterCrop(178), T.Resize(32), T.ToTensor(), T.Normalize((0.5,) * 3, (0.5,) * 3)])(image)
    G = Translator(ckpt, device="cpu").G
    with torch.no_grad():
        y = G(x[None], torch.tensor([[0.0, 0.0, 1.0, 1.0, 0.0]]))[0]
    expected = ((y.clamp(-1, 1) + 1) * 127.5).round().permute(1, 2, 0).numpy().astype(int)
    assert np.array_equal(pixels(tmp_path / "aligned.Brown_Hair.png"), expected)


def test_paste_back_leaves_the_background_alone(photo, ckpt):
    assert run(photo, "--to", "Black_Hair", "-m", ckpt).exit_code == 0
    before, after = pixels(photo), pixels(photo.parent / "me.Black_Hair.png")
    frame = Translator(ckpt, device="cpu").prepare(photo).faces[0].frame
    left, top, right, bottom = frame.square_box().ltrb()
    assert np.array_equal(before[bottom:], after[bottom:]) and np.array_equal(before[:, right:], after[:, right:])
    assert not np.array_equal(before[top:bottom, left:right], after[top:bottom, left:right])


def test_paste_modes_choose_how_the_face_goes_back(photo, ckpt, tmp_path):
    outs = {}
    for mode in ("delta", "masked", "replace"):
        result = run(photo, "--to", "Black_Hair", "-m", ckpt, "--paste", mode, "-o", tmp_path / f"{mode}.png")
        assert result.exit_code == 0, result.output
        outs[mode] = pixels(tmp_path / f"{mode}.png")
    api = Translator(ckpt, device="cpu")(photo, to="Black_Hair", paste="replace")
    assert np.array_equal(outs["replace"], np.asarray(api).astype(int))
    # (masked = delta here: an untrained model changes the whole square a lot; test_align covers masked.)
    assert not np.array_equal(outs["delta"], outs["replace"])
    # The default is masked (chosen by benchmarks/paste_detail.py).
    assert run(photo, "--to", "Black_Hair", "-m", ckpt, "-o", tmp_path / "default.png").exit_code == 0
    assert np.array_equal(pixels(tmp_path / "default.png"), outs["masked"])
    bad = run(photo, "--to", "Black_Hair", "-m", ckpt, "--paste", "blend")
    assert bad.exit_code == 2
    assert error_line(bad) == "Error: --paste must be one of delta, masked, mask, replace, not 'blend'"


def test_group_photo_crop_only_and_face_choice(tmp_path, portrait, ckpt):
    group = Image.new("RGB", (512, 256), (90, 90, 90))
    group.paste(portrait, (0, 0))
    group.paste(portrait, (256, 0))
    src = tmp_path / "group.png"
    group.save(src)
    result = run(src, "--to", "Male", "-m", ckpt, "--crop-only")
    assert result.exit_code == 0, result.output
    assert "2 faces found" in result.stdout
    assert Image.open(tmp_path / "group.face1.Male.png").size == (32, 32)
    assert Image.open(tmp_path / "group.face2.Male.png").size == (32, 32)
    result = run(src, "--to", "Male", "-m", ckpt, "--face", "2", "-o", tmp_path / "right.png")
    assert result.exit_code == 0, result.output
    changed = np.abs(pixels(tmp_path / "right.png") - pixels(src)).sum(2) > 0
    assert not changed[:, :200].any() and changed[:, 256:].any()
    result = run(src, "--to", "Male", "-m", ckpt, "--face", "3")
    assert result.exit_code == 1 and "--face 3 does not exist" in error_line(result)


def test_example_with_all_writes_each_target_and_a_strip(tmp_path, ckpt, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("--example", "--all", "-m", ckpt)
    assert result.exit_code == 0, result.output
    for name in DEFAULT_TARGETS:
        assert Image.open(tmp_path / f"astronaut.{name}.png").size == (512, 512)
    width, height = Image.open(tmp_path / "astronaut.all.png").size
    assert width > 256 * 6 and 256 < height < 256 + 80  # readable cells under a row of labels


def test_folders_recursive_globs_and_output_folder(tmp_path, portrait, ckpt):
    (tmp_path / "photos" / "trip").mkdir(parents=True)
    portrait.save(tmp_path / "photos" / "a.jpg")
    portrait.save(tmp_path / "photos" / "b.webp")
    portrait.save(tmp_path / "photos" / "trip" / "c.bmp")
    out = tmp_path / "out"
    result = run(tmp_path / "photos", "--to", "Young", "-m", ckpt, "-o", out)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["a.Young.png", "b.Young.png"]
    result = run(tmp_path / "photos", "--recursive", "--to", "Young", "-m", ckpt, "-o", out, "--batch-size", "2")
    assert result.exit_code == 1  # a and b exist already...
    assert (out / "trip" / "c.Young.png").is_file()  # ...but c was still written, in its sub-folder
    assert "2 of 3 inputs failed" in result.stderr
    # Outputs next to the inputs are not taken as inputs on the next run.
    assert run(tmp_path / "photos", "--to", "Young", "-m", ckpt).exit_code == 0
    result = run(tmp_path / "photos", "--to", "Young", "-m", ckpt, "--overwrite")
    assert result.exit_code == 0 and "a.Young.Young" not in result.stdout
    assert not list((tmp_path / "photos").glob("*.Young.Young.png"))
    result = run(str(tmp_path / "photos" / "*.jpg"), "--to", "Male", "-m", ckpt, "-o", tmp_path / "globbed")
    assert result.exit_code == 0 and [p.name for p in (tmp_path / "globbed").iterdir()] == ["a.Male.png"]


def test_output_file_with_several_inputs_is_refused(tmp_path, photo, ckpt):
    other = photo.parent / "two.png"
    Image.open(photo).save(other)
    result = run(photo, other, "--to", "Male", "-m", ckpt, "-o", tmp_path / "one.png")
    assert result.exit_code == 2 and "names one file, but 2 images" in error_line(result)


def test_bad_inputs_are_reported_and_the_rest_processed(tmp_path, photo, ckpt):
    folder = photo.parent
    (folder / "notes.jpg").write_text("not an image")
    truncated = folder / "cut.jpg"
    truncated.write_bytes(photo.read_bytes()[:2000])
    bomb = folder / "bomb.png"
    Image.new("1", (10000, 9000)).save(bomb)  # tiny file, 90 megapixels
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run(photo, folder / "notes.jpg", truncated, bomb, empty, tmp_path / "missing.jpg", "--to", "Male", "-m", ckpt)
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    text = "\n".join(errors)
    assert "notes.jpg is not an image" in text
    assert "cut.jpg could not be read" in text
    assert "bomb.png is too large to be a photo" in text
    assert "empty holds no images" in text
    assert "missing.jpg does not exist" in text
    assert len(errors) == 5
    assert "5 of 6 inputs failed; 1 translated" in result.stderr
    assert (folder / "me.Male.png").is_file()


@pytest.mark.parametrize(
    "args,message,code",
    [  # 2: a mistake in the command line; 1: something the command needs is not there
        (["--to", "Blonde"], "unknown attribute 'Blonde': did you mean Blond_Hair?", 2),
        (["--to", "Eyeglasses"], "this model was not trained on Eyeglasses: it knows Black_Hair, Blond_Hair", 2),
        ([], "no target given: use --to ATTR", 2),
        (["--all", "--to", "Male"], "--all makes one output per attribute", 2),
        (["--to", "Male", "--no-detect", "--crop-only"], "--crop-only needs face detection", 2),
        (["--to", "Male", "--device", "cuda:7"], "device 'cuda:7' asked for", 1),
        (["--to", "Male", "-o", "x.tiff"], ".tiff is not an image format", 2),
    ],
)
def test_user_mistakes_give_one_error_line(photo, ckpt, args, message, code):
    result = run(photo, "-m", ckpt, *args)
    assert result.exit_code == code, result.output
    assert message in error_line(result)
    assert "Traceback" not in result.output


def test_no_face_suggests_no_detect(tmp_path, ckpt):
    src = tmp_path / "wall.png"
    Image.new("RGB", (200, 150), (200, 180, 160)).save(src)
    result = run(src, "--to", "Male", "-m", ckpt)
    assert result.exit_code == 1
    assert error_line(result) == f"Error: no face found in {src}: if it is already a face crop, pass --no-detect"
    result = run(src, "--to", "Male", "-m", ckpt, "--no-detect")
    assert result.exit_code == 0 and Image.open(tmp_path / "wall.Male.png").size == (32, 32)


def test_model_without_discriminator_needs_source_attrs(tmp_path, photo, tiny_config):
    path = tmp_path / "g_only.pt"
    save_checkpoint(Checkpoint(tiny_config, build_generator(tiny_config).state_dict(), None), path)
    result = run(photo, "--to", "Male", "-m", path)
    assert result.exit_code == 1 and "pass --source-attrs" not in error_line(result)
    assert "state them with --source-attrs" in error_line(result)
    result = run(photo, "--to", "Male", "-m", path, "--source-attrs", "Brown_Hair,Young")
    assert result.exit_code == 0, result.output
    assert "given Brown_Hair, Young" in result.stdout


def test_installed_model_name_offline_official_and_bundled_default(photo, ckpt):
    (paths.models_dir() / "mine.pt").write_bytes(ckpt.read_bytes())
    assert run(photo, "--to", "Male", "--model", "mine").exit_code == 0
    result = run(photo, "--to", "Male", "-m", "stargan-celeba-128", "--overwrite")  # not installed, STARGAN_OFFLINE=1
    assert result.exit_code == 1 and "stargan-celeba-128 is not installed" in error_line(result)
    assert "or pass a model you trained with -m RUN/final.pt" in error_line(result)
    assert run(photo, "--to", "Male", "--overwrite").exit_code == 0  # the default model ships with the package


def test_exif_rotated_rgba_and_grayscale_inputs(tmp_path, portrait, ckpt):
    exif = Image.Exif()
    exif[0x0112] = 8  # "rotate 90 CCW to display"
    rotated = tmp_path / "phone.jpg"
    portrait.crop((0, 0, 256, 200)).transpose(Image.Transpose.ROTATE_270).save(rotated, exif=exif.tobytes(), quality=95)
    rgba = tmp_path / "cutout.png"
    portrait.convert("RGBA").save(rgba)
    gray = tmp_path / "bw.png"
    portrait.convert("L").save(gray)
    result = run(rotated, rgba, gray, "--to", "Young", "-m", ckpt)
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "phone.Young.png").size == (256, 200)  # upright, as displayed
    assert Image.open(tmp_path / "cutout.Young.png").mode == "RGB"
    assert Image.open(tmp_path / "bw.Young.png").size == (256, 256)


def test_output_file_format_follows_suffix(photo, ckpt, tmp_path):
    result = run(photo, "--to", "Male", "-m", ckpt, "-o", tmp_path / "x.jpg")
    assert result.exit_code == 0
    assert Image.open(tmp_path / "x.jpg").format == "JPEG"
    result = run(photo, "--all", "-m", ckpt, "-o", tmp_path / "set.png")
    assert result.exit_code == 0
    assert {p.name for p in tmp_path.glob("set.*.png")} == {f"set.{a}.png" for a in (*DEFAULT_TARGETS, "all")}


def test_help_mentions_face_numbering():
    result = runner.invoke(app, ["translate", "--help"])
    assert result.exit_code == 0 and "from the left" in result.output




def test_same_name_inputs_do_not_overwrite_each_other(tmp_path, portrait, ckpt):
    portrait.save(tmp_path / "x.jpg")
    portrait.save(tmp_path / "x.png")
    result = run(tmp_path / "x.jpg", tmp_path / "x.png", "--to", "Male", "-m", ckpt, "--device", "cpu")
    assert result.exit_code == 1
    assert "would write" in error_line(result) and "already written for" in error_line(result)
    assert (tmp_path / "x.Male.png").is_file()


def test_output_that_is_an_existing_plain_file_is_refused(tmp_path, photo, ckpt):
    existing = tmp_path / "notes"
    existing.write_text("keep me")
    result = run(photo, "--to", "Male", "-m", ckpt, "-o", existing)
    assert result.exit_code == 1
    assert "-o " + str(existing) + " is an existing file, not a folder" in error_line(result)
    assert existing.read_text() == "keep me" and "Traceback" not in result.output


def test_out_of_range_target_value_is_one_error_line(photo, ckpt):
    result = run(photo, "--to", "Male=2", "-m", ckpt)
    assert result.exit_code == 2 and "values go from 0 (off) to 1 (on)" in error_line(result)
    assert sorted(p.name for p in photo.parent.iterdir()) == ["me.jpg"]


def test_format_size_limit_on_write_is_an_error_line_not_a_traceback(tmp_path, photo, ckpt, monkeypatch):
    from stargan_cli import image_files

    monkeypatch.setitem(image_files._MAX_SIDE, "WEBP", 64)  # the 256 px photo is now too large
    out = tmp_path / "out"
    result = run(photo, "--to", "Male", "-m", ckpt, "-o", out / "me.webp")
    assert result.exit_code == 1, result.output
    assert "WEBP images are at most 64 pixels" in error_line(result)
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    assert not out.exists() or list(out.iterdir()) == []  # no temp file left


def test_folder_of_only_earlier_outputs_of_a_custom_model_is_an_error(tmp_path, portrait):
    from stargan_cli.models import ModelConfig

    config = ModelConfig(
        attributes=("cats", "dogs"), image_size=32, g_conv_dim=8, g_repeat=1, d_conv_dim=8, d_repeat=2,
        label_mode="single",
    )
    path = tmp_path / "pets.pt"
    save_checkpoint(Checkpoint(config, build_generator(config).state_dict(), build_discriminator(config).state_dict()), path)
    folder = tmp_path / "done"
    folder.mkdir()
    portrait.save(folder / "rex.dogs.png")
    result = run(folder, "--to", "dogs", "-m", path)
    assert result.exit_code == 1, result.output
    assert "nothing to translate" in error_line(result)


def test_report_lines_on_a_terminal_start_their_own_line_above_the_bar(photo, ckpt, monkeypatch):
    """stdout and the bar's stderr on one terminal: the per-file line is not glued to the bar."""
    import io

    from rich.console import Console

    from stargan_cli.cli import translate as translate_cli

    screen = io.StringIO()
    terminal = dict(file=screen, force_terminal=True, width=100)
    monkeypatch.setattr(translate_cli, "console", Console(**terminal))
    monkeypatch.setattr(translate_cli, "err_console", Console(stderr=True, **terminal))
    result = run(photo, "--to", "Young", "-m", ckpt)
    assert result.exit_code == 0, result.output
    raw = screen.getvalue()
    assert "Translating" in raw  # the live bar was drawn
    line = raw.index(f"{photo}: 1 face found")
    assert raw[:line].endswith(("\n", "\x1b[2K")), repr(raw[line - 40:line])


def test_all_names_flipped_targets_as_flips_never_as_turned_on(photo, ckpt, tmp_path):
    """A face that is male: --all's flipped Male is NAME.Male=flip.png (the pixels of --to
    Male=0), never NAME.Male.png, which is --to Male's name (Male turned on)."""
    out = tmp_path / "all"
    result = run(photo, "--all", "--source-attrs", "Male", "-m", ckpt, "-o", out)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(f"me.{t}.png" for t in (*DEFAULT_TARGETS, "all"))
    result = run(photo, "--to", "Male=0", "--source-attrs", "Male", "-m", ckpt, "-o", tmp_path / "off.png")
    assert result.exit_code == 0, result.output
    assert np.array_equal(pixels(out / "me.Male=flip.png"), pixels(tmp_path / "off.png"))
    # and translating that folder again skips these outputs as ours
    again = run(out, "--to", "Young", "-m", ckpt, "-o", tmp_path / "again")
    assert again.exit_code == 1 and not (tmp_path / "again").exists()


def test_one_name_for_a_flip_in_files_strip_and_grid(ckpt):
    from stargan_cli.attributes import flipped_name
    from stargan_cli.grid import default_columns

    translator = Translator(ckpt, device="cpu")
    names = [name for name, _ in translator.domain_targets([0, 1, 0, 1, 0])]
    assert names == [*ATTRS[:3], flipped_name("Male"), flipped_name("Young")] == list(DEFAULT_TARGETS)
    assert [c.name for c in default_columns([translator.config])] == names


def test_a_target_the_face_already_has_is_said_and_points_to_source_attrs(photo, ckpt, tmp_path):
    result = run(photo, "--to", "Male", "--source-attrs", "Male,Young", "-m", ckpt, "-o", tmp_path / "a.png")
    assert result.exit_code == 0, result.output
    assert f"{photo}: nothing changes, the face has Male already" in result.stdout
    assert "--source-attrs" in result.stdout.split("nothing changes", 1)[1]
    changed = run(photo, "--to", "Male=0", "--source-attrs", "Male,Young", "-m", ckpt, "-o", tmp_path / "b.png")
    assert changed.exit_code == 0 and "nothing changes" not in changed.stdout


def test_a_face_estimated_to_have_no_attribute_says_so_in_words(photo, ckpt, monkeypatch):
    monkeypatch.setattr(Translator, "label_from_scores", lambda self, scores: [0.0] * len(scores))
    result = run(photo, "--to", "Male", "-m", ckpt)
    assert result.exit_code == 0, result.output
    assert "estimated to have none of the 5 attributes" in result.stdout and "estimated none" not in result.stdout


def test_the_model_lines_read_at_80_columns(photo, ckpt, monkeypatch):
    import io

    from rich.console import Console

    from stargan_cli.cli import translate as translate_cli

    screen = io.StringIO()
    monkeypatch.setattr(translate_cli, "console", Console(file=screen, width=80))
    result = run(photo, "--to", "Young", "-m", ckpt)
    assert result.exit_code == 0, result.output
    lines = screen.getvalue().splitlines()
    assert lines[0] == f"Model: tiny ({Translator(ckpt, device='cpu').config.describe()}) on cpu"
    assert lines[1] == "  attributes: " + ", ".join(ATTRS)


def test_a_long_attribute_list_wraps_between_names():
    import io
    from types import SimpleNamespace

    from rich.console import Console

    from stargan_cli.attributes import CELEBA_ATTRIBUTES
    from stargan_cli.cli.common import model_lines

    config = SimpleNamespace(describe=lambda: "128px concat wgan-gp 40 attrs")
    translator = SimpleNamespace(config=config, device="cpu", attributes=CELEBA_ATTRIBUTES)
    screen = io.StringIO()
    Console(file=screen, width=80).print(model_lines("celeba-40", translator), highlight=False)
    lines = screen.getvalue().splitlines()
    assert max(len(line) for line in lines) <= 80 and len(lines) > 3
    words = " ".join(lines).replace(",", " ").split()
    assert all(name in words for name in CELEBA_ATTRIBUTES)  # none cut in two
