"""`stargan eval`: the evaluation loop on known cases, the classifier, FID features, the CLI."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn
from typer.testing import CliRunner

from stargan_cli.attributes import CELEBA_ATTRIBUTES
from stargan_cli.checkpoints import Checkpoint, save_checkpoint
from stargan_cli.cli import app
from stargan_cli.errors import StarganError
from stargan_cli.evaluation import fid as fid_module
from stargan_cli.evaluation import inception as inception_module
from stargan_cli.evaluation.classifier import (
    AttributeClassifier,
    TrainSettings,
    default_classifier_path,
    find_classifier,
    held_out_accuracy,
    load_classifier,
    train_classifier,
)
from stargan_cli.evaluation.evaluate import RealFeatures, evaluate_generator, identity_scores, mean_row
from stargan_cli.evaluation.fid import FeatureExtractor
from stargan_cli.evaluation.inception import FIDInceptionV3
from stargan_cli.evaluation.runner import celeba_block, train_celeba_classifier
from stargan_cli.models import ModelConfig, build_discriminator, build_generator

runner = CliRunner()
S = 32


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny 32 px batches run faster on one thread, and far faster when other processes
    keep the second core busy (two OpenMP threads then wait on each other)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
MODEL_ATTRS = ("Black_Hair", "Blond_Hair", "Male", "Young")
PATCH = 4


# --- a world where attributes are colour patches -------------------------------------------------


def patch_slice(k: int) -> tuple[slice, slice]:
    """Where model attribute ``k`` is painted: a 4x4 square on the top row of squares."""
    return slice(0, PATCH), slice(k * PATCH, (k + 1) * PATCH)


def patch_images(labels: torch.Tensor) -> torch.Tensor:
    """uint8 images, grey except one white (on) or black (off) patch per model attribute."""
    images = torch.full((len(labels), 3, S, S), 128, dtype=torch.uint8)
    for k in range(labels.size(1)):
        rows, cols = patch_slice(k)
        images[:, :, rows, cols] = (labels[:, k] > 0.5).to(torch.uint8)[:, None, None, None] * 255
    return images


class PatchJudge:
    """A fake classifier over all 40 attributes: a model attribute is read from its patch,
    every other attribute from a bottom square the painters never touch."""

    def __init__(self, attributes=MODEL_ATTRS):
        self.attributes = CELEBA_ATTRIBUTES
        self.where = {a: k for k, a in enumerate(attributes)}

    def predict(self, images: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(len(images), 40, dtype=torch.bool)
        for j, name in enumerate(self.attributes):
            if name in self.where:
                rows, cols = patch_slice(self.where[name])
            else:
                rows, cols = slice(S - PATCH, S), slice((j % 8) * PATCH, (j % 8 + 1) * PATCH)
            out[:, j] = images[:, :, rows, cols].float().mean((1, 2, 3)).cpu() > 0
        return out


class Painter(nn.Module):
    """A fake generator that paints every patch according to the label (the oracle).

    ``wrong`` names attributes it paints opposite to the label (a faulty translator)."""

    def __init__(self, attributes=MODEL_ATTRS, wrong=()):
        super().__init__()
        self.wrong = [attributes.index(a) for a in wrong]

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        out = x.clone()
        for k in range(c.size(1)):
            on = c[:, k] > 0.5
            if k in self.wrong:
                on = ~on
            rows, cols = patch_slice(k)
            out[:, :, rows, cols] = torch.where(on, 1.0, -1.0)[:, None, None, None]
        return out


def identity(x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    return x.clone()


def random_labels(n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    labels = (torch.rand(n, len(MODEL_ATTRS), generator=g) < 0.5).float()
    labels[:, 0] = 1 - labels[:, 1]  # exactly one hair colour
    return labels


def test_oracle_translator_scores_perfectly():
    labels = random_labels(24)
    images = patch_images(labels)
    result = evaluate_generator(Painter(), MODEL_ATTRS, images, labels, PatchJudge(), batch_size=7)
    assert list(result) == list(MODEL_ATTRS)
    for target, row in result.items():
        assert row["success"] == 1.0, target
        assert row["preservation"] == 1.0
        assert row["preservation_all"] == 1.0
        assert row["l1"] == 0.0
        assert row["psnr"] == 100.0
        assert row["fid"] is None
    assert mean_row(result)["success"] == 1.0


def test_identity_translator_keeps_everything_and_changes_nothing():
    labels = random_labels(20, seed=1)
    images = patch_images(labels)
    result = evaluate_generator(identity, MODEL_ATTRS, images, labels, PatchJudge(), batch_size=8)
    for row in result.values():
        assert row["preservation"] == 1.0 and row["preservation_all"] == 1.0
        assert row["l1"] == 0.0 and row["psnr"] == 100.0
    # Flipping never succeeds; "set a hair colour" succeeds exactly where it was already set.
    assert result["Male"]["success"] == 0.0
    assert result["Young"]["success"] == 0.0
    assert result["Blond_Hair"]["success"] == pytest.approx(float(labels[:, 1].mean()))
    assert result["Black_Hair"]["success"] == pytest.approx(float(labels[:, 0].mean()))


def test_identity_figures_and_face_shift_of_a_translator_that_changes_nothing():
    labels = random_labels(10, seed=4)
    images = patch_images(labels)
    assert identity_scores(identity, images, labels, batch_size=4) == {"identity_psnr": 100.0, "identity_ssim": 1.0}
    # The painter repaints each patch as it already is for the image's own labels.
    assert identity_scores(Painter(), images, labels) == {"identity_psnr": 100.0, "identity_ssim": 1.0}
    result = evaluate_generator(identity, MODEL_ATTRS, images, labels, PatchJudge())
    assert result["Black_Hair"]["face_shift"] == 0.0 and result["Blond_Hair"]["face_shift"] == 0.0
    assert result["Male"]["face_shift"] is None and result["Young"]["face_shift"] is None
    assert mean_row(result)["face_shift"] == 0.0
    assert mean_row(result)["identity_psnr"] is None  # one per model: identity_scores


def brighten(x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """A translator that lightens everything by 0.1 on the model scale (12.75 levels)."""
    return x + 0.1


def test_a_translator_that_lightens_shifts_the_face_by_exactly_that():
    labels = random_labels(12, seed=5)
    images = patch_images(labels)  # the face box is grey: nothing clamps
    result = evaluate_generator(brighten, MODEL_ATTRS, images, labels, PatchJudge(), batch_size=5)
    assert result["Black_Hair"]["face_shift"] == pytest.approx(12.75, rel=1e-5)
    assert result["Blond_Hair"]["face_shift"] == pytest.approx(12.75, rel=1e-5)
    assert mean_row(result)["face_shift"] == pytest.approx(12.75, rel=1e-5)
    # Grey images: every pixel moves by 0.05 on [0, 1], so PSNR = -10 log10(0.05^2); SSIM is
    # the luminance term of two flat images.
    grey = torch.full((6, 3, S, S), 128, dtype=torch.uint8)
    scores = identity_scores(brighten, grey, labels[:6])
    assert scores["identity_psnr"] == pytest.approx(-10 * np.log10(0.05**2), rel=1e-4)
    a = 128 / 255
    b = a + 0.05
    c1 = 0.01**2
    assert scores["identity_ssim"] == pytest.approx((2 * a * b + c1) / (a * a + b * b + c1), rel=1e-5)


def test_faulty_translator_scores_as_computed_by_hand():
    labels = random_labels(16, seed=2)
    images = patch_images(labels)
    result = evaluate_generator(Painter(wrong=("Young",)), MODEL_ATTRS, images, labels, PatchJudge())
    assert result["Young"]["success"] == 0.0
    assert result["Male"]["success"] == 1.0
    # Target Male: Black_Hair, Blond_Hair and Young are unchanged labels; Young comes out wrong.
    assert result["Male"]["preservation"] == pytest.approx(2 / 3)
    assert result["Male"]["preservation_all"] == pytest.approx((2 + 36) / (3 + 36))
    # The Young patch (16 px) is wrong after the cycle: L1 = 16/1024 on [0, 1], PSNR = 10 log10(64).
    for row in result.values():
        assert row["l1"] == pytest.approx(16 / 1024)
        assert row["psnr"] == pytest.approx(10 * np.log10(64), rel=1e-5)


class PatchFeatures(nn.Module):
    """Features: the 4x4 block means of the top row of squares (where the patches are)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.avg_pool2d(x[:, :1, :PATCH], PATCH).flatten(1)


def test_fid_is_small_for_the_oracle_and_large_for_identity():
    labels = random_labels(96, seed=3)
    images = patch_images(labels)
    extractor = FeatureExtractor("patch features", PatchFeatures(), S // PATCH, S)
    real = RealFeatures(
        np.concatenate([extractor(images.float() / 127.5 - 1).double().numpy()]), labels.numpy() > 0.5, MODEL_ATTRS
    )
    kwargs = dict(extractor=extractor, real=real, batch_size=32)
    oracle = evaluate_generator(Painter(), MODEL_ATTRS, images, labels, PatchJudge(), **kwargs)
    ident = evaluate_generator(identity, MODEL_ATTRS, images, labels, PatchJudge(), **kwargs)
    # Blond target: the oracle's outputs look like the real blond images, identity's like all images.
    assert oracle["Blond_Hair"]["fid"] < 0.3
    assert ident["Blond_Hair"]["fid"] > 1.5
    for row in oracle.values():
        assert row["fid"] is not None and row["fid"] >= 0


def test_real_reference_mixes_the_target_values():
    rng = np.random.default_rng(0)
    feats = np.concatenate([rng.normal(size=(50, 2)), rng.normal(size=(50, 2)) + 5])
    labels = np.zeros((100, 1), dtype=bool)
    labels[50:] = True
    real = RealFeatures(feats, labels, ["Male"])
    mu_on, _ = real.reference("Male", np.ones(10, dtype=bool))
    np.testing.assert_allclose(mu_on, feats[50:].mean(0))
    mu_mix, _ = real.reference("Male", np.array([True, False, False, False]))
    np.testing.assert_allclose(mu_mix, 0.25 * feats[50:].mean(0) + 0.75 * feats[:50].mean(0))
    one = RealFeatures(feats[:51], labels[:51], ["Male"])  # a single Male image
    assert one.reference("Male", np.ones(3, dtype=bool)) is None


def test_joint_models_get_zeros_and_the_celeba_mask():
    cfg = ModelConfig(attributes=("Blond_Hair", "Male", "happy", "sad"), image_size=32, label_mode="joint", joint_split=2)
    names, label = celeba_block(cfg)
    assert names == ("Blond_Hair", "Male")
    assert label(torch.tensor([[1.0, 0.0]])).tolist() == [[1.0, 0.0, 0.0, 0.0, 1.0, 0.0]]
    with pytest.raises(StarganError, match="folder domains"):
        celeba_block(ModelConfig(attributes=("happy", "sad"), label_mode="single"))


# --- classifier ----------------------------------------------------------------------------------


class FixedLogits(nn.Module):
    def __init__(self, logits):
        super().__init__()
        self.register_buffer("logits", torch.tensor(logits))
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return self.logits.expand(len(x), -1)


class ListDataset(torch.utils.data.Dataset):
    def __init__(self, images, labels):
        self.images, self.labels = images, labels

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.images[i], self.labels[i]


def test_held_out_accuracy_known_answer():
    labels = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, 1.0]])
    data = ListDataset(torch.zeros(4, 3, 8, 8, dtype=torch.uint8), labels)
    clf = AttributeClassifier(FixedLogits([5.0, -5.0]), ("Male", "Young"), 8)
    accuracy, baseline = held_out_accuracy(clf, data, ["Male", "Young"], batch_size=3)
    assert accuracy == {"Male": 0.75, "Young": 0.25}
    assert baseline == {"Male": 0.75, "Young": 0.75}


def write_celeba(root, n: int = 48, n_test: int = 16, seed: int = 0):
    """Synthetic CelebA: 178x218 JPEGs whose colours follow some attributes, the attribute file
    (count line, 40 names, 1/-1 rows) and a partition file with the last ``n_test`` as test."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True)
    values = (rng.random((n, 40)) < 0.5).astype(int)
    male, blond = CELEBA_ATTRIBUTES.index("Male"), CELEBA_ATTRIBUTES.index("Blond_Hair")
    rows = []
    for i in range(n):
        name = f"{i + 1:06d}.jpg"
        pixels = rng.integers(60, 90, size=(218, 178, 3), dtype=np.uint8)
        pixels[20:120, :, 0] += np.uint8(120 * values[i, male])
        pixels[120:, :, 2] += np.uint8(120 * values[i, blond])
        Image.fromarray(pixels).save(root / "images" / name, quality=90)
        rows.append(name + " " + " ".join("1" if v else "-1" for v in values[i]))
    text = f"{n}\n" + " ".join(CELEBA_ATTRIBUTES) + "\n" + "\n".join(rows) + "\n"
    (root / "list_attr_celeba.txt").write_text(text)
    (root / "list_eval_partition.txt").write_text(
        "".join(f"{i + 1:06d}.jpg {2 if i >= n - n_test else 0}\n" for i in range(n))
    )
    return root


@pytest.fixture(scope="module")
def celeba_dir(tmp_path_factory):
    return write_celeba(tmp_path_factory.mktemp("celeba"))


def test_classifier_trains_caches_and_reloads_identically(celeba_dir):
    clf = train_celeba_classifier(celeba_dir, S, iters=2, batch_size=8, lr=1e-3, seed=0)
    path = default_classifier_path(S)
    assert clf.path == path and path.is_file()
    assert set(clf.accuracy) == set(CELEBA_ATTRIBUTES) and all(0 <= v <= 1 for v in clf.accuracy.values())
    info = json.loads(path.with_suffix(".json").read_text())
    assert info["accuracy"] == pytest.approx(clf.accuracy)
    assert info["config"]["image_size"] == S and info["config"]["train"]["iters"] == 2
    # The file is plain data: it loads with weights_only=True.
    payload = torch.load(path, weights_only=True)
    assert payload["format"] == "stargan-cli-classifier" and "state" in payload
    again = load_classifier(path)
    x = torch.rand(5, 3, 48, 48) * 2 - 1  # another size: resized to 32 by both
    assert torch.equal(clf.logits(x), again.logits(x))
    assert again.accuracy == pytest.approx(clf.accuracy)
    assert find_classifier(64) == path  # the closest installed size


def test_classifier_training_is_deterministic_and_learns_from_the_batches():
    labels = random_labels(6, seed=4)
    data = ListDataset(patch_images(labels), labels)
    a, b, c = (train_classifier(data, MODEL_ATTRS, S, TrainSettings(iters=1, batch_size=4, seed=seed)) for seed in (5, 5, 6))
    x = torch.rand(3, 3, S, S) * 2 - 1
    assert torch.equal(a.logits(x), b.logits(x))
    assert not torch.equal(a.logits(x), c.logits(x))
    assert a.attributes == MODEL_ATTRS and a.config["train"]["iters"] == 1
    with pytest.raises(StarganError, match="batch-size"):
        TrainSettings(iters=1, batch_size=1)


def test_damaged_or_foreign_classifier_files_are_refused(tmp_path):
    bad = tmp_path / "bad.pt"
    torch.save({"weights": torch.zeros(2)}, bad)
    with pytest.raises(StarganError, match="not an attribute classifier"):
        load_classifier(bad)
    with pytest.raises(StarganError, match="stargan eval --train-classifier"):
        find_classifier(128)
    with pytest.raises(StarganError, match="does not exist"):
        find_classifier(128, tmp_path / "nope.pt")


# --- FID features --------------------------------------------------------------------------------


def test_fid_features_stand_in(monkeypatch):
    notes = []
    standin = fid_module.choose_extractor("auto", warn=notes.append)
    assert standin.name == fid_module.STANDIN_NAME and "stargan download inception" in notes[0]
    x = torch.rand(3, 3, S, S) * 2 - 1
    assert torch.equal(standin(x), fid_module.standin_extractor()(x))  # fixed weights
    with pytest.raises(StarganError, match="stargan download inception"):
        fid_module.choose_extractor("inception")
    assert fid_module.choose_extractor("off") is None
    with pytest.raises(StarganError, match="unknown --fid"):
        fid_module.choose_extractor("tf")


@pytest.fixture(scope="module")
def fake_tf_fid_file(tmp_path_factory):
    """Random weights in the layout of pt_inception-2015-12-05-6726825d.pth, saved as its
    converters save it (benchmarks/fid_check.py's random_tf_fid_state)."""
    spec = importlib.util.spec_from_file_location("fid_check", Path(__file__).parents[1] / "benchmarks" / "fid_check.py")
    fid_check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fid_check)
    path = tmp_path_factory.mktemp("tf_fid") / "fake-pt_inception.pth"
    torch.save(fid_check.random_tf_fid_state(0), path)
    return path


def test_tf_fid_network_layout_and_pools():
    from torchvision.models import Inception3

    net = FIDInceptionV3()
    # The keys pytorch-fid loads the file into: torchvision's network, 1008 classes, no aux head.
    reference = Inception3(num_classes=1008, aux_logits=False, init_weights=False).state_dict()
    assert {k: v.shape for k, v in net.state_dict().items()} == {k: v.shape for k, v in reference.items()}
    assert net.Mixed_7c.max_pool and not net.Mixed_7b.max_pool
    # TF's average pool: border means count only real pixels, so a constant image stays constant.
    x = torch.ones(1, 2, 5, 5)
    assert torch.equal(inception_module._tf_avg_pool(x), x)
    assert not torch.equal(nn.functional.avg_pool2d(x, 3, 1, 1), x)


def test_tf_fid_weights_load_strictly_and_other_layouts_are_refused(fake_tf_fid_file):
    path = fid_module.inception_weights_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(fake_tf_fid_file, path)
    extractor = fid_module.choose_extractor("auto")
    assert extractor.name == fid_module.INCEPTION_NAME == "inception-v3 TF-FID weights (pt_inception-2015-12-05)"
    state = torch.load(path, weights_only=True)
    loaded = extractor.network.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in state.items())
    features = extractor(torch.rand(1, 3, S, S) * 2 - 1)
    assert features.shape == (1, 2048) and torch.isfinite(features).all() and features.abs().sum() > 0

    # torchvision's ImageNet Inception-v3 (the weights used before) and a reshaped classifier.
    from torchvision.models import inception_v3

    torch.save(inception_v3(weights=None, aux_logits=True, init_weights=False).state_dict(), path)
    with pytest.raises(StarganError, match=r"does not hold the TF-FID .*\(14 unexpected keys \(e.g. AuxLogits") as err:
        fid_module.choose_extractor("inception")
    assert "\n" not in str(err.value) and "stargan download inception --force" in str(err.value)
    torch.save({**state, "fc.weight": torch.zeros(1000, 2048)}, path)
    with pytest.raises(StarganError, match=r"fc.weight has shape \(1000, 2048\), expected \(1008, 2048\)"):
        fid_module.choose_extractor("auto")


# --- the command ---------------------------------------------------------------------------------


def tiny_checkpoint(path, seed: int, attributes=("Black_Hair", "Blond_Hair", "Male"), size: int = S, with_d: bool = True):
    torch.manual_seed(seed)
    cfg = ModelConfig(attributes=attributes, image_size=size, g_conv_dim=4, g_repeat=1, d_conv_dim=4, d_repeat=2)
    D = build_discriminator(cfg).state_dict() if with_d else None
    ckpt = Checkpoint(config=cfg, G=build_generator(cfg).state_dict(), D=D)
    save_checkpoint(ckpt, path)
    return path


def test_eval_without_classifier_says_how_to_get_one(celeba_dir, tmp_path):
    model = tiny_checkpoint(tmp_path / "a.pt", 0)
    result = runner.invoke(app, ["eval", "--model", str(model), "--data", str(celeba_dir)])
    assert result.exit_code == 1
    assert "stargan eval --train-classifier" in result.output and "--classifier PATH" in result.output
    assert "Traceback" not in result.output


def test_eval_cli_end_to_end(celeba_dir, tmp_path):
    # No discriminator in a: the judge is never the GAN's D. Brackets: printed, not rich markup.
    a = tiny_checkpoint(tmp_path / "a[1].pt", 0, with_d=False)
    b = tiny_checkpoint(tmp_path / "b.pt", 1, attributes=("Blond_Hair", "Male", "Young"), size=2 * S)
    trained = runner.invoke(app, [
        "eval", "--train-classifier", "--data", str(celeba_dir), "--image-size", str(S),
        "--iters", "1", "--batch-size", "8",
    ])
    assert trained.exit_code == 0, trained.output
    assert "held-out accuracy" in trained.output and "Wearing_Hat" in trained.output
    assert default_classifier_path(S).is_file()

    out = tmp_path / "scores.json"
    args = ["eval", "-m", str(a), "-m", str(b), "--data", str(celeba_dir), "--n", "6", "--seed", "3",
            "--batch-size", "6", "--json", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "Comparison" in result.output and "a[1]" in result.output and "b" in result.output
    assert re.search(r"[\d%] \*", result.output)  # best of a row marked
    assert fid_module.STANDIN_NAME in result.output
    assert "trained at 32px; images of 64px are resized" in " ".join(result.output.split())
    report = json.loads(out.read_text())
    assert set(report) >= {"models", "classifier", "fid_features", "n", "seed", "split"}
    assert (report["n"], report["seed"], report["split"]) == (6, 3, "test")
    assert report["fid_features"] == fid_module.STANDIN_NAME
    assert report["classifier"]["image_size"] == S and len(report["classifier"]["accuracy"]) == 40
    names = [m["name"] for m in report["models"]]
    assert names == ["a[1]", "b"]  # named as the grid names them (model_store.display_names)
    for model, attrs in zip(report["models"], (("Black_Hair", "Blond_Hair", "Male"), ("Blond_Hair", "Male", "Young"))):
        assert set(model) >= {"name", "config", "targets", "mean"}
        assert model["config"]["attributes"] == list(attrs)
        assert list(model["targets"]) == list(attrs)
        for row in [*model["targets"].values(), model["mean"]]:
            assert set(row) >= {"success", "preservation", "l1", "psnr", "fid"}
            assert 0 <= row["success"] <= 1 and 0 <= row["preservation"] <= 1
            assert row["l1"] > 0 and 0 < row["psnr"] < 100
        assert model["mean"]["fid"] is not None and model["mean"]["fid"] >= 0
        assert 0 < model["mean"]["identity_psnr"] < 100 and -1 <= model["mean"]["identity_ssim"] < 1
        for target, row in model["targets"].items():
            assert (row["face_shift"] is None) == (target not in ("Black_Hair", "Blond_Hair"))
            assert row["identity_psnr"] is None  # one per model, in the mean
        assert model["mean"]["face_shift"] >= 0
    assert "identity PSNR" in result.output and "face shift" in result.output

    # Same seed and N: the same numbers.
    out2 = tmp_path / "again.json"
    again = runner.invoke(app, [*args[:-1], str(out2), "--fid", "off"])
    assert again.exit_code == 0, again.output
    report2 = json.loads(out2.read_text())
    assert report2["fid_features"] is None
    for m1, m2 in zip(report["models"], report2["models"]):
        for target in m1["targets"]:
            for key in ("success", "preservation", "preservation_all", "l1", "psnr", "face_shift"):
                assert m1["targets"][target][key] == m2["targets"][target][key]
            assert m2["targets"][target]["fid"] is None
        assert m1["mean"]["identity_psnr"] == m2["mean"]["identity_psnr"]
        assert m1["mean"]["identity_ssim"] == m2["mean"]["identity_ssim"]


def test_eval_with_downloaded_tf_fid_weights(celeba_dir, fake_tf_fid_file, tmp_path, monkeypatch):
    """`stargan download inception` from a local server (sha256 checked), then `stargan eval`
    on those features, named in the table and the JSON; a damaged file is one Error: line."""
    import dataclasses
    import hashlib

    from stargan_cli import registry
    from test_download import _Server

    real = registry.ASSETS["inception"]
    assert real.filename == "pt_inception-2015-12-05-6726825d.pth" and real.sha256.startswith("6726825d")
    data = fake_tf_fid_file.read_bytes()
    server = _Server()
    try:
        url = server.serve("/" + real.filename, data)
        asset = dataclasses.replace(real, urls=(url,), sha256=hashlib.sha256(data).hexdigest())
        monkeypatch.setitem(registry.ASSETS, "inception", asset)
        monkeypatch.delenv("STARGAN_OFFLINE")
        installed = runner.invoke(app, ["download", "inception", "--quiet"])
    finally:
        server.close()
    assert installed.exit_code == 0, installed.output
    assert fid_module.inception_weights_path().read_bytes() == data

    model = tiny_checkpoint(tmp_path / "m.pt", 0, attributes=("Male",))
    trained = runner.invoke(app, ["eval", "--train-classifier", "--data", str(celeba_dir), "--image-size", str(S),
                                  "--iters", "1", "--batch-size", "8"])
    assert trained.exit_code == 0, trained.output
    out = tmp_path / "scores.json"
    # Few images (Inception runs at 299 px); seed 3 draws real images enough of each value for an FID.
    args = ["eval", "-m", str(model), "--data", str(celeba_dir), "--n", "2", "--n-real", "4", "--seed", "3",
            "--batch-size", "4", "--fid", "inception"]
    result = runner.invoke(app, [*args, "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert f"FID features: {fid_module.INCEPTION_NAME}" in " ".join(result.output.split())
    report = json.loads(out.read_text())
    assert report["fid_features"] == fid_module.INCEPTION_NAME
    assert report["models"][0]["mean"]["fid"] >= 0

    torch.save({"conv.weight": torch.zeros(2, 3, 1, 1)}, fid_module.inception_weights_path())
    broken = runner.invoke(app, args, env={"COLUMNS": "250"})
    assert broken.exit_code == 1 and "Traceback" not in broken.output
    errors = [line for line in broken.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "does not hold the TF-FID Inception-v3 weights" in errors[0], broken.output


def test_eval_cli_rejects_bad_requests(celeba_dir, tmp_path):
    result = runner.invoke(app, ["eval", "--split", "test"])
    assert result.exit_code == 2 and "--model" in result.output
    model = tiny_checkpoint(tmp_path / "a.pt", 0)
    result = runner.invoke(app, ["eval", "-m", str(model), "--data", str(celeba_dir), "--dataset", "rafd"])
    assert result.exit_code == 2 and "celeba" in result.output
    result = runner.invoke(app, ["eval", "-m", str(model), "--classifier", str(tmp_path / "none.pt")])
    assert result.exit_code == 1 and "does not exist" in result.output


def test_progress_bars_and_json_writer(tmp_path):
    import io

    from rich.console import Console

    from stargan_cli.evaluation.report import RichProgress, write_json

    stream = io.StringIO()
    with RichProgress(console=Console(file=stream, force_terminal=True, width=100)) as progress:
        advance = progress.task("Training [x]", 2)
        advance(1, 0.25)
        advance(1)
    assert "Training [x]" in stream.getvalue() and "2/2" in stream.getvalue()
    with RichProgress(quiet=True) as progress:
        progress.task("nothing", 1)(1)
    path = write_json({"models": [], "fid": float("nan"), "psnr": float("inf")}, tmp_path / "r.json")
    assert json.loads(path.read_text()) == {"models": [], "fid": None, "psnr": None}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temporary file left


def test_eval_refuses_bad_json_path_and_foreign_attributes_before_any_work(tmp_path):
    # No classifier and no dataset exist: these errors must come first, as one line each.
    model = tiny_checkpoint(tmp_path / "a.pt", 0)
    (tmp_path / "file.txt").write_text("x")
    for target, words in ((tmp_path, "is a folder"), (tmp_path / "file.txt" / "s.json", "is a file")):
        result = runner.invoke(app, ["eval", "-m", str(model), "--json", str(target)])
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert words in result.output and "classifier" not in result.output
    weird = tiny_checkpoint(tmp_path / "w.pt", 0, attributes=("Sunny", "Cloudy"))
    result = runner.invoke(app, ["eval", "-m", str(weird)])
    assert result.exit_code == 1 and "not CelebA attributes" in result.output
    assert "classifier" not in result.output and "Note:" not in result.output
