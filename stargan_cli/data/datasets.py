"""The two kinds of dataset every source provides, and the :class:`Source` that holds them.

An item is ``(image, label)``: ``image`` a ``(3, S, S)`` uint8 tensor, already cropped with the
CelebA framing and resized to ``S`` by :mod:`stargan_cli.images` (not flipped, not normalised;
the train loop does both on the device), ``label`` a float32 vector.

* :class:`ImageFileDataset` decodes the image files on each access (the "JPEG pipeline").
  A file that cannot be decoded gives ``None`` and a :class:`DataWarning`; the loader drops it
  and counts it.
* :class:`CachedDataset` reads rows of a preprocessed uint8 array (``.npy``, memory-mapped).
  Its :meth:`~CachedDataset.fetch` builds a whole batch with one fancy index, without any
  per-image Python work.

Both have ``fetch(indices) -> (images (b,3,S,S) uint8, labels (b,n) float32, skipped)``, which
is what the loader calls, one call per batch.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from ..images import crop_resize, open_image, pil_to_uint8

if TYPE_CHECKING:
    from collections.abc import Sized


class DataWarning(UserWarning):
    """A data problem training survives: an unreadable image, images missing from a folder."""


Batch = tuple[torch.Tensor, torch.Tensor, int]


def load_image_uint8(path: str | os.PathLike, image_size: int, *, warn: bool = True) -> torch.Tensor | None:
    """Decode one image file into the ``(3, S, S)`` uint8 model framing, or None if unreadable.

    Uses :mod:`stargan_cli.images` (open, CelebA crop, bilinear resize) so the cache and the
    file pipeline give identical tensors.
    """
    try:
        return pil_to_uint8(crop_resize(open_image(path), image_size))
    except Exception as err:  # noqa: BLE001 - any undecodable file is skipped, never a crash
        if warn:
            warnings.warn(f"skipping unreadable image: {err}", DataWarning, stacklevel=2)
        return None


@dataclass
class Source:
    """One labelled image collection, split into a training set and a held-out test set.

    ``name``: ``celeba`` or the folder dataset's folder name. ``names``: the attribute (CelebA)
    or domain (folder) names in label order. ``label_mode``: ``multi`` (independent binary
    attributes, BCE) or ``single`` (one domain of several, one-hot, cross-entropy).
    ``train``/``test``: datasets of ``(uint8 (3,S,S), float32 (len(names),))`` items.
    ``skipped``: unreadable images found so far (when the cache was built; the file pipeline
    finds them while loading, see ``BatchLoader.skipped``). ``cached``: whether the datasets
    read the preprocessed cache. ``split``: how the test set was chosen, in words.
    """

    name: str
    names: list[str]
    label_mode: str
    train: Dataset
    test: Dataset
    skipped: int = 0
    cached: bool = False
    split: str = ""
    root: Path | None = None
    cache_dir: Path | None = None

    def describe(self) -> str:
        """One line, e.g. ``celeba: 5 attributes, 5,428 train / 603 test images (cached)``."""
        kind = ("attribute" if self.label_mode == "multi" else "domain") + ("s" if len(self.names) != 1 else "")
        how = "cached" if self.cached else "decoded from image files"
        text = (
            f"{self.name}: {len(self.names)} {kind}, {len(self.train):,} train / "
            f"{len(self.test):,} test images ({how})"
        )
        if self.skipped:
            text += f", {self.skipped} unreadable skipped"
        return text


class ImageFileDataset(Dataset):
    """Images decoded from files on each access.

    ``files`` are paths relative to ``root``; ``labels`` a float32 tensor (N, n). Item ``i`` is
    ``(uint8 (3,S,S), label)``, or ``None`` for an unreadable file (with a DataWarning).
    """

    def __init__(self, root: str | os.PathLike, files: Sequence[str], labels: torch.Tensor, image_size: int):
        if len(files) != len(labels):
            raise ValueError(f"{len(files)} files but {len(labels)} labels")
        self.root = str(root)
        # A numpy string array, not a list of str: forked DataLoader workers would otherwise
        # touch (copy) every string's refcount page.
        self.files = np.asarray(files, dtype=str)
        self.labels = labels.to(torch.float32)
        self.image_size = int(image_size)

    def __len__(self) -> int:
        return len(self.files)

    def path(self, index: int) -> Path:
        """Full path of item ``index``."""
        return Path(self.root) / str(self.files[index])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor] | None:
        image = load_image_uint8(os.path.join(self.root, str(self.files[index])), self.image_size)
        if image is None:
            return None
        return image, self.labels[index]

    def fetch(self, indices: Sequence[int] | np.ndarray) -> Batch:
        """The items at ``indices`` as one batch, unreadable ones left out and counted."""
        images, keep = [], []
        for i in map(int, indices):
            image = load_image_uint8(os.path.join(self.root, str(self.files[i])), self.image_size)
            if image is not None:
                images.append(image)
                keep.append(i)
        size = self.image_size
        stacked = torch.stack(images) if images else torch.empty((0, 3, size, size), dtype=torch.uint8)
        return stacked, self.labels[keep], len(indices) - len(keep)

    def subset(self, indices: Sequence[int] | np.ndarray) -> "ImageFileDataset":
        """A dataset of the items at ``indices`` (in that order)."""
        idx = np.asarray(indices, dtype=np.int64)
        return ImageFileDataset(self.root, self.files[idx], self.labels[torch.from_numpy(idx)], self.image_size)


class CachedDataset(Dataset):
    """Rows of a preprocessed ``(R, 3, S, S)`` uint8 ``.npy`` array, opened memory-mapped.

    ``rows[i]`` is the array row of item ``i``. The memory map is opened lazily in each process
    (and dropped when pickled), so DataLoader workers share the page cache instead of copying.
    """

    def __init__(
        self,
        array_path: str | os.PathLike,
        rows: Sequence[int] | np.ndarray,
        labels: torch.Tensor,
        files: Sequence[str],
        image_size: int,
    ):
        self.array_path = str(array_path)
        self.rows = np.asarray(rows, dtype=np.int64)
        self.labels = labels.to(torch.float32)
        self.files = np.asarray(files, dtype=str)
        self.image_size = int(image_size)
        if not (len(self.rows) == len(self.labels) == len(self.files)):
            raise ValueError("rows, labels and files differ in length")
        self._array: np.ndarray | None = None

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_array"] = None  # pickling a memmap would copy the whole array
        return state

    @property
    def array(self) -> np.ndarray:
        """The memory-mapped image array (opened on first use in this process)."""
        if self._array is None:
            self._array = np.load(self.array_path, mmap_mode="r")
        return self._array

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.from_numpy(np.array(self.array[self.rows[index]])), self.labels[index]

    def fetch(self, indices: Sequence[int] | np.ndarray) -> Batch:
        """The items at ``indices`` as one batch: one fancy index of the memory map.

        Rows are read in ascending order (sequential-ish disk access) and put back in the
        order asked for.
        """
        idx = np.asarray(indices, dtype=np.int64)
        rows = self.rows[idx]
        order = np.argsort(rows, kind="stable")
        data = self.array[rows[order]]
        out = np.empty_like(data)
        out[order] = data
        return torch.from_numpy(out), self.labels[torch.from_numpy(idx)], 0

    def subset(self, indices: Sequence[int] | np.ndarray) -> "CachedDataset":
        """A dataset of the items at ``indices`` (in that order)."""
        idx = np.asarray(indices, dtype=np.int64)
        return CachedDataset(
            self.array_path, self.rows[idx], self.labels[torch.from_numpy(idx)], self.files[idx], self.image_size
        )


def fetch_batch(
    dataset: "Dataset | Sized", indices: Sequence[int] | np.ndarray
) -> tuple[torch.Tensor | None, torch.Tensor | None, int]:
    """One batch from any dataset: its ``fetch`` when it has one, else item by item.

    Items that are ``None`` (unreadable images) are left out; the third value counts them.
    Returns ``(None, None, skipped)`` when nothing in the batch could be read and the image
    shape is unknown.
    """
    fetch = getattr(dataset, "fetch", None)
    if fetch is not None:
        return fetch(indices)
    items = [dataset[i] for i in map(int, indices)]
    good = [item for item in items if item is not None]
    if not good:
        return None, None, len(items)
    images = torch.stack([torch.as_tensor(item[0]) for item in good])
    labels = torch.stack([torch.as_tensor(item[1], dtype=torch.float32) for item in good])
    return images, labels, len(items) - len(good)
