"""Image features for FID: the TF-FID Inception-v3 pool features, or a random-weight stand-in.

With the TF-FID weights installed (``stargan download inception``: pytorch-fid's port of
TensorFlow's 2015-12-05 Inception graph, the network published FIDs are computed with) the
features are the 2048-d pool3 outputs of :class:`FIDInceptionV3`, on images resized to 299 px
(bilinear). That network takes inputs in [-1, 1], the models' range, so no other normalisation
is applied (pytorch-fid maps its [0, 1] images there first).

Without them the stand-in is a small convolutional network with fixed random weights (seeded):
its FID still ranks image sets by how far apart they are, but its scale means nothing outside
this tool. The report always names which one was used.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ..errors import StarganError, UsageError

if TYPE_CHECKING:
    import torch
    from torch import nn

INCEPTION_NAME = "inception-v3 TF-FID weights (pt_inception-2015-12-05)"
STANDIN_NAME = "random-weight stand-in: not comparable to published FID"
STANDIN_SIZE = 64
FID_MODES = ("auto", "inception", "standin", "off")


@dataclass
class FeatureExtractor:
    """A network that maps images (B, 3, H, W) in [-1, 1] to feature rows (B, dim).

    ``name`` is what reports print as ``fid_features``; ``input_size`` the size images are
    resized to first.
    """

    name: str
    network: "nn.Module"
    dim: int
    input_size: int

    @property
    def device(self) -> "torch.device":
        """Where the network's weights are."""
        import itertools

        import torch

        first = next(itertools.chain(self.network.parameters(), self.network.buffers()), None)
        return first.device if first is not None else torch.device("cpu")

    def __call__(self, images: "torch.Tensor") -> "torch.Tensor":
        """Features (B, dim) as float32 on the CPU."""
        import torch
        import torch.nn.functional as F

        x = images.to(self.device, torch.float32)
        if x.shape[-1] != self.input_size or x.shape[-2] != self.input_size:
            x = F.interpolate(x, size=(self.input_size, self.input_size), mode="bilinear", align_corners=False)
        with torch.no_grad():
            return self.network(x).flatten(1).float().cpu()


def inception_weights_path() -> Path:
    """Where ``stargan download inception`` installs the weights."""
    from ..registry import get_asset

    return get_asset("inception").target()


def build_inception_network() -> "nn.Module":
    """The TF-FID Inception-v3 (:class:`~.inception.FIDInceptionV3`), weights not yet loaded."""
    from .inception import FIDInceptionV3

    return FIDInceptionV3()


def inception_extractor(path: str | Path, device: "torch.device | str" = "cpu") -> FeatureExtractor:
    """TF-FID Inception-v3 pool3 features from the weights file at ``path``.

    The file is read with weights_only and loaded with strict key checking; any other layout
    (e.g. torchvision's ImageNet Inception-v3) is a StarganError naming the first difference.
    """
    from ..checkpoints import read_state_file
    from .inception import FEATURE_DIM, INPUT_SIZE, layout_mismatch

    again = "run `stargan download inception --force`"
    state = read_state_file(path)
    if not isinstance(state, dict):
        raise StarganError(f"{path} is not an Inception-v3 weights file: {again}")
    network = build_inception_network()
    problem = layout_mismatch(network, state)
    if problem is None:
        try:
            network.load_state_dict(state, strict=True)
        except RuntimeError as err:  # what layout_mismatch does not foresee
            problem = (str(err).splitlines() or ["unknown"])[-1].strip()[:100]
    if problem is not None:
        raise StarganError(f"{path} does not hold the TF-FID Inception-v3 weights ({problem}): {again}")
    return FeatureExtractor(INCEPTION_NAME, network.to(device).eval(), FEATURE_DIM, INPUT_SIZE)


def standin_network(seed: int = 0, dim: int = 64) -> "nn.Module":
    """A small conv net with fixed random weights drawn from ``seed`` (the global RNG is untouched)."""
    import torch
    from torch import nn

    widths = (3, 16, 32, dim)
    layers: list[nn.Module] = []
    for cin, cout in zip(widths, widths[1:]):
        layers += [nn.Conv2d(cin, cout, kernel_size=3, stride=2, padding=1), nn.LeakyReLU(0.2)]
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    network = nn.Sequential(*layers)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in network.parameters():
            fan_in = p[0].numel() if p.dim() > 1 else 1
            p.copy_(torch.randn(p.shape, generator=generator) / fan_in**0.5 if p.dim() > 1 else torch.zeros(p.shape))
    return network


def standin_extractor(device: "torch.device | str" = "cpu", seed: int = 0) -> FeatureExtractor:
    """The random-weight stand-in for when the Inception weights are not installed."""
    return FeatureExtractor(STANDIN_NAME, standin_network(seed).to(device).eval(), 64, STANDIN_SIZE)


def choose_extractor(
    mode: str = "auto",
    device: "torch.device | str" = "cpu",
    *,
    warn: Callable[[str], None] | None = None,
) -> FeatureExtractor | None:
    """The feature extractor for ``--fid MODE``.

    ``auto``: Inception-v3 when installed, else the stand-in (``warn`` is told why);
    ``inception``: Inception-v3 or a StarganError saying how to install it; ``standin``: the
    stand-in; ``off``: None (no FID).
    """
    mode = mode.strip().lower()
    if mode not in FID_MODES:
        raise UsageError(f"unknown --fid {mode!r}: choose from {', '.join(FID_MODES)}")
    if mode == "off":
        return None
    if mode == "standin":
        return standin_extractor(device)
    path = inception_weights_path()
    if path.is_file():
        return inception_extractor(path, device)
    if mode == "inception":
        raise StarganError(
            f"the TF-FID Inception-v3 weights are not installed ({path}): run `stargan download inception`"
        )
    if warn:
        warn("TF-FID Inception-v3 weights not installed: FID uses a random-weight stand-in, not comparable to "
             "published FID (run `stargan download inception`)")
    return standin_extractor(device)
