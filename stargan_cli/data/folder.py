"""Folder-per-domain datasets (the RaFD layout): ``root/<domain>/*.jpg``, one-hot labels.

Domains are the subfolders that hold images (searched recursively), sorted by name; the label
of an image is the one-hot vector of its domain. Two layouts:

* ``root/<domain>/...``: a test set is held out per domain (see :mod:`.splits`);
* ``root/train/<domain>/...`` and ``root/test/<domain>/...`` (the StarGAN authors' RaFD
  layout): that split is used as it is.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import torch

from ..errors import StarganError
from ..images import IMAGE_SUFFIXES
from .datasets import DataWarning, Source
from .sources import check_image_size, make_source
from .splits import domain_split

_LAYOUT_HINT = "a folder dataset needs one subfolder of images per domain, e.g. DIR/happy/*.jpg and DIR/sad/*.jpg"


def _images_below(folder: Path) -> list[str]:
    """Image files under ``folder`` (recursive, hidden entries skipped), as sorted relative POSIX paths."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        rel = Path(dirpath).relative_to(folder)
        for name in filenames:
            if not name.startswith(".") and name.lower().endswith(IMAGE_SUFFIXES):
                found.append((rel / name).as_posix())
    return sorted(found)


def scan_domains(root: Path) -> dict[str, list[str]]:
    """``{domain: [files relative to the domain folder]}`` for each subfolder of ``root`` with images."""
    domains = {}
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        if entry.is_dir() and not entry.name.startswith("."):
            files = _images_below(Path(entry.path))
            if files:
                domains[entry.name] = files
    return domains


def _is_split_layout(root: Path) -> bool:
    return all((root / part).is_dir() and scan_domains(root / part) for part in ("train", "test"))


def load_folder(
    root: Path | str,
    image_size: int,
    *,
    use_cache: bool = True,
    build_cache: bool = True,
    seed: int = 1234,
    quiet: bool = False,
) -> Source:
    """A folder-per-domain dataset: one-hot labels over the sorted domain names, label_mode ``single``.

    The test set is ``root/test`` when the folder has ``train/`` and ``test/`` domain folders,
    else a seeded per-domain hold-out (a tenth, at least one image per domain of 2 or more).
    """
    image_size = check_image_size(image_size)
    root = Path(root).expanduser()
    if not root.is_dir():
        raise StarganError(f"folder dataset {root} does not exist: {_LAYOUT_HINT}")

    entries: list[tuple[str, str, bool]] = []  # (file relative to root, domain, is_test)
    if _is_split_layout(root):
        parts = {part: scan_domains(root / part) for part in ("train", "test")}
        names = sorted(set(parts["train"]) | set(parts["test"]))
        for domain in names:
            if domain not in parts["train"]:
                warnings.warn(f"domain {domain!r} has no training images in {root / 'train'}", DataWarning, stacklevel=2)
        for part, domains in parts.items():
            for domain, files in domains.items():
                entries += [(f"{part}/{domain}/{f}", domain, part == "test") for f in files]
        split = "train/ and test/ folders"
    else:
        domains = scan_domains(root)
        names = sorted(domains)
        for domain in names:
            train_files, test_files = domain_split(domains[domain], domain, seed)
            entries += [(f"{domain}/{f}", domain, False) for f in train_files]
            entries += [(f"{domain}/{f}", domain, True) for f in test_files]
        split = f"seeded per-domain split, seed {seed}"
    if len(names) < 2:
        found = f"only the domain {names[0]!r}" if names else "no subfolder with images"
        raise StarganError(f"{root} has {found}: {_LAYOUT_HINT}")

    entries.sort(key=lambda e: e[0])
    files = [e[0] for e in entries]
    index = {name: i for i, name in enumerate(names)}
    domain_ids = torch.tensor([index[e[1]] for e in entries], dtype=torch.long)
    labels = torch.nn.functional.one_hot(domain_ids, num_classes=len(names)).to(torch.float32)
    is_test = np.fromiter((e[2] for e in entries), dtype=bool, count=len(entries))
    return make_source(
        kind="folder", name=root.resolve().name, names=names, label_mode="single", image_dir=root,
        files=files, labels=labels, train_idx=np.flatnonzero(~is_test), test_idx=np.flatnonzero(is_test),
        split=split, image_size=image_size, use_cache=use_cache, build_cache=build_cache, quiet=quiet,
    )
