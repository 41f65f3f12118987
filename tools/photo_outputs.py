"""Write what a user gets from the photo path into one folder and print the sha256 of each file.

A refactor of the photo path (detect, align, translate, paste) must not change a single byte.
Run this on the old code and on the new one, then compare the two folders::

    python tools/photo_outputs.py /tmp/before          # on the old commit
    python tools/photo_outputs.py /tmp/after           # on the new one
    python tools/photo_outputs.py --compare /tmp/before /tmp/after

It covers ``stargan translate --example --all``, a rotated photo (every paste mode, and
``--crop-only``), a photo with two faces with ``--face 2``, ``--no-detect``, ``stargan grid
--gif``, the web app's translation, strip and estimate (driven through its HTTP API with
Starlette's test client) and ``stargan webcam`` recording a video file. Everything runs on the
CPU with the bundled model; the test photos are made from the bundled public-domain portrait.
The command lines' own printed output is kept too (``*.stdout``), except the webcam's, which
reports timings (its recording runs on a fixed clock, as it shows the frame rate).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

COMMANDS = {
    "example_all": ["translate", "--example", "--all"],
    "rotated": ["translate", "inputs/rotated.png", "--to", "Blond_Hair", "-o", "rotated.png"],
    "rotated_delta": ["translate", "inputs/rotated.png", "--to", "Male", "--paste", "delta", "-o", "rotated_delta.png"],
    "rotated_replace": ["translate", "inputs/rotated.png", "--to", "Black_Hair,Young=0", "--paste", "replace",
                        "-o", "rotated_replace.png"],
    "rotated_crop": ["translate", "inputs/rotated.png", "--to", "Brown_Hair", "--crop-only", "-o", "crop"],
    "two_faces": ["translate", "inputs/two.png", "--to", "Blond_Hair", "--face", "2", "-o", "two_face2.png"],
    "two_faces_all": ["translate", "inputs/two.png", "--all", "-o", "two_all"],
    "no_detect": ["translate", "inputs/rotated.png", "--to", "Male", "--no-detect", "-o", "no_detect.png"],
    "grid_gif": ["grid", "inputs/two.png", "inputs/rotated.png", "--to", "Blond_Hair", "--to", "Male",
                 "--gif", "--frames", "3", "-o", "grid.gif"],
    "webcam": ["webcam", "--source", "inputs/clip.mp4", "--headless", "--all-frames", "--to", "Blond_Hair",
               "--output", "webcam.mp4"],
}


def make_inputs(folder: Path) -> None:
    """The test photos (rotated, two faces) and a short video, from the bundled portrait."""
    import cv2
    import numpy as np
    from PIL import Image

    from stargan_cli.image_files import example_image_path

    folder.mkdir(parents=True, exist_ok=True)
    portrait = Image.open(example_image_path()).convert("RGB")
    portrait.rotate(25, resample=Image.BICUBIC, expand=True, fillcolor=(90, 90, 90)).save(folder / "rotated.png")
    small = portrait.resize((portrait.width // 2, portrait.height // 2), Image.BILINEAR)
    two = Image.new("RGB", (small.width * 2, small.height), (255, 255, 255))
    two.paste(small, (0, 0))
    two.paste(small.transpose(Image.FLIP_LEFT_RIGHT).rotate(-10, resample=Image.BICUBIC), (small.width, 0))
    two.save(folder / "two.png")
    frame = np.asarray(small.resize((small.width // 2 * 2, small.height // 2 * 2)))[:, :, ::-1]
    height, width = frame.shape[:2]
    writer = cv2.VideoWriter(str(folder / "clip.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10, (width, height))
    for i in range(8):
        shift = np.float32([[1, 0, 3 * i], [0, 1, -2 * i]])
        writer.write(cv2.warpAffine(np.ascontiguousarray(frame), shift, (width, height), borderMode=cv2.BORDER_REFLECT))
    writer.release()


# The webcam draws its frame rate into every frame it records: it runs on a clock that ticks
# the same on every run, so that the recording depends on the pictures only.
FIXED_CLOCK = (
    "import itertools, runpy, time; tick = itertools.count(); "
    "time.perf_counter = lambda: next(tick) * 0.025; runpy.run_module('stargan_cli', run_name='__main__')"
)


def run_commands(folder: Path) -> None:
    """Each command of :data:`COMMANDS`, in ``folder``, with its stdout kept."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "STARGAN_OFFLINE": "1"}
    for name, args in COMMANDS.items():
        start = ["-c", FIXED_CLOCK] if name == "webcam" else ["-m", "stargan_cli"]
        done = subprocess.run(
            [sys.executable, *start, *args, "--device", "cpu"], cwd=folder, env=env, capture_output=True, text=True,
        )
        if done.returncode != 0:
            raise SystemExit(f"{name} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        if name != "webcam":
            (folder / f"{name}.stdout").write_text(done.stdout)


def drive_app(folder: Path) -> None:
    """Upload, estimate, translate (full and half strength, a face and the whole photo) and
    strip through the app's HTTP API; the files downloaded and the JSON answers are kept."""
    from starlette.testclient import TestClient

    from stargan_cli.app.engine import Engine, Models
    from stargan_cli.app.server import create_app

    out = folder / "app"
    out.mkdir()
    answers = {}
    engine = Engine(Models(device="cpu", include_installed=False))
    try:
        with TestClient(create_app(engine)) as client:
            for photo in ("two.png", "rotated.png"):
                data = (folder / "inputs" / photo).read_bytes()
                upload = client.post(f"/api/upload?name={photo}", content=data).json()
                image = upload["image"]
                requests = {
                    "estimate": ("/api/estimate", {"image": image, "face": upload["face"]}),
                    "translate": ("/api/translate", {"image": image, "face": 1, "source": {"Male": 0, "Young": 1},
                                                     "to": {"Blond_Hair": 1}}),
                    "translate_half": ("/api/translate", {"image": image, "face": upload["face"], "source": {},
                                                          "to": {"Male": 1, "Black_Hair": 1}, "strength": 0.5}),
                    "translate_whole": ("/api/translate", {"image": image, "face": None, "source": {},
                                                           "to": {"Young": 0}}),
                    "strip": ("/api/strip", {"image": image, "face": 1, "source": None}),
                }
                upload.pop("image"), upload.pop("url")
                answers[f"{photo}:upload"] = upload
                for key, (route, body) in requests.items():
                    answer = client.post(route, json=body).json()
                    # Files are served under random names: keep what each one serves instead.
                    for field in sorted(f for f in answer if f == "url" or f.endswith("_url")):
                        url = answer.pop(field)
                        if url is not None:
                            part = "" if field == "url" else "." + field[: -len("_url")]
                            (out / f"{photo}.{key}{part}.png").write_bytes(client.get(url).content)
                    answers[f"{photo}:{key}"] = answer
    finally:
        engine.close()
    (out / "answers.json").write_text(json.dumps(answers, indent=1, sort_keys=True))


def hashes(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` (inputs included), by relative path."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*")) if p.is_file()
    }


def compare(before: Path, after: Path) -> int:
    """Print one row per file: both hashes and whether they agree; 1 when any differ."""
    old, new = hashes(before), hashes(after)
    differ = 0
    print(f"| file | before | after | same |\n|---|---|---|---|")
    for name in sorted(old.keys() | new.keys()):
        a, b = old.get(name, "-"), new.get(name, "-")
        differ += a != b
        print(f"| {name} | {a[:12]} | {b[:12]} | {'yes' if a == b else '**NO**'} |")
    print(f"\n{len(old.keys() | new.keys()) - differ} of {len(old.keys() | new.keys())} files byte-identical")
    return 1 if differ else 0


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[0] == "--compare":
        return compare(Path(argv[1]), Path(argv[2]))
    if len(argv) != 1:
        print(__doc__)
        return 2
    folder = Path(argv[0])
    if folder.exists() and any(folder.iterdir()):
        print(f"{folder} is not empty: give a new folder")
        return 2
    make_inputs(folder / "inputs")
    run_commands(folder)
    drive_app(folder)
    for name, digest in hashes(folder).items():
        print(digest, name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
