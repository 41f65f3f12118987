"""Checkpoint files as other code wrote them, for the loader's tests.

The networks here are written after the original code's definitions (yunjey/stargan
``model.py``; github.com/nigalsan1/DLIM2020 ``StarGAN_new_IN/model.py``), with their names, so
that their ``state_dict()`` is laid out as those projects saved it, and their forward passes are
the reference outputs. Both original solvers translate without calling ``eval()``, so their
"test mode" is torch's train mode: per-image instance-norm statistics.

The file layouts:
- ``torch-0.4.0``: the official release, saved by PyTorch 0.4.0 in the pre-zip format, without
  the ``num_batches_tracked`` counters (added in 0.4.1), storages tagged ``cuda:0``;
- ``torch-1.x``: the same network saved by a later PyTorch (with the counters);
- ``data-parallel``: every name prefixed ``module.`` (a network wrapped in nn.DataParallel);
- ``cuda``: a current file whose storages are tagged ``cuda:0`` (saved on a GPU).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import nn
from torch.serialization import _package_registry, register_package

LAYOUTS = ("torch-0.4.0", "torch-1.x", "data-parallel", "cuda")


def _norm(channels: int) -> nn.Module:
    return nn.InstanceNorm2d(channels, affine=True, track_running_stats=True)


class OriginalResidualBlock(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(dim, dim, 3, 1, 1, bias=False), _norm(dim), nn.ReLU(inplace=True),
            nn.Conv2d(dim, dim, 3, 1, 1, bias=False), _norm(dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.main(x)


class OriginalGenerator(nn.Module):
    """The official generator: labels tiled into extra input channels, one ``main`` Sequential."""

    def __init__(self, conv_dim: int = 8, c_dim: int = 5, repeat_num: int = 2) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3 + c_dim, conv_dim, 7, 1, 3, bias=False), _norm(conv_dim),
                                   nn.ReLU(inplace=True)]
        dim = conv_dim
        for _ in range(2):
            layers += [nn.Conv2d(dim, dim * 2, 4, 2, 1, bias=False), _norm(dim * 2), nn.ReLU(inplace=True)]
            dim *= 2
        layers += [OriginalResidualBlock(dim) for _ in range(repeat_num)]
        for _ in range(2):
            layers += [nn.ConvTranspose2d(dim, dim // 2, 4, 2, 1, bias=False), _norm(dim // 2),
                       nn.ReLU(inplace=True)]
            dim //= 2
        layers += [nn.Conv2d(dim, 3, 7, 1, 3, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        c = c.view(c.size(0), c.size(1), 1, 1).repeat(1, 1, x.size(2), x.size(3))
        return self.main(torch.cat([x, c], dim=1))


class OriginalDiscriminator(nn.Module):
    def __init__(self, image_size: int = 32, conv_dim: int = 8, c_dim: int = 5, repeat_num: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, conv_dim, 4, 2, 1), nn.LeakyReLU(0.01)]
        dim = conv_dim
        for _ in range(1, repeat_num):
            layers += [nn.Conv2d(dim, dim * 2, 4, 2, 1), nn.LeakyReLU(0.01)]
            dim *= 2
        self.main = nn.Sequential(*layers)
        self.conv1 = nn.Conv2d(dim, 1, 3, 1, 1, bias=False)
        self.conv2 = nn.Conv2d(dim, c_dim, image_size // 2**repeat_num, bias=False)


def trained_original_pair(seed: int = 3) -> tuple[OriginalGenerator, OriginalDiscriminator]:
    """A tiny original G and D with non-trivial norm parameters and running statistics (which a
    correct loader ignores: the original runs its norms on per-image statistics)."""
    torch.manual_seed(seed)
    G, D = OriginalGenerator(), OriginalDiscriminator()
    with torch.no_grad():
        for name, value in G.state_dict().items():
            if value.dim() == 1 and value.is_floating_point():
                value.normal_() if not name.endswith("running_var") else value.uniform_(0.5, 2.0)
    return G, D


@contextlib.contextmanager
def storages_tagged_cuda() -> Iterator[None]:
    """While open, torch.save tags every storage ``cuda:0``, as a file saved on a GPU is: such a
    file loads on a CPU-only machine only through ``map_location``."""
    entry = (-1, lambda storage: "cuda:0", lambda storage, location: None)
    register_package(*entry)
    try:
        yield
    finally:
        _package_registry.remove(entry)


def save_state(state: dict, path: Path, layout: str) -> Path:
    """Write ``state`` (a current ``state_dict()``) to ``path`` as ``layout`` (see LAYOUTS)."""
    if layout == "torch-0.4.0":
        old = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
        with storages_tagged_cuda():
            torch.save(old, path, _use_new_zipfile_serialization=False)
    elif layout == "torch-1.x":
        torch.save(dict(state), path)
    elif layout == "data-parallel":
        torch.save({f"module.{k}": v for k, v in state.items()}, path)
    elif layout == "cuda":
        with storages_tagged_cuda():
            torch.save(dict(state), path)
    else:
        raise ValueError(layout)
    return path


def write_official_pair(folder: Path, layout: str, step: int = 200000) -> tuple[OriginalGenerator, Path]:
    """The original network, and its ``NNNNNN-G.ckpt`` (with ``-D.ckpt``) written as ``layout``."""
    G, D = trained_original_pair()
    folder.mkdir(parents=True, exist_ok=True)
    save_state(D.state_dict(), folder / f"{step}-D.ckpt", layout)
    return G, save_state(G.state_dict(), folder / f"{step}-G.ckpt", layout)


class DlimNorm(nn.Module):
    """DLIM2020's conditional instance norm ("ccbn"): gain and bias rows looked up by index."""

    def __init__(self, channels: int, c_dim: int) -> None:
        super().__init__()
        self.gain = nn.Embedding(c_dim, channels)
        self.bias = nn.Embedding(c_dim, channels)
        self.register_buffer("stored_mean", torch.zeros(channels))
        self.register_buffer("stored_var", torch.ones(channels))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        out = F.instance_norm(x, self.stored_mean, self.stored_var, None, None, self.training, 0.1, 1e-5)
        return out * (1 + self.gain(y))[:, :, None, None] + self.bias(y)[:, :, None, None]


class DlimBlock(nn.Module):
    def __init__(self, dim: int, c_dim: int) -> None:
        super().__init__()
        self.L1, self.L2 = nn.Conv2d(dim, dim, 3, 1, 1, bias=False), DlimNorm(dim, c_dim)
        self.L4, self.L5 = nn.Conv2d(dim, dim, 3, 1, 1, bias=False), DlimNorm(dim, c_dim)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return x + self.L5(self.L4(F.relu(self.L2(self.L1(x), y))), y)


class DlimGenerator(nn.Module):
    """DLIM2020's lookup-norm generator, modules ``L1`` ... ``L23`` (with two residual blocks
    here, ``L10``, ``L11``, so the up-sampling part is ``L12`` ... ``L19``)."""

    def __init__(self, conv_dim: int = 8, c_dim: int = 4) -> None:
        super().__init__()
        d = conv_dim
        self.L1, self.L2 = nn.Conv2d(3, d, 7, 1, 3, bias=False), DlimNorm(d, c_dim)
        self.L4, self.L5 = nn.Conv2d(d, 2 * d, 4, 2, 1, bias=False), DlimNorm(2 * d, c_dim)
        self.L7, self.L8 = nn.Conv2d(2 * d, 4 * d, 4, 2, 1, bias=False), DlimNorm(4 * d, c_dim)
        self.L10, self.L11 = DlimBlock(4 * d, c_dim), DlimBlock(4 * d, c_dim)
        self.L12, self.L13 = nn.ConvTranspose2d(4 * d, 2 * d, 4, 2, 1, bias=False), DlimNorm(2 * d, c_dim)
        self.L15, self.L16 = nn.ConvTranspose2d(2 * d, d, 4, 2, 1, bias=False), DlimNorm(d, c_dim)
        self.L18 = nn.Conv2d(d, 3, 7, 1, 3, bias=False)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        y = c.argmax(dim=1)
        x = F.relu(self.L2(self.L1(x), y))
        x = F.relu(self.L5(self.L4(x), y))
        x = F.relu(self.L8(self.L7(x), y))
        x = self.L11(self.L10(x, y), y)
        x = F.relu(self.L13(self.L12(x), y))
        x = F.relu(self.L16(self.L15(x), y))
        return torch.tanh(self.L18(x))
