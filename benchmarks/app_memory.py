"""Memory of ``stargan app`` under parallel uploads of a large photo.

Starts the app (a tiny random model, its own STARGAN_HOME) in a child process, sends
``--uploads`` uploads of one ``--megapixels`` JPEG at once, then translates each photo, and
prints a Markdown table of the server's resident memory: before (after one small warm-up
upload, which loads the face detector), at its peak (``VmHWM``), and
what it keeps afterwards (after the uploads, and after a few seconds idle), with how many
uploads and translations succeeded. Each run starts a fresh server; the median of ``--runs``::

    python benchmarks/app_memory.py --uploads 20 --megapixels 39 --runs 2

To measure another checkout (the code before a change), put it first on the path:
``PYTHONPATH=/path/to/old python benchmarks/app_memory.py``. Linux only (reads /proc).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path


def _rss(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of ``pid`` in bytes."""
    fields = dict(re.findall(r"^(Vm\w+):\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.MULTILINE))
    return int(fields["VmRSS"]) * 1024, int(fields["VmHWM"]) * 1024


def _photo(megapixels: float) -> bytes:
    import numpy as np
    from PIL import Image

    width = int((megapixels * 1e6 * 4 / 3) ** 0.5)
    height = int(width * 3 / 4)
    rng = np.random.default_rng(0)
    coarse = Image.fromarray(rng.integers(0, 256, (30, 40, 3), dtype=np.uint8))
    buffer = io.BytesIO()
    coarse.resize((width, height), Image.BILINEAR).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def _model(folder: Path) -> Path:
    import torch

    from stargan_cli.checkpoints import Checkpoint, save_checkpoint
    from stargan_cli.models import ModelConfig, build_discriminator, build_generator

    torch.manual_seed(0)
    config = ModelConfig(attributes=("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young"), image_size=32,
                         g_conv_dim=8, g_repeat=1, d_conv_dim=8, d_repeat=2)
    path = folder / "tiny.pt"
    save_checkpoint(Checkpoint(config, build_generator(config).state_dict(),
                               build_discriminator(config).state_dict()), path)
    return path


def _post(url: str, data: bytes, content_type: str) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=data, headers={"Content-Type": content_type}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=1800) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def one_run(photo: bytes, uploads: int, folder: Path) -> dict[str, float]:
    env = dict(os.environ, STARGAN_HOME=str(folder / "home"), OMP_NUM_THREADS="1")
    server = subprocess.Popen(
        [sys.executable, "-m", "stargan_cli", "app", "-m", str(_model(folder)), "--port", "0", "--no-browser",
         "--device", "cpu"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        cwd=folder)  # not the checkout: `python -m` puts the working folder before PYTHONPATH
    try:
        url = None
        for line in server.stdout:
            found = re.search(r"Serving on (http://\S+)", line)
            if found:
                url = found.group(1).rstrip("/")
                break
        if url is None:
            raise SystemExit("the app did not start")
        threading.Thread(target=lambda: [None for _ in server.stdout], daemon=True).start()
        # warm up: one small photo loads the face detector and the kernels, which stay
        _post(f"{url}/api/upload?name=small.jpg", _photo(0.3), "image/jpeg")
        before, _ = _rss(server.pid)
        answers: list = []

        def send() -> None:
            answers.append(_post(f"{url}/api/upload?name=big.jpg", photo, "image/jpeg"))

        threads = [threading.Thread(target=send) for _ in range(uploads)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        upload_s = time.perf_counter() - start
        after_uploads, _ = _rss(server.pid)
        ids = [body["image"] for status, body in answers if status == 200]
        translated = 0
        for image in ids:
            status, _ = _post(f"{url}/api/translate", json.dumps({"image": image, "face": None, "source": {},
                                                                   "to": {"Male": 1}}).encode(), "application/json")
            translated += status == 200
        time.sleep(3.0)
        idle, peak = _rss(server.pid)
        return {"before": before, "peak": peak, "after_uploads": after_uploads, "idle": idle,
                "uploaded": len(ids), "translated": translated, "upload_s": upload_s}
    finally:
        server.terminate()
        server.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=20)
    parser.add_argument("--megapixels", type=float, default=39.0)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    import stargan_cli

    photo = _photo(args.megapixels)
    runs = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="app-memory-") as tmp:
            runs.append(one_run(photo, args.uploads, Path(tmp)))

    def gb(key: str) -> str:
        return f"{statistics.median(r[key] for r in runs) / 2**30:.2f}"

    print(f"code: {Path(stargan_cli.__file__).parent}; {args.uploads} parallel uploads of a "
          f"{args.megapixels:g}-megapixel JPEG ({len(photo) / 2**20:.1f} MB); median of {len(runs)} run(s)\n")
    print("| RSS before | peak RSS | RSS after the uploads | RSS idle after translating | uploads ok | translations ok | upload wall s |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {gb('before')} GB | {gb('peak')} GB | {gb('after_uploads')} GB | {gb('idle')} GB "
          f"| {min(r['uploaded'] for r in runs)}/{args.uploads} | {min(r['translated'] for r in runs)}/{args.uploads} "
          f"| {statistics.median(r['upload_s'] for r in runs):.1f} |")


if __name__ == "__main__":
    main()
