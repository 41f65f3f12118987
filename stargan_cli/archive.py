"""Safe extraction of zip and tar archives.

Every entry is checked before anything is written: no absolute paths, drive letters or ``..``
components, no links or device files, and the total uncompressed size and the number of
entries stay under configurable limits (against archive bombs; the byte limit is also
enforced while writing, so a lying header does not help). Extraction goes into a temporary
folder next to the target, which is renamed into place only when everything succeeded; after
a failure nothing is left behind.
"""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Callable, Iterator

from .errors import StarganError
from .fileio import storage_error, writing

DEFAULT_MAX_BYTES = 32 * 1024**3  # CelebA unpacks to about 1.5 GB
DEFAULT_MAX_ENTRIES = 500_000  # CelebA holds about 203,000 images
# Images and weights barely compress; an archive that unpacks to more than this many times its
# own size (deflate reaches ~1000x on zeros) is a bomb. Small archives are let through whole.
MAX_RATIO = 100
RATIO_FREE_BYTES = 64 * 1024**2
_CHUNK = 1 << 20


@dataclass(frozen=True)
class _Entry:
    name: str  # safe relative POSIX path
    is_dir: bool
    size: int
    open: Callable[[], BinaryIO] | None  # None for folders


def archive_format(path: str | os.PathLike) -> str | None:
    """``"zip"``, ``"tar"`` or ``None`` when ``path`` is neither."""
    path = Path(path)
    if zipfile.is_zipfile(path):
        return "zip"
    try:
        if tarfile.is_tarfile(path):
            return "tar"
    except OSError:
        return None
    return None


def safe_name(name: str, archive: str | os.PathLike = "archive") -> str:
    """The entry ``name`` as a relative POSIX path, or a StarganError when it could land
    outside the extraction folder (absolute, drive letter, ``..``)."""
    unified = name.replace("\\", "/")
    parts = [p for p in unified.split("/") if p not in ("", ".")]
    bad = (
        unified.startswith("/")
        or (len(unified) >= 2 and unified[1] == ":")  # C:foo, C:/foo
        or any(p == ".." for p in parts)
        or any(":" in p for p in parts)  # drive letters / NTFS streams inside the path
        or "\x00" in unified
    )
    if bad:
        raise StarganError(f"refusing to unpack {archive}: entry {name!r} points outside the target folder")
    return "/".join(parts)


def _entry(name: str, is_dir: bool, size: int, opener: Callable[[], BinaryIO]) -> _Entry:
    """One checked entry: a folder (nothing to read) or a file of ``size`` bytes."""
    return _Entry(name, True, 0, None) if is_dir else _Entry(name, False, size, opener)


def _zip_entries(zf: zipfile.ZipFile, archive: Path) -> Iterator[_Entry]:
    for info in zf.infolist():
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise StarganError(f"refusing to unpack {archive}: entry {info.filename!r} is a symbolic link")
        yield _entry(safe_name(info.filename, archive), info.is_dir(), info.file_size, lambda info=info: zf.open(info))


def _tar_entries(tf: tarfile.TarFile, archive: Path) -> Iterator[_Entry]:
    for member in tf:  # read one header at a time (getmembers() would read them all first)
        if member.issym() or member.islnk():
            raise StarganError(
                f"refusing to unpack {archive}: entry {member.name!r} is a link "
                f"(to {member.linkname!r})"
            )
        if not (member.isfile() or member.isdir()):
            raise StarganError(f"refusing to unpack {archive}: entry {member.name!r} is a device or fifo")
        yield _entry(safe_name(member.name, archive), member.isdir(), member.size, lambda m=member: tf.extractfile(m))


def _ratio_limit(archive: Path) -> int:
    """The most bytes ``archive`` may unpack to for its size (see MAX_RATIO)."""
    return max(MAX_RATIO * archive.stat().st_size, RATIO_FREE_BYTES)


def _collect(entries: Iterator[_Entry], archive: Path, max_bytes: int, max_entries: int) -> list[_Entry]:
    """The entries, counted and summed as they are read: refused at the first one past a
    limit, so a bomb of millions of empty entries is stopped at the limit, not after all of it."""
    kept: list[_Entry] = []
    total = 0
    ratio_limit = _ratio_limit(archive)
    for entry in entries:
        if len(kept) >= max_entries:
            raise StarganError(
                f"refusing to unpack {archive}: it holds more than the limit of {max_entries} entries"
            )
        total += entry.size
        if total > max_bytes:
            raise StarganError(
                f"refusing to unpack {archive}: it expands to more than the limit of {max_bytes} bytes"
            )
        if total > ratio_limit:
            raise StarganError(
                f"refusing to unpack {archive}: it expands to more than {MAX_RATIO} times "
                "its own size (an archive bomb?)"
            )
        kept.append(entry)
    return kept


def _write_entries(entries: list[_Entry], root: Path, archive: Path, max_bytes: int) -> None:
    written = 0
    for entry in entries:
        if not entry.name:
            continue
        dest = root.joinpath(*PurePosixPath(entry.name).parts)
        if entry.is_dir:
            dest.mkdir(parents=True, exist_ok=True)
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.exists():
            raise StarganError(f"refusing to unpack {archive}: entry {entry.name!r} appears twice")
        assert entry.open is not None
        with writing(dest), entry.open() as src, open(dest, "xb") as out:
            while True:
                chunk = src.read(_CHUNK)
                if not chunk:
                    break
                written += len(chunk)
                if written > max_bytes:
                    raise StarganError(
                        f"refusing to unpack {archive}: it expands to more than the limit of {max_bytes} bytes"
                    )
                out.write(chunk)


def extract_to_temp(
    archive: str | os.PathLike,
    parent: str | os.PathLike,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_entries: int = DEFAULT_MAX_ENTRIES,
    prefix: str = ".extract",
) -> Path:
    """Unpack ``archive`` safely into a new hidden temporary folder inside ``parent`` and return
    it. The caller moves what it needs into place and removes the folder; on failure the folder
    is already gone."""
    archive = Path(archive)
    parent = Path(parent)
    kind = archive_format(archive)
    if kind is None:
        raise StarganError(f"{archive} is not a zip or tar archive (damaged or wrong file)")
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"{prefix}.", suffix=".tmp", dir=parent))
    try:
        if kind == "zip":
            with zipfile.ZipFile(archive) as zf:
                entries = _collect(_zip_entries(zf, archive), archive, max_bytes, max_entries)
                _write_entries(entries, tmp, archive, min(max_bytes, _ratio_limit(archive)))
        else:
            with tarfile.open(archive) as tf:
                entries = _collect(_tar_entries(tf, archive), archive, max_bytes, max_entries)
                _write_entries(entries, tmp, archive, min(max_bytes, _ratio_limit(archive)))
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error, NotImplementedError) as err:
        shutil.rmtree(tmp, ignore_errors=True)
        detail = (str(err).splitlines() or [type(err).__name__])[0][:80]
        raise StarganError(f"{archive} is damaged or truncated ({detail}); download it again") from None
    except OSError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        full = storage_error(err, err.filename or tmp)
        if full is not None:
            raise full from None
        raise StarganError(f"could not unpack {archive}: {err.strerror or err}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return tmp


def safe_extract(
    archive: str | os.PathLike,
    dest: str | os.PathLike,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_entries: int = DEFAULT_MAX_ENTRIES,
) -> Path:
    """Unpack ``archive`` into the new folder ``dest`` (which must not exist), all or nothing."""
    dest = Path(dest)
    if dest.exists():
        raise StarganError(f"{dest} already exists")
    tmp = extract_to_temp(
        archive, dest.parent, max_bytes=max_bytes, max_entries=max_entries, prefix=f".{dest.name}"
    )
    try:
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest
