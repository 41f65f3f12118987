"""CelebA as distributed: finding its files, reading the attribute and partition files, loading.

A dataset root may hold the files in any of the usual layouts, e.g.::

    root/list_attr_celeba.txt          root/Anno/list_attr_celeba.txt
    root/images/000001.jpg             root/img_align_celeba/000001.jpg
    root/celeba/images/...             (the StarGAN authors' archive)
    root/img_align_celeba/img_align_celeba/...   (Kaggle)

``list_eval_partition.txt`` (optional) is looked for the same way.
"""

from __future__ import annotations

import codecs
import os
import warnings
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from .. import paths
from ..attributes import parse_attribute_list
from ..errors import StarganError
from .datasets import DataWarning, Source
from .sources import check_image_size, make_source
from .splits import celeba_split

ATTR_FILE = "list_attr_celeba.txt"
PARTITION_FILE = "list_eval_partition.txt"
IMAGE_DIR_NAMES = ("images", "img_align_celeba")
# Folders never searched for the text files (they hold 200k images).
_SKIP_DIRS = {"images", "img_align_celeba", "img_celeba", "img_align_celeba_png"}
_VALUES = {"1": 1, "-1": 0, "0": 0}
_DOWNLOAD_HINT = (
    "run `stargan download celeba` or pass --data DIR (a folder with list_attr_celeba.txt "
    "and the img_align_celeba images)"
)


def default_root() -> Path:
    """Where ``stargan download celeba`` puts CelebA."""
    return paths.datasets_dir(create=False) / "celeba"


@dataclass
class AttributeTable:
    """Contents of ``list_attr_celeba.txt``: ``values[i, j]`` is 1 if file ``i`` has attribute ``j``."""

    names: list[str]
    files: list[str]
    values: np.ndarray  # uint8 (N, len(names)), 0/1

    def columns(self, attributes: Sequence[str]) -> np.ndarray:
        """Column indices of ``attributes`` (canonical names), case-insensitively."""
        by_key = {n.lower(): j for j, n in enumerate(self.names)}
        missing = [a for a in attributes if a.lower() not in by_key]
        if missing:
            raise StarganError(
                f"the attribute file has no column {', '.join(missing)}: it lists {', '.join(self.names)}"
            )
        return np.asarray([by_key[a.lower()] for a in attributes], dtype=np.int64)


def _tokens(line: str) -> list[str]:
    # Kaggle ships a CSV variant (image_id,5_o_Clock_Shadow,...): commas count as spaces.
    return line.replace(",", " ").split()


def parse_attribute_text(text: str, source: str = ATTR_FILE) -> AttributeTable:
    """Parse the text of ``list_attr_celeba.txt``.

    Accepts the leading image-count line or not, LF or CRLF, any runs of spaces/tabs (or
    commas), values 1/-1 (or 1/0), and a header that names the file column (``image_id``).
    """
    lines = [(n, line) for n, line in enumerate(text.lstrip("\ufeff").splitlines(), 1) if line.strip()]
    if not lines:
        raise StarganError(f"{source} is empty")
    count: int | None = None
    first = _tokens(lines[0][1])
    if len(first) == 1 and first[0].isdigit():
        count = int(first[0])
        lines = lines[1:]
    if not lines:
        raise StarganError(f"{source} has no header line of attribute names")
    names = _tokens(lines[0][1])
    body = lines[1:]
    if body:
        width = len(_tokens(body[0][1])) - 1
        if len(names) == width + 1:  # header names the file column too
            names = names[1:]
    if not names or len(set(names)) != len(names):
        raise StarganError(f"{source}: the header line should list the attribute names once each")
    n_cols = len(names)
    files: list[str] = []
    values = np.zeros((len(body), n_cols), dtype=np.uint8)
    for i, (number, line) in enumerate(body):
        parts = _tokens(line)
        if len(parts) != n_cols + 1:
            raise StarganError(
                f"{source} line {number}: expected a file name and "
                f"{n_cols} values, found {len(parts)} fields; is the file complete?"
            )
        try:
            values[i] = [_VALUES[v] for v in parts[1:]]
        except KeyError:
            raise StarganError(
                f"{source} line {number}: values must be 1 or -1"
            ) from None
        files.append(parts[0])
    if count is not None and count != len(files):
        warnings.warn(
            f"{source} announces {count} images but lists {len(files)}", DataWarning, stacklevel=2
        )
    return AttributeTable(names, files, values)


def parse_attribute_file(path: str | os.PathLike) -> AttributeTable:
    """Read and parse ``list_attr_celeba.txt``."""
    path = Path(path)
    return parse_attribute_text(_read_text(path), source=str(path))


def parse_partition_text(text: str, source: str = PARTITION_FILE) -> dict[str, int]:
    """Parse ``list_eval_partition.txt`` (``file partition`` per line; 0 train, 1 val, 2 test)."""
    partition: dict[str, int] = {}
    for number, line in enumerate(text.lstrip("\ufeff").splitlines(), 1):
        parts = _tokens(line)
        if not parts:
            continue
        if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
            if number == 1 and len(parts) == 2 and not parts[1].isdigit():
                continue  # a CSV header (image_id,partition)
            raise StarganError(f"{source} line {number}: expected 'FILE 0|1|2'")
        partition[parts[0]] = int(parts[1])
    return partition


def parse_partition_file(path: str | os.PathLike) -> dict[str, int]:
    """Read and parse ``list_eval_partition.txt``."""
    path = Path(path)
    return parse_partition_text(_read_text(path), source=str(path))


def _read_text(path: Path) -> str:
    """A text file's content (undecodable bytes replaced), or a StarganError naming it. UTF-16
    with a byte-order mark (what some Windows editors save) is read too."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise StarganError(f"cannot read {path}: {err.strerror or err}") from None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace")
    if b"\0" in data[:4096]:
        raise StarganError(
            f"{path} is not a UTF-8 text file (it holds NUL bytes: UTF-16 without a byte-order "
            "mark, or not text at all): save it as UTF-8"
        )
    return data.decode("utf-8", errors="replace")


@dataclass
class CelebaFiles:
    """Where a CelebA copy keeps its pieces."""

    attr_file: Path
    image_dir: Path
    partition_file: Path | None


def _find_file(root: Path, names: Sequence[str], max_depth: int = 3) -> Path | None:
    """Shallowest file called one of ``names`` below ``root`` (breadth first, image folders skipped)."""
    queue: deque[tuple[Path, int]] = deque([(root, 0)])
    while queue:
        folder, depth = queue.popleft()
        for name in names:
            if (folder / name).is_file():
                return folder / name
        if depth >= max_depth:
            continue
        try:
            with os.scandir(folder) as entries:
                subdirs = sorted(
                    e.name for e in entries
                    if e.is_dir() and not e.name.startswith(".") and e.name.lower() not in _SKIP_DIRS
                )
        except OSError:
            continue
        queue.extend((folder / d, depth + 1) for d in subdirs)
    return None


def _has_any(folder: Path, probes: Sequence[str]) -> bool:
    return folder.is_dir() and any((folder / p).is_file() for p in probes)


def _find_image_dir(root: Path, attr_file: Path, probes: Sequence[str]) -> Path | None:
    """The folder holding the listed images: usual places first, then a shallow search."""
    bases = list(dict.fromkeys([attr_file.parent, attr_file.parent.parent, root, root / "celeba", root / "CelebA"]))
    candidates: list[Path] = []
    for base in bases:
        for name in IMAGE_DIR_NAMES:
            candidates += [base / name, base / name / name, base / "Img" / name]
        candidates.append(base)
    for folder in dict.fromkeys(candidates):
        if _has_any(folder, probes):
            return folder
    queue: deque[tuple[Path, int]] = deque([(root, 0)])
    while queue:
        folder, depth = queue.popleft()
        if _has_any(folder, probes):
            return folder
        if depth >= 4:
            continue
        try:
            with os.scandir(folder) as entries:
                subdirs = sorted(e.name for e in entries if e.is_dir() and not e.name.startswith("."))
        except OSError:
            continue
        queue.extend((folder / d, depth + 1) for d in subdirs)
    return None


def _probes(files: Sequence[str], k: int = 16) -> list[str]:
    if not files:
        return []
    picks = np.linspace(0, len(files) - 1, num=min(k, len(files))).astype(int)
    return [files[i] for i in dict.fromkeys(picks.tolist())]


def find_attribute_file(root: Path | str | None) -> Path:
    """The attribute file of the CelebA folder ``root`` (default: the installed one): the
    quick check, before slow work, that the data is there. Raises StarganError saying how to
    get it."""
    root = default_root() if root is None else Path(root).expanduser()
    if root.is_file() and root.name.startswith("list_attr_celeba"):
        return root
    if not root.exists():
        raise StarganError(f"CelebA not found: {root} does not exist; {_DOWNLOAD_HINT}")
    if not root.is_dir():
        raise StarganError(f"CelebA not found: {root} is not a folder; {_DOWNLOAD_HINT}")
    attr_file = _find_file(root, [ATTR_FILE, "list_attr_celeba.csv"])
    if attr_file is None:
        raise StarganError(f"CelebA not found: no {ATTR_FILE} in {root}; {_DOWNLOAD_HINT}")
    return attr_file


def locate_celeba(root: Path, table: AttributeTable | None = None) -> tuple[CelebaFiles, AttributeTable]:
    """Find the attribute file, image folder and partition file of the CelebA copy in ``root``.

    Raises StarganError (saying how to get the data) when any required piece is missing.
    """
    root = Path(root).expanduser()
    if root.is_file() and root.name.startswith("list_attr_celeba"):
        root = root.parent  # --data pointed at the attribute file itself
    attr_file = find_attribute_file(root)
    if table is None:
        table = parse_attribute_file(attr_file)
    if not table.files:
        raise StarganError(f"{attr_file} lists no images; {_DOWNLOAD_HINT}")
    image_dir = _find_image_dir(root, attr_file, _probes(table.files))
    if image_dir is None:
        raise StarganError(
            f"CelebA images not found: {root} has {attr_file.name} but none of the images it lists "
            f"(e.g. {table.files[0]}); {_DOWNLOAD_HINT}"
        )
    partition_file = _find_file(attr_file.parent, [PARTITION_FILE, "list_eval_partition.csv"], max_depth=1)
    if partition_file is None:
        partition_file = _find_file(root, [PARTITION_FILE, "list_eval_partition.csv"])
    return CelebaFiles(attr_file, image_dir, partition_file), table


def load_celeba(
    root: Path | str | None,
    attributes: Sequence[str],
    image_size: int,
    *,
    use_cache: bool = True,
    build_cache: bool = True,
    seed: int = 1234,
    test_size: int = 2000,
    quiet: bool = False,
) -> Source:
    """CelebA with the chosen attributes (labels 0/1 in that order), split into train and test.

    ``root`` defaults to ``datasets_dir()/celeba``. Attributes are validated (did-you-mean).
    The test set is the official partition 2 when ``list_eval_partition.txt`` is there, else
    a seeded random split of ``min(test_size, n // 10)`` images (see :mod:`.splits`). Images
    listed but absent are left out (with a DataWarning). With ``use_cache`` the images come
    from the preprocessed cache, built first (``build_cache``) when missing.
    """
    chosen = parse_attribute_list(list(attributes))
    image_size = check_image_size(image_size)
    root = default_root() if root is None else Path(root).expanduser()
    located, table = locate_celeba(root)
    columns = table.columns(chosen)

    present = set(os.listdir(located.image_dir))
    keep = np.fromiter((f in present for f in table.files), dtype=bool, count=len(table.files))
    if not keep.all():
        missing = int((~keep).sum())
        if not keep.any():
            raise StarganError(f"none of the images listed in {located.attr_file} are in {located.image_dir}")
        warnings.warn(
            f"{missing:,} of the {len(table.files):,} images listed in {located.attr_file.name} are not in "
            f"{located.image_dir}; using the {int(keep.sum()):,} found",
            DataWarning,
            stacklevel=2,
        )
    files = [f for f, k in zip(table.files, keep) if k]
    values = table.values[keep][:, columns]
    labels = torch.from_numpy(values.astype(np.float32))

    partition = parse_partition_file(located.partition_file) if located.partition_file else None
    train_idx, test_idx, split = celeba_split(files, partition, seed, test_size)
    return make_source(
        kind="celeba", name="celeba", names=chosen, label_mode="multi", image_dir=located.image_dir,
        files=files, labels=labels, train_idx=train_idx, test_idx=test_idx, split=split,
        image_size=image_size, use_cache=use_cache, build_cache=build_cache, quiet=quiet,
    )
