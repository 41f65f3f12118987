"""How closely the webcam's face box follows a moving face: the box-smoothing Haar tracker of
before vs the landmark + optical-flow tracker of now.

Synthetic 640x480 videos: a held-out CelebA image (partition 2 of the subset), scaled 1.5x, moves
over a still textured background at a constant speed (0, 2, 8 or 20 px per frame, bouncing off
the sides). Its true model square is known (the centre square of the aligned image). Every
frame goes through the tracker the webcam uses (``--detect-every`` k) and the square that
would be pasted is compared with the true one: mean and 90th percentile distance between their
centres (px), mean size error (px), and frames with no face.

    python benchmarks/tracking_lag.py --faces 5                   # now
    python benchmarks/tracking_lag.py --faces 5 --code /tmp/base  # before: an older checkout

``--code`` runs the same measurement on the package in another folder (e.g. ``git archive
e10cc1a | tar -x -C /tmp/base``); its tracker's API is recognised. Run it from the repository
root, under ``nice`` on a shared machine.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from celeba_bench import DEFAULT_DATA, load, partition, table  # noqa: E402

WIDTH, HEIGHT = 640, 480
SCALE = 1.5
FRAMES = 40


def background(rng: np.random.Generator) -> np.ndarray:
    from PIL import Image

    noise = rng.uniform(60, 200, (HEIGHT // 16, WIDTH // 16, 3)).astype(np.uint8)
    return np.asarray(Image.fromarray(noise).resize((WIDTH, HEIGHT), Image.BICUBIC))


def clip(face: np.ndarray, bg: np.ndarray, speed: float, start: float, frames: int = FRAMES):
    """Frames and the true square (x, y, side) of each: the face moving right/left at ``speed``."""
    h, w = face.shape[:2]
    top = (HEIGHT - h) // 2
    x, direction = start, 1.0
    out = []
    for _ in range(frames):
        rgb = bg.copy()
        xi = int(round(x))
        rgb[top:top + h, xi:xi + w] = face
        side = w  # the centre square of the 178x218 aligned image
        out.append((rgb, (xi + (w - side) / 2, top + (h - side) / 2, side)))
        if not 0 <= x + direction * speed <= WIDTH - w:
            direction = -direction
        x += direction * speed
    return out


def tracker_for(package: str, detect_every: int):
    """(update(rgb) -> (x, y, side) of the pasted square or None) for the code under test."""
    import importlib

    tracking = importlib.import_module(f"{package}.webcam.tracking")
    faces = importlib.import_module(f"{package}.faces")
    tracker = tracking.FaceTracker(detect_every)

    def update(rgb):
        found, _ = tracker.update(rgb)
        if found is None:
            return None
        if isinstance(found, faces.Box):  # before: a Haar box, CelebA-framed
            left, top, right, bottom = faces.model_square(faces.celeba_box(found, (WIDTH, HEIGHT)))
            return left, top, right - left
        from stargan_cli.photos.face import Frame  # now: five landmarks

        corners = Frame.from_landmarks(found).square_corners()
        centre = corners.mean(0)
        side = float(np.linalg.norm(corners[1] - corners[0]))
        return centre[0] - side / 2 + 0.5, centre[1] - side / 2 + 0.5, side

    return update


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--faces", type=int, default=5, help="held-out images, one clip per speed each")
    parser.add_argument("--speeds", default="0,2,8,20")
    parser.add_argument("--detect-every", default="5")
    parser.add_argument("--code", type=Path, default=None, help="measure the package in this folder instead")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from PIL import Image

    if args.code is not None:
        sys.path.insert(0, str(args.code.resolve()))
        for name in [m for m in sys.modules if m.startswith("stargan_cli")]:
            del sys.modules[name]
    import stargan_cli

    rng = np.random.default_rng(args.seed)
    bg = background(rng)
    faces = []
    for path in partition(args.data, 2, args.faces):
        image = Image.fromarray(load(path))
        faces.append(np.asarray(image.resize((round(178 * SCALE), round(218 * SCALE)), Image.BILINEAR)))
    tracker_for("stargan_cli", 1)(bg)  # load the detector before anything is timed
    rows = []
    for every in [int(k) for k in args.detect_every.split(",")]:
        for speed in [float(s) for s in args.speeds.split(",")]:
            dist, size_err, missing, total, seconds = [], [], 0, 0, 0.0
            for face in faces:
                update = tracker_for("stargan_cli", every)
                start = float(rng.uniform(0, WIDTH - face.shape[1]))
                for rgb, (tx, ty, tside) in clip(face, bg, speed, start):
                    t = time.perf_counter()
                    got = update(rgb)
                    seconds += time.perf_counter() - t
                    total += 1
                    if got is None:
                        missing += 1
                        continue
                    gx, gy, gside = got
                    dist.append(math.hypot(gx + gside / 2 - tx - tside / 2, gy + gside / 2 - ty - tside / 2))
                    size_err.append(abs(gside - tside))
            d = np.array(dist) if dist else np.array([np.nan])
            rows.append([
                every, f"{speed:g}", f"{d.mean():.1f}", f"{np.percentile(d, 90):.1f}",
                f"{np.mean(size_err) if size_err else float('nan'):.1f}", f"{missing}/{total}",
                f"{1000 * seconds / total:.0f}",
            ])
            print("  row:", " | ".join(str(c) for c in rows[-1]), flush=True)
    where = stargan_cli.__file__
    print(f"{len(faces)} held-out faces x {FRAMES} frames per speed, 640x480, face square {round(178 * SCALE)} px; code: {where}")
    print(table(rows, ["detect every", "px/frame", "centre error mean (px)", "p90 (px)", "size error (px)",
                       "frames without face", "ms/frame (tracking)"]))


if __name__ == "__main__":
    main()
