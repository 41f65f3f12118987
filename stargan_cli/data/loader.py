"""Batches for training and evaluation, reproducible from (seed, epoch) and resumable.

The batches of an epoch are a pure function of ``(seed, epoch, dataset length, batch size,
rank, world)`` (:func:`epoch_batches`). A :class:`BatchLoader` walks them through a torch
DataLoader whose sampler yields whole index lists, so one worker task fetches one batch: a
single fancy index of the memory-mapped cache, or the batch's image files decoded in a row.

Resuming: ``state = loader.state_dict()`` gives ``{"epoch", "position", ...}`` where
``position`` counts the batches of ``epoch`` already handed out. A fresh loader built with the
same arguments and given ``loader.load_state_dict(state)`` yields exactly the batches that
would have come next, without fetching the skipped ones.
"""

from __future__ import annotations

import math
import os
import warnings
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from ..errors import StarganError
from .datasets import CachedDataset, DataWarning, fetch_batch


def _rng_seed(seed: int) -> int:
    return int(seed) % (2**63)


def epoch_batches(
    n: int,
    batch_size: int,
    *,
    epoch: int,
    seed: int,
    shuffle: bool,
    drop_last: bool,
    rank: int = 0,
    world: int = 1,
) -> list[np.ndarray]:
    """Index batches of one epoch for one rank (pure).

    Shuffled order: ``numpy.random.default_rng([seed, epoch]).permutation(n)``. With several
    ranks every rank gets the same number of batches: the order is cut to a multiple of
    ``world`` (``drop_last``) or padded by wrapping around, then rank ``r`` takes every
    ``world``-th index from ``r``.
    """
    if n <= 0:
        return []
    order = np.random.default_rng([_rng_seed(seed), int(epoch)]).permutation(n) if shuffle else np.arange(n)
    if world > 1:
        if drop_last:
            order = order[: (n // world) * world]
        else:
            total = math.ceil(n / world) * world
            order = np.resize(order, total)  # repeats from the start
        order = order[rank::world]
    m = len(order)
    count = m // batch_size if drop_last else math.ceil(m / batch_size)
    return [order[i * batch_size : (i + 1) * batch_size] for i in range(count)]


class _Planned(Sampler):
    """Yields the index lists that the BatchLoader planned for the current pass."""

    def __init__(self) -> None:
        self.batches: list[np.ndarray] = []

    def __iter__(self) -> Iterator[list[int]]:
        return (b.tolist() for b in self.batches)

    def __len__(self) -> int:
        return len(self.batches)


class _BatchFetcher(Dataset):
    """Dataset view whose item is a whole batch: ``fetch_batch(dataset, indices)``."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset

    def __getitem__(self, indices: list[int]):
        return fetch_batch(self.dataset, indices)

    def __len__(self) -> int:
        return len(self.dataset)


def _identity(x: Any) -> Any:
    return x


def cpu_count() -> int:
    """CPUs this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def default_workers(dataset: Dataset, world: int = 1) -> int:
    """DataLoader processes: the CPUs per rank (at most 12) for image files, none for the cache.

    A cached batch is one fancy index of the memory map (~0.1 ms for 16 images at 128 px);
    shipping it back from a worker process costs more than that, so the cache is read in this
    process, by a prefetch thread (numpy releases the GIL while copying).
    """
    if isinstance(dataset, CachedDataset):
        return 0
    return min(12, max(1, cpu_count() // max(1, world)))


def _thread_prefetch(
    dataset: Dataset, batches: Sequence[np.ndarray], depth: int, pin: bool
) -> Iterator[tuple[torch.Tensor | None, torch.Tensor | None, int]]:
    """``fetch_batch`` of each batch, in order, run ``depth`` batches ahead on one thread."""

    def fetch(indices: np.ndarray):
        images, labels, bad = fetch_batch(dataset, indices)
        if pin and images is not None:
            images, labels = images.pin_memory(), labels.pin_memory()
        return images, labels, bad

    if depth <= 0:
        yield from (fetch(b) for b in batches)
        return
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stargan-prefetch")
    try:
        pending: deque[Future] = deque(pool.submit(fetch, b) for b in batches[:depth])
        ahead = len(pending)
        while pending:
            result = pending.popleft().result()
            if ahead < len(batches):
                pending.append(pool.submit(fetch, batches[ahead]))
                ahead += 1
            yield result
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _ignore_sigint(worker_id: int) -> None:
    """Ctrl-C in a terminal reaches the whole process group: workers ignore it, so the main
    process can save a checkpoint and shut them down in order."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


class BatchLoader:
    """Iterable over ``(images uint8 (B,3,S,S), labels float32 (B,n))`` batches, one epoch per pass.

    Each ``for batch in loader`` continues where the last pass stopped and runs to the end of
    the epoch; then ``epoch`` advances. ``skipped`` counts unreadable images dropped from
    batches (a batch with one is that much smaller). ``state_dict()`` / ``load_state_dict()``
    save and restore the position; ``set_epoch(e)`` jumps to the start of epoch ``e``. Only
    one pass at a time.

    With ``num_workers > 0`` batches come from a torch DataLoader (persistent worker
    processes, one task per batch); with 0 from this process, ``prefetch`` batches ahead on a
    background thread (0: no thread). ``num_workers`` defaults to :func:`default_workers` (0
    for the cache: read in this process by a prefetch thread); ``pin_memory`` to whether CUDA
    is there. ``distributed=(rank, world)`` gives each rank its own equal share of every epoch.
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int,
        *,
        shuffle: bool,
        seed: int,
        num_workers: int | None = None,
        drop_last: bool = True,
        distributed: tuple[int, int] | None = None,
        pin_memory: bool | None = None,
        prefetch: int = 4,
    ):
        if batch_size < 1:
            raise StarganError(f"batch size must be at least 1, not {batch_size}")
        rank, world = distributed if distributed else (0, 1)
        if not 0 <= rank < world:
            raise ValueError(f"rank {rank} is not in 0..{world - 1}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.drop_last = bool(drop_last)
        self.rank, self.world = int(rank), int(world)
        self.num_workers = default_workers(dataset, world) if num_workers is None else int(num_workers)
        self.pin_memory = torch.cuda.is_available() if pin_memory is None else bool(pin_memory)
        self.prefetch = max(0, int(prefetch))
        self.epoch = 0
        self.position = 0
        self.skipped = 0
        self._sampler = _Planned()
        self._loader: DataLoader | None = None
        if self.num_workers > 0:
            self._loader = DataLoader(
                _BatchFetcher(dataset),
                batch_size=None,
                sampler=self._sampler,
                num_workers=self.num_workers,
                collate_fn=_identity,
                pin_memory=self.pin_memory,
                persistent_workers=True,
                prefetch_factor=max(2, self.prefetch),
                worker_init_fn=_ignore_sigint,
            )

    def __len__(self) -> int:
        """Batches per epoch (for this rank)."""
        n = len(self.dataset)
        if self.world > 1:
            n = n // self.world if self.drop_last else math.ceil(n / self.world)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def batches(self, epoch: int) -> list[np.ndarray]:
        """Dataset indices of every batch of ``epoch`` for this rank."""
        return epoch_batches(
            len(self.dataset), self.batch_size, epoch=epoch, seed=self.seed, shuffle=self.shuffle,
            drop_last=self.drop_last, rank=self.rank, world=self.world,
        )

    def set_epoch(self, epoch: int) -> None:
        """Start the next pass at the beginning of ``epoch``."""
        self.epoch, self.position = int(epoch), 0

    def state_dict(self) -> dict[str, int]:
        """Position to resume from: ``epoch`` and ``position`` (batches of it already handed out)."""
        return {
            "epoch": self.epoch, "position": self.position, "seed": self.seed,
            "batch_size": self.batch_size, "length": len(self.dataset), "world": self.world,
            "skipped": self.skipped,
        }

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Resume at ``state`` (from :meth:`state_dict`) so the next batches are the ones that were due.

        If the seed, batch size, dataset length or world size changed since, exact resumption
        is impossible: a DataWarning is issued and the loader starts at the beginning of the
        saved epoch.
        """
        self.epoch = int(state.get("epoch", 0))
        self.position = int(state.get("position", 0))
        self.skipped = int(state.get("skipped", 0))
        mine = self.state_dict()
        changed = [k for k in ("seed", "batch_size", "length", "world") if k in state and state[k] != mine[k]]
        if changed:
            warnings.warn(
                "the data changed since this state was saved ("
                + ", ".join(f"{k} {state[k]} -> {mine[k]}" for k in changed)
                + f"); starting epoch {self.epoch} from its beginning",
                DataWarning,
                stacklevel=2,
            )
            self.position = 0

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        if self.position >= len(self):
            self.epoch, self.position = self.epoch + 1, 0
        planned = self.batches(self.epoch)[self.position :]
        if self._loader is not None:
            self._sampler.batches = planned
            results: Any = self._loader
        else:
            results = _thread_prefetch(self.dataset, planned, self.prefetch, self.pin_memory)
        for images, labels, bad in results:
            # Both keep the planned order, so each result is the next planned batch.
            self.position += 1
            self.skipped += bad
            if images is None or len(images) == 0:
                continue
            yield images, labels
        self.epoch, self.position = self.epoch + 1, 0


def make_loader(dataset: Dataset, batch_size: int, **options: Any) -> BatchLoader:
    """A resumable :class:`BatchLoader` over ``dataset``; ``options`` are its keyword arguments
    (``shuffle`` and ``seed`` required)."""
    return BatchLoader(dataset, batch_size, **options)


def infinite_batches(loader: Any) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Batches of ``loader``, epoch after epoch, forever (for the train loop).

    Raises StarganError when a whole epoch yields nothing (fewer images than one batch, or
    none readable).
    """
    while True:
        produced = False
        for batch in loader:
            produced = True
            yield batch
        if not produced:
            n = len(getattr(loader, "dataset", ()))
            size = getattr(loader, "batch_size", "?")
            raise StarganError(
                f"the training data gives no batch: {n} image(s), batch size {size}; "
                "use a smaller --batch-size or a dataset with more (readable) images"
            )


def sample_batch(dataset: Dataset, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` fixed images and labels of ``dataset`` (a seeded choice; unreadable ones replaced).

    Returns fewer than ``n`` only when the dataset has fewer readable images.
    """
    order = np.random.default_rng(_rng_seed(seed)).permutation(len(dataset))
    images: list[torch.Tensor] = []
    labels: list[torch.Tensor] = []
    have = 0
    start = 0
    while have < n and start < len(order):
        chunk = order[start : start + (n - have)]
        start += len(chunk)
        got_images, got_labels, _ = fetch_batch(dataset, chunk.tolist())
        if got_images is not None and len(got_images):
            images.append(got_images)
            labels.append(got_labels)
            have += len(got_images)
    if not images:
        raise StarganError("the dataset has no readable image to sample")
    return torch.cat(images), torch.cat(labels)


def iterate_in_order(dataset: Dataset, batch_size: int, num_workers: int | None = None) -> BatchLoader:
    """Every item once, in dataset order, last batch partial (for evaluation)."""
    return BatchLoader(dataset, batch_size, shuffle=False, seed=0, num_workers=num_workers, drop_last=False)


__all__: Sequence[str] = (
    "BatchLoader", "make_loader", "infinite_batches", "sample_batch", "epoch_batches", "iterate_in_order",
)
