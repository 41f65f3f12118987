"""Held-out test splits: pure functions of file lists, seeds and partitions.

Rules (also in the README):

* CelebA with ``list_eval_partition.txt``: test = partition 2 (the official test set),
  train = partitions 0 and 1 (train + validation; StarGAN has no use for a validation set).
  Images the partition file does not list count as training images. If that leaves the test
  set or the training set empty (e.g. a subset of the first images, all in partition 0), the
  seeded rule is used instead.
* CelebA without it: the original StarGAN rule. The rows of the attribute file (images present
  on disk, file order) are shuffled with ``random.Random(seed)`` (seed 1234 by default) and the
  first ``n_test`` go to the test set, where ``n_test = min(test_size, n // 10)`` (2,000 for
  full CelebA; at least 1 when there are 2 images or more). With every image present and the
  default seed this is the original's test set (which, by an off-by-one, held 1,999 of them).
* Folder datasets: per domain, the domain's files (sorted) are shuffled with
  ``random.Random(f"{seed}:{domain}")`` and ``max(1, n // 10)`` go to the test set when the
  domain has 2 images or more (a domain with one image is training only). Seeding per domain
  keeps a domain's split unchanged when other domains are added.
"""

from __future__ import annotations

import random
from typing import Mapping, Sequence

import numpy as np

TEST_FRACTION_DIVISOR = 10  # at most a tenth of the images are held out


def held_out_count(n: int, test_size: int) -> int:
    """Number of test images for a seeded split of ``n`` images: ``min(test_size, n // 10)``, at least 1 if n >= 2."""
    if n < 2 or test_size <= 0:
        return 0
    return max(1, min(test_size, n // TEST_FRACTION_DIVISOR))


def seeded_split(n: int, seed: int, n_test: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, test)`` (each ascending): the first ``n_test`` of a ``random.Random(seed)`` shuffle are test."""
    order = list(range(n))
    random.Random(seed).shuffle(order)
    test = np.sort(np.asarray(order[:n_test], dtype=np.int64))
    train = np.sort(np.asarray(order[n_test:], dtype=np.int64))
    return train, test


def partition_split(files: Sequence[str], partition: Mapping[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, test)`` from the official partition: 2 is test, 0/1 (and unlisted) train."""
    parts = np.fromiter((partition.get(f, 0) for f in files), dtype=np.int64, count=len(files))
    return np.flatnonzero(parts != 2), np.flatnonzero(parts == 2)


def celeba_split(
    files: Sequence[str], partition: Mapping[str, int] | None, seed: int, test_size: int
) -> tuple[np.ndarray, np.ndarray, str]:
    """CelebA ``(train, test, rule)``: the official partition when usable, else the seeded split."""
    note = ""
    if partition:
        train, test = partition_split(files, partition)
        if len(train) and len(test):
            return train, test, "official partition (test = partition 2)"
        note = " (the official partition leaves no test images here)"
    n_test = held_out_count(len(files), test_size)
    train, test = seeded_split(len(files), seed, n_test)
    return train, test, f"seeded split, seed {seed}, {n_test} test images{note}"


def domain_split(files: Sequence[str], domain: str, seed: int) -> tuple[list[str], list[str]]:
    """One domain's files ``(train, test)`` (sorted): ``max(1, n // 10)`` held out when n >= 2."""
    ordered = sorted(files)
    n = len(ordered)
    n_test = max(1, n // TEST_FRACTION_DIVISOR) if n >= 2 else 0
    random.Random(f"{seed}:{domain}").shuffle(ordered)
    return sorted(ordered[n_test:]), sorted(ordered[:n_test])
