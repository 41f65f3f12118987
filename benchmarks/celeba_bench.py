"""Shared helpers of the face benchmarks: CelebA held-out images and synthetic photos made of them.

Not a benchmark itself. ``align_accuracy.py``, ``paste_detail.py`` and ``tracking_lag.py``
import it (run them from the repository root).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image

DEFAULT_DATA = Path("/work/shared/data/celeba-subset")


def partition(data: Path, part: int, limit: int | None = None) -> list[Path]:
    """Image paths of CelebA partition ``part`` (0 train, 1 val, 2 test), in file order."""
    names = []
    for line in (data / "list_eval_partition.txt").read_text().splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[1] == str(part):
            names.append(data / "images" / fields[0])
    return names[:limit] if limit else names


def attributes(data: Path) -> dict[str, dict[str, int]]:
    """{file name: {attribute: 0/1}} from list_attr_celeba.txt."""
    lines = (data / "list_attr_celeba.txt").read_text().splitlines()
    names = lines[1].split()
    table = {}
    for line in lines[2:]:
        fields = line.split()
        if len(fields) == len(names) + 1:
            table[fields[0]] = {n: int(v) > 0 for n, v in zip(names, fields[1:])}
    return table


def place(image: np.ndarray, angle: float, scale: float, rng: np.random.Generator, background: int = 118):
    """Put ``image`` rotated by ``angle`` degrees and scaled by ``scale`` somewhere inside a larger
    grey canvas. Returns (canvas, 2x3 matrix from image pixels to canvas pixels)."""
    import cv2

    h, w = image.shape[:2]
    diag = math.hypot(w, h) * scale
    side = int(math.ceil(diag * 1.5)) + 40
    a = math.radians(angle)
    rot = scale * np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    room = (side - diag) / 2 - 4
    centre = np.array([side / 2, side / 2]) + rng.uniform(-room, room, size=2)
    shift = centre - rot @ np.array([(w - 1) / 2, (h - 1) / 2])
    matrix = np.hstack([rot, shift[:, None]])
    noise = rng.normal(background, 6, size=(side, side, 3)).clip(0, 255).astype(np.uint8)
    warped = cv2.warpAffine(image, matrix, (side, side), flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    inside = cv2.warpAffine(np.full((h, w), 255, np.uint8), matrix, (side, side), flags=cv2.INTER_LINEAR)
    alpha = (inside.astype(np.float32) / 255)[:, :, None]
    canvas = (warped * alpha + noise * (1 - alpha)).round().astype(np.uint8)
    return canvas, matrix


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two uint8 images."""
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * math.log10(255**2 / mse)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of two uint8 RGB images (grey, 11 px Gaussian window, the usual constants)."""
    import cv2

    def grey(x):
        return cv2.cvtColor(x, cv2.COLOR_RGB2GRAY).astype(np.float64)

    x, y = grey(a), grey(b)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(z):
        return cv2.GaussianBlur(z, (11, 11), 1.5)

    mx, my = blur(x), blur(y)
    sxx, syy, sxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return float(s.mean())


def load(path: Path) -> np.ndarray:
    """An RGB uint8 array."""
    return np.asarray(Image.open(path).convert("RGB"))


def table(rows: list[list], header: list[str]) -> str:
    """A Markdown table."""
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("-" * (len(h) + 2) for h in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)
