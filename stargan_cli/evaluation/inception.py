"""The Inception-v3 network of TF-FID, in torch, for the ``pt_inception-2015-12-05`` weights.

FID as published is computed with TensorFlow's 2015-12-05 Inception graph. pytorch-fid and
torch-fidelity distribute its weights converted to torchvision's Inception-v3 parameter names
(1008 classes, no auxiliary classifier), and the graph differs from torchvision's network in
three places, reproduced here on top of torchvision's blocks:

- the average pools inside the A, C and E blocks leave the zero padding out of the mean
  (TensorFlow's ``SAME`` pooling): ``count_include_pad=False``;
- the last E block (``Mixed_7c``) pools its pool branch with a max pool, not an average;
- the output wanted is pool3: the 2048-d global average pool before the classifier.

The classifier (``fc``) stays in the module only so that the file loads with strict key
checking; :meth:`FIDInceptionV3.forward` never uses it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.inception import (
    BasicConv2d,
    Inception3,
    InceptionA,
    InceptionAux,
    InceptionB,
    InceptionC,
    InceptionD,
    InceptionE,
)

NUM_CLASSES = 1008  # the TF graph's softmax: 1000 ImageNet classes and 8 unused
FEATURE_DIM = 2048
INPUT_SIZE = 299


def _chain(x: torch.Tensor, *layers: nn.Module) -> torch.Tensor:
    """``x`` through ``layers`` in order."""
    for layer in layers:
        x = layer(x)
    return x


def _tf_avg_pool(x: torch.Tensor) -> torch.Tensor:
    """3x3 stride-1 average pool whose border means count only the real pixels, as TF's does."""
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class FIDInceptionA(InceptionA):
    """torchvision's InceptionA with TF's average pool."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch5x5 = _chain(x, self.branch5x5_1, self.branch5x5_2)
        branch3x3dbl = _chain(x, self.branch3x3dbl_1, self.branch3x3dbl_2, self.branch3x3dbl_3)
        return torch.cat([self.branch1x1(x), branch5x5, branch3x3dbl, self.branch_pool(_tf_avg_pool(x))], 1)


class FIDInceptionC(InceptionC):
    """torchvision's InceptionC with TF's average pool."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch7x7 = _chain(x, self.branch7x7_1, self.branch7x7_2, self.branch7x7_3)
        branch7x7dbl = _chain(x, self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3,
                              self.branch7x7dbl_4, self.branch7x7dbl_5)
        return torch.cat([self.branch1x1(x), branch7x7, branch7x7dbl, self.branch_pool(_tf_avg_pool(x))], 1)


class FIDInceptionE(InceptionE):
    """torchvision's InceptionE with TF's average pool, or with a max pool (``max_pool``)."""

    def __init__(self, in_channels: int, max_pool: bool = False) -> None:
        super().__init__(in_channels)
        self.max_pool = max_pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch3x3 = self.branch3x3_1(x)
        branch3x3 = torch.cat([self.branch3x3_2a(branch3x3), self.branch3x3_2b(branch3x3)], 1)
        branch3x3dbl = _chain(x, self.branch3x3dbl_1, self.branch3x3dbl_2)
        branch3x3dbl = torch.cat([self.branch3x3dbl_3a(branch3x3dbl), self.branch3x3dbl_3b(branch3x3dbl)], 1)
        if self.max_pool:
            pooled = F.max_pool2d(x, kernel_size=3, stride=1, padding=1)
        else:
            pooled = _tf_avg_pool(x)
        return torch.cat([self.branch1x1(x), branch3x3, branch3x3dbl, self.branch_pool(pooled)], 1)


def _fid_inception_e(in_channels: int) -> FIDInceptionE:
    # Inception3 builds Mixed_7b (1280 channels in) and Mixed_7c (2048 in) from one factory;
    # only the last one, Mixed_7c, max-pools in the TF graph.
    return FIDInceptionE(in_channels, max_pool=in_channels == FEATURE_DIM)


class FIDInceptionV3(Inception3):
    """The TF-FID Inception-v3: images (B, 3, 299, 299) in [-1, 1] to pool3 features (B, 2048).

    Its state-dict keys are those of ``pt_inception-2015-12-05-6726825d.pth``. Weights are left
    at torch's default initialisation until a file is loaded.
    """

    def __init__(self) -> None:
        blocks = [BasicConv2d, FIDInceptionA, InceptionB, FIDInceptionC, InceptionD, _fid_inception_e, InceptionAux]
        super().__init__(num_classes=NUM_CLASSES, aux_logits=False, transform_input=False,
                         inception_blocks=blocks, init_weights=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        x = _chain(
            x, self.Conv2d_1a_3x3, self.Conv2d_2a_3x3, self.Conv2d_2b_3x3, self.maxpool1,
            self.Conv2d_3b_1x1, self.Conv2d_4a_3x3, self.maxpool2,
            self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b, self.Mixed_6c,
            self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b, self.Mixed_7c, self.avgpool,
        )
        return x.flatten(1)


def layout_mismatch(network: nn.Module, state: dict) -> str | None:
    """What keeps ``state`` from loading into ``network`` strictly, in one short phrase, or None.

    Batch-norm step counters (``num_batches_tracked``) may be absent, as in files converted
    without them: torch fills them in.
    """
    expected = {k: tuple(v.shape) for k, v in network.state_dict().items()}
    given = {k: tuple(v.shape) if isinstance(v, torch.Tensor) else None for k, v in state.items()}
    missing = [k for k in expected if k not in given and not k.endswith(".num_batches_tracked")]
    unexpected = [k for k in given if k not in expected]
    if missing or unexpected:
        parts = [f"{len(keys)} {what} (e.g. {keys[0]})"
                 for keys, what in ((missing, "missing keys"), (unexpected, "unexpected keys")) if keys]
        return ", ".join(parts)
    for key, shape in given.items():
        if shape is None:
            return f"{key} is not a tensor"
        if shape != expected[key]:
            return f"{key} has shape {shape}, expected {expected[key]}"
    return None
