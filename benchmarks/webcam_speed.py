"""Frames per second of the webcam loop on a video file, with the time split by stage.

    python benchmarks/webcam_speed.py [--frames 30] [--runs 3] [--size 640x480] [--detect-every 5]
    python benchmarks/webcam_speed.py --code /tmp/base   # before: an older checkout (git archive REV)

Writes a synthetic 25 fps video (the packaged astronaut portrait drifting over a gradient, so
the face detector finds a face in every frame) and runs :func:`stargan_cli.webcam.run_webcam`
headless on it with every frame processed, using a full-size random-weight 128 px model
(G 64 channels / 6 residual blocks, D for the attribute estimate) on the CPU and, when present,
CUDA (half precision as ``stargan webcam`` uses it). One short warm-up run per device is not
counted. Prints one row per device: the median over runs of the achieved fps and of the mean
milliseconds per frame spent in each stage (capture = decoding, detect = landmarks every k frames +
optical flow between, infer = aligned crop + D estimate at detections + G, draw = paste-back + text, output =
display/recording, nothing here). Random weights run at the same speed as trained ones.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def write_video(path: Path, frames: int, size: tuple[int, int], fps: float = 25.0) -> Path:
    """A video with the sample portrait moving a little each frame."""
    import cv2
    from PIL import Image

    width, height = size
    side = int(min(width, height) * 0.85)
    portrait = Image.open(REPO / "stargan_cli" / "assets" / "astronaut.jpg").convert("RGB").resize((side, side))
    background = np.zeros((height, width, 3), np.uint8)
    background[..., 0] = np.linspace(40, 200, width)[None, :].astype(np.uint8)
    background[..., 1] = np.linspace(180, 60, height)[:, None].astype(np.uint8)
    background[..., 2] = 110
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    for i in range(frames):
        image = Image.fromarray(background)
        x = (width - side) // 2 + int(20 * np.sin(i / 6))
        image.paste(portrait, (x, (height - side) // 2 + i % 3))
        writer.write(cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def make_translator(device: str):
    """A Translator with random full-size 128 px weights."""
    import torch

    from stargan_cli.attributes import DEFAULT_ATTRIBUTES
    from stargan_cli.models import ModelConfig, build_discriminator, build_generator
    from stargan_cli.translate import Translator

    torch.manual_seed(0)
    config = ModelConfig(attributes=DEFAULT_ATTRIBUTES, image_size=128)
    return Translator(
        generator=build_generator(config), discriminator=build_discriminator(config), config=config, device=device
    )


def run_once(video: Path, translator, frames: int, detect_every: int):
    """One headless pass over ``frames`` frames; returns the WebcamStats."""
    from stargan_cli.webcam import ModelEngine, WebcamOptions, open_source, run_webcam

    source = open_source(video)
    try:
        return run_webcam(
            source, ModelEngine(translator),
            WebcamOptions(detect_every=detect_every, max_frames=frames),
        )
    finally:
        source.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=30, help="frames per run")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per device (median)")
    parser.add_argument("--size", default="640x480", help="video frame size WxH")
    parser.add_argument("--detect-every", type=int, default=5)
    parser.add_argument("--devices", default="auto", help="comma list (cpu,cuda) or auto: cpu and cuda when present")
    parser.add_argument("--code", type=Path, default=None, help="measure the package in this folder instead")
    args = parser.parse_args(argv)

    if args.code is not None:
        sys.path.insert(0, str(args.code.resolve()))
        for name in [m for m in sys.modules if m.startswith("stargan_cli")]:
            del sys.modules[name]
    import stargan_cli
    from stargan_cli.webcam import STAGES

    import torch

    width, height = (int(v) for v in args.size.lower().split("x"))
    if args.devices == "auto":
        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    else:
        devices = args.devices.split(",")
    print(
        f"video {width}x{height}, {args.frames} frames/run, {args.runs} runs, detect every "
        f"{args.detect_every}, model 128 px full size; torch {torch.__version__}, "
        f"{torch.get_num_threads()} CPU threads; code: {Path(stargan_cli.__file__).parent}"
    )
    header = f"{'device':<8}{'dtype':<10}{'fps':>7}" + "".join(f"{s + ' ms':>12}" for s in STAGES)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        video = write_video(Path(tmp) / "bench.mp4", args.frames, (width, height))
        for device in devices:
            translator = make_translator(device)
            run_once(video, translator, min(5, args.frames), args.detect_every)  # warm-up
            results = [run_once(video, translator, args.frames, args.detect_every) for _ in range(args.runs)]
            faces = min(r.processed - r.no_face for r in results)
            fps = statistics.median(r.fps for r in results)
            means = {s: statistics.median(r.mean_ms()[s] for r in results) for s in STAGES}
            dtype = str(translator.dtype).replace("torch.", "")
            rows.append(
                f"{device:<8}{dtype:<10}{fps:>7.1f}" + "".join(f"{means[s]:>12.1f}" for s in STAGES)
                + ("" if faces == args.frames else f"   (face found in {faces}/{args.frames})")
            )
    print(header)
    for row in rows:
        print(row)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
