"""How much of a photo's detail survives translation: paste modes compared (photos.paste.PASTE_MODES).

Each held-out CelebA image (partition 2 of the subset) is scaled up to a 512 px (and 1024 px)
tall portrait inside a larger grey canvas; the face is found and aligned as ``stargan
translate`` does, then:

- identity: translated to its own attributes (CelebA's labels), brought back with each paste
  mode, compared with the input over the region the paste may touch (the model square's
  footprint): PSNR and SSIM. A perfect paste of a perfect model scores infinitely high;
  ``replace`` cannot, since it brings back the model's low-resolution square.
- hair: translated to another hair colour (Blond, or Black for blond people); share of the
  photo's pixels that changed by more than 12 levels (any channel), in all and outside the
  head (an ellipse over the face and hair of the aligned frame, centre (89, 112), half-axes
  70 x 95 px of the 178x218 CelebA image; hair below the shoulders is outside it).

    python benchmarks/paste_detail.py --model runs/final.pt --limit 100
    python benchmarks/paste_detail.py --random --limit 5   # mechanics only: an untrained model
    python benchmarks/paste_detail.py --perfect --limit 100 # a model that returns its input

``--perfect`` stands for an ideal model on the identity translation (it gives back exactly
the square it was given): what is left is what each paste mode itself loses. It has no hair
translation, so those columns are empty.

Run it from the repository root, under ``nice`` on a shared machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from celeba_bench import DEFAULT_DATA, attributes, load, partition, place, psnr, ssim, table  # noqa: E402

CHANGED = 12  # levels: a change smaller than this counts as unchanged (JPEG-level noise)
HEAD_CENTRE, HEAD_AXES = (89.0, 112.0), (70.0, 95.0)


def head_mask(frame, shape) -> np.ndarray:
    """True where the head ellipse of the aligned frame lies in a photo of ``shape``."""
    h, w = shape[:2]
    ys, xs = np.mgrid[0:h, 0:w]
    m = frame.array
    cx = m[0, 0] * xs + m[0, 1] * ys + m[0, 2]
    cy = m[1, 0] * xs + m[1, 1] * ys + m[1, 2]
    return ((cx - HEAD_CENTRE[0]) / HEAD_AXES[0]) ** 2 + ((cy - HEAD_CENTRE[1]) / HEAD_AXES[1]) ** 2 <= 1


def footprint(frame, shape) -> tuple[slice, slice]:
    """The rows and columns of the photo that the paste may touch (the square's bounding box)."""
    box = frame.square_box()
    h, w = shape[:2]
    return (slice(max(int(box.y), 0), min(int(np.ceil(box.bottom)), h)),
            slice(max(int(box.x), 0), min(int(np.ceil(box.right)), w)))


def random_translator():
    import torch

    from stargan_cli.models import ModelConfig, build_discriminator, build_generator
    from stargan_cli.translate import Translator

    torch.manual_seed(0)
    cfg = ModelConfig(attributes=("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young"), image_size=64,
                      g_conv_dim=16, g_repeat=2, d_conv_dim=16, d_repeat=4)
    return Translator(generator=build_generator(cfg), discriminator=build_discriminator(cfg), config=cfg, device="cpu")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--model", help="checkpoint file or model name")
    parser.add_argument("--random", action="store_true", help="an untrained model (mechanics only)")
    parser.add_argument("--perfect", action="store_true", help="a model that returns its input (identity only)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N held-out images")
    parser.add_argument("--sizes", default="512,1024")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not args.random and not args.perfect and not args.model:
        parser.error("give --model CHECKPOINT (or --random / --perfect)")

    from PIL import Image

    from stargan_cli.photos.paste import MODES, PASTE_MODES, paste_square
    from stargan_cli.translate import Translator

    translator = random_translator() if args.random or args.perfect else Translator(args.model, device="cpu")
    labels = attributes(args.data)
    rng = np.random.default_rng(args.seed)
    sizes = [int(s) for s in args.sizes.split(",")]
    # The "mask" paste needs the model's own mask: only models trained with --g-output mask have one.
    modes = [m for m in PASTE_MODES if translator.has_mask or not MODES[m].needs_mask]
    stats = {(s, m): {"psnr": [], "ssim": [], "out": [], "all": [], "sec": 0.0} for s in sizes for m in modes}
    found = {s: 0 for s in sizes}
    paths = partition(args.data, 2, args.limit)
    for path in paths:
        original = load(path)
        own = labels[path.name]
        source = [1.0 if own.get(a, False) else 0.0 for a in translator.attributes]
        hair = "Black_Hair" if own.get("Blond_Hair") else "Blond_Hair"
        for size in sizes:
            canvas, _ = place(original, 0.0, size / original.shape[0], rng)
            prepared = translator.prepare(Image.fromarray(canvas))
            if not prepared.ok:
                continue
            found[size] += 1
            face = prepared.faces[0]
            same_mask = other_mask = None
            if args.perfect:
                same, other = face.crop, None
            else:
                (same, other), masks = translator.generate_squares_with_masks(
                    [face.crop, face.crop],
                    [translator.target_label(source, {}), translator.target_label(source, {hair: 1.0})],
                )
                if masks is not None:
                    same_mask, other_mask = masks
            rows, cols = footprint(face.frame, canvas.shape)
            outside = ~head_mask(face.frame, canvas.shape)
            for mode in modes:
                s = stats[(size, mode)]
                t = time.perf_counter()
                kept = np.asarray(paste_square(canvas, same, face.frame, source=face.crop, mode=mode, mask=same_mask))
                s["sec"] += time.perf_counter() - t
                s["psnr"].append(psnr(kept[rows, cols], canvas[rows, cols]))
                s["ssim"].append(ssim(kept[rows, cols], canvas[rows, cols]))
                if other is None:
                    continue
                dyed = np.asarray(paste_square(canvas, other, face.frame, source=face.crop, mode=mode, mask=other_mask))
                changed = (np.abs(dyed.astype(int) - canvas.astype(int)).max(axis=2) > CHANGED)
                s["all"].append(changed.mean())
                s["out"].append(changed[outside].mean())

    rows_out = []
    for size in sizes:
        for mode in modes:
            s = stats[(size, mode)]
            if not s["psnr"]:
                continue
            rows_out.append([
                size, mode, f"{np.mean(s['psnr']):.2f}", f"{np.mean(s['ssim']):.3f}",
                f"{100 * np.mean(s['all']):.1f}%" if s["all"] else "-",
                f"{100 * np.mean(s['out']):.2f}%" if s["out"] else "-",
                f"{1000 * s['sec'] / len(s['psnr']):.0f}",
            ])
    model = "untrained model" if args.random else "perfect model (returns its input)" if args.perfect else args.model
    print(f"{len(paths)} held-out images ({', '.join(f'{found[s]} found at {s} px' for s in sizes)}); "
          f"{model}, {translator.image_size} px")
    print(table(rows_out, ["photo px", "paste", "identity PSNR (dB)", "identity SSIM", "hair: pixels changed",
                           "hair: changed outside head", "ms/paste"]))


if __name__ == "__main__":
    main()
