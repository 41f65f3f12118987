"""Turn a file list, labels and a split into a :class:`Source`, from the cache or the files."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..errors import UsageError
from .cache import load_or_build
from .datasets import CachedDataset, ImageFileDataset, Source


def check_image_size(image_size: int) -> int:
    """Validate an image size (a positive int)."""
    if not isinstance(image_size, (int, np.integer)) or isinstance(image_size, bool) or image_size < 8:
        raise UsageError(f"image size must be a whole number of pixels >= 8, not {image_size!r}")
    return int(image_size)


def make_source(
    *,
    kind: str,
    name: str,
    names: Sequence[str],
    label_mode: str,
    image_dir: Path,
    files: Sequence[str],
    labels: torch.Tensor,
    train_idx: np.ndarray,
    test_idx: np.ndarray,
    split: str,
    image_size: int,
    use_cache: bool,
    build_cache: bool,
    quiet: bool,
) -> Source:
    """A Source over ``files`` (relative to ``image_dir``) with ``labels`` and the given split.

    With ``use_cache`` the preprocessed cache is used (built first when missing and
    ``build_cache``); unreadable images found by the build are dropped from both sets.
    Otherwise (or when no cache can be had) the datasets decode the files.
    """
    cache = None
    if use_cache:
        cache = load_or_build(
            kind, image_dir, files, image_size, build=build_cache, quiet=quiet,
            description=f"Preprocessing {name} at {image_size}px",
        )
    files_arr = np.asarray(files, dtype=str)
    labels = labels.to(torch.float32)
    if cache is not None:
        def cached(idx: np.ndarray) -> CachedDataset:
            rows = idx[cache.valid[idx]]
            return CachedDataset(cache.array_path, rows, labels[torch.from_numpy(rows)], files_arr[rows], image_size)

        return Source(
            name=name, names=list(names), label_mode=label_mode, train=cached(train_idx), test=cached(test_idx),
            skipped=len(cache.unreadable), cached=True, split=split, root=image_dir, cache_dir=cache.directory,
        )
    full = ImageFileDataset(image_dir, files_arr, labels, image_size)
    return Source(
        name=name, names=list(names), label_mode=label_mode, train=full.subset(train_idx), test=full.subset(test_idx),
        skipped=0, cached=False, split=split, root=image_dir,
    )
