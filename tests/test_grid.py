"""`stargan grid`: sheet layout, labels, blank cells, several models, dataset inputs, animations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from stargan_cli import grid as lib
from stargan_cli.attributes import CELEBA_ATTRIBUTES, single_domain_targets
from stargan_cli.checkpoints import Checkpoint, save_checkpoint
from stargan_cli.model_store import display_names
from stargan_cli.cli import app
from stargan_cli.errors import StarganError
from stargan_cli.images import crop_resize, open_image
from stargan_cli.models import ModelConfig, build_discriminator, build_generator
from stargan_cli.translate import Translator

runner = CliRunner()
FIVE = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young")
WHITE = (255, 255, 255)


def _save_model(path: Path, config: ModelConfig, seed: int, training: dict | None = None, step: int = 0) -> Path:
    torch.manual_seed(seed)
    G, D = build_generator(config), build_discriminator(config)
    # Larger label weights than the default init, so different labels give visibly different outputs.
    with torch.no_grad():
        first = G.main[0].weight if hasattr(G, "main") else next(G.parameters())
        first[:, 3:] *= 8
    save_checkpoint(Checkpoint(config=config, G=G.state_dict(), D=D.state_dict(), step=step, training=training), path)
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("models")
    small = dict(g_conv_dim=8, g_repeat=1, d_conv_dim=8, d_repeat=2)
    return {
        "a": _save_model(folder / "five.pt", ModelConfig(attributes=FIVE, image_size=32, **small), 1),
        "b": _save_model(folder / "two.pt", ModelConfig(attributes=("Male", "Smiling"), image_size=32, **small), 2),
        "c": _save_model(
            folder / "small.pt",
            ModelConfig(attributes=FIVE, image_size=16, norm="lookup", loss="hinge", **small),
            3,
            # what the training loop stores: the TrainConfig dict beside the optimizer states
            training={"train_config": {"batch_size": 8, "g_lr": 1e-4, "d_lr": 5e-4, "n_critic": 5, "precision": None}},
            step=20000,
        ),
    }


def _photo(path: Path, seed: int, size=(178, 218)) -> Path:
    rng = np.random.default_rng(seed)
    h, w = size[1], size[0]
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([(xx * (1 + c) + yy * (3 - c)) % 256 for c in range(3)], axis=2).astype(np.float64)
    noise = rng.integers(0, 60, size=(h, w, 3))
    Image.fromarray(np.clip(base * 0.7 + noise, 0, 255).astype(np.uint8)).save(path)
    return path


@pytest.fixture
def photos(tmp_path) -> list[Path]:
    folder = tmp_path / "in"
    folder.mkdir()
    return [_photo(folder / "img1.png", 1), _photo(folder / "img2.png", 2)]


def _run(args: list[str]):
    result = runner.invoke(app, ["grid", *[str(a) for a in args]])
    return result


def _ok(args: list[str]) -> None:
    result = _run(args)
    assert result.exit_code == 0, result.output


def _cell(sheet: np.ndarray, row: int, col: int, size: int, pad: int = 0, left: int = 0, top: int = 0) -> np.ndarray:
    y, x = top + pad + row * (size + pad), left + pad + col * (size + pad)
    return sheet[y : y + size, x : x + size]


def _is_blank(cell: np.ndarray, background=WHITE) -> bool:
    """Background with a grey diagonal cross: corners and centre-adjacent diagonal differ."""
    bg = np.array(background, dtype=np.uint8)
    s = cell.shape[0]
    is_bg = (cell == bg).all(axis=2)
    diagonal = [cell[i, i] for i in range(s // 8 + 1, s - s // 8 - 1)]
    grey = [p for p in diagonal if (p != bg).any() and abs(int(p[0]) - int(p[1])) < 8]
    return is_bg.mean() > 0.75 and len(grey) >= len(diagonal) // 2


# ---- sheets through the CLI ----------------------------------------------------------------


def test_one_model_sheet_size_order_and_pixels(models, photos, tmp_path):
    out = tmp_path / "sheet.png"
    _ok(["--cell-size", 32, *photos, "-m", models["a"], "--no-detect", "--no-labels", "--padding", 0,
         "--source-attrs", "Black_Hair,Young", "-o", out])
    sheet = np.asarray(Image.open(out).convert("RGB"))
    assert sheet.shape == (2 * 32, 6 * 32, 3)  # 2 images, input + 5 targets
    translator = Translator(models["a"], device="cpu")
    for row, photo in enumerate(photos):
        expected = np.asarray(crop_resize(open_image(photo), 32))
        assert np.array_equal(_cell(sheet, row, 0, 32), expected)  # the preprocessed input, exact
        result = translator.translate_all(photo, source="Black_Hair,Young", detect=False)
        assert result.targets == [*FIVE[:3], "Male=flip", "Young=flip"]
        for col, name in enumerate(result.targets, start=1):
            diff = np.abs(_cell(sheet, row, col, 32).astype(int) - np.asarray(result.outputs[name]).astype(int))
            assert diff.max() <= 1, (row, name)
    # deterministic: the same command gives the same pixels
    again = tmp_path / "again.png"
    _ok(["--cell-size", 32, *photos, "-m", models["a"], "--no-detect", "--no-labels", "--padding", 0,
         "--source-attrs", "Black_Hair,Young", "-o", again])
    assert np.array_equal(np.asarray(Image.open(again)), np.asarray(Image.open(out)))


def test_padding_background_and_jpeg(models, photos, tmp_path):
    out = tmp_path / "sheet.jpg"
    _ok(["--cell-size", 32, *photos, "-m", models["b"], "--no-detect", "--no-labels", "--padding", 3, "--background", "#102030",
         "--source-attrs", "none", "-o", out])
    image = Image.open(out)
    assert image.format == "JPEG"
    assert image.size == (3 + 3 * (32 + 3), 3 + 2 * (32 + 3))
    corner = np.asarray(image.convert("RGB"))[0, 0].astype(int)
    assert np.abs(corner - np.array([0x10, 0x20, 0x30])).max() <= 6


def test_three_models_rows_grouped_union_columns_blank_cells(models, photos, tmp_path):
    out = tmp_path / "three.png"
    _ok(["--cell-size", 32, *photos, "-m", models["a"], "-m", models["b"], "-m", models["c"], "--no-detect", "--no-labels",
         "--padding", 0, "--source-attrs", "Brown_Hair,Male", "-o", out])
    sheet = np.asarray(Image.open(out).convert("RGB"))
    # columns: input, Black_Hair, Blond_Hair, Brown_Hair, Male=flip, Young=flip, Smiling=flip
    # rows: img1/a, img1/b, img1/c, img2/a, img2/b, img2/c; cells at the largest size (32)
    assert sheet.shape == (6 * 32, 7 * 32, 3)
    for i, photo in enumerate(photos):
        image = open_image(photo)
        a, b, c = (3 * i + k for k in range(3))
        assert np.array_equal(_cell(sheet, a, 0, 32), np.asarray(crop_resize(image, 32)))
        assert np.array_equal(_cell(sheet, b, 0, 32), np.asarray(crop_resize(image, 32)))
        upscaled = lib.fit_cell(crop_resize(image, 16), 32)  # the 16 px model's input, resized
        assert np.array_equal(_cell(sheet, c, 0, 32), np.asarray(upscaled))
        for col in (1, 2, 3, 5):  # model b knows no hair colour, no Young
            assert _is_blank(_cell(sheet, b, col, 32)), (b, col)
        assert not _is_blank(_cell(sheet, b, 4, 32)) and not _is_blank(_cell(sheet, b, 6, 32))
        for row in (a, c):  # models a and c know no Smiling
            assert _is_blank(_cell(sheet, row, 6, 32))
            for col in range(1, 6):
                assert not _is_blank(_cell(sheet, row, col, 32))
    # with padding, groups of rows (one per input) are separated by one more padding
    padded = tmp_path / "padded.png"
    _ok(["--cell-size", 32, *photos, "-m", models["a"], "-m", models["b"], "--no-detect", "--no-labels", "--padding", 2,
         "--cell-size", 24, "--source-attrs", "Male", "-o", padded])
    assert Image.open(padded).size == (2 + 7 * 26, 2 + 4 * 26 + 2)


def test_explicit_targets_and_unsupported_columns(models, photos, tmp_path):
    out = tmp_path / "to.png"
    _ok(["--cell-size", 32, photos[0], "-m", models["a"], "-m", models["b"], "--to", "Smiling", "--to", "Blond_Hair+Male=0",
         "--no-detect", "--no-labels", "--padding", 0, "--source-attrs", "none", "-o", out])
    sheet = np.asarray(Image.open(out).convert("RGB"))
    assert sheet.shape == (2 * 32, 3 * 32, 3)
    assert _is_blank(_cell(sheet, 0, 1, 32)) and not _is_blank(_cell(sheet, 0, 2, 32))  # a: no Smiling
    assert not _is_blank(_cell(sheet, 1, 1, 32)) and _is_blank(_cell(sheet, 1, 2, 32))  # b: no Blond_Hair
    expected = Translator(models["b"], device="cpu")(photos[0], to=["Smiling"], source="none", detect=False)
    assert np.abs(_cell(sheet, 1, 1, 32).astype(int) - np.asarray(expected).astype(int)).max() <= 1


def test_labels_add_margins_and_draw_text(models, photos, tmp_path):
    bare, labelled = tmp_path / "bare.png", tmp_path / "labelled.png"
    common = [*photos, "-m", models["a"], "-m", models["c"], "--no-detect", "--padding", 2,
              "--source-attrs", "Black_Hair", "--cell-size", 32]
    _ok([*common, "--no-labels", "-o", bare])
    _ok([*common, "-o", labelled])
    b = np.asarray(Image.open(bare).convert("RGB"))
    l = np.asarray(Image.open(labelled).convert("RGB"))
    assert l.shape[0] > b.shape[0] and l.shape[1] > b.shape[1]
    top, left = l.shape[0] - b.shape[0], l.shape[1] - b.shape[1]
    # the cells are the same, shifted by the margins
    assert np.array_equal(l[top:, left:], b)
    assert (l[:top] != 255).any(), "no header text drawn"
    assert (l[top:, :left] != 255).any(), "no row label drawn"
    # the layout the sheet was drawn with says the same
    style = lib.SheetStyle(cell_size=32, padding=2)
    layout = lib.plan_layout(
        4, 6, style, ["input", *FIVE],
        ["five\n16px", "five\n16px", "small\n32px", "small\n32px"], group_size=2,
    )
    assert layout.top > 0 and layout.left > 0


def test_row_labels_show_model_settings(models):
    from stargan_cli.loading import load_checkpoint

    checkpoints = [load_checkpoint(models[k]) for k in ("a", "c")]
    labels = lib.model_labels(["five", "small"], [lib.model_settings(c) for c in checkpoints])
    assert labels[1].startswith("small\n")
    assert "bs=8" in labels[1] and "lr_d=5e-4" in labels[1] and "hinge" in labels[1] and "lookup" in labels[1]
    assert "16px" in labels[1] and "step=20k" in labels[1]
    assert labels[0] == "five\n32px, concat, wgan-gp"  # only what differs; a has no training record
    single = lib.model_labels(["five"], [lib.model_settings(checkpoints[0])])[0]
    assert single == "five\n32px, concat, wgan-gp, 5 attrs"
    # a single model's label is the sheet's title: its settings stay apart
    title = lib.model_labels(["small"], [lib.model_settings(checkpoints[1])])[0].replace("\n", ": ", 1)
    assert title.startswith("small: 16px, lookup, hinge, 5 attrs, bs=8, ") and title.endswith(", step=20k")
    # A generator variant is named (the paper's layout is not), and so is the average's decay.
    from dataclasses import replace as replaced

    variant = replaced(checkpoints[0], config=replaced(checkpoints[0].config, g_output="mask", upsample="resize"),
                       meta={"train": {"batch_size": 8, "g_ema": 0.999}})
    both = lib.model_labels(["five", "masked"], [lib.model_settings(c) for c in (checkpoints[0], variant)])
    assert both[1].startswith("masked\n") and "mask, resize" in both[1] and "ema=0.999" in both[1]
    assert "mask" not in both[0] and "rgb" not in both[0] and "transposed" not in both[0]
    specs = ["stargan-celeba-128", "runs/x/final.pt", "runs/y/checkpoints/000100.pt", "a/model.pt", "b/model.pt"]
    assert display_names(specs) == ["stargan-celeba-128", "x", "y@100", "a/model", "b/model"]
    assert display_names(["runs/x/final.pt", "runs/x/final.pt"]) == ["x", "x #2"]


def test_face_detection_inputs_use_the_translator_crop(models, tmp_path):
    from stargan_cli.image_files import example_image_path

    photo = example_image_path()
    out = tmp_path / "face.png"
    _ok(["--cell-size", 32, photo, "-m", models["a"], "--no-labels", "--padding", 0, "-o", out])  # sources estimated by D
    sheet = np.asarray(Image.open(out).convert("RGB"))
    translator = Translator(models["a"], device="cpu")
    prepared = translator.prepare(photo, True, None)
    assert sheet.shape == (len(prepared.faces) * 32, 6 * 32, 3)
    assert np.array_equal(_cell(sheet, 0, 0, 32), np.asarray(prepared.faces[0].crop))


def test_refuses_to_overwrite_and_bad_arguments(models, photos, tmp_path):
    out = tmp_path / "sheet.png"
    out.write_bytes(b"keep")
    result = _run([photos[0], "-m", models["a"], "--no-detect", "--source-attrs", "none", "-o", out])
    assert result.exit_code == 1 and "--overwrite" in result.output and out.read_bytes() == b"keep"
    _ok([photos[0], "-m", models["a"], "--no-detect", "--source-attrs", "none", "-o", out, "--overwrite"])
    assert Image.open(out).format == "PNG"
    assert _run(["-m", models["a"], "-o", tmp_path / "x.png"]).exit_code == 2
    bad = _run([photos[0], "-m", models["a"], "--no-detect", "--to", "Blond_Hiar", "-o", tmp_path / "y.png"])
    assert bad.exit_code == 2 and "Blond_Hair" in bad.output
    assert _run([photos[0], "-m", models["a"], "-o", tmp_path / "z.gif"]).exit_code == 2
    assert not (tmp_path / "y.png").exists()


# ---- dataset inputs ----------------------------------------------------------------------------


def _make_celeba(root: Path, n: int = 30) -> tuple[list[str], np.ndarray]:
    images = root / "img_align_celeba"
    images.mkdir(parents=True)
    rng = np.random.default_rng(0)
    values = rng.integers(0, 2, size=(n, len(CELEBA_ATTRIBUTES)))
    files = [f"{i + 1:06d}.jpg" for i in range(n)]
    for i, name in enumerate(files):
        _photo(images / name, 100 + i)
    rows = [" ".join([f, *("1" if v else "-1" for v in row)]) for f, row in zip(files, values)]
    (root / "list_attr_celeba.txt").write_text("\n".join([str(n), " ".join(CELEBA_ATTRIBUTES), *rows]) + "\n")
    # the last 20 images are the test set
    (root / "list_eval_partition.txt").write_text("\n".join(f"{f} {2 if i >= 10 else 0}" for i, f in enumerate(files)))
    return files, values


def test_dataset_inputs_are_seeded_and_carry_file_labels(models, tmp_path):
    root = tmp_path / "celeba"
    files, values = _make_celeba(root)
    grid_models = lib.load_models([str(models["a"]), str(models["b"]), str(models["c"])], "cpu")
    first = lib.dataset_inputs(grid_models, root=root, n=4, seed=1)
    again = lib.dataset_inputs(grid_models, root=root, n=4, seed=1)
    other = lib.dataset_inputs(grid_models, root=root, n=4, seed=2)
    names = [i.name for i in first]
    assert names == [i.name for i in again] and len(set(names)) == 4
    assert names != [i.name for i in other]
    assert all(files.index(name) >= 10 for name in names)  # held-out images only
    for item, same in zip(first, again):
        assert all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(item.crops, same.crops))
        row = values[files.index(item.name)]
        for m, model in enumerate(grid_models):
            expected = [float(row[CELEBA_ATTRIBUTES.index(a)]) for a in model.translator.attributes]
            assert item.sources[m] == expected
        image = open_image(root / "img_align_celeba" / item.name)
        assert np.array_equal(np.asarray(item.crops[0]), np.asarray(crop_resize(image, 32)))
        assert np.array_equal(np.asarray(item.crops[2]), np.asarray(crop_resize(image, 16)))
    out = tmp_path / "data.png"
    _ok(["--cell-size", 32, "--dataset", "celeba", "--data", root, "--n", 3, "--seed", 5, "-m", models["a"], "-m", models["b"],
         "--no-labels", "--padding", 0, "-o", out])
    assert Image.open(out).size == (7 * 32, 3 * 2 * 32)


# ---- animations ----------------------------------------------------------------------------------


def test_animation_schedule_frame_counts():
    for mode in ("back", "chain"):
        for targets in (1, 3):
            for frames in (1, 4):
                schedule = lib.animation_schedule(targets, frames, mode)
                assert len(schedule) == lib.frame_count(targets, frames, mode)
    assert lib.frame_count(3, 8, "back") == 48 and lib.frame_count(3, 8, "chain") == 32
    back = lib.animation_schedule(2, 4, "back")
    assert (back[0].start, back[0].end, back[0].t, back[0].hold) == (-1, 0, 0.0, True)
    assert [s.t for s in back[:4]] == [0, 0.25, 0.5, 0.75]
    assert (back[4].start, back[4].end, back[4].hold) == (0, -1, True)  # the target, reached
    chain = lib.animation_schedule(2, 2, "chain")
    assert [(s.start, s.end) for s in chain] == [(-1, 0), (-1, 0), (0, 1), (0, 1), (1, -1), (1, -1)]
    assert lib.interpolate([0, 1], [1, 0], 0.25) == [0.25, 0.75]


def test_gif_and_webp_frames_and_size(models, photos, tmp_path):
    out = tmp_path / "anim.gif"
    # model b: 2 targets (Male flipped, Smiling flipped); back mode: 2 * 3 * 2 frames
    _ok(["--cell-size", 32, photos[0], "-m", models["b"], "--gif", "--frames", 3, "--no-detect", "--no-labels",
         "--source-attrs", "none", "-o", out])
    with Image.open(out) as gif:
        assert gif.format == "GIF" and gif.size == (32, 32)
        assert gif.n_frames == 12
        assert gif.info.get("loop") == 0
    webp = tmp_path / "anim.webp"
    _ok([photos[0], "-m", models["a"], "--gif", "--frames", 2, "--gif-mode", "chain", "--no-detect",
         "--cell-size", 48, "--source-attrs", "none", "-o", webp])  # with a caption strip
    with Image.open(webp) as anim:
        assert anim.format == "WEBP" and anim.n_frames == 2 * (5 + 1)
        assert anim.size[0] == 48 and anim.size[1] > 48


def test_animation_frames_follow_the_labels(models, photos, tmp_path):
    grid_models = lib.load_models([str(models["b"])], "cpu")
    inputs, problems = lib.file_inputs(grid_models, photos[:1], detect=False, source="Male")
    assert not problems and inputs[0].sources == [[1.0, 0.0]]
    columns = lib.default_columns([grid_models[0].translator.config])
    frames = lib.animation_frames(grid_models[0], inputs[0], 0, columns, frames=2, mode="back")
    assert len(frames) == 8 and [h for _, h in frames] == [True, False] * 4
    translator = grid_models[0].translator
    # frame 2 is "Male=flip" reached: the same as translating to Male=0
    reached = translator(photos[0], to=["Male=0"], source="Male", detect=False)
    assert np.abs(np.asarray(frames[2][0]).astype(int) - np.asarray(reached).astype(int)).max() <= 1
    # frame 1 is half way: different from both ends
    assert not np.array_equal(np.asarray(frames[1][0]), np.asarray(frames[0][0]))
    assert not np.array_equal(np.asarray(frames[1][0]), np.asarray(frames[2][0]))


def test_animation_of_a_single_domain_model_starts_at_the_face_own_domain(photos, tmp_path):
    config = ModelConfig(attributes=("happy", "sad"), image_size=32, label_mode="single",
                         g_conv_dim=8, g_repeat=1, d_conv_dim=8, d_repeat=2)
    grid_models = lib.load_models([str(_save_model(tmp_path / "single.pt", config, 4))], "cpu")
    inputs, problems = lib.file_inputs(grid_models, photos[:1], detect=False, source="sad")
    assert not problems and inputs[0].sources == [[0.0, 1.0]]
    columns = lib.default_columns([config])
    frames = lib.animation_frames(grid_models[0], inputs[0], 0, columns, frames=2, mode="back")
    assert len(frames) == 8
    own = grid_models[0].translator(photos[0], to="sad", source="sad", detect=False)
    assert np.abs(np.asarray(frames[0][0]).astype(int) - np.asarray(own).astype(int)).max() <= 1


def test_several_animations_are_named_per_input_and_model(models, photos, tmp_path):
    out = tmp_path / "a.gif"
    _ok([*photos, "-m", models["a"], "-m", models["b"], "--gif", "--frames", 1, "--no-detect", "--no-labels",
         "--source-attrs", "none", "-o", out])
    written = sorted(p.name for p in tmp_path.glob("a-*.gif"))
    assert written == ["a-01-img1-five.gif", "a-01-img1-two.gif", "a-02-img2-five.gif", "a-02-img2-two.gif"]
    with Image.open(tmp_path / "a-01-img1-five.gif") as gif:
        assert gif.n_frames == 2 * 1 * 5


# ---- pure pieces -----------------------------------------------------------------------------------


def test_parse_columns():
    attrs = [FIVE, ("Male", "Smiling")]
    columns = lib.parse_columns(["blond_hair,Male=0", "Blond_Hair+Young=0"], attrs)
    assert [c.name for c in columns] == ["Blond_Hair", "Male=0", "Blond_Hair+Young=0"]
    assert columns[2].targets == (("Blond_Hair", 1.0), ("Young", 0.0))
    with pytest.raises(StarganError, match="did you mean Blond_Hair"):
        lib.parse_columns(["Blond_Hiar"], attrs)
    with pytest.raises(StarganError, match="no model was trained on Eyeglasses"):
        lib.parse_columns(["Eyeglasses"], attrs)
    with pytest.raises(StarganError, match="twice"):
        lib.parse_columns(["Male", "male=1"], attrs)


def test_default_columns_are_the_original_test_targets(models):
    a = Translator(models["a"], device="cpu")
    b = Translator(models["b"], device="cpu")
    columns = lib.default_columns([a.config, b.config])
    assert [c.name for c in columns] == [
        "Black_Hair", "Blond_Hair", "Brown_Hair", "Male=flip", "Young=flip", "Smiling=flip"
    ]
    source = [0.0, 1.0, 0.0, 1.0, 0.0]
    expected = single_domain_targets(torch.tensor([source]), FIVE)
    for column, target in zip(columns, expected):
        assert column.label(a, source) == target[0].tolist()
    assert columns[5].label(a, source) is None and columns[0].label(b, [1.0, 0.0]) is None
    assert columns[3].label(b, [1.0, 0.0]) == [0.0, 0.0]


def test_render_sheet_geometry_and_blank_marks():
    style = lib.SheetStyle(cell_size=20, padding=3, background=(0, 0, 0), labels=False)
    red = Image.new("RGB", (10, 10), (255, 0, 0))
    sheet = lib.render_sheet([[red, None], [None, red], [red, red]], style, group_size=1)
    assert sheet.size == (3 + 2 * 23, 3 + 3 * 23)
    array = np.asarray(sheet)
    assert (_cell(array, 0, 0, 20, 3) == [255, 0, 0]).all()  # resized to the cell
    assert _is_blank(_cell(array, 0, 1, 20, 3), (0, 0, 0))
    assert (array[:3] == 0).all()  # padding is background
    grouped = lib.render_sheet([[red], [red], [red], [red]], style, group_size=2)
    assert grouped.size == (3 + 23, 3 + 4 * 23 + 3)
    assert lib.parse_color("10,20,30") == (10, 20, 30) and lib.parse_color("white") == WHITE
    with pytest.raises(StarganError):
        lib.parse_color("notacolour")


def test_long_labels_are_wrapped_or_shortened_to_fit():
    style = lib.SheetStyle(cell_size=32, padding=0)
    layout = lib.plan_layout(1, 2, style, ["input", "Wearing_Lipstick+Heavy_Makeup=0"], ["x" * 400])
    for font, lines in zip(layout.header_fonts, layout.headers):
        assert all(lib.text_width(font, line) <= 32 for line in lines) and len(lines) <= 3
    assert layout.left <= max(3 * 32, 12 * style.text_size) + 2 * style.text_pad


def test_existing_animation_is_not_replaced(models, photos, tmp_path):
    out = tmp_path / "one.gif"
    out.write_bytes(b"keep")
    args = [photos[0], "-m", models["b"], "--gif", "--frames", 1, "--no-detect", "--source-attrs", "none", "-o", out]
    result = _run(args)
    assert result.exit_code == 1 and "--overwrite" in result.output and out.read_bytes() == b"keep"
    _ok([*args, "--overwrite"])
    assert Image.open(out).n_frames == 2 * 1 * 2


def test_too_large_jpeg_is_refused_before_writing(tmp_path):
    with pytest.raises(StarganError, match="too large for JPEG"):
        lib.save_sheet(Image.new("RGB", (8, lib.JPEG_MAX_SIDE + 1)), tmp_path / "big.jpg")
    assert not list(tmp_path.iterdir())


def test_output_below_a_file_is_refused_before_any_work(models, photos, tmp_path):
    for name in ("x.png", "x.gif"):
        args = [*photos, "-m", models["a"], "--no-detect", "-o", photos[0] / name]
        result = _run([*args, "--gif"] if name.endswith(".gif") else args)
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output and "is a file, not a folder" in result.output
        assert "Model a" not in result.output  # refused before loading anything


def test_default_cells_are_readable_not_the_model_size(models, photos, tmp_path):
    """A 32 px model: sheet and animation cells are 256 px unless --cell-size says otherwise."""
    sheet, anim = tmp_path / "sheet.png", tmp_path / "anim.gif"
    _ok([photos[0], "-m", models["a"], "--no-detect", "--no-labels", "--padding", 0,
         "--source-attrs", "none", "-o", sheet])
    assert Image.open(sheet).size == (6 * 256, 256)
    _ok([photos[0], "-m", models["a"], "--gif", "--frames", 1, "--no-detect", "--no-labels",
         "--source-attrs", "none", "-o", anim])
    assert Image.open(anim).size == (256, 256)
