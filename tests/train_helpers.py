"""Synthetic data and tiny settings shared by the training tests (and benchmarks/gpu_check.sh).

Tiny models (32 px, 8 channels) on synthetic CelebA-format data made in tmp_path.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from stargan_cli.attributes import CELEBA_ATTRIBUTES
from stargan_cli.training import TrainConfig

N_IMAGES = 24  # 2 held out for testing, 22 to train: 5 batches of 4 per epoch
TINY = ["--image-size", "32", "--g-conv-dim", "8", "--g-repeat", "1", "--d-conv-dim", "8",
        "--d-repeat", "2", "--batch-size", "4", "--num-workers", "0", "--no-tensorboard"]


def write_image(path: Path, rng: np.random.Generator, size=(178, 218)) -> None:
    """A smooth random JPEG (a coarse grid scaled up) of CelebA's size."""
    coarse = rng.integers(0, 256, size=(6, 5, 3), dtype=np.uint8)
    Image.fromarray(coarse).resize(size, Image.BILINEAR).save(path, quality=90)


def make_celeba(root: Path, n: int = N_IMAGES, seed: int = 0) -> Path:
    """Synthetic CelebA: n JPEGs 178x218 in images/ and list_attr_celeba.txt (count line,
    40-name header, rows of 1/-1, CRLF) with hair colours one-hot as in most real rows."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    files = [f"{i + 1:06d}.jpg" for i in range(n)]
    values = rng.choice([-1, 1], size=(n, len(CELEBA_ATTRIBUTES)))
    hair = [CELEBA_ATTRIBUTES.index(a) for a in ("Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair")]
    values[:, hair] = -1
    values[np.arange(n), np.asarray(hair)[rng.integers(0, 4, n)]] = 1
    for name in files:
        write_image(root / "images" / name, rng)
    lines = [str(n), " ".join(CELEBA_ATTRIBUTES) + " "]
    lines += [f + " " + " ".join(f"{v:2d}" for v in row) for f, row in zip(files, values)]
    (root / "list_attr_celeba.txt").write_bytes(("\r\n".join(lines) + "\r\n").encode())
    return root


def make_folder(root: Path, domains=("angry", "happy", "sad"), per_domain: int = 8, seed: int = 1) -> Path:
    """Synthetic folder-per-domain dataset: root/<domain>/*.png."""
    rng = np.random.default_rng(seed)
    for domain in domains:
        (root / domain).mkdir(parents=True, exist_ok=True)
        for i in range(per_domain):
            write_image(root / domain / f"{i:03d}.png", rng, size=(64, 64))
    return root


def tiny(data: Path, out: Path, **overrides) -> TrainConfig:
    """A TrainConfig of a tiny model that trains in a fraction of a second per step."""
    settings = dict(
        data=str(data), out=str(out), image_size=32, g_conv_dim=8, g_repeat=1, d_conv_dim=8, d_repeat=2,
        batch_size=4, iters=4, n_critic=2, save_every=2, sample_every=2, log_every=2, num_workers=0,
        tensorboard=False, quiet=True,
    )
    settings.update(overrides)
    return TrainConfig(**settings)


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models gain nothing from a second thread, and lose a lot on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def celeba_root(tmp_path_factory) -> Path:
    return make_celeba(tmp_path_factory.mktemp("data") / "celeba")


@pytest.fixture(scope="module")
def folder_root(tmp_path_factory) -> Path:
    return make_folder(tmp_path_factory.mktemp("data") / "faces")


def read_metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def grid_shape(rows: int, cols: int, size: int = 32, pad: int = 2) -> tuple[int, int]:
    """(width, height) of a sample grid."""
    return cols * (size + pad) + pad, rows * (size + pad) + pad
