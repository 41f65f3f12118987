"""The preprocessed cache: every image of a dataset, cropped and resized once, as one uint8 array.

Layout: ``paths.cache_root()/preprocessed/<kind>-<S>px-<key>/`` with

* ``images.npy``: ``(N, 3, S, S)`` uint8, one row per file of the dataset's file list (rows of
  unreadable files are zeros and marked invalid);
* ``meta.json``: format version, image size, image folder, the file list and the unreadable
  files. Labels are not cached: they are read from the attribute file / folder names at each
  load, so choosing other attributes needs no rebuild.

``key`` hashes the format version, the preprocessing code, the resolved image folder, the image
size and the file list, so a changed dataset or size gets its own cache. Both files are written
to temporary names in the same folder and renamed into place (``meta.json`` last: it marks the
cache complete), so an interrupted build leaves nothing that would be used.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Sequence

import numpy as np

from .. import images as image_module
from .. import paths
from ..fileio import atomic_path, atomic_write
from .datasets import DataWarning, load_image_uint8
from .loader import cpu_count

if TYPE_CHECKING:
    import torch

CACHE_FORMAT = 1
ARRAY_NAME = "images.npy"
META_NAME = "meta.json"
CHUNK = 64  # images decoded per worker task while building


@dataclass
class Cache:
    """An opened cache: the array file, its file list and which rows hold an image."""

    directory: Path
    files: list[str]
    valid: np.ndarray  # bool (N,)
    unreadable: list[str]

    @property
    def array_path(self) -> Path:
        """The ``(N, 3, S, S)`` uint8 ``.npy`` file."""
        return self.directory / ARRAY_NAME


def files_digest(files: Sequence[str]) -> str:
    """SHA-256 of a file list (order matters)."""
    digest = hashlib.sha256()
    for name in files:
        digest.update(name.encode("utf-8", "surrogateescape"))
        digest.update(b"\0")
    return digest.hexdigest()


def cache_dir_for(kind: str, image_dir: Path, files: Sequence[str], image_size: int) -> Path:
    """Cache folder for a dataset (kind, image folder, file list) at one image size."""
    key_source = json.dumps(
        {
            "format": CACHE_FORMAT,
            "pipeline": image_module.PREPROCESS_VERSION,
            "root": str(Path(image_dir).resolve()),
            "size": int(image_size),
            "files": files_digest(files),
        },
        sort_keys=True,
    )
    key = hashlib.sha256(key_source.encode()).hexdigest()[:16]
    return paths.preprocessed_dir(create=False) / f"{kind}-{int(image_size)}px-{key}"


def open_cache(directory: Path, files: Sequence[str], image_size: int) -> Cache | None:
    """The cache in ``directory`` if it is complete and matches ``files`` and ``image_size``, else None."""
    meta_path = Path(directory) / META_NAME
    array_path = Path(directory) / ARRAY_NAME
    if not meta_path.is_file() or not array_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if (
            meta.get("format") != CACHE_FORMAT
            or meta.get("image_size") != image_size
            or meta.get("files") != list(files)
        ):
            return None
        array = np.load(array_path, mmap_mode="r")
        if array.shape != (len(files), 3, image_size, image_size) or array.dtype != np.uint8:
            return None
    except (OSError, ValueError, json.JSONDecodeError):
        return None
    unreadable = list(meta.get("unreadable", []))
    bad = set(unreadable)
    valid = np.fromiter((f not in bad for f in files), dtype=bool, count=len(files))
    return Cache(Path(directory), list(files), valid, unreadable)


class _Chunks:
    """Decodes chunks of a file list for the build's DataLoader (picklable, no lambdas)."""

    def __init__(self, image_dir: str, files: Sequence[str], image_size: int):
        self.image_dir = image_dir
        self.files = np.asarray(files, dtype=str)
        self.image_size = image_size

    def __len__(self) -> int:
        return (len(self.files) + CHUNK - 1) // CHUNK

    def __getitem__(self, chunk: int) -> tuple[int, "torch.Tensor", list[int]]:
        import torch  # a tensor travels back from a worker through shared memory, not a pipe

        start = chunk * CHUNK
        names = self.files[start : start + CHUNK]
        size = self.image_size
        out = torch.zeros((len(names), 3, size, size), dtype=torch.uint8)
        bad = []
        for j, name in enumerate(names):
            image = load_image_uint8(os.path.join(self.image_dir, str(name)), size, warn=False)
            if image is None:
                bad.append(start + j)
            else:
                out[j] = image
        return start, out, bad


def _identity(x):
    return x


def default_build_workers(n_files: int) -> int:
    """Decode processes for a build: every CPU (at most 16), none for tiny datasets."""
    if n_files < 4 * CHUNK:
        return 0
    return min(16, cpu_count())


def build_cache(
    directory: Path,
    image_dir: Path,
    files: Sequence[str],
    image_size: int,
    *,
    description: str = "Preprocessing",
    quiet: bool = False,
    num_workers: int | None = None,
) -> Cache | None:
    """Decode, crop and resize every file into ``directory`` (atomically); return the opened cache.

    Unreadable images are left out (their rows stay zero and invalid) and reported in one
    DataWarning. Returns None, with a DataWarning, when the disk lacks the space; the caller
    then falls back to decoding the files.
    """
    from torch.utils.data import DataLoader

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    n = len(files)
    need = n * 3 * image_size * image_size
    free = shutil.disk_usage(directory).free
    if need + (64 << 20) > free:
        warnings.warn(
            f"not enough disk space for the preprocessed cache ({need / 2**30:.1f} GiB needed, "
            f"{free / 2**30:.1f} GiB free in {directory}); decoding the image files instead",
            DataWarning,
            stacklevel=2,
        )
        return None
    workers = default_build_workers(n) if num_workers is None else num_workers
    loader = DataLoader(
        _Chunks(str(image_dir), files, image_size),
        batch_size=None,
        shuffle=False,
        num_workers=workers,
        collate_fn=_identity,
        prefetch_factor=4 if workers else None,
    )
    bad: list[int] = []
    with atomic_path(directory / ARRAY_NAME) as tmp_array:
        array = np.lib.format.open_memmap(tmp_array, mode="w+", dtype=np.uint8, shape=(n, 3, image_size, image_size))
        with _progress(quiet) as progress:
            task = progress.add_task(description, total=n) if progress else None
            for start, chunk, chunk_bad in loader:
                array[start : start + len(chunk)] = chunk.numpy()
                bad.extend(chunk_bad)
                if progress is not None:
                    progress.advance(task, len(chunk))
        array.flush()
        del array
    unreadable = [str(files[i]) for i in sorted(bad)]
    meta = {
        "format": CACHE_FORMAT,
        "image_size": int(image_size),
        "image_dir": str(Path(image_dir).resolve()),
        "count": n,
        "unreadable": unreadable,
        "files": list(map(str, files)),
    }
    text = json.dumps(meta)
    atomic_write(directory / META_NAME, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    if unreadable:
        shown = ", ".join(unreadable[:5]) + (", ..." if len(unreadable) > 5 else "")
        warnings.warn(
            f"skipped {len(unreadable)} unreadable image(s) in {image_dir}: {shown}", DataWarning, stacklevel=2
        )
    cache = open_cache(directory, files, image_size)
    if cache is None:  # pragma: no cover - we just wrote it
        raise RuntimeError(f"the cache written to {directory} does not read back")
    return cache


class _NoProgress:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def _progress(quiet: bool):
    if quiet:
        return _NoProgress()
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn

    from ..progress import make_progress

    return make_progress(
        Console(stderr=True),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        unit="images",
        transient=False,
    )


def load_or_build(
    kind: str,
    image_dir: Path,
    files: Sequence[str],
    image_size: int,
    *,
    build: bool,
    quiet: bool,
    description: str,
) -> Cache | None:
    """The matching cache, built first when missing and ``build``; None when there is none."""
    directory = cache_dir_for(kind, image_dir, files, image_size)
    cache = open_cache(directory, files, image_size)
    if cache is None and build:
        directory.mkdir(parents=True, exist_ok=True)
        with _build_lock(directory):
            # Another process (a DDP rank) may have built it while we waited for the lock.
            cache = open_cache(directory, files, image_size)
            if cache is None:
                cache = build_cache(directory, image_dir, files, image_size, description=description, quiet=quiet)
    return cache


BUILD_LOCK_NAME = ".lock"


@contextmanager
def _build_lock(directory: Path) -> Iterator[None]:
    """Hold ``directory``'s build lock (waiting for another builder, such as a DDP rank). The
    lock names this process to ``stargan cache clear``, which refuses to clear a cache being
    built; a clear that moved the folder away just before we locked it is survived by making
    the folder again."""
    from ..locks import Lock

    lock = Lock(directory / BUILD_LOCK_NAME, f"the preprocessed cache {directory}")
    for attempt in range(10):
        directory.mkdir(parents=True, exist_ok=True)
        try:
            lock.acquire(wait=None)
            break
        except FileNotFoundError:  # the folder was cleared between mkdir and lock
            if attempt == 9:
                raise
    try:
        yield
    finally:
        lock.release()
