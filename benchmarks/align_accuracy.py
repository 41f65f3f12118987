"""How well faces are framed like CelebA: Haar boxes (before) vs MTCNN landmark alignment (now).

Each held-out CelebA image (partition 2 of the subset) is rotated (+-25 deg), scaled (0.4-2.5x)
and placed at a random spot of a larger grey canvas; then both framings look for the face and
cut the model's square out of the canvas. Reported against the original image's own square:

- detected: share of canvases where a face was found;
- eye error: distance (px of the 128 px square) between where the eyes are in the recovered
  square and where they are in the original square (the eyes as MTCNN finds them in the
  original, carried through the known transform); median and 90th percentile;
- PSNR of the recovered 128 px square against the original's.

    python benchmarks/align_accuracy.py --limit 100          # a quick look
    python benchmarks/align_accuracy.py                      # all 660
    python benchmarks/align_accuracy.py --template 1000      # measure align.CELEBA_LANDMARKS

Run it from the repository root, under ``nice`` on a shared machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from celeba_bench import DEFAULT_DATA, load, partition, place, psnr, table  # noqa: E402

SIZE = 128


def measure_template(data: Path, count: int) -> None:
    from stargan_cli.photos.detect import detect_landmarks

    points = []
    for path in partition(data, 0, count):
        found = detect_landmarks(load(path), order="largest")
        if found:
            points.append(found[0].points)
    median = np.median(np.stack(points), axis=0)
    print(f"{len(points)} of {count} training images; median landmarks (x, y):")
    print(np.array2string(median.round(1), separator=", "))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=None, help="only the first N held-out images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--template", type=int, default=0, metavar="N", help="measure the template on N training images")
    args = parser.parse_args()
    if args.template:
        measure_template(args.data, args.template)
        return

    from PIL import Image

    from stargan_cli.images import crop_resize
    from stargan_cli.photos.align import extract_square
    from stargan_cli.photos.detect import detect_landmarks
    from stargan_cli.photos.face import Box, Frame
    from stargan_cli.photos.haar import celeba_box, detect_faces, extract_crop

    rng = np.random.default_rng(args.seed)
    identity = Frame.from_box(Box(0, 0, 178, 218))
    stats = {"haar": {"found": 0, "eye": [], "psnr": [], "sec": 0.0}, "landmarks": {"found": 0, "eye": [], "psnr": [], "sec": 0.0}}
    paths = partition(args.data, 2, args.limit)
    skipped = 0
    for path in paths:
        original = load(path)
        reference = np.asarray(crop_resize(Image.fromarray(original), SIZE))
        ref_faces = detect_landmarks(original, order="largest")
        angle, scale = rng.uniform(-25, 25), float(np.exp(rng.uniform(np.log(0.4), np.log(2.5))))
        canvas, to_canvas = place(original, angle, scale, rng)
        if not ref_faces:
            skipped += 1
        eyes = ref_faces[0].points[:2] if ref_faces else None
        ref_sq = identity.square_matrix(SIZE)

        def record(name, frame, square, seconds):
            s = stats[name]
            s["sec"] += seconds
            if frame is None:
                return
            s["found"] += 1
            s["psnr"].append(psnr(np.asarray(square), reference))
            if eyes is not None:
                in_canvas = eyes @ to_canvas[:, :2].T + to_canvas[:, 2]
                m = frame.square_matrix(SIZE)
                got = in_canvas @ m[:, :2].T + m[:, 2]
                want = eyes @ ref_sq[:, :2].T + ref_sq[:, 2]
                s["eye"].append(float(np.linalg.norm(got - want, axis=1).mean()))

        t = time.perf_counter()
        boxes = detect_faces(canvas, order="largest")
        if boxes:
            box = celeba_box(boxes[0], (canvas.shape[1], canvas.shape[0]))
            square = crop_resize(extract_crop(canvas, box), SIZE)
            record("haar", Frame.from_box(box), square, time.perf_counter() - t)
        else:
            record("haar", None, None, time.perf_counter() - t)
        t = time.perf_counter()
        found = detect_landmarks(canvas, order="largest")
        if found:
            frame = Frame.from_landmarks(found[0].points)
            record("landmarks", frame, extract_square(canvas, frame, SIZE), time.perf_counter() - t)
        else:
            record("landmarks", None, None, time.perf_counter() - t)

    n = len(paths)
    rows = []
    for name, label in (("haar", "Haar box (before)"), ("landmarks", "MTCNN landmarks (now)")):
        s = stats[name]
        eye = np.array(s["eye"]) if s["eye"] else np.array([np.nan])
        rows.append([
            label, f"{s['found']}/{n} ({100 * s['found'] / n:.1f}%)", f"{np.median(eye):.1f}",
            f"{np.percentile(eye, 90):.1f}", f"{np.mean(eye < 5) * 100:.0f}%",
            f"{np.median(s['psnr']):.1f}" if s["psnr"] else "-", f"{1000 * s['sec'] / n:.0f}",
        ])
    print(f"{n} held-out images, rotation +-25 deg, scale 0.4-2.5x, seed {args.seed}; "
          f"eyes of {n - skipped} originals found by MTCNN")
    print(table(rows, ["framing", "detected", "eye error median (px)", "eye error p90", "eye error < 5 px",
                       "PSNR median (dB)", "ms/image"]))


if __name__ == "__main__":
    main()
