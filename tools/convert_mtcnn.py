"""Convert MTCNN's weights from the facenet-pytorch wheel to stargan_cli/assets/mtcnn.npz.

One-off tool, kept so the conversion can be checked and repeated:

    pip download --no-deps -d /tmp/fp facenet-pytorch==2.6.0
    unzip /tmp/fp/facenet_pytorch-2.6.0-py3-none-any.whl -d /tmp/fp/x
    python tools/convert_mtcnn.py /tmp/fp/x/facenet_pytorch/data

The state dicts are read with ``torch.load(weights_only=True)`` (no code runs) and written as
plain float32 arrays under our module names. The first dense layer of R-Net and O-Net
flattened its input in (width, height, channel) order, a leftover of the Caffe -> TF -> torch
conversions; its columns are reordered here so our networks flatten the ordinary way.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

RENAME = {
    "pnet": {"conv1": "trunk.0", "prelu1": "trunk.1", "conv2": "trunk.3", "prelu2": "trunk.4",
             "conv3": "trunk.5", "prelu3": "trunk.6", "conv4_1": "heads.0", "conv4_2": "heads.1"},
    "rnet": {"conv1": "trunk.0", "prelu1": "trunk.1", "conv2": "trunk.3", "prelu2": "trunk.4",
             "conv3": "trunk.6", "prelu3": "trunk.7", "dense4": "neck.1", "prelu4": "neck.2",
             "dense5_1": "heads.0", "dense5_2": "heads.1"},
    "onet": {"conv1": "trunk.0", "prelu1": "trunk.1", "conv2": "trunk.3", "prelu2": "trunk.4",
             "conv3": "trunk.6", "prelu3": "trunk.7", "conv4": "trunk.9", "prelu4": "trunk.10",
             "dense5": "neck.1", "prelu5": "neck.2", "dense6_1": "heads.0", "dense6_2": "heads.1",
             "dense6_3": "heads.2"},
}
# (layer, channels, height, width) of the input of the first dense layer.
FLATTEN = {"rnet": ("dense4", 64, 3, 3), "onet": ("dense5", 128, 3, 3)}


def main(folder: str, out: str = "stargan_cli/assets/mtcnn.npz") -> None:
    arrays: dict[str, np.ndarray] = {}
    for net, names in RENAME.items():
        state = torch.load(Path(folder) / f"{net}.pt", map_location="cpu", weights_only=True)
        for key, value in state.items():
            layer, kind = key.rsplit(".", 1)
            if net in FLATTEN and layer == FLATTEN[net][0] and kind == "weight":
                _, c, h, w = FLATTEN[net]
                value = value.reshape(value.shape[0], w, h, c).permute(0, 3, 2, 1).reshape(value.shape[0], -1)
            arrays[f"{net}.{names[layer]}.{kind}"] = value.float().numpy()
    np.savez_compressed(out, **arrays)
    print(f"wrote {out}: {len(arrays)} arrays, {sum(a.size for a in arrays.values()):,} numbers")


if __name__ == "__main__":
    main(*sys.argv[1:])
