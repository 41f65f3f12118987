"""Our TF-FID Inception-v3 against pytorch-fid's, on the same weights and images.

    pip install --no-deps pytorch-fid   # (or --target DIR and --pytorch-fid DIR)
    python benchmarks/fid_check.py [--weights pt_inception-2015-12-05-6726825d.pth] [--images 4] [--size 128]

Without ``--weights`` both networks get the same random weights, with random batch-norm
statistics (a plain dict without step counters, as torch-fidelity's converter writes), so every layer
matters; pytorch-fid's download is replaced by that dict, nothing goes to the network. With
``--weights`` the real file is loaded into both. Images are uniform noise at ``--size`` px
(seeded), given to pytorch-fid in [0, 1] and to ours in [-1, 1]; both resize to 299 bilinearly.
Prints the largest absolute difference of the 2048-d features, relative to their largest value.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def random_tf_fid_state(seed: int) -> dict:
    """Random weights in the layout of the TF-FID file: a plain dict of tensors without batch-norm
    step counters, batch-norm statistics and affine terms random too."""
    import torch

    from stargan_cli.evaluation.inception import FIDInceptionV3

    torch.manual_seed(seed)
    state = {k: v for k, v in FIDInceptionV3().state_dict().items() if not k.endswith("num_batches_tracked")}
    for key, value in state.items():
        if key.endswith(("running_mean", "bn.bias")):
            state[key] = torch.randn_like(value) * 0.1
        elif key.endswith(("running_var", "bn.weight")):
            state[key] = torch.rand_like(value) + 0.5
    return state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", type=Path, help="the real pt_inception-2015-12-05-6726825d.pth (default: random)")
    parser.add_argument("--pytorch-fid", type=Path, help="folder pytorch-fid was installed into with pip --target")
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    if args.pytorch_fid:
        sys.path.insert(0, str(args.pytorch_fid))
    import torch

    import pytorch_fid
    import pytorch_fid.inception as reference

    from stargan_cli.evaluation.fid import inception_extractor

    with tempfile.TemporaryDirectory() as tmp:
        if args.weights:
            path = args.weights
            state = torch.load(path, map_location="cpu", weights_only=True)
        else:
            state = random_tf_fid_state(args.seed)
            path = Path(tmp) / "random.pth"
            torch.save(state, path)
        reference.load_state_dict_from_url = lambda *a, **k: state  # their download, replaced
        theirs = reference.InceptionV3([3]).eval()
        ours = inception_extractor(path)
    images = torch.rand(args.images, 3, args.size, args.size, generator=torch.Generator().manual_seed(args.seed))
    with torch.no_grad():
        start = time.perf_counter()
        a = theirs(images)[0].flatten(1)
        middle = time.perf_counter()
        b = ours(images * 2 - 1)
        end = time.perf_counter()
    diff = (a - b).abs().max().item()
    scale = a.abs().max().item()
    print("| weights | pytorch-fid | images | max abs diff | max abs feature | relative | s (theirs / ours) |")
    print("|---------|-------------|--------|--------------|-----------------|----------|-------------------|")
    print(f"| {'file' if args.weights else 'random'} | {pytorch_fid.__version__} | {args.images} x {args.size} px "
          f"| {diff:.2e} | {scale:.3g} | {diff / scale:.1e} | {middle - start:.1f} / {end - middle:.1f} |")


if __name__ == "__main__":
    main()
