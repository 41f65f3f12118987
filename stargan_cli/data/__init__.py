"""Training and evaluation data: CelebA, folder-per-domain datasets, the preprocessed cache, loaders.

Typical use::

    from stargan_cli.data import load_celeba, make_loader, infinite_batches

    source = load_celeba(None, ["Black_Hair", "Blond_Hair", "Male"], 128)
    loader = make_loader(source.train, 16, shuffle=True, seed=1234)
    for images, labels in infinite_batches(loader):   # uint8 (16,3,128,128), float (16,3)
        ...                                           # normalise + flip on the device

Items and batches hold uint8 images already cropped (CelebA framing) and resized by
:mod:`stargan_cli.images`, not flipped and not normalised.
"""

from __future__ import annotations

from .cache import build_cache, cache_dir_for, open_cache
from .celeba import (
    AttributeTable,
    default_root,
    load_celeba,
    locate_celeba,
    parse_attribute_file,
    parse_attribute_text,
    parse_partition_file,
)
from .datasets import CachedDataset, DataWarning, ImageFileDataset, Source, fetch_batch, load_image_uint8
from .folder import load_folder
from .loader import BatchLoader, epoch_batches, infinite_batches, iterate_in_order, make_loader, sample_batch
from .splits import celeba_split, domain_split, held_out_count, seeded_split

__all__ = [
    "AttributeTable",
    "BatchLoader",
    "CachedDataset",
    "DataWarning",
    "ImageFileDataset",
    "Source",
    "build_cache",
    "cache_dir_for",
    "celeba_split",
    "default_root",
    "domain_split",
    "epoch_batches",
    "fetch_batch",
    "held_out_count",
    "infinite_batches",
    "iterate_in_order",
    "load_celeba",
    "load_folder",
    "load_image_uint8",
    "locate_celeba",
    "make_loader",
    "open_cache",
    "parse_attribute_file",
    "parse_attribute_text",
    "parse_partition_file",
    "sample_batch",
    "seeded_split",
]
