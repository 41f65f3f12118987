"""Detect: faces with five landmarks, MTCNN (Zhang et al., 2016) run in torch, weights bundled.

MTCNN is a cascade of three small networks: P-Net proposes face boxes over an image pyramid,
R-Net (24 px crops) rejects most of them and refines the rest, O-Net (48 px crops) gives the
final box and five landmarks: both eyes, the nose tip and both mouth corners. The weights
(~1.9 MB, MIT licence) are stored in ``assets/mtcnn.npz`` as plain arrays, loaded without
pickle; ``assets/MTCNN.txt`` says where they come from and how they were converted. The
inference code here is ours.

:func:`detect_landmarks` returns :class:`LandmarkFace` objects in photo coordinates (OpenCV
convention: pixel centres at integers). Points are ordered left eye, right eye, nose, left
mouth corner, right mouth corner, "left" meaning the image's left.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from ..images import rgb_array
from .face import Box

if TYPE_CHECKING:
    import torch
    from torch import nn

WEIGHTS_FILE = "mtcnn.npz"
# Probability thresholds of the three stages and the pyramid step: the published defaults.
THRESHOLDS = (0.6, 0.7, 0.7)
PYRAMID_FACTOR = 0.709
# Detection runs on a copy whose longer side is at most this many pixels.
DETECT_MAX_SIDE = 800

_nets_cache: dict[str, object] = {}


@dataclass(frozen=True)
class LandmarkFace:
    """One detected face: its box, its probability and its five landmarks, shape (5, 2)."""

    box: Box
    score: float
    points: np.ndarray = field(compare=False)


def _build_nets() -> "dict[str, nn.Module]":
    from torch import nn

    def block(cin: int, cout: int, kernel: int, pool: tuple[int, int] | None) -> list:
        layers = [nn.Conv2d(cin, cout, kernel), nn.PReLU(cout)]
        if pool is not None:
            layers.append(nn.MaxPool2d(pool[0], pool[1], ceil_mode=True))
        return layers

    class Head(nn.Module):
        """A trunk followed by 1x1 convolutions (P-Net) or linear layers (R-Net, O-Net)."""

        def __init__(self, trunk: list, outputs: tuple[int, ...], dense: tuple[int, int] | None) -> None:
            super().__init__()
            self.trunk = nn.Sequential(*trunk)
            if dense is None:
                self.neck = nn.Identity()
                self.heads = nn.ModuleList(nn.Conv2d(trunk[-1].num_parameters, n, 1) for n in outputs)
            else:
                self.neck = nn.Sequential(nn.Flatten(), nn.Linear(*dense), nn.PReLU(dense[1]))
                self.heads = nn.ModuleList(nn.Linear(dense[1], n) for n in outputs)

        def forward(self, x):  # noqa: D102 - a list: class logits, box offsets[, landmarks]
            features = self.neck(self.trunk(x))
            return [head(features) for head in self.heads]

    return {
        "pnet": Head(block(3, 10, 3, (2, 2)) + block(10, 16, 3, None) + block(16, 32, 3, None), (2, 4), None),
        "rnet": Head(
            block(3, 28, 3, (3, 2)) + block(28, 48, 3, (3, 2)) + block(48, 64, 2, None), (2, 4), (576, 128)
        ),
        "onet": Head(
            block(3, 32, 3, (3, 2)) + block(32, 64, 3, (3, 2)) + block(64, 64, 3, (2, 2)) + block(64, 128, 2, None),
            (2, 4, 10),
            (1152, 256),
        ),
    }


def load_nets() -> "dict[str, nn.Module]":
    """The three networks with the bundled weights, in eval mode on the CPU (loaded once)."""
    if "nets" in _nets_cache:
        return _nets_cache["nets"]  # type: ignore[return-value]
    import torch

    nets = _build_nets()
    with resources.files("stargan_cli.assets").joinpath(WEIGHTS_FILE).open("rb") as fh:
        arrays = np.load(fh, allow_pickle=False)
        for name, net in nets.items():
            state = {k[len(name) + 1:]: torch.from_numpy(arrays[k].copy()) for k in arrays.files if k.startswith(name + ".")}
            net.load_state_dict(state)
            net.eval()
    _nets_cache["nets"] = nets
    return nets


def _nms(boxes: "torch.Tensor", scores: "torch.Tensor", threshold: float, by_min: bool = False) -> "torch.Tensor":
    """Indices kept by non-maximum suppression; ``by_min``: overlap over the smaller area."""
    import torch

    if not by_min:
        from torchvision.ops import nms

        return nms(boxes, scores, threshold)
    order = torch.argsort(scores, descending=True).tolist()
    area = ((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])).tolist()
    b = boxes.tolist()
    keep: list[int] = []
    for i in order:
        ok = True
        for j in keep:
            w = min(b[i][2], b[j][2]) - max(b[i][0], b[j][0])
            h = min(b[i][3], b[j][3]) - max(b[i][1], b[j][1])
            if w > 0 and h > 0 and w * h / max(min(area[i], area[j]), 1e-6) > threshold:
                ok = False
                break
        if ok:
            keep.append(i)
    return torch.tensor(keep, dtype=torch.long)


def _square(boxes: "torch.Tensor") -> "torch.Tensor":
    """Boxes (x1, y1, x2, y2) grown to squares about the same centre."""
    import torch

    side = torch.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    return torch.stack([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2], dim=1)


def _refine(boxes: "torch.Tensor", offsets: "torch.Tensor") -> "torch.Tensor":
    """Apply the networks' box regression (offsets in box widths/heights)."""
    size = (boxes[:, 2:] - boxes[:, :2]).repeat(1, 2)
    return boxes + offsets * size


def _crops(image: "torch.Tensor", boxes: "torch.Tensor", side: int) -> "torch.Tensor":
    """Normalised ``side`` px crops of ``boxes`` (zero outside the image), area-averaged."""
    from torchvision.ops import roi_align

    rois = boxes.new_zeros((len(boxes), 5))
    rois[:, 1:] = boxes
    patches = roi_align(image, rois, (side, side), spatial_scale=1.0, sampling_ratio=-1, aligned=False)
    return (patches - 127.5) / 128.0


def _pyramid(height: int, width: int, min_face: int) -> list[float]:
    scales = []
    scale = 12.0 / min_face
    while min(height, width) * scale >= 12:
        scales.append(scale)
        scale *= PYRAMID_FACTOR
    return scales


def _detect(array: np.ndarray, min_face: int) -> list[LandmarkFace]:
    """The three stages on one uint8 RGB array, in its own coordinates."""
    import torch
    import torch.nn.functional as F

    nets = load_nets()
    height, width = array.shape[:2]
    image = torch.from_numpy(np.array(array, dtype=np.uint8)).permute(2, 0, 1)[None].float()
    with torch.inference_mode():
        # Stage 1: P-Net slides a 12 px window (stride 2) over each pyramid level.
        found = []
        for scale in _pyramid(height, width, min_face):
            size = (math.ceil(height * scale), math.ceil(width * scale))
            level = (F.interpolate(image, size=size, mode="area") - 127.5) / 128.0
            logits, offsets = nets["pnet"](level)
            prob = logits.softmax(1)[0, 1]
            ys, xs = torch.nonzero(prob >= THRESHOLDS[0], as_tuple=True)
            if len(ys) == 0:
                continue
            corner = torch.stack([xs, ys], dim=1).float() * 2
            boxes = torch.cat([corner, corner + 12], dim=1) / scale
            scores = prob[ys, xs]
            reg = offsets[0, :, ys, xs].T
            keep = _nms(boxes, scores, 0.5)
            found.append((boxes[keep], scores[keep], reg[keep]))
        if not found:
            return []
        boxes, scores, reg = (torch.cat(parts) for parts in zip(*found))
        keep = _nms(boxes, scores, 0.7)
        boxes = _square(_refine(boxes[keep], reg[keep]))
        # Stage 2: R-Net on 24 px crops.
        logits, reg = nets["rnet"](_crops(image, boxes, 24))
        scores = logits.softmax(1)[:, 1]
        ok = scores > THRESHOLDS[1]
        boxes, scores, reg = boxes[ok], scores[ok], reg[ok]
        if len(boxes) == 0:
            return []
        keep = _nms(boxes, scores, 0.7)
        boxes = _square(_refine(boxes[keep], reg[keep]))
        # Stage 3: O-Net on 48 px crops gives the final boxes and the landmarks.
        logits, reg, marks = nets["onet"](_crops(image, boxes, 48))
        scores = logits.softmax(1)[:, 1]
        ok = scores > THRESHOLDS[2]
        boxes, scores, reg, marks = boxes[ok], scores[ok], reg[ok], marks[ok]
        if len(boxes) == 0:
            return []
        size = boxes[:, 2:] - boxes[:, :2]
        points = torch.stack([marks[:, :5], marks[:, 5:]], dim=2) * size[:, None, :] + boxes[:, None, :2]
        boxes = _refine(boxes, reg)
        keep = _nms(boxes, scores, 0.7, by_min=True)
    faces = []
    for i in keep.tolist():
        x1, y1, x2, y2 = boxes[i].tolist()
        # Half a pixel: the networks work in pixel-edge coordinates, OpenCV in pixel centres.
        faces.append(LandmarkFace(Box(x1, y1, x2 - x1, y2 - y1), float(scores[i]), points[i].numpy().astype(np.float64) - 0.5))
    return faces


def detect_landmarks(
    image: "Image.Image | np.ndarray",
    *,
    order: str = "left_to_right",
    min_face: int = 20,
    max_side: int = DETECT_MAX_SIDE,
) -> list[LandmarkFace]:
    """Faces with five landmarks in an RGB image (PIL or uint8 (H, W, 3) array).

    Large images are searched on a copy whose longer side is ``max_side``; ``min_face`` is
    the smallest face side searched for, in pixels of that copy. ``order``:
    ``"left_to_right"`` (by box centre, the order the CLI numbers faces in) or ``"largest"``.
    Results are in the image's own coordinates; an empty list means no face.
    """
    if order not in ("left_to_right", "largest"):
        raise ValueError(f"order must be 'left_to_right' or 'largest', not {order!r}")
    array = rgb_array(image)
    height, width = array.shape[:2]
    scale = min(1.0, max_side / max(height, width))
    small = array
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        small = np.asarray(Image.fromarray(array).resize(size, Image.BILINEAR))
        scale = small.shape[1] / width
    faces = _detect(small, min_face)
    if scale < 1.0:
        # Pixel centres: x_small + 0.5 = (x + 0.5) * scale.
        faces = [
            LandmarkFace(f.box.scaled(1 / scale), f.score, (f.points + 0.5) / scale - 0.5) for f in faces
        ]
    if order == "largest":
        return sorted(faces, key=lambda f: f.box.area, reverse=True)
    return sorted(faces, key=lambda f: f.box.center[0])


__all__ = ["DETECT_MAX_SIDE", "LandmarkFace", "detect_landmarks", "load_nets"]
